"""The engine end to end on the bundled sample: real documents, real models, real Milvus Lite."""

import json
import subprocess

import numpy as np
import pytest
from conftest import PY, ROOT, SAMPLE

from embedlab import comparison
from embedlab.chunking import Chunking, chunk_text
from embedlab.retrieval import open_model

FAST = ["bm25", "model2vec", "glove-50d", "hybrid:model2vec+bm25", "hybrid:model2vec+bm25@0.5"]


@pytest.fixture(scope="module")
def dataset(workspace, sample_docs):
    # a chunking no other test file uses: the session workspace is shared, and these tests
    # must see their own models embed (progress events, counts)
    return workspace.add_dataset(sample_docs.documents, Chunking(240, 24), sample_docs.eval_set, name="sample")


@pytest.fixture(scope="module")
def finished(workspace, dataset):
    comp = comparison.create(workspace, dataset, FAST)
    events = []
    comparison.run(workspace, comp, progress=events.append)
    return comp, events


def test_every_chunk_stored_once_per_model(workspace, dataset, finished):
    comp, _ = finished
    for mid in ["bm25", "model2vec", "glove-50d"]:
        r = comp.results[mid]
        assert r["status"] == "done", r
        n = len(dataset.chunks)
        assert workspace.store.existing_ids(r["collection"], n) == set(range(n))
        assert workspace.store.existing_ids(r["collection"]) == set(range(n))  # iterator path agrees
        assert r["stored"] == len(dataset.chunks)


def test_progress_reaches_the_total(finished, dataset):
    _, events = finished
    last = [e for e in events if e.get("stage") == "embed" and e["model"] == "bm25"][-1]
    assert last["done"] == last["total"] == len(dataset.chunks)
    assert events[-1] == {"stage": "finished"}


def test_metrics_are_recorded_and_sane(finished):
    comp, _ = finished
    m = comp.results["bm25"]["metrics"]
    assert 0.6 < m["ndcg@10"] <= 1.0  # BM25 is strong on SciFact claims
    assert m["recall@100"] >= m["recall@10"]
    assert comp.results["glove-50d"]["metrics"]["ndcg@10"] < m["ndcg@10"]
    for hybrid in FAST[3:]:
        assert comp.results[hybrid]["status"] == "done"
        assert "ndcg@10" in comp.results[hybrid]["metrics"]


def test_second_comparison_on_same_data_embeds_nothing(workspace, dataset, finished):
    again = comparison.create(workspace, dataset, ["bm25", "model2vec"])
    comparison.run(workspace, again, evaluate=False)
    assert again.results["bm25"]["embedded_now"] == 0
    assert again.results["model2vec"]["embedded_now"] == 0
    assert again.results["model2vec"]["collection"] == finished[0].results["model2vec"]["collection"]
    # the rate measured when the vectors were made carries over to the comparison that reused them
    assert again.results["model2vec"]["chunks_per_s"] == finished[0].results["model2vec"]["chunks_per_s"] > 0


def test_manifest_round_trip_and_no_secret(workspace, dataset):
    comp = comparison.create(workspace, dataset, [{"id": "openai:text-embedding-3-small",
                                                   "options": {"api_key": "sk-NEVER-STORED", "dimensions": 256}}])
    text = (workspace.comparison_dir(comp.id) / "manifest.json").read_text()
    assert "sk-NEVER-STORED" not in text
    loaded = comparison.load(workspace, comp.id)
    assert loaded.models == [{"id": "openai:text-embedding-3-small", "options": {"dimensions": 256}}]
    assert len(comp.id) == 24


@pytest.mark.parametrize("bad", ["", "x", "../../etc/passwd", "A" * 24, "a" * 5000, "ünïcödé-ünïcödé-ünïcödé"])
def test_unknown_or_malformed_ids_are_not_found(workspace, bad):
    with pytest.raises(comparison.ComparisonNotFound):
        comparison.load(workspace, bad)


def test_bm25_ranks_exactly_as_bm25s(workspace, dataset, finished):
    """Our BM25 lives in Milvus as sparse vectors; its ranking must be bm25s' own."""
    import bm25s
    import Stemmer

    texts = dataset.chunk_texts
    stemmer = Stemmer.Stemmer("english")
    retriever = bm25s.BM25(k1=1.5, b=0.75)
    retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    queries = list(dataset.eval_set.queries.values())[:20]
    ref_docs, ref_scores = retriever.retrieve(bm25s.tokenize(queries, stopwords="en", stemmer=stemmer,
                                                             show_progress=False), k=10, show_progress=False)
    handle = open_model(dataset, "bm25")
    ours = workspace.store.search(handle.collection, handle.embedder.encode_queries(queries), 10, True)
    for qi, hits in enumerate(ours):
        np.testing.assert_allclose([h.score for h in hits], ref_scores[qi], rtol=1e-4)
        # ids can swap only where scores tie
        assert {h.id for h in hits} == set(ref_docs[qi].tolist()) or \
            np.isclose(ref_scores[qi][-1], ref_scores[qi][-2])


def test_chunk_windows_overlap_and_cover_the_text():
    text = " ".join(f"word{i}" for i in range(2000))
    chunks = chunk_text("d", text, Chunking(100, 20))
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.start < a.end  # overlap
        assert text[b.start:b.end] == b.text
    assert chunk_text("d", text, Chunking(0, 0))[0].text == text


def test_cli_json_and_resume(tmp_path):
    out1, out2 = tmp_path / "o1.json", tmp_path / "o2.json"
    cmd = [PY, "-m", "embedlab", "evaluate", "--data", str(SAMPLE), "--models", "bm25,model2vec",
           "--workspace", str(tmp_path / "ws")]
    first = subprocess.run([*cmd, "--json", str(out1)], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert first.returncode == 0, first.stderr
    data = json.loads(out1.read_text())
    assert set(data) >= {"comparison_id", "models"}
    row = data["models"]["bm25"]
    for key in ["ndcg@10", "recall@10", "recall@100", "mrr@10", "chunks", "embedded_now", "embed_seconds",
                "query_ms_p50"]:
        assert key in row, key
    assert row["embedded_now"] == row["chunks"] > 0
    assert "ndcg@10" in first.stdout  # the table
    second = subprocess.run([*cmd, "--json", str(out2)], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert second.returncode == 0, second.stderr
    assert all(m["embedded_now"] == 0 for m in json.loads(out2.read_text())["models"].values())


def test_cli_unknown_model_is_one_clear_line(tmp_path):
    r = subprocess.run([PY, "-m", "embedlab", "evaluate", "--models", "minilmx", "--workspace", str(tmp_path)],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 2
    assert "unknown model 'minilmx'" in r.stderr and "known: minilm" in r.stderr
    assert "Traceback" not in r.stderr


def test_store_keeps_a_bounded_number_of_collections_loaded(workspace):
    import numpy as np

    store = workspace.store
    old = store.max_loaded
    store.max_loaded = 2
    try:
        for i in range(4):
            store.ensure(f"t_lru_{i}", 4, False)
            store.upsert(f"t_lru_{i}", [0], np.eye(1, 4, dtype=np.float32))
        assert list(store._loaded)[-2:] == ["t_lru_2", "t_lru_3"] and len(store._loaded) == 2
        # a released collection is loaded again on demand
        assert store.search("t_lru_0", np.eye(1, 4, dtype=np.float32), 1, False)[0][0].id == 0
    finally:
        store.max_loaded = old
        for i in range(4):
            store.drop(f"t_lru_{i}")


def test_same_texts_with_another_eval_set_keep_both_and_share_vectors(workspace, dataset, finished):
    from embedlab.documents import EvalSet
    from embedlab.workspace import Workspace

    other = EvalSet({"q1": "vitamin D and bone"}, {"q1": {dataset.documents[0].id: 1}}, generated=True)
    ds2 = workspace.add_dataset(dataset.documents, dataset.chunking, other, name="generated")
    assert ds2.key != dataset.key and ds2.corpus_key == dataset.corpus_key
    fresh = Workspace(workspace.root)  # as after a restart: read from disk, not the in-memory cache
    assert fresh.load_dataset(ds2.key).eval_set.queries == {"q1": "vitamin D and bone"}
    assert fresh.load_dataset(dataset.key).eval_set.queries == dataset.eval_set.queries
    comp = comparison.create(workspace, ds2, ["model2vec"])
    comparison.run(workspace, comp)
    assert comp.results["model2vec"]["embedded_now"] == 0
    assert comp.results["model2vec"]["collection"] == finished[0].results["model2vec"]["collection"]

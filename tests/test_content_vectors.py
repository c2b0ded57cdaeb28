"""Vectors keyed by content: a model embeds a text once, whatever dataset needs it again.
Real models, real Milvus Lite (the session workspace, so every text here carries a fresh token:
counts are exact whatever other test files embedded)."""

import os
import uuid

import numpy as np
import pytest
from test_reliability import milvus_server  # noqa: F401 - its `python -m milvus_lite server` fixture

from embedlab import comparison, vectors
from embedlab.chunking import Chunking
from embedlab.documents import Document
from embedlab.embedders import get_embedder

MODELS = ["model2vec", "glove-50d", "bm25"]
WORDS = "protein cell gene tumour immune virus dose patient trial brain heart lung blood risk".split()


def docs(n, start=0, token=None):
    token = token or uuid.uuid4().hex[:10]
    # every text differs with the token, not only each document's first chunk: other files' runs in the
    # session's workspace (test_layered_views uses these) must not hold this call's texts already
    rng = np.random.default_rng([start, int(token.encode().hex(), 16) % 2**32])
    # odd documents are one chunk at any size used here, even ones several
    return [Document(f"d{i}", "", f"{token} doc {i}: " + " ".join(rng.choice(WORDS, 30 if i % 2 else 150)))
            for i in range(start, start + n)]


def run(ws, documents, chunking=None, models=MODELS):
    ds = ws.add_dataset(documents, chunking or Chunking(64, 8), name="v")
    comp = comparison.create(ws, ds, models)
    events = []
    comparison.run(ws, comp, progress=events.append)
    for m in models:
        assert comp.results[m]["status"] == "done", comp.results[m]
    return ds, comp, events


def new_texts(before, after) -> int:
    """Distinct chunk texts of ``after`` that no chunk of ``before`` had."""
    return len(set(after.chunk_texts) - set(before.chunk_texts))


@pytest.fixture(scope="module")
def base(workspace):
    documents = docs(60)
    ds, comp, _ = run(workspace, documents)
    return documents, ds, comp


def test_the_first_run_embeds_every_distinct_text(base):
    _, ds, comp = base
    for m in MODELS:
        assert comp.results[m]["embedded_now"] == len(set(ds.chunk_texts))
    assert comp.results["bm25"]["corpus_fitted"] and not comp.results["model2vec"]["corpus_fitted"]


def test_adding_documents_embeds_only_their_chunks(workspace, base):
    documents, ds, _ = base
    ds2, comp, events = run(workspace, documents + docs(5, start=1000))
    fresh = new_texts(ds, ds2)
    assert 0 < fresh < len(ds2.chunks) / 5
    for m in ["model2vec", "glove-50d"]:
        r = comp.results[m]
        assert r["embedded_now"] == fresh
        assert r["reused"] == len(ds2.chunks) - fresh
        assert workspace.store.existing_ids(r["collection"], len(ds2.chunks)) == set(range(len(ds2.chunks)))
        plan = next(e for e in events if e.get("stage") == "plan" and e["model"] == m)
        assert (plan["new"], plan["reused"]) == (fresh, len(ds2.chunks) - fresh)
    # BM25's weights depend on the whole corpus: it says so and refits every chunk
    assert comp.results["bm25"]["embedded_now"] == len(ds2.chunks) and comp.results["bm25"]["corpus_fitted"]


def test_a_view_filled_from_stored_vectors_searches_like_an_embedded_one(workspace, base):
    documents, _, _ = base
    ds2, comp, _ = run(workspace, documents + docs(3, start=2000), models=["model2vec"])
    handle_vecs = workspace.store.vectors(comp.results["model2vec"]["collection"], list(range(len(ds2.chunks))), False)
    want = get_embedder("model2vec").encode_documents(ds2.chunk_texts)
    np.testing.assert_allclose(handle_vecs, want, atol=1e-6)


def test_rerun_embeds_nothing(workspace, base):
    documents, _, _ = base
    _, comp, _ = run(workspace, documents)
    assert {m: comp.results[m]["embedded_now"] for m in MODELS} == dict.fromkeys(MODELS, 0)


def test_changing_chunk_size_embeds_only_changed_texts(workspace, base):
    documents, ds, _ = base
    ds2, comp, _ = run(workspace, documents, Chunking(96, 8), models=["model2vec"])
    fresh = new_texts(ds, ds2)
    assert 0 < fresh < len(ds2.chunks)  # the one-chunk documents are the same texts
    assert comp.results["model2vec"]["embedded_now"] == fresh


def test_removing_documents_embeds_nothing(workspace, base):
    documents, _, _ = base
    _, comp, _ = run(workspace, documents[:40], models=["model2vec", "glove-50d"])
    assert comp.results["model2vec"]["embedded_now"] == comp.results["glove-50d"]["embedded_now"] == 0


def test_the_old_link_still_opens_the_old_version(workspace, base):
    documents, ds, comp = base
    before = comparison.load(workspace, comp.id)
    run(workspace, documents + docs(4, start=3000), models=["model2vec"])
    after = comparison.load(workspace, comp.id)
    assert after.dataset_key == ds.key and after.results == before.results
    assert len(workspace.load_dataset(after.dataset_key).chunks) == len(ds.chunks)


def test_a_workspace_from_before_content_keys_is_migrated_without_embedding(workspace):
    documents = docs(30)
    ds, comp, _ = run(workspace, documents, models=["glove-50d"])
    content = comp.results["glove-50d"]["content_collection"]
    workspace.store.drop(content)  # what a workspace written before this change holds: views only
    ds2, comp2, _ = run(workspace, documents + docs(2, start=500), models=["glove-50d"])
    assert comp2.results["glove-50d"]["embedded_now"] == new_texts(ds, ds2)
    keys = vectors.text_keys(get_embedder("glove-50d"), ds2.chunk_texts)
    assert set(keys.tolist()) <= workspace.store.existing_ids(content)  # and other tests' glove-50d views


def test_text_keys_cover_the_document_prefix():
    class E5Like:
        needs_fit = False

        def settings(self):
            return {"id": "e5", "roles": "query:/passage:"}

    assert vectors.document_prefix(E5Like()) == "passage: "
    assert vectors.text_key("passage: ", "x") != vectors.text_key("", "x")
    assert 0 <= vectors.text_key("", "x") < 2**63


def test_kill9_during_an_add_then_the_rerun_is_exact(tmp_path):
    from test_reliability import PROGRESS, Watched, cli_args, corpus, lite, result, run_cli, stored_rows

    big, ws, out = corpus(tmp_path / "big", 400), tmp_path / "ws", tmp_path / "out.json"
    small = tmp_path / "small"
    small.mkdir()
    lines = (big / "corpus.jsonl").read_text().splitlines()
    (small / "corpus.jsonl").write_text("\n".join(lines[:100]) + "\n")
    first = run_cli(small, "minilm", ws, out)
    assert first.returncode == 0, first.stderr[-3000:]
    assert result(out, "minilm")["embedded_now"] == 100

    add = Watched(cli_args(big, "minilm", ws, out), env=env_without_embedlab())
    m = add.wait_for(lambda t: next((m for m in PROGRESS.finditer(t) if int(m[2]) >= 228), None))
    add.kill9()  # 100 copied, then blocks of 128 embedded: killed before the last block
    rows = stored_rows(lite(ws))
    content = next(k for k in rows if k.startswith(vectors.CONTENT_PREFIX))
    kept = rows[content]["rows"]
    assert int(m[2]) <= kept < 400 and rows[content]["rows"] == len(rows[content]["ids"])

    rerun = run_cli(big, "minilm", ws, out)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    r = result(out, "minilm")
    assert r["embedded_now"] == 400 - kept  # nothing embedded twice
    rows = stored_rows(lite(ws))
    assert rows[content]["rows"] == len(rows[content]["ids"]) == 400  # nothing lost or doubled
    views = sorted((v for k, v in rows.items() if k != content), key=lambda v: v["rows"])
    assert [v["ids"] for v in views] == [list(range(100)), list(range(400))]  # the old version's, the new
    assert [v["rows"] for v in views] == [100, 400]


def env_without_embedlab():
    from test_reliability import env

    return env()


def test_an_add_through_a_milvus_server_embeds_only_the_new_chunks(tmp_path, milvus_server):  # noqa: F811
    from test_reliability import corpus, result, run_cli

    big = corpus(tmp_path / "big", 90)
    small = tmp_path / "small"
    small.mkdir()
    (small / "corpus.jsonl").write_text("\n".join((big / "corpus.jsonl").read_text().splitlines()[:80]) + "\n")
    for data, ws, want in [(small, "w1", 80), (big, "w2", 10), (big, "w3", 0)]:
        done = run_cli(data, "model2vec", tmp_path / ws, tmp_path / f"{ws}.json", EMBEDLAB_MILVUS_URI=milvus_server)
        assert done.returncode == 0, done.stderr[-3000:]
        assert result(tmp_path / f"{ws}.json", "model2vec")["embedded_now"] == want
    assert not any((tmp_path / ws / "milvus.db").exists() for ws in ["w1", "w2", "w3"])


class WordHashSparse:
    """A tiny real sparse embedder (hashed word counts), to run the sparse path without a slow model."""

    from embedlab.embedders.base import Embedder as _Base

    class _E(_Base):
        id, sparse, normalize, block_size = "wordhash-test", True, False, 7

        def settings(self):
            return {"id": self.id, "salt": self.salt}

        def _embed_batch(self, texts, kind):
            import scipy.sparse as sp

            rows, cols, vals = [], [], []
            for r, t in enumerate(texts):
                for w in t.split():
                    rows.append(r)
                    cols.append(int.from_bytes(w.encode()[:3].ljust(3, b"_"), "big") % 5000)
                    vals.append(1.0)
            return sp.csr_matrix((vals, (rows, cols)), shape=(len(texts), 5000), dtype=np.float32)


def test_sparse_vectors_are_copied_and_embedded_exactly(workspace):
    import scipy.sparse as sp

    emb = WordHashSparse._E()
    emb.salt = uuid.uuid4().hex
    store = workspace.store
    first = [f"alpha beta {i} gamma" for i in range(20)]
    second = first[5:] + [f"delta {i} epsilon" for i in range(9)] + [first[6]]  # a duplicate text too
    for texts, want_new in [(first, 20), (second, 9)]:
        view = f"el_{uuid.uuid4().hex[:24]}"
        fill, content = vectors.plan(store, emb, view, texts, set())
        assert len(fill.embed) == want_new and fill.reused == len(texts) - want_new
        out = vectors.run(store, emb, fill, content, texts, lambda n: None)
        vectors.keep(store, emb, fill, content, out, view_was_empty=True)
        got = store.vectors(view, list(range(len(texts))), True)
        store.let_go(view)
        again = store.vectors(view, list(range(len(texts))), True)  # read back from Milvus this time
        want = emb.encode_documents(texts)
        for m in (got, again):
            width = max(m.shape[1], want.shape[1])
            a, b = (sp.csr_matrix((x.data, x.indices, x.indptr), shape=(x.shape[0], width)) for x in (m, want))
            assert m.shape[0] == len(texts) and (a != b).nnz == 0


def test_a_new_version_takes_its_parents_chunks_and_they_are_the_same(workspace):
    from embedlab import versions
    from embedlab.chunking import chunk_documents

    ds = workspace.add_dataset(docs(12), Chunking(64, 8), name="parent")
    grown = docs(3, start=100)
    v2 = versions.add_version(workspace, ds, grown + ds.documents[:2])  # two already there: skipped
    assert v2.report["added"] == 3 and v2.report["version"] == 2 and v2.report["parent"] == ds.key
    assert v2.chunks == chunk_documents(ds.documents + grown, Chunking(64, 8))
    assert v2.corpus_key != ds.corpus_key and v2.name == "parent · v2"
    with pytest.raises(ValueError, match="no document"):
        versions.add_version(workspace, v2, ds.documents[:3])


def test_a_first_run_writes_the_view_after_the_content_collection_is_closed(workspace):
    """Repeated texts, a first run: every chunk's vector is its text's, the new vectors waited on disk
    (the run holds no copy of them), the content collection's copy holds each text once, and Lite had
    closed the content collection before the view was written."""
    from embedlab import lite_memory

    emb, store = get_embedder("model2vec"), workspace.store
    token = uuid.uuid4().hex[:8]
    texts = [f"{token} staged {i % 7} text" for i in range(40)]  # 7 texts, each in 5+ chunks
    view = f"el_{uuid.uuid4().hex[:24]}"
    fill, content = vectors.plan(store, emb, view, texts, set())
    assert len(fill.embed) == 7
    was_open = []
    out = vectors.run(store, emb, fill, content, texts, lambda n: None,
                      lambda: was_open.append(lite_memory.is_open(store.uri, fill.content)))
    assert was_open == [False]
    staged = out["staged"]
    assert out["vecs"] == [] and staged.filled == 40  # one row per chunk, in the file
    assert os.fstat(staged._file.fileno()).st_size == 40 * staged.dim * 4
    vectors.keep(store, emb, fill, content, out, view_was_empty=True, in_memory=True)
    with pytest.raises(ValueError, match="let go"):
        staged.rows_at([0])  # closed by keep: its file is gone
    held = store.resident(view, False)
    np.testing.assert_allclose(held.matrix, emb.encode_documents(texts), atol=1e-6)
    store.let_go(view)
    np.testing.assert_allclose(store.vectors(view, list(range(40)), False), held.matrix, atol=1e-6)  # from Milvus
    copy = store.resident(fill.content, False)
    keys = vectors.text_keys(emb, texts)
    assert set(keys.tolist()) <= set(copy.ids.tolist())  # with what other tests embedded with model2vec
    assert (np.diff(copy.ids) > 0).all()
    np.testing.assert_allclose(copy.matrix[np.searchsorted(copy.ids, keys)], held.matrix, atol=1e-6)


def test_a_run_stopped_before_its_view_is_written_resumes_without_embedding(workspace):
    emb, store = get_embedder("model2vec"), workspace.store
    texts = [f"{uuid.uuid4().hex[:8]} stopped {i}" for i in range(30)]
    view = f"el_{uuid.uuid4().hex[:24]}"
    fill, content = vectors.plan(store, emb, view, texts, set())

    def stop():
        raise RuntimeError("stopped after the content collection was written")

    with pytest.raises(RuntimeError):
        vectors.run(store, emb, fill, content, texts, lambda n: None, stop)
    assert not store.exists(view) or store.row_count(view) == 0
    fill, content = vectors.plan(store, emb, view, texts, set())
    assert fill.embed == [] and len(fill.copy) == 30 and fill.reused == 30
    out = vectors.run(store, emb, fill, content, texts, lambda n: None)
    vectors.keep(store, emb, fill, content, out, view_was_empty=True)
    assert not store.is_resident(view) and not store.is_resident(fill.content)  # a run holds neither
    np.testing.assert_allclose(store.vectors(view, list(range(30)), False), emb.encode_documents(texts), atol=1e-6)


def test_staged_rows_come_back_by_ordinal_from_their_file(tmp_path):
    """Blocks arrive longest text first, one row per text; a text in two chunks fills both ordinals."""
    from embedlab.staging import Staged

    keys = np.array([10, 11, 12, 11, 13], dtype=np.int64)  # ordinals 1 and 3 share a text
    by_key = {10: [0], 11: [1, 3], 12: [2], 13: [4]}
    rng = np.random.default_rng(0)
    vec = {k: rng.standard_normal(6).astype(np.float32) for k in by_key}
    staged = Staged([0, 1, 2, 3, 4], False, tmp_path)
    first = staged.put_first([2, 1], by_key, keys, np.stack([vec[12], vec[11]]))
    second = staged.put_first([4, 0], by_key, keys, np.stack([vec[13], vec[10]]))
    want = np.stack([vec[int(k)] for k in keys])
    np.testing.assert_array_equal(staged.matrix(), want)
    np.testing.assert_array_equal(staged.rows_at(np.concatenate([first, second])),
                                  np.stack([vec[12], vec[11], vec[13], vec[10]]))  # each text's first chunk
    got = list(staged.blocks(2))
    assert [o for o, _ in got] == [[0, 1], [2, 3], [4]]
    np.testing.assert_array_equal(np.concatenate([v for _, v in got]), want)
    assert staged.nbytes == want.nbytes and list(tmp_path.iterdir()) == []  # an unnamed file
    staged.close()
    with pytest.raises(ValueError, match="let go"):
        staged.matrix()


def test_a_complete_view_is_known_whole_without_lite_reading_it(workspace):
    """A rerun asks which chunks a view has: when Lite's count reaches the chunk count, all of them,
    and Lite is not made to read the collection whole (at 100k × 384: +337 MB and 4 s per model)."""
    from embedlab import lite_memory

    store, name = workspace.store, f"el_{uuid.uuid4().hex[:24]}"
    store.ensure(name, 4, False)
    v = np.eye(4, dtype=np.float32)[np.arange(10) % 4]
    store.upsert(name, range(10), v)
    store.upsert(name, range(3), v[:3])  # written twice, counted once
    store.flush(name)
    store.evict(name)
    assert store.existing_ids(name, 10) == set(range(10))
    assert not lite_memory.is_open(store.uri, name)
    assert store.existing_ids(name, 12) == set(range(10))  # two missing: listed, exactly

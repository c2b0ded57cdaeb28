"""Fit check: bytes per vector, recall against the float32 full-dimension reference, index memory
formulas, Milvus HNSW vs FLAT, and the fit / sweep CLI contracts on the bundled sample."""

import json

import numpy as np
import pytest
from conftest import SAMPLE

from embedlab import fit, fit_index
from embedlab.cli import main
from embedlab.summary import COLUMNS


def test_bytes_per_vector():
    assert fit.bytes_per_vector("float32", 384) == 1536
    assert fit.bytes_per_vector("int8", 384) == 384
    assert fit.bytes_per_vector("binary", 384) == 48
    assert fit.bytes_per_vector("binary", 100) == 13  # 100 bits round up to 13 bytes
    assert fit.pack_bits(np.ones((2, 100), dtype=np.float32)).shape == (2, 13)
    with pytest.raises(ValueError):
        fit.bytes_per_vector("float16", 8)


def test_int8_is_clipped_to_the_calibrated_range():
    lo, hi = np.array([-1.0, 0.0]), np.array([1.0, 2.0])
    codes = fit.quantize_int8(np.array([[-5.0, 1.0], [5.0, 9.0]]), lo, hi)
    assert codes.tolist() == [[-128, 0], [127, 127]]  # out of range: clipped, not wrapped
    back = fit.dequantize_int8(codes, lo, hi)
    assert back[0, 0] == pytest.approx(-1.0) and back[1, 1] == pytest.approx(2.0)


def test_memory_formulas_against_hand_computed_values():
    mem = fit_index.index_memory(1000, 384, m=16, nlist=128)
    assert mem["FLAT"]["bytes"] == 1000 * 384 * 4 == 1_536_000
    assert mem["IVF_FLAT"]["bytes"] == 128 * 384 * 4 + 1000 * (1536 + 8) == 1_740_608
    assert mem["IVF_SQ8"]["bytes"] == 196_608 + 2 * 384 * 4 + 1000 * (384 + 8) == 591_680
    assert mem["HNSW"]["bytes"] == 1000 * (1536 + 2 * 16 * 4 + 12) == 1_676_000
    assert mem["HNSW_SQ"]["bytes"] == 1000 * (384 + 128 + 12) + 3072 == 527_072
    assert mem["DISKANN"]["bytes"] == 345_600  # 1,536,000 × (0.125 + 0.10)
    assert all(row["formula"] and row["source"] for row in mem.values())
    table = fit_index.memory_table(5183, 384)
    assert list(table["HNSW"]["bytes"]) == [5183, 1_000_000, 10_000_000, 100_000_000]
    assert table["HNSW"]["bytes"][10_000_000] == 10_000_000 * (1536 + 140)  # 16.76 GB


@pytest.fixture(scope="module")
def sample_vectors(workspace, sample_docs):
    """minilm's stored vectors of the first 120 sample abstracts (whole documents) and their queries."""
    from embedlab import comparison
    from embedlab.chunking import Chunking
    from embedlab.documents import EvalSet

    docs = sample_docs.documents[:120]
    ids = {d.id for d in docs}
    ev = sample_docs.eval_set
    qrels = {q: j for q, j in ev.qrels.items() if any(d in ids for d in j)}
    ds = workspace.add_dataset(docs, Chunking(0, 0), EvalSet({q: ev.queries[q] for q in qrels}, qrels), name="fit")
    comp = comparison.create(workspace, ds, ["minilm"])
    comparison.run(workspace, comp)
    return ds, comp


@pytest.mark.slow
def test_float32_full_dimension_recall_is_exactly_one(workspace, sample_vectors):
    ds, comp = sample_vectors
    out = fit.fit_dataset(workspace, ds, ["minilm"], milvus=False)["models"]["minilm"]
    rows = {(v["precision"], v["dims"], v["rescore"]): v for v in out["variants"]}
    assert rows[("float32", 384, False)]["recall@10"] == 1.0
    assert rows[("float32", 384, False)]["bytes_per_vector"] == 1536
    # the reference's nDCG is the comparison's own (both are exact searches of the same vectors)
    assert rows[("float32", 384, False)]["ndcg@10"] == pytest.approx(comp.results["minilm"]["metrics"]["ndcg@10"],
                                                                      abs=1e-6)
    assert 0.8 <= rows[("int8", 384, False)]["recall@10"] < 1.0 or rows[("int8", 384, False)]["recall@10"] == 1.0
    assert rows[("binary", 384, False)]["recall@10"] <= rows[("binary", 384, True)]["recall@10"]
    assert rows[("float32", 64, False)]["recall@10"] < rows[("float32", 256, False)]["recall@10"]
    assert out["matryoshka"] is False and out["index_memory_bytes"]["FLAT"] == len(ds.chunks) * 1536


def test_sampled_chunks_as_queries_never_return_themselves():
    rng = np.random.default_rng(1)
    corpus = rng.normal(size=(300, 32)).astype(np.float32)
    corpus /= np.linalg.norm(corpus, axis=1, keepdims=True)
    exclude = np.arange(20)
    for v in fit.variants(32, dims=(16,)):
        ids, _ = fit.Searcher(corpus, v).search(corpus[:20], 10, exclude)
        assert not (ids == exclude[:, None]).any(), v


@pytest.mark.slow
def test_milvus_hnsw_vs_flat_measured(workspace, sample_vectors):
    ds, comp = sample_vectors
    corpus = workspace.store.vectors(comp.results["minilm"]["collection"], list(range(len(ds.chunks))), False)
    queries = corpus[:20] + 0.05
    out = fit_index.measure_hnsw_vs_flat(workspace.store, np.asarray(corpus), queries / np.linalg.norm(
        queries, axis=1, keepdims=True), n_latency=5)
    assert out["FLAT"]["recall@10"] == 1.0  # Milvus' brute force agrees with numpy's
    assert 0.5 <= out["HNSW"]["recall@10"] <= 1.0
    assert out["HNSW"]["p50_ms"] <= out["HNSW"]["p95_ms"]
    assert not [c for c in workspace.store.client.list_collections() if c.startswith("embedlab_fit_tmp")]


def test_fit_cli_contract(workspace, tmp_path):
    out = tmp_path / "fit.json"
    main(["fit", "--data", str(SAMPLE), "--models", "model2vec,bm25", "--chunk-size", "0", "--workspace",
          str(workspace.root), "--no-milvus", "--json", str(out)])
    got = json.loads(out.read_text())["models"]
    assert "variants" not in got["bm25"]  # sparse: nothing to quantise
    m = got["model2vec"]
    assert m["dim"] == 64 and set(m["index_memory_bytes"]) >= {"FLAT", "HNSW", "IVF_SQ8", "HNSW_SQ", "IVF_FLAT"}
    for v in m["variants"]:
        assert v["precision"] in ("float32", "int8", "binary") and v["dims"] == 64
        assert {"bytes_per_vector", "recall@10", "ndcg@10", "query_ms_p50"} <= set(v)
    full = next(v for v in m["variants"] if v["precision"] == "float32")
    assert full["recall@10"] == 1.0 and full["bytes_per_vector"] == 256 and full["ndcg@10"] is not None


def test_sweep_whole_document_row_equals_evaluate(workspace, tmp_path):
    ev, sw = tmp_path / "ev.json", tmp_path / "sw.json"
    common = ["--data", str(SAMPLE), "--models", "bm25,model2vec", "--workspace", str(workspace.root)]
    main(["evaluate", *common, "--chunk-size", "0", "--json", str(ev)])
    main(["sweep", *common, "--chunk-sizes", "128,0", "--json", str(sw)])
    a, b = json.loads(ev.read_text()), json.loads(sw.read_text())
    assert set(b) == {"128", "0"}
    for mid in ("bm25", "model2vec"):
        for key in (*COLUMNS, "chunks", "per_query", "ci", "status"):
            assert b["0"]["models"][mid][key] == a["models"][mid][key], (mid, key)
        assert b["128"]["models"][mid]["chunks"] > b["0"]["models"][mid]["chunks"]
    assert b["0"]["tiers"] == a["tiers"] and b["0"]["truncation"]["model2vec"]["context_window"] == 512


def test_default_chunk_size_fits_and_long_chunks_are_warned(workspace, sample_docs, monkeypatch):
    from embedlab.chunking import Chunking, default_chunk_size, model_windows, truncation_report, truncation_sentence

    docs = sample_docs.documents[:150]
    size = default_chunk_size(["minilm", "bm25"], [d.full_text for d in docs])
    assert 64 <= size < 256 and size % 16 == 0  # MiniLM's window is 256 WordPiece tokens
    minilm = model_windows(["minilm"])["minilm"]
    fits = workspace.add_dataset(docs, Chunking(size, 32), name="fits")
    assert truncation_report(minilm, fits.chunk_texts)["over_context"] == 0
    long = workspace.add_dataset(docs, Chunking(512, 64), name="long")
    monkeypatch.setattr("embedlab.chunking.COUNT_BLOCK", 7)  # counted a block at a time: blocks must add up
    report = truncation_report(minilm, long.chunk_texts)
    assert report["over_context_pct"] > 3 and report["max"] > 256
    counts = [len(ids) for ids in minilm.model.tokenizer(long.chunk_texts)["input_ids"]]  # one call, unblocked
    assert report["total"] == sum(counts) and report["over_context"] == sum(c > 256 for c in counts)
    assert f"{size} tokens" in truncation_sentence("minilm", report["over_context_pct"], 256, size)


def test_report_section_and_summary_sentence():
    from embedlab import fit_view

    rng = np.random.default_rng(2)
    corpus = rng.normal(size=(400, 128)).astype(np.float32)
    corpus /= np.linalg.norm(corpus, axis=1, keepdims=True)
    rows = fit.fit_model(corpus, corpus[:30] + 0.1, dims=(64,))
    result = {"models": {"m<x>": {"dim": 128, "n_vectors": 400, "matryoshka": False, "source": "",
                                  "queries": {"n": 30, "source": "test"}, "variants": rows,
                                  "index_memory": fit_index.memory_table(400, 128)}}}
    sentence = fit_view.summary_sentences(result)[0]
    assert "at int8 with 4× less memory" in sentence and "At 10M chunks HNSW needs 6.5 GB" in sentence
    html = fit_view.fit_section_html(result)
    assert "m&lt;x&gt;" in html and "m<x>" not in html and "N·(d·4 + 2M·4 + 12)" in html
    assert "No fit check stored" in fit_view.fit_section_html({"models": {}})

"""Fit check: how much retrieval survives smaller vectors (precision × dimensions), per dense model.

Every variant is scored against the same reference, the float32 full-dimension exact top-10 of the
same query vectors over the same stored chunk vectors, so recall@10 (|top-10 ∩ reference top-10| / 10,
averaged over queries) measures what the compression alone loses. The reference *is* the float32
full-dimension variant, computed by the same code, so its recall is 1.0 exactly.

- int8: scalar quantisation, one (min, max) range per dimension calibrated on (a sample of) the
  corpus; values outside the range are clipped to -128/127 (sentence-transformers' int8 does not
  clip, so out-of-range values wrap). Search is asymmetric, as Milvus' SQ8 indexes do: the float
  query against the decoded codes.
- binary: one sign bit per dimension (x > 0), packed 8 per byte; ranked by Hamming distance with
  XOR + popcount. ``rescore``: the top ``RESCORE_MULT`` × k by Hamming are re-ranked with the float32
  query against the float32 vectors (kept on disk; only the bits are in memory).
- truncated dimensions: the first d coordinates, renormalised. Only models trained for it
  (Matryoshka) are meant to be cut; ``matryoshka_flag`` says which are.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .fit_index import measure_hnsw_vs_flat, memory_table, recall_vs, top_ids
from .records import is_hybrid

PRECISIONS = ("float32", "int8", "binary")
TRUNCATE_DIMS = (64, 128, 256)
RESCORE_MULT = 4  # candidates fetched per result before rescoring (sentence-transformers' example uses 4)
CALIBRATION_ROWS = 10_000
TIMED_QUERIES = 30


def bytes_per_vector(precision: str, dims: int) -> int:
    """Bytes one vector takes in memory: 4 per float32 dimension, 1 per int8, 1 bit per binary."""
    if precision == "float32":
        return 4 * dims
    if precision == "int8":
        return dims
    if precision == "binary":
        return (dims + 7) // 8
    raise ValueError(f"unknown precision {precision!r}: one of {', '.join(PRECISIONS)}")


def matryoshka_flag(model_id: str) -> dict:
    """Model-card data: whether the model was trained so that its vectors may be cut short.

    Read from the catalog's own text (training data and notes name Matryoshka training); a model
    not in the catalog, or whose card does not say so, is treated as not trained for it.
    """
    from .catalog import get_card

    card = get_card(model_id)
    text = " ".join(str(getattr(card, f, "") or "") for f in ("training_data", "notes")) if card else ""
    trained = "matryoshka" in text.lower()
    source = "catalog: training data / notes mention Matryoshka" if trained else (
        "catalog: no Matryoshka training stated" if card else "not in the catalog")
    return {"matryoshka": trained, "source": source}


def truncate(vectors: np.ndarray, dims: int) -> np.ndarray:
    """The first ``dims`` coordinates, each row renormalised to unit length."""
    cut = np.ascontiguousarray(vectors[:, :dims], dtype=np.float32)
    norms = np.linalg.norm(cut, axis=1, keepdims=True)
    return cut / np.where(norms == 0, 1, norms)


def int8_ranges(vectors: np.ndarray, rows: int = CALIBRATION_ROWS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension (min, max) over the corpus, or over a seeded sample of ``rows`` of it."""
    sample = vectors
    if len(vectors) > rows:
        sample = vectors[np.sort(np.random.default_rng(seed).choice(len(vectors), rows, replace=False))]
    return sample.min(axis=0), sample.max(axis=0)


def quantize_int8(vectors: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    scale = np.where(hi > lo, (hi - lo) / 255.0, 1.0)
    codes = np.rint((vectors - lo) / scale) - 128
    return np.clip(codes, -128, 127).astype(np.int8)


def dequantize_int8(codes: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    scale = np.where(hi > lo, (hi - lo) / 255.0, 1.0)
    return ((codes.astype(np.float32) + 128) * scale + lo).astype(np.float32)


def pack_bits(vectors: np.ndarray) -> np.ndarray:
    """Sign bits (x > 0) packed 8 per byte, per row (rows padded with 0 bits to whole bytes)."""
    return np.packbits(vectors > 0, axis=1)


@dataclass
class Variant:
    precision: str
    dims: int
    rescore: bool = False

    def row(self) -> dict:
        return {"precision": self.precision, "dims": self.dims, "rescore": self.rescore,
                "bytes_per_vector": bytes_per_vector(self.precision, self.dims)}


def variants(dim: int, dims: Sequence[int] = TRUNCATE_DIMS) -> list[Variant]:
    """float32 / int8 / binary (and binary + rescoring) at every cut below ``dim``, then full."""
    out = []
    for d in [*(d for d in sorted(set(dims)) if d < dim), dim]:
        out += [Variant("float32", d), Variant("int8", d), Variant("binary", d), Variant("binary", d, True)]
    return out


class Searcher:
    """Top-k over one variant of a corpus; ``exclude[i]`` (a chunk id or -1) is never returned for query i."""

    def __init__(self, corpus: np.ndarray, variant: Variant):
        self.v = variant
        self.full = truncate(corpus, variant.dims) if variant.dims < corpus.shape[1] else corpus
        if variant.precision == "int8":
            lo, hi = int8_ranges(self.full)
            self.docs = dequantize_int8(quantize_int8(self.full, lo, hi), lo, hi)
        elif variant.precision == "binary":
            self.bits = pack_bits(self.full)
        else:
            self.docs = self.full

    def prepare(self, queries: np.ndarray) -> np.ndarray:
        return truncate(queries, self.v.dims) if self.v.dims < queries.shape[1] else queries

    def scores(self, q: np.ndarray) -> np.ndarray:
        """Scores of a block of prepared queries against every document (higher is better)."""
        if self.v.precision != "binary":
            return q @ self.docs.T
        qbits = pack_bits(q)
        ham = np.bitwise_count(qbits[:, None, :] ^ self.bits[None, :, :]).sum(axis=2, dtype=np.int32)
        return (self.v.dims - 2 * ham).astype(np.float32)  # the ±1 dot product: same order as Hamming

    def search(self, queries: np.ndarray, k: int, exclude: np.ndarray | None = None, block: int = 32):
        """(ids, scores), each (n_queries, k), best first."""
        q_all = self.prepare(queries)
        ids = np.zeros((len(q_all), k), dtype=np.int64)
        out = np.zeros((len(q_all), k), dtype=np.float32)
        fetch = min(k * RESCORE_MULT if self.v.rescore else k, self.full.shape[0])
        for s in range(0, len(q_all), block):
            q = q_all[s : s + block]
            sc = self.scores(q)
            if exclude is not None:
                rows = np.nonzero(exclude[s : s + block] >= 0)[0]
                sc[rows, exclude[s : s + block][rows]] = -np.inf
            top = top_ids(sc, fetch)
            if self.v.rescore:
                exact = np.einsum("qd,qkd->qk", q, self.full[top])
                if exclude is not None:
                    exact[top == exclude[s : s + block, None]] = -np.inf
                order = np.argsort(-exact, axis=1, kind="stable")[:, :k]
                top, sc = np.take_along_axis(top, order, 1), np.take_along_axis(exact, order, 1)
            else:
                sc = np.take_along_axis(sc, top, 1)
            ids[s : s + block], out[s : s + block] = top[:, :k], sc[:, :k]
        return ids, out

    def latency_ms(self, queries: np.ndarray, k: int = 10) -> list[float]:
        """Wall time of one single-query search (vectors already encoded), per query, on one BLAS
        thread: on shared cores a threaded one-row product waits for its threads (10-100x swings)."""
        samples = []
        with _one_thread():
            self.search(queries[:1], k)
            for i in range(min(len(queries), TIMED_QUERIES)):
                t = time.perf_counter()
                self.search(queries[i : i + 1], k)
                samples.append((time.perf_counter() - t) * 1000)
        return samples


def _one_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # timings then include BLAS' thread hand-offs
        from contextlib import nullcontext

        return nullcontext()
    return threadpool_limits(1)


def fit_model(corpus: np.ndarray, queries: np.ndarray, *, exclude: np.ndarray | None = None,
              judged=None, dims: Sequence[int] = TRUNCATE_DIMS) -> list[dict]:
    """Every variant's row: bytes per vector, recall@10 vs float32 full-dim exact, nDCG@10, p50 ms.

    ``judged`` = (qids, qrels, chunk_doc_ids, depth) scores nDCG@10 on documents (best chunk).
    """
    dim = corpus.shape[1]
    depth = max(10, judged[3]) if judged else 10
    rows = []
    for v in variants(dim, dims):
        s = Searcher(corpus, v)
        ids, scores = s.search(queries, depth, exclude)
        # Rescoring fetches RESCORE_MULT × k candidates: recall@10 asks for k = 10 (40 candidates);
        # the deeper list (for documents' nDCG) rescores RESCORE_MULT × depth.
        top10 = s.search(queries, 10, exclude)[0] if v.rescore else ids[:, :10]
        lat = sorted(s.latency_ms(queries))
        rows.append({**v.row(), "ids": top10, "scores": scores, "query_ms_p50": _p(lat, 50),
                     "ndcg@10": _ndcg(ids, scores, judged) if judged else None})
    # The reference is the float32 full-dimension exact run itself: its recall is 1.0 by construction.
    ref = next(r["ids"][:, :10] for r in rows if (r["precision"], r["dims"], r["rescore"]) == ("float32", dim, False))
    for r in rows:
        r["recall@10"] = round(recall_vs(r.pop("ids")[:, :10], ref), 6)
        r.pop("scores")
    return rows


def _ndcg(ids, scores, judged) -> float:
    from .evaluation import evaluate
    from .retrieval import doc_run
    from .store import Hit

    qids, qrels, chunk_doc_ids, _ = judged
    hits = {q: [Hit(int(i), float(s)) for i, s in zip(ids[n], scores[n], strict=True) if np.isfinite(s)]
            for n, q in enumerate(qids)}
    run = doc_run(hits, chunk_doc_ids)
    return round(evaluate({q: qrels[q] for q in qids}, run, ks=(10,)).mean["ndcg@10"], 6)


def _p(sorted_values: list[float], p: int) -> float | None:
    if not sorted_values:
        return None
    return round(float(sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))]), 4)


SAMPLED_QUERIES = 200


def fit_dataset(ws, ds, model_ids: Sequence[str], options: dict | None = None, *, milvus: bool = True,
                dims: Sequence[int] = TRUNCATE_DIMS, progress=None, api_keys: dict | None = None) -> dict:
    """The fit check of every dense model of a comparison whose vectors are stored already.

    Queries are the evaluation queries (encoded here) or, without them, ``SAMPLED_QUERIES`` seeded
    chunks whose own stored vectors are the queries (each query's own chunk never counts).
    """
    from .retrieval import open_model

    emit = progress or (lambda event: None)
    out = {}
    for mid in model_ids:
        if is_hybrid(mid):
            continue
        handle = open_model(ds, mid, (options or {}).get(mid), (api_keys or {}).get(mid))
        if handle.sparse:
            out[mid] = {"skipped": "sparse model: no dense vector to quantise"}
            continue
        emit({"model": mid, "stage": "fit"})
        out[mid] = fit_one(ws, ds, handle, milvus=milvus, dims=dims)
    return {"models": out}


def fit_one(ws, ds, handle, *, milvus: bool = True, dims: Sequence[int] = TRUNCATE_DIMS) -> dict:

    n = len(ds.chunks)
    corpus = np.asarray(ws.store.vectors(handle.collection, list(range(n)), False), dtype=np.float32)
    queries, exclude, judged, source = _queries(ds, handle, corpus)
    rows = fit_model(corpus, queries, exclude=exclude, judged=judged, dims=dims)
    memory = memory_table(n, corpus.shape[1])
    result = {"dim": int(corpus.shape[1]), "n_vectors": n, **matryoshka_flag(handle.id),
              "queries": {"n": int(len(queries)), "source": source}, "variants": rows,
              "index_memory_bytes": {k: v["bytes"][n] for k, v in memory.items()}, "index_memory": memory}
    if milvus:
        result["milvus"] = measure_hnsw_vs_flat(ws.store, corpus, queries)
    return result


def _queries(ds, handle, corpus):
    from .retrieval import chunk_depth

    ev = ds.eval_set
    qids = [q for q in ev.qrels if q in ev.queries] if ev else []
    if qids:
        vecs = np.asarray(handle.embedder.encode_queries([ev.queries[q] for q in qids]), dtype=np.float32)
        judged = (qids, ev.qrels, [c.doc_id for c in ds.chunks], chunk_depth(len(ds.chunks), len(ds.documents)))
        return vecs, None, judged, "evaluation queries"
    n = min(SAMPLED_QUERIES, len(corpus))
    picked = np.sort(np.random.default_rng(0).choice(len(corpus), n, replace=False))
    return corpus[picked], picked.astype(np.int64), None, f"{n} sampled chunks (their own chunk excluded)"


def save_fit(ws, comp, result: dict) -> None:
    """Keep each model's fit check in its comparison's results (the page and the report read it)."""
    from .comparison import save

    for mid, r in result.get("models", {}).items():
        comp.results.setdefault(mid, {})["fit"] = r
    save(ws, comp)


def sweep(ws, documents, eval_set, model_ids: Sequence[str], sizes: Sequence[int], overlap: int = 64,
          options: dict | None = None, name: str = "", progress=None) -> dict:
    """{str(size): the comparison at that chunk size, as ``evaluate --json`` writes it, plus each
    model's context window and truncation rate}. Vectors already stored are reused."""
    from . import comparison
    from .chunking import NO_WINDOW, Chunking, truncation_report
    from .retrieval import open_model
    from .summary import summary

    out = {}
    for size in sizes:
        chunking = Chunking(size, overlap if size == 0 or overlap < size else size // 4)
        ds = ws.add_dataset(documents, chunking, eval_set, name=name)
        comp = comparison.create(ws, ds, [{"id": m, "options": (options or {}).get(m, {})} for m in model_ids])
        comparison.run(ws, comp, progress=progress)
        entry = {**summary(comp, ws), "chunk_size": size, "overlap": chunking.overlap, "truncation": {}}
        for mid in comp.model_ids:
            if not is_hybrid(mid) and comp.run(mid).done:
                rep = truncation_report(open_model(ds, mid, comp.options(mid)).embedder, ds.chunk_texts)
                window = rep["context_window"] if rep["context_window"] < NO_WINDOW else None  # BM25, GloVe
                entry["truncation"][mid] = {"context_window": window,
                                            "over_context_pct": round(rep["over_context_pct"], 3)}
        out[str(size)] = entry
    return out


def save_sweep(ws, comp, result: dict) -> None:
    from .workspace import write_json

    write_json(ws.comparison_dir(comp.id) / "sweep.json", result)


def load_sweep(ws, comp) -> dict | None:
    from .workspace import read_json

    path = ws.comparison_dir(comp.id) / "sweep.json"
    return read_json(path) if path.exists() else None

"""Milvus index fit: memory per index type (formulas with their sources) and HNSW vs FLAT measured.

Memory is arithmetic on the documented layouts, for float32 vectors of ``dim`` dimensions with
an int64 primary key. Only FLAT, IVF_FLAT, IVF_SQ8, HNSW and HNSW_SQ are built by Milvus Lite;
DISKANN is on paper (Lite accepts it and searches by brute force; see design/MILVUS_LITE.md).
"""

from __future__ import annotations

import secrets
import time
from contextlib import nullcontext

import numpy as np

PROJECTED = (1_000_000, 10_000_000, 100_000_000)
HNSW_M = 16  # what EmbedLab's collections are built with (store.py); Milvus' own default is 30
NLIST = 128  # Milvus' IVF default
ID_BYTES = 8  # int64 primary key per vector in an IVF list
DOCS = "milvus-io/milvus-docs index-explained.md"
HNSWLIB = "nmslib/hnswlib hnswalg.h (level-0 element: 2M links × 4 B + 4 B count + vector + 8 B label)"
DISKANN = "milvus-io/milvus-docs disk_index.md / milvus.yaml: PQCodeBudgetGBRatio 0.125, SearchCacheBudgetGBRatio 0.10"


def index_memory(n: int, dim: int, m: int = HNSW_M, nlist: int = NLIST) -> dict[str, dict]:
    """Bytes in memory per index type for ``n`` vectors: {name: {"bytes", "formula", "source"}}."""
    raw = n * dim * 4
    hnsw_links = n * (2 * m * 4 + 12)
    return {
        "FLAT": _row(raw, "N·d·4", "raw float32 vectors, no index structure; " + DOCS),
        "IVF_FLAT": _row(nlist * dim * 4 + n * (dim * 4 + ID_BYTES),
                         f"nlist·d·4 + N·(d·4 + {ID_BYTES})", f"centroids + vectors + ids; {DOCS}, nlist={nlist}"),
        "IVF_SQ8": _row(nlist * dim * 4 + 2 * dim * 4 + n * (dim + ID_BYTES),
                        f"nlist·d·4 + 2·d·4 + N·(d + {ID_BYTES})",
                        f"centroids + per-dimension min/max + 1-byte codes + ids; {DOCS}, nlist={nlist}"),
        "HNSW": _row(raw + hnsw_links, "N·(d·4 + 2M·4 + 12)", f"vectors + level-0 graph, M={m}; {DOCS}; {HNSWLIB}"),
        "HNSW_SQ": _row(n * dim + 2 * dim * 4 + hnsw_links, "N·(d + 2M·4 + 12) + 2·d·4",
                        f"SQ8 codes instead of vectors + the same graph, M={m}, no refine copy; {DOCS}"),
        "DISKANN": _row(int(raw * 0.125 + raw * 0.10), "N·d·4·(0.125 + 0.10)",
                        f"RAM only: PQ codes + search cache; the graph and full vectors stay on disk; {DISKANN}"),
    }


def _row(nbytes: int, formula: str, source: str) -> dict:
    return {"bytes": int(nbytes), "formula": formula, "source": source}


def memory_table(n: int, dim: int, sizes=PROJECTED, m: int = HNSW_M) -> dict[str, dict]:
    """{index: {"formula", "source", "bytes": {n: bytes for this corpus and each projected size}}}."""
    out: dict[str, dict] = {}
    for size in (n, *sizes):
        for name, row in index_memory(size, dim, m).items():
            entry = out.setdefault(name, {"formula": row["formula"], "source": row["source"], "bytes": {}})
            entry["bytes"][int(size)] = row["bytes"]
    return out


def measure_hnsw_vs_flat(store, corpus: np.ndarray, queries: np.ndarray, k: int = 10,
                         n_latency: int = 50) -> dict:
    """recall@k (vs numpy's exact top-k) and single-query p50/p95 ms of Milvus' own FLAT and HNSW
    search, on two temporary collections in the workspace's store (dropped afterwards)."""

    ref = top_ids(queries @ corpus.T, k)
    out = {}
    for index, params in (("FLAT", {}), ("HNSW", {"M": HNSW_M, "efConstruction": 200})):
        name = f"embedlab_fit_tmp_{index.lower()}_{secrets.token_hex(4)}"
        try:
            _create(store, name, corpus, index, params)
            search = {"metric_type": "IP", "params": {"ef": max(128, k)} if index == "HNSW" else {}}  # as store.py
            ids = _search(store.client, name, queries, k, search)
            lat = []
            for q in queries[:n_latency]:
                t = time.perf_counter()
                _search(store.client, name, q[None, :], k, search)
                lat.append((time.perf_counter() - t) * 1000)
            lat.sort()
            out[index] = {"recall@10": round(recall_vs(ids, ref, k), 6), "p50_ms": _pct(lat, 50),
                          "p95_ms": _pct(lat, 95), "params": {**params, **search["params"]}}
        finally:
            with _lock():
                if store.client.has_collection(name):
                    store.client.drop_collection(name)
    out["n"], out["queries"] = int(len(corpus)), int(len(queries))
    return out


def _lock():
    """The store's process-wide write lock (concurrent writes through one Lite client lose rows)."""
    from . import store as store_module

    return getattr(store_module, "_write_lock", None) or nullcontext()


def _create(store, name: str, corpus: np.ndarray, index: str, params: dict) -> None:
    from pymilvus import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=int(corpus.shape[1]))
    ip = store.client.prepare_index_params()
    ip.add_index("vec", index_type=index, metric_type="IP", params={"params": params} if params else {})
    with _lock():
        store.client.create_collection(name, schema=schema, index_params=ip)
        for s in range(0, len(corpus), 2000):
            rows = [{"id": s + i, "vec": v.tolist()} for i, v in enumerate(corpus[s : s + 2000])]
            store.client.insert(name, rows)
        store.client.flush(name)
        store.client.load_collection(name)
    _wait_built(store.client, name, len(corpus))


def _wait_built(client, name: str, n: int, timeout: float = 600.0) -> None:
    """Lite builds an index in the background; a search before that is brute force."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            info = client.describe_index(name, "vec")
        except Exception:
            return
        if info.get("indexed_rows", n) >= n and info.get("state", "Finished") in ("Finished", 3, "3"):
            return
        time.sleep(0.5)


def _search(client, name: str, queries: np.ndarray, k: int, params: dict) -> np.ndarray:
    res = client.search(name, data=[q.tolist() for q in queries], limit=k, anns_field="vec",
                        search_params=params, output_fields=["id"])
    return np.array([[int(i) for i in hits.ids] + [-1] * (k - len(hits.ids)) for hits in res])


def _pct(sorted_values, p):
    if not sorted_values:
        return None
    return round(float(sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))]), 3)


def top_ids(scores: np.ndarray, k: int) -> np.ndarray:
    """Column ids of the k best scores per row, best first; ties by lower id (stable)."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < scores.shape[1] else np.tile(
        np.arange(scores.shape[1]), (scores.shape[0], 1))
    vals = np.take_along_axis(scores, part, 1)
    order = np.lexsort((part, -vals), axis=1)
    return np.take_along_axis(part, order, 1)


def recall_vs(ids: np.ndarray, ref: np.ndarray, k: int = 10) -> float:
    """Mean over queries of |top-k ∩ reference top-k| / k."""
    if len(ref) == 0:
        return 0.0
    return float(np.mean([len(set(a[:k]) & set(b[:k])) / k for a, b in zip(ids, ref, strict=True)]))

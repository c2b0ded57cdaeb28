"""Milvus layout for content-addressed vectors: the options measured on the same random vectors.

A dataset of N chunks whose vectors are in a content collection of 2N rows (other datasets' texts):
  views   — a per-corpus collection (ids = chunk ordinals) filled from the content collection
  filter  — search the content collection itself, restricted to the dataset's members by
            ``id in [...]`` (Milvus' own search; no copy, no second collection)
Also: INT64 (63 bits of sha256) against VARCHAR (hex sha256) primary keys, for the content upsert
and the membership lookup. Prints seconds and ratios (views = 1).

    .venv/bin/python bench/vector_layout.py --n 20000
"""

from __future__ import annotations

import tempfile
import time

import numpy as np
from _common import header, parser

from embedlab.store import Store


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> None:
    args = parser(__doc__, 20000, 4000).parse_args()
    n = args.n_quick if args.quick else args.n
    header(f"vector_layout n={n}")
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((2 * n, 384), dtype=np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    keys = rng.integers(0, 2**63 - 1, 2 * n, dtype=np.int64)
    store = Store(tempfile.mkdtemp() + "/milvus.db")
    store.in_process = False  # Milvus' own search, as a server would
    f = {}
    store.ensure("content", 384, False)
    f["upsert_int64_2n"], _ = timed(lambda: [store.upsert("content", keys[s:s + 4096], vecs[s:s + 4096])
                                             for s in range(0, 2 * n, 4096)])
    store.flush("content")
    f["upsert_varchar_2n"] = _varchar(store, keys, vecs)
    members = np.sort(rng.choice(2 * n, n, replace=False))
    f["copy_to_view"], _ = timed(lambda: _copy(store, keys, vecs, members))
    queries = vecs[members[:50]] + 0.01
    f["search_view_50q"], _ = timed(lambda: store.search("view", queries, 100, False))
    expr = f"id in {[int(k) for k in keys[members]]}"
    f["search_filter_50q"], _ = timed(lambda: store.client.search(
        "content", data=queries.tolist(), limit=100, anns_field="vec", filter=expr,
        search_params={"metric_type": "IP", "params": {"ef": 128}}, output_fields=["id"]))
    for k, v in f.items():
        print(f"{k:22s} {v:8.2f} s")
    print(f"filtered search / view search: {f['search_filter_50q'] / f['search_view_50q']:.1f}x")
    print(f"varchar upsert / int64 upsert: {f['upsert_varchar_2n'] / f['upsert_int64_2n']:.2f}x")


def _copy(store, keys, vecs, members):
    """What a new dataset version pays instead of embedding: held content rows → the view."""
    store.ensure("view", 384, False)
    for s in range(0, len(members), 4096):
        part = members[s:s + 4096]
        store.upsert("view", np.arange(s, s + len(part)), vecs[part])
    store.flush("view")


def _varchar(store, keys, vecs) -> float:
    from pymilvus import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=384)
    store.client.create_collection("content_hex", schema=schema, index_params=store._index(False))
    hexes = [f"{int(k):016x}" * 4 for k in keys]
    t = time.perf_counter()
    for s in range(0, len(keys), 4096):
        store.client.upsert("content_hex", [{"id": h, "vec": v.tolist()} for h, v in
                                            zip(hexes[s:s + 4096], vecs[s:s + 4096], strict=True)])
    return time.perf_counter() - t


if __name__ == "__main__":
    main()

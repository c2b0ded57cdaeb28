"""#6 — one query, top-10 from 4 models (query embedding included), at 50k chunks.

    python bench/search_overhead.py                       # 50,000 chunks × minilm, minilm-l3-onnx, bm25, model2vec
    python bench/search_overhead.py --quick               # 5,000 chunks
    python bench/search_overhead.py --workspace /tmp/w50k # keep the built comparison for reruns (and memory.py)

EmbedLab side: what the Search page runs — ``explore.open_handles`` then ``explore.search_all``
(encode the query per model, Milvus top-10 per collection, join chunk texts and titles).
Baseline: the same query encoded by the same 4 embedder objects, nothing else. Both run for
each of ``--queries`` SciFact test queries, alternately; per-query medians are compared.
Overhead per model = (median search_all − median of the summed encodes) / number of models.
The corpus comes from bench/_corpus.py (SciFact repeated with perturbations). Measured twice: as
``comparison.run`` leaves the collections (Milvus Lite keeps them in its memtable and searches
by brute force), then after a flush and the background HNSW builds; with ``--exact-in-memory``
also with the prototype that searches held vectors with numpy. Target: ≤ 20 ms/model.
"""

from __future__ import annotations

import statistics
import time

import _common as c
import _corpus

MODELS = "minilm,minilm-l3-onnx,bm25,model2vec"


def main() -> None:
    ap = c.parser(__doc__, n_default=50_000, n_quick=5_000)
    ap.add_argument("--models", default=MODELS)
    ap.add_argument("--workspace", help="build (or reuse) the comparison here instead of a temp folder")
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("--embed-all", action="store_true", help="embed every chunk for real with every model")
    ap.add_argument("--proposed", action="store_true", help="apply the engine change proposed in README")
    ap.add_argument("--exact-in-memory", action="store_true",
                    help="also measure the in-process exact search prototype (see _common.apply_in_memory_search)")
    args = ap.parse_args()
    if args.proposed:
        c.apply_proposed_fixes()
    c.header("search_overhead (#6)")
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    ws, ds, comp = _corpus.build(c.size(args), models, args.workspace, args.embed_all)
    _, queries, _ = c.scifact_raw()
    queries = list(queries.values())[: args.queries]
    from embedlab import explore

    handles = explore.open_handles(ws, comp, ds)
    figures = {"chunks": len(ds.chunks), "models": list(handles)}
    print(f"{len(ds.chunks)} chunks, {len(handles)} models, {len(queries)} queries (medians)", flush=True)
    # As comparison.run leaves the collections: rows in Lite's memtable, searched by brute force.
    figures["as stored"] = _measure(ws, ds, handles, queries, "as comparison.run leaves them (no flush)")
    print(f"flush + background HNSW builds: {_corpus.flush_and_index(ws, comp):.0f} s", flush=True)
    figures["flushed+indexed"] = _measure(ws, ds, handles, queries, "after flush + HNSW index")
    if args.exact_in_memory:
        c.apply_in_memory_search()
        figures["exact in memory"] = _measure(ws, ds, handles, queries, "prototype: exact top-k in process")
    print(c.load())
    c.write_json(args.json, figures)


def _measure(ws, ds, handles, queries, label) -> dict:
    from embedlab import explore

    for q in queries[:2]:  # first calls pay lazy loads (collection load, tokenizer caches)
        explore.search_all(ws, ds, handles, q, 10)
    enc, full = [], []
    per_model, enc_model = {m: [] for m in handles}, {m: [] for m in handles}
    for q in queries:
        for m, h in handles.items():
            t = time.perf_counter()
            h.embedder.encode_queries([q])
            enc_model[m].append((time.perf_counter() - t) * 1000)
        enc.append(sum(v[-1] for v in enc_model.values()))
        t = time.perf_counter()
        _, timings = explore.search_all(ws, ds, handles, q, 10)
        full.append((time.perf_counter() - t) * 1000)
        for m, ms in timings.items():
            per_model[m].append(ms)
    e_ms, f_ms = statistics.median(enc), statistics.median(full)
    overhead = (f_ms - e_ms) / len(handles)
    print(f"{label}:")
    print(f"  baseline: {len(handles)} query encodes          {e_ms:8.1f} ms")
    print(f"  EmbedLab: search_all (encode+search) {f_ms:8.1f} ms")
    for m in handles:
        e, s = statistics.median(enc_model[m]), statistics.median(per_model[m])
        print(f"     {m:15} encode {e:6.1f} ms   encode+search {s:6.1f} ms")
    print(f"  overhead per model {overhead:.1f} ms — {c.verdict(overhead, 20)}; {c.load()}", flush=True)
    return {"encode_ms": e_ms, "search_all_ms": f_ms, "overhead_ms_per_model": overhead,
            "per_model_ms": {m: statistics.median(v) for m, v in per_model.items()},
            "encode_model_ms": {m: statistics.median(v) for m, v in enc_model.items()}}


if __name__ == "__main__":
    main()

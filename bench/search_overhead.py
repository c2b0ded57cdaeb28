"""#6 — one query, top-10 from 4 models (query embedding included), at 50k chunks.

    python bench/search_overhead.py                       # 50,000 chunks × minilm, e5-small, bm25, model2vec
    python bench/search_overhead.py --quick               # 5,000 chunks
    python bench/search_overhead.py --workspace /tmp/w50k # keep the built comparison for reruns (and memory.py)

EmbedLab side: what the Search page runs — ``explore.open_handles`` then ``explore.search_all``
(encode the query per model, Milvus top-10 per collection, join chunk texts and titles).
Baseline: the same query encoded by the same 4 embedder objects, nothing else. Both run for
each of ``--queries`` SciFact test queries, alternately; per-query medians are compared.
Overhead per model = (median search_all − median of the summed encodes) / number of models.
The corpus comes from bench/_corpus.py (SciFact repeated with perturbations). Milvus Lite builds
HNSW in the background: the script waits for those builds before timing. Target: ≤ 20 ms/model.
"""

from __future__ import annotations

import statistics
import time

import _common as c
import _corpus

MODELS = "minilm,e5-small,bm25,model2vec"


def main() -> None:
    ap = c.parser(__doc__, n_default=50_000, n_quick=5_000)
    ap.add_argument("--models", default=MODELS)
    ap.add_argument("--workspace", help="build (or reuse) the comparison here instead of a temp folder")
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("--embed-all", action="store_true", help="embed every chunk for real with every model")
    ap.add_argument("--proposed", action="store_true", help="apply the engine change proposed in README")
    args = ap.parse_args()
    if args.proposed:
        c.apply_proposed_fixes()
    c.header("search_overhead (#6)")
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    ws, ds, comp = _corpus.build(c.size(args), models, args.workspace, args.embed_all)
    print(f"waited {_corpus.wait_for_indexes(ws, comp):.0f} s for index builds", flush=True)
    _, queries, _ = c.scifact_raw()
    queries = list(queries.values())[: args.queries]

    from embedlab import explore

    handles = explore.open_handles(ws, comp, ds)
    for q in queries[:2]:  # first calls pay lazy loads (collection load, tokenizer caches)
        explore.search_all(ws, ds, handles, q, 10)
    enc, full, per_model, enc_model = [], [], {m: [] for m in handles}, {m: [] for m in handles}
    for q in queries:
        for m, h in handles.items():
            t = time.perf_counter()
            h.embedder.encode_queries([q])
            enc_model[m].append((time.perf_counter() - t) * 1000)
        enc.append(sum(v[-1] for v in enc_model.values()) / 1000)
        t = time.perf_counter()
        _, timings = explore.search_all(ws, ds, handles, q, 10)
        full.append(time.perf_counter() - t)
        for m, ms in timings.items():
            per_model[m].append(ms)
    _report(ds, handles, enc, full, per_model, enc_model, args.json)


def _report(ds, handles, enc, full, per_model, enc_model, json_path) -> None:
    e_ms, f_ms = statistics.median(enc) * 1000, statistics.median(full) * 1000
    overhead = (f_ms - e_ms) / len(handles)
    print(f"{len(ds.chunks)} chunks, {len(handles)} models, {len(enc)} queries (medians)")
    print(f"baseline: 4 query encodes            {e_ms:8.1f} ms")
    print(f"EmbedLab: search_all (encode+search)  {f_ms:8.1f} ms")
    for m, ms in per_model.items():
        e, s = statistics.median(enc_model[m]), statistics.median(ms)
        print(f"   {m:12} encode {e:7.1f} ms   encode+search {s:7.1f} ms")
    print(f"overhead per model {overhead:.1f} ms — {c.verdict(overhead, 20)}; {c.load()}")
    c.write_json(json_path, {"chunks": len(ds.chunks), "encode_ms": e_ms, "search_all_ms": f_ms,
                             "overhead_ms_per_model": overhead,
                             "per_model_ms": {m: statistics.median(v) for m, v in per_model.items()}})


if __name__ == "__main__":
    main()

"""#6 — one query, top-10 from 4 models (query embedding included), at 50k chunks.

    python bench/search_overhead.py                       # 50,000 chunks × minilm, minilm-l3-onnx, bm25, model2vec
    python bench/search_overhead.py --quick               # 5,000 chunks
    python bench/search_overhead.py --workspace /tmp/w50k # keep the built comparison for reruns (and memory.py)

EmbedLab side: what the Search page runs — ``explore.open_handles`` then ``explore.search_all``
(encode the query per model, top-10 per collection, join chunk texts and titles).
Baseline: the same query encoded by the same 4 embedder objects, nothing else.
Overhead per model = (median search_all − median of the summed encodes) / number of models; the
median of the per-query differences is printed too (query encodes swing by ±100 ms under load).
The corpus comes from bench/_corpus.py (SciFact repeated with perturbations).

Two search paths, in the same process, on the same collections:
(a) the default, as the app runs: with Milvus Lite, ``Store.search`` is an exact product over
    the vectors held in process (``Store.resident``; vectors embedded in this process are kept
    as written, the others are loaded once — from the copy in ``<workspace>/vectors/`` when there
    is one, else read back from Lite, which writes that copy; the first search pays it, printed apart).
    A fresh build holds every model (as ``comparison.run`` does); a comparison reused from
    ``--workspace`` holds none, so the first search is that of an app restarted on a workspace;
(b) ``Store.in_process = False``: Milvus Lite's own search, after a flush and its background
    HNSW builds (what the engine did before, for comparison).
After the first searches, each of ``--queries`` SciFact test queries runs the baseline, (a) and
(b) in turn, so all three see the same load; medians are compared. ``Store.search`` alone (the
encoded query's top-10, no encode, no texts) is timed per model and path as well. The top-10 of (a) and (b)
are compared too (overlap@10: HNSW is approximate, (a) is exact). Target: ≤ 20 ms/model.
"""

from __future__ import annotations

import statistics
import time

import _common as c
import _corpus

MODELS = "minilm,minilm-l3-onnx,bm25,model2vec"
PATHS = {"in-process": True, "milvus": False}


def main() -> None:
    ap = c.parser(__doc__, n_default=50_000, n_quick=5_000)
    ap.add_argument("--models", default=MODELS)
    ap.add_argument("--workspace", help="build (or reuse) the comparison here instead of a temp folder")
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("--embed-all", action="store_true", help="embed every chunk for real with every model")
    args = ap.parse_args()
    c.header("search_overhead (#6)")
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    ws, ds, comp = _corpus.build(c.size(args), models, args.workspace, args.embed_all)
    _, queries, _ = c.scifact_raw()
    queries = list(queries.values())[: args.queries]
    from embedlab import explore
    from embedlab import resident as store  # the vectors held in process live there

    store_ = ws.store
    assert store_.in_process, "Store.in_process is off: is EMBEDLAB_IN_PROCESS_SEARCH=0 or a Milvus server set?"
    handles = explore.open_handles(ws, comp, ds)
    names = {m: h.collection for m, h in handles.items()}
    held_before = [m for m, n in names.items() if (store_.uri, n) in store._resident]
    print(f"{len(ds.chunks)} chunks, {len(handles)} models, {len(queries)} queries (medians); "
          f"held as written by comparison.run: {held_before or 'none'}", flush=True)
    figures = {"chunks": len(ds.chunks), "models": list(handles), "queries": len(queries),
               "held_as_written": held_before}

    # (a) first search as the app's process makes it: models not held yet are loaded once.
    copies = [m for m, n in names.items() if m not in held_before and (path := store_._cache_path(n)) and path.exists()]
    figures["loaded_from_copy"] = copies
    t = time.perf_counter()
    _, first = explore.search_all(ws, ds, handles, queries[0], 10)
    figures["first_search_ms"] = {"total": (time.perf_counter() - t) * 1000, **first}
    print(f"(a) first search_all: {figures['first_search_ms']['total']:.0f} ms ("
          + ", ".join(f"{m} {ms:.0f}" for m, ms in first.items())
          + f" ms; not held: loaded from the vectors/ copy for {copies or 'none'}, read from Lite for the rest)",
          flush=True)
    held = {m: store._resident[(store_.uri, n)].nbytes / 2**20 for m, n in names.items()
            if (store_.uri, n) in store._resident}
    print("    held in process: " + ", ".join(f"{m} {mb:.0f} MB" for m, mb in held.items()), flush=True)
    figures["held_mb"] = held
    assert set(held) == set(handles), f"not every model is searched in process: {set(handles) - set(held)}"

    # (b) needs Lite's flushed segments and HNSW indexes, as a reopened workspace would have them.
    print(f"flush + background HNSW builds (for (b)): {_corpus.flush_and_index(ws, comp):.0f} s", flush=True)
    for in_process in PATHS.values():  # first calls pay lazy loads (collection load, tokenizer caches)
        store_.in_process = in_process
        for q in queries[:2]:
            explore.search_all(ws, ds, handles, q, 10)

    enc, enc_model = [], {m: [] for m in handles}
    full = {p: [] for p in PATHS}
    per_model = {p: {m: [] for m in handles} for p in PATHS}
    alone = {p: {m: [] for m in handles} for p in PATHS}  # Store.search of the encoded query only
    top = {p: [] for p in PATHS}
    for q in queries:
        vecs = {}
        for m, h in handles.items():
            t = time.perf_counter()
            vecs[m] = h.embedder.encode_queries([q])
            enc_model[m].append((time.perf_counter() - t) * 1000)
        enc.append(sum(v[-1] for v in enc_model.values()))
        for p, in_process in PATHS.items():
            store_.in_process = in_process
            for m, h in handles.items():
                t = time.perf_counter()
                store_.search(h.collection, vecs[m], 10, h.sparse)
                alone[p][m].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            res, timings = explore.search_all(ws, ds, handles, q, 10)
            full[p].append((time.perf_counter() - t) * 1000)
            for m, ms in timings.items():
                per_model[p][m].append(ms)
            top[p].append({m: [r.chunk for r in rs] for m, rs in res.items()})
    store_.in_process = True

    e_ms = statistics.median(enc)
    labels = {"in-process": "(a) default: exact search over vectors held in process",
              "milvus": "(b) Store.in_process = False: Milvus Lite search, flushed + HNSW"}
    print(f"baseline: {len(handles)} query encodes {e_ms:8.1f} ms")
    for p in PATHS:
        f_ms = statistics.median(full[p])
        overhead = (f_ms - e_ms) / len(handles)
        paired = statistics.median(f - e for f, e in zip(full[p], enc, strict=True)) / len(handles)
        print(f"{labels[p]}:")
        print(f"  EmbedLab: search_all (encode+search) {f_ms:8.1f} ms")
        for m in handles:
            e, s = statistics.median(enc_model[m]), statistics.median(per_model[p][m])
            a = statistics.median(alone[p][m])
            print(f"     {m:15} encode {e:6.1f} ms   encode+search {s:6.1f} ms   Store.search alone {a:6.1f} ms")
        mean_alone = statistics.mean(statistics.median(v) for v in alone[p].values())
        print(f"  overhead per model {overhead:.1f} ms — {c.verdict(overhead, 20)}; paired per query "
              f"{paired:.1f} ms; Store.search alone, mean of the models' medians {mean_alone:.1f} ms", flush=True)
        figures[p] = {"encode_ms": e_ms, "search_all_ms": f_ms, "overhead_ms_per_model": overhead,
                      "overhead_paired_ms_per_model": paired, "store_search_mean_ms": mean_alone,
                      "per_model_ms": {m: statistics.median(v) for m, v in per_model[p].items()},
                      "store_search_ms": {m: statistics.median(v) for m, v in alone[p].items()},
                      "encode_model_ms": {m: statistics.median(v) for m, v in enc_model.items()}}
    oa, ob = figures["in-process"]["overhead_ms_per_model"], figures["milvus"]["overhead_ms_per_model"]
    overlap = {m: statistics.mean(len(set(a[m]) & set(b[m])) / max(len(b[m]), 1)
                                  for a, b in zip(top["in-process"], top["milvus"], strict=True)) for m in handles}
    print(f"overhead per model (a)/(b): {oa:.1f} / {ob:.1f} ms = {oa / ob:.3f}×; "
          "top-10 overlap (a) vs (b): " + ", ".join(f"{m} {v:.3f}" for m, v in overlap.items()))
    figures["ratio_a_over_b"] = oa / ob
    figures["overlap_at_10"] = overlap
    print(c.load())
    c.write_json(args.json, figures)


if __name__ == "__main__":
    main()

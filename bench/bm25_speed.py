"""#5 — BM25 index + retrieve over SciFact through EmbedLab against bm25s called directly.

    python bench/bm25_speed.py            # 5,183 abstracts, 300 test queries, top-100
    python bench/bm25_speed.py --quick    # 1,000 abstracts
    python bench/bm25_speed.py --profile bench/profiles/bm25.txt
    python bench/bm25_speed.py --model bm25:en   # English analyzer given: no language detection

Both sides use the same tokenizer settings (bm25s' Tokenizer, English Snowball stemmer, English
stopwords, k1 1.5, b 0.75) and retrieve the top 100 documents of every test query. ``bm25`` (the
default id) also detects each chunk's language to pick its analyzer (fastText, ~0.15 ms a chunk);
``--model bm25:en`` is bm25s' own configuration exactly.
bm25s: tokenize corpus → ``BM25.index`` → tokenize queries → ``retrieve(k=100)``.
EmbedLab: given the dataset (``add_dataset``, whole documents — reading and storing documents
is #1's subject, not BM25's), ``comparison.run(evaluate=False)`` with bm25 (fit, sparse vectors,
Milvus collection, upserts, flush) → ``retrieval.search`` of the queries. On Milvus Lite the
sparse rows are journaled (``<workspace>/pending/``, counted) and written to Lite once their results
are served, i.e. after the search (``write_behind.py``): the time until Lite holds them all ("in Lite
after") is printed, not counted, and each repeat waits for it before the next one starts
(``EMBEDLAB_WRITE_BEHIND=0`` writes them inside the run). Milvus Lite's start-up (once per app
process) is timed apart and not in the ratio.
Each side runs ``--repeat`` times alternately; the ratio compares their best times. Both sides'
nDCG@10 is printed: they rank identically up to ties. Target: ≤ 1.5× (issue 14; ≤ 1.2× before).
"""

from __future__ import annotations

import os
import time

import _common as c


def main() -> None:
    ap = c.parser(__doc__, n_default=None, n_quick=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", help="write a pyinstrument profile of one EmbedLab run here")
    ap.add_argument("--model", default="bm25", help="bm25 (analyzer per detected language) or bm25:en")
    args = ap.parse_args()
    c.header(f"bm25_speed (#5), {args.model}")
    docs, eval_set = c.scifact_documents(c.size(args))
    qids = [q for q in eval_set.qrels if q in eval_set.queries]
    queries = [eval_set.queries[q] for q in qids]
    print(f"{len(docs)} documents, {len(queries)} queries", flush=True)
    t = time.perf_counter()
    ws = c.temp_workspace("embedlab-bm25-")
    ws.store  # noqa: B018 - Milvus Lite start-up, once per process in the app
    milvus_start = time.perf_counter() - t

    direct, lab, behind, nd = [], [], [], {}
    for i in range(args.repeat):
        s, nd["bm25s"] = _bm25s(docs, queries, qids, eval_set)
        direct.append(s)
        with c.profiled(args.profile if i == 0 else None, f"bench/bm25_speed.py, {len(docs)} documents"):
            s, nd["embedlab"], after, agree = _embedlab(ws, docs, eval_set, queries, qids, fresh=i, model=args.model)
        behind.append(after)
        lab.append(s)
    ratio = min(lab) / min(direct)
    print(f"bm25s direct: best {min(direct):.2f} s of {', '.join(f'{x:.2f}' for x in direct)}; "
          f"nDCG@10 {nd['bm25s']:.4f}")
    print(f"EmbedLab:     best {min(lab):.2f} s of {', '.join(f'{x:.2f}' for x in lab)}; "
          f"nDCG@10 {nd['embedlab']:.4f}  (Milvus Lite start-up {milvus_start:.2f} s, not counted; "
          f"rows in Lite {', '.join(f'{x:.2f}' for x in behind)} s after the results)")
    print(f"Milvus Lite's own search of the stored rows, last repeat: top-10 identical for {agree:.1%} of queries")
    print(f"ratio {ratio:.2f}× — {c.verdict(ratio, 1.5)}; {c.load()}")
    c.write_json(args.json, {"model": args.model, "docs": len(docs), "bm25s_s": direct, "embedlab_s": lab,
                             "ratio": ratio, "milvus_start_s": milvus_start, "in_lite_after_s": behind,
                             "write_behind": os.environ.get("EMBEDLAB_WRITE_BEHIND") != "0",
                             "lite_top10_identical": agree, "ndcg": nd})


def _bm25s(docs, queries, qids, eval_set):
    import bm25s
    import Stemmer

    from embedlab.evaluation import evaluate

    t = time.perf_counter()
    stemmer = Stemmer.Stemmer("english")
    corpus_tokens = bm25s.tokenize([d.full_text for d in docs], stopwords="en", stemmer=stemmer,
                                   show_progress=False)
    retriever = bm25s.BM25(k1=1.5, b=0.75)
    retriever.index(corpus_tokens, show_progress=False)
    q_tokens = bm25s.tokenize(queries, stopwords="en", stemmer=stemmer, show_progress=False)
    idx, scores = retriever.retrieve(q_tokens, k=min(100, len(docs)), show_progress=False, n_threads=1)
    seconds = time.perf_counter() - t
    run = {q: {docs[j].id: float(s) for j, s in zip(idx[i], scores[i], strict=True)} for i, q in enumerate(qids)}
    return seconds, evaluate(eval_set.qrels, run).mean["ndcg@10"]


def _embedlab(ws, docs, eval_set, queries, qids, fresh: int, model: str = "bm25"):
    from embedlab import comparison
    from embedlab.chunking import Chunking
    from embedlab.evaluation import evaluate
    from embedlab.retrieval import doc_run, open_model, search

    # A new dataset each repeat (one word added to the first document): nothing stored is reused.
    first = docs[0]
    docs = [type(first)(first.id, first.title, f"{first.text} r{fresh}", first.meta), *docs[1:]]
    ds = ws.add_dataset(docs, Chunking(0, 0), eval_set, name=f"scifact-{fresh}")  # documents, not BM25: #1
    t = time.perf_counter()
    comp = comparison.create(ws, ds, [model])
    comparison.run(ws, comp, evaluate=False)
    handle = open_model(ds, model, comp.options(model))  # the fitted instance run() used
    hits = search(ws.store, handle, queries, min(100, len(docs)))
    seconds = time.perf_counter() - t
    run = doc_run(dict(zip(qids, hits, strict=True)), [ch.doc_id for ch in ds.chunks])
    t = time.perf_counter()
    ws.store.settle()  # the background write: finished before the next repeat, not counted
    after = time.perf_counter() - t
    ws.store.in_process = False  # the same queries answered by Milvus Lite from the rows it stored
    lite = search(ws.store, handle, queries, 10)
    ws.store.in_process = True
    agree = sum([h.id for h in a] == [h.id for h in b[:10]] for a, b in zip(lite, hits, strict=True)) / len(hits)
    return seconds, evaluate(eval_set.qrels, run).mean["ndcg@10"], after, agree


if __name__ == "__main__":
    main()

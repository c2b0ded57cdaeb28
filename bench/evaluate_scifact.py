"""#4 — a full SciFact evaluation through EmbedLab against a minimal script.

    python bench/evaluate_scifact.py             # 5,183 abstracts, 300 test queries, minilm
    python bench/evaluate_scifact.py --quick     # 500 abstracts (the scores then mean nothing)
    python bench/evaluate_scifact.py --profile bench/profiles/evaluate_scifact.txt

EmbedLab side: fresh workspace, whole documents (chunk size 0, the MTEB protocol), then
``comparison.run`` — embed and store the corpus, search every test query in Milvus, score,
measure single-query latency, write the manifest and per-query file. Minimal script: the same
SentenceTransformer object encodes corpus and queries, numpy computes exact top-100, and
``embedlab.evaluation.evaluate`` scores it. The minimal script runs before and after EmbedLab;
the ratio uses their mean. Both nDCG@10 are printed (with Milvus Lite EmbedLab's search is exact
too, over the vectors it holds in process; through a Milvus server HNSW may differ in the 4th
decimal). Target: ≤ 1.15×.
"""

from __future__ import annotations

import time

import _common as c
import numpy as np


def main() -> None:
    ap = c.parser(__doc__, n_default=None, n_quick=500)
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--profile", help="write a pyinstrument profile of the EmbedLab side here")
    args = ap.parse_args()
    c.header("evaluate_scifact (#4)")
    from embedlab.embedders import get_embedder

    docs, eval_set = c.scifact_documents(c.size(args))
    emb = get_embedder(args.model)  # one model object for both sides
    emb.encode_documents([d.full_text for d in docs[:64]])
    print(f"{len(docs)} documents, {len(eval_set.qrels)} queries, {args.model}", flush=True)

    base1, nd_base = _minimal(emb, docs, eval_set)
    lab, nd_lab, parts = _embedlab(docs, eval_set, args.model, args.profile)
    base2, _ = _minimal(emb, docs, eval_set)
    base = (base1 + base2) / 2
    ratio = lab / base
    print(f"minimal script: {base1:.1f} s, {base2:.1f} s (mean {base:.1f} s); nDCG@10 {nd_base:.4f} (exact)")
    print(f"EmbedLab:       {lab:.1f} s; nDCG@10 {nd_lab:.4f}  ("
          + ", ".join(f"{k} {v:.2f} s" for k, v in parts.items()) + ")")
    print(f"ratio {ratio:.3f}× — {c.verdict(ratio, 1.15)}; {c.load()}")
    c.write_json(args.json, {"docs": len(docs), "minimal_s": [base1, base2], "embedlab_s": lab,
                             "ratio": ratio, "ndcg_minimal": nd_base, "ndcg_embedlab": nd_lab, "parts": parts})


def _minimal(emb, docs, eval_set) -> tuple[float, float]:
    """What a person would write by hand: encode, numpy top-k, the metric function."""
    from embedlab.evaluation import evaluate

    t = time.perf_counter()
    kw = dict(batch_size=emb.batch_size, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)
    d = emb.model.encode_document([x.full_text for x in docs], **kw)
    qids = [q for q in eval_set.qrels if q in eval_set.queries]
    q = emb.model.encode_query([eval_set.queries[i] for i in qids], **kw)
    scores = q @ d.T
    k = min(100, len(docs))
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    run = {qid: {docs[j].id: float(scores[i, j]) for j in top[i]} for i, qid in enumerate(qids)}
    ndcg = evaluate(eval_set.qrels, run).mean["ndcg@10"]
    return time.perf_counter() - t, ndcg


def _embedlab(docs, eval_set, model, profile_path):
    from embedlab import comparison
    from embedlab.chunking import Chunking

    with c.profiled(profile_path, f"bench/evaluate_scifact.py, {len(docs)} documents, {model}"):
        t = time.perf_counter()
        ws = c.temp_workspace("embedlab-eval-")
        ds = ws.add_dataset(docs, Chunking(0, 0), eval_set, name="scifact")
        comp = comparison.create(ws, ds, [model])
        comparison.run(ws, comp)
        total = time.perf_counter() - t
    r = comp.results[model]
    assert r["status"] == "done", r
    parts = {"embed+store": r["embed_seconds"], "search 300 queries": r["eval_seconds"],
             "other (start, latency probe, metrics, files)": total - r["embed_seconds"] - r["eval_seconds"]}
    return total, r["metrics"]["ndcg@10"], parts


if __name__ == "__main__":
    main()

"""Retrieval metrics as pure functions over ``qrels`` and ``run``.

``qrels[qid][doc_id] = relevance`` (int, > 0 means relevant; graded values are gains for nDCG) and
``run[qid][doc_id] = score`` (higher is better). Each ``*_at_k`` returns one value per query.
Numbers match trec_eval / pytrec_eval (what BEIR and MTEB report) and ranx: the tests check both.

Which queries count: every qrels query with at least one relevant document. A query missing from
the run scores 0 rather than vanishing, so a model cannot look better by answering fewer queries.
Queries with no relevant document are left out, as pytrec_eval-based evaluators effectively do.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Mapping[str, float]]
MetricFn = Callable[[Mapping[str, int], list[str], int], float]


def ranked(scores: Mapping[str, float], k: int) -> list[str]:
    """The top ``k`` doc ids of one query, best first.

    Ties are broken by doc id, descending (byte order), which is what trec_eval does (it sorts
    by score, then docno, both decreasing) and therefore pytrec_eval, BEIR and MTEB. Tied scores are
    common (BM25 on short texts, quantised vectors, duplicate chunks), so an unstated tie-break would
    make our nDCG differ from published ones. ranx keeps insertion order for ties instead; the tests
    compare against ranx with tie-free scores and against pytrec_eval with ties.
    """
    return [doc for doc, _ in heapq.nlargest(k, scores.items(), key=lambda item: (item[1], item[0]))]


def _relevant(judged: Mapping[str, int]) -> set[str]:
    return {doc for doc, rel in judged.items() if rel > 0}


def _ndcg(judged: Mapping[str, int], ranking: list[str], k: int) -> float:
    # Linear gains (gain = relevance), log2(rank + 1) discounts: trec_eval's ndcg_cut.
    dcg = sum(max(judged.get(doc, 0), 0) / math.log2(i + 2) for i, doc in enumerate(ranking))
    ideal = sorted((rel for rel in judged.values() if rel > 0), reverse=True)[:k]
    idcg = sum(rel / math.log2(i + 2) for i, rel in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def _recall(judged: Mapping[str, int], ranking: list[str], k: int) -> float:
    relevant = _relevant(judged)
    return sum(doc in relevant for doc in ranking) / len(relevant)


def _precision(judged: Mapping[str, int], ranking: list[str], k: int) -> float:
    # Divided by k even when fewer than k documents were returned (trec_eval P_k, ranx).
    relevant = _relevant(judged)
    return sum(doc in relevant for doc in ranking) / k


def _mrr(judged: Mapping[str, int], ranking: list[str], k: int) -> float:
    relevant = _relevant(judged)
    return next((1.0 / (i + 1) for i, doc in enumerate(ranking) if doc in relevant), 0.0)


def _ap(judged: Mapping[str, int], ranking: list[str], k: int) -> float:
    # Divided by all relevant documents, not min(k, R): trec_eval map_cut and ranx map@k.
    relevant = _relevant(judged)
    hits, total = 0, 0.0
    for i, doc in enumerate(ranking):
        if doc in relevant:
            hits += 1
            total += hits / (i + 1)
    return total / len(relevant)


def _per_query(qrels: Qrels, run: Run, k: int, metric: MetricFn) -> dict[str, float]:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return {qid: metric(judged, ranked(run.get(qid, {}), k), k)
            for qid, judged in qrels.items() if _relevant(judged)}


def ndcg_at_k(qrels: Qrels, run: Run, k: int) -> dict[str, float]:
    return _per_query(qrels, run, k, _ndcg)


def recall_at_k(qrels: Qrels, run: Run, k: int) -> dict[str, float]:
    return _per_query(qrels, run, k, _recall)


def precision_at_k(qrels: Qrels, run: Run, k: int) -> dict[str, float]:
    return _per_query(qrels, run, k, _precision)


def mrr_at_k(qrels: Qrels, run: Run, k: int) -> dict[str, float]:
    return _per_query(qrels, run, k, _mrr)


def map_at_k(qrels: Qrels, run: Run, k: int) -> dict[str, float]:
    return _per_query(qrels, run, k, _ap)


METRICS: dict[str, MetricFn] = {"ndcg": _ndcg, "recall": _recall, "mrr": _mrr, "map": _ap,
                                "precision": _precision}


@dataclass
class Metrics:
    """Means over the judged queries, and the same numbers per query (for win/loss views)."""

    mean: dict[str, float] = field(default_factory=dict)  # {"ndcg@10": 0.61, "recall@100": …}
    per_query: dict[str, dict[str, float]] = field(default_factory=dict)  # qid → {"ndcg@10": …}
    n_queries: int = 0


def evaluate(qrels: Qrels, run: Run, ks: Iterable[int] = (1, 3, 5, 10, 100)) -> Metrics:
    """Every metric at every k; a ranking is computed once per query at the largest k."""
    ks = sorted(set(ks))
    if not ks or ks[0] < 1:
        raise ValueError(f"ks must be positive integers, got {ks}")
    per_query: dict[str, dict[str, float]] = {}
    for qid, judged in qrels.items():
        if not _relevant(judged):
            continue
        top = ranked(run.get(qid, {}), ks[-1])
        per_query[qid] = {f"{name}@{k}": fn(judged, top[:k], k) for name, fn in METRICS.items() for k in ks}
    names = [f"{name}@{k}" for name in METRICS for k in ks]
    n = len(per_query)
    mean = {name: (sum(q[name] for q in per_query.values()) / n if n else 0.0) for name in names}
    return Metrics(mean=mean, per_query=per_query, n_queries=n)


def doc_run_from_chunks(chunk_run: Mapping[str, Iterable[tuple[str, float]]]) -> dict[str, dict[str, float]]:
    """Turn chunk hits into a document run: a document scores as its best chunk (MaxP)."""
    run: dict[str, dict[str, float]] = {}
    for qid, hits in chunk_run.items():
        docs = run.setdefault(qid, {})
        for doc_id, score in hits:
            if doc_id not in docs or score > docs[doc_id]:
                docs[doc_id] = float(score)
    return run


def per_query_wins(per_query_a: Mapping[str, Mapping[str, float]],
                   per_query_b: Mapping[str, Mapping[str, float]],
                   metric: str = "ndcg@10") -> list[tuple[str, float, float, float]]:
    """(qid, a, b, a − b) for every query either side scored, biggest win for A first.

    A query one side lacks counts 0 there, matching how ``evaluate`` scores a missing query.
    """
    rows = []
    for qid in sorted(set(per_query_a) | set(per_query_b)):
        a = per_query_a.get(qid, {}).get(metric, 0.0)
        b = per_query_b.get(qid, {}).get(metric, 0.0)
        rows.append((qid, a, b, a - b))
    return sorted(rows, key=lambda row: (-row[3], row[0]))

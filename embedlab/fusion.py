"""Hybrid fusion of ranked lists, with the formulas Milvus' own rankers use.

Milvus ``hybrid_search`` fuses only fields of one collection; our models live in separate
collections, so we fuse their results here. tests/test_fusion.py checks both agree on a
collection that holds both fields.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def rrf(ranked_lists: Sequence[Sequence[tuple[int, float]]], k: int = 60, limit: int = 10):
    """Reciprocal rank fusion: score = Σ 1 / (k + rank), rank counted from 1."""
    scores: dict[int, float] = {}
    for hits in ranked_lists:
        for rank, (pk, _) in enumerate(hits, start=1):
            scores[pk] = scores.get(pk, 0.0) + 1.0 / (k + rank)
    return _top(scores, limit)


def weighted(ranked_lists: Sequence[Sequence[tuple[int, float]]], weights: Sequence[float], limit: int = 10):
    """Weighted sum of scores squashed to (0, 1) by 0.5 + atan(s)/π — Milvus' WeightedRanker
    normalisation for IP scores, so a BM25 score of 12 and a cosine of 0.8 become comparable.
    A hit missing from one list gets nothing from that list."""
    if len(weights) != len(ranked_lists):
        raise ValueError(f"{len(weights)} weights for {len(ranked_lists)} result lists")
    scores: dict[int, float] = {}
    for w, hits in zip(weights, ranked_lists, strict=True):
        for pk, s in hits:
            scores[pk] = scores.get(pk, 0.0) + w * (0.5 + math.atan(s) / math.pi)
    return _top(scores, limit)


def _top(scores: dict[int, float], limit: int) -> list[tuple[int, float]]:
    # Equal scores: smaller primary key first, the tie-break Milvus' SortOp applies.
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def parse_hybrid(model_id: str) -> dict | None:
    """``hybrid:minilm+bm25`` (RRF, k=60) or ``hybrid:minilm+bm25@0.7`` (weighted, 0.7 dense)."""
    if not model_id.startswith("hybrid:"):
        return None
    body = model_id[len("hybrid:"):]
    body, _, weight = body.partition("@")
    parts = [p.strip() for p in body.split("+") if p.strip()]
    if len(parts) != 2:
        raise ValueError(f"{model_id!r}: a hybrid names two models, e.g. hybrid:minilm+bm25")
    if weight:
        w = float(weight)
        if not 0 <= w <= 1:
            raise ValueError(f"{model_id!r}: the weight after @ is the first model's share, 0..1")
        return {"id": model_id, "parts": parts, "method": "weighted", "weights": [w, 1 - w]}
    return {"id": model_id, "parts": parts, "method": "rrf", "k": 60}


def fuse(spec: dict, ranked_lists, limit: int):
    if spec["method"] == "rrf":
        return rrf(ranked_lists, k=spec.get("k", 60), limit=limit)
    return weighted(ranked_lists, spec["weights"], limit=limit)

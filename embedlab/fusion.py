"""Hybrid fusion of ranked lists, with the formulas Milvus' own rankers use.

Milvus ``hybrid_search`` fuses only fields of one collection; our models live in separate
collections, so we fuse their results here. tests/test_fusion.py checks both agree on a
collection that holds both fields.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .records import HybridSpec


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


def parse_hybrid(model_id: str) -> HybridSpec:
    """``hybrid:minilm+bm25`` (RRF, k=60) or ``hybrid:minilm+bm25@0.7`` (weighted, 0.7 dense)."""
    return HybridSpec.parse(model_id)


def fuse(spec: HybridSpec, ranked_lists, limit: int):
    if spec.method == "rrf":
        return rrf(ranked_lists, k=spec.k, limit=limit)
    return weighted(ranked_lists, spec.weights, limit=limit)

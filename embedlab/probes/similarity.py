"""Cosines for the probes, dense or sparse alike, without ever holding an n×n matrix."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.preprocessing import normalize

from ..embedders.base import Embedder, similarity


def unit(vectors):
    """Rows scaled to length 1 (dense or sparse), so inner products are cosines."""
    return normalize(vectors, norm="l2")


def paired_cosine(a, b) -> np.ndarray:
    """Cosine of row i of ``a`` with row i of ``b``."""
    a, b = unit(_same_width(a, b.shape[1])), unit(_same_width(b, a.shape[1]))
    if hasattr(a, "multiply"):
        return np.asarray(a.multiply(b).sum(axis=1)).ravel()
    return np.sum(a * b, axis=1)


def cosine_blocks(queries, docs, block: int = 512):
    """Yield (start, cosine block) so an n×n matrix is never held at once."""
    queries = unit(_same_width(queries, docs.shape[1]))
    docs = unit(_same_width(docs, queries.shape[1]))
    for start in range(0, queries.shape[0], block):
        yield start, similarity(queries[start : start + block], docs)


def top_k(queries, docs, k: int, block: int = 512) -> list[list[int]]:
    """Each query's ``k`` best rows of ``docs`` by inner product, as the vector store ranks them
    (dense vectors are unit length; sparse weights are compared raw, like BM25 scores).
    Ties go to the lower index; a sparse query with no terms scores 0 everywhere and gets []."""
    queries, docs = _same_width(queries, docs.shape[1]), _same_width(docs, queries.shape[1])
    out: list[list[int]] = []
    k = min(k, docs.shape[0])
    for start in range(0, queries.shape[0], block):
        scores = np.asarray(similarity(queries[start : start + block], docs))
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        out.extend(row[scores[i, row] > 0].tolist() if hasattr(docs, "tocsr") else row.tolist()
                   for i, row in enumerate(order))
    return out


def _same_width(m, width: int):
    # A sparse model's vectors are as wide as the highest term id seen in that batch.
    if hasattr(m, "tocsr") and m.shape[1] < width:
        m = m.tocsr().copy()
        m.resize(m.shape[0], width)
    return m


def sts_spearman(embedder: Embedder, pairs: Sequence[tuple[str, str]], gold: Sequence[float]) -> float:
    """Spearman correlation of pair cosines with human scores (MTEB's STS main score)."""
    from scipy.stats import spearmanr

    left = embedder.encode_queries([a for a, _ in pairs])
    right = embedder.encode_queries([b for _, b in pairs])
    return float(spearmanr(paired_cosine(left, right), gold).statistic)


def bitext_mining(embedder: Embedder, src: Sequence[str], tgt: Sequence[str]) -> dict[str, float]:
    """For each source sentence, its nearest target by cosine; the right one is at the same index.

    ``f1`` is MTEB's BitextMining f1: sklearn's support-weighted f1 over target indices as classes.
    ``gap`` is mean true-pair cosine minus mean cosine over all mismatched pairs: how far apart the
    model keeps translations from unrelated sentences, even when it ranks them right.
    """
    from sklearn.metrics import accuracy_score, f1_score

    s, t = embedder.encode_queries(list(src)), embedder.encode_queries(list(tgt))
    n = len(src)
    predicted, true_sum, all_sum = np.empty(n, dtype=int), 0.0, 0.0
    for start, block in cosine_blocks(s, t):
        predicted[start : start + len(block)] = block.argmax(axis=1)  # first index wins a tie
        true_sum += float(np.diagonal(block, offset=start).sum())
        all_sum += float(block.sum())
    gold = np.arange(n)
    mismatched = (all_sum - true_sum) / max(n * n - n, 1)
    return {"accuracy": float(accuracy_score(gold, predicted)),
            "f1": float(f1_score(gold, predicted, average="weighted", zero_division=0)),
            "gap": true_sum / n - mismatched, "n": n}

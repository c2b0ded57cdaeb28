"""Deeper looks at a model than retrieval scores: similarity, languages, robustness, local structure,
and eval sets made from the user's own documents.

Probes take an ``Embedder`` (dense or sparse alike) or plain vectors and return plain numbers.
Symmetric tasks (STS, bitext, perturbations) encode both sides with ``encode_queries``: e5-style models
were trained with the ``query:`` prefix on both sides of symmetric pairs, and MTEB does the same.
Noise lives in ``perturb``, generated eval sets in ``evalgen``, input files in ``probe_data``; their
public names are re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .embedders.base import Embedder
from .evalgen import GENERATED_NOTE, generate_eval_set, generate_eval_set_llm, write_beir
from .perturb import (
    KINDS,
    SYNONYMS,
    corpus_search,
    noisy_variants,
    perturb,
    perturbation_robustness,
    perturbation_survival,
)
from .probe_data import (
    SAMPLE_PARALLEL,
    SAMPLE_STS,
    PairTable,
    load_parallel,
    load_sts,
    load_sts_tsv,
    parallel_languages,
    read_pairs,
)
from .probe_math import cosine_blocks, paired_cosine

__all__ = ["GENERATED_NOTE", "KINDS", "SAMPLE_PARALLEL", "SAMPLE_STS", "SYNONYMS", "PairTable", "bitext_mining",
           "corpus_search", "generate_eval_set", "generate_eval_set_llm", "load_parallel", "load_sts",
           "load_sts_tsv", "map_false_neighbours", "neighbourhood_purity", "noisy_variants", "parallel_languages",
           "perturb", "perturbation_robustness", "perturbation_survival", "purity_of_neighbours", "read_pairs",
           "sts_spearman", "trustworthiness", "write_beir"]


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


# -- local structure ------------------------------------------------------------------------------


def neighbourhood_purity(vectors, labels: Sequence, k: int = 10) -> float:
    """Mean fraction of each point's k nearest neighbours (cosine, itself excluded) sharing its label."""
    labels = np.asarray(labels)
    n = len(labels)
    k = min(k, n - 1)
    if k < 1:
        return float("nan")
    total = 0.0
    for start, block in cosine_blocks(vectors, vectors):
        block = np.array(block, dtype=np.float64)
        block[np.arange(len(block)), np.arange(start, start + len(block))] = -np.inf
        nearest = np.argpartition(-block, k - 1, axis=1)[:, :k]
        total += float((labels[nearest] == labels[start : start + len(block), None]).sum())
    return total / (n * k)


def purity_of_neighbours(neighbours: np.ndarray, labels: Sequence) -> dict[str, float]:
    """Purity of precomputed neighbour lists ((n, k) row indices, each row's own index excluded).

    Only points that share their label with at least one other point count: a document cut into
    one chunk cannot have a same-document neighbour. ``purity`` is their mean share of neighbours
    with the same label; ``ceiling`` the best any model could score (a label held by 3 points allows
    at most 2 of k); ``chance`` what random neighbours would give. Read purity between the two.
    """
    labels = np.asarray([str(x) for x in labels])
    n, k = neighbours.shape
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    others = counts[inverse] - 1  # how many other points carry each point's label
    keep = others > 0
    if not keep.any() or k == 0:
        return {"purity": float("nan"), "ceiling": float("nan"), "chance": float("nan"), "points": 0, "k": k}
    same = (labels[neighbours[keep]] == labels[keep, None]).sum(axis=1) / k
    return {"purity": float(same.mean()), "ceiling": float((np.minimum(others[keep], k) / k).mean()),
            "chance": float((others[keep] / max(n - 1, 1)).mean()), "points": int(keep.sum()), "k": k}


def trustworthiness(vectors, coords2d, k: int = 10, max_points: int = 2000, seed: int = 0,
                    metric: str = "euclidean") -> float:
    """How far a 2-D map's neighbourhoods can be trusted (1.0 = no false neighbours), via sklearn.

    Euclidean by default: embedder vectors are unit length, so euclidean neighbours are cosine
    neighbours; pass ``metric="cosine"`` for raw sparse weights. Above ``max_points`` a fixed-seed
    sample keeps the O(n²) distance matrices small; ``k`` shrinks to sklearn's limit (< n/2).
    """
    from sklearn.manifold import trustworthiness as sk_trust

    n = vectors.shape[0]
    if n > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))
        vectors, coords2d = vectors[keep], np.asarray(coords2d)[keep]
        n = max_points
    k = min(k, (n - 1) // 2)
    if k < 1:
        return float("nan")
    return float(sk_trust(vectors, np.asarray(coords2d), n_neighbors=k, metric=metric))


def map_false_neighbours(true_neighbours: np.ndarray, map_neighbours: np.ndarray) -> np.ndarray:
    """Per point: the share of its k nearest points on a 2-D map that are not among its k nearest in
    the model's own space — the points a reader of the map would wrongly take for close relatives."""
    a, b = np.atleast_2d(true_neighbours), np.atleast_2d(map_neighbours)
    if b.shape[1] == 0:
        return np.zeros(b.shape[0])
    shared = (b[:, :, None] == a[:, None, :]).any(axis=2).sum(axis=1)
    return 1 - shared / b.shape[1]

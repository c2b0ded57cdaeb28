"""Local semantic consistency: do a model's nearest chunks belong together (by document, or by a
metadata field the user has), and can its 2-D map be trusted — when a map misleads.

On a comparison, everything is computed from the stored vectors and the cached maps, on a seeded
sample of at most ``MAX_POINTS`` chunks, and kept with the comparison (``runs.cached``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .. import projection
from .runs import cached
from .similarity import cosine_blocks

MAX_POINTS = 5000  # pairwise work per model grows with the square of this
MAP_SAMPLE = 50_000  # the Map page maps all chunks up to this many, a seeded sample beyond


def label_options(ds) -> dict[str, str]:
    """What chunks can be grouped by: their document, or a metadata field with a few values."""
    opts = {"document": "Document (chunks of the same document belong together)"}
    keys = sorted({k for d in ds.documents for k, v in d.meta.items() if isinstance(v, str | int | float | bool)})
    for key in keys:
        values = {str(d.meta.get(key)) for d in ds.documents}
        if 2 <= len(values) <= max(2, min(200, len(ds.documents) // 2)):
            opts[f"meta:{key}"] = f"Metadata: {key} ({len(values)} values)"
    return opts


def chunk_labels(ds, choice: str) -> list[str]:
    if choice == "document":
        return [c.doc_id for c in ds.chunks]
    if not choice.startswith("meta:"):
        raise ValueError(f"unknown labels {choice!r}: choose 'document' or 'meta:<field>'")
    meta = {d.id: str(d.meta.get(choice[5:], "")) for d in ds.documents}
    return [meta[c.doc_id] for c in ds.chunks]


def consistency_of_vectors(vectors, labels: Sequence, maps: dict[str, np.ndarray], k: int = 10,
                           worst: int = 10) -> dict:
    """Neighbourhood purity against ``labels`` and, per 2-D map, its trustworthiness and the share
    of map neighbours that are false (not among the model's own k nearest), with the worst rows."""
    from ..neighbours import knn

    true = knn(vectors, k)
    out = {**purity_of_neighbours(true, labels), "maps": {}}
    for kind, coords in maps.items():
        false = map_false_neighbours(true, _map_knn(coords, k))
        order = np.argsort(-false, kind="stable")[:worst]
        out["maps"][kind] = {"trust": trustworthiness(vectors, coords, k, metric="cosine"),
                             "false": float(false.mean()), "worst": [[int(i), float(false[i])] for i in order]}
    return out


def _map_knn(coords: np.ndarray, k: int) -> np.ndarray:
    """Each point's k nearest others on the map (euclidean), itself dropped wherever it ranks."""
    from ..neighbours import euclidean_knn

    idx, _ = euclidean_knn(np.asarray(coords, np.float32), min(k + 1, len(coords)))
    others = idx != np.arange(len(idx))[:, None]
    order = np.argsort(~others, axis=1, kind="stable")  # non-self columns first, in rank order
    return np.take_along_axis(idx, order, axis=1)[:, : idx.shape[1] - 1]


# -- on a comparison --------------------------------------------------------------------------------
def map_kinds(ws, comp) -> list[str]:
    """PCA always (seconds to compute); UMAP only when the Map page has already cached it."""
    models = projection.vector_models(comp)
    n = projection.comp_size(ws, comp)
    suffix = f"_s{MAP_SAMPLE}" if n > MAP_SAMPLE else ""  # projection.map_set's file name for seed 0
    got = projection.load_npz(ws.comparison_dir(comp.id) / "projections" / f"umap_0{suffix}.npz")
    return ["pca", "umap"] if got is not None and got[0] == models else ["pca"]


def comparison_consistency(ws, comp, ds, labels: str = "document", k: int = 10, max_points: int = MAX_POINTS,
                           seed: int = 0, progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Per model with stored vectors: purity against ``labels`` and each map's trustworthiness,
    false-neighbour share and worst chunks (chunk ids), on a seeded sample of chunks."""
    params = consistency_params(ws, comp, ds, labels, k, max_points, seed)
    if not params["models"]:
        raise ValueError("no model of this comparison has stored vectors yet: run it first")
    return cached(ws, comp.id, "consistency", params,
                  lambda: _consistency(ws, comp, ds, params["models"], params["maps"], labels, k, max_points, seed,
                                       progress))


def consistency_params(ws, comp, ds, labels: str = "document", k: int = 10, max_points: int = MAX_POINTS,
                       seed: int = 0) -> dict:
    """What a consistency result depends on; with ``robustness.lookup`` it finds a cached one."""
    return {"dataset": ds.key, "models": projection.vector_models(comp), "labels": labels, "k": k,
            "max_points": max_points, "seed": seed, "maps": map_kinds(ws, comp)}


def _consistency(ws, comp, ds, models, kinds, labels, k, max_points, seed, progress) -> dict:
    n = projection.comp_size(ws, comp)
    sample = MAP_SAMPLE if n > MAP_SAMPLE else None
    map_sets = {kind: projection.map_set(ws, comp, kind, sample) for kind in kinds}
    first = map_sets["pca"]
    rows = projection.sample_ids(len(first.ids), max_points, seed)  # rows of the maps
    ids = first.ids[rows]
    names = np.asarray(chunk_labels(ds, labels))[ids]
    out = {}
    for i, mid in enumerate(models):
        if progress:
            progress(mid, i, len(models))
        vectors = projection.load_vectors(ws, comp, mid, ids)
        maps = {kind: ms.coords[mid][rows] for kind, ms in map_sets.items()}
        result = consistency_of_vectors(vectors, names, maps, k)
        for m in result["maps"].values():
            m["worst"] = [[int(ids[row]), share] for row, share in m["worst"]]
        out[mid] = result
    return {"models": out, "points": len(ids), "chunks": n, "labels": labels, "maps": kinds, "k": k}


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

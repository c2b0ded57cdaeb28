"""Local semantic consistency: do a model's nearest chunks belong together (by document, or by a
metadata field the user has), and can its 2-D map be trusted — when a map misleads.

On a comparison, everything is computed from the stored vectors and the cached maps, on a seeded
sample of at most ``MAX_POINTS`` chunks, and kept with the comparison (``robustness.cached``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from . import probes, projection
from .robustness import cached

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
    from .neighbours import knn

    true = knn(vectors, k)
    out = {**probes.purity_of_neighbours(true, labels), "maps": {}}
    for kind, coords in maps.items():
        false = probes.map_false_neighbours(true, _map_knn(coords, k))
        order = np.argsort(-false, kind="stable")[:worst]
        out["maps"][kind] = {"trust": probes.trustworthiness(vectors, coords, k, metric="cosine"),
                             "false": float(false.mean()), "worst": [[int(i), float(false[i])] for i in order]}
    return out


def _map_knn(coords: np.ndarray, k: int) -> np.ndarray:
    """Each point's k nearest others on the map (euclidean), itself dropped wherever it ranks."""
    from .neighbours import euclidean_knn

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

"""Nearest neighbours of every chunk under each model, and how much the models agree on them.

Two models that rank the same chunks as neighbours see the corpus alike, whatever their scores;
the chunks where they disagree most are the ones worth reading. Neighbours are exact (blocked
matrix products): at the sizes EmbedLab handles an exact answer costs seconds, and an
approximate one would blur the very disagreement being measured.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from .npz import load_npz, save_npz
from .vectors import comp_size, load_vectors, vector_models

_BLOCK_BYTES = 64 << 20  # similarity rows computed at once: 64 MB whatever the corpus size


# -- exact k-nearest neighbours ------------------------------------------------------------------
def knn(vectors, k: int = 10, exclude_self: bool = True) -> np.ndarray:
    """(n, k) indices of each row's most similar rows, most similar first, ties to the lower index.

    Similarity is cosine: dense vectors are stored normalised; sparse rows are normalised here
    so that a long chunk is not everyone's neighbour just for having more terms."""
    return _blocked_knn(_normalised(vectors), k, exclude_self)[0]


def euclidean_knn(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices, distances) of each row's k nearest rows by euclidean distance, itself included
    (first, at distance 0), as UMAP's ``precomputed_knn`` expects."""
    x = np.asarray(x, dtype=np.float32)
    sq = (x.astype(np.float64) ** 2).sum(axis=1).astype(np.float32)
    idx, _ = _blocked_knn(x, k, exclude_self=False, sq=sq)
    # Distances of the chosen few recomputed directly: |x|² − score cancels badly in float32,
    # and UMAP reads a point's distance to itself as exactly 0.
    dist = np.empty(idx.shape, dtype=np.float32)
    step = max(1, _BLOCK_BYTES // (4 * max(idx.shape[1] * x.shape[1], 1)))  # rows of (k, d) differences
    for s in range(0, len(x), step):
        dist[s : s + step] = np.linalg.norm(x[s : s + step, None, :] - x[idx[s : s + step]], axis=2)
    return idx, dist


def _blocked_knn(x, k, exclude_self, sq=None):
    """Top-k by score, a block of rows at a time so memory stays bounded. The score is the dot
    product, or with ``sq`` (squared norms) 2·x·y − |y|², which ranks as −|x − y|² does."""
    n = x.shape[0]
    k = max(min(k, n - 1 if exclude_self else n), 0)
    idx, scores = np.empty((n, k), dtype=np.int64), np.empty((n, k), dtype=np.float32)
    block = max(1, _BLOCK_BYTES // (4 * max(n, 1)))
    for start in range(0, n if k else 0, block):
        sims = _similarities(x[start : start + block], x)
        if sq is not None:
            sims = 2 * sims - sq[None, :]
        if exclude_self:
            rows = np.arange(sims.shape[0])
            sims[rows, start + rows] = -np.inf
        top = _top_k(sims, k)
        idx[start : start + block] = top
        scores[start : start + block] = np.take_along_axis(sims, top, axis=1)
    return idx, scores


def knn_of(vectors, i: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Neighbours of row ``i`` (itself excluded) and their cosine similarities."""
    x = _normalised(vectors)
    sims = _similarities(x[i : i + 1], x)
    sims[0, i] = -np.inf
    idx = _top_k(sims, min(k, x.shape[0] - 1))[0]
    return idx, sims[0, idx]


def knn_of_query(query_vec, vectors, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Rows nearest an encoded query (dense (d,) / (1, d) or a one-row csr) and their cosines."""
    x = _normalised(vectors)
    q = query_vec if hasattr(query_vec, "tocsr") else np.asarray(query_vec, np.float32).reshape(1, -1)
    sims = _similarities(_normalised(q), x)
    idx = _top_k(sims, min(k, x.shape[0]))[0]
    return idx, sims[0, idx]


def _normalised(vectors):
    if hasattr(vectors, "tocsr"):
        from sklearn.preprocessing import normalize

        return normalize(vectors.tocsr().astype(np.float32), norm="l2")
    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim == 2 and len(x):  # stored vectors are already unit length; a query may not be
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        if not np.allclose(norms, 1, atol=1e-3):
            x = x / np.where(norms == 0, 1, norms)
    return x


def _similarities(rows, x) -> np.ndarray:
    if hasattr(rows, "tocsr"):
        # Sparse vectors built at different times can differ in width (highest term seen).
        width = max(rows.shape[1], x.shape[1])
        rows, x = (m.tocsr().copy() for m in (rows, x))
        rows.resize(rows.shape[0], width)
        x.resize(x.shape[0], width)
        return np.asarray((rows @ x.T).todense(), dtype=np.float32)
    return rows @ x.T


def _top_k(sims: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest per row, largest first; equal scores in index order, so the
    answer does not depend on how the rows were blocked."""
    if k <= 0:
        return np.empty((sims.shape[0], 0), dtype=np.int64)
    n = sims.shape[1]
    kth = np.partition(sims, n - k, axis=1)[:, n - k : n - k + 1]  # k-th largest value per row
    rows, cols = np.nonzero(sims >= kth)  # every candidate, ties at the boundary included
    order = np.lexsort((cols, -sims[rows, cols], rows))
    rows, cols = rows[order], cols[order]
    starts = np.searchsorted(rows, np.arange(sims.shape[0]))
    return cols[starts[:, None] + np.arange(k)]


# -- agreement between neighbour lists -----------------------------------------------------------
def jaccard_at_k(a_idx, b_idx) -> np.ndarray:
    """Per row: |A ∩ B| / |A ∪ B| of two (n, k) neighbour lists (rows hold distinct indices)."""
    a, b = np.atleast_2d(a_idx), np.atleast_2d(b_idx)
    inter = (a[:, :, None] == b[:, None, :]).any(axis=2).sum(axis=1)
    union = a.shape[1] + b.shape[1] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def rbo(list_a, list_b, p: float = 0.9) -> float:
    """Rank-biased overlap, extrapolated (RBO_ext, Webber, Moffat & Zobel 2010, eq. 32): top-
    weighted agreement of two rankings, 1 for identical lists, 0 for disjoint ones. Unlike
    Jaccard, swapping ranks 1 and 10 costs more than swapping 9 and 10. Lists may differ in length."""
    if not 0 < p < 1:
        raise ValueError("p must be strictly between 0 and 1")
    short, long_ = (list(list_a), list(list_b)) if len(list_a) <= len(list_b) else (list(list_b), list(list_a))
    s, length = len(short), len(long_)
    if s == 0:
        return 1.0 if length == 0 else 0.0
    seen_s, seen_l, x, overlap = set(), set(), 0, []
    for d in range(length):  # x = X_d, the overlap of the two prefixes of depth d + 1
        if d < s:
            x += (short[d] in seen_l) + (long_[d] in seen_s) + (short[d] == long_[d])
            seen_s.add(short[d])
        else:
            x += long_[d] in seen_s
        seen_l.add(long_[d])
        overlap.append(x)
    x_s, x_l = overlap[s - 1], overlap[-1]
    total = sum(overlap[d - 1] / d * p**d for d in range(1, length + 1))
    total += sum(x_s * (d - s) / (s * d) * p**d for d in range(s + 1, length + 1))
    return float((1 - p) / p * total + ((x_l - x_s) / length + x_s / s) * p**length)


def rbo_rows(a_idx, b_idx, p: float = 0.9) -> np.ndarray:
    """``rbo`` of every row pair of two (n, k) neighbour lists, vectorised (equal lengths)."""
    a, b = np.atleast_2d(a_idx), np.atleast_2d(b_idx)
    k = a.shape[1]
    if k == 0:
        return np.ones(a.shape[0])
    match = (a[:, :, None] == b[:, None, :]).astype(np.int32)
    overlap = match.cumsum(axis=1).cumsum(axis=2)[:, np.arange(k), np.arange(k)]  # X_d, d = 1..k
    depth = np.arange(1, k + 1)
    weights = p**depth
    return (1 - p) / p * (overlap / depth * weights).sum(axis=1) + overlap[:, -1] / k * p**k


def overlap_matrix(knn_by_model: dict[str, np.ndarray], measure: str = "jaccard") -> tuple[list[str], np.ndarray]:
    """Mean neighbour overlap for every pair of models: (model ids, symmetric matrix, diagonal 1)."""
    per_row = {"jaccard": jaccard_at_k, "rbo": rbo_rows}.get(measure)
    if per_row is None:
        raise ValueError(f"unknown measure {measure!r}: choose 'jaccard' or 'rbo'")
    models = list(knn_by_model)
    matrix = np.eye(len(models))
    for (i, a), (j, b) in combinations(enumerate(models), 2):
        matrix[i, j] = matrix[j, i] = float(per_row(knn_by_model[a], knn_by_model[b]).mean())
    return models, matrix


def disagreement(knn_by_model: dict[str, np.ndarray]) -> np.ndarray:
    """Per chunk: 1 − mean Jaccard of its neighbour lists over all model pairs (0 with one model)."""
    lists = list(knn_by_model.values())
    if len(lists) < 2:
        return np.zeros(len(lists[0]) if lists else 0)
    pairs = [jaccard_at_k(a, b) for a, b in combinations(lists, 2)]
    return 1 - np.mean(pairs, axis=0)


def most_disagreeing(knn_by_model: dict[str, np.ndarray], top: int = 20) -> list[int]:
    """The ``top`` chunks whose neighbours the models agree on least, lowest index first on ties."""
    scores = disagreement(knn_by_model)
    return [int(i) for i in np.argsort(-scores, kind="stable")[:top]]


# -- a comparison's neighbours, cached -----------------------------------------------------------
def comparison_knn(ws, comp, k: int = 10) -> dict[str, np.ndarray]:
    """model id → (n, k) exact neighbours of every chunk, cached in ``neighbours/knn_{k}.npz``."""
    stored = stored_knn(ws, comp, k)
    if stored is not None:
        return stored
    models = vector_models(comp)
    result = {m: knn(load_vectors(ws, comp, m), k) for m in models}
    save_npz(ws.comparison_dir(comp.id) / "neighbours" / f"knn_{k}.npz", models, [result[m] for m in models])
    return result


def knn_rows(vectors, rows, k: int = 10) -> np.ndarray:
    """(len(rows), k) neighbours of the chosen rows among all rows (each row itself excluded),
    as ``knn`` would list them: costs len(rows) / n of a whole-corpus ``knn``."""
    x = _normalised(vectors)
    rows = np.asarray(rows, dtype=np.int64)
    n = x.shape[0]
    k = max(min(k, n - 1), 0)
    out = np.empty((len(rows), k), dtype=np.int64)
    block = max(1, _BLOCK_BYTES // (4 * max(n, 1)))
    for start in range(0, len(rows) if k else 0, block):
        part = rows[start : start + block]
        sims = _similarities(x[part], x)
        sims[np.arange(len(part)), part] = -np.inf
        out[start : start + block] = _top_k(sims, k)
    return out


def stored_knn(ws, comp, k: int = 10) -> dict[str, np.ndarray] | None:
    """``comparison_knn``'s stored lists if they exist for the comparison's models, else None
    (nothing is computed: whole-corpus lists take minutes at 50k chunks)."""
    models = vector_models(comp)
    cached = load_npz(ws.comparison_dir(comp.id) / "neighbours" / f"knn_{k}.npz")
    if cached is not None and cached[0] == models and all(len(a) == comp_size(ws, comp) for a in cached[1]):
        return dict(zip(cached[0], cached[1], strict=True))
    return None


def reference_overlap(knn_by_model: dict[str, np.ndarray], reference: str) -> dict[str, np.ndarray]:
    """Per model other than ``reference``: each row's Jaccard@k with the reference's list."""
    ref = knn_by_model[reference]
    return {m: jaccard_at_k(ref, lists) for m, lists in knn_by_model.items() if m != reference}


def reference_disagreement(knn_by_model: dict[str, np.ndarray], reference: str) -> dict[str, np.ndarray]:
    """Per model: 1 − Jaccard@k of every row's neighbours with the reference model's; the
    reference itself gets the mean over the other models (0 when it is alone)."""
    out = {m: 1 - j for m, j in reference_overlap(knn_by_model, reference).items()}
    n = len(knn_by_model[reference])
    out[reference] = np.mean(list(out.values()), axis=0) if out else np.zeros(n)
    return out

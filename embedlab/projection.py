"""2-D maps of a comparison's chunk vectors, one per model, aligned so the same chunk sits in a
comparable place on every map.

PCA is the instant preview; UMAP is the map worth reading. UMAP compiles with numba on the first
fit of every process (15–70 s on 2 cores), so ``warm_up_umap`` pays that in a background thread
before anyone waits. Maps are cached per comparison in ``projections/{kind}_{seed}.npz``: a link
with the same seed reopens the same layout without recomputing.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import heap
from .npz import load_npz, save_npz
from .vectors import comp_size, load_vectors, reduce_sparse, vector_models  # noqa: F401 - callers read them here

# umap_layout gives UMAP exact neighbours without an NN-descent index, which only transform() needs.
warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)

log = logging.getLogger("embedlab.projection")
_cache_lock = threading.Lock()
_path_locks: dict[str, threading.Lock] = {}


@dataclass
class MapSet:
    coords: dict[str, np.ndarray]  # model id → (n, 2) float32, aligned onto ``reference``
    ids: np.ndarray  # chunk ordinals, row i of every map is chunk ids[i]
    reference: str
    disparity: dict[str, float]  # Procrustes residual after alignment: 0 same shape, 1 unrelated


# -- layouts ---------------------------------------------------------------------------------
def pca_preview(vectors, seed: int = 0) -> np.ndarray:
    """First two principal components, exact: from the d × d covariance, summed over blocks of rows in
    float64, so no centred n × d copy of the vectors is made (the vectors are the store's held matrix,
    shared with search). A component's sign makes its largest loading positive. ``seed`` is kept for
    callers; the result does not depend on it. 50k × 384, same process, load ~7 on 2 cores: 1.7–1.9 s and
    peak +50–62 MB RSS; sklearn's randomized PCA (before) 1.9–2.0 s and +118–135 MB, off by up to 11 % of
    the spread from the exact components."""
    x = np.asarray(vectors, dtype=np.float32)
    if len(x) < 3:
        return np.zeros((len(x), 2), np.float32)
    n, d = x.shape
    total, gram = np.zeros(d), np.zeros((d, d))
    for s in range(0, n, _PCA_BLOCK):
        block = x[s : s + _PCA_BLOCK].astype(np.float64)
        total += block.sum(0)
        gram += block.T @ block
    mean = total / n
    cov = gram / n - np.outer(mean, mean)
    _, vecs = np.linalg.eigh(cov)  # ascending eigenvalues
    comps = vecs[:, ::-1][:, :2]
    comps *= np.sign(comps[np.abs(comps).argmax(0), [0, 1]])
    return ((x @ comps.astype(np.float32)) - (mean @ comps).astype(np.float32)).astype(np.float32)


_PCA_BLOCK = 2048  # rows per float64 block: 6 MB at 384-d


def umap_layout(vectors, seed: int = 0, n_neighbors: int = 15, min_dist: float = 0.1,
                pca_dims: int = 50) -> np.ndarray:
    """UMAP to 2-D, reproducible for a fixed seed.

    PCA to ``pca_dims`` first: neighbour search costs time linear in the dimension and the
    dropped components are mostly noise, so a 384-d or 1536-d model maps several times faster.
    Metric is euclidean on purpose: for the unit vectors stored here euclidean order equals
    cosine order, and PCA (a projection) keeps euclidean distances approximately, while cosine
    after PCA's centring would measure angles around the data's mean instead of the origin.
    Neighbours are exact (``euclidean_knn``), handed to UMAP precomputed: that skips NN-descent,
    whose numba compile alone costs 30–80 s per process on 2 cores, and the answer is exact.
    ``init="pca"`` is deterministic and cheap at 50k points and keeps global structure as well
    as spectral init (Kobak & Linderman 2021) without its failures on disconnected graphs."""
    from .neighbours import euclidean_knn  # neighbours imports this module

    x = np.asarray(vectors, dtype=np.float32)
    n = len(x)
    if n < 5:
        return pca_preview(x, seed)
    if x.shape[1] > pca_dims and n > pca_dims:
        from sklearn.decomposition import PCA

        x = PCA(pca_dims, svd_solver="randomized", random_state=seed).fit_transform(x).astype(np.float32)
    k = min(n_neighbors, n - 1)
    idx, dist = euclidean_knn(x, k)
    y = _umap(x, seed, k, min_dist, (idx, dist))
    _warm["ready"] = True  # numba is compiled now, whoever did it
    return y


def _umap(x, seed, n_neighbors, min_dist, knn):
    import umap  # imported here: it takes seconds and the app may never draw a UMAP map

    # n_jobs=1: a random_state forces a single thread anyway; saying so silences the warning.
    reducer = umap.UMAP(n_neighbors=n_neighbors, min_dist=min_dist, metric="euclidean", init="pca",
                        random_state=seed, n_jobs=1, precomputed_knn=(*knn, None))
    return reducer.fit_transform(x).astype(np.float32)


def align(layouts: dict[str, np.ndarray], reference: str) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Each layout rotated/reflected, scaled and shifted onto ``reference`` (orthogonal
    Procrustes), with its disparity: the residual share of the reference's spread, the same
    number ``scipy.spatial.procrustes`` reports (0 identical shapes up to similarity, 1 nothing
    in common). Maps are only comparable after this: UMAP's orientation is arbitrary."""
    from scipy.linalg import orthogonal_procrustes

    ref = np.asarray(layouts[reference], dtype=np.float64)
    ref_mean = ref.mean(0)
    ref_c = ref - ref_mean
    out, disparity = {}, {}
    for mid, layout in layouts.items():
        x = np.asarray(layout, dtype=np.float64)
        xc = x - x.mean(0)
        norm2 = float((xc**2).sum())
        if norm2 == 0 or not (ref_c**2).sum():  # a map collapsed to one point has no shape to align
            out[mid], disparity[mid] = np.tile(ref_mean, (len(x), 1)).astype(np.float32), 1.0
            continue
        rot, s = orthogonal_procrustes(xc, ref_c)
        fitted = xc @ rot * (s / norm2)  # s / |X|² is the least-squares scale
        out[mid] = (fitted + ref_mean).astype(np.float32)
        disparity[mid] = float(((fitted - ref_c) ** 2).sum() / (ref_c**2).sum())
    return out, disparity


# -- cached, aligned maps of a comparison -----------------------------------------------------
def aligned_maps(ws, comp, kind: str = "umap", sample: int | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    """model id → (n, 2) aligned map of the comparison's chunks (see ``map_set``)."""
    return map_set(ws, comp, kind, sample, seed).coords


def map_set(ws, comp, kind: str = "umap", sample: int | None = None, seed: int = 0) -> MapSet:
    """Every vector model's map, aligned onto the first model's, read from the comparison's
    cache when it was made for the same models, chunks and seed, else computed and cached.

    ``sample`` maps a seeded random subset of that many chunks (all chunks when None)."""
    if kind not in ("umap", "pca"):
        raise ValueError(f"unknown map kind {kind!r}: choose 'umap' or 'pca'")
    models = vector_models(comp)
    if not models:
        raise ValueError("no model of this comparison has stored vectors yet: run it first")
    ids = sample_ids(comp_size(ws, comp), sample, seed)
    path = ws.comparison_dir(comp.id) / "projections" / f"{kind}_{seed}{f'_s{sample}' if sample else ''}.npz"
    with _lock_for(path):  # two sessions asking at once compute once
        cached = _read_maps(path, models, ids)
        if cached is not None:
            return cached
        layout = umap_layout if kind == "umap" else pca_preview
        maps = {m: layout(load_vectors(ws, comp, m, ids, for_projection=True, seed=seed), seed) for m in models}
        coords, disparity = align(maps, models[0])
        result = MapSet(coords, ids, models[0], disparity)
        _write_maps(path, result)
        heap.trim()  # PCA / UMAP / SVD working copies of every model's vectors are freed now
        return result


def sample_ids(n: int, sample: int | None, seed: int = 0) -> np.ndarray:
    """Sorted chunk ordinals: all of them, or a seeded subset of ``sample`` (same seed, same subset)."""
    if not sample or sample >= n:
        return np.arange(n, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).choice(n, size=sample, replace=False)).astype(np.int64)


def _lock_for(path: Path) -> threading.Lock:
    with _cache_lock:
        return _path_locks.setdefault(str(path), threading.Lock())


def _write_maps(path: Path, maps: MapSet) -> None:
    models = list(maps.coords)
    save_npz(path, models, [maps.coords[m] for m in models], ids=maps.ids,
             disparity=np.array([maps.disparity[m] for m in models]), reference=np.array(maps.reference))


def _read_maps(path: Path, models: list[str], ids: np.ndarray) -> MapSet | None:
    got = load_npz(path)
    if got is None or got[0] != models or not np.array_equal(got[2].get("ids"), ids):
        return None
    names, arrays, extra = got
    return MapSet(dict(zip(names, arrays, strict=True)), ids, str(extra["reference"]),
                  dict(zip(names, map(float, extra["disparity"]), strict=True)))


# -- numba warm-up ---------------------------------------------------------------------------
_warm: dict = {"started": False, "ready": False, "error": None, "seconds": None}
_warm_lock = threading.Lock()


def warm_up_umap() -> None:
    """Compile UMAP's numba code in a daemon thread, once per process (later calls do nothing)."""
    with _warm_lock:
        if _warm["started"]:
            return
        _warm["started"] = True
    # Import here, in the caller's thread; only the compile runs in the background. Importing umap
    # (sklearn, scipy, narwhals, …) in a thread while the caller imports streamlit (plotly →
    # narwhals) made the launcher die of an importlib _DeadlockError in 2 of 30 starts.
    _import_umap()
    log.info("UMAP warm-up started (numba compiles in the background)")
    threading.Thread(target=_warm_up, name="umap-warm-up", daemon=True).start()


def _import_umap() -> None:
    try:
        import sklearn.decomposition  # noqa: F401 - umap_layout's PCA
        import umap  # noqa: F401

        from . import neighbours  # noqa: F401
    except Exception as e:  # a broken install: _warm_up reports it on the page, PCA still works
        log.warning("UMAP import failed: %s: %s", type(e).__name__, e)


def _warm_up() -> None:
    t = time.perf_counter()
    try:
        # The same code path and dtypes as a real map (precomputed neighbours, float32), so numba
        # compiles the very specialisations every later map uses, whatever its size.
        umap_layout(np.random.default_rng(0).normal(size=(64, 8)).astype(np.float32))
    except Exception as e:  # a broken numba/llvmlite install: say so on the page, keep PCA
        _warm["error"] = f"{type(e).__name__}: {e}"
    _warm["seconds"] = round(time.perf_counter() - t, 1)
    log.info("UMAP warm-up %s in %.1f s", "failed" if _warm["error"] else "done", _warm["seconds"])


def umap_ready() -> bool:
    return bool(_warm["ready"])


def umap_status() -> str:
    if _warm["error"] and not _warm["ready"]:
        return f"UMAP unavailable ({_warm['error']}); showing PCA"
    if _warm["ready"]:
        return "ready"
    if _warm["started"]:
        return "compiling UMAP (numba) in the background…"
    return "UMAP not compiled yet (first map takes 15–70 s longer)"


def cluster_labels(x, k: int = 8, seed: int = 0) -> np.ndarray:
    """KMeans cluster per row (coordinates or vectors), seeded so colours repeat across reruns."""
    from sklearn.cluster import KMeans

    n = x.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    return KMeans(n_clusters=max(1, min(k, n)), n_init=4, random_state=seed).fit_predict(x).astype(np.int64)

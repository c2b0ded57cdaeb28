"""Maps of a real comparison (scifact-mini × MiniLM, BM25, model2vec in Milvus Lite)."""

import threading
import time

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.spatial import procrustes

from embedlab import projection
from embedlab.projection import align, aligned_maps, load_vectors, map_set, pca_preview, umap_layout

MODELS = ["minilm", "bm25", "model2vec", "hybrid:minilm+bm25"]
_built: dict = {}


def build_comparison(ws, loaded):
    """One comparison per session, shared with test_neighbours (MiniLM embeds in ~30–50 s)."""
    if "comp" not in _built:
        from embedlab import comparison
        from embedlab.chunking import Chunking

        ds = ws.add_dataset(loaded.documents, Chunking(256, 32), loaded.eval_set)
        comp = comparison.create(ws, ds, MODELS)
        t = time.perf_counter()
        comparison.run(ws, comp, evaluate=False)
        print(f"\ncomparison of {len(ds.chunks)} chunks embedded in {time.perf_counter() - t:.1f} s")
        _built["comp"] = comp
    return _built["comp"]


# umap_layout hands UMAP exact neighbours and no NN-descent index; the app silences this too.
pytestmark = pytest.mark.filterwarnings("ignore:precomputed_knn")


@pytest.fixture(scope="module")
def comp(workspace, sample_docs):
    return build_comparison(workspace, sample_docs)


def test_align_recovers_rotation_reflection_scale_and_shift():
    rng = np.random.default_rng(1)
    ref = rng.normal(size=(200, 2))
    theta = 0.83
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    moved = (ref @ rot) * np.array([[1, -1]]) * 3.7 + np.array([5.0, -2.0])  # reflected too
    out, disparity = align({"ref": ref, "moved": moved}, "ref")
    np.testing.assert_allclose(out["moved"], ref, atol=1e-5)
    np.testing.assert_allclose(out["ref"], ref, atol=1e-5)
    assert disparity["moved"] == pytest.approx(0, abs=1e-10)


def test_align_disparity_is_scipys():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(100, 2)), rng.normal(size=(100, 2))
    _, disparity = align({"a": a, "b": b}, "a")
    assert disparity["b"] == pytest.approx(procrustes(a, b)[2])
    assert 0 < disparity["b"] <= 1


def test_pca_preview_of_50k_by_384():
    x = np.random.default_rng(0).normal(size=(50_000, 384)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    t = time.perf_counter()
    y = pca_preview(x)
    print(f"\nPCA preview of 50k × 384: {time.perf_counter() - t:.2f} s")  # reported, not asserted
    assert y.shape == (50_000, 2) and y.dtype == np.float32
    np.testing.assert_array_equal(y, pca_preview(x))


def test_reduce_sparse_gives_unit_dense_rows():
    m = sp.random(120, 3000, density=0.02, format="csr", random_state=0, dtype=np.float32)
    m = sp.csr_matrix((m.data, m.indices * 700_000, m.indptr), shape=(120, 3000 * 700_000))  # hashed-like ids
    y = projection.reduce_sparse(m)
    assert y.shape == (120, 50)
    nonzero = np.diff(m.indptr) > 0
    np.testing.assert_allclose(np.linalg.norm(y[nonzero], axis=1), 1, atol=1e-5)


def test_warm_up_compiles_once_in_the_background():
    assert projection.umap_status()
    t = time.perf_counter()
    projection.warm_up_umap()
    projection.warm_up_umap()  # idempotent: still one thread
    assert sum(th.name == "umap-warm-up" for th in threading.enumerate()) <= 1
    for th in threading.enumerate():
        if th.name == "umap-warm-up":
            th.join(timeout=400)
    assert projection.umap_ready(), projection.umap_status()
    assert projection.umap_status() == "ready"
    print(f"\nUMAP warm-up (numba compile): {time.perf_counter() - t:.1f} s "
          f"(thread says {projection._warm['seconds']} s)")


def test_load_vectors(workspace, comp):
    n = comp.results["minilm"]["chunks"]
    dense = load_vectors(workspace, comp, "minilm")
    assert dense.shape == (n, 384)
    np.testing.assert_allclose(np.linalg.norm(dense, axis=1), 1, atol=1e-4)
    assert load_vectors(workspace, comp, "minilm") is dense  # in-process cache
    some = load_vectors(workspace, comp, "minilm", ids=[5, 2, 9])
    np.testing.assert_array_equal(some, dense[[5, 2, 9]])
    assert sp.issparse(load_vectors(workspace, comp, "bm25"))
    assert load_vectors(workspace, comp, "bm25", for_projection=True).shape == (n, 50)
    with pytest.raises(ValueError, match="no stored vectors"):
        load_vectors(workspace, comp, "hybrid:minilm+bm25")


def test_umap_maps_are_aligned_cached_and_reused(workspace, comp, monkeypatch):
    n = comp.results["minilm"]["chunks"]
    t = time.perf_counter()
    maps = map_set(workspace, comp, "umap")
    print(f"\nUMAP maps of {n} chunks × 3 models (PCA 50, align): {time.perf_counter() - t:.1f} s")
    assert list(maps.coords) == ["minilm", "bm25", "model2vec"]  # the hybrid has no vectors
    for coords in maps.coords.values():
        assert coords.shape == (n, 2) and np.isfinite(coords).all()
    assert maps.reference == "minilm" and maps.disparity["minilm"] == pytest.approx(0, abs=1e-9)
    assert all(0 <= d <= 1 for d in maps.disparity.values())
    path = workspace.comparison_dir(comp.id) / "projections" / "umap_0.npz"
    mtime = path.stat().st_mtime_ns

    def no_recompute(*a, **k):
        raise AssertionError("the cached map should have been used")

    monkeypatch.setattr(projection, "umap_layout", no_recompute)
    t = time.perf_counter()
    again = aligned_maps(workspace, comp, "umap")
    print(f"cached maps reopened in {1000 * (time.perf_counter() - t):.1f} ms")
    assert path.stat().st_mtime_ns == mtime
    for mid, coords in maps.coords.items():
        np.testing.assert_array_equal(again[mid], coords)


def test_umap_fixed_seed_reproduces_layout(workspace, comp):
    x = load_vectors(workspace, comp, "minilm")[:300]
    t = time.perf_counter()
    first = umap_layout(x, seed=3)
    print(f"\nUMAP of 300 × 384 (warm): {time.perf_counter() - t:.1f} s")
    np.testing.assert_array_equal(first, umap_layout(x, seed=3))


def test_pca_maps_on_a_sample(workspace, comp):
    maps = map_set(workspace, comp, "pca", sample=100, seed=7)
    assert maps.ids.shape == (100,) and np.all(np.diff(maps.ids) > 0)
    assert all(c.shape == (100, 2) for c in maps.coords.values())
    assert (workspace.comparison_dir(comp.id) / "projections" / "pca_7_s100.npz").exists()
    minilm = load_vectors(workspace, comp, "minilm", ids=maps.ids)
    raw = pca_preview(minilm, seed=7)
    assert np.allclose(maps.coords["minilm"], raw, atol=1e-5)  # the reference is left as it was
    with pytest.raises(ValueError, match="umap"):
        map_set(workspace, comp, "tsne")


def test_cluster_labels_are_seeded(workspace, comp):
    coords = aligned_maps(workspace, comp, "umap")["minilm"]
    labels = projection.cluster_labels(coords, k=6)
    assert labels.shape == (len(coords),) and set(labels) == set(range(6))
    np.testing.assert_array_equal(labels, projection.cluster_labels(coords, k=6))

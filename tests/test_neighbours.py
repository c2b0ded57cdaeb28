"""Exact neighbours and agreement measures, by hand and on a real comparison."""

import time

import numpy as np
import pytest
import scipy.sparse as sp
from test_projection import build_comparison

from embedlab import neighbours
from embedlab.neighbours import (
    comparison_knn,
    disagreement,
    jaccard_at_k,
    knn,
    knn_of,
    knn_of_query,
    most_disagreeing,
    overlap_matrix,
    rbo,
    rbo_rows,
)
from embedlab.probes import trustworthiness
from embedlab.projection import aligned_maps, load_vectors, pca_preview

# umap_layout hands UMAP exact neighbours and no NN-descent index; the app silences this too.
pytestmark = pytest.mark.filterwarnings("ignore:precomputed_knn")


@pytest.fixture(scope="module")
def comp(workspace, sample_docs):
    return build_comparison(workspace, sample_docs)


def brute_force(x, k):
    """Reference: full float64 similarity matrix, stable sort (ties to the lower index)."""
    x = np.asarray(x, dtype=np.float64)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-300)
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    return np.argsort(-sims, axis=1, kind="stable")[:, :k], sims


def assert_same_neighbours(got, x, k):
    want, sims = brute_force(x, k)
    rows = np.arange(len(got))[:, None]
    # Exact up to float32 rounding: the similarities at each rank match the reference's.
    np.testing.assert_allclose(sims[rows, got], sims[rows, want], atol=1e-5)
    assert (got == want).mean() > 0.99


def test_knn_dense_is_exact_across_blocks(monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(700, 32)).astype(np.float32)
    x[10] = x[3]  # an exact duplicate: a tie that must go to the lower index
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    monkeypatch.setattr(neighbours, "_BLOCK_BYTES", 4 * 700 * 64)  # 64 rows a block: 11 blocks
    got = knn(x, k=10)
    assert got.shape == (700, 10)
    assert got[3, 0] == 10 and got[10, 0] == 3
    assert not (got == np.arange(700)[:, None]).any()
    assert_same_neighbours(got, x, 10)
    np.testing.assert_array_equal(got[:, :5], knn(x, k=5))


def test_knn_sparse_equals_dense():
    m = sp.random(300, 2000, density=0.01, format="csr", random_state=1, dtype=np.float32)
    got = knn(m, k=7)
    assert_same_neighbours(got, m.toarray(), 7)


def test_euclidean_knn_includes_self_at_distance_zero():
    x = np.random.default_rng(7).normal(size=(150, 5)).astype(np.float32) * 10
    idx, dist = neighbours.euclidean_knn(x, 6)
    d = np.linalg.norm(x[:, None, :].astype(np.float64) - x[None, :, :], axis=2)
    np.testing.assert_array_equal(idx[:, 0], np.arange(150))
    np.testing.assert_allclose(dist, np.take_along_axis(d, idx, axis=1), atol=1e-3)
    np.testing.assert_allclose(dist, np.sort(d, axis=1)[:, :6], atol=1e-3)


def test_knn_small_and_single_point():
    x = np.eye(3, dtype=np.float32)
    assert knn(x, k=10).shape == (3, 2)  # k clipped to n − 1
    idx, sims = knn_of(x, 1, k=1)
    assert sims.shape == (1,) and idx[0] != 1


def test_knn_of_and_query_agree_with_knn():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    full = knn(x, k=5)
    idx, sims = knn_of(x, 42, k=5)
    np.testing.assert_array_equal(idx, full[42])
    assert np.all(np.diff(sims) <= 0)
    q_idx, q_sims = knn_of_query(x[42] * 3, x, k=6)  # an unnormalised query is normalised
    assert q_idx[0] == 42 and q_sims[0] == pytest.approx(1, abs=1e-5)
    np.testing.assert_array_equal(q_idx[1:], full[42])


def test_jaccard_by_hand():
    a = np.array([[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]])
    b = np.array([[4, 3, 2, 1], [1, 2, 5, 6], [5, 6, 7, 8]])
    np.testing.assert_allclose(jaccard_at_k(a, b), [1.0, 2 / 6, 0.0])


def test_rbo_by_hand():
    p = 0.9
    assert rbo([1, 2, 3], [1, 2, 3], p) == pytest.approx(1)
    assert rbo(list(range(50)), list(range(50)), 0.98) == pytest.approx(1)
    assert rbo([1, 2, 3], [4, 5, 6], p) == 0
    # X = (1, 1, 3): (1-p)/p (0.9 + 0.81/2 + 0.729) + 0.729 = 0.955
    assert rbo([1, 2, 3], [1, 3, 2], p) == pytest.approx(0.955)
    # Uneven (s=2, l=3), X = (1, 1, 1): (1-p)/p (1.548 + 0.729/6) + (0 + 1/2) 0.729 = 0.55
    assert rbo([1, 2, 3], [1, 4], p) == pytest.approx(0.55)
    assert rbo([1, 4], [1, 2, 3], p) == pytest.approx(0.55)
    # Top-weighted: disagreeing at the top costs more than at the bottom.
    assert rbo([1, 2, 3, 4], [2, 1, 3, 4]) < rbo([1, 2, 3, 4], [1, 2, 4, 3])
    with pytest.raises(ValueError):
        rbo([1], [1], p=1)


def test_rbo_rows_matches_rbo():
    rng = np.random.default_rng(4)
    a = np.array([rng.permutation(30)[:10] for _ in range(50)])
    b = np.array([rng.permutation(30)[:10] for _ in range(50)])
    want = [rbo(list(x), list(y), 0.8) for x, y in zip(a, b, strict=True)]
    np.testing.assert_allclose(rbo_rows(a, b, 0.8), want)


def test_disagreement_by_hand():
    by_model = {"a": np.array([[1, 2], [3, 4], [5, 6]]),
                "b": np.array([[1, 2], [3, 9], [7, 8]]),
                "c": np.array([[2, 1], [3, 4], [7, 8]])}
    # Row 1: J(a,b)=1/3, J(a,c)=1, J(b,c)=1/3. Row 2: 0, 0, 1.
    np.testing.assert_allclose(disagreement(by_model), [0, 1 - 5 / 9, 1 - 1 / 3])
    assert most_disagreeing(by_model, top=2) == [2, 1]
    assert disagreement({"a": by_model["a"]}).tolist() == [0, 0, 0]


def test_comparison_neighbours(workspace, comp):
    t = time.perf_counter()
    by_model = comparison_knn(workspace, comp, k=10)
    print(f"\nexact 10-NN of {comp.results['minilm']['chunks']} chunks × 3 models: {time.perf_counter() - t:.2f} s")
    assert list(by_model) == ["minilm", "bm25", "model2vec"]
    n = comp.results["minilm"]["chunks"]
    assert all(v.shape == (n, 10) for v in by_model.values())
    assert_same_neighbours(by_model["minilm"], load_vectors(workspace, comp, "minilm"), 10)
    path = workspace.comparison_dir(comp.id) / "neighbours" / "knn_10.npz"
    mtime = path.stat().st_mtime_ns
    again = comparison_knn(workspace, comp, k=10)
    assert path.stat().st_mtime_ns == mtime
    np.testing.assert_array_equal(again["bm25"], by_model["bm25"])
    for measure in ("jaccard", "rbo"):
        models, matrix = overlap_matrix(by_model, measure)
        assert models == ["minilm", "bm25", "model2vec"]
        np.testing.assert_allclose(np.diag(matrix), 1)
        np.testing.assert_allclose(matrix, matrix.T)
        assert ((matrix >= 0) & (matrix <= 1)).all()
        print(measure, np.round(matrix, 3).tolist())
    top = most_disagreeing(by_model, top=20)
    assert len(top) == 20 and len(set(top)) == 20


def test_projection_trust(workspace, comp):
    # one trustworthiness for the Map page's question and the consistency probe's; cosine in the original space
    def projection_trust(vectors, coords):
        return trustworthiness(vectors, coords, metric="cosine")

    angles = np.random.default_rng(5).uniform(0, 2 * np.pi, 300)
    pts = np.c_[np.cos(angles), np.sin(angles)]  # on the unit circle cosine order is euclidean order
    assert projection_trust(pts, pts) == pytest.approx(1)
    assert projection_trust(pts, np.random.default_rng(6).normal(size=(300, 2))) < 0.6
    x = load_vectors(workspace, comp, "minilm")
    umap_t = projection_trust(x, aligned_maps(workspace, comp, "umap")["minilm"])
    pca_t = projection_trust(x, pca_preview(x))
    print(f"\ntrustworthiness (minilm, k=10): UMAP {umap_t:.3f}, PCA {pca_t:.3f}")
    assert 0.5 < pca_t <= 1 and 0.5 < umap_t <= 1
    bm25 = load_vectors(workspace, comp, "bm25")
    assert 0 < projection_trust(bm25, aligned_maps(workspace, comp, "umap")["bm25"]) <= 1

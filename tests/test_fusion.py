"""Our cross-collection fusion must rank exactly as Milvus' own hybrid_search does."""

import numpy as np
import pytest
import scipy.sparse as sp

from embedlab.fusion import parse_hybrid, rrf, weighted


def test_rrf_by_hand():
    a = [(1, 0.9), (2, 0.8)]
    b = [(2, 5.0), (3, 4.0)]
    got = dict(rrf([a, b], k=60, limit=10))
    assert got[2] == pytest.approx(1 / 62 + 1 / 61)
    assert got[1] == pytest.approx(1 / 61)
    assert got[3] == pytest.approx(1 / 62)


def test_weighted_by_hand():
    import math

    got = dict(weighted([[(1, 0.9), (2, 0.5)], [(2, 10.0), (3, 0.0)]], [0.7, 0.3], limit=10))
    squash = lambda s: 0.5 + math.atan(s) / math.pi  # noqa: E731
    assert got == pytest.approx({1: 0.7 * squash(0.9), 2: 0.7 * squash(0.5) + 0.3 * squash(10.0),
                                 3: 0.3 * squash(0.0)})


def test_parse_hybrid():
    assert parse_hybrid("hybrid:minilm+bm25").method == "rrf"
    assert parse_hybrid("hybrid:minilm+bm25@0.7").weights == pytest.approx([0.7, 0.3])
    with pytest.raises(ValueError):
        parse_hybrid("hybrid:minilm")
    with pytest.raises(ValueError):
        parse_hybrid("hybrid:a+b@2")


@pytest.fixture(scope="module")
def two_field_collection(workspace):
    """A collection with both fields, so Milvus can fuse natively; and the same data searched
    field by field, as EmbedLab does across collections."""
    from pymilvus import DataType, MilvusClient

    rng = np.random.default_rng(0)
    n, dim = 300, 16
    dense = rng.normal(size=(n, dim)).astype(np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    sparse = sp.random(n, 200, density=0.05, random_state=1, format="csr", dtype=np.float32)
    sparse.data = np.abs(sparse.data) + 0.01
    sparse = sparse + sp.csr_matrix((np.ones(n, np.float32), (np.arange(n), np.full(n, 199))), shape=(n, 200))
    client = workspace.store.client
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("d", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("s", DataType.SPARSE_FLOAT_VECTOR)
    idx = client.prepare_index_params()
    idx.add_index("d", index_type="FLAT", metric_type="IP")
    idx.add_index("s", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    client.create_collection("t_fusion", schema=schema, index_params=idx)
    rows = [{"id": i, "d": dense[i].tolist(), "s": _row(sparse, i)} for i in range(n)]
    client.insert("t_fusion", rows)
    client.load_collection("t_fusion")
    q_dense = rng.normal(size=(5, dim)).astype(np.float32)
    q_sparse = [_row(sparse, i) for i in (3, 50, 99, 150, 299)]
    yield client, q_dense, q_sparse
    client.drop_collection("t_fusion")


def _row(m, i):
    s, e = m.indptr[i], m.indptr[i + 1]
    return {int(c): float(v) for c, v in zip(m.indices[s:e], m.data[s:e], strict=True)}


def _separate(client, q_dense, q_sparse, depth):
    d = client.search("t_fusion", data=q_dense.tolist(), anns_field="d", limit=depth,
                      search_params={"metric_type": "IP"})
    s = client.search("t_fusion", data=q_sparse, anns_field="s", limit=depth,
                      search_params={"metric_type": "IP"})
    return [[(h["id"], h["distance"]) for h in hits] for hits in d], \
           [[(h["id"], h["distance"]) for h in hits] for hits in s]


@pytest.mark.parametrize("method", ["rrf", "weighted"])
def test_python_fusion_matches_milvus_hybrid_search(two_field_collection, method):
    from pymilvus import AnnSearchRequest, RRFRanker, WeightedRanker

    client, q_dense, q_sparse = two_field_collection
    depth, limit = 20, 10
    reqs = [AnnSearchRequest(q_dense.tolist(), "d", {"metric_type": "IP"}, limit=depth),
            AnnSearchRequest(q_sparse, "s", {"metric_type": "IP"}, limit=depth)]
    ranker = RRFRanker(60) if method == "rrf" else WeightedRanker(0.6, 0.4)
    native = client.hybrid_search("t_fusion", reqs, ranker=ranker, limit=limit)
    dense_hits, sparse_hits = _separate(client, q_dense, q_sparse, depth)
    for qi, hits in enumerate(native):
        lists = [dense_hits[qi], sparse_hits[qi]]
        ours = rrf(lists, 60, limit) if method == "rrf" else weighted(lists, [0.6, 0.4], limit)
        assert [pk for pk, _ in ours] == [h["id"] for h in hits]
        assert [s for _, s in ours] == pytest.approx([h["distance"] for h in hits], abs=1e-5)

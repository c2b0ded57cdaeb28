"""Search over vectors held in process (the Milvus Lite path) answers as Milvus does."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from embedlab.store import SPARSE_SENTINEL, Store, sparse_rows_for_storage


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return Store(str(tmp_path_factory.mktemp("search") / "milvus.db"))


def both(store, name, queries, k, sparse):
    store.in_process = False
    milvus = store.search(name, queries, k, sparse)
    store.in_process = True
    ours = store.search(name, queries, k, sparse)
    return milvus, ours


def ids(hits):
    return [[h.id for h in row] for row in hits]


def test_dense_matches_milvus(store):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3000, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    store.ensure("dense", 32, False)
    store.upsert("dense", range(3000), x)
    store.flush("dense")
    q = x[:25] + rng.normal(0, 0.05, (25, 32)).astype(np.float32)
    milvus, ours = both(store, "dense", q, 10, False)
    assert ids(ours) == ids(milvus)
    for a, b in zip(milvus, ours, strict=True):
        np.testing.assert_allclose([h.score for h in a], [h.score for h in b], atol=1e-5)


def test_sparse_returns_only_documents_sharing_a_term(store):
    m = sp.random(2000, 400, density=0.02, format="csr", random_state=1, dtype=np.float32)
    m = sp.vstack([m, sp.csr_matrix((1, 400), dtype=np.float32)]).tocsr()  # an empty document: sentinel
    store.ensure("sparse", None, True)
    store.upsert("sparse", range(m.shape[0]), sparse_rows_for_storage(m))
    store.flush("sparse")
    rare = int(np.argmin(np.diff(m.tocsc().indptr) + (np.diff(m.tocsc().indptr) == 0) * 10**6))
    q = sp.vstack([sp.random(6, 400, density=0.02, format="csr", random_state=2, dtype=np.float32),
                   sp.csr_matrix(([1.0], ([0], [rare])), shape=(1, 400), dtype=np.float32),
                   sp.csr_matrix((1, 400), dtype=np.float32)]).tocsr()  # last: no terms at all
    milvus, ours = both(store, "sparse", q, 50, True)
    assert ids(ours) == ids(milvus)
    assert 0 < len(ours[6]) == len(m[:, rare].nonzero()[0]) < 50  # only the rare term's documents
    assert ours[7] == []
    assert m.shape[0] - 1 not in {h.id for row in ours for h in row}  # the empty document never matches


def test_ties_go_to_the_smaller_id(store):
    rng = np.random.default_rng(3)
    x = np.tile(np.eye(1, 8, dtype=np.float32), (5000, 1))  # identical vectors...
    x[rng.choice(5000, 3, replace=False)] = np.eye(1, 8, 1, dtype=np.float32) * 0.5 + x[0]  # ...but three better
    store.ensure("ties", 8, False)
    store.upsert("ties", range(5000), x)
    hits = store.search("ties", x[:1] + np.eye(1, 8, 1, dtype=np.float32), 6, False)[0]
    better = sorted(np.flatnonzero(x[:, 1] > 0).tolist())
    rest = [i for i in range(5000) if i not in better][:3]
    assert [h.id for h in hits] == better + rest


def test_writes_invalidate_and_hold_keeps_what_was_written(store):
    x = np.eye(6, 6, dtype=np.float32)
    store.ensure("fresh", 6, False)
    store.upsert("fresh", range(5), x[:5])
    assert [h.id for h in store.search("fresh", x[5:6] + x[4:5], 1, False)[0]] == [4]
    store.upsert("fresh", [5], x[5:6] * 2)  # a write after the first search is seen by the next
    assert store.search("fresh", x[5:6], 1, False)[0][0].id == 5
    held = store.resident("fresh", False)
    assert held.matrix.shape == (6, 6) and list(held.ids) == list(range(6))
    assert store.vectors("fresh", list(range(6)), False) is held.matrix  # one copy for maps and search
    np.testing.assert_array_equal(store.vectors("fresh", [5, 1], False), np.stack([x[5] * 2, x[1]]))

    store.upsert("fresh", range(6), x[::-1].copy())
    store.hold("fresh", [5, 4, 3, 2, 1, 0], x)  # what comparison.run does after writing a model
    assert store.resident("fresh", False).matrix[0, 5] == 1  # id 0 holds x[5] (row order by id)
    store.in_process = False
    assert store.search("fresh", x[:1], 1, False)[0][0].id == 5  # Milvus agrees
    store.in_process = True
    assert store.search("fresh", x[:1], 1, False)[0][0].id == 5


def test_a_read_that_overlaps_a_write_is_not_kept(store, monkeypatch):
    store.ensure("race", 4, False)
    store.upsert("race", range(3), np.eye(3, 4, dtype=np.float32))
    real = Store._read_all

    def read_then_write(self, name, sparse):
        held = real(self, name, sparse)
        self.upsert(name, [3], np.eye(1, 4, 3, dtype=np.float32))  # lands while the reader holds 3 rows
        return held

    monkeypatch.setattr(Store, "_read_all", read_then_write)
    assert len(store.resident("race", False).ids) == 3
    monkeypatch.undo()
    assert store.search("race", np.eye(1, 4, 3, dtype=np.float32), 1, False)[0][0].id == 3


def test_lite_unimplemented_rpcs_leave_no_traceback_in_the_log(tmp_path, caplog):
    """The app's server log is checked for tracebacks; Lite's unimplemented RPCs are not errors."""
    import logging

    caplog.set_level(logging.ERROR)
    fresh = Store(str(tmp_path / "milvus.db"))
    fresh.ensure("x", 4, False)  # pymilvus asks Lite for AllocTimestamp here: unimplemented
    fresh.upsert("x", range(2), np.eye(2, 4, dtype=np.float32))
    assert not [r for r in caplog.records if r.name == "grpc._server"]
    try:
        raise RuntimeError("a real server error")
    except RuntimeError:
        logging.getLogger("grpc._server").exception("Exception calling application")
    assert [r.name for r in caplog.records] == ["grpc._server"]  # other errors still reach the log


def test_sparse_rows_come_back_as_written(store):
    """A non-canonical csr (unsorted, duplicate indices), zero, negative and NaN weights, and a
    row with nothing positive: stored are the positive entries of each summed row; the row with
    none gets the sentinel (Milvus rejects an all-zero vector) and never matches a query."""
    data = np.array([0.5, 0.25, 0.25, -1.0, 0.5, -0.25, 0.0, 2.0, np.nan, 3.5, 0.0, -2.0], np.float32)
    indices = np.array([7, 3, 7, 900, 8, 8, 5, 2, 4, 1, 6, 9])
    indptr = np.array([0, 6, 9, 10, 12])  # row 0: 7 twice, 8 as 0.5 - 0.25; row 3: a zero and a negative
    m = sp.csr_matrix((data, indices, indptr), shape=(4, 1000))
    assert not m.has_canonical_format
    before = (m.data.copy(), m.indices.copy())
    store.ensure("roundtrip", None, True)
    store.upsert("roundtrip", [10, 11, 12, 13], sparse_rows_for_storage(m))
    store.flush("roundtrip")
    store.settle("roundtrip")  # sparse rows reach Lite in the background (write_behind.py)
    rows = store.client.query("roundtrip", filter="id >= 0", output_fields=["id", "vec"])
    got = {int(r["id"]): r["vec"] for r in rows}
    assert {i: v for i, v in got.items() if i != 13} == {10: {3: 0.25, 7: 0.75, 8: 0.25}, 11: {2: 2.0}, 12: {1: 3.5}}
    assert list(got[13]) == [SPARSE_SENTINEL]
    np.testing.assert_array_equal(m.data, before[0])  # the caller's matrix is left as it was
    np.testing.assert_array_equal(m.indices, before[1])
    q = sp.csr_matrix(([1.0, 1.0], ([0, 0], [6, 9])), shape=(1, 1000), dtype=np.float32)
    assert store.search("roundtrip", q, 5, True)[0] == []


def test_prefetch_reads_each_collection_once_while_a_search_waits_for_it(store, monkeypatch):
    """A page prefetches when it opens; a search during the read waits for it instead of reading
    again, and a search after it reads nothing."""
    import threading

    rng = np.random.default_rng(5)
    x = rng.standard_normal((500, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    m = sp.random(500, 300, density=0.05, format="csr", random_state=6, dtype=np.float32)
    store.ensure("pf_dense", 16, False)
    store.upsert("pf_dense", range(500), x)  # upsert alone holds nothing: as in a restarted process
    store.ensure("pf_sparse", None, True)
    store.upsert("pf_sparse", range(500), sparse_rows_for_storage(m))
    assert not store.is_resident("pf_dense") and not store.is_resident("pf_sparse")

    real, reads, started, release = Store._read_all, [], threading.Event(), threading.Event()

    def slow_read(self, name, sparse):
        reads.append(name)
        started.set()
        release.wait(30)  # the read is under way while the user's search arrives
        return real(self, name, sparse)

    monkeypatch.setattr(Store, "_read_all", slow_read)
    thread = store.prefetch([("pf_dense", False), ("pf_sparse", True)])
    assert thread is not None and started.wait(30)
    found = []
    searcher = threading.Thread(target=lambda: found.append(store.search("pf_dense", x[7:8], 1, False)))
    searcher.start()
    searcher.join(0.5)
    assert searcher.is_alive()  # waiting for the prefetch's read, not reading itself
    release.set()
    thread.join(60)
    searcher.join(60)
    assert found[0][0][0].id == 7
    assert reads == ["pf_dense", "pf_sparse"]  # one read per collection, the search's included
    assert store.is_resident("pf_dense") and store.is_resident("pf_sparse")
    assert store.prefetch([("pf_dense", False), ("pf_sparse", True)]) is None  # held: nothing to do
    assert len(store.search("pf_sparse", m[3], 5, True)[0]) == 5
    assert reads == ["pf_dense", "pf_sparse"]  # answered from memory


def test_a_collection_over_the_memory_budget_is_read_once_then_searched_by_milvus(store, monkeypatch):
    x = np.eye(40, 8, dtype=np.float32)
    store.ensure("big", 8, False)
    store.upsert("big", range(40), x)
    store.flush("big")
    reads, real = [], Store._read_all

    def counted(self, name, sparse):
        reads.append(name)
        return real(self, name, sparse)

    monkeypatch.setattr(Store, "_read_all", counted)
    monkeypatch.setattr(store, "resident_bytes", 100)  # 40 × 8 floats = 1,280 bytes: too big
    for _ in range(3):
        assert store.search("big", x[3:4], 1, False)[0][0].id == 3  # answered by Milvus
    assert reads == ["big"]  # not read again on every search
    monkeypatch.setattr(store, "resident_bytes", 10**9)
    store.upsert("big", [39], x[39:40])  # a write measures it again
    assert store.search("big", x[5:6], 1, False)[0][0].id == 5
    assert reads == ["big", "big"] and store.is_resident("big")

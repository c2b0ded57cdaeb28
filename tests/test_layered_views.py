"""A new dataset version's view stands on its parent's view: the parent's chunks are not copied,
and every reader (ids, vectors, search — in process and in Milvus, Lite and a server) sees exactly
what a view filled whole would hold. Real models, real Milvus Lite, a real `milvus_lite server`."""

import numpy as np
import pytest
from test_content_vectors import docs, run
from test_reliability import milvus_server  # noqa: F401 - its `python -m milvus_lite server` fixture

from embedlab import comparison, versions
from embedlab.embedders import get_embedder
from embedlab.resident import _resident
from embedlab.store import Store
from embedlab.workspace import Workspace

DENSE = ["model2vec", "glove-50d"]
QUERIES = ["protein dose in patient trial", "immune virus", "brain heart lung", "gene tumour risk blood"]


def own_rows(store, name) -> int:
    return int(store.client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"])


def grow(ws, comp, documents):
    new = versions.add_files(ws, comp, documents)
    comparison.run(ws, new)
    for m in new.model_ids:
        assert new.results[m]["status"] == "done", new.results[m]
    return new


def forget_held(store, *names):
    """What a new process starts with: nothing held (the .npz copies stay on disk)."""
    for name in names:
        store.let_go(name)


@pytest.fixture(scope="module")
def versions_of(workspace):
    """v1 (40 documents), v2 = v1 + 6, v3 = v2 + 4; and a flat comparison of v3's documents."""
    first = docs(40)
    ds1, comp1, _ = run(workspace, first, models=DENSE + ["bm25"])
    extra, more = docs(6, start=500), docs(4, start=900)
    comp2 = grow(workspace, comp1, extra)
    comp3 = grow(workspace, comp2, more)
    return comp1, comp2, comp3, first + extra + more


def test_a_new_version_stores_only_its_new_chunks(workspace, versions_of):
    comp1, comp2, comp3, _ = versions_of
    store = workspace.store
    for m in DENSE:
        n1, n2, n3 = (c.run(m).chunks for c in (comp1, comp2, comp3))
        v1, v2, v3 = (c.run(m).collection for c in (comp1, comp2, comp3))
        assert store.base_of(v1) is None
        assert store.base_of(v2) == (v1, n1) and store.base_of(v3) == (v2, n2)
        assert own_rows(store, v2) == n2 - n1 and own_rows(store, v3) == n3 - n2
        assert store.existing_ids(v3, n3) == set(range(n3))
        assert comp3.results[m]["embedded_now"] == n3 - n2 and comp3.results[m]["reused"] == n2
    # BM25 refits on a new corpus: a whole view of its own, no base
    assert store.base_of(comp2.run("bm25").collection) is None


def top_ids(matrix, q, k):
    """Exact top-k by inner product, ties to the smaller id (Milvus' order)."""
    scores = np.asarray(q) @ matrix.T
    return [sorted(range(len(row)), key=lambda i: (-row[i], i))[:k] for row in scores]


def model_vectors(ws, comp, m):
    """What a view filled whole would hold: the model's vector of every chunk's text."""
    return get_embedder(m).encode_documents(ws.load_dataset(comp.dataset_key).chunk_texts)


def test_every_reader_sees_what_a_whole_view_holds(workspace, versions_of):
    _, _, comp3, _ = versions_of
    store = workspace.store
    for m in DENSE:
        view, n = comp3.run(m).collection, comp3.run(m).chunks
        expected = model_vectors(workspace, comp3, m)
        assert expected.shape[0] == n
        # held in process, built from the base's copy and its own rows; then again as a new process would
        for _ in range(2):
            assert np.allclose(store.vectors(view, list(range(n)), False), expected, atol=1e-6)
            forget_held(store, *(c.run(m).collection for c in versions_of[:3]))
        some = [n - 1, 0, 41, 3, n - 5]
        assert np.allclose(store.vectors(view, some, False), expected[some], atol=1e-6)
        q = get_embedder(m).encode_queries(QUERIES)
        in_process = store.search(view, q, 7, False)
        assert [[h.id for h in hits] for hits in in_process] == top_ids(expected, q, 7)
        # Milvus' own search: the view's rows and its bases' rows below their cut, merged
        store.flush(view)
        store.in_process = False
        try:
            milvus = store.search(view, q, 7, False)
        finally:
            store.in_process = True
        assert [[h.id for h in hits] for hits in milvus] == [[h.id for h in hits] for hits in in_process]
        for a, b in zip(milvus, in_process, strict=True):
            assert np.allclose([h.score for h in a], [h.score for h in b], atol=1e-5)


def test_over_the_memory_budget_vectors_are_read_from_both_collections(workspace, versions_of, monkeypatch):
    _, _, comp3, _ = versions_of
    store, m = workspace.store, "model2vec"
    view, n = comp3.run(m).collection, comp3.run(m).chunks
    expected = store.vectors(view, list(range(n)), False).copy()
    forget_held(store, *(c.run(m).collection for c in versions_of[:3]))
    monkeypatch.setattr(Store, "resident_bytes", 0)
    from embedlab import resident

    monkeypatch.setattr(resident, "_too_big", set())
    some = [n - 1, 2, n - 3, 0, 44]
    assert np.array_equal(store.vectors(view, some, False), expected[some])
    assert not any(key[1].endswith(view) for key in _resident)


def test_a_rerun_and_a_reopened_link_embed_nothing(workspace, versions_of):
    _, comp2, _, _ = versions_of
    again = comparison.load(workspace, comp2.id)
    comparison.run(workspace, again)
    assert all(again.results[m]["embedded_now"] == 0 for m in DENSE)


def test_layered_views_on_a_milvus_server(tmp_path, milvus_server):  # noqa: F811 - the fixture
    ws = Workspace(tmp_path / "w")
    ws._store = Store(milvus_server)
    assert not ws.store.in_process
    first = docs(30, start=3000)
    _, comp1, _ = run(ws, first, models=["model2vec"])
    comp2 = grow(ws, comp1, docs(5, start=4000))
    view, n = comp2.run("model2vec").collection, comp2.run("model2vec").chunks
    assert ws.store.base_of(view) == (comp1.run("model2vec").collection, comp1.run("model2vec").chunks)
    assert own_rows(ws.store, view) == n - comp1.run("model2vec").chunks
    expected = model_vectors(ws, comp2, "model2vec")
    assert np.allclose(ws.store.vectors(view, list(range(n)), False), expected, atol=1e-6)
    q = get_embedder("model2vec").encode_queries(QUERIES)
    assert [[h.id for h in hits] for hits in ws.store.search(view, q, 5, False)] == top_ids(expected, q, 5)


def test_lite_lets_go_of_what_was_written_and_reopens_it_on_demand(workspace, versions_of):
    from embedlab import lite_memory

    _, _, comp3, _ = versions_of
    store, m = workspace.store, "model2vec"
    assert lite_memory.database(store.uri) is not None, "these Lite internals changed: Store.evict does nothing"
    store.evict(comp3.run(m).collection)  # earlier tests searched it in Milvus: Lite opened it
    comp4 = grow(workspace, comp3, docs(3, start=7000))  # counts the parent's rows: opened, then let go
    view, n = comp4.run(m).collection, comp4.run(m).chunks
    for name in (view, comp3.run(m).collection, comp4.results[m]["content_collection"]):
        assert name and not lite_memory.is_open(store.uri, name), (name, view, comp3.run(m).collection)
    assert store.row_count(view) == n and store.existing_ids(view, n) == set(range(n))
    q = get_embedder(m).encode_queries(QUERIES)
    expected = store.search(view, q, 5, False)
    store.in_process = False
    try:  # Lite reopens the collections from disk to answer
        assert [[h.id for h in hits] for hits in store.search(view, q, 5, False)] == \
            [[h.id for h in hits] for hits in expected]
    finally:
        store.in_process = True
    assert lite_memory.is_open(store.uri, view)
    store.evict(view)
    assert not lite_memory.is_open(store.uri, view)

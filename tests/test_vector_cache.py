"""The copy of each collection's vectors beside milvus.db: a restarted process searches without
reading every vector back from Milvus Lite, and the copy is never used once it is out of date."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import ROOT

from embedlab import resident as store_mod  # the vectors a store holds in process
from embedlab.store import Store, sparse_rows_for_storage

RNG = np.random.default_rng(11)
DENSE = RNG.standard_normal((400, 24)).astype(np.float32)
DENSE /= np.linalg.norm(DENSE, axis=1, keepdims=True)
SPARSE = sp.random(400, 500, density=0.03, format="csr", random_state=12, dtype=np.float32)


def write_and_hold(store: Store, dense: str, sparse: str) -> None:
    """What comparison.run does for a model embedded whole in this process."""
    store.ensure(dense, 24, False)
    store.upsert(dense, range(400), DENSE)
    store.flush(dense)
    store.hold(dense, range(400), DENSE)
    store.ensure(sparse, None, True)
    store.upsert(sparse, range(400), sparse_rows_for_storage(SPARSE))
    store.flush(sparse)
    store.hold(sparse, range(400), SPARSE)


def restart(store: Store, name: str) -> None:
    """Drop the copy held in memory, as a new process starts without it (the file stays)."""
    with store_mod._resident_lock:
        store_mod._resident.pop((store.uri, name), None)


_SECOND_PROCESS = textwrap.dedent("""
    import json, sys
    import numpy as np
    from embedlab.store import Store
    from test_vector_cache import DENSE, SPARSE

    store = Store(sys.argv[1])

    def no_read(self, name, sparse):
        raise AssertionError(f"read {name} back from Milvus Lite")

    real_read = Store._read_all
    Store._read_all = no_read
    ours = {n: store.search(n, q, 10, sp) for n, q, sp in (("d", DENSE[:20], False), ("s", SPARSE[:20], True))}
    Store._read_all = real_read
    store.in_process = False  # Milvus' own search over the same rows
    lite = {n: store.search(n, q, 10, sp) for n, q, sp in (("d", DENSE[:20], False), ("s", SPARSE[:20], True))}
    print(json.dumps({n: [[[h.id, h.score] for h in row] for row in ours[n]] for n in ours} | {
        "lite_" + n: [[[h.id, h.score] for h in row] for row in lite[n]] for n in lite}))
""")


def test_a_restarted_process_searches_from_the_copy(tmp_path):
    uri = str(tmp_path / "milvus.db")
    first = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        import sys
        from embedlab.store import Store
        from test_vector_cache import write_and_hold
        write_and_hold(Store(sys.argv[1]), "d", "s")
    """), uri], cwd=ROOT, env={"PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}", "HF_HUB_OFFLINE": "1"},
        capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "vectors").iterdir()) == ["d.npz", "s.npz"]

    second = subprocess.run([sys.executable, "-c", _SECOND_PROCESS, uri], cwd=ROOT, capture_output=True, text=True,
                            env={"PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}", "HF_HUB_OFFLINE": "1"}, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    import json

    got = json.loads(second.stdout.strip().splitlines()[-1])
    for n in ("d", "s"):
        assert [[i for i, _ in row] for row in got[n]] == [[i for i, _ in row] for row in got["lite_" + n]], n
        np.testing.assert_allclose([[s for _, s in row] for row in got[n]],
                                   [[s for _, s in row] for row in got["lite_" + n]], atol=1e-5)
    assert [row[0][0] for row in got["d"]] == list(range(20))  # unit vectors find themselves


@pytest.fixture()
def store(tmp_path):
    s = Store(str(tmp_path / "milvus.db"))
    yield s
    for name in ("cd", "cs"):
        restart(s, name)


def test_a_write_deletes_the_copy_before_it_lands(store, tmp_path):
    write_and_hold(store, "cd", "cs")
    path = tmp_path / "vectors" / "cd.npz"
    assert path.exists()
    changed = DENSE[::-1].copy()  # every vector replaced, the row count unchanged
    store.upsert("cd", range(400), changed)
    assert not path.exists()
    restart(store, "cd")
    np.testing.assert_array_equal(store.resident("cd", False).matrix, changed)  # read from Lite
    assert path.exists()  # and copied again, with the new vectors
    restart(store, "cd")
    np.testing.assert_array_equal(store.resident("cd", False).matrix, changed)
    store.drop("cd")
    assert not path.exists()


@pytest.mark.parametrize("damage", ["torn", "fewer rows", "dense for sparse"])
def test_a_damaged_or_stale_copy_is_read_from_milvus(store, tmp_path, damage):
    from embedlab.projection import save_npz

    write_and_hold(store, "cd", "cs")
    name, sparse = ("cs", True) if damage != "fewer rows" else ("cd", False)
    path = tmp_path / "vectors" / f"{name}.npz"
    if damage == "torn":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "fewer rows":  # a copy of an earlier state of the collection
        save_npz(path, ["dense"], [DENSE[:300]], ids=np.arange(300), shape=np.array([300, 24]))
    else:
        save_npz(path, ["dense"], [DENSE], ids=np.arange(400), shape=np.array([400, 24]))
    restart(store, name)
    held = store.resident(name, sparse)
    assert len(held.ids) == 400
    want = SPARSE if sparse else DENSE
    got = held.matrix.toarray() if sparse else held.matrix
    np.testing.assert_allclose(got, want.toarray() if sparse else want, atol=1e-6)
    assert store.search(name, want[:5], 1, sparse)[0][0].id in range(400)


def test_no_copy_for_a_milvus_server_or_when_turned_off(tmp_path, monkeypatch):
    s = Store.__new__(Store)
    s.uri = "http://milvus.example:19530"
    assert s._cache_path("x") is None
    s.uri = str(tmp_path / "milvus.db")
    assert s._cache_path("x") == tmp_path / "vectors" / "x.npz"
    monkeypatch.setenv("EMBEDLAB_VECTOR_CACHE", "0")
    assert s._cache_path("x") is None


def test_the_copy_is_gone_before_milvus_sees_the_write(store, tmp_path, monkeypatch):
    """Deleted first, so a kill -9 in the middle of a write cannot leave a copy of the old rows;
    and deleted even while the copy is turned off (it would be used again once turned back on)."""
    write_and_hold(store, "cd", "cs")
    store.settle()  # the sparse rows' background write (write_behind.py) must not be counted below
    path = tmp_path / "vectors" / "cd.npz"
    seen, real = [], store.client.upsert

    def upsert(name, rows, **kw):
        seen.append(path.exists())
        return real(name, rows, **kw)

    monkeypatch.setattr(store.client, "upsert", upsert)
    monkeypatch.setenv("EMBEDLAB_VECTOR_CACHE", "0")
    store.upsert("cd", range(400), DENSE[::-1].copy())
    assert seen == [False] and not path.exists()
    monkeypatch.delenv("EMBEDLAB_VECTOR_CACHE")
    restart(store, "cd")
    np.testing.assert_array_equal(store.resident("cd", False).matrix, DENSE[::-1])

"""Sparse rows reach Milvus Lite in the background once their results are served (embedlab/write_behind.py):
every reader waits for them, a clean exit applies them, and a process killed before they landed leaves a
journal that the next store on the workspace applies. Real Milvus Lite, real processes, real SIGKILL."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from embedlab.store import Store

ROOT = Path(__file__).resolve().parents[1]


def _rows(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    m = sp.random(n, 5000, density=0.01, format="csr", dtype=np.float32, random_state=rng)
    m.data = np.abs(m.data) + 0.01
    diagonal = sp.csr_matrix((np.ones(n, np.float32), (np.arange(n), np.arange(n) % 5000)), shape=m.shape)
    return (m + diagonal).tocsr()  # no empty row


def _stored(store: Store, name: str) -> dict[int, dict]:
    store.settle(name)
    store._load(name)  # a collection comes back unloaded in a new process
    return {int(r["id"]): r["vec"] for r in store.client.query(name, filter="id >= 0", output_fields=["id", "vec"],
                                                                 limit=16384)}


def _as_dicts(m) -> dict[int, dict]:
    return {i: {int(c): float(v) for c, v in zip(m[i].indices, m[i].data, strict=True)} for i in range(m.shape[0])}


def test_readers_wait_for_the_background_write(tmp_path):
    store = Store(str(tmp_path / "milvus.db"))
    m = _rows(1200)
    store.ensure("wb", None, True)
    store.upsert("wb", range(1200), m)
    assert not (tmp_path / "pending").exists() or len(list((tmp_path / "pending").glob("*.npz"))) <= 1
    assert store.existing_ids("wb", 1200) == set(range(1200))  # waited for the rows, then read them
    assert store.count("wb") == 1200
    store.flush("wb")
    assert _stored(store, "wb") == pytest_approx_rows(m)
    assert not list((tmp_path / "pending").glob("*.npz"))  # applied: the journal is gone
    store.in_process = False  # Milvus' own search sees every row
    hits = store.search("wb", m[:3], 1, True)
    assert [h[0].id for h in hits] == [0, 1, 2]


def pytest_approx_rows(m):
    return {i: {c: np.float32(v).item() for c, v in row.items()} for i, row in _as_dicts(m).items()}


def _child(tmp_path: Path, body: str) -> subprocess.CompletedProcess:
    script = textwrap.dedent(f"""
        import os, signal, sys
        import numpy as np, scipy.sparse as sp
        sys.path.insert(0, {str(ROOT)!r})
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from embedlab.store import Store
        from test_write_behind import _rows
        store = Store({str(tmp_path / "milvus.db")!r})
        store.ensure("wb", None, True)
    """) + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_a_clean_exit_applies_what_is_queued(tmp_path):
    done = _child(tmp_path, """
        store.upsert("wb", range(3000), _rows(3000))
        store.flush("wb")
        print("returned")
    """)  # exits right after upsert returned: the rows are still being written
    assert done.returncode == 0 and "returned" in done.stdout, done.stderr[-2000:]
    store = Store(str(tmp_path / "milvus.db"))
    assert _stored(store, "wb") == pytest_approx_rows(_rows(3000))


def test_rows_a_killed_process_had_journaled_are_applied_by_the_next_store(tmp_path):
    done = _child(tmp_path, """
        import threading, time
        from embedlab import write_behind
        write_behind.WriteBehind._write = lambda self, *a: time.sleep(3600)  # Lite never gets them
        store.upsert("wb", range(2000), _rows(2000, seed=1))
        store.upsert("wb", range(10), _rows(10, seed=2))  # a later write to the same ids wins
        print("returned", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    assert done.returncode == -9 and "returned" in done.stdout, done.stderr[-2000:]
    assert len(list((tmp_path / "pending").glob("*.npz"))) == 2
    store = Store(str(tmp_path / "milvus.db"))  # replays the journal before anything reads
    want = pytest_approx_rows(_rows(2000, seed=1))
    want.update(pytest_approx_rows(_rows(10, seed=2)))
    assert _stored(store, "wb") == want
    assert not list((tmp_path / "pending").glob("*.npz"))


def _in_lite(store: Store, name: str) -> int:
    """Rows Lite holds now, asked through the raw client (no settle: nothing waits for the writer)."""
    return int(store.client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"])


def test_rows_go_to_lite_once_their_results_are_served(tmp_path, monkeypatch):
    """The write waits while the fit and search it would compete with run: journaled, not in Lite,
    until the collection's first search has answered from the held vectors; then Lite gets them all."""
    from embedlab import write_behind

    monkeypatch.setattr(write_behind, "DELAY", 3600.0)  # only the search may start it here
    store = Store(str(tmp_path / "milvus.db"))
    m = _rows(800, seed=3)
    store.ensure("served", None, True)
    store.upsert("served", range(800), m)
    store.flush("served")
    store.hold("served", np.arange(800), m)  # as vectors.keep does for a view filled whole
    import time

    time.sleep(1.0)  # a writer that started at once would have written slices of 512 rows by now
    assert _in_lite(store, "served") == 0 and len(list((tmp_path / "pending").glob("*.npz"))) == 1
    hits = store.search("served", m[:3], 1, True)  # answered in process: now the rows may go
    assert [h[0].id for h in hits] == [0, 1, 2]
    assert _stored(store, "served") == pytest_approx_rows(m)
    assert not list((tmp_path / "pending").glob("*.npz"))


def test_rows_nobody_searches_still_reach_lite(tmp_path, monkeypatch):
    """No search, no reader: the queued write is applied DELAY seconds after it was journaled."""
    import time

    from embedlab import write_behind

    monkeypatch.setattr(write_behind, "DELAY", 0.2)
    store = Store(str(tmp_path / "milvus.db"))
    m = _rows(300, seed=4)
    store.ensure("unsearched", None, True)
    store.upsert("unsearched", range(300), m)
    deadline = time.monotonic() + 120
    while _in_lite(store, "unsearched") < 300 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _in_lite(store, "unsearched") == 300

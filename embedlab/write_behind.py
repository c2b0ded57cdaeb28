"""Writes to a Milvus Lite collection journaled first, applied once their results are served.

Milvus Lite 3 is a Python engine in this process: writing SciFact's 5,183 BM25 rows costs ~1 s of
CPU (pymilvus packing, gRPC, Lite's per-row validation), as long as the whole BM25 fit, and holds
the GIL while it runs, while search runs over the vectors held in process (``resident.py``) and does
not need them in Lite. A thread writing them at once only competes with the fit and search it was
meant to get out of the way of (2 cores: no faster than writing them inline, bench #5). So on Lite a
write is saved first as a journal file (``<workspace>/pending/<seq>-<name>.npz``: the ids and the
vectors, ~20 ms for those rows) and ``upsert`` returns; one thread applies the queued writes, in
order and in slices under the store's write lock, once the collection's results have been served
(its first search, ``served``), or anything reads the collection from Lite (``settle``), or
``DELAY`` seconds have passed, and deletes each file once Lite has acknowledged its rows. A store
opened on the workspace replays leftover files before anything else (a process killed before its
writes landed), so every write that returned reaches Milvus, as before. Every read of a collection
(ids, counts, rows, Lite's own search, rename, drop) first waits for that collection's pending
writes (``settle``), so nothing reads a half-written collection; a process exits only once its
writes are applied (``_drain``, before Lite's server pool stops).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from pathlib import Path

import numpy as np

from .npz import load_npz, save_npz

log = logging.getLogger("embedlab.store")
SLICE = 512  # rows per Lite call: a reader waiting for the write lock waits for one slice, not a batch
DELAY = 5.0  # seconds a queued write waits for its results to be served before it is applied anyway


class WriteBehind:
    """One per Milvus Lite file. ``apply(name, ids, vectors)`` writes rows (under the caller's lock),
    ``flush(name)`` seals them; both are the store's own synchronous calls."""

    def __init__(self, folder: Path, apply, flush, lock):
        self.folder, self._apply, self._flush, self._lock = Path(folder), apply, flush, lock
        self._queue: deque = deque()
        self._pending: dict[str, int] = {}  # name → queued items not applied yet
        self._failed: dict[str, BaseException] = {}
        self._go = False  # apply the queue now (results served, a reader waits, or DELAY passed)
        self._cond = threading.Condition()
        self._worker: threading.Thread | None = None
        self._seq = itertools.count(int(time.time() * 1000) * 1000)
        # Lite's gRPC server answers from a concurrent.futures pool, which the interpreter shuts down
        # before it joins threads: apply what is queued first (hooks registered later run first).
        threading._register_atexit(self._drain)

    def _drain(self) -> None:
        try:
            self.settle()
        except BaseException as e:  # noqa: BLE001 - its journal file stays: the next open applies it
            log.warning("background writes left for the next start: %s", e)

    # -- the writer's side ------------------------------------------------------------------------
    def submit(self, name: str, ids, vectors) -> None:
        """Journal the rows, then queue them; returns before Lite has them."""
        ids = np.asarray(list(ids), dtype=np.int64)
        path = self.folder / f"{next(self._seq):020d}-{name}.npz"
        if hasattr(vectors, "tocsr"):
            m = vectors.tocsr()
            save_npz(path, ["data", "indices", "indptr"], [m.data, m.indices, m.indptr], ids=ids,
                     shape=np.array(m.shape), name=np.array(name))
        else:
            save_npz(path, ["dense"], [np.asarray(vectors, dtype=np.float32)], ids=ids, name=np.array(name))
        self._put(("write", name, path, ids, vectors))

    def flush(self, name: str) -> None:
        self._put(("flush", name, None, None, None))

    def then(self, name: str, call) -> None:
        """``call(name)`` (under the lock) once ``name``'s queued writes are applied, without forcing them."""
        self._put(("call", name, None, None, call))

    def _put(self, item) -> None:
        with self._cond:
            self._queue.append(item)
            self._pending[item[1]] = self._pending.get(item[1], 0) + 1
            if self._worker is None or not self._worker.is_alive():
                # not a daemon: the interpreter waits for it, so a clean exit applies every write
                self._worker = threading.Thread(target=self._run, name="milvus-write-behind")
                self._worker.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._queue:
                    self._worker, self._go = None, False
                    return
                if not self._go:  # the results first: the write would compete with them for the GIL
                    self._cond.wait_for(lambda: self._go, timeout=DELAY)
                    self._go = True
                kind, name, path, ids, vectors = self._queue[0]
            try:
                if name not in self._failed:
                    if kind == "write":
                        self._write(name, ids, vectors)
                        path.unlink(missing_ok=True)
                    else:
                        with self._lock:
                            (vectors if kind == "call" else self._flush)(name)
            except BaseException as e:  # noqa: BLE001 - kept for the next reader of this collection
                log.warning("background write to %s failed: %s: %s", name, type(e).__name__, e)
                self._failed[name] = e
            with self._cond:
                self._queue.popleft()
                self._pending[name] -= 1
                if not self._pending[name]:
                    del self._pending[name]
                self._cond.notify_all()

    def _write(self, name: str, ids, vectors) -> None:
        for s in range(0, len(ids), SLICE):
            with self._lock:
                self._apply(name, ids[s : s + SLICE], vectors[s : s + SLICE])
            time.sleep(0.0005)  # let a thread waiting for the write lock have it between slices

    # -- the readers' side ------------------------------------------------------------------------
    def served(self, name: str) -> None:
        """``name``'s results were served (from the vectors held in process): write its rows now."""
        with self._cond:
            if self._pending.get(name):
                self._go = True
                self._cond.notify_all()

    def settle(self, name: str | None = None) -> None:
        """Wait until ``name``'s (every collection's, for None) queued writes are applied; raise the
        failure of one that could not be (its journal file stays, so the next open retries it)."""
        if threading.current_thread() is self._worker:
            return
        with self._cond:
            if self._pending.get(name) if name else self._pending:
                self._go = True
                self._cond.notify_all()
            self._cond.wait_for(lambda: not (self._pending.get(name) if name else self._pending))
            failed = self._failed.pop(name, None) if name else None
        if failed is not None:
            raise failed

    def pending(self, name: str) -> bool:
        with self._cond:
            return bool(self._pending.get(name))

    def replay(self, exists) -> int:
        """Apply journal files a killed process left, oldest first; returns how many."""
        done = 0
        for path in sorted(self.folder.glob("*.npz")) if self.folder.exists() else []:
            got = load_npz(path)
            if got is None:  # torn while being saved: its upsert never returned
                path.unlink(missing_ok=True)
                continue
            parts, arrays, extra = got
            name = str(extra["name"])
            if exists(name):
                if parts == ["dense"]:
                    vectors = arrays[0]
                else:
                    import scipy.sparse as sp

                    vectors = sp.csr_matrix(tuple(arrays), shape=tuple(int(v) for v in extra["shape"]))
                self._write(name, extra["ids"], vectors)
                self._flush(name)
                done += 1
            path.unlink(missing_ok=True)
        if done:
            log.info("applied %d write(s) a stopped process left in %s", done, self.folder)
        return done

"""Vectors held in the process for exact search, and their copy on disk.

Milvus Lite answers a search by looping in Python over every row (~25 ms at 50k rows) and
brute-forces rows not yet flushed; an exact product over vectors held here takes 1–2 ms. So a
``Store`` on Lite reads each collection whole once (from its ``vectors/<name>.npz`` copy when there
is one, else from Milvus), keeps it in an LRU bounded by ``EMBEDLAB_RESIDENT_MB``, and searches it
here with Milvus' own tie-break. It is the process's only copy of stored vectors: maps, neighbours
and probes read theirs through ``Store.vectors``, which slices this one. ``ResidentVectors`` is the
part of ``Store`` that does this; every write to a collection forgets its held copy and deletes its
file first (``_forget``).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .npz import load_npz, save_npz
from .sparse_rows import stack, stack_blocks

log = logging.getLogger("embedlab.store")


@dataclass(frozen=True)
class Hit:
    id: int
    score: float


@dataclass
class _Resident:
    ids: np.ndarray  # int64, ascending
    matrix: object  # float32 ndarray (dense) or csr_matrix (sparse), one row per id

    @property
    def nbytes(self) -> int:
        m = self.matrix
        return int(m.nbytes if isinstance(m, np.ndarray) else m.data.nbytes + m.indices.nbytes + m.indptr.nbytes)


# (uri, name) → _Resident, least recently used first.
_resident: OrderedDict[tuple[str, str], _Resident] = OrderedDict()
_resident_lock = threading.Lock()


class ResidentVectors:
    """Mixed into ``Store``: needs ``uri``, ``local``, ``in_process``, ``resident_bytes``, ``write_lock``,
    ``client``, ``base_of``, ``_load`` and ``_every_row``."""

    # -- vectors held in process ------------------------------------------------------------
    def resident(self, name: str, sparse: bool) -> _Resident | None:
        """Every stored vector of ``name``, read once and kept (None if it would not fit). A view
        standing on a base (``Store.base_of``) is the base's first rows, then its own."""
        base = self.base_of(name)
        return self._own_rows(name, sparse) if base is None else self._layered(name, base, sparse)

    def _key(self, name: str) -> tuple[str, str]:
        """Where ``resident(name)`` is kept: a layered view's whole matrix under its own key."""
        return (self.uri, _LAYERED + name) if self.base_of(name) else (self.uri, name)

    def _layered(self, name: str, base: tuple[str, int], sparse: bool) -> _Resident | None:
        key = (self.uri, _LAYERED + name)
        stamp = (_generation.get((self.uri, base[0]), 0), _generation.get((self.uri, name), 0))
        held = _resident_get(key)
        if held is not None and _stamps.get(key) == stamp:
            return held
        was_held = _resident_get(self._key(base[0])) is not None
        lower, own = self.resident(base[0], sparse), self._own_rows(name, sparse)
        if lower is None or own is None:
            return None
        cut = int(np.searchsorted(lower.ids, base[1]))
        blocks = [b for b in (lower.matrix[:cut], own.matrix) if b.shape[0]] or [own.matrix]
        held = _Resident(np.concatenate([lower.ids[:cut], own.ids]), stack_blocks(blocks, sparse))
        if not was_held:  # the parent's copy was read only to build this one: not kept twice
            self.let_go(base[0])
        with _resident_lock:
            _resident.pop((self.uri, name), None)  # its own rows are in the whole
        if held.nbytes <= self.resident_bytes:
            _resident_put(key, held, self.resident_bytes)
            _stamps[key] = stamp
        return held

    def _own_rows(self, name: str, sparse: bool) -> _Resident | None:
        key = (self.uri, name)
        held = _resident_get(key)
        if held is not None:
            return held
        with _lock_for(key):
            held = _resident_get(key)
            if held is None and key in _too_big:
                return None  # measured already: read again, it would not fit again
            if held is None:
                generation = _generation.get(key, 0)
                held = self._load_cache(name, sparse)
                from_milvus = held is None
                if from_milvus:
                    held = self._read_all(name, sparse)
                if held.nbytes > self.resident_bytes:
                    with _resident_lock:
                        _too_big.add(key)
                    return None
                if _generation.get(key, 0) == generation:  # no write landed while we read
                    _resident_put(key, held, self.resident_bytes)
                    if from_milvus:
                        self._save_cache(name, held, generation)
        return held

    def let_go(self, name: str) -> None:
        """Stop holding ``name``'s vectors in memory (its .npz copy stays)."""
        with _resident_lock:
            _resident.pop((self.uri, name), None)
            _resident.pop((self.uri, _LAYERED + name), None)

    def is_resident(self, name: str) -> bool:
        key = self._key(name)
        with _resident_lock:
            return key in _resident

    def needs_read(self, name: str) -> bool:
        """Its first in-process search would read it whole first (not held, not over budget)."""
        key = self._key(name)
        with _resident_lock:
            return self.in_process and _unread(key)

    def prefetch(self, collections: list[tuple[str, bool]]) -> threading.Thread | None:
        """Read ``(name, sparse)`` collections not held yet into memory, in a daemon thread.

        A process that did not write a collection reads it whole on its first search (9 s for
        50k × 384 here, most of it inside Milvus Lite). A page calls this when it opens, so the
        read happens while the user types; a search meanwhile waits for the same read (one read
        per collection, see ``resident``) instead of starting another."""
        if not self.in_process:
            return None
        keys = {n: self._key(n) for n, _ in collections}
        with _resident_lock:  # not being read by an earlier prefetch either
            todo = [(n, sp) for n, sp in collections if _unread(keys[n]) and (self.uri, n) not in _prefetching]
            _prefetching.update((self.uri, n) for n, _ in todo)
        if not todo:
            return None

        def read() -> None:
            for name, sparse in todo:
                try:
                    self.resident(name, sparse)
                except Exception as e:  # the page's own search reports a broken collection
                    log.warning("prefetch of %s failed: %s: %s", name, type(e).__name__, e)
                finally:
                    with _resident_lock:
                        _prefetching.discard((self.uri, name))

        thread = threading.Thread(target=read, name="vector-prefetch", daemon=True)
        thread.start()
        return thread

    def hold(self, name: str, ids, matrix, in_memory: bool = True) -> None:
        """Keep vectors just written to ``name`` for search, instead of reading them back: in memory
        and as the .npz copy, or (``in_memory=False``) as the copy alone, read when first searched."""
        ids = np.asarray(ids, dtype=np.int64)
        order = np.argsort(ids, kind="stable")
        held = _Resident(ids[order], matrix[order] if not np.array_equal(order, np.arange(len(ids))) else matrix)
        if in_memory and held.nbytes <= self.resident_bytes:
            _resident_put((self.uri, name), held, self.resident_bytes)
        self._save_cache(name, held, _generation.get((self.uri, name), 0))

    # -- a copy of each collection's vectors on disk (Milvus Lite only): see vectors.py -------
    def _cache_path(self, name: str, *, even_if_off: bool = False) -> Path | None:
        return cache_path(self.uri, name, remote=not self.local, even_if_off=even_if_off)

    def _save_cache(self, name: str, held: _Resident, generation: int) -> None:
        with self.write_lock:  # a write to this collection waits, so a file never outlives one
            if _generation.get((self.uri, name), 0) == generation:  # else written since these were read
                save_cache(self._cache_path(name), held)

    def _load_cache(self, name: str, sparse: bool) -> _Resident | None:
        got = load_cache(self._cache_path(name), sparse, lambda: self._count(name))
        return None if got is None else _Resident(*got)

    def _count(self, name: str) -> int:
        try:  # Lite answers count(*) without loading the collection: 30 ms at 50k rows
            return int(self.client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"])
        except Exception:  # noqa: BLE001 - a Milvus that wants the collection loaded first
            self._load(name)
            return int(self.client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"])

    def _read_all(self, name: str, sparse: bool) -> _Resident:
        rows = list(self._every_row(name, ["id", "vec"]))
        got_ids = np.fromiter((int(r["id"]) for r in rows), dtype=np.int64, count=len(rows))
        vecs = [r["vec"] for r in rows]
        order = np.argsort(got_ids, kind="stable")
        ids = got_ids[order]
        if sparse:
            matrix = stack([vecs[i] for i in order], True)
        else:
            matrix = np.asarray(vecs, dtype=np.float32).reshape(len(vecs), -1)[order] if vecs else np.zeros((0, 1))
        return _Resident(ids, matrix)

    def _forget(self, name: str) -> None:
        with _resident_lock:
            _resident.pop((self.uri, name), None)
            _resident.pop((self.uri, _LAYERED + name), None)
            _generation[(self.uri, name)] = _generation.get((self.uri, name), 0) + 1
            _too_big.discard((self.uri, name))
        path = self._cache_path(name, even_if_off=True)  # a copy made before it was turned off, too
        if path is not None:
            path.unlink(missing_ok=True)  # before the write lands: a crash mid-write leaves no snapshot


_key_locks: dict[tuple[str, str], threading.Lock] = {}
_generation: dict[tuple[str, str], int] = {}  # bumped by every write: a read that overlapped one isn't kept
_too_big: set[tuple[str, str]] = set()  # collections over the memory budget: Milvus searches them
_prefetching: set[tuple[str, str]] = set()  # being read by a prefetch thread
_stamps: dict[tuple[str, str], tuple[int, int]] = {}  # a layered view's whole: generations it was built from
_LAYERED = "+"  # never starts a collection name


def _unread(key) -> bool:
    """Neither held nor known to be over the budget (the caller holds _resident_lock)."""
    return key not in _resident and key not in _too_big


def _lock_for(key) -> threading.Lock:
    with _resident_lock:
        return _key_locks.setdefault(key, threading.Lock())


def _resident_get(key) -> _Resident | None:
    with _resident_lock:
        held = _resident.get(key)
        if held is not None:
            _resident.move_to_end(key)
        return held


def _resident_put(key, held: _Resident, budget: int) -> None:
    with _resident_lock:
        _resident[key] = held
        while len(_resident) > 1 and sum(h.nbytes for h in _resident.values()) > budget:
            _resident.popitem(last=False)


def exact_search(held: _Resident, queries, k: int, sparse: bool) -> list[list[Hit]]:
    """Top-k by inner product over every stored vector; ties go to the smaller id, as in Milvus.
    Sparse search returns only documents sharing a term with the query, as Milvus' inverted index."""
    n = len(held.ids)
    if sparse:
        q = queries.tocsr().astype(np.float32)
        width = held.matrix.shape[1]
        if q.shape[1] != width:  # query terms beyond the stored vocabulary can't match anything
            import scipy.sparse as sp

            q = q[:, :width] if q.shape[1] > width else sp.csr_matrix((q.data, q.indices, q.indptr),
                                                                       shape=(q.shape[0], width))
        scores = np.asarray((held.matrix @ q.T).T.todense(), dtype=np.float32)
    else:
        q = np.asarray(queries, dtype=np.float32).reshape(-1, held.matrix.shape[1] if n else 1)
        scores = q @ held.matrix.T if n else np.zeros((len(q), 0), np.float32)
    k = min(k, n, 16384)
    if k <= 0:
        return [[] for _ in range(len(scores))]
    out: list[list[Hit]] = []
    step = max(1, 2**22 // n)  # queries at a time: bounded temporaries at any corpus size
    for s in range(0, len(scores), step):
        pos, top = _top_k(scores[s : s + step], k)
        kept = (top > 0).sum(axis=1) if sparse else np.full(len(top), k)
        ids, top = held.ids[pos].tolist(), top.tolist()
        out.extend(list(map(Hit, i[:m], t[:m])) for i, t, m in zip(ids, top, kept.tolist(), strict=True))
    return out


def _top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row the positions of the k largest scores and those scores, best first; ties at any
    rank go to the smaller position (held ids are ascending, so: to the smaller id)."""
    rows, n = scores.shape
    if np.isnan(scores).any():  # ranked last, as never equal to anything
        scores = np.where(np.isnan(scores), -np.inf, scores)
    if k < n:  # everything above each row's k-th score, then the first of the ties at it
        kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1 : k]
        above, tied = scores > kth, scores == kth
        need = k - above.sum(axis=1, keepdims=True)
        chosen = above | (tied & (np.cumsum(tied, axis=1) <= need))
        pos = np.nonzero(chosen)[1].reshape(rows, k)  # ascending positions within each row
    else:
        pos = np.broadcast_to(np.arange(n), (rows, n))
    top = np.take_along_axis(scores, pos, axis=1)
    order = np.argsort(-top, axis=1, kind="stable")  # stable: equal scores keep ascending positions
    return np.take_along_axis(pos, order, axis=1), np.take_along_axis(top, order, axis=1)


# -- a copy of each collection's vectors on disk (Milvus Lite only) ---------------------------
# Reading a collection back from Lite takes 9 s for 50k × 384 (5 s of it inside Lite), paid by the
# first search of every process that did not write it (a restart, a reopened link). The same
# vectors as one .npz beside milvus.db read in well under a second. The file is a snapshot: every
# write to the collection deletes it first (``Store._forget``, under the write lock), and it is
# only used when its row count is the collection's.
def cache_path(uri: str, name: str, *, remote: bool, even_if_off: bool = False) -> Path | None:
    off = os.environ.get("EMBEDLAB_VECTOR_CACHE", "1") == "0" and not even_if_off
    if remote or off:
        return None
    return Path(uri).parent / "vectors" / f"{name}.npz"


def save_cache(path: Path | None, held) -> None:
    """Write ``held`` (ids + matrix) to ``path``; the caller holds the store's write lock."""
    if path is None:
        return
    m = held.matrix
    parts = (["dense"], [m]) if isinstance(m, np.ndarray) else (
        ["data", "indices", "indptr"], [m.data, m.indices, m.indptr])
    try:
        save_npz(path, *parts, ids=held.ids, shape=np.array(m.shape))
    except OSError as e:  # a full disk costs the speed-up, nothing else
        log.warning("could not cache the vectors of %s: %s", path.stem, e)


def load_cache(path: Path | None, sparse: bool, stored_rows: Callable[[], int]):
    """(ids, matrix) from ``path`` when it holds as many rows as the collection, else None."""
    if path is None or not path.exists():
        return None
    got = load_npz(path)
    try:
        if got is None:
            raise ValueError("unreadable")
        parts, arrays, extra = got
        ids, shape = extra["ids"], tuple(int(v) for v in extra["shape"])
        if sparse and parts == ["data", "indices", "indptr"]:
            import scipy.sparse as sp

            matrix = sp.csr_matrix(tuple(arrays), shape=shape)
        elif not sparse and parts == ["dense"] and arrays[0].shape == shape:
            matrix = arrays[0]
        else:
            raise ValueError("another kind of vectors")
        stored = stored_rows()
        if ids.ndim != 1 or len(ids) != shape[0] or int(stored) != len(ids):
            raise ValueError(f"{len(ids)} rows cached, {stored} stored")
    except (KeyError, ValueError, TypeError) as e:  # damaged, or not the collection's rows now
        log.info("vector cache of %s not used: %s", path.stem, e)
        return None
    return ids.astype(np.int64), matrix

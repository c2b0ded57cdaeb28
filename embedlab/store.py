"""The only code that talks to Milvus. One client per process, one lock around every write.

Layout: one collection per (embedder settings × chunked corpus), with two fields: ``id`` (the
chunk's ordinal in the corpus) and ``vec`` (dense FLOAT_VECTOR or SPARSE_FLOAT_VECTOR). Milvus
Lite cannot add a field to a collection later, and models are chosen per comparison, so a
collection never holds two models; hybrid fusion across collections happens in Python with
Milvus' own formulas (see ``fusion.py``, tested against ``hybrid_search``).

Those per-corpus collections are *views*: ``vectors.py`` fills them from a content collection per
model fingerprint (``el_v_…``, keyed by a hash of the embedded text), so a text is embedded once.
A new version's view may *stand on* its parent's (property ``embedlab.base``, see ``base_of``): it
stores only its new chunks, and every read here — ids, vectors, search — sees the parent's as its own.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from . import lite_memory
from .resident import Hit, ResidentVectors, _resident_get, exact_search
from .sparse_rows import (  # noqa: F401 - the store's face for writers
    SPARSE_SENTINEL,
    csr_rows,
    rows,
    sparse_rows_for_storage,
    stack,
    stack_blocks,
)
from .write_behind import WriteBehind

log = logging.getLogger("embedlab.store")

_write_lock = threading.RLock()
_clients: dict[str, object] = {}
_behind: dict[str, WriteBehind] = {}  # Lite file → its background writer (write_behind.py)
_clients_lock = threading.Lock()
_bases: dict[tuple[str, str], tuple[str, int] | None] = {}  # (uri, view) → (base view, rows), see base_of
BASE_PROPERTY = "embedlab.base"
_REMOTE = ("http://", "https://", "tcp://", "unix:")


class StoreError(RuntimeError):
    pass


class WorkspaceLockedError(StoreError):
    pass


def default_uri(workspace: Path) -> str:
    return os.environ.get("EMBEDLAB_MILVUS_URI") or str(Path(workspace) / "milvus.db")


def collection_name(embedder_settings: dict, corpus_key: str) -> str:
    """A name a Milvus server accepts ([A-Za-z_][A-Za-z0-9_]*), stable for the same inputs."""
    blob = json.dumps(embedder_settings, sort_keys=True) + "|" + corpus_key
    return "el_" + hashlib.sha256(blob.encode()).hexdigest()[:24]


def get_client(uri: str):
    """The process-wide client for ``uri`` (Milvus Lite allows one process per data dir)."""
    with _clients_lock:
        if uri not in _clients:
            _clients[uri] = _connect(uri)
        return _clients[uri]


def _unimplemented_rpc(record: logging.LogRecord) -> bool:
    exc = record.exc_info[1] if record.exc_info else None
    return not (isinstance(exc, NotImplementedError) and str(exc) == "Method not implemented!")


def _connect(uri: str):
    from pymilvus import MilvusClient

    logging.getLogger("pymilvus").setLevel(logging.ERROR)  # Lite's unimplemented-RPC warnings
    # Milvus Lite serves gRPC in this process and leaves some RPCs pymilvus tries first (e.g.
    # AllocTimestamp) unimplemented; grpc logs each as an ERROR with a traceback. Drop those only.
    server_log = logging.getLogger("grpc._server")
    if _unimplemented_rpc not in server_log.filters:
        server_log.addFilter(_unimplemented_rpc)

    if not uri.startswith(_REMOTE):
        lite_memory.tune()  # before Lite's first use in this process
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
    try:
        return MilvusClient(uri=uri, token=os.environ.get("EMBEDLAB_MILVUS_TOKEN", ""))
    except Exception as e:
        if "lock" in repr(e).lower() or "Open local milvus failed" in str(e):
            raise WorkspaceLockedError(
                f"the workspace {Path(uri).parent} is in use by another EmbedLab process "
                "(Milvus Lite lets one process open it). Stop the other process, point "
                "EMBEDLAB_WORKSPACE at another folder, or share it through a Milvus server "
                "(EMBEDLAB_MILVUS_URI)."
            ) from None
        raise StoreError(f"could not open Milvus at {uri}: {e}") from None


class Store(ResidentVectors):
    # A loaded 100k×384 collection costs 1–2 GB: keep only the most recently used ones loaded.
    max_loaded = int(os.environ.get("EMBEDLAB_MAX_LOADED_COLLECTIONS", "12"))

    write_lock = _write_lock  # every write to Milvus, process-wide (see MILVUS_LITE notes: Lite loses rows without)
    # Vectors kept in process for exact search, across collections (least recently used dropped).
    resident_bytes = int(os.environ.get("EMBEDLAB_RESIDENT_MB", "1024")) * 2**20

    def __init__(self, uri: str):
        self.uri = uri
        self.client = get_client(uri)
        self._loaded: OrderedDict[str, None] = OrderedDict()
        # Milvus Lite answers a search by looping in Python over every row before any vector maths
        # (~25 ms at 50k rows, before its index is even consulted) and brute-forces rows not yet
        # flushed; an exact product over vectors held here takes 1–2 ms. A Milvus server searches
        # in C++, and other processes may write to it, so there we ask the server.
        flag = os.environ.get("EMBEDLAB_IN_PROCESS_SEARCH", "")
        self.in_process = flag == "1" or (flag != "0" and self.local)
        self._behind = self._writer() if self.local and os.environ.get("EMBEDLAB_WRITE_BEHIND") != "0" else None

    def _writer(self) -> WriteBehind:
        """Lite's writes go through one background writer per file (see write_behind.py); the first
        store opened on the file applies what a killed process left in its journal."""
        with _clients_lock:
            if self.uri not in _behind:
                _behind[self.uri] = WriteBehind(Path(self.uri).parent / "pending", self._upsert_now,
                                                self.client.flush, _write_lock)
                with _write_lock:
                    _behind[self.uri].replay(self.client.has_collection)
            return _behind[self.uri]

    def settle(self, name: str | None = None) -> None:
        """Wait for ``name``'s (every collection's) background writes to be in Milvus."""
        if self._behind is not None:
            self._behind.settle(name)

    @property
    def local(self) -> bool:
        """A Milvus Lite file in the workspace, not a server."""
        return not self.uri.startswith(_REMOTE)

    # -- collections ----------------------------------------------------------------------
    def ensure(self, name: str, dim: int | None, sparse: bool, base: tuple[str, int] | None = None) -> None:
        """Create ``name`` if it is missing; ``base`` = (view, rows): it stands on that view's first rows."""
        with _write_lock:
            if not self.exists(name):
                props = {"properties": {BASE_PROPERTY: f"{base[0]}:{int(base[1])}"}} if base else {}
                try:
                    self.client.create_collection(name, schema=self._schema(dim, sparse), **props)
                    # pymilvus sleeps 0.5 s before it first asks whether an index is built; over an
                    # empty collection Lite builds it at once, so there we do not wait.
                    self.client.create_index(name, self._index(sparse), sync=not self.local)
                except Exception:
                    # another process sharing a Milvus server may have created it since our check
                    if not self.exists(name):
                        raise
            self._load(name)

    def _schema(self, dim, sparse):
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        if sparse:
            schema.add_field("vec", DataType.SPARSE_FLOAT_VECTOR)
        else:
            schema.add_field("vec", DataType.FLOAT_VECTOR, dim=int(dim))
        return schema

    def _index(self, sparse):
        params = self.client.prepare_index_params()
        if sparse:
            params.add_index("vec", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
        else:  # vectors are normalised, so IP is cosine
            params.add_index("vec", **lite_memory.dense_index(searched_here=self.local and self.in_process))
        return params

    def _load(self, name: str) -> None:
        # Collections come back unloaded after a restart: load before the first search.
        with _write_lock:
            if name in self._loaded:
                self._loaded.move_to_end(name)
                return
            self.client.load_collection(name)
            self._loaded[name] = None
            while len(self._loaded) > self.max_loaded:
                oldest, _ = self._loaded.popitem(last=False)
                self.client.release_collection(oldest)

    def exists(self, name: str) -> bool:
        known = lite_memory.has(self.uri, name) if self.local else None
        return self.client.has_collection(name) if known is None else known

    def base_of(self, name: str) -> tuple[str, int] | None:
        """(base view, rows) when ``name`` stands on an earlier version's view; fixed at creation, read once."""
        key = (self.uri, name)
        if key not in _bases:
            try:
                with lite_memory.peek(self, name):
                    raw = (self.client.describe_collection(name).get("properties") or {}).get(BASE_PROPERTY)
            except Exception:  # noqa: BLE001 - not created yet: nothing to remember
                return None
            view, _, rows = (raw or "").rpartition(":")
            _bases[key] = (view, int(rows)) if raw else None
        return _bases[key]

    def rename(self, old: str, new: str) -> None:
        """``old`` becomes ``new`` (its .npz copy too); nothing is re-read or re-written."""
        self.settle(old)
        with _write_lock:
            path = self._cache_path(old, even_if_off=True)
            self.client.rename_collection(old, new)
            if path is not None and path.exists():
                path.replace(path.with_name(f"{new}.npz"))
            self._forget(old)
            self._loaded.pop(old, None)
            _bases.pop((self.uri, old), None)

    def drop(self, name: str) -> None:
        self.settle(name)
        with _write_lock:
            if self.client.has_collection(name):
                self.client.drop_collection(name)
            self._loaded.pop(name, None)
            self._forget(name)
            _bases.pop((self.uri, name), None)

    def flush(self, name: str) -> None:
        """Seal written rows into a segment, so Milvus builds its index over them (rows left in
        Lite's memtable are searched by brute force until a restart)."""
        if self._behind is not None and self._behind.pending(name):
            self._behind.flush(name)  # after its queued writes
            return
        with _write_lock:
            self.client.flush(name)

    def evict(self, name: str) -> None:
        """Close ``name`` in Lite once written or counted (``lite_memory``); after its queued rows, if any."""
        if not self.local:
            return
        if self._behind is not None and self._behind.pending(name):
            return self._behind.then(name, self._close)
        with _write_lock:
            self._close(name)

    def _close(self, name: str) -> None:  # the caller holds the write lock
        lite_memory.close(self.uri, name)
        self._loaded.pop(name, None)

    def release(self, name: str) -> None:
        self.settle(name)
        with _write_lock:
            self.client.release_collection(name)
            self._loaded.pop(name, None)

    # -- rows -----------------------------------------------------------------------------
    def existing_ids(self, name: str, upper: int | None = None) -> set[int]:
        """Ids stored in ``name``. With ``upper`` (ids are the ordinals 0..upper-1, each once): all, when Lite's count
        says so (it counts without reading the collection whole, as listing ids does), else paged by id range."""
        self.settle(name)
        if upper is not None and self.row_count(name) == upper:
            return set(range(upper))
        self._load(name)
        base = self.base_of(name)
        ids: set[int] = set(range(min(base[1], upper or base[1]))) if base else set()  # the base's rows
        if upper is None:
            return ids | self._ids_by_iterator(name)
        step = 16384  # Milvus' largest query window
        for lo in range(base[1] if base else 0, upper, step):
            rows = self.client.query(name, filter=f"id >= {lo} and id < {lo + step}", output_fields=["id"],
                                     limit=step)
            ids.update(int(r["id"]) for r in rows)
        return ids

    def _ids_by_iterator(self, name: str) -> set[int]:
        return {int(r["id"]) for r in self._every_row(name, ["id"])}

    def _every_row(self, name: str, fields: list[str]):
        self.settle(name)  # then load: the background writer's last flush closes the collection in Lite
        self._load(name)
        it = self.client.query_iterator(name, batch_size=8192, filter="id >= 0", output_fields=fields)
        try:
            while batch := it.next():
                yield from batch
        finally:
            it.close()

    def count(self, name: str) -> int:
        return len(self.existing_ids(name))

    def row_count(self, name: str) -> int:  # its base's rows included, without reading the ids
        return self._count(name) + (self.base_of(name) or ("", 0))[1]

    def upsert(self, name: str, ids: Iterable[int], vectors) -> None:
        # Sparse rows (BM25, SPLADE: rows Lite validates term by term) are journaled now and written to
        # Lite in the background once their results are served (write_behind.py); every reader of the
        # collection waits for them.
        if self._behind is not None and hasattr(vectors, "tocsr"):
            with _write_lock:
                self._forget(name)
            self._behind.submit(name, ids, vectors)
            return
        with _write_lock:
            self._forget(name)
            self._upsert_now(name, ids, vectors)
            self._forget(name)  # also voids a read of the held vectors that began during the write

    def _upsert_now(self, name: str, ids, vectors) -> None:
        packed = csr_rows(vectors) if hasattr(vectors, "tocsr") else rows(vectors)
        records = [{"id": int(i), "vec": v} for i, v in zip(ids, packed, strict=True)]
        with _write_lock:
            self.client.upsert(name, records)

    def _count(self, name: str) -> int:
        self.settle(name)
        with lite_memory.peek(self, name):
            return super()._count(name)

    def vectors(self, name: str, ids: list[int], sparse: bool):
        """Stored vectors for ``ids``, in that order (dense ndarray or csr_matrix)."""
        ids = np.asarray(ids, dtype=np.int64)
        # One copy per collection in this process, shared with search (see ResidentVectors): read
        # whole once, then sliced; a collection over the memory budget is read by id every time.
        held = self.resident(name, sparse) if len(ids) else _resident_get(self._key(name))
        if held is not None:
            if len(ids) == len(held.ids) and np.array_equal(ids, held.ids):
                if isinstance(held.matrix, np.ndarray):
                    held.matrix.setflags(write=False)  # shared with search: nobody may change it
                return held.matrix  # the same object search uses: not held twice
            pos = np.searchsorted(held.ids, ids)
            found = pos < len(held.ids)
            found[found] = held.ids[pos[found]] == ids[found]
            if not found.all():
                raise StoreError(f"{int((~found).sum())} vectors missing from {name}")
            return held.matrix[pos]
        base = self.base_of(name)
        if base is not None:  # over the memory budget: the base's rows from the base, the rest from here
            lower = ids < base[1]
            if lower.all() or not lower.any():
                return self.vectors(base[0], ids, sparse) if lower.all() else self._by_id(name, ids, sparse)
            parts = [self.vectors(base[0], ids[lower], sparse), self._by_id(name, ids[~lower], sparse)]
            order = np.argsort(np.concatenate([np.flatnonzero(lower), np.flatnonzero(~lower)]), kind="stable")
            return stack_blocks(parts, sparse)[order]
        return self._by_id(name, ids, sparse)

    def _by_id(self, name: str, ids: np.ndarray, sparse: bool):
        self.settle(name)
        self._load(name)
        got: dict[int, object] = {}
        for s in range(0, len(ids), 4096):
            chunk = [int(i) for i in ids[s : s + 4096]]
            for r in self.client.query(name, filter=f"id in {chunk}", output_fields=["id", "vec"]):
                got[int(r["id"])] = r["vec"]
        missing = [i for i in ids if i not in got]
        if missing:
            raise StoreError(f"{len(missing)} vectors missing from {name}")
        return stack([got[i] for i in ids], sparse)

    # -- search ---------------------------------------------------------------------------
    def search(self, name: str, queries, k: int, sparse: bool, upper: int | None = None) -> list[list[Hit]]:
        """Top ``k`` per query; ``upper``: only ids below it (a base's rows, for a view standing on it)."""
        if self.in_process and upper is None:
            held = self.resident(name, sparse)
            if held is not None:
                hits = exact_search(held, queries, k, sparse)
                if self._behind is not None:
                    self._behind.served(name)  # its rows go to Lite now (write_behind.py)
                return hits
        base = self.base_of(name)
        own = self._search_milvus(name, queries, k, sparse, upper)
        if base is None:
            return own
        lower = self.search(base[0], queries, k, sparse, min(base[1], upper or base[1]))
        return [sorted(a + b, key=lambda h: (-h.score, h.id))[:k] for a, b in zip(own, lower, strict=True)]

    def _search_milvus(self, name: str, queries, k: int, sparse: bool, upper: int | None) -> list[list[Hit]]:
        self.settle(name)
        self._load(name)
        packed = list(rows(queries))
        live = [i for i, r in enumerate(packed) if not (sparse and not r)]
        out: list[list[Hit]] = [[] for _ in packed]
        if not live or k <= 0:
            return out
        params = {"metric_type": "IP", "params": {} if sparse else {"ef": max(128, k)}}
        # output_fields=[] means "every field" to Milvus Lite: each hit would carry its vector.
        res = self.client.search(name, data=[packed[i] for i in live], limit=min(k, 16384),
                                 anns_field="vec", search_params=params, output_fields=["id"],
                                 filter="" if upper is None else f"id < {int(upper)}")
        for qi, hits in zip(live, res, strict=True):
            out[qi] = [Hit(int(i), float(d)) for i, d in zip(hits.ids, hits.distances, strict=True)]
        return out



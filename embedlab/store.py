"""The only code that talks to Milvus. One client per process, one lock around every write.

Layout: one collection per (embedder settings × chunked corpus), with two fields: ``id`` (the
chunk's ordinal in the corpus) and ``vec`` (dense FLOAT_VECTOR or SPARSE_FLOAT_VECTOR). Milvus
Lite cannot add a field to a collection later, and models are chosen per comparison, so a
collection never holds two models; hybrid fusion across collections happens in Python with
Milvus' own formulas (see ``fusion.py``, tested against ``hybrid_search``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Milvus refuses an all-zero sparse vector; a document with no terms gets a tiny weight on a
# dimension no query ever uses, so it is stored (and counted) but never matches.
SPARSE_SENTINEL = 2**31 - 2
SPARSE_SENTINEL_WEIGHT = 1e-9
_write_lock = threading.RLock()
_clients: dict[str, object] = {}
_clients_lock = threading.Lock()


class StoreError(RuntimeError):
    pass


class WorkspaceLockedError(StoreError):
    pass


@dataclass(frozen=True)
class Hit:
    id: int
    score: float


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


def _connect(uri: str):
    from pymilvus import MilvusClient

    logging.getLogger("pymilvus").setLevel(logging.ERROR)  # Lite's unimplemented-RPC warnings

    if not uri.startswith(("http://", "https://", "tcp://", "unix:")):
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


class Store:
    # A loaded 100k×384 collection costs 1–2 GB: keep only the most recently used ones loaded.
    max_loaded = int(os.environ.get("EMBEDLAB_MAX_LOADED_COLLECTIONS", "12"))

    def __init__(self, uri: str):
        self.uri = uri
        self.client = get_client(uri)
        self._loaded: OrderedDict[str, None] = OrderedDict()

    # -- collections ----------------------------------------------------------------------
    def ensure(self, name: str, dim: int | None, sparse: bool) -> None:
        with _write_lock:
            if not self.client.has_collection(name):
                try:
                    self.client.create_collection(name, schema=self._schema(dim, sparse),
                                                  index_params=self._index(sparse))
                except Exception:
                    # another process sharing a Milvus server may have created it since our check
                    if not self.client.has_collection(name):
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
        else:  # vectors are normalised, so IP is cosine; HNSW params must be nested to apply
            params.add_index("vec", index_type="HNSW", metric_type="IP",
                             params={"params": {"M": 16, "efConstruction": 200}})
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
        return self.client.has_collection(name)

    def drop(self, name: str) -> None:
        with _write_lock:
            if self.client.has_collection(name):
                self.client.drop_collection(name)
            self._loaded.pop(name, None)

    def release(self, name: str) -> None:
        with _write_lock:
            self.client.release_collection(name)
            self._loaded.pop(name, None)

    # -- rows -----------------------------------------------------------------------------
    def existing_ids(self, name: str, upper: int | None = None) -> set[int]:
        """Ids stored in ``name``. With ``upper`` (ids are chunk ordinals 0..upper-1) we page by id
        range, which Lite answers directly; without it, through a query iterator."""
        self._load(name)
        if upper is None:
            return self._ids_by_iterator(name)
        ids: set[int] = set()
        step = 16384  # Milvus' largest query window
        for lo in range(0, upper, step):
            rows = self.client.query(name, filter=f"id >= {lo} and id < {lo + step}", output_fields=["id"],
                                     limit=step)
            ids.update(int(r["id"]) for r in rows)
        return ids

    def _ids_by_iterator(self, name: str) -> set[int]:
        it = self.client.query_iterator(name, batch_size=8192, filter="id >= 0", output_fields=["id"])
        ids: set[int] = set()
        try:
            while batch := it.next():
                ids.update(int(r["id"]) for r in batch)
        finally:
            it.close()
        return ids

    def count(self, name: str) -> int:
        return len(self.existing_ids(name))

    def upsert(self, name: str, ids: Iterable[int], vectors) -> None:
        rows = [{"id": int(i), "vec": v} for i, v in zip(ids, _rows(vectors), strict=True)]
        with _write_lock:
            self.client.upsert(name, rows)

    def vectors(self, name: str, ids: list[int], sparse: bool):
        """Stored vectors for ``ids``, in that order (dense ndarray or csr_matrix)."""
        self._load(name)
        got: dict[int, object] = {}
        for s in range(0, len(ids), 4096):
            chunk = [int(i) for i in ids[s : s + 4096]]
            for r in self.client.query(name, filter=f"id in {chunk}", output_fields=["id", "vec"]):
                got[int(r["id"])] = r["vec"]
        missing = [i for i in ids if i not in got]
        if missing:
            raise StoreError(f"{len(missing)} vectors missing from {name}")
        return _stack([got[i] for i in ids], sparse)

    # -- search ---------------------------------------------------------------------------
    def search(self, name: str, queries, k: int, sparse: bool) -> list[list[Hit]]:
        self._load(name)
        rows = list(_rows(queries))
        live = [i for i, r in enumerate(rows) if not (sparse and not r)]
        out: list[list[Hit]] = [[] for _ in rows]
        if not live or k <= 0:
            return out
        params = {"metric_type": "IP", "params": {} if sparse else {"ef": max(128, k)}}
        # output_fields=[] means "every field" to Milvus Lite: each hit would carry its vector.
        res = self.client.search(name, data=[rows[i] for i in live], limit=min(k, 16384),
                                 anns_field="vec", search_params=params, output_fields=["id"])
        for qi, hits in zip(live, res, strict=True):
            out[qi] = [Hit(int(i), float(d)) for i, d in zip(hits.ids, hits.distances, strict=True)]
        return out


def _rows(vectors):
    """Rows Milvus takes: float lists (dense) or {index: weight} dicts (sparse)."""
    if hasattr(vectors, "tocsr"):
        m = vectors.tocsr()
        for r in range(m.shape[0]):
            start, end = m.indptr[r], m.indptr[r + 1]
            row = {int(c): float(v) for c, v in zip(m.indices[start:end], m.data[start:end], strict=True) if v > 0}
            yield row
        return
    for v in np.asarray(vectors, dtype=np.float32):
        yield v.tolist()


def sparse_rows_for_storage(vectors):
    """Sparse rows ready to insert: the sentinel replaces an empty row (see SPARSE_SENTINEL)."""
    import scipy.sparse as sp

    m = vectors.tocsr().astype(np.float32)
    empty = np.diff(m.indptr) == 0
    if empty.any():
        width = max(m.shape[1], SPARSE_SENTINEL + 1)
        m = sp.csr_matrix((m.data, m.indices, m.indptr), shape=(m.shape[0], width))
        fix = sp.csr_matrix((np.full(empty.sum(), SPARSE_SENTINEL_WEIGHT, np.float32),
                             (np.flatnonzero(empty), np.full(empty.sum(), SPARSE_SENTINEL))),
                            shape=m.shape)
        m = (m + fix).tocsr()
    return m


def _stack(vecs, sparse):
    if not sparse:
        return np.asarray(vecs, dtype=np.float32)
    import scipy.sparse as sp

    rows, cols, vals = [], [], []
    for r, v in enumerate(vecs):
        items = v.items() if isinstance(v, dict) else []
        for c, w in items:
            if int(c) != SPARSE_SENTINEL:
                rows.append(r)
                cols.append(int(c))
                vals.append(float(w))
    width = (max(cols) + 1) if cols else 1
    return sp.csr_matrix((vals, (rows, cols)), shape=(len(vecs), width), dtype=np.float32)

"""Milvus Lite's memory, measured: it keeps every collection it has opened in this process until the
process ends — its rows twice (numpy and Arrow), its index, a dict of its keys — and
``release_collection`` drops only the index. Writing 100k × 384 vectors left ~500 MB in the
process, the next collection ~350 MB more (bench/README, #12). Lite 3 is pure Python in our process,
so the app pays that for every collection it has written or counted.

``close`` hands a collection back to disk (Lite's own ``Collection.close``: it flushes first) and
forgets it; Lite opens it again from disk when it is next asked. This reaches into Lite's
database object (``server_manager_instance._servers[path][1]._collections``): if a Lite version
changes those internals, ``database`` returns None and nothing is closed (only the memory is lost).
"""

from __future__ import annotations

import os
from contextlib import contextmanager

from . import heap

_DEFAULT_DB = "default"  # Lite's database for collections made without one
# How big Lite lets a write grow before and while it seals it. Its defaults (a 128 MB memtable per
# collection, merged segments of up to 100k rows, 2× that per merge) made writing 100k × 384 vectors
# to two collections peak at +1,496 MB; 8 MB and 20k rows: +396 MB, and 8 s faster (bench/README, #12).
# One collection of 100k × 384 written then flushed: 20k-row segments peak +395 MB, 10k +308, 5k +313.
MEMTABLE_BYTES = 8 * 2**20
SEGMENT_ROWS = 10_000
DATA_FILES = 4096  # past Lite's 32 it merges on every seal, and with 20k-row segments that would churn


def tune() -> None:
    """Set Lite's write budgets; before milvus_lite is imported (its memtable budget is read then).
    The segment caps live in its compaction module: when that moves, Lite's defaults stay.
    ``EMBEDLAB_LITE_DEFAULTS=1`` keeps Lite's own (bench/lite_write_memory.py compares the two)."""
    if os.environ.get("EMBEDLAB_LITE_DEFAULTS") == "1":
        return
    os.environ.setdefault("MILVUS_LITE_MEMTABLE_MEMORY_LIMIT_BYTES", str(MEMTABLE_BYTES))
    try:
        from milvus_lite.engine import compaction
    except ImportError:
        return
    if hasattr(compaction, "MAX_SEGMENT_ROWS") and hasattr(compaction, "MAX_DATA_FILES"):
        compaction.MAX_SEGMENT_ROWS = min(compaction.MAX_SEGMENT_ROWS, SEGMENT_ROWS)
        compaction.MAX_DATA_FILES = max(compaction.MAX_DATA_FILES, DATA_FILES)


def dense_index(searched_here: bool) -> dict:
    """The index a dense collection gets. Searched over vectors held in this process (Lite, the
    default), Lite's index is never asked: FLAT shares the segment's matrix, where HNSW keeps its own
    copy and is built on every seal and merge, here, beside the embedding (bench/lite_write_memory.py;
    ``EMBEDLAB_LITE_INDEX=HNSW`` for the old). A Milvus server searches itself: HNSW (its params nested
    to apply)."""
    if searched_here and os.environ.get("EMBEDLAB_LITE_INDEX", "FLAT") == "FLAT":
        return {"index_type": "FLAT", "metric_type": "IP"}
    return {"index_type": "HNSW", "metric_type": "IP", "params": {"params": {"M": 16, "efConstruction": 200}}}


def database(uri: str):
    """The in-process Lite database for a ``milvus.db`` path, or None."""
    try:
        from milvus_lite.server_manager import server_manager_instance

        db = server_manager_instance._servers[os.path.abspath(uri)][1]
    except (ImportError, AttributeError, KeyError, IndexError, TypeError):
        return None
    return db if isinstance(getattr(db, "_collections", None), dict) else None


def is_open(uri: str, name: str) -> bool:
    db = database(uri)
    return db is not None and (_DEFAULT_DB, name) in db._collections


def has(uri: str, name: str) -> bool | None:
    """Whether Lite has ``name`` on disk, asked without opening it (pymilvus' ``has_collection``
    describes the collection, which makes Lite read it whole). None when that can't be asked."""
    db = database(uri)
    try:
        return None if db is None else bool(db.has_collection(name))
    except Exception:  # noqa: BLE001 - another Lite: ask through pymilvus
        return None


def close(uri: str, name: str) -> None:
    """Close ``name`` in Lite and drop it from memory (the caller holds the store's write lock); what
    Lite held of it goes back to the system (``heap.trim``), not to the next collection's write."""
    db = database(uri)
    col = None if db is None else db._collections.pop((_DEFAULT_DB, name), None)
    if col is not None:
        col.close()
        heap.trim()


@contextmanager
def peek(store, name: str):
    """Lite reads a whole collection into memory to describe or count it: let it go again after
    (``store.evict``), unless it was open before."""
    was_open = not store.local or is_open(store.uri, name)
    try:
        yield
    finally:
        if not was_open:
            store.evict(name)

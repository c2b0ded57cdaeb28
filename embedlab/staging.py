"""A run's new vectors, kept until its view is written (``vectors.run``): on disk, not in memory.

A first run writes its new vectors twice: to the content collection as they come, then to the view
once Lite has closed the content collection (Lite holds an open collection whole in memory). In
between, the rows wait here. Dense rows are appended to an unnamed temporary file beside the
workspace's Milvus file (nothing is left behind by a killed process) and read back a block at a
time through a mapping that is closed again at once: at 100k × 384 that is 154 MB the process no
longer holds while Lite holds the collection it is writing (bench/README, #12). Sparse rows stay in
memory as the blocks they came in (a csr block is small, and stacking them is what the view needs).
"""

from __future__ import annotations

import mmap
import tempfile
from pathlib import Path

import numpy as np

from .sparse_rows import stack_blocks


def folder_for(store) -> Path | None:
    """Where a store's runs stage their rows: beside its Milvus Lite file; a server's in the system's temp dir."""
    if not getattr(store, "local", False):
        return None
    folder = Path(store.uri).parent / "staging"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Staged:
    """New vectors for the view, one row per view ordinal (``ords``, ascending)."""

    def __init__(self, ords: list[int], sparse: bool, folder: Path | None = None):
        self.ords, self.sparse, self.folder = np.asarray(ords, dtype=np.int64), sparse, folder
        self.rows, self.filled, self.parts = len(ords), 0, []
        self.dim = 0
        self._file = None
        self._slot = np.full(self.rows, -1, dtype=np.int64)  # staged row → row of the file

    @property
    def nbytes(self) -> int:
        return self.rows * self.dim * 4

    def put_first(self, ords, by_key, keys, vecs) -> np.ndarray:
        """Place a block (one row per embedded text) at every ordinal whose chunk has that text;
        returns the staged row of each text's first chunk, where the content store's copy reads it."""
        groups = [by_key[int(keys[i])] for i in ords]
        every = [j for g in groups for j in g]
        src = [n for n, g in enumerate(groups) for _ in g]
        vecs = vecs if src == list(range(vecs.shape[0])) else vecs[src]  # a text in several chunks
        if self.sparse:
            offset = self.filled
            self.parts.append((every, vecs))
            self.filled += len(every)
            return offset + np.cumsum([0] + [len(g) for g in groups[:-1]], dtype=np.int64)
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        if self._file is None:
            self.dim = vecs.shape[1]
            self._file = tempfile.TemporaryFile(dir=self.folder, prefix="staged-")
        self._file.seek(self.filled * self.dim * 4)
        self._file.write(memoryview(vecs).cast("B"))
        self._slot[np.searchsorted(self.ords, every)] = self.filled + np.arange(len(every), dtype=np.int64)
        self.filled += len(every)
        return np.searchsorted(self.ords, [g[0] for g in groups]).astype(np.int64)

    def rows_at(self, staged_rows):
        """Rows by staged row (dense: = ordinal order), a new array read from the file; sparse: a csr."""
        staged_rows = np.asarray(staged_rows, dtype=np.int64)
        if self.sparse:
            return stack_blocks([v for _, v in self.parts], True)[staged_rows]
        if not len(staged_rows):
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._file is None:
            raise ValueError("the staged rows were let go (Staged.close)")
        self._file.flush()
        mapped = mmap.mmap(self._file.fileno(), self.filled * self.dim * 4, access=mmap.ACCESS_READ)
        try:
            view = np.frombuffer(mapped, dtype=np.float32).reshape(self.filled, self.dim)
            out = view[self._slot[staged_rows]]  # fancy indexing: a copy
            del view
        finally:
            mapped.close()  # the pages it touched leave the process with the mapping
        return out

    def matrix(self) -> np.ndarray:
        """Every dense row, in ordinal order (one array: for holding the view or its .npz copy)."""
        return self.rows_at(np.arange(self.rows))

    def blocks(self, size: int):
        """(ordinals, vectors) in blocks of ``size`` rows, in ordinal order."""
        if self.sparse:
            yield from self.parts
            return
        for s in range(0, self.rows, size):
            yield self.ords[s : s + size].tolist(), self.rows_at(np.arange(s, min(s + size, self.rows)))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

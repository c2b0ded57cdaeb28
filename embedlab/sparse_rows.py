"""Sparse vectors as Milvus stores them: canonical float32 csr rows with positive weights only, and the
sentinel that stands in for an empty row (Milvus refuses an all-zero sparse vector)."""

from __future__ import annotations

import numpy as np

# A document with no terms gets a tiny weight on a dimension no query ever uses, so it is stored
# (and counted) but never matches.
SPARSE_SENTINEL = 2**31 - 2
SPARSE_SENTINEL_WEIGHT = 1e-9


def rows(vectors):
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


def csr_rows(vectors):
    """Sparse rows to write, as one-row csr matrices holding ``rows``' entries (weights > 0).

    pymilvus checks every (index, weight) pair of a dict row twice in Python before packing it;
    it packs a scipy row without those checks: 0.36 s instead of 0.69 s for 5,183 BM25 rows,
    the same bytes on the wire."""
    import scipy.sparse as sp

    m = positive(vectors)
    width = m.shape[1]
    for r in range(m.shape[0]):
        start, end = m.indptr[r], m.indptr[r + 1]
        yield sp.csr_matrix((m.data[start:end], m.indices[start:end], np.array([0, end - start])), shape=(1, width))


def positive(vectors):
    """A canonical float32 csr (duplicates summed, indices sorted) keeping weights > 0 only:
    Milvus takes neither a negative nor a NaN weight, and stores an explicit zero as an entry.
    The input itself when it is one already (``sparse_rows_for_storage``' output, written by
    ``upsert``), else a copy: the caller's matrix is never changed."""
    m = vectors.tocsr()
    if m.dtype == np.float32 and m.has_canonical_format and bool((m.data > 0).all()):
        return m
    m = m.astype(np.float32, copy=True)
    m.sum_duplicates()
    m.data[~(m.data > 0)] = 0  # NaN included
    m.eliminate_zeros()
    m.sort_indices()
    return m


def sparse_rows_for_storage(vectors):
    """Sparse rows ready to insert: the sentinel replaces an empty row (see SPARSE_SENTINEL),
    including a row whose weights are all zero or negative."""
    import scipy.sparse as sp

    m = positive(vectors)
    empty = np.diff(m.indptr) == 0
    if empty.any():
        width = max(m.shape[1], SPARSE_SENTINEL + 1)
        m = sp.csr_matrix((m.data, m.indices, m.indptr), shape=(m.shape[0], width))
        fix = sp.csr_matrix((np.full(empty.sum(), SPARSE_SENTINEL_WEIGHT, np.float32),
                             (np.flatnonzero(empty), np.full(empty.sum(), SPARSE_SENTINEL))),
                            shape=m.shape)
        m = (m + fix).tocsr()
    return m


def stack_blocks(blocks, sparse: bool):
    """Blocks of rows (ndarrays, or csr matrices of any widths) as one matrix, in order."""
    if sparse:
        import scipy.sparse as sp

        width = max(b.shape[1] for b in blocks)
        return sp.vstack([sp.csr_matrix((b.data, b.indices, b.indptr), shape=(b.shape[0], width)) for b in blocks],
                         format="csr").astype(np.float32)
    return np.concatenate([np.asarray(b, dtype=np.float32) for b in blocks])


def stack(vecs, sparse):
    if not sparse:
        return np.asarray(vecs, dtype=np.float32)
    import scipy.sparse as sp

    rows, cols, vals = [], [], []
    for r, v in enumerate(vecs):
        if isinstance(v, dict) and v:
            rows.extend([r] * len(v))
            cols.extend(v.keys())
            vals.extend(v.values())
    rows_a, cols_a = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    vals_a = np.asarray(vals, dtype=np.float32)
    real = cols_a != SPARSE_SENTINEL
    rows_a, cols_a, vals_a = rows_a[real], cols_a[real], vals_a[real]
    width = int(cols_a.max()) + 1 if len(cols_a) else 1
    return sp.csr_matrix((vals_a, (rows_a, cols_a)), shape=(len(vecs), width), dtype=np.float32)

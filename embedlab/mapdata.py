"""What the Map colours, filters and exports by, as plain data (no plotting, no streamlit).

Every chunk gets a value for a field — its source file, folder, document length, language, a
column of the uploaded table it came from, … — as a category code plus the category names, so a
map can draw one trace per category and a filter can hide the same chunks on every map. A
selection of chunks travels in the URL as ``encode_ids``: sorted ids, delta-coded as varints,
zlib-compressed, base64url — a 5,000-chunk lasso over 50k points is a few kB of link.
"""

from __future__ import annotations

import base64
import posixpath
import zlib

import numpy as np

MAX_CATEGORIES = 24  # beyond this, the most frequent values keep a colour and the rest are "other"
BINS = 6  # a numeric field is drawn in this many quantile bins
OTHER = "(other)"
EMPTY = "(none)"
_SKIP_META = {"source", "row", "text_column", "fields", "cut", "language"}


# -- selections in the URL -----------------------------------------------------------------------------
def encode_ids(ids) -> str:
    """A compact, URL-safe string for a set of chunk ids ("" for none)."""
    a = np.unique(np.asarray(list(ids), dtype=np.int64))
    if not len(a):
        return ""
    if a[0] < 0:
        raise ValueError("chunk ids are never negative")
    out = bytearray()
    for d in np.diff(a, prepend=0).tolist():
        while d >= 0x80:
            out.append((d & 0x7F) | 0x80)
            d >>= 7
        out.append(d)
    return base64.urlsafe_b64encode(zlib.compress(bytes(out), 9)).decode().rstrip("=")


def decode_ids(text: str, n: int | None = None) -> list[int]:
    """The ids ``encode_ids`` wrote; ValueError for a damaged string or an id >= ``n``."""
    if not text:
        return []
    try:
        raw = zlib.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), bufsize=1 << 16)
    except (ValueError, zlib.error) as e:
        raise ValueError(f"not a selection: {e}") from e
    ids, value, shift, last = [], 0, 0, 0
    for byte in raw:
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            last += value
            ids.append(last)
            value, shift = 0, 0
    if shift or (n is not None and ids and ids[-1] >= n):
        raise ValueError("the selection does not fit this comparison")
    return ids


# -- fields ------------------------------------------------------------------------------------------
def fields(ds) -> dict[str, str]:
    """Metadata fields the documents carry: field key → label. Always source, folder and length;
    language when any document has one (set at load time); scalar metadata; uploaded table columns."""
    out = {"source": "Source file", "folder": "Folder", "length": "Document length"}
    docs = ds.documents
    if any(d.meta.get("language") for d in docs):
        out["language"] = "Language"
    meta_keys = {k for d in docs for k, v in d.meta.items()
                 if k not in _SKIP_META and isinstance(v, str | int | float | bool)}
    for key in sorted(meta_keys):
        if 2 <= len({str(d.meta.get(key)) for d in docs}) <= 1000:
            out[f"meta:{key}"] = f"Metadata: {key}"
    columns = {k for d in docs for k in (d.meta.get("fields") or {})}
    for col in sorted(columns):
        out[f"col:{col}"] = f"Column: {col}"
    return out


def document_values(ds, field: str) -> dict[str, object]:
    """doc id → the field's raw value for that document."""
    docs = ds.documents
    if field == "source":
        return {d.id: str(d.meta.get("source") or d.id) for d in docs}
    if field == "folder":
        return {d.id: posixpath.dirname(str(d.meta.get("source") or d.id)) or "(top level)" for d in docs}
    if field == "length":
        return {d.id: len(d.text) for d in docs}
    if field == "language":
        return {d.id: str(d.meta.get("language") or "") for d in docs}
    if field.startswith("meta:"):
        return {d.id: d.meta.get(field[5:]) for d in docs}
    if field.startswith("col:"):
        return {d.id: (d.meta.get("fields") or {}).get(field[4:]) for d in docs}
    raise ValueError(f"unknown field {field!r}: choose one of source, folder, length, language, meta:…, col:…")


def chunk_categories(ds, field: str, ids) -> tuple[np.ndarray, list[str], bool]:
    """(code per chunk of ``ids``, category names, ordered). Numbers with many distinct values are
    cut into quantile bins (ordered: drawn with a sequential scale); text keeps its most frequent
    MAX_CATEGORIES - 1 values and calls the rest OTHER."""
    per_doc = document_values(ds, field)
    values = [per_doc.get(ds.chunks[int(i)].doc_id) for i in ids]
    numbers = [_number(v) for v in values]
    if values and all(x is not None for x in numbers) and len(set(numbers)) > MAX_CATEGORIES // 2:
        return _binned(np.array(numbers, dtype=np.float64), field == "length")
    return _categorical(["" if v is None else str(v) for v in values])


def _number(value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if np.isfinite(x) else None


def _binned(x: np.ndarray, chars: bool) -> tuple[np.ndarray, list[str], bool]:
    edges = np.unique(np.quantile(x, np.linspace(0, 1, BINS + 1)))
    if len(edges) < 2:
        edges = np.array([edges[0], edges[0]])
    codes = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2).astype(np.int16)
    unit = " chars" if chars else ""
    names = [f"{_fmt(lo)}–{_fmt(hi)}{unit}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    return codes, names, True


def _fmt(x: float) -> str:
    if abs(x) >= 1000:
        return f"{x / 1000:.3g}k"
    return f"{x:.3g}"


def _categorical(values: list[str]) -> tuple[np.ndarray, list[str], bool]:
    kinds, counts = np.unique(np.array(values, dtype=object).astype(str), return_counts=True)
    keep = list(kinds) if len(kinds) <= MAX_CATEGORIES else \
        sorted(kinds[np.argsort(-counts, kind="stable")[: MAX_CATEGORIES - 1]])
    names = [k or EMPTY for k in keep] + ([OTHER] if len(keep) < len(kinds) else [])
    index = {k: i for i, k in enumerate(keep)}
    other = len(keep)
    return np.array([index.get(v, other) for v in values], dtype=np.int16), names, False


def query_categories(top_k: dict[str, list[int]], relevant: set[int], ids) -> tuple[np.ndarray, list[str]]:
    """Relevance to one query: judged relevant or not × how many models have the chunk in their
    top-k. ``relevant`` holds chunk ids of judged-relevant documents."""
    n_models = len(top_k)
    found: dict[int, int] = {}
    for chunks in top_k.values():
        for c in set(chunks):
            found[c] = found.get(c, 0) + 1
    names = [f"relevant, in {m}/{n_models} top-k" for m in range(n_models, -1, -1)]
    names += [f"in {m}/{n_models} top-k" for m in range(n_models, 0, -1)] + ["other"]
    codes = []
    for c in map(int, ids):
        m = found.get(c, 0)
        codes.append(n_models - m if c in relevant else (len(names) - 1 if m == 0 else 2 * n_models + 1 - m))
    return np.array(codes, dtype=np.int16), names


# -- the selection as a table --------------------------------------------------------------------------
def selection_table(ds, ids, overlap: dict[str, np.ndarray] | None = None, text_chars: int | None = None):
    """One row per selected chunk: id, document, one column per model with the chunk's
    neighbourhood overlap (``overlap``: column name → values in the order of ``ids``), title, and
    text (cut to ``text_chars`` if given)."""
    import pandas as pd

    titles = {d.id: d.title for d in ds.documents}
    rows = [ds.chunks[int(i)] for i in ids]
    columns = {"chunk": [int(i) for i in ids], "document": [c.doc_id for c in rows]}
    for name, values in (overlap or {}).items():
        columns[name] = np.round(np.asarray(values, dtype=np.float64), 3)
    columns["title"] = [titles.get(c.doc_id, "") for c in rows]
    columns["text"] = [c.text if text_chars is None else _cut(c.text, text_chars) for c in rows]
    return pd.DataFrame(columns)


def _cut(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def relevant_chunks(ds, query: str) -> set[int]:
    """Chunk ids of the documents judged relevant to ``query`` when it is one of the dataset's
    evaluation queries (matched by its text), else an empty set."""
    evals = getattr(ds, "eval_set", None)
    if not evals or not query.strip():
        return set()
    qid = next((q for q, text in evals.queries.items() if text.strip() == query.strip()), None)
    docs = {d for d, rel in (evals.qrels.get(qid) or {}).items() if rel > 0}
    return {i for i, c in enumerate(ds.chunks) if c.doc_id in docs}

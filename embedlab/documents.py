"""Reading uploads into documents, within limits.

Every file handed in ends up in ``LoadResult.loaded`` (with how many documents it gave) or in
``LoadResult.skipped`` (with a sentence saying why); nothing here raises for bad input. What a file
is comes from its bytes, not its name: a PNG called notes.txt is reported as a PNG. The readers
live in ``embedlab.readers``; this module walks paths and uploads, applies the limits and
collects the results.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import partial
from pathlib import Path

from embedlab.readers.evalsets import build_eval_set, parse_qrels, parse_queries
from embedlab.readers.loader import Loader
from embedlab.readers.model import (
    Budget,
    Document,
    Entry,
    EvalSet,
    Limits,
    LoadResult,
    Options,
    Skip,
    Skipped,
    clean_name,
)
from embedlab.readers.paths import read_file, walk
from embedlab.readers.tables import table_columns

__all__ = [
    "Document",
    "EvalSet",
    "Limits",
    "LoadResult",
    "Skipped",
    "clean_name",
    "csv_columns",
    "load_eval_set",
    "load_paths",
    "load_uploads",
]


def _options(limits: Limits | None, text_column: str | None, title_column: str | None) -> Options:
    return Options(text_column=text_column, title_column=title_column, limits=limits or Limits())


def load_paths(
    paths: Iterable[str | Path], limits: Limits | None = None, text_column: str | None = None,
    title_column: str | None = None, split: str = "test",
) -> LoadResult:
    """Files, folders (walked in sorted order), BEIR folders and zips on disk."""
    entries: list[Entry] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            entries.extend(walk(path))
        else:
            entries.append(Entry(clean_name(path.name), partial(read_file, path)))
    return Loader(_options(limits, text_column, title_column), split).run(entries)


def _given(data: bytes, budget: Budget) -> bytes:
    budget.check(len(data))
    return data


def load_uploads(
    files: Iterable[tuple[str, bytes]], limits: Limits | None = None, text_column: str | None = None,
    title_column: str | None = None, split: str = "test",
) -> LoadResult:
    """What a browser uploader gives: (file name, bytes) pairs, read by the same readers as load_paths."""
    entries = [Entry(clean_name(name), partial(_given, bytes(data))) for name, data in files]
    return Loader(_options(limits, text_column, title_column), split).run(entries)


def csv_columns(name: str, data: bytes) -> list[str]:
    """Column names of a CSV/TSV (or JSON record fields), so a UI can offer the choice; [] if unreadable."""
    try:
        return table_columns(name, data)
    except Exception:  # noqa: BLE001 - a file we cannot read simply offers no columns
        return []


def _as_bytes(source: str | os.PathLike | bytes) -> bytes:
    return bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else Path(source).read_bytes()


def load_eval_set(queries: str | os.PathLike | bytes, qrels: str | os.PathLike | bytes) -> EvalSet:
    """Queries (JSONL with _id/text, or id<TAB>text) and qrels (query-id, corpus-id, score; header optional).

    Only queries that have judgments are kept. Raises ValueError with a readable message.
    """
    try:
        source = "" if isinstance(qrels, (bytes, bytearray, memoryview)) else Path(qrels).name
        return build_eval_set(parse_queries(_as_bytes(queries)), parse_qrels(_as_bytes(qrels)), source)
    except Skip as verdict:
        raise ValueError(str(verdict)) from None

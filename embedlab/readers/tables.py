"""Many-document formats: CSV/TSV rows and JSON/JSONL records, one document each."""

from __future__ import annotations

import csv
import io
import json
import sys

from embedlab.readers.formats import decoded_text, short_error
from embedlab.readers.model import Document, Options, Skip
from embedlab.readers.sniff import clean, needs_cleaning

_ID_COLUMNS = ("_id", "id")
_SAMPLE_ROWS = 1000

# One CSV field may legitimately hold a whole book; Limits.max_doc_chars still bounds the text.
csv.field_size_limit(sys.maxsize)


def _delimiter(text: str, ext: str) -> str:
    if ext in (".tsv", ".tab"):
        return "\t"
    header = text[: text.find("\n")] if "\n" in text else text[:65536]
    # Count on the header line only: body text is full of commas and semicolons.
    return max(",;\t|", key=header.count) if any(c in header for c in ",;\t|") else ","


def _unique_columns(header: list[str]) -> list[str]:
    seen: set[str] = set()
    columns = []
    for i, col in enumerate(header, 1):
        col = col.strip() or f"column {i}"
        while col in seen:
            col = f"{col} ({i})"
        seen.add(col)
        columns.append(col)
    return columns


def _lines(text: str):
    # Not io.StringIO: it holds the text as 4-byte characters, 4x the memory of an ASCII str.
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end == -1 else end + 1
        yield text[start:end]
        start = end


def csv_rows(text: str, ext: str) -> tuple[list[str], list[dict]]:
    reader = csv.reader(_lines(text), delimiter=_delimiter(text, ext))
    try:
        columns = _unique_columns(next(reader))
        rows = [dict(zip(columns, row, strict=False)) for row in reader if any(f.strip() for f in row)]
    except StopIteration:
        raise Skip("empty table") from None
    except csv.Error as exc:
        raise Skip(f"not a readable CSV table ({short_error(exc)})") from None
    return columns, rows


def _jsonl_rows(text: str) -> tuple[list[dict], list[str]]:
    rows, broken, total = [], [], 0
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        total += 1
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, str):
            record = {"text": record}
        if isinstance(record, dict):
            rows.append(record)
        else:
            broken.append(lineno)
    if not rows:
        raise Skip(f"none of the {total} lines is a JSON record")
    notes = []
    if broken:
        shown = ", ".join(map(str, broken[:10])) + (", …" if len(broken) > 10 else "")
        notes.append(
            f"{len(broken)} of {total} lines skipped: not valid JSON records (line {shown}); "
            f"the other {len(rows)} loaded"
        )
    return rows, notes


def _json_rows(text: str) -> tuple[list[dict], list[str]]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        if "Extra data" in str(exc):  # several documents one per line: JSON Lines named .json
            return _jsonl_rows(text)
        raise Skip(f"not valid JSON ({short_error(exc)})") from None
    if isinstance(value, dict):
        lists = [v for v in value.values() if isinstance(v, list) and v and isinstance(v[0], dict)]
        value = [value] if "text" in value or not lists else lists[0]
    if not isinstance(value, list):
        raise Skip("JSON holds a single value, not records with text")
    rows = [{"text": v} if isinstance(v, str) else v for v in value]
    good = [r for r in rows if isinstance(r, dict)]
    if not good:
        raise Skip("JSON list without records (objects or strings)")
    notes = [f"{len(rows) - len(good)} JSON list items skipped: not records"] if len(good) < len(rows) else []
    return good, notes


def _is_number(value: str) -> bool:
    if len(value) > 40:  # no number is this long; float() on a 50 MB field would still parse it all
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def pick_text_column(columns: list[str], rows: list[dict], exclude: set[str]) -> str | None:
    """The column with the longest average string value, ignoring numeric and id columns."""
    sample = rows[:_SAMPLE_ROWS]
    best, best_len = None, 0.0
    for col in columns:
        if col in exclude or col.lower() in _ID_COLUMNS:
            continue
        strings = [v for r in sample if isinstance(v := r.get(col), str) and v.strip()]
        words = [v for v in strings if not _is_number(v)]
        if not words or len(words) * 2 < len(strings):
            continue
        average = sum(len(v) for v in strings) / max(1, len(sample))
        if average > best_len:
            best, best_len = col, average
    return best


def _columns_of(rows: list[dict]) -> list[str]:
    columns: dict[str, None] = {}
    for row in rows[:_SAMPLE_ROWS]:
        columns.update(dict.fromkeys(row))
    return list(columns)


def _choose(columns: list[str], rows: list[dict], opts: Options, prefer_text: bool) -> tuple[str, str | None]:
    listed = ", ".join(columns[:20]) or "none"
    for wanted in (opts.text_column, opts.title_column):
        if wanted and wanted not in columns:
            raise Skip(f"column '{wanted}' not found; the columns are: {listed}")
    text_col = opts.text_column or ("text" if prefer_text and "text" in columns else None)
    text_col = text_col or pick_text_column(columns, rows, {opts.title_column or ""})
    if not text_col:
        raise Skip(f"no text column: every column holds numbers, ids or nothing (columns: {listed})")
    title_col = opts.title_column or ("title" if "title" in columns and text_col != "title" else None)
    return text_col, title_col


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        # JSON escapes such as \u0000 only become characters after parsing, so clean fields again;
        # search first because most fields are clean and a copy of a 50 MB field is not free.
        return clean(value) if needs_cleaning(value) else value
    return json.dumps(value, ensure_ascii=False)


def _fields(row: dict, cols: tuple[str, str | None], id_col: str | None) -> dict:
    """The row's other scalar columns (the Map colours and filters by them), values cut to 200 chars."""
    skip = {*cols, id_col}
    return {str(k)[:100]: (v[:200] if isinstance(v, str) else v) for k, v in list(row.items())[:50]
            if k not in skip and isinstance(v, str | int | float | bool) and v != ""}


def _documents(name: str, rows: list[dict], cols: tuple[str, str | None], opts: Options) -> tuple[list, list]:
    text_col, title_col = cols
    id_col = next((c for c in (rows[0] if rows else {}) if c.lower() in _ID_COLUMNS), None)
    docs, empty, limit = [], 0, opts.limits.max_rows
    for n, row in enumerate(rows[:limit], 1):
        # Fields stay as written (no strip): MTEB embeds BEIR's title + " " + text verbatim.
        text = _as_text(row.get(text_col))
        if not text.strip():
            empty += 1
            continue
        raw_id = _as_text(row.get(id_col)).strip() if id_col else ""
        title = _as_text(row.get(title_col)) if title_col else ""
        meta = {"source": name, "row": n, "text_column": text_col, "fields": _fields(row, cols, id_col)}
        docs.append(Document(id=raw_id or f"{name}#{n}", title=title, text=text, meta=meta))
    notes = [f"{empty} rows with an empty '{text_col}' skipped"] if empty and docs else []
    if len(rows) > limit:
        notes.append(f"only the first {limit:,} of {len(rows):,} rows read (Limits.max_rows)")
    if not docs:
        raise Skip(f"no row has text in column '{text_col}'")
    return docs, notes


def read_table(name: str, data: bytes, ext: str, opts: Options) -> tuple[list[Document], list[str]]:
    text, _ = decoded_text(data)
    if ext in (".json", ".jsonl", ".ndjson"):
        rows, notes = _jsonl_rows(text) if ext != ".json" else _json_rows(text)
        columns = _columns_of(rows)
    else:
        (columns, rows), notes = csv_rows(text, ext), []
    if not rows:
        raise Skip("table with a header but no rows")
    json_like = ext in (".json", ".jsonl", ".ndjson")  # BEIR records name their text field "text"
    docs, more = _documents(name, rows, _choose(columns, rows, opts, json_like), opts)
    return docs, notes + more


def table_columns(name: str, data: bytes) -> list[str]:
    ext = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    text, _ = decoded_text(data)
    if ext in (".json", ".jsonl", ".ndjson"):
        return _columns_of(_json_rows(text)[0] if ext == ".json" else _jsonl_rows(text)[0])
    reader = csv.reader(io.StringIO(text[: 1024 * 1024]), delimiter=_delimiter(text, ext))
    return _unique_columns(next(reader, []))

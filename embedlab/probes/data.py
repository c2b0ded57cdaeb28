"""The probes' inputs: sentence pairs (with or without gold scores) from a user's file, STS-B's own
layout, Tatoeba-style parallel folders, and the slices bundled in ``sample_data/``.

Files are read from their bytes. A line with a tab is tab-separated and taken literally (STS-B
sentences hold stray quotes that a CSV reader would use to merge lines); otherwise it is CSV.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

SAMPLE_DIR = Path(__file__).resolve().parent.parent.parent / "sample_data"
SAMPLE_STS = SAMPLE_DIR / "stsb-sample.tsv"
SAMPLE_PARALLEL = SAMPLE_DIR / "parallel"
MAX_PAIRS = 20_000  # probes encode every sentence with every model: bound the work a file can ask for

_LEFT = {"sentence1", "sentence 1", "sentence_1", "s1", "text1", "text_1", "text_a", "source", "src",
         "left", "original"}
_RIGHT = {"sentence2", "sentence 2", "sentence_2", "s2", "text2", "text_2", "text_b", "target", "tgt",
          "right", "english", "eng", "translation"}
_SCORE = {"score", "gold", "label", "similarity", "relatedness", "gold_score"}


@dataclass
class PairTable:
    left: list[str]
    right: list[str]
    scores: list[float] | None  # None when the file has no score column
    note: str  # how the file was read, for the page and the CLI


def read_pairs(source: bytes | str | Path, need_scores: bool = False, max_pairs: int = MAX_PAIRS) -> PairTable:
    """Pairs from a TSV/CSV with a header naming the columns (sentence1, sentence2, score — or
    source, target), from STS-B's own headerless layout, or from headerless 2–3 column rows.
    Raises ValueError saying what was expected."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    rows = _rows(_decode(data))
    if not rows:
        raise ValueError("the file holds no lines")
    cols, rows, layout = _columns(rows)
    if need_scores and cols[2] is None:
        raise ValueError("no score column: give a header with sentence1, sentence2, score "
                         "(or use STS-B's own layout: genre, file, year, id, score, sentence1, sentence2)")
    left, right, scores, skipped = _collect(rows, cols)
    if not left:
        raise ValueError(f"no usable pairs ({skipped} lines skipped: too few columns, empty text or a bad score)")
    note = f"{len(left):,} pairs ({layout})" + (f"; {skipped:,} lines skipped" if skipped else "")
    if len(left) > max_pairs:
        note += f"; only the first {max_pairs:,} are used"
        left, right, scores = left[:max_pairs], right[:max_pairs], scores and scores[:max_pairs]
    return PairTable(left, right, scores if cols[2] is not None else None, note)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("the file is not UTF-8 text") from None


def _rows(text: str) -> list[list[str]]:
    # Newlines only: str.splitlines would also split a sentence at U+2028, U+0085 or a form feed.
    lines = [line for line in text.replace("\r\n", "\n").split("\n") if line.strip()]
    if lines and "\t" in lines[0]:
        return [line.split("\t") for line in lines]
    sample = "\n".join(lines[:20])
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;|")
    except csv.Error:
        dialect = csv.excel
    return [row for row in csv.reader(io.StringIO("\n".join(lines)), dialect) if row]


def _columns(rows: list[list[str]]) -> tuple[tuple[int, int, int | None], list[list[str]], str]:
    head = [c.strip().lower() for c in rows[0]]
    if set(head) & (_LEFT | _RIGHT | _SCORE):
        left, right = _find(head, _LEFT), _find(head, _RIGHT)
        if left is None or right is None:
            raise ValueError(f"header {rows[0]} names no pair of text columns: expected sentence1 and sentence2 "
                             "(or source and target)")
        return (left, right, _find(head, _SCORE)), rows[1:], "columns from the header"
    first = rows[0]
    if len(first) >= 7 and _number(first[4]) and not _number(first[5]):
        return (5, 6, 4), rows, "STS-B layout"
    if len(first) >= 3 and _number(first[2]):
        return (0, 1, 2), rows, "sentence1, sentence2, score"
    return (0, 1, None), rows, "first two columns"


def _find(head: list[str], names: set[str]) -> int | None:
    return next((i for i, name in enumerate(head) if name in names), None)


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _collect(rows, cols) -> tuple[list[str], list[str], list[float], int]:
    left, right, scores, skipped = [], [], [], 0
    a, b, s = cols
    width = max(c for c in cols if c is not None) + 1
    for row in rows:
        if len(row) < width or not row[a].strip() or not row[b].strip() or (s is not None and not _number(row[s])):
            skipped += 1
            continue
        left.append(row[a].strip())
        right.append(row[b].strip())
        if s is not None:
            scores.append(float(row[s]))
    return left, right, scores, skipped


def load_sts(source: bytes | str | Path = SAMPLE_STS) -> tuple[list[tuple[str, str]], list[float]]:
    """(pairs, gold scores) from any layout ``read_pairs`` understands; the bundled slice by default."""
    table = read_pairs(source, need_scores=True)
    return list(zip(table.left, table.right, strict=True)), table.scores


def load_sts_tsv(path: str | Path) -> tuple[list[tuple[str, str]], list[float]]:
    """STS-B's own file: genre, file, year, id, score, s1, s2[, extra fields]. Tabs only."""
    pairs, gold = [], []
    for line in _lines(path):
        fields = line.split("\t")
        if len(fields) >= 7:
            pairs.append((fields[5], fields[6]))
            gold.append(float(fields[4]))
    return pairs, gold


def _lines(path: str | Path) -> list[str]:
    lines = Path(path).read_text(encoding="utf-8").replace("\r\n", "\n").split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def parallel_languages(directory: str | Path = SAMPLE_PARALLEL) -> list[str]:
    """Language codes with a ``tatoeba.<lang>-eng.<lang>`` / ``.eng`` pair of files in ``directory``."""
    found = []
    for eng in sorted(Path(directory).glob("tatoeba.*-eng.eng")):
        lang = eng.name[len("tatoeba."):-len("-eng.eng")]
        if eng.with_name(f"tatoeba.{lang}-eng.{lang}").exists():
            found.append(lang)
    return found


def load_parallel(directory: str | Path, lang: str) -> tuple[list[str], list[str]]:
    """Tatoeba-style pair of files ``tatoeba.<lang>-eng.<lang>`` / ``.eng``; line i translates line i."""
    base = Path(directory) / f"tatoeba.{lang}-eng"
    src = _lines(base.with_name(base.name + f".{lang}"))
    eng = _lines(base.with_name(base.name + ".eng"))
    if len(src) != len(eng):
        raise ValueError(f"{base}: {len(src)} {lang} lines but {len(eng)} English lines")
    return src, eng

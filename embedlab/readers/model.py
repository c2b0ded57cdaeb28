"""The records that reading produces, the limits it obeys, and the one exception it uses inside."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

MB = 1024 * 1024
_NAME_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufeff]")
_NAME_MAX = 200


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    text: str
    meta: dict = field(default_factory=dict, hash=False, compare=True)

    @property
    def full_text(self) -> str:
        # MTEB embeds a BEIR document as title + " " + text; every model here sees the same string.
        return (self.title + " " + self.text).strip()


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str  # a sentence a person understands, e.g. "binary file (looks like a PNG image), not text"


@dataclass
class EvalSet:
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    generated: bool = False
    note: str = ""


@dataclass
class Limits:
    """What one load call may read. Every skip caused by a limit names the field to raise."""

    max_file_bytes: int = 200 * MB  # one file, or one zip member once unpacked
    max_total_bytes: int = 1024 * MB  # everything read in one call (zip members counted unpacked)
    max_files: int = 20_000  # files read in one call, zip members included
    max_zip_ratio: float = 100.0  # unpacked / packed size of one zip member
    max_zip_depth: int = 2  # a zip inside a zip is depth 2
    max_doc_chars: int = 100_000_000  # longer texts are cut (and the cut is reported)
    max_rows: int = 2_000_000  # documents from one CSV/JSON file
    # Small repetitive files (logs, padded tables) legitimately compress far beyond 100:1;
    # a bomb only matters once it expands to something big.
    zip_ratio_floor_bytes: int = 1 * MB


@dataclass
class LoadResult:
    documents: list[Document]
    skipped: list[Skipped]
    eval_set: EvalSet | None
    loaded: list[tuple[str, int]]  # (file name, documents from it)


class Skip(Exception):
    """Raised inside a reader to say: this file is skipped, and here is why (the message)."""


def human_bytes(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    if n < MB:
        return f"{n / 1024:.1f} KB"
    return f"{n / MB:.1f} MB"


@dataclass
class Budget:
    """What one load call has used so far, against its Limits."""

    limits: Limits
    files: int = 0
    used_bytes: int = 0

    def remaining(self) -> int:
        return self.limits.max_total_bytes - self.used_bytes

    def check(self, size: int) -> None:
        """Raise Skip if a file of ``size`` bytes may not be read."""
        lim = self.limits
        if size > lim.max_file_bytes:
            raise Skip(
                f"file is {human_bytes(size)}, over the {human_bytes(lim.max_file_bytes)} limit "
                "per file (Limits.max_file_bytes)"
            )
        if size > self.remaining():
            raise Skip(
                f"total size limit reached: {human_bytes(self.used_bytes)} already read and this file "
                f"({human_bytes(size)}) would pass {human_bytes(lim.max_total_bytes)} (Limits.max_total_bytes)"
            )


@dataclass
class Entry:
    """A file waiting to be read: its display name and how to get its bytes within a budget."""

    name: str
    read: Callable[[Budget], bytes]


@dataclass(frozen=True)
class Options:
    text_column: str | None
    title_column: str | None
    limits: Limits


# Names are "/"-separated strings (upload names, zip members, walked paths). These are plain string
# operations because pathlib objects cost ~15 µs each, which a 20,000-member zip notices.
def base_name(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def parent(name: str) -> str:
    return name.rsplit("/", 1)[0] if "/" in name else ""


def suffix(name: str) -> str:
    """Lower-case extension with its dot, like PurePosixPath.suffix ('' for '.bashrc' or 'a.')."""
    base = base_name(name)
    dot = base.rfind(".")
    return base[dot:].lower() if 0 < dot < len(base) - 1 else ""


def stem(name: str) -> str:
    base = base_name(name)
    dot = base.rfind(".")
    return base[:dot] if 0 < dot < len(base) - 1 else base


def clean_name(name: object) -> str:
    """The name a file is reported and identified by: control characters removed, long names shortened."""
    text = _NAME_CONTROL.sub("", str(name)).strip() or "unnamed"
    if len(text) <= _NAME_MAX:
        return text
    ext = suffix(text)
    ext = ext if len(ext) <= 12 else ""  # keep the extension: it still chooses the reader
    digest = hashlib.sha1(text.encode()).hexdigest()[:8]  # keeps two long names that share a prefix apart
    return f"{text[: _NAME_MAX - len(ext) - 10]}…{digest}{ext}"

"""One load call: entries in, documents / skips / eval set out, with the limits applied on the way."""

from __future__ import annotations

from dataclasses import replace

from embedlab.language import with_languages
from embedlab.readers.archive import check_office_zip, open_archive
from embedlab.readers.evalsets import (
    build_eval_set,
    eval_role,
    parse_qrels,
    parse_queries,
    pick_pair,
)
from embedlab.readers.formats import (
    read_docx,
    read_html,
    read_markdown,
    read_pdf,
    read_plain,
    short_error,
)
from embedlab.readers.model import (
    Budget,
    Document,
    Entry,
    EvalSet,
    LoadResult,
    Options,
    Skip,
    Skipped,
    base_name,
    parent,
    suffix,
)
from embedlab.readers.sniff import decode, sniff
from embedlab.readers.tables import read_table

_TABLES = {".csv", ".tsv", ".tab", ".json", ".jsonl", ".ndjson"}
_HTML = {".html", ".htm", ".xhtml"}
_MARKDOWN = {".md", ".markdown"}


def _not_what_it_says(ext: str, data: bytes) -> Skip:
    what = "PDF" if ext == ".pdf" else "Word document"
    try:
        decode(data)
    except Skip as binary:
        return Skip(f"named {ext} but is not a {what}: {binary}")
    return Skip(f"named {ext} but holds plain text, not a {what}; rename it .txt to load it as text")


def _read(name: str, data: bytes, kind: str, opts: Options) -> tuple[list[Document], list[str]]:
    ext = suffix(name)
    if kind == "pdf":
        return read_pdf(name, data)
    if kind == "docx":
        check_office_zip(data, opts.limits)
        return read_docx(name, data), []
    if ext in (".pdf", ".docx"):
        raise _not_what_it_says(ext, data)
    if ext in _TABLES:
        return read_table(name, data, ext, opts)
    looks_html = data[:512].lstrip().lower().startswith((b"<!doctype html", b"<html"))
    if ext in _HTML or (not ext and looks_html):
        return read_html(name, data), []
    if ext in _MARKDOWN:
        return read_markdown(name, data), []
    return read_plain(name, data), []


def _unique_ids(docs: list[Document]) -> list[Document]:
    """Ids stay as read unless taken already; then the later one gets ~2, ~3, … (stable for the same input)."""
    seen: set[str] = set()
    next_n: dict[str, int] = {}
    out = []
    for doc in docs:
        if doc.id in seen:
            n = next_n.get(doc.id, 2)
            while f"{doc.id}~{n}" in seen:
                n += 1
            next_n[doc.id] = n + 1
            doc = replace(doc, id=f"{doc.id}~{n}")
        seen.add(doc.id)
        out.append(doc)
    return out


def _beir_dirs(entries: list[Entry]) -> set[str]:
    """Folders (in a walked folder or a zip, not loose uploads) that hold a BEIR corpus.jsonl."""
    return {parent(e.name) for e in entries if base_name(e.name) == "corpus.jsonl" and "/" in e.name}


def _refuse_beir_extras(name: str, beir_dirs: set[str]) -> None:
    # A BEIR folder's README or licence is not part of its corpus; loading it would add a stray document.
    home = parent(name)
    if home in beir_dirs and base_name(name) not in ("corpus.jsonl", "queries.jsonl"):
        raise Skip(f"not part of the BEIR dataset in '{home}' (its documents are corpus.jsonl)")


class Loader:
    """One load call: reads entries in order, applies the limits, collects what came out."""

    def __init__(self, opts: Options, split: str):
        self.opts, self.split = opts, split
        self.budget = Budget(opts.limits)
        self.documents: list[Document] = []
        self.skipped: list[Skipped] = []
        self.loaded: list[tuple[str, int]] = []
        self.eval_files: list[tuple[str, str, bytes]] = []

    def run(self, entries: list[Entry]) -> LoadResult:
        self._take_all(entries, depth=0, container=None)
        try:
            eval_set = self._eval_set() if self.eval_files else None
        except Exception as exc:  # noqa: BLE001 - a broken eval file must not lose the documents
            eval_set = None
            for _, name, _ in self.eval_files:
                self._skip(name, f"evaluation set not built ({short_error(exc)})")
        # Every document's language (meta["language"], ISO 639-1), detected offline once, here.
        return LoadResult(with_languages(_unique_ids(self.documents)), self.skipped, eval_set, self.loaded)

    def _skip(self, name: str, reason: str) -> None:
        self.skipped.append(Skipped(name, reason))

    def _take_all(self, entries: list[Entry], depth: int, container: str | None) -> None:
        limit = self.opts.limits.max_files
        beir_dirs = _beir_dirs(entries)
        for i, entry in enumerate(entries):
            if self.budget.files >= limit:
                return self._over_file_limit(entries[i:], container)
            try:
                _refuse_beir_extras(entry.name, beir_dirs)
                self._take(entry, depth)
            except Skip as verdict:
                self._skip(entry.name, str(verdict))
            except Exception as exc:  # noqa: BLE001 - a reader bug must cost one file, never the batch
                self._skip(entry.name, f"could not be read ({short_error(exc)})")

    def _over_file_limit(self, rest: list[Entry], container: str | None) -> None:
        limit = f"the limit is {self.opts.limits.max_files:,} files per load (Limits.max_files)"
        if container is None:
            for entry in rest:
                self._skip(entry.name, f"not read: {limit}")
        else:
            self._skip(container, f"{len(rest):,} more files in this zip not read: {limit}")

    def _take(self, entry: Entry, depth: int) -> None:
        self.budget.files += 1
        data = entry.read(self.budget)
        if not data or data.isspace():
            raise Skip("empty file (0 bytes)" if not data else "empty: the file holds only whitespace")
        kind = sniff(data, suffix(entry.name))
        if kind == "zip":
            kind, members = open_archive(data, entry.name)
        if kind == "zip":
            self.budget.files -= 1  # a container is not a file of its own; its members count
            return self._open_zip(entry.name, members, depth + 1)
        self.budget.used_bytes += len(data)
        role = eval_role(entry.name, data) if kind == "text" else None
        if role:
            self.eval_files.append((role, entry.name, data))
            return
        docs, notes = _read(entry.name, data, kind, self.opts)
        self.documents.extend(self._cut(docs, notes))
        self.loaded.append((entry.name, len(docs)))
        for note in notes:
            self._skip(entry.name, note)

    def _open_zip(self, name: str, members: list[Entry], level: int) -> None:
        max_depth = self.opts.limits.max_zip_depth
        if level > max_depth:
            raise Skip(f"zip nested {level} levels deep; the limit is {max_depth} (Limits.max_zip_depth)")
        self._take_all(members, level, name)

    def _cut(self, docs: list[Document], notes: list[str]) -> list[Document]:
        limit = self.opts.limits.max_doc_chars
        long = sum(len(d.text) > limit for d in docs)
        if not long:
            return docs
        notes.append(
            f"{long} document(s) longer than {limit:,} characters cut to that length (Limits.max_doc_chars)"
        )
        return [
            replace(d, text=d.text[:limit], meta={**d.meta, "cut": True}) if len(d.text) > limit else d
            for d in docs
        ]

    def _eval_set(self) -> EvalSet | None:
        queries, qrels = pick_pair(self.eval_files, self.split)
        eval_set, used = None, set()
        if queries and qrels:
            try:
                eval_set = build_eval_set(parse_queries(queries[1]), parse_qrels(qrels[1]), qrels[0])
                used = {queries[0], qrels[0]}
                self.loaded += [(queries[0], 0), (qrels[0], 0)]
            except Skip as verdict:
                self._skip(qrels[0], f"evaluation set not built: {verdict}")
                self._skip(queries[0], f"evaluation set not built: {verdict}")
                used = {queries[0], qrels[0]}
        for role, name, _ in self.eval_files:
            if name not in used:
                self._skip(name, self._unused_reason(role, name, queries, qrels))
        return eval_set

    def _unused_reason(self, role: str, name: str, queries, qrels) -> str:
        if role == "queries":
            if qrels is None:
                return (f"queries file without relevance judgments for split '{self.split}': "
                        f"upload qrels/{self.split}.tsv with it to evaluate")
            return f"another queries file ({queries[0]}) was used for the evaluation set"
        if qrels is not None and qrels[0] == name:
            return "relevance judgments without a queries file: upload queries.jsonl with them to evaluate"
        split = base_name(name).rsplit(".", 1)[0]
        return f"relevance judgments for split '{split}', not the '{self.split}' split used here"

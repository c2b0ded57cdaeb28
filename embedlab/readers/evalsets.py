"""Queries and relevance judgments (BEIR qrels) that come with a corpus, turned into an EvalSet."""

from __future__ import annotations

import json
import re

from embedlab.readers.formats import decoded_text
from embedlab.readers.model import EvalSet, Skip, base_name, parent, stem, suffix

_SPLITS = {"train", "dev", "validation", "val", "test"}
_QRELS_HEADER = re.compile(r"^\s*query[-_ ]?id\s+corpus[-_ ]?id", re.IGNORECASE)


def eval_role(name: str, data: bytes) -> str | None:
    """'queries', 'qrels' or None, from the file's place in a BEIR layout and its first line."""
    ext = suffix(name)
    if stem(name).lower() == "queries" and ext in (".jsonl", ".tsv"):
        return "queries"
    first_line = data[:200].decode("utf-8", "replace")
    if ext in (".tsv", ".txt", ".trec", ".qrels") and (
        "qrels" in name.lower() or _QRELS_HEADER.match(first_line)
    ):
        return "qrels"
    return None


def _lines(data: bytes) -> list[str]:
    text, _ = decoded_text(data)
    return [line for line in text.split("\n") if line.strip()]


def parse_queries(data: bytes) -> dict[str, str]:
    queries: dict[str, str] = {}
    for line in _lines(data):
        if line.lstrip().startswith("{"):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            qid, text = record.get("_id", record.get("id")), record.get("text", record.get("query"))
        else:
            qid, _, text = line.partition("\t")
        if qid is not None and isinstance(text, str) and text.strip():
            queries[str(qid).strip()] = text.strip()
    if not queries:
        raise Skip("no queries found: expected JSON lines with '_id' and 'text', or 'id<TAB>text' lines")
    return queries


def parse_qrels(data: bytes) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for line in _lines(data):
        fields = line.split("\t") if "\t" in line else line.split()
        if len(fields) == 4:  # TREC style: query-id, iteration, corpus-id, score
            fields = [fields[0], fields[2], fields[3]]
        if len(fields) != 3:
            continue
        try:
            score = int(float(fields[2]))
        except ValueError:  # the optional header line, or noise
            continue
        qrels.setdefault(fields[0].strip(), {})[fields[1].strip()] = score
    if not qrels:
        raise Skip("no judgments found: expected 'query-id<TAB>corpus-id<TAB>score' lines")
    return qrels


def build_eval_set(queries: dict[str, str], qrels: dict[str, dict[str, int]], source: str = "") -> EvalSet:
    """Keep only the queries that have judgments (and judgments whose query has a text)."""
    kept = {qid: queries[qid] for qid in qrels if qid in queries}
    if not kept:
        raise Skip(f"none of the {len(qrels)} judged queries has a text in the queries file")
    note = f"{len(kept)} queries with judgments" + (f" from {source}" if source else "")
    if len(queries) > len(kept):
        note += f"; {len(queries) - len(kept)} other queries have no judgments here and are left out"
    if len(qrels) > len(kept):
        note += f"; {len(qrels) - len(kept)} judged query ids have no query text"
    return EvalSet(queries=kept, qrels={qid: qrels[qid] for qid in kept}, note=note)


def _split_of(name: str) -> str:
    return stem(name).lower()


def _base(name: str) -> str:
    folder = parent(name)
    return parent(folder) if base_name(folder).lower() == "qrels" else folder


def pick_pair(files: list[tuple[str, str, bytes]], split: str) -> tuple[tuple[str, bytes] | None, ...]:
    """Choose (queries, qrels) among candidate (role, name, data); prefer the qrels of ``split``."""
    qrels = [(n, d) for role, n, d in files if role == "qrels"]
    queries = [(n, d) for role, n, d in files if role == "queries"]
    chosen = next((q for q in qrels if _split_of(q[0]) == split), None)
    chosen = chosen or next((q for q in qrels if split in _split_of(q[0])), None)
    # A lone judgments file with a neutral name ("qrels.tsv") is used; one named for another split is not.
    lone = qrels[0] if len(qrels) == 1 and _split_of(qrels[0][0]) not in _SPLITS else None
    chosen = chosen or lone
    if chosen is None or not queries:
        return None, chosen
    same_dir = [q for q in queries if parent(q[0]) == _base(chosen[0])]
    return (same_dir or queries)[0], chosen

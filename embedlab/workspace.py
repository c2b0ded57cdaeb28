"""Where a comparison's files live: datasets (documents, chunks, eval set), manifests, Milvus.

    <workspace>/milvus.db/                     Milvus Lite (or EMBEDLAB_MILVUS_URI)
    <workspace>/datasets/<key>/                documents.jsonl, chunks.parquet, eval.json, dataset.json
    <workspace>/comparisons/<id>/              manifest.json, per_query.json, projections/
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .chunking import Chunk, Chunking, chunk_documents, chunk_text, corpus_key
from .documents import Document, EvalSet


def default_root() -> Path:
    return Path(os.environ.get("EMBEDLAB_WORKSPACE") or ".embedlab")


@dataclass
class Dataset:
    key: str
    name: str
    documents: list[Document]
    chunks: list[Chunk]
    chunking: Chunking
    eval_set: EvalSet | None = None
    report: dict = field(default_factory=dict)  # loaded / skipped files, for the page
    corpus_key: str = ""  # the chunked texts alone: names the vector collections, so vectors are
    # shared by every dataset with the same texts, whatever evaluation set comes with them

    @property
    def chunk_texts(self) -> list[str]:
        return [c.text for c in self.chunks]


class Workspace:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root else default_root()
        self.root.mkdir(parents=True, exist_ok=True)
        self._store = None
        self._datasets: dict[str, Dataset] = {}
        self.bring_up_to_date()  # before any manifest is read

    @property
    def store(self):
        if self._store is None:
            from .store import Store, default_uri

            self._store = Store(default_uri(self.root))
        return self._store

    def bring_up_to_date(self) -> None:
        """Comparisons recorded when a bundled model's settings held its install path get the
        collection names of the current settings (see ``migrate``); nothing is re-embedded."""
        from . import migrate

        for path in sorted((self.root / "comparisons").glob("*/manifest.json")):
            try:
                if not migrate.needs(path.read_text("utf-8")):
                    continue
                manifest = read_json(path)
                runs = migrate.todo(manifest)
                if not runs:
                    continue
                meta = read_json(self.root / "datasets" / manifest["dataset_key"] / "dataset.json")
                corpus = meta.get("corpus_key") or manifest["dataset_key"].split("-")[0]
                for r in runs:
                    migrate.bring_up(self.store, r, corpus)
            except Exception as e:  # noqa: BLE001 - the workspace still opens; those vectors are made again
                migrate.log.warning("could not bring %s up to date: %s", path.parent.name, e)
                continue
            write_json(path, manifest)

    # -- datasets ---------------------------------------------------------------------------
    def add_dataset(self, documents, chunking: Chunking, eval_set=None, name="", report=None,
                    parent: Dataset | None = None) -> Dataset:
        """``parent``: an earlier version; its unchanged documents' chunks are taken, not cut again."""
        chunks = _chunks(documents, chunking, parent)
        ckey = corpus_key(chunks, chunking)
        key = ckey if eval_set is None else f"{ckey}-{_eval_hash(eval_set)}"
        ds = Dataset(key, name or f"{len(documents)} documents", list(documents), chunks, chunking,
                     eval_set, report or {}, ckey)
        folder = self.root / "datasets" / key
        if not (folder / "dataset.json").exists():
            self._write_dataset(folder, ds)
        self._datasets[key] = ds
        return ds

    def _write_dataset(self, folder: Path, ds: Dataset) -> None:
        import pandas as pd

        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "documents.jsonl", "w", encoding="utf-8") as f:
            for d in ds.documents:
                f.write(json.dumps({"_id": d.id, "title": d.title, "text": d.text, "meta": d.meta}) + "\n")
        pd.DataFrame([c.__dict__ for c in ds.chunks]).to_parquet(folder / "chunks.parquet")
        if ds.eval_set:
            e = ds.eval_set
            write_json(folder / "eval.json", {"queries": e.queries, "qrels": e.qrels,
                                              "generated": e.generated, "note": e.note})
        write_json(folder / "dataset.json", {"key": ds.key, "corpus_key": ds.corpus_key, "name": ds.name,
                                             "chunking": ds.chunking.to_dict(),
                                             "report": ds.report})  # written last: marks complete

    def load_dataset(self, key: str) -> Dataset:
        if key in self._datasets:
            return self._datasets[key]
        from . import heap

        folder = self.root / "datasets" / key
        meta = read_json(folder / "dataset.json")
        with open(folder / "documents.jsonl", encoding="utf-8") as f:  # a line at a time: no second copy
            memo: dict = {}
            docs = [Document(r["_id"], r["title"], r["text"], _shared(r.get("meta") or {}, memo))
                    for r in map(json.loads, f)]
        c = meta["chunking"]
        chunking, ckey = Chunking(c["size"], c["overlap"]), meta.get("corpus_key") or key.split("-")[0]
        chunks = _chunks_of(folder / "chunks.parquet", docs, chunking, ckey)
        ev = read_json(folder / "eval.json") if (folder / "eval.json").exists() else None
        eval_set = EvalSet(ev["queries"], ev["qrels"], ev.get("generated", False), ev.get("note", "")) if ev else None
        ds = Dataset(key, meta["name"], docs, chunks, chunking, eval_set, meta.get("report", {}), ckey)
        self._datasets[key] = ds
        heap.trim()  # parsing freed as much as the dataset holds
        return ds

    def views(self, settings: dict):
        """(collection, chunk texts) of every dataset here, for a model with these settings."""
        from .store import collection_name

        for meta in sorted((self.root / "datasets").glob("*/dataset.json")):
            try:
                key = meta.parent.name
                name = collection_name(settings, read_json(meta).get("corpus_key") or key.split("-")[0])
                if self.store.exists(name):  # only then read its chunks
                    yield name, self.load_dataset(key).chunk_texts
            except (OSError, ValueError, KeyError, AttributeError):  # a damaged dataset: nothing to keep
                continue

    def comparison_dir(self, cid: str) -> Path:
        return self.root / "comparisons" / cid


def _shared(meta: dict, memo: dict) -> dict:
    """``meta`` with its keys and short string values shared between documents: json makes every
    one anew, and 100k documents' meta ({"source", "row", "language", …}) took ~110 MB that way."""
    return {memo.setdefault(k, k): memo.setdefault(v, v) if isinstance(v, str) and len(v) <= 64 else v
            for k, v in meta.items()}


def _chunks_of(path: Path, docs: list[Document], chunking: Chunking, ckey: str) -> list[Chunk]:
    """The chunks stored in ``path``, their texts cut from the documents' own strings: a chunk is
    ``full_text[start:end]`` of its document, and a whole-document chunk is the document's string
    itself (one copy of the corpus in memory, not two). Checked against the corpus key, which hashes
    every chunk's text; a dataset whose stored texts differ from that keeps the stored ones."""
    import pyarrow.parquet as pq

    if pq.ParquetFile(path).metadata.num_rows == 0:
        return []
    table = pq.read_table(path, columns=["doc_id", "ordinal", "start", "end"])
    full = {d.id: d.text if d.full_text == d.text else d.full_text for d in docs}
    chunks = [Chunk(d, o, a, b, full[d] if a == 0 and b == len(full[d]) else full[d][a:b])
              for d, o, a, b in zip(*(table.column(n).to_pylist() for n in table.column_names), strict=True)
              if d in full]
    if len(chunks) == len(table) and corpus_key(chunks, chunking) == ckey:
        return chunks
    table = pq.read_table(path)
    return [Chunk(str(d), int(o), int(a), int(b), str(t)) for d, o, a, b, t in zip(
        *(table.column(n).to_pylist() for n in ("doc_id", "ordinal", "start", "end", "text")), strict=True)]


def _chunks(documents, chunking: Chunking, parent: Dataset | None) -> list[Chunk]:
    if parent is None or parent.chunking != chunking:
        return chunk_documents(documents, chunking)
    by_doc: dict[str, list[Chunk]] = {}
    for c in parent.chunks:
        by_doc.setdefault(c.doc_id, []).append(c)
    before = {d.id: d.full_text for d in parent.documents}
    out: list[Chunk] = []
    for d in documents:  # chunk_text depends on the document alone: same id and text, same chunks
        same = before.get(d.id) == d.full_text
        out.extend(by_doc.get(d.id, []) if same else chunk_text(d.id, d.full_text, chunking))
    return out


def write_json(path: Path, data) -> None:
    """Atomic: a crash mid-write leaves the old file, never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, ensure_ascii=False)
    os.replace(tmp, path)


def read_json(path: Path):
    return json.loads(Path(path).read_text("utf-8"))


def _eval_hash(eval_set: EvalSet) -> str:
    blob = json.dumps([eval_set.queries, eval_set.qrels], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]

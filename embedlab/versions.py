"""Dataset versions: add files to a dataset → a new version and a new comparison reusing vectors.

The old dataset and its comparison are never changed, so an old link opens the old version.
Vectors the models already made are reused by content (see ``vectors``): only the new files'
chunks are embedded.
"""

from __future__ import annotations

from . import comparison
from .documents import Document
from .workspace import Dataset, Workspace


def merged(old: list[Document], new: list[Document]) -> tuple[list[Document], int]:
    """``old`` then every new document whose text is not there yet; an id already taken gets a
    suffix. Returns the documents and how many were added."""
    ids, texts, out = {d.id for d in old}, {d.text for d in old}, list(old)
    for d in new:
        if d.text in texts:
            continue
        doc_id, n = d.id, 2
        while doc_id in ids:
            doc_id, n = f"{d.id}~{n}", n + 1
        out.append(Document(doc_id, d.title, d.text, d.meta))
        ids.add(doc_id)
        texts.add(d.text)
    return out, len(out) - len(old)


def add_version(ws: Workspace, ds: Dataset, documents: list[Document]) -> Dataset:
    docs, added = merged(ds.documents, documents)
    if not added:
        raise ValueError("these files add no document the dataset does not already have")
    version = int(ds.report.get("version", 1)) + 1
    base = ds.report.get("base_name") or ds.name
    report = {**ds.report, "parent": ds.key, "version": version, "added": added, "base_name": base}
    return ws.add_dataset(docs, ds.chunking, ds.eval_set, name=f"{base} · v{version}", report=report, parent=ds)


def add_files(ws: Workspace, comp: comparison.Comparison, documents: list[Document]) -> comparison.Comparison:
    """A new version of ``comp``'s dataset with ``documents`` added, and a comparison of the same
    models on it (not run yet: ``jobs.start`` it)."""
    ds = add_version(ws, ws.load_dataset(comp.dataset_key), documents)
    return comparison.create(ws, ds, comp.models, name=ds.name)

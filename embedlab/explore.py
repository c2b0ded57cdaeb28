"""What the Search page asks: one query → top-k from every model, side by side."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .records import is_hybrid
from .retrieval import open_hybrid, open_model, search


@dataclass(frozen=True)
class Result:
    model: str
    rank: int
    chunk: int
    doc_id: str
    title: str
    text: str
    score: float
    relevant: bool | None = None  # None: no judgements for this query
    shared: int = 1  # how many models returned this document in their top-k


def open_handles(ws, comp, ds, api_keys: dict | None = None) -> dict:
    """Handles for every finished model of the comparison (hybrids after their parts)."""
    handles = {}
    done = [r.id for r in comp.runs() if r.done]
    for mid in [m for m in done if not is_hybrid(m)]:
        handles[mid] = open_model(ds, mid, comp.options(mid), (api_keys or {}).get(mid))
    for mid in [m for m in done if is_hybrid(m)]:
        handles[mid] = open_hybrid(mid, handles)
    return handles


def _collections(comp) -> list[tuple[str, bool]]:
    return [(r.collection, r.sparse) for r in comp.runs() if r.done and not r.hybrid and r.collection]


def prefetch(ws, comp):
    """Start reading the finished models' stored vectors into memory (see ``Store.prefetch``);
    the thread, or None when there is nothing to read or a read is under way already."""
    return ws.store.prefetch(_collections(comp))


def vectors_pending(ws, comp) -> bool:
    """A search now would first wait for some model's vectors to be read into memory."""
    return any(ws.store.needs_read(name) for name, _ in _collections(comp))


def search_all(ws, ds, handles: dict, query: str, k: int = 10, qrels: dict | None = None):
    """Top-k chunks per model for ``query``; marks hits shared by several models and, when
    ``qrels`` (doc id → relevance) is given, relevant hits. Returns (results, ms per model)."""
    titles = {d.id: d.title for d in ds.documents}
    per_model, timings = {}, {}
    for mid, handle in handles.items():
        t = time.perf_counter()
        hits = search(ws.store, handle, [query], k)[0]
        timings[mid] = (time.perf_counter() - t) * 1000
        per_model[mid] = hits
    counts: dict[str, int] = {}
    for hits in per_model.values():
        for doc in {ds.chunks[h.id].doc_id for h in hits}:
            counts[doc] = counts.get(doc, 0) + 1
    out = {}
    for mid, hits in per_model.items():
        out[mid] = [Result(mid, r, h.id, ds.chunks[h.id].doc_id, titles.get(ds.chunks[h.id].doc_id, ""),
                           ds.chunks[h.id].text, h.score,
                           None if qrels is None else qrels.get(ds.chunks[h.id].doc_id, 0) > 0,
                           counts[ds.chunks[h.id].doc_id])
                    for r, h in enumerate(hits, start=1)]
    return out, timings


def moved_most(ws, comp, a: str, b: str, k: int = 10, top: int = 25, limit: int = 20_000) -> list[tuple[int, float]]:
    """(chunk, 1 − Jaccard@k) of the chunks whose neighbourhood changes most from model a to model b,
    in each model's own vector space; [] when either is not a vector model or the corpus is over ``limit``
    chunks and no neighbour lists are stored yet (whole-corpus lists take minutes there)."""
    from .neighbours import comparison_knn, jaccard_at_k, stored_knn
    from .vectors import comp_size, vector_models

    models = vector_models(comp)
    if a not in models or b not in models or a == b:
        return []
    lists = stored_knn(ws, comp, k)
    if lists is None:
        if comp_size(ws, comp) > limit:
            return []
        lists = comparison_knn(ws, comp, k)
    change = 1 - jaccard_at_k(lists[a], lists[b])
    order = np.argsort(-change, kind="stable")[:top]
    return [(int(i), float(change[i])) for i in order]


def neighbours_stored(ws, comp, k: int = 10) -> bool:
    """Every chunk's neighbour lists are stored for this comparison (``moved_most`` is then instant)."""
    from .neighbours import stored_knn

    return stored_knn(ws, comp, k) is not None

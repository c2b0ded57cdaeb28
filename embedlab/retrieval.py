"""Open a model on a dataset (its embedder + its Milvus collection) and search it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from .embedders import get_embedder
from .evaluation import Metrics, doc_run_from_chunks, evaluate
from .fusion import fuse, parse_hybrid
from .records import HybridSpec
from .store import Hit, collection_name

_fitted: dict[tuple, object] = {}  # least recently used first; at most FITTED kept (a dataset's BM25 index)
_fit_lock = threading.Lock()
FITTED = 2


@dataclass
class ModelHandle:
    id: str
    embedder: object
    collection: str

    @property
    def sparse(self) -> bool:
        return self.embedder.sparse


@dataclass
class HybridHandle:
    id: str
    spec: HybridSpec
    parts: list[ModelHandle]
    sparse = False


def open_model(ds, model_id: str, options: dict | None = None, api_key: str | None = None) -> ModelHandle:
    """The embedder for ``model_id`` and the name of its collection for this dataset.

    Corpus-fitted models (BM25) get one instance per dataset: the shared process-wide instance
    would otherwise be refitted under a neighbour's feet.
    """
    options = dict(options or {})
    if api_key:
        options["api_key"] = api_key
    emb = get_embedder(model_id, **options)
    if emb.needs_fit:
        emb = _fitted_copy(model_id, options, ds)
    return ModelHandle(emb.id, emb, collection_name(emb.settings(), ds.corpus_key))


def _fitted_copy(model_id, options, ds):
    key = (model_id, tuple(sorted(options.items())), ds.corpus_key)
    with _fit_lock:
        if key in _fitted:
            _fitted[key] = _fitted.pop(key)
            return _fitted[key]
        from .embedders import fitted

        _fitted[key] = fitted(model_id, ds.chunk_texts, **options)
        while len(_fitted) > FITTED:  # an older dataset's index: fitted again if it is searched again
            del _fitted[next(iter(_fitted))]
        return _fitted[key]


def open_hybrid(model_id: str, handles: dict[str, ModelHandle]) -> HybridHandle:
    spec = parse_hybrid(model_id)
    missing = [p for p in spec.parts if p not in handles]
    if missing:
        raise ValueError(f"{model_id}: add {', '.join(missing)} to the comparison first")
    return HybridHandle(model_id, spec, [handles[p] for p in spec.parts])


def search(store, handle, queries: list[str], k: int) -> list[list[Hit]]:
    """Top-k chunks per query. A hybrid fetches deeper lists from both models, then fuses."""
    if isinstance(handle, HybridHandle):
        depth = max(k, 100)
        lists = [search(store, h, queries, depth) for h in handle.parts]
        fused = []
        for per_model in zip(*lists, strict=True):
            ranked = [[(h.id, h.score) for h in hits] for hits in per_model]
            fused.append([Hit(pk, s) for pk, s in fuse(handle.spec, ranked, k)])
        return fused
    vecs = handle.embedder.encode_queries(queries)
    return store.search(handle.collection, vecs, k, handle.sparse)


def doc_run(hits_per_query: dict[str, list[Hit]], chunk_doc_ids: list[str], n_docs: int = 100):
    """Documents scored by their best chunk (``evaluation.doc_run_from_chunks``); the top ``n_docs``
    documents per query."""
    chunk_run = {q: ((chunk_doc_ids[h.id], h.score) for h in hits) for q, hits in hits_per_query.items()}
    best = doc_run_from_chunks(chunk_run)
    return {q: dict(sorted(docs.items(), key=lambda kv: -kv[1])[:n_docs]) for q, docs in best.items()}


def evaluate_queries(store, handle, ds, queries: dict[str, str], qrels: dict, qids: list[str],
                     ks: tuple[int, ...] = (1, 3, 5, 10, 100)) -> tuple[Metrics, float]:
    """Search ``qids`` in the model's stored chunks (deep enough for ~100 documents), score documents
    by their best chunk and evaluate them: (metrics, seconds the searches took)."""
    t = time.perf_counter()
    hits = search(store, handle, [queries[q] for q in qids], chunk_depth(len(ds.chunks), len(ds.documents)))
    seconds = time.perf_counter() - t
    run = doc_run(dict(zip(qids, hits, strict=True)), [c.doc_id for c in ds.chunks])
    return evaluate({q: qrels[q] for q in qids}, run, ks=ks), seconds


def chunk_depth(n_chunks: int, n_docs: int, want_docs: int = 100) -> int:
    """How many chunks to fetch so that ~``want_docs`` distinct documents come back."""
    per_doc = n_chunks / max(n_docs, 1)
    return int(min(n_chunks, 16384, max(want_docs, np.ceil(want_docs * per_doc * 1.5))))


def query_latency_ms(store, handle, queries: list[str], k: int = 10, n: int = 30) -> list[float]:
    """Wall time of encode + search for single queries, as a user's search would run."""
    samples = []
    if queries:  # the first call pays one-off costs (lazy loads, caches): not a user's latency
        search(store, handle, queries[:1], k)
    for q in queries[:n]:
        t = time.perf_counter()
        search(store, handle, [q], k)
        samples.append((time.perf_counter() - t) * 1000)
    return samples

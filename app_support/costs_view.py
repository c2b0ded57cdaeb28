"""Measurements behind the Costs page: tokens under each model's tokenizer, sparse density,
timings from the run; cached per comparison and model."""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

from app_support.state import Current, api_keys, workspace
from embedlab import catalog, comparison, costs
from embedlab.chunking import truncation_report
from embedlab.records import is_hybrid
from embedlab.retrieval import open_model

NNZ_SAMPLE = 256  # chunks encoded to measure a sparse model's mean non-zeros per vector
TIMING_SAMPLE = 64  # chunks timed when the run itself measured nothing (it reused stored vectors)


def _sample_seconds_per_chunk(emb, texts: list[str]) -> float | None:
    """Wall time per chunk on an evenly spread sample, after a warm-up batch. Not for paid
    endpoints: a measurement must not cost the user money."""
    if emb.id.startswith("openai:") or not texts:
        return None
    sample = texts[:: max(1, len(texts) // TIMING_SAMPLE)][:TIMING_SAMPLE]
    emb.encode_documents(sample[:4])
    t = time.perf_counter()
    emb.encode_documents(sample)
    return (time.perf_counter() - t) / len(sample)


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
           "sparse": emb.sparse, "dim": None if emb.sparse else emb.dim,
           "sample_s_per_chunk": None if comp.run(mid).chunks_per_s else
           _sample_seconds_per_chunk(emb, ds.chunk_texts)}
    if emb.sparse:
        step = max(1, len(ds.chunks) // NNZ_SAMPLE)
        vecs = emb.encode_documents(ds.chunk_texts[::step][:NNZ_SAMPLE])
        out["nnz_mean"] = float(np.diff(vecs.indptr).mean()) if vecs.shape[0] else 0.0
    return out


def rows(cur: Current) -> tuple[list[dict], dict]:
    """cost_table input rows for the finished single models, and their token measurements."""
    out, stats = [], {}
    for mid in cur.done_models():
        if is_hybrid(mid):
            continue
        r = cur.comp.run(mid)
        m = measure(cur.comp.id, mid, api_keys(cur.comp))
        stats[mid] = m
        embedded, n = r.embedded_now or 0, len(cur.ds.chunks)
        if embedded:  # a resumed run timed only its own part: scale it to the whole corpus
            seconds, source = (r.embed_seconds or 0) * n / embedded, "this run"
        elif r.chunks_per_s:  # stored vectors reused: the speed an earlier run measured
            seconds, source = n / r.chunks_per_s, "earlier run"
        elif m.get("sample_s_per_chunk") is not None:
            seconds, source = m["sample_s_per_chunk"] * n, f"timed on {TIMING_SAMPLE} chunks"
        else:
            seconds, source = None, "not measured"
        out.append({"model": mid, "chunks": n, "tokens": m["total"], "embed_seconds": seconds or 0.0,
                    "measured": seconds is not None, "timing": source, "query_ms_p50": r.query_ms_p50,
                    "query_ms_p95": r.query_ms_p95, "dim": m["dim"], "nnz_mean": m.get("nnz_mean")})
    return out, stats


def price_rows(model_ids: list[str]) -> list[dict]:
    """The catalog's price per model and where it comes from, for the editable table."""
    table = []
    for mid in model_ids:
        card = catalog.get_card(mid)
        table.append({"model": mid, costs.PRICE_COLUMN: card.price_per_1m_tokens if card else None,
                      "source": (card.price_source or "catalog") if card else "not in the catalog — type a price"})
    return table

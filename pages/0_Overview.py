"""Overview: what this comparison holds, how far its run is, and the headline numbers."""

import pandas as pd
import streamlit as st

from app_support import language_view, progress, state, verdict_view, widgets
from app_support.text import md_escape
from embedlab.chunking import truncation_warnings

cur = state.require_current()
comp, ds = cur.comp, cur.ds

st.title(md_escape(comp.name or "Comparison"))
st.caption(f"Comparison `{comp.id}` · created {comp.created} · chunks of {comp.chunking.get('size')} "
           f"{comp.chunking.get('tokenizer', '')} tokens, overlap {comp.chunking.get('overlap')}")
progress.run_panel(cur)

c1, c2, c3, c4 = st.columns(4)
c1.metric("Documents", f"{len(ds.documents):,}")
c2.metric("Chunks", f"{len(ds.chunks):,}")
c3.metric("Models", len(comp.model_ids))
c4.metric("Eval queries", f"{len(ds.eval_set.qrels):,}" if ds.eval_set else "none")
if ds.eval_set and ds.eval_set.generated:
    st.caption(f"The evaluation set was generated from the documents. {md_escape(ds.eval_set.note)}")
language_view.overview(cur)  # languages of the documents; models that do not cover them
for warning in truncation_warnings(comp.runs()):  # a model that cut many chunks short scored only their starts
    st.warning(md_escape(warning), icon=":material/content_cut:")

metric = verdict_view.chosen_metric()
judgement = verdict_view.judgement(cur, metric) if ds.eval_set else None
if judgement is not None:
    verdict_view.recommendation_card(judgement)
rows = []
for r in comp.runs():
    ci = r.ci.get(metric)
    rows.append({"model": r.id, "status": r.status, "tier": judgement.verdict.tier_of(r.id) if judgement else None,
                 "nDCG@10": r.metrics.get("ndcg@10"),
                 f"95 % CI of {metric}": f"{ci[0]:.3f} – {ci[1]:.3f}" if ci else None,
                 "recall@100": r.metrics.get("recall@100"), "MRR@10": r.metrics.get("mrr@10"),
                 "chunks / s": r.chunks_per_s, "query ms p50": r.query_ms_p50, "error": r.error or ""})
st.subheader("Models")
frame = pd.DataFrame(rows)
numeric = ["nDCG@10", "recall@100", "MRR@10", "chunks / s", "query ms p50"]
frame[numeric] = frame[numeric].astype(float)  # blank, not "None", while a model is running
if not ds.eval_set:
    frame = frame.drop(columns=["tier", "nDCG@10", f"95 % CI of {metric}", "recall@100", "MRR@10"])
if not frame["error"].any():
    frame = frame.drop(columns=["error"])
st.dataframe(frame, hide_index=True, placeholder="–", column_config={
    "tier": st.column_config.NumberColumn(help="Statistical tier on the verdict metric: models in one tier are tied "
                                          "(paired randomization test, Holm-corrected)"),
    "nDCG@10": st.column_config.ProgressColumn(format="%.3f", min_value=0, max_value=1),
    "recall@100": st.column_config.ProgressColumn(format="%.3f", min_value=0, max_value=1),
    "MRR@10": st.column_config.ProgressColumn(format="%.3f", min_value=0, max_value=1),
    "chunks / s": st.column_config.NumberColumn(format="%.1f", help="embedding speed measured during the run"),
    "query ms p50": st.column_config.NumberColumn(format="%.1f")})

verdict_view.evaluation_card(comp)
with st.expander("Model cards — the eight factors, with sources", icon=":material/badge:"):
    widgets.cards_table(comp.model_ids)
    language_view.analyzers(comp)  # the analyzer BM25 chose for this corpus

st.subheader("Explore")
links = st.columns(4)
for col, (page, label, icon, what) in zip(links, [
        ("pages/2_Map.py", "Map", ":material/scatter_plot:", "Aligned maps of every model's space"),
        ("pages/4_Search.py", "Search", ":material/search:", "One query, every model's top-k"),
        ("pages/5_Metrics.py", "Metrics", ":material/leaderboard:", "nDCG, recall, MRR, per-query wins"),
        ("pages/6_Costs.py", "Costs & latency", ":material/payments:", "Time, tokens, storage, price")],
        strict=True):
    with col.container(border=True):
        st.page_link(page, label=label, icon=icon, query_params={"c": comp.id})
        st.caption(what)

"""Costs & latency: measured time, tokens, storage and price, projected to the corpus you plan."""

import pandas as pd
import streamlit as st

from app_support import charts, costs_view, progress, state
from embedlab import costs

PAGE = "costs"
cur = state.require_current()
comp, ds = cur.comp, cur.ds

st.title("Costs & latency")
progress.run_panel(cur, compact=True)  # nothing when the run is complete
st.caption("Times were measured on this server during the run; tokens are counted with each model's own "
           "tokenizer; prices come from EmbedLab's catalog (edit them below). Projections scale linearly.")
if not cur.done_models():
    st.info("No model has finished embedding yet — the Overview page shows progress.")
    st.stop()

with st.spinner("Counting tokens under each model's tokenizer…"):
    rows, stats = costs_view.rows(cur)
models = [r["model"] for r in rows]

c1, c2, c3 = st.columns([2, 2, 1.4])
docs_per_chunk = len(ds.documents) / max(len(ds.chunks), 1)
with c1:
    target_docs = state.url_widget(PAGE, "docs", st.number_input, "Project to a corpus of (documents)", 1_000_000,
                                   parse=int, valid=lambda v: v >= 1, min_value=1, step=10_000)
with c2:
    monthly = state.url_widget(PAGE, "qpm", st.number_input, "Queries per month", 100_000, parse=int,
                               valid=lambda v: v >= 0, min_value=0, step=10_000)
with c3:
    st.metric("This corpus", f"{len(ds.documents):,} docs")
    st.caption(f"{len(ds.chunks):,} chunks of {comp.chunking.get('size')} tokens")

st.subheader("Prices")
edited = st.data_editor(pd.DataFrame(costs_view.price_rows(models)), hide_index=True, disabled=["model", "source"],
                        key="costs:prices", column_config={costs.PRICE_COLUMN: st.column_config.NumberColumn(
                            min_value=0.0, format="%.4f"), "source": st.column_config.TextColumn(width="large")})
catalog_prices = {r["model"]: r[costs.PRICE_COLUMN] for r in costs_view.price_rows(models)}
table = costs.cost_table(rows, costs.price_overrides(edited.to_dict("records"), catalog_prices))
measured, projected, target_chunks = costs.cost_report(table, stats, target_docs, docs_per_chunk, monthly)

num = {c: st.column_config.NumberColumn(format="%.2f") for c in
       ["tokens / chunk", "over context %", "embed ms / chunk", "embed ms / 1k tokens", "storage MB",
        "embedding time h", "storage GB"]}
money = {c: st.column_config.NumberColumn(format="$%.4f") for c in
         ["cost of this corpus $", "embedding cost $", "queries / month $"]}
st.subheader("Measured on this corpus")
st.dataframe(pd.DataFrame(measured), hide_index=True, placeholder="–", column_config={**num, **money})
st.caption("Embed times are the run's own; where the run reused stored vectors they were timed on a sample "
           f"here. Over context: chunks longer than the model's window (it truncates them). Storage: float32 "
           f"vectors plus an {costs.INDEX_NOTE.removeprefix('index_estimate is an estimate: ')} (estimate).")
st.subheader(f"Projected: {target_docs:,} documents, {monthly:,} queries a month")
st.caption(f"≈{target_chunks:,} chunks at this corpus's {1 / docs_per_chunk:.2f} chunks per document.")
st.dataframe(pd.DataFrame(projected), hide_index=True, placeholder="–", column_config={**num, **money})
st.subheader("Query latency")
timed = [r for r in comp.runs() if r.done and r.query_ms_p50 is not None]
if timed:
    st.plotly_chart(charts.latency_bar(timed), config=charts.PNG, key="latency")
    st.caption("Encode + search of one query at a time, over the eval queries. Hybrids store nothing of "
               "their own: they cost what their two parts cost, and query both.")
else:
    st.info("Query latency is measured with the evaluation set; this comparison has none.")

"""Metrics: retrieval quality per model on the evaluation set, and per-query wins between two."""

import pandas as pd
import streamlit as st

from app_support import charts, progress, state, widgets
from app_support.text import md_escape, shorten
from embedlab import comparison, evaluation

PAGE = "metrics"
cur = state.require_current()
comp, ds = cur.comp, cur.ds

st.title("Metrics")
progress.run_panel(cur, compact=True)  # nothing when the run is complete
if not ds.eval_set:
    widgets.no_eval_info()
    st.stop()
scored = {m: comp.results[m]["metrics"] for m in comp.model_ids if comp.results.get(m, {}).get("metrics")}
if not scored:
    st.info("No model has been evaluated yet — the Overview page shows the run's progress.")
    st.stop()
if ds.eval_set.generated:
    st.warning(f"Generated evaluation set. {md_escape(ds.eval_set.note)}", icon=":material/auto_awesome:")
st.caption(f"{len(ds.eval_set.qrels):,} judged queries; documents are scored by their best chunk. "
           "nDCG, recall, MRR and MAP as trec_eval computes them.")

columns = ["ndcg@10", "recall@10", "recall@100", "mrr@10", "map@100"]
table = pd.DataFrame([{"model": m, **{c: v.get(c) for c in columns},
                       "queries": comp.results[m].get("n_queries")} for m, v in scored.items()])
bar = {c: st.column_config.ProgressColumn(format="%.4f", min_value=0.0, max_value=1.0) for c in columns}
st.dataframe(table, hide_index=True, placeholder="–", column_config=bar)
st.plotly_chart(charts.metrics_bar(scored), config=charts.PNG, key="metrics_bar")
st.download_button("Metrics as CSV", table.to_csv(index=False), file_name=f"embedlab-{comp.id[:8]}-metrics.csv",
                   mime="text/csv", icon=":material/download:")

st.subheader("Per-query wins and losses")
per_query = comparison.per_query(cur.ws, comp)
models = [m for m in scored if m in per_query]
if len(models) < 2:
    st.info("Per-query comparison needs two evaluated models.")
    st.stop()
a_col, b_col, m_col = st.columns(3)
with a_col:
    a = state.url_widget(PAGE, "a", st.selectbox, "Model A", models[0], valid=lambda v: v in models,
                         options=models)
with b_col:
    b = state.url_widget(PAGE, "b", st.selectbox, "Model B", models[1], valid=lambda v: v in models,
                         options=models)
with m_col:
    names = list(next(iter(per_query[a].values()), {}).keys()) or ["ndcg@10"]
    metric = state.url_widget(PAGE, "metric", st.selectbox, "Metric", "ndcg@10", valid=lambda v: v in names,
                              options=names)
rows = evaluation.per_query_wins(per_query[a], per_query[b], metric)
wins, losses = sum(r[3] > 0 for r in rows), sum(r[3] < 0 for r in rows)
w1, w2, w3 = st.columns(3)
w1.metric(f"{md_escape(a)} better", wins)
w2.metric(f"{md_escape(b)} better", losses)
w3.metric("Ties", len(rows) - wins - losses)
st.plotly_chart(charts.wins_bar(rows, a, b, metric), config=charts.PNG, key="wins_bar")
frame = pd.DataFrame([{"query id": q, "query": shorten(ds.eval_set.queries.get(q, ""), 200), a: va, b: vb,
                       "A − B": d} for q, va, vb, d in rows])
st.dataframe(frame, hide_index=True, placeholder="–", height=320,
             column_config={"A − B": st.column_config.NumberColumn(format="%+.3f"),
                            a: st.column_config.NumberColumn(format="%.3f"),
                            b: st.column_config.NumberColumn(format="%.3f")})
st.download_button("Per-query table as CSV", frame.to_csv(index=False),
                   file_name=f"embedlab-{comp.id[:8]}-{metric}-per-query.csv", mime="text/csv",
                   icon=":material/download:")
if a == b:
    st.caption("Model A and B are the same model: pick two different ones.")

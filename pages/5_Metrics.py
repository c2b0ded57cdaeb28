"""Metrics: the verdict (tiers with intervals, paired tests, quality against cost), every metric with its
interval, and the disagreement explorer."""

import pandas as pd
import streamlit as st

from app_support import charts, language_view, progress, state, verdict_view, widgets
from app_support.text import md_escape
from embedlab import comparison

PAGE = "metrics"
cur = state.require_current()
comp, ds = cur.comp, cur.ds

st.title("Metrics")
progress.run_panel(cur, compact=True)  # nothing when the run is complete
if not ds.eval_set:
    widgets.no_eval_info()
    st.stop()
scored = {r.id: r for r in comp.runs() if r.metrics}
if not scored:
    st.info("No model has been evaluated yet — the Overview page shows the run's progress.")
    st.stop()
if ds.eval_set.generated:
    st.warning(f"Generated evaluation set. {md_escape(ds.eval_set.note)}", icon=":material/auto_awesome:")
st.caption(f"{len(ds.eval_set.qrels):,} judged queries; documents are scored by their best chunk. "
           "nDCG, recall, MRR and MAP as trec_eval computes them.")

st.subheader("Verdict")
metric = verdict_view.metric_picker(PAGE)
judgement = verdict_view.judgement(cur, metric)
if judgement is None:
    st.info("No per-query results yet.")
    st.stop()
verdict_view.tiers(judgement)

st.subheader("Every metric, with its 95 % interval")
columns = ["ndcg@10", "recall@10", "recall@100", "mrr@10", "map@100"]
rows = []
for m, run in scored.items():
    rows.append({"model": m, **{c: run.metrics.get(c) for c in columns},
                 **{f"{c} CI": f"{run.ci[c][0]:.3f} – {run.ci[c][1]:.3f}" for c in columns if c in run.ci},
                 "queries": run.n_queries})
table = pd.DataFrame(rows)
bar = {c: st.column_config.ProgressColumn(format="%.4f", min_value=0.0, max_value=1.0) for c in columns}
st.dataframe(table, hide_index=True, placeholder="–", column_config=bar,
             column_order=["model", *[x for c in columns for x in (c, f"{c} CI")], "queries"])
st.download_button("Metrics as CSV", table.to_csv(index=False), file_name=f"embedlab-{comp.id[:8]}-metrics.csv",
                   mime="text/csv", icon=":material/download:")

per_query = comparison.per_query(cur.ws, comp)
tabs = st.tabs(["Pairwise tests", "Quality vs cost", "Disagreements", "All metrics"])
with tabs[0]:
    verdict_view.pairwise(judgement)
with tabs[1]:
    verdict_view.pareto(cur, judgement, PAGE)
with tabs[2]:
    verdict_view.disagreement(cur, judgement, PAGE)
with tabs[3]:
    bars = charts.metrics_bar({m: run.metrics for m, run in scored.items()})
    st.plotly_chart(bars, config=charts.PNG, key="metrics_bar")
language_view.per_language(cur, per_query, metric)  # per query language, when there are several

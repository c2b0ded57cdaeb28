"""Share & export: the link to this comparison, the HTML report, metrics as CSV."""

import pandas as pd
import streamlit as st

from app_support import bundle_view, state, verdict_view, widgets
from embedlab import comparison
from embedlab.report import build_report

cur = state.require_current()
comp, ds = cur.comp, cur.ds

st.title("Share & export")
st.subheader("Link")
widgets.copy_link()
st.caption("Every page keeps its state in the URL (comparison, selected point, colouring, query, k, "
           "models), so a link copied from any page reopens that view. Maps are cached with the "
           "comparison: a teammate's first visit computes nothing that was computed before.")

if ds.eval_set and (judgement := verdict_view.judgement(cur)) is not None:
    st.subheader("Verdict")
    verdict_view.recommendation_card(judgement)
    verdict_view.tiers(judgement)
verdict_view.evaluation_card(comp)

st.subheader("Report")
st.caption("One self-contained HTML file: models and their cards, metrics with a chart, costs and "
           "latency, and example searches. It opens offline; all document text is escaped.")
keys = state.api_keys(comp)


def _report() -> str:
    # Runs on a separate thread when the button is clicked: only plain engine calls here.
    return build_report(cur.ws, comparison.load(cur.ws, comp.id), keys)


st.download_button("Download HTML report", _report, file_name=f"embedlab-{comp.id[:8]}-report.html",
                   mime="text/html", icon=":material/description:", type="primary", on_click="ignore",
                   disabled=not cur.done_models())

bundle_view.bundle_section(cur)

st.subheader("Data")
rows = [{"model": r.id, **r.metrics} for r in comp.runs()]
if ds.eval_set and any(len(r) > 1 for r in rows):
    st.download_button("Metrics as CSV", pd.DataFrame(rows).to_csv(index=False),
                       file_name=f"embedlab-{comp.id[:8]}-metrics.csv", mime="text/csv",
                       icon=":material/table:")
else:
    widgets.no_eval_info()
st.caption("Maps export as PNG from the camera icon in each chart's toolbar (Map and Neighbourhoods pages).")
with st.expander("Manifest (choices and results; never an API key)"):
    st.json({"id": comp.id, "name": comp.name, "dataset": comp.dataset_key, "chunking": comp.chunking,
             "models": comp.models, "results": comp.results})

"""Neighbourhoods: how much the models agree on each chunk's nearest neighbours, and the chunks
where they disagree most."""

import numpy as np
import pandas as pd
import streamlit as st

from app_support import charts, hoods, progress, results, state
from app_support.maps import KNN_LIMIT
from app_support.text import md_escape, shorten
from embedlab import neighbours, projection

PAGE = "hoods"
cur = state.require_current()
comp, ds = cur.comp, cur.ds

st.title("Neighbourhoods")
progress.run_panel(cur, compact=True)  # nothing when the run is complete
all_models = projection.vector_models(comp)
if len(all_models) < 2:
    st.info("Neighbourhood agreement needs two models with stored vectors — the Overview page shows progress.")
    st.stop()
st.caption("For every chunk, each model's k nearest chunks (exact cosine). Two models that list the same "
           "neighbours see the corpus alike. Jaccard@k counts shared neighbours; rank-biased overlap (RBO, "
           "p = 0.9) also weighs where in the list they appear.")

c1, c2 = st.columns([1, 4])
with c1:
    k = state.url_widget(PAGE, "k", st.number_input, "k", 10, parse=int, valid=lambda v: 2 <= v <= 50,
                         min_value=2, max_value=50)
with c2:
    chosen = state.url_widget(PAGE, "m", st.multiselect, "Models", all_models, fmt=",".join,
                              parse=lambda s: [m for m in s.split(",") if m in all_models],
                              valid=lambda v: isinstance(v, list) and len(v) >= 1, options=all_models)
if len(chosen) < 2:
    st.info("Choose at least two models.")
    st.stop()

with st.spinner("Finding every chunk's neighbours under each model…"):
    knn_all, rows = hoods.knn_lists(cur.ws, comp, int(k))
knn = {m: knn_all[m] for m in chosen}
if len(rows) < len(ds.chunks):
    st.caption(f"{len(ds.chunks):,} chunks: agreement is measured within a seeded sample of {KNN_LIMIT:,}.")

left, right = st.columns(2)
for col, measure, title in ((left, "jaccard", f"Mean Jaccard@{k}"), (right, "rbo", f"Mean RBO@{k} (p = 0.9)")):
    names, matrix = neighbours.overlap_matrix(knn, measure)
    col.plotly_chart(charts.heatmap(matrix, names, title), config=charts.PNG, key=f"heat:{measure}")

st.subheader("Where the models disagree most")
top = hoods.disagreeing(knn, rows, 25)
frame = pd.DataFrame([{"chunk": c, "disagreement": s, "document": ds.chunks[c].doc_id,
                       "text": shorten(ds.chunks[c].text, 140)} for c, s in top])
event = st.dataframe(frame, hide_index=True, on_select="rerun", selection_mode="single-row", key="hoods:top",
                     column_config={"disagreement": st.column_config.ProgressColumn(format="%.2f", min_value=0.0,
                                                                                    max_value=1.0),
                                    "text": st.column_config.TextColumn(width="large")})
picked_rows = event.selection.rows if event else []
chunk = state.param(PAGE, "p", None, int)
if picked_rows:
    chunk = int(frame.iloc[picked_rows[0]]["chunk"])
if chunk is None or not 0 <= chunk < len(ds.chunks):
    chunk = top[0][0]
state.publish(PAGE, p=chunk)

st.markdown(f"**Chunk {chunk}** · document {md_escape(ds.chunks[chunk].doc_id)} — select another row above.")
st.text(shorten(ds.chunks[chunk].text, 500))
row = int(np.searchsorted(rows, chunk))
if row < len(rows) and rows[row] == chunk:
    results.neighbour_table(ds, {m: [int(i) for i in knn[m][row]] for m in chosen})
st.page_link("pages/2_Map.py", label="See it on the maps", icon=":material/scatter_plot:",
             query_params={"c": comp.id, "p": str(chunk)})

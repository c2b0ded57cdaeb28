"""Search: one query, every model's top-k side by side; shared and relevant hits marked."""

import streamlit as st

from app_support import progress, results, state
from app_support.text import md_escape, shorten

PAGE = "search"
cur = state.require_current()
ds = cur.ds

st.title("Search")
progress.run_panel(cur, compact=True)  # nothing when the run is complete
st.caption("The same query against every model. A badge says how many models returned the same "
           "document, and — when the query comes from the evaluation set — whether it is judged relevant.")
if not cur.done_models():
    st.info("No model has finished embedding yet — the Overview page shows progress.")
    st.stop()

queries = ds.eval_set.queries if ds.eval_set else {}
judged = [q for q in queries if ds.eval_set and q in ds.eval_set.qrels]


def _pick_eval_query():
    qid = st.session_state.get(f"w:{PAGE}:qid")
    if qid in queries:
        state.set_widget(PAGE, "q", queries[qid])


linked = state.param(PAGE, "qid")  # a link naming an eval query opens with its text
if linked in queries and not state.param(PAGE, "q") and f"w:{PAGE}:q" not in st.session_state:
    state.set_widget(PAGE, "q", queries[linked])
left, mid, right = st.columns([5, 4, 1], vertical_alignment="bottom")
with left:
    query = state.url_widget(PAGE, "q", st.text_input, "Query", "", placeholder="Type a question or a claim…",
                             on_change=lambda: state.set_widget(PAGE, "qid", None))
with mid:
    if judged:
        state.url_widget(PAGE, "qid", st.selectbox, "…or pick one from the evaluation set", None,
                         valid=lambda v: v is None or v in queries, options=judged, index=None,
                         placeholder=f"{len(judged)} judged queries",
                         format_func=lambda q: f"{q}: {shorten(queries[q], 70)}", on_change=_pick_eval_query)
    else:
        st.caption("No evaluation set: relevance cannot be marked.")
with right:
    k = state.url_widget(PAGE, "k", st.number_input, "k", 10, parse=int, valid=lambda v: 1 <= v <= 100,
                         min_value=1, max_value=100, step=1)

if not query.strip():
    results.prefetch(cur)  # the stored vectors are read while the user types
    st.info("Type a query, or pick one from the evaluation set.", icon=":material/search:")
    st.stop()

text_to_qid = {text: q for q, text in queries.items()}
qid = text_to_qid.get(query)
qrels = ds.eval_set.qrels.get(qid) if qid and ds.eval_set else None
hits, timings = results.handles_search(cur, query, int(k), qrels)
if qid and qrels:
    st.caption(f"Query {md_escape(qid)} from the evaluation set: {len(qrels)} judged document(s).")
results.columns(hits, timings)

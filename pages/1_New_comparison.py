"""New comparison: documents → evaluation set → models → chunking that fits them → run in the background."""

import streamlit as st

from app_support import add_files, new_data, new_models, state, widgets
from app_support.sample import sample_id
from app_support.text import md_escape
from embedlab import comparison, jobs

state.entrypoint_guard()
st.title("New comparison")
left, right = st.columns([3, 1], vertical_alignment="bottom")
left.caption("Upload your documents, pick the models, and EmbedLab embeds them side by side. The run "
             "continues in the background: you can leave this page (or close the tab) and come back.")
if right.button("Open the bundled sample", icon=":material/science:", width="stretch") and sample_id():
    state.open_comparison(sample_id())
    st.switch_page("pages/0_Overview.py", query_params={"c": sample_id()})

st.subheader("1 · Documents", divider="gray")
loaded, default_name = new_data.documents_step()
has_docs = bool(loaded and loaded.documents)
if loaded is not None and not has_docs:
    st.error("No documents could be read from these files — see the reasons above.")
chunking, eval_set = None, None
if has_docs:
    st.subheader("2 · Evaluation set (optional)", divider="gray")
    st.caption("Queries with relevance judgements give nDCG, recall and MRR per model. Without them you "
               "still get maps, neighbourhoods, search and costs.")
    eval_set = new_data.eval_step(loaded)

st.subheader("3 · Models", divider="gray")
models = new_models.models_step()
if models:
    with st.expander(f"Model cards for the {len(models)} chosen models", icon=":material/badge:", expanded=False):
        widgets.cards_table([m["id"] for m in models])

if has_docs:
    st.subheader("4 · Chunking", divider="gray")
    chunking = new_data.chunking_step([m["id"] for m in models], loaded)

st.subheader("5 · Run", divider="gray")
name = st.text_input("Name", max_chars=120, key="new:name", placeholder=default_name or "a name for this comparison")
name = name.strip() or default_name
ready = has_docs and bool(models) and chunking is not None
create = st.button("Create comparison and start embedding", type="primary", icon=":material/rocket_launch:",
                disabled=not ready)
if create:
    ws = state.workspace()
    try:
        with st.spinner("Chunking the documents…"):
            ds = ws.add_dataset(loaded.documents, chunking, eval_set, name=name,
                                report={"loaded": loaded.loaded,
                                        "skipped": [[s.name, s.reason] for s in loaded.skipped]})
        comp = comparison.create(ws, ds, models, name=name)
    except ValueError as e:
        st.error(f"Cannot create this comparison: {md_escape(str(e))}")
        st.stop()
    keys = st.session_state.get("_api_keys", {})
    jobs.start(ws, comp, {**state.api_keys(comp), **{m: k for m, k in keys.items() if m in comp.model_ids}})
    state.open_comparison(comp.id)
    st.switch_page("pages/0_Overview.py", query_params={"c": comp.id})
if not ready:
    st.caption("Needs documents (step 1), at least one model (step 3) and a chunking (step 4).")
add_files.add_files_step()  # a new version of the open comparison's dataset, instead of steps 1-4

"""New comparison page: "Add files to this dataset" → a new dataset version and comparison."""

from __future__ import annotations

import streamlit as st

from app_support import state
from app_support.text import md_escape
from embedlab import documents, jobs, versions


def add_files_step() -> None:
    """Shown when a comparison is open: its dataset grows by new files, as a new version."""
    cur = st.session_state.get("_current")
    if cur is None:
        return
    st.subheader("Or · grow the open dataset", divider="gray")
    with st.expander(f"Add files to this dataset — {md_escape(cur.ds.name)} ({len(cur.ds.documents):,} documents)",
                     icon=":material/library_add:"):
        st.caption("Makes a new version of the dataset and a new comparison with the same models. Only the new "
                   "files' chunks are embedded; every stored vector is reused. The current comparison and its "
                   "link stay as they are.")
        files = st.file_uploader("Files to add", accept_multiple_files=True, key="add:files")
        if st.button("Add and create the new version", icon=":material/library_add:", disabled=not files,
                     key="add:go"):
            _create(cur, files)


def _create(cur, files) -> None:
    with st.spinner(f"Reading {len(files)} file(s)…"):
        loaded = documents.load_uploads([(f.name, f.getvalue()) for f in files])
    if not loaded.documents:
        st.error("No documents could be read from these files: "
                 + md_escape("; ".join(f"{s.name}: {s.reason}" for s in loaded.skipped)))
        return
    try:
        with st.spinner("Chunking the new version…"):
            comp = versions.add_files(cur.ws, cur.comp, loaded.documents)
    except ValueError as e:
        st.error(md_escape(str(e)))
        return
    jobs.start(cur.ws, comp, state.api_keys(comp))
    state.open_comparison(comp.id)
    st.switch_page("pages/0_Overview.py", query_params={"c": comp.id})

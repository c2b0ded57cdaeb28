"""Share page: the comparison as one bundle file (download), and opening a bundle (upload)."""

from __future__ import annotations

import streamlit as st

from app_support import state
from app_support.text import md_escape
from embedlab import bundle


def bundle_section(cur) -> None:
    st.subheader("Bundle")
    st.caption("One file with the dataset, every model's vectors, the maps and the evaluation card, each with "
               "its sha256. Another EmbedLab opens it below (or `python -m embedlab import FILE`) and shows "
               "this comparison without embedding anything — no shared server needed.")
    comp = cur.comp

    def _bundle() -> bytes:  # runs when the button is clicked: plain engine calls only
        return bundle.to_bytes(cur.ws, comp.id)

    st.download_button("Download bundle", _bundle, file_name=f"embedlab-{comp.id[:8]}.zip",
                       mime="application/zip", icon=":material/package_2:", on_click="ignore",
                       disabled=not cur.done_models())
    upload = st.file_uploader("Open a bundle", type=["zip"], key="share:bundle")
    if upload is not None and st.button("Open this bundle", icon=":material/unarchive:", key="share:open"):
        try:
            with st.spinner("Checking and opening the bundle…"):
                opened = bundle.import_bundle(cur.ws, upload.getvalue())
        except bundle.BundleError as e:
            st.error(f"This bundle was refused, nothing was changed: {md_escape(str(e))}", icon=":material/block:")
            return
        state.open_comparison(opened.id)
        st.switch_page("pages/0_Overview.py", query_params={"c": opened.id})

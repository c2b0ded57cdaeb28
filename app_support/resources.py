"""Process-wide resources the other app_support modules share (kept apart so none of them imports another
just for these)."""

from __future__ import annotations

import streamlit as st

from embedlab.workspace import Workspace


@st.cache_resource(show_spinner=False)
def workspace() -> Workspace:
    """One Workspace (and so one Milvus client) per server process."""
    return Workspace()

"""UMAP's numba code compiles on first use (tens of seconds): start that when the server starts,
and let pages say so while it runs instead of looking frozen."""

from __future__ import annotations

import streamlit as st


@st.cache_resource(show_spinner=False)
def start() -> bool:
    """Once per server process; returns at once (the compile runs in the background)."""
    try:
        from embedlab import projection
    except ImportError:
        return False
    projection.warm_up_umap()
    return True


def status() -> str:
    """A short state from embedlab.projection: e.g. "ready", "compiling", "unavailable"."""
    try:
        from embedlab import projection
    except ImportError:
        return "unavailable"
    return str(projection.umap_status())

"""EmbedLab dashboard: ``streamlit run streamlit_app.py``. Page config, navigation, the open comparison."""

import logging
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
logging.getLogger("pymilvus").setLevel(logging.ERROR)

import streamlit as st  # noqa: E402 - the environment above must be set before models load

from app_support import state, warmup, widgets  # noqa: E402

st.set_page_config(page_title="EmbedLab", page_icon=":material/scatter_plot:", layout="wide")

HERE = Path(__file__).parent
PAGES = {
    "Comparison": [("0_Overview.py", "Overview", ":material/dashboard:"),
                   ("1_New_comparison.py", "New comparison", ":material/add_circle:")],
    "Explore": [("2_Map.py", "Map", ":material/scatter_plot:"),
                ("3_Neighbourhoods.py", "Neighbourhoods", ":material/hub:"),
                ("4_Search.py", "Search", ":material/search:")],
    "Evaluate": [("5_Metrics.py", "Metrics", ":material/leaderboard:"),
                 ("6_Costs.py", "Costs & latency", ":material/payments:"),
                 ("7_Robustness.py", "Robustness", ":material/shield:"), ("9_Fit.py", "Fit", ":material/straighten:")],
    "Share": [("8_Share.py", "Share & export", ":material/ios_share:")],
}


def _pages():
    nav = {}
    for section, items in PAGES.items():
        pages = [st.Page(f"pages/{file}", title=title, icon=icon, default=file.startswith("0_"))
                 for file, title, icon in items if (HERE / "pages" / file).exists()]
        if pages:
            nav[section] = pages
    return nav


warmup.start()
st.session_state["_entry_run"] = True  # this session's run came through the entrypoint
page = st.navigation(_pages())
current = state.load_current()
st.session_state["_current"] = current
widgets.style()
link_slot = widgets.sidebar(current)
page.run()
widgets.link_popover(link_slot)  # now with the page's own URL parameters

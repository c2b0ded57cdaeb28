"""The state that lives in the URL (and the session), and the comparison it opens.

The URL is the state a teammate receives: ``?c=<comparison id>`` plus a few page parameters.
Sidebar navigation drops the query string, so each page's last values are also kept in the
session and written back to the URL when the page opens again.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import streamlit as st

from app_support.resources import workspace
from app_support.sample import sample_id
from app_support.text import md_escape
from embedlab import comparison, jobs
from embedlab.store import WorkspaceLockedError
from embedlab.workspace import Dataset, Workspace

ENTRYPOINT = Path(__file__).resolve().parent.parent / "streamlit_app.py"
_STICKY = "_url_state"  # page → {param: value}, in session_state (survives page switches)
RECENT = "_recent_comparisons"  # ids this session created or opened: the picker shows only these


@dataclass
class Current:
    ws: Workspace
    comp: comparison.Comparison
    ds: Dataset

    @property
    def job(self):
        return jobs.get(self.comp.id)

    def done_models(self) -> list[str]:
        return [r.id for r in self.comp.runs() if r.done]


# -- URL parameters ---------------------------------------------------------------------------
def _sticky(page: str) -> dict:
    return st.session_state.setdefault(_STICKY, {}).setdefault(page, {})


def param(page: str, name: str, default=None, parse: Callable = str):
    """The URL's value (parsed), else this session's last value on ``page``, else ``default``.
    A value that does not parse falls back to the default: a hand-edited link never crashes."""
    raw = st.query_params.get(name)
    if raw is None:
        raw = _sticky(page).get(name)
    if raw is None:
        return default
    try:
        return parse(raw)
    except (ValueError, TypeError, KeyError):
        return default


def publish(page: str, **values) -> None:
    """Write page parameters to the URL and to the session; None (or "") removes one."""
    sticky = _sticky(page)
    for name, value in values.items():
        if value is None or value == "":
            sticky.pop(name, None)
            if name in st.query_params:
                del st.query_params[name]
        else:
            sticky[name] = str(value)
            if st.query_params.get(name) != str(value):
                st.query_params[name] = str(value)


def url_widget(page: str, name: str, widget: Callable, label: str, default, parse: Callable = str,
               valid: Callable = lambda v: True, fmt: Callable = str, **kwargs):
    """A widget whose value is seeded from the URL (or the session) and written back to it;
    ``parse`` reads the URL string, ``fmt`` writes it, ``valid`` rejects a hand-edited value."""
    key = f"w:{page}:{name}"
    if key not in st.session_state:
        value = param(page, name, default, parse)
        st.session_state[key] = value if valid(value) else default
    value = widget(label, key=key, **kwargs)
    publish(page, **{name: None if value == default or value is None else fmt(value)})
    return value


def set_widget(page: str, name: str, value, fmt: Callable = str) -> None:
    """Change a URL-bound widget from code (e.g. a click on the map selects a chunk)."""
    st.session_state[f"w:{page}:{name}"] = value
    publish(page, **{name: None if value is None else fmt(value)})


def share_url() -> str:
    """The full link to this view: the browser's URL plus the current query string."""
    base = st.context.url or f"http://localhost:{st.get_option('server.port')}/"
    if urlsplit(base).path == "":
        base += "/"
    query = urlencode({k: st.query_params.get(k) for k in st.query_params})
    return f"{base}?{query}" if query else base


# -- the open comparison ----------------------------------------------------------------------
def comparison_id() -> str | None:
    """``c`` from the URL, else the comparison this session had open, else the sample."""
    cid = st.query_params.get("c") or st.session_state.get("_cid")
    if not cid:
        cid = sample_id()
    return cid


def open_comparison(cid: str) -> None:
    """Make ``cid`` the session's comparison and put it in the URL (page params are reset)."""
    before = st.session_state.get("_cid")
    if before != cid:
        st.session_state[_STICKY] = {}
        for key in [k for k in st.session_state if str(k).startswith("w:")]:
            del st.session_state[key]
        if before is not None:  # switching: a chunk id or a query of the old comparison means nothing here
            for name in [k for k in st.query_params if k != "c"]:
                del st.query_params[name]
    st.session_state["_cid"] = cid
    recent = st.session_state.setdefault(RECENT, [])
    if cid not in recent:
        recent.insert(0, cid)
    st.query_params["c"] = cid


def open_workspace() -> Workspace:
    """The workspace with its vector store open. Milvus Lite admits one process per workspace:
    when another EmbedLab process holds it, every page says so and stops (no page works without
    the store). Not cached on failure: the next run tries again."""
    ws = workspace()
    try:
        ws.store  # noqa: B018 - opens Milvus once per process
    except WorkspaceLockedError as e:
        reason = str(e)
        st.error(f"**Workspace in use.** {md_escape(reason[:1].upper() + reason[1:])}", icon=":material/lock:")
        st.stop()
    return ws


def load_current() -> Current | None:
    """The comparison named by the URL, or an error on the page (never a traceback)."""
    ws = open_workspace()
    cid = comparison_id()
    if not cid:
        return None
    try:
        comp = comparison.load(ws, cid)
        ds = ws.load_dataset(comp.dataset_key)
    except (comparison.ComparisonNotFound, comparison.ManifestCorrupt) as e:
        st.session_state.pop("_cid", None)
        st.error(f"Cannot open this comparison: {e}.", icon=":material/link_off:")
        return None
    except (FileNotFoundError, KeyError, ValueError) as e:
        st.error(f"The data of comparison {cid} is missing or damaged ({type(e).__name__}); "
                 "create it again on the New comparison page — stored vectors are reused.")
        return None
    open_comparison(cid)
    return Current(ws, comp, ds)


def entrypoint_guard() -> None:
    """Make sure streamlit_app.py ran before the page.

    Streamlit treats a ``pages/`` folder as a v1 multipage app until st.navigation has run once
    in the process, and then a deep link (/Map?c=…) runs the page file alone: no navigation, no
    sidebar, no comparison. Here the entrypoint runs instead (its st.navigation opens this same
    page), within this script run so no widget event is lost; then the outer run stops."""
    # A per-session flag: the process-wide PagesManager flag is flipped by other sessions'
    # st.navigation, so simultaneous first visits raced on it.
    if not st.session_state.pop("_entry_run", False):
        import runpy

        runpy.run_path(str(ENTRYPOINT), run_name="__main__")
        st.stop()


def require_current() -> Current:
    """For pages that need a comparison: stop the page (after the error) when there is none."""
    entrypoint_guard()
    cur = st.session_state.get("_current")
    if cur is None:
        st.info("Open a comparison first: follow a link with `?c=<id>`, or create one on the "
                "**New comparison** page.")
        st.page_link("pages/1_New_comparison.py", label="New comparison", icon=":material/add:")
        st.stop()
    return cur


def api_keys(comp) -> dict:
    """Keys for the comparison's openai: models: typed this session, st.secrets, or the env.
    Never written to a manifest, the URL or a log."""
    typed = st.session_state.get("_api_keys", {})
    fallback = _secret("OPENAI_API_KEY") or os.environ.get("OPENAI_API_KEY")
    return {m: typed.get(m) or fallback for m in comp.model_ids
            if m.startswith("openai:") and (typed.get(m) or fallback)}


def _secret(name: str):
    try:
        return st.secrets.get(name)
    except Exception:  # noqa: BLE001 - no secrets.toml is the normal case
        return None

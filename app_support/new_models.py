"""New comparison, step 2: models — bundled, any sentence-transformers id, an OpenAI-compatible
endpoint, and hybrids of a dense and a sparse model. API keys stay in this session only."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_support.text import md_escape
from embedlab.embedders import list_models
from embedlab.embedders.registry import UnknownEmbedderError, canonical_id
from embedlab.records import is_hybrid

DEFAULT = ("minilm", "bm25", "model2vec")
EXTRA = "new:extra"  # [{"id", "options"}] added through the forms below


def _bundled() -> list[str]:
    specs = sorted(list_models(), key=lambda s: not s.bundled)  # bundled first
    frame = pd.DataFrame([{"use": s.id in DEFAULT, "model": s.id, "kind": "sparse" if s.sparse else "dense",
                           "description": s.description} for s in specs])
    edited = st.data_editor(frame, hide_index=True, disabled=["model", "kind", "description"], key="new:bundled",
                            column_config={"use": st.column_config.CheckboxColumn(width="small"),
                                           "description": st.column_config.TextColumn(width="large")})
    return list(edited.loc[edited["use"], "model"])


def _add(entry: dict) -> None:
    extra = st.session_state.setdefault(EXTRA, [])
    if entry["id"] not in [e["id"] for e in extra]:
        extra.append(entry)


def _sentence_transformers() -> None:
    with st.form("new:st", border=False, clear_on_submit=True):
        name = st.text_input("Hugging Face id or local folder", placeholder="BAAI/bge-small-en-v1.5",
                             help="Loaded with sentence-transformers. This server has no internet unless "
                                  "the model is in the local Hugging Face cache or a folder.")
        if st.form_submit_button("Add model") and name.strip():
            _add({"id": "st:" + name.strip().removeprefix("st:"), "options": {}})


def _openai() -> None:
    with st.form("new:openai", border=False, clear_on_submit=True):
        base = st.text_input("Base URL", placeholder="https://api.openai.com/v1 (or vLLM, TEI, Ollama…)")
        model = st.text_input("Model name", placeholder="text-embedding-3-small")
        dims = st.number_input("Dimensions (0 = the model's own)", 0, 8192, 0, 64)
        key = st.text_input("API key", type="password",
                            help="Kept in this browser session only — never in the URL, a manifest or a log. "
                                 "Or set OPENAI_API_KEY / st.secrets on the server.")
        if st.form_submit_button("Add endpoint model") and model.strip():
            mid = "openai:" + model.strip()
            _add({"id": mid, "options": {"base_url": base.strip() or None, "dimensions": int(dims) or None}})
            if key:
                st.session_state.setdefault("_api_keys", {})[mid] = key


def _hybrid(chosen: list[str]) -> None:
    sparse_ids = {s.id for s in list_models() if s.sparse}
    dense = [m for m in chosen if m not in sparse_ids and not is_hybrid(m)]
    sparse = [m for m in chosen if m in sparse_ids]
    if not (dense and sparse):
        st.caption("Choose at least one dense and one sparse model above to fuse them.")
        return
    a, b, c = st.columns([2, 2, 3])
    d = a.selectbox("Dense", dense, key="new:hd")
    s = b.selectbox("Sparse", sparse, key="new:hs")
    method = c.segmented_control("Fusion", ["RRF (k=60)", "Weighted"], default="RRF (k=60)", key="new:hm",
                                 required=True)
    weight = st.slider("Dense share of the weighted score", 0.0, 1.0, 0.5, 0.05, key="new:hw",
                       disabled=method != "Weighted")
    if st.button("Add hybrid", icon=":material/merge:"):
        _add({"id": f"hybrid:{d}+{s}" + (f"@{weight:g}" if method == "Weighted" else ""), "options": {}})


def models_step() -> list[dict]:
    """The chosen models as [{"id", "options"}], hybrids last (they need their parts first)."""
    chosen = _bundled()
    tabs = st.tabs(["Sentence-transformers", "OpenAI-compatible endpoint", "Hybrid"])
    with tabs[0]:
        _sentence_transformers()
    with tabs[1]:
        _openai()
    extra = st.session_state.get(EXTRA, [])
    with tabs[2]:
        _hybrid(chosen + [e["id"] for e in extra])
    models = [{"id": m, "options": {}} for m in chosen] + list(st.session_state.get(EXTRA, []))
    if st.session_state.get(EXTRA):
        keep = st.multiselect("Added models", [e["id"] for e in st.session_state[EXTRA]],
                              default=[e["id"] for e in st.session_state[EXTRA]], key="new:keep")
        st.session_state[EXTRA] = [e for e in st.session_state[EXTRA] if e["id"] in keep]
        models = [{"id": m, "options": {}} for m in chosen] + st.session_state[EXTRA]
    return _valid(sorted(models, key=lambda m: is_hybrid(m["id"])))


def _valid(models: list[dict]) -> list[dict]:
    ok = []
    for m in models:
        try:
            if not is_hybrid(m["id"]):
                canonical_id(m["id"])
            ok.append(m)
        except UnknownEmbedderError as e:
            st.error(md_escape(str(e)))
    return ok

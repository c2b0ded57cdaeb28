"""Widgets every page shares: the sidebar, the copy-link box, model chips and model cards."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_support import language_view
from app_support.state import RECENT, Current, open_comparison, share_url, workspace
from app_support.text import md_escape
from embedlab import catalog, comparison
from embedlab.records import is_hybrid

STATUS_ICON = {"done": "✓", "error": "✗", "embedding": "…"}
CARD_COLUMNS = {"id": "model id", "context_window": "context window", "tokenizer": "tokenizer unit",
                "dimensions": "dimensions", "vocab_size": "vocabulary", "training_data": "training data",
                "price_per_1m": "price / 1M tokens", "scifact_ndcg10": "SciFact nDCG@10",
                "mteb": "MTEB", "domain": "domain", "languages": "languages", "licence": "licence",
                "sources": "sources"}


# Static CSS only (never user text): less empty space above the page title.
CSS = """<style>
.block-container, [data-testid="stMainBlockContainer"] {padding-top: 2.2rem;}
h1 {font-size: 2.1rem !important;}
</style>"""


def style() -> None:
    st.html(CSS)


def sidebar(cur: Current | None):
    """The sidebar; returns the Copy link slot (None without a comparison) for ``link_popover``."""
    slot = None
    with st.sidebar:
        if cur is not None:
            st.markdown(f"**{md_escape(cur.comp.name or 'Comparison')}**")
            st.caption(f"{len(cur.ds.documents):,} documents · {len(cur.ds.chunks):,} chunks · "
                       f"{'eval set' if cur.ds.eval_set else 'no eval set'}")
            model_chips(cur.comp)
            slot = st.empty()
            link_popover(slot)
        _picker(cur)
    return slot


def link_popover(slot) -> None:
    """The sidebar's Copy link, drawn into ``slot``. Drawn before the page runs (a page that
    stops early still has one) and again after: only then does the URL hold the parameters the
    page restored or changed in this run."""
    if slot is not None:
        with slot.container(), st.popover("Copy link", icon=":material/link:", width="stretch"):
            copy_link()


def model_chips(comp) -> None:
    """One small badge per model, coloured by its run status."""
    colours = {"done": "green", "error": "red"}
    with st.container(horizontal=True, gap="small"):
        for run in comp.runs():
            status = run.status
            st.badge(md_escape(run.id), color=colours.get(status, "gray"), help=f"status: {status}")


def copy_link() -> None:
    st.caption("Anyone who can reach this server opens the same comparison and view with this "
               "link — nothing is re-embedded. It holds no API key.")
    st.code(share_url(), language=None, wrap_lines=True)


def _picker(cur: Current | None) -> None:
    """Switch between comparisons this session has opened. The server's other comparisons are
    not listed: an id is the only way in, so a link shares exactly one comparison."""
    recent = list(st.session_state.get(RECENT, []))
    if len(recent) < 2:
        return
    ws = workspace()
    names = {}
    for cid in recent:
        try:
            names[cid] = comparison.load(ws, cid).name
        except (comparison.ComparisonNotFound, comparison.ManifestCorrupt):
            continue
    current = cur.comp.id if cur else None
    choice = st.selectbox("Switch comparison", list(names), index=list(names).index(current) if current in names
                          else None, format_func=lambda c: f"{names[c]} ({c[:6]}…)")
    if choice and choice != current:
        open_comparison(choice)
        st.rerun()


def card_for(model_id: str) -> catalog.ModelCard:
    """The catalog card without loading the model; a blank card for models it does not know."""
    if is_hybrid(model_id):
        return catalog.ModelCard(id=model_id, name=model_id, provider="fusion of two models in this comparison",
                                 notes="Fuses the two models' ranked lists; no vectors of its own.")
    card = catalog.get_card(model_id)
    return card or catalog.ModelCard(id=model_id, name=model_id, provider="not in EmbedLab's catalog",
                                     notes="Unknown to the catalog: facts are read from the model once loaded.")


def cards_table(model_ids: list[str], height: int | str = "auto", shares: dict | None = None) -> None:
    """The eight factors (plus licence and sources) per model, one row each. Hybrids have no
    card of their own: they are their two parts."""
    singles = [m for m in model_ids if not is_hybrid(m)]
    rows = catalog.card_rows([card_for(m) for m in singles])
    frame = pd.DataFrame(rows)[list(CARD_COLUMNS)].rename(columns=CARD_COLUMNS)
    st.dataframe(frame, hide_index=True, placeholder="–", height=height,
                 column_config={"sources": st.column_config.TextColumn(width="large"),
                                "tokenizer unit": st.column_config.TextColumn(width="medium"),
                                "training data": st.column_config.TextColumn(width="medium")})
    language_view.coverage(model_ids, shares or {})  # shares: {language: share} of the documents
    hybrids = [m for m in model_ids if is_hybrid(m)]
    if hybrids:
        st.caption(f"{md_escape(', '.join(hybrids))}: fusion of two models above (RRF, or a weighted sum "
                   "after @), so no card of its own.")


def no_eval_info() -> None:
    st.info("This comparison has no evaluation set — attach one on the **New comparison** page "
            "(upload queries + qrels, or generate known-item queries from the documents).",
            icon=":material/info:")

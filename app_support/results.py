"""Side-by-side result lists (Search page, Map neighbours): one column per model."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_support.state import Current, api_keys
from app_support.text import md_escape, shorten
from embedlab import explore
from embedlab.embedders import EmbedderError
from embedlab.store import StoreError


def handles(cur: Current) -> dict:
    """Search handles for the comparison's finished models (models are cached per process)."""
    return explore.open_handles(cur.ws, cur.comp, cur.ds, api_keys(cur.comp))


def prefetch(cur: Current) -> None:
    """Start reading the comparison's stored vectors into memory while the user types."""
    explore.prefetch(cur.ws, cur.comp)


def handles_search(cur: Current, query: str, k: int, qrels: dict | None = None):
    """Every finished model's top-k for ``query``; an error on the page if a model cannot search."""
    pending = explore.vectors_pending(cur.ws, cur.comp)
    note = " (reading the stored vectors into memory first: once per server process)" if pending else ""
    try:
        with st.spinner(f"Searching every model…{note}"):
            return explore.search_all(cur.ws, cur.ds, handles(cur), query, k, qrels)
    except (EmbedderError, StoreError, ValueError) as e:
        st.error(f"Search failed: {md_escape(str(e))}")
        st.stop()


def _badges(hit: explore.Result, n_models: int) -> str:
    out = []
    if hit.relevant:
        out.append(":green-badge[:material/check: relevant]")
    elif hit.relevant is False:
        out.append(":gray-badge[not relevant]")
    if n_models > 1:
        out.append(f":blue-badge[:material/join_inner: {hit.shared}/{n_models} models]" if hit.shared > 1
                   else ":orange-badge[only here]")
    return " ".join(out)


def hit_card(hit: explore.Result, n_models: int, snippet: int = 240) -> None:
    """One hit: rank, score and badges; the title; the start of the chunk (as plain text)."""
    with st.container(border=True, gap="small"):
        st.markdown(f"**#{hit.rank}** `{hit.score:.3f}` {_badges(hit, n_models)}")
        st.markdown(f"**{md_escape(shorten(hit.title or hit.doc_id, 90))}**")
        text = hit.text  # a document's first chunk starts with its title: do not show it twice
        if hit.title and text.startswith(hit.title):
            text = text[len(hit.title):]
        st.text(shorten(text, snippet))


def columns(results: dict[str, list], timings: dict[str, float] | None = None, per_row: int = 4) -> None:
    """Each model's list in its own column, wrapping after ``per_row`` models; one or two models
    get half the page each rather than a quarter."""
    mids = list(results)
    width = max(2, min(per_row, len(mids)))
    for start in range(0, len(mids), width):
        cols = st.columns(width)
        for col, mid in zip(cols, mids[start : start + width], strict=False):
            with col:
                hits = results[mid]
                judged = [h for h in hits if h.relevant is not None]
                st.markdown(f"##### {md_escape(mid)}")
                meta = []
                if timings and mid in timings:
                    meta.append(f"{timings[mid]:.0f} ms")
                if judged:
                    meta.append(f"{sum(h.relevant for h in judged)} relevant in top {len(hits)}")
                if meta:
                    st.caption(" · ".join(meta))
                for hit in hits:
                    hit_card(hit, len(mids))


def neighbour_table(ds, lists: dict[str, list[int]]) -> None:
    """Neighbour chunk lists side by side, one column per model; [s/m] counts how many of the
    models list that chunk (the agreement the heatmaps average)."""
    counts: dict[int, int] = {}
    for ids in lists.values():
        for c in set(ids):
            counts[c] = counts.get(c, 0) + 1
    table = {m: [f"[{counts[c]}/{len(lists)}] {shorten(ds.chunks[c].text, 120)}" for c in ids]
             for m, ids in lists.items()}
    width = max(map(len, table.values()), default=0)
    frame = pd.DataFrame({m: v + [""] * (width - len(v)) for m, v in table.items()}, index=range(1, width + 1))
    st.dataframe(frame, column_config={m: st.column_config.TextColumn(width="medium") for m in frame.columns})
    st.caption("Rank down the rows. [s/m]: how many of the models have this chunk among their neighbours; "
               "then the start of the chunk (hover a cell for more).")

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


def handles_search(cur: Current, query: str, k: int, qrels: dict | None = None):
    """Every finished model's top-k for ``query``; an error on the page if a model cannot search."""
    try:
        return explore.search_all(cur.ws, cur.ds, handles(cur), query, k, qrels)
    except (EmbedderError, StoreError, ValueError) as e:
        st.error(f"Search failed: {md_escape(str(e))}")
        st.stop()


def hit_card(hit: explore.Result, n_models: int, snippet: int = 320) -> None:
    with st.container(border=True):
        title = md_escape(shorten(hit.title or hit.doc_id, 90))
        st.markdown(f"**#{hit.rank}** · `{hit.score:.3f}` · {title}")
        with st.container(horizontal=True, gap="small"):
            if hit.relevant:
                st.badge("relevant", icon=":material/check:", color="green")
            elif hit.relevant is False:
                st.badge("not judged relevant", color="gray")
            if n_models > 1 and hit.shared > 1:
                st.badge(f"in {hit.shared}/{n_models} models", icon=":material/join_inner:", color="blue")
            elif n_models > 1:
                st.badge("only this model", color="orange")
        st.caption(md_escape(shorten(hit.text, snippet)))


def columns(results: dict[str, list], timings: dict[str, float] | None = None, per_row: int = 4) -> None:
    """Each model's list in its own column, wrapping after ``per_row`` models."""
    mids = list(results)
    for start in range(0, len(mids), per_row):
        cols = st.columns(per_row)
        for col, mid in zip(cols, mids[start : start + per_row], strict=False):
            with col:
                hits = results[mid]
                judged = [h for h in hits if h.relevant is not None]
                head = f"#### {md_escape(mid)}"
                st.markdown(head)
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
    table = {m: [f"[{counts[c]}/{len(lists)}] {ds.chunks[c].doc_id} · {shorten(ds.chunks[c].text, 110)}"
                 for c in ids] for m, ids in lists.items()}
    width = max(map(len, table.values()), default=0)
    frame = pd.DataFrame({m: v + [""] * (width - len(v)) for m, v in table.items()}, index=range(1, width + 1))
    st.dataframe(frame, column_config={m: st.column_config.TextColumn(width="medium") for m in frame.columns})
    st.caption("Rank down the rows. [s/m]: how many of the models have this chunk among their neighbours; "
               "then the document id and the start of the chunk.")

"""The Map's linked selection and filter: a box or lasso on any map selects chunks by id (kept
in the URL as ``sel``, see embedlab.mapdata.encode_ids), every map rings the same chunks, and a
table lists them with their neighbourhood overlap and exports them as CSV. A filter (``f`` and
``fv`` in the URL) hides points on every map at once."""

from __future__ import annotations

import json

import numpy as np
import streamlit as st

from app_support import map_colours, maps, state
from app_support.text import md_escape
from embedlab import mapdata, neighbours, projection

PAGE = "map"
PENDING = "map:pending_sel"
SOURCE, GENERATION = "map:source", "map:generation"
OVERLAP_K = 10
TABLE_ROWS = 2_000  # rows the page's table shows (the CSV: every selected chunk)
ROWS_NOW = 20_000_000  # selected rows × corpus size computed on the spot while the stored lists are not ready


# -- state -------------------------------------------------------------------------------------------
def take_events(models: list[str], n: int) -> None:
    """Apply what the user did on a map since the last run, before any widget is drawn (widgets
    cannot be set after they exist) and in this same run — no second rerun: a new box or lasso
    selects its chunks and drops the clicked chunk and the query; a click selects one chunk and
    drops the query. Each map's event is read from its widget state; one seen before does nothing.
    The maps are not redrawn after a selection, so plotly keeps a map's last box or lasso and sends
    it again with a later click on that map: the same outline as last time means a click."""
    for mid in models:
        event = st.session_state.get(f"map:{mid}")
        got = maps.selection_of(event)
        seen_key, outline_key = f"map:seen:{mid}", f"map:outline:{mid}"
        if got is None or got == st.session_state.get(seen_key):
            st.session_state[seen_key] = got
            continue
        st.session_state[seen_key] = got
        kind, ids = got
        outline = repr({k: ((event or {}).get("selection") or {}).get(k) for k in ("box", "lasso")})
        if kind == "area" and outline == st.session_state.get(outline_key):
            kind, ids = "point", ids[:1]
        st.session_state[outline_key] = outline
        if kind == "area" and ids:
            select([i for i in ids if 0 <= i < n])
            st.session_state[SOURCE] = mid
        elif kind == "point" and ids and 0 <= ids[0] < n:
            state.set_widget(PAGE, "p", ids[0])
            state.set_widget(PAGE, "q", "")
    if PENDING in st.session_state:  # "Clear selection": new figures, without plotly's box or lasso
        select(st.session_state.pop(PENDING))
        st.session_state[GENERATION] = generation() + 1
        st.session_state.pop(SOURCE, None)


def select(ids: list[int]) -> None:
    state.publish(PAGE, sel=mapdata.encode_ids(ids) or None)
    if ids:
        state.set_widget(PAGE, "p", None)
        state.set_widget(PAGE, "q", "")


def generation() -> int:
    """Changes when the maps must be drawn anew (see ``map_overlay.figures``)."""
    return st.session_state.get(GENERATION, 0)


def source(models: list[str]) -> int | None:
    """The index of the map this session's selection was drawn on (None: it came with the link)."""
    mid = st.session_state.get(SOURCE)
    return models.index(mid) if mid in models else None


def current(n: int) -> list[int]:
    """The selected chunk ids (URL ``sel``, else this session's); [] for none or a bad link."""
    try:
        return mapdata.decode_ids(state.param(PAGE, "sel", ""), n)
    except ValueError:
        return []


# -- the filter ----------------------------------------------------------------------------------------
def filter_controls(cur, ms: projection.MapSet, colour_opts: dict[str, str]) -> np.ndarray | None:
    """"Show only" a field's chosen values, on every map; the row mask (None: no filter)."""
    fields = {"": "(everything)", "cluster": "Cluster", **{f: lab for f, lab in colour_opts.items()
                                                           if f in mapdata.fields(cur.ds)}}

    def field_changed():
        st.session_state[f"w:{PAGE}:fv"] = []
        state.publish(PAGE, fv=None)

    c1, c2 = st.columns([1, 3])
    with c1:
        field = state.url_widget(PAGE, "f", st.selectbox, "Show only", "", valid=lambda v: v in fields,
                                 options=list(fields), format_func=fields.get, on_change=field_changed)
    if not field:
        return None
    found = map_colours.colour_by(field, cur.ws, cur.comp, cur.ds, ms)
    names = found.names or []
    with c2:
        chosen = state.url_widget(PAGE, "fv", st.multiselect, f"{fields[field]}: values shown", [],
                                  parse=json.loads, fmt=lambda v: json.dumps(v, ensure_ascii=False),
                                  valid=lambda v: isinstance(v, list) and set(map(str, v)) <= set(names),
                                  options=names, placeholder="every value")
    if not chosen:
        return None
    keep = np.isin(found.values[ms.reference], [names.index(v) for v in chosen])
    st.caption(f"Showing {int(keep.sum()):,} of {len(keep):,} points on every map.")
    return keep


# -- the table -----------------------------------------------------------------------------------------
def overlap(cur, ids: list[int], reference: str, models: list[str]) -> tuple[dict[str, np.ndarray] | None, str]:
    """Per other model: each selected chunk's Jaccard@10 with the reference model's neighbours;
    from the stored whole-corpus lists, or computed for these chunks when that is quick."""
    knn = map_colours.corpus_knn(cur.ws, cur.comp, OVERLAP_K)
    if knn is not None:
        rows = {m: knn[m][ids] for m in models}
    elif len(ids) * projection.comp_size(cur.ws, cur.comp) <= ROWS_NOW:
        rows = {m: neighbours.knn_rows(projection.load_vectors(cur.ws, cur.comp, m), ids, OVERLAP_K)
                for m in models}
    else:
        return None, ("Neighbourhood overlap appears once every chunk's neighbours are computed "
                      "(in the background, once per comparison).")
    per_model = neighbours.reference_overlap(rows, reference)
    return {f"overlap {m}": v for m, v in per_model.items()}, ""


def panel(cur, ids: list[int], reference: str, models: list[str]) -> None:
    """The selected chunks: a table (text, document, overlap per model), CSV export, clear."""
    st.subheader(f"Selection · {len(ids):,} chunks")
    values, note = overlap(cur, ids, reference, models)
    if values:
        st.caption(f"overlap *model*: Jaccard@{OVERLAP_K} of the chunk's {OVERLAP_K} nearest neighbours under "
                   f"that model and under {md_escape(reference)} (the first map), in the original vector "
                   "space — 1 the same neighbours, 0 none in common.")
    elif note:
        st.caption(note)
    shown = ids[:TABLE_ROWS]  # a lasso over a whole map is 50k rows: the CSV has them, the page the first
    frame = mapdata.selection_table(cur.ds, shown, values and {c: v[:TABLE_ROWS] for c, v in values.items()},
                                    text_chars=300)
    if len(ids) > TABLE_ROWS:
        st.caption(f"The first {TABLE_ROWS:,} of {len(ids):,} chunks (by id); the CSV holds them all.")
    st.dataframe(frame, hide_index=True, height=min(36 + 35 * len(frame), 400),
                 column_config={"title": st.column_config.TextColumn(width="medium"),
                                "text": st.column_config.TextColumn(width="large")})
    c1, c2 = st.columns([1, 5])
    # Made when the button is pressed (deferred): whole texts of thousands of chunks are megabytes
    # that every rerun would otherwise build and send.
    c1.download_button("Download CSV", lambda: mapdata.selection_table(cur.ds, ids, values).to_csv(index=False)
                       .encode("utf-8"), "embedlab-selection.csv", "text/csv", on_click="ignore",
                       icon=":material/download:")
    if c2.button("Clear selection", icon=":material/deselect:"):
        st.session_state[PENDING] = []
        st.rerun()

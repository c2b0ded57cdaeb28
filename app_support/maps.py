"""Aligned maps for the Map page: UMAP computed in the background (PCA meanwhile), colourings,
neighbour highlights, and the plotly figures. Built to stay usable at 200k points: coordinates
go to the browser as float32 arrays, and hover text is sent for a sample of points only."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.colors import qualitative, sample_colorscale

from app_support.charts import PALETTE, label, model_colours
from app_support.charts import PNG as PNG_CONFIG
from app_support.text import hover_escape
from embedlab import neighbours, projection

HOVER_POINTS = 20_000  # up to this many points all carry hover text; beyond, a seeded sample does
HOVER_SAMPLE = 5_000  # ~1 MB of text per map instead of ~8 MB at 200k points
DEFAULT_SAMPLE = 50_000  # maps above this size draw a sample unless the user asks for all
KNN_LIMIT = 20_000  # whole-corpus neighbour lists (disagreement colour) up to this many chunks
BINS = 10  # a continuous colouring is drawn in this many steps, one trace each
LEGEND_PX = 87  # the legend shows four rows (8 clusters + rings) and scrolls beyond: 30 values cannot squeeze a map
LEGEND_CHARS = 26  # a category's legend entry is cut here; the hover shows it whole
LABEL_CHARS = 32  # a cluster label drawn on the map is cut here
SCALE_PX = 58  # right margin of every map under a continuous colouring: room for the last map's scale
_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedlab-umap")
_futures: dict[tuple, Future] = {}
_lock = threading.Lock()


def umap_maps(ws, comp, sample: int | None, wait: float = 0.3) -> tuple[projection.MapSet | None, str]:
    """The UMAP map set if ready (cached maps come back within ``wait``), else (None, state)."""
    key = (comp.id, tuple(projection.vector_models(comp)), sample)
    with _lock:
        fut = _futures.get(key)
        if fut is None:  # a failed layout is not retried on every rerun: it would fail the same way
            fut = _futures[key] = _pool.submit(projection.map_set, ws, comp, "umap", sample)
    try:
        return fut.result(timeout=wait), "ready"
    except TimeoutError:
        status = projection.umap_status()
        return None, status if status != "ready" else "computing the UMAP layout…"
    except Exception as e:  # noqa: BLE001 - shown on the page; the PCA maps stay usable
        return None, f"UMAP failed: {type(e).__name__}: {e}"


def pca_maps(ws, comp, sample: int | None) -> projection.MapSet:
    return projection.map_set(ws, comp, "pca", sample)


def colour_options(ds, n_chunks: int | None = None) -> dict[str, str]:
    """Colour-by choices: value → label (see ``map_colours.options``)."""
    from app_support import map_colours

    return map_colours.options(ds)


def colouring(choice: str, ws, comp, ds, maps: projection.MapSet, k: int) -> tuple[np.ndarray, list[str] | None]:
    """The first map's colour values and category names (None: document colours, which cycle
    through the palette, or a continuous value in [0, 1]); ``map_colours.colour_by`` has them all."""
    from app_support import map_colours

    found = map_colours.colour_by(choice, ws, comp, ds, maps, k)
    return found.values[maps.reference], found.names


def colour_title(choice: str) -> str:
    """What a colouring shows, for the hover ("key: value") and a scale's title; "" when the
    category names say it (clusters) or there is nothing to say (document colours)."""
    if choice.startswith(("meta:", "col:")):
        return choice.split(":", 1)[1]
    return "disagreement" if choice == "disagreement" else ""


def hover_texts(ds, ids: np.ndarray) -> list[str]:
    titles = {d.id: d.title for d in ds.documents}
    keep = np.ones(len(ids), bool)
    if len(ids) > HOVER_POINTS:
        keep[:] = False
        keep[np.random.default_rng(0).choice(len(ids), HOVER_SAMPLE, replace=False)] = True
    out = []
    for i, chunk_id in enumerate(ids):
        c = ds.chunks[chunk_id]
        out.append(f"<b>{hover_escape(titles.get(c.doc_id) or c.doc_id, 70)}</b><br>{hover_escape(c.text, 160)}"
                   if keep[i] else "")
    return out


def _step_scale(colours: list[str]) -> list:
    n = len(colours)
    return [s for i, c in enumerate(colours) for s in ((i / n, c), ((i + 1) / n, c))]


def figure(mid: str, maps: projection.MapSet, colour: np.ndarray, names: list[str] | None, hover: list[str],
           highlights: dict[str, list[int]], selected: int | None, models: list[str], show_scale: bool,
           title: str = "", colour_title: str = "", *, selection=None, palette: list[str] | None = None,
           labels: bool = False, visible: np.ndarray | None = None, dragmode: str = "pan",
           highlight_colours: dict[str, str] | None = None, emphasis: set[int] | None = None) -> go.Figure:
    """One model's map: every point coloured, plus each model's neighbour set outlined in that
    model's colour, so one map shows where the other models' neighbours landed. ``show_scale``:
    this map draws the scale of a continuous colouring (every map keeps room for it).

    ``selection``: chunk ids drawn ringed in black on top (the linked selection); ``palette``: a
    colour per category (an ordered field's sequential scale); ``labels``: each category's name
    written at its points' median (cluster labels); ``visible``: a row mask — hidden rows are not
    sent at all (a filter hides them on every map); ``emphasis``: categories drawn large and on top."""
    xy, ids = maps.coords[mid], maps.ids
    continuous = names is None and colour.dtype.kind == "f"
    dim = bool(highlights) or selection is not None and len(selection) > 0
    fig = go.Figure(_chunk_traces(xy, ids, colour, names, hover, colour_title,
                                  dict(size=4 if len(ids) < 20_000 else 2, opacity=0.3 if dim else 0.8),
                                  palette, visible, emphasis))
    if continuous and show_scale:
        fig.add_trace(_scale_trace(colour_title))
    if labels and names:
        _add_labels(fig, xy, colour, names, visible, _span(maps, 0))
    if selection is not None and len(selection):
        _add_selection(fig, mid, maps, selection, visible)
    _add_highlights(fig, mid, maps, highlights, selected, highlight_colours or model_colours(models))
    fig.update_layout(height=470, margin=dict(l=0, r=SCALE_PX if continuous else 0, t=30, b=0), dragmode=dragmode,
                      clickmode="event+select", title=dict(text=title or label(mid), font=dict(size=14)),
                      uirevision=mid, legend=dict(orientation="h", y=-0.02, yanchor="top", font=dict(size=10),
                                                  itemwidth=30, itemsizing="constant", maxheight=LEGEND_PX),
                      xaxis=dict(visible=False, range=_span(maps, 0)), yaxis=dict(visible=False, range=_span(maps, 1)))
    return fig


def _chunk_traces(xy, ids, colour, names, hover, colour_title, marker, palette=None,
                  visible=None, emphasis=None) -> list[go.Scattergl]:
    """The points, one single-colour WebGL trace per category: plotly.js maps a numeric colour
    array through a colorscale point by point (~1 s per 200k points); a constant colour skips
    that. A continuous colouring is drawn in BINS steps. customdata holds the chunk ids; meta[0]
    "chunks" tells these traces from the rings, meta[1] is the category for the hover."""
    groups, colours, entries = _categories(colour, names, palette)
    order = np.argsort(groups, kind="stable")  # points of a category stay in their drawing order
    if visible is not None:
        order = order[np.asarray(visible, bool)[order]]
    bounds = np.searchsorted(groups[order], np.arange(len(colours) + 1))
    text = np.asarray(hover, dtype=object)
    traces = []
    for k, c in enumerate(colours):
        rows = order[bounds[k]:bounds[k + 1]]
        if not len(rows):
            continue
        what = hover_escape(f"{colour_title}: {entries[k]}" if colour_title else entries[k], 80, 999)
        big = emphasis is not None and k in emphasis  # drawn large and opaque, after (over) the rest
        opacity = 1.0 if big else marker["opacity"]
        traces.append(go.Scattergl(
            x=xy[rows, 0], y=xy[rows, 1], mode="markers",
            marker=dict(marker, color=c, **(dict(size=8, opacity=1.0) if big else {})),
            # plotly's own selection look is off (the overlay shows the selection, on every map)
            selected=dict(marker=dict(opacity=opacity)), unselected=dict(marker=dict(opacity=opacity)),
            customdata=ids[rows].astype(np.int32), text=text[rows].tolist(), meta=["chunks", what],
            name=hover_escape(entries[k], LEGEND_CHARS, 999), showlegend=names is not None,
            hovertemplate="chunk %{customdata}" + (" · %{meta[1]}" if what else "") + "<br>%{text}<extra></extra>"))
    if emphasis is not None:
        traces.sort(key=lambda t: t.marker.size == 8)  # stable: the emphasised categories last, on top
    return traces


def _categories(colour: np.ndarray, names: list[str] | None,
                palette: list[str] | None = None) -> tuple[np.ndarray, list[str], list[str]]:
    """Category per point, colour per category, and its name (shown in legend and hover)."""
    if names is None and colour.dtype.kind == "f":
        steps = np.clip(np.nan_to_num(colour) * BINS, 0, BINS - 1).astype(np.int16)
        return steps, _bin_colours(), [f"{i / BINS:.1f}–{(i + 1) / BINS:.1f}" for i in range(BINS)]
    n = len(names) if names is not None else len(PALETTE)
    entries = [str(x) or "(empty)" for x in names] if names is not None else [""] * n
    palette = palette or (PALETTE if n <= len(PALETTE) else qualitative.Dark24)  # 9–30: 24 distinct colours
    return colour.astype(np.int16), [palette[i % len(palette)] for i in range(n)], entries


def _bin_colours() -> list[str]:
    return sample_colorscale("Plasma", [(i + 0.5) / BINS for i in range(BINS)])


def _scale_trace(colour_title: str) -> go.Scattergl:
    """No points, only the colour bar of a continuous colouring, in its BINS steps."""
    return go.Scattergl(x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
                        marker=dict(color=[0.0], cmin=0, cmax=1, colorscale=_step_scale(_bin_colours()),
                                    showscale=True, colorbar=dict(
                                        title=dict(text=hover_escape(colour_title, 30, 999), side="right",
                                                   font=dict(size=10)),
                                        thickness=8, len=0.6, x=1, xanchor="left", xpad=6,
                                        tickvals=[0, 0.5, 1], tickfont=dict(size=10), outlinewidth=0)))


def _span(maps: projection.MapSet, axis: int) -> list[float]:
    """One range for every map: they are aligned, so a point's place on screen compares too."""
    lo = min(float(np.nanmin(xy[:, axis])) for xy in maps.coords.values())
    hi = max(float(np.nanmax(xy[:, axis])) for xy in maps.coords.values())
    pad = (hi - lo) * 0.04 or 1.0
    return [lo - pad, hi + pad]


def _add_labels(fig, xy, codes, names, visible, span=None) -> None:
    """Each category's name at the median of its (visible) points on this map; near the map's
    left or right edge the name runs inwards (it is not cut by the edge)."""
    codes = np.asarray(codes)
    keep = np.ones(len(codes), bool) if visible is None else np.asarray(visible, bool)
    for k, name in enumerate(names):
        rows = np.flatnonzero((codes == k) & keep)
        if len(rows) >= max(3, len(codes) // 200):  # a handful of stray points gets no label
            x, y = np.median(xy[rows], axis=0)
            at = 0.5 if span is None else (x - span[0]) / ((span[1] - span[0]) or 1)
            fig.add_annotation(x=float(x), y=float(y), text=hover_escape(name, LABEL_CHARS, 999), showarrow=False,
                               xanchor="left" if at < 0.2 else "right" if at > 0.8 else "center",
                               font=dict(size=11, color="#111"), bgcolor="rgba(255,255,255,0.75)", borderpad=2)


def _add_selection(fig, mid, maps, selection, visible) -> None:
    """The linked selection: the same chunks ringed in black on every map (hidden ones not)."""
    rows = rows_of(maps, selection)
    if visible is not None:
        rows = rows[np.asarray(visible, bool)[rows]]
    xy = maps.coords[mid]
    fig.add_scattergl(x=xy[rows, 0], y=xy[rows, 1], mode="markers", name=f"selected ({len(rows):,})",
                      customdata=maps.ids[rows].astype(np.int32), meta=["selection"], legendrank=0,
                      marker=dict(size=7, color="rgba(0,0,0,0)", line=dict(width=1.3, color="#111")),
                      hovertemplate="selected · chunk %{customdata}<extra></extra>")


def rows_of(maps: projection.MapSet, chunk_ids) -> np.ndarray:
    """Map rows of ``chunk_ids`` (ids not on this map, e.g. outside its sample, are left out)."""
    ids = np.asarray(maps.ids)
    wanted = np.asarray(list(chunk_ids), dtype=ids.dtype)
    pos = np.searchsorted(ids, wanted)  # ids are sorted (projection.sample_ids)
    pos = np.clip(pos, 0, max(len(ids) - 1, 0))
    return np.sort(pos[ids[pos] == wanted]) if len(ids) else np.zeros(0, np.int64)


def _add_highlights(fig, mid, maps, highlights, selected, colours) -> None:
    row = {int(c): r for r, c in enumerate(maps.ids)} if highlights or selected is not None else {}
    xy = maps.coords[mid]
    for j, (owner, chunk_ids) in enumerate(highlights.items()):
        rows = [row[c] for c in chunk_ids if c in row]
        if rows:
            fig.add_scattergl(x=xy[rows, 0], y=xy[rows, 1], mode="markers", name=label(owner), legendrank=1 + j,
                              customdata=np.array([maps.ids[r] for r in rows], np.int32),
                              marker=dict(size=13 - 2 * min(j, 3), color="rgba(0,0,0,0)",
                                          line=dict(width=2.5, color=colours.get(owner, "#333"))),
                              hovertemplate=f"{label(owner)} neighbour · chunk %{{customdata}}<extra></extra>")
    if selected is not None and selected in row:
        r = row[selected]
        fig.add_scattergl(x=[xy[r, 0]], y=[xy[r, 1]], mode="markers", name="selected", customdata=[selected],
                          legendrank=100,
                          marker=dict(symbol="star", size=18, color="#111", line=dict(width=1, color="white")),
                          hovertemplate="selected · chunk %{customdata}<extra></extra>")


def point_neighbours(ws, comp, chunk_id: int, k: int) -> dict[str, list[int]]:
    """Each vector model's k nearest chunks to ``chunk_id`` (exact cosine, itself excluded)."""
    out = {}
    for mid in projection.vector_models(comp):
        vecs = projection.load_vectors(ws, comp, mid)
        idx, _ = neighbours.knn_of(vecs, chunk_id, k)
        out[mid] = [int(i) for i in idx]
    return out


def _chunk(data) -> int | None:
    """A point's chunk id from its customdata: a number, a one-item list, or (after a box
    selection, in Streamlit 1.67) a mapping such as {"0": 12}."""
    if isinstance(data, dict):
        data = [data[k] for k in sorted(data, key=str)]
    if isinstance(data, list | tuple):
        data = data[0] if data else None
    try:
        return None if data is None else int(data)
    except (TypeError, ValueError):
        return None


def selected_from(event) -> int | None:
    """The chunk id of the first point in a plotly selection event (its customdata)."""
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    return next((c for p in points if (c := _chunk(p.get("customdata"))) is not None), None)


def selection_of(event) -> tuple[str, list[int]] | None:
    """("area", sorted chunk ids) for a box or lasso selection, ("point", [id]) for a click,
    None for no selection. Every trace's points count: categories, rings and the selection all
    carry chunk ids."""
    sel = (event or {}).get("selection") or {}
    ids = [c for p in sel.get("points") or [] if (c := _chunk(p.get("customdata"))) is not None]
    if sel.get("box") or sel.get("lasso"):
        return "area", sorted(set(ids))
    return ("point", ids[:1]) if ids else None


def linked_maps(cur, model_ids: list[str], highlight: dict[str, list[int]] | None = None, *,
                sample: int | None = DEFAULT_SAMPLE, key: str = "linked", kind: str = "auto") -> None:
    """Aligned maps of ``model_ids`` side by side, one column each, points in grey, and every
    named chunk set of ``highlight`` (name → chunk ids) ringed in its own colour on every map:
    where one model's neighbours sit in another's space. UMAP when ready, else PCA. For other
    pages (e.g. a disagreement explorer); the Map page draws its own. ``kind="pca"``: never UMAP."""
    n = projection.comp_size(cur.ws, cur.comp)
    sample = None if sample is None or sample >= n else sample
    ms = (umap_maps(cur.ws, cur.comp, sample)[0] if kind != "pca" else None) or pca_maps(cur.ws, cur.comp, sample)
    models = [m for m in model_ids if m in ms.coords]
    highlight = highlight or {}
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(highlight)}
    hover, codes = hover_texts(cur.ds, ms.ids), np.zeros(len(ms.ids), np.int16)
    for i, (col, mid) in enumerate(zip(st.columns(max(len(models), 1)), models, strict=False)):
        fig = figure(mid, ms, codes, ["chunk"], hover, highlight, None, models, False, palette=["#a0a0a0"],
                     dragmode="pan", highlight_colours=colours)
        fig.update_layout(showlegend=i == len(models) - 1)
        col.plotly_chart(fig, key=f"{key}:{mid}", config={**PNG_CONFIG, "scrollZoom": True})

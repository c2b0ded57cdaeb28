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
from app_support.text import hover_escape
from embedlab import neighbours, projection

HOVER_POINTS = 20_000  # up to this many points all carry hover text; beyond, a seeded sample does
HOVER_SAMPLE = 5_000  # ~1 MB of text per map instead of ~8 MB at 200k points
DEFAULT_SAMPLE = 50_000  # maps above this size draw a sample unless the user asks for all
KNN_LIMIT = 20_000  # whole-corpus neighbour lists (disagreement colour) up to this many chunks
BINS = 10  # a continuous colouring is drawn in this many steps, one trace each
LEGEND_PX = 87  # the legend shows four rows (8 clusters + rings) and scrolls beyond: 30 values cannot squeeze a map
LEGEND_CHARS = 22  # a category's legend entry is cut here; the hover shows it whole
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


def colour_options(ds, n_chunks: int) -> dict[str, str]:
    """Colour-by choices: value → label. Metadata keys with 2–30 distinct values qualify."""
    opts = {"document": "Document", "cluster": "Cluster (k-means on the first map)"}
    if n_chunks <= KNN_LIMIT:
        opts["disagreement"] = "Neighbourhood disagreement"
    keys = sorted({k for d in ds.documents for k, v in d.meta.items() if isinstance(v, str | int | float | bool)})
    for key in keys:
        values = {str(d.meta.get(key)) for d in ds.documents}
        if 2 <= len(values) <= 30:
            opts[f"meta:{key}"] = f"Metadata: {key}"
    return opts


def colouring(choice: str, ws, comp, ds, maps: projection.MapSet, k: int) -> tuple[np.ndarray, list[str] | None]:
    """Per-point colour values and, for categories, their names (None: document colours, which
    cycle through the palette, or a continuous value in [0, 1])."""
    ids = maps.ids
    if choice == "cluster":
        labels = _clusters(maps.coords[maps.reference])
        return labels, [f"cluster {i + 1}" for i in range(int(labels.max()) + 1)]
    if choice == "disagreement":
        knn = neighbours.comparison_knn(ws, comp, k)
        return neighbours.disagreement(knn)[ids].astype(np.float32), None
    doc_ids = [ds.chunks[i].doc_id for i in ids]
    if choice.startswith("meta:"):
        meta = {d.id: str(d.meta.get(choice[5:], "")) for d in ds.documents}
        names = sorted({meta[d] for d in doc_ids})
        index = {n: i for i, n in enumerate(names)}
        return np.array([index[meta[d]] for d in doc_ids], dtype=np.int16), names
    order = {d.id: i for i, d in enumerate(ds.documents)}
    return (np.array([order[d] for d in doc_ids]) % len(PALETTE)).astype(np.int16), None  # colours cycle


def colour_title(choice: str) -> str:
    """What a colouring shows, for the hover ("key: value") and a scale's title; "" when the
    category names say it (clusters) or there is nothing to say (document colours)."""
    if choice.startswith("meta:"):
        return choice[5:]
    return "disagreement" if choice == "disagreement" else ""


@st.cache_data(show_spinner=False, max_entries=16)
def _clusters(coords: np.ndarray) -> np.ndarray:
    """k-means on a map's coordinates: seconds at 200k points, so once per layout."""
    return projection.cluster_labels(coords).astype(np.int16)


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
           title: str = "", colour_title: str = "") -> go.Figure:
    """One model's map: every point coloured, plus each model's neighbour set outlined in that
    model's colour, so one map shows where the other models' neighbours landed. ``show_scale``:
    this map draws the scale of a continuous colouring (every map keeps room for it)."""
    xy, ids = maps.coords[mid], maps.ids
    continuous = names is None and colour.dtype.kind == "f"
    fig = go.Figure(_chunk_traces(xy, ids, colour, names, hover, colour_title,
                                  dict(size=4 if len(ids) < 20_000 else 2, opacity=0.35 if highlights else 0.8)))
    if continuous and show_scale:
        fig.add_trace(_scale_trace(colour_title))
    _add_highlights(fig, mid, maps, highlights, selected, model_colours(models))
    fig.update_layout(height=470, margin=dict(l=0, r=SCALE_PX if continuous else 0, t=30, b=0), dragmode="pan",
                      clickmode="event+select", title=dict(text=title or label(mid), font=dict(size=14)),
                      uirevision=mid, legend=dict(orientation="h", y=-0.02, yanchor="top", font=dict(size=10),
                                                  itemwidth=30, itemsizing="constant", maxheight=LEGEND_PX),
                      xaxis=dict(visible=False, range=_span(maps, 0)), yaxis=dict(visible=False, range=_span(maps, 1)))
    return fig


def _chunk_traces(xy, ids, colour, names, hover, colour_title, marker) -> list[go.Scattergl]:
    """The points, one single-colour WebGL trace per category: plotly.js maps a numeric colour
    array through a colorscale point by point (~1 s per 200k points); a constant colour skips
    that. A continuous colouring is drawn in BINS steps. customdata holds the chunk ids; meta[0]
    "chunks" tells these traces from the rings, meta[1] is the category for the hover."""
    groups, colours, entries = _categories(colour, names)
    order = np.argsort(groups, kind="stable")  # points of a category stay in their drawing order
    bounds = np.searchsorted(groups[order], np.arange(len(colours) + 1))
    text = np.asarray(hover, dtype=object)
    traces = []
    for k, c in enumerate(colours):
        rows = order[bounds[k]:bounds[k + 1]]
        if not len(rows):
            continue
        what = hover_escape(f"{colour_title}: {entries[k]}" if colour_title else entries[k], 80, 999)
        traces.append(go.Scattergl(
            x=xy[rows, 0], y=xy[rows, 1], mode="markers", marker=dict(marker, color=c),
            customdata=ids[rows].astype(np.int32), text=text[rows].tolist(), meta=["chunks", what],
            name=hover_escape(entries[k], LEGEND_CHARS, 999), showlegend=names is not None,
            hovertemplate="chunk %{customdata}" + (" · %{meta[1]}" if what else "") + "<br>%{text}<extra></extra>"))
    return traces


def _categories(colour: np.ndarray, names: list[str] | None) -> tuple[np.ndarray, list[str], list[str]]:
    """Category per point, colour per category, and its name (shown in legend and hover)."""
    if names is None and colour.dtype.kind == "f":
        steps = np.clip(np.nan_to_num(colour) * BINS, 0, BINS - 1).astype(np.int16)
        return steps, _bin_colours(), [f"{i / BINS:.1f}–{(i + 1) / BINS:.1f}" for i in range(BINS)]
    n = len(names) if names is not None else len(PALETTE)
    entries = [str(x) or "(empty)" for x in names] if names is not None else [""] * n
    palette = PALETTE if n <= len(PALETTE) else qualitative.Dark24  # 9–30 categories: 24 distinct colours
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


def selected_from(event) -> int | None:
    """The chunk id of the first point in a plotly selection event (its customdata)."""
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    for p in points:
        data = p.get("customdata")
        data = data[0] if isinstance(data, list | tuple) and data else data
        if data is not None:
            return int(data)
    return None

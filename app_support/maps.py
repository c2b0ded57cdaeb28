"""Aligned maps for the Map page: UMAP computed in the background (PCA meanwhile), colourings,
neighbour highlights, and the plotly figures. Built to stay usable at 200k points: coordinates
go to the browser as float32 arrays, and hover text is sent for a sample of points only."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app_support.charts import PALETTE, label, model_colours
from app_support.text import hover_escape
from embedlab import neighbours, projection

HOVER_POINTS = 20_000  # up to this many points all carry hover text; beyond, a seeded sample does
HOVER_SAMPLE = 5_000  # ~1 MB of text per map instead of ~8 MB at 200k points
DEFAULT_SAMPLE = 50_000  # maps above this size draw a sample unless the user asks for all
KNN_LIMIT = 20_000  # whole-corpus neighbour lists (disagreement colour) up to this many chunks
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
    """Per-point colour values and, for categories, their names (None: a continuous scale)."""
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
           title: str = "") -> go.Figure:
    """One model's map: every point coloured, plus each model's neighbour set outlined in that
    model's colour, so one map shows where the other models' neighbours landed."""
    xy, ids = maps.coords[mid], maps.ids
    marker = dict(size=4 if len(ids) < 20_000 else 2, opacity=0.35 if highlights else 0.8, color=colour)
    if names is not None or colour.dtype.kind in "iu":
        n = len(names) if names is not None else len(PALETTE)
        marker.update(colorscale=_step_scale([PALETTE[i % len(PALETTE)] for i in range(n)]), cmin=-0.5, cmax=n - 0.5)
    else:
        marker.update(colorscale="Plasma", cmin=0, cmax=1, showscale=show_scale,
                      colorbar=dict(title="disagree", thickness=10, len=0.6))
    fig = go.Figure(go.Scattergl(x=xy[:, 0], y=xy[:, 1], mode="markers", marker=marker, customdata=ids.astype(np.int32),
                                 text=hover, showlegend=False, name="chunks",
                                 hovertemplate="chunk %{customdata}<br>%{text}<extra></extra>"))
    for i, name in enumerate(names or []):  # legend-only entries: category colours, no data sent
        if len(names) <= 20:
            fig.add_scattergl(x=[None], y=[None], mode="markers", name=label(name),
                              marker=dict(color=PALETTE[i % len(PALETTE)], size=8))
    _add_highlights(fig, mid, maps, highlights, selected, model_colours(models))
    fig.update_layout(height=470, margin=dict(l=0, r=0, t=30, b=0), dragmode="pan", clickmode="event+select",
                      title=dict(text=title or label(mid), font=dict(size=14)), uirevision=mid,
                      legend=dict(orientation="h", y=-0.02, yanchor="top", font=dict(size=10), traceorder="normal",
                                  itemwidth=30, tracegroupgap=0),
                      xaxis=dict(visible=False, range=_span(maps, 0)), yaxis=dict(visible=False, range=_span(maps, 1)))
    return fig


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
            fig.add_scattergl(x=xy[rows, 0], y=xy[rows, 1], mode="markers", name=label(owner),
                              customdata=np.array([maps.ids[r] for r in rows], np.int32),
                              marker=dict(size=13 - 2 * min(j, 3), color="rgba(0,0,0,0)",
                                          line=dict(width=2.5, color=colours.get(owner, "#333"))),
                              hovertemplate=f"{label(owner)} neighbour · chunk %{{customdata}}<extra></extra>")
    if selected is not None and selected in row:
        r = row[selected]
        fig.add_scattergl(x=[xy[r, 0]], y=[xy[r, 1]], mode="markers", name="selected", customdata=[selected],
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

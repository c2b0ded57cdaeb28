"""What the Map's points are coloured by: labelled clusters, documents, neighbourhood change
against the first model, relevance to a query, and any metadata field (embedlab.mapdata).
Whole-corpus neighbour lists take minutes at 50k chunks, so they are computed in a background
thread (stored with the comparison); clusters take seconds and are kept in memory once read."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from plotly.colors import sample_colorscale

from app_support.charts import PALETTE
from embedlab import clusters, mapdata, neighbours, projection

SYNC_KNN = 3_000  # up to this many chunks the neighbour lists are computed while the page waits
_knn_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedlab-knn")
_knn: dict[tuple, Future] = {}
_clusters: dict[tuple, clusters.Clusters] = {}
_lock = threading.Lock()


@dataclass
class Colouring:
    values: dict[str, np.ndarray]  # model id → value per map row (int16 category or float in [0, 1])
    names: list[str] | None  # category names (None: document colours, or a continuous value)
    title: str = ""  # hover prefix and scale title
    palette: list[str] | None = None
    labels: bool = False  # write the category names on the map (clusters)
    note: str = ""  # said under the maps (e.g. still computing)
    emphasis: set[int] | None = None  # categories drawn large and on top (a query's hits)


def options(ds) -> dict[str, str]:
    """Colour-by choices: value → label."""
    return {"cluster": "Cluster (labelled)", "document": "Document",
            "disagreement": "Neighbourhood change vs the first model", "query": "Relevance to the query",
            **mapdata.fields(ds)}


def corpus_knn(ws, comp, k: int = 10, wait: float = 0.0) -> dict[str, np.ndarray] | None:
    """Every chunk's k neighbours under each model, or None while a background thread computes
    them (stored in the comparison: the next server process reads them)."""
    key = (comp.id, tuple(projection.vector_models(comp)), k)
    with _lock:
        fut = _knn.get(key)
        if fut is None or (fut.done() and fut.exception() is not None):
            stored = neighbours.stored_knn(ws, comp, k)
            fut = Future() if stored is not None else _knn_pool.submit(neighbours.comparison_knn, ws, comp, k)
            if stored is not None:
                fut.set_result(stored)
            _knn[key] = fut
    if projection.comp_size(ws, comp) <= SYNC_KNN:
        wait = max(wait, 120.0)
    try:
        return fut.result(timeout=wait)
    except TimeoutError:
        return None


def comparison_clusters(ws, comp, ds) -> clusters.Clusters:
    key = (comp.id, tuple(projection.vector_models(comp)[:1]), len(ds.chunks))
    with _lock:
        found = _clusters.get(key)
    if found is None:
        found = clusters.comparison_clusters(ws, comp, ds)
        with _lock:
            _clusters[key] = found
    return found


def colour_by(choice: str, ws, comp, ds, maps: projection.MapSet, k: int = 10,
              query: tuple[dict[str, list[int]], set[int]] | None = None) -> Colouring:
    """The colouring ``choice`` for every map of ``maps``; ``query``: (each model's top-k chunk
    ids, judged-relevant chunk ids) of the page's query, for "query"."""
    ids, models = maps.ids, list(maps.coords)
    same = lambda v: dict.fromkeys(models, v)  # noqa: E731 - most colourings are one array for every map
    if choice == "cluster":
        found = comparison_clusters(ws, comp, ds)
        return Colouring(same(found.labels[ids].astype(np.int16)), found.names, labels=True)
    if choice == "disagreement":
        return _disagreement(ws, comp, maps, k)
    if choice == "query":
        if not query:
            return Colouring(same(np.zeros(len(ids), np.int16)), ["(type or pick a query)"], palette=["#bbbbbb"],
                             note="Relevance colours need a query: type one or pick an evaluation query.")
        codes, names = mapdata.query_categories(query[0], query[1], ids)
        return Colouring(same(codes), names, "query", _query_palette(len(query[0])),
                         emphasis=set(range(len(names) - 1)))
    if choice in mapdata.fields(ds):
        codes, names, ordered = mapdata.chunk_categories(ds, choice, ids)
        palette = sample_colorscale("Viridis", list(np.linspace(0.05, 0.95, len(names)))) if ordered else None
        return Colouring(same(codes), names, mapdata.fields(ds)[choice].split(": ")[-1].lower(), palette)
    order = {d.id: i for i, d in enumerate(ds.documents)}
    codes = np.array([order[ds.chunks[i].doc_id] for i in ids]) % len(PALETTE)  # colours cycle
    return Colouring(same(codes.astype(np.int16)), None)


def _disagreement(ws, comp, maps, k: int) -> Colouring:
    """Each map: 1 − Jaccard@k of a chunk's neighbours under that map's model and under the
    first map's model, in the original vector space (the first map: the mean over the others)."""
    knn = corpus_knn(ws, comp, k)
    if knn is None:
        zeros = np.zeros(len(maps.ids), np.float32)
        return Colouring(dict.fromkeys(maps.coords, zeros), None, "neighbourhood change",
                         note="Computing every chunk's neighbours under each model in the background "
                              "(once per comparison; minutes at 50k chunks): the colours fill in on a rerun.")
    change = neighbours.reference_disagreement({m: knn[m] for m in maps.coords}, maps.reference)
    return Colouring({m: v[maps.ids].astype(np.float32) for m, v in change.items()}, None,
                     f"1 − Jaccard@{k} vs first map")


def _query_palette(n_models: int) -> list[str]:
    """Relevant chunks in greens (darkest: every model found it; orange: none did), retrieved but
    not judged relevant in blues, everything else light grey."""
    greens = sample_colorscale("Greens", list(np.linspace(0.95, 0.5, n_models))) + ["#E69F00"]
    blues = sample_colorscale("Blues", list(np.linspace(0.9, 0.45, n_models)))
    return greens + blues + ["#d9d9d9"]

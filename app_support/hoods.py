"""Neighbour lists for the Neighbourhoods page: the whole corpus up to KNN_LIMIT chunks (cached
with the comparison by embedlab.neighbours), a seeded sample of chunks beyond that."""

from __future__ import annotations

import numpy as np
import streamlit as st

from app_support.maps import KNN_LIMIT
from embedlab import neighbours, projection


@st.cache_resource(show_spinner=False, max_entries=16)
def _sampled_knn(cid: str, models: tuple[str, ...], k: int, _ws, _comp) -> dict[str, np.ndarray]:
    n = projection.comp_size(_ws, _comp)
    ids = projection.sample_ids(n, KNN_LIMIT)
    # Neighbours within the sample, translated back to chunk ids.
    return {m: ids[neighbours.knn(projection.load_vectors(_ws, _comp, m, ids), k)] for m in models}


def knn_lists(ws, comp, k: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """(model → (rows, k) neighbour chunk ids, the chunk id of each row)."""
    n = projection.comp_size(ws, comp)
    if n <= KNN_LIMIT:
        return neighbours.comparison_knn(ws, comp, k), np.arange(n)
    models = tuple(projection.vector_models(comp))
    return _sampled_knn(comp.id, models, k, ws, comp), projection.sample_ids(n, KNN_LIMIT)


def disagreeing(knn: dict[str, np.ndarray], rows: np.ndarray, top: int) -> list[tuple[int, float]]:
    """(chunk id, disagreement 0..1) for the ``top`` chunks whose neighbours agree least."""
    scores = neighbours.disagreement(knn)
    return [(int(rows[i]), float(scores[i])) for i in neighbours.most_disagreeing(knn, top)]

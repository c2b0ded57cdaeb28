"""The Map page's figures (app_support.maps.figure), checked on the figure itself: one
single-colour trace per category whose customdata are exactly that category's chunk ids, a
continuous colouring in ten steps, escaped names, and the page's click handling on top."""

import numpy as np
import pytest

from app_support import maps
from app_support.charts import PALETTE
from embedlab.projection import MapSet

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # st.cache_data without a runtime


def map_set(n: int = 300) -> MapSet:
    rng = np.random.default_rng(1)
    coords = {m: rng.normal(0, 1 + i, (n, 2)).astype(np.float32) for i, m in enumerate(["a", "b", "c"])}
    ids = np.arange(1000, 1000 + n)  # row i is chunk ids[i]: ids differ from row numbers on purpose
    return MapSet(coords, ids, "a", dict.fromkeys(coords, 0.2))


def points(fig) -> list:
    return [t for t in fig.data if t.meta and t.meta[0] == "chunks"]


def figure(ms, colour, names, hover=None, highlights=None, selected=None, colour_title=""):
    hover = hover if hover is not None else [f"text {c}" for c in ms.ids]
    return maps.figure("b", ms, colour, names, hover, highlights or {}, selected, list(ms.coords), True,
                       colour_title=colour_title)


def test_categorical_colouring_is_one_trace_per_category_with_its_chunk_ids():
    ms = map_set()
    colour = (np.arange(300) * 7 % 5).astype(np.int16)  # 5 categories, interleaved
    names = ["alpha", "beta", "gamma", "delta", "epsilon"]
    fig = figure(ms, colour, names, colour_title="kind")
    traces = points(fig)
    assert [t.name for t in traces] == names and all(t.showlegend for t in traces)
    seen = []
    for k, t in enumerate(traces):
        rows = np.flatnonzero(colour == k)
        assert list(t.customdata) == list(ms.ids[rows])  # same chunks, drawn in their original order
        assert np.allclose(t.x, ms.coords["b"][rows, 0]) and np.allclose(t.y, ms.coords["b"][rows, 1])
        assert list(t.text) == [f"text {c}" for c in ms.ids[rows]]
        assert t.marker.color == PALETTE[k] and np.isscalar(t.marker.color)  # no per-point colour array
        assert t.meta[1] == f"kind: {names[k]}" and "%{meta[1]}" in t.hovertemplate
        seen += list(t.customdata)
    assert sorted(seen) == list(ms.ids)  # every chunk exactly once
    assert fig.layout.xaxis.range == figure(ms, colour, names).layout.xaxis.range  # shared, aligned axes
    assert tuple(fig.layout.xaxis.range) == tuple(maps._span(ms, 0))


def test_document_colours_cycle_without_legend_and_skip_empty_categories():
    ms = map_set(20)
    colour = np.array([0, 2] * 10, dtype=np.int16)  # two of the eight palette colours in use
    traces = points(figure(ms, colour, None))
    assert len(traces) == 2 and not any(t.showlegend for t in traces)
    assert [t.marker.color for t in traces] == [PALETTE[0], PALETTE[2]]
    assert "meta" not in traces[0].hovertemplate  # document colours mean nothing to show in the hover


def test_many_categories_get_distinct_colours_and_a_capped_legend():
    ms = map_set(300)
    colour = (np.arange(300) % 26).astype(np.int16)
    fig = figure(ms, colour, [f"value {i}" for i in range(26)])
    assert len({t.marker.color for t in points(fig)}) == 24  # 24 colours for 26 values, not 8
    assert fig.layout.legend.maxheight == maps.LEGEND_PX


def test_continuous_colouring_is_drawn_in_ten_steps_with_a_scale():
    ms = map_set()
    values = np.linspace(0, 1, 300, dtype=np.float32)
    fig = figure(ms, values, None, colour_title="disagreement")
    traces = points(fig)
    assert len(traces) == maps.BINS and not any(t.showlegend for t in traces)
    for k, t in enumerate(traces):
        rows = np.flatnonzero(np.minimum((values * maps.BINS).astype(int), maps.BINS - 1) == k)
        assert list(t.customdata) == list(ms.ids[rows])
    scales = [t for t in fig.data if t.marker.showscale]
    assert len(scales) == 1 and len(scales[0].marker.colorscale) == 2 * maps.BINS
    assert fig.layout.margin.r == maps.SCALE_PX


def test_names_and_hover_stay_text():
    ms = map_set(10)
    evil = '<img src=x onerror="alert(1)">'
    fig = figure(ms, np.zeros(10, np.int16), [evil], colour_title="<b>key</b>")
    t = points(fig)[0]
    assert "<img" not in t.name and "&lt;img" in t.name and "<b>" not in t.meta[1]


def test_rings_and_star_keep_chunk_ids_and_come_first_in_the_legend():
    ms = map_set(50)
    fig = figure(ms, np.zeros(50, np.int16), ["x"], highlights={"a": [1003, 1004], "b": [1005]}, selected=1003)
    rings = [t for t in fig.data if not (t.meta and t.meta[0] == "chunks")]
    assert [list(t.customdata) for t in rings] == [[1003, 1004], [1005], [1003]]
    assert all(t.legendrank < 1000 for t in rings)


def test_a_click_on_any_category_trace_selects_that_chunk():
    event = {"selection": {"points": [{"curve_number": 3, "point_number": 7, "customdata": 1042}]}}
    assert maps.selected_from(event) == 1042
    assert maps.selected_from({"selection": {"points": [{"customdata": [1043]}]}}) == 1043
    assert maps.selected_from({"selection": {"points": []}}) is None

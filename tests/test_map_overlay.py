"""The Map's figures stay the same objects (so the same bytes reach the browser) while only the
overlay's chunk ids change; the overlay's data cannot end its script element."""

import json

import numpy as np
import plotly.io as pio
import pytest

from app_support import map_overlay
from app_support.map_colours import Colouring
from embedlab.projection import MapSet

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # streamlit without a runtime


def map_set(n: int = 120) -> MapSet:
    rng = np.random.default_rng(3)
    coords = {m: rng.normal(0, 1, (n, 2)).astype(np.float32) for m in ["a", "b", "c"]}
    return MapSet(coords, np.arange(500, 500 + n), "a", dict.fromkeys(coords, 0.1))


def colouring(ms: MapSet, shift: int = 0) -> Colouring:
    codes = ((np.arange(len(ms.ids)) + shift) % 3).astype(np.int16)
    return Colouring(dict.fromkeys(ms.coords, codes), ["x", "y", "z"], labels=True)


def figures(ms, colour, hover_calls, visible=None, generation=0):
    def hover():
        hover_calls.append(1)
        return [f"text {c}" for c in ms.ids]

    return map_overlay.figures("comp", ms, colour, list(ms.coords), ["A", "B", "C"], hover, visible=visible,
                               generation=generation)


def test_the_same_maps_are_the_same_objects_and_bytes_and_a_change_makes_new_ones():
    ms, calls = map_set(), []
    first = figures(ms, colouring(ms), calls)
    again = figures(ms, colouring(ms), calls)  # equal inputs, new arrays: still the cached figures
    assert [id(f) for f in first] == [id(f) for f in again] and len(calls) == 1  # hover texts made once
    assert pio.to_json(first[1], validate=False) == pio.to_json(again[1], validate=False)
    recoloured = figures(ms, colouring(ms, shift=1), calls)
    assert all(a is not b for a, b in zip(first, recoloured, strict=True))
    assert figures(ms, colouring(ms), calls, generation=1)[0] is not first[0]  # "Clear selection": new maps
    hidden = figures(ms, colouring(ms), calls, visible=np.arange(len(ms.ids)) % 2 == 0)
    assert hidden[0] is not first[0]


def test_the_maps_carry_no_highlight_and_no_plotly_selection_look():
    ms = map_set()
    figs = figures(ms, colouring(ms), [])
    for fig in figs:
        assert {t.meta[0] for t in fig.data if t.meta} == {"chunks"}  # no ring, star or selection trace
        for t in fig.data:
            assert t.selected.marker.opacity == t.unselected.marker.opacity == t.marker.opacity
    assert len(figs[0].layout.annotations) == 3 and not figs[1].layout.annotations  # labels on the first map


def test_the_figure_cache_is_bounded_and_keyed_by_content():
    built = []
    for i in range(map_overlay.CACHED_FIGURES + 3):
        map_overlay.figure_cache(("bound", i), lambda i=i: built.append(i) or object())
    kept = map_overlay.figure_cache(("bound", map_overlay.CACHED_FIGURES + 2), lambda: "rebuilt")
    assert kept != "rebuilt" and map_overlay.figure_cache(("bound", 0), lambda: "rebuilt") == "rebuilt"
    assert map_overlay.digest(np.arange(3)) != map_overlay.digest(np.arange(4))
    assert map_overlay.digest(None, np.zeros(2)) != map_overlay.digest(np.zeros(2))


def test_overlay_data_cannot_close_its_script_element():
    data = {"rings": [{"name": "</script><script>alert(1)</script>&amp;"}], "sel": [1, 2]}
    text = map_overlay.payload(data)
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == data  # \u003c etc. are the same characters to the script


def test_the_script_has_one_place_for_its_data():
    assert map_overlay._JS.count("/*DATA*/null") == 1  # replaced once: in code, not in a comment
    assert "const mine = /*DATA*/null;" in map_overlay._JS

"""The Map's linked highlights — the selected chunks, each model's neighbour rings, the clicked
chunk's star — drawn in the browser on a canvas over every map, from chunk ids alone.

Why not in the figures: Streamlit gives a plotly chart a new identity whenever its figure
changes, and draws it again from scratch (50k WebGL points: about a second per map on this
machine), and a selectable chart that changes loses its box or lasso (streamlit/streamlit#16052).
So the maps stay byte-identical while a selection changes (``figure_cache`` keeps each one) and
only this overlay changes: a few bytes of ids, drawn at the points' own positions, read from the
map's traces with the map's own axes, so zoom and pan keep it in place."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from pathlib import Path

import streamlit as st

_JS = (Path(__file__).with_name("map_overlay.js")).read_text(encoding="utf-8")
CACHED_FIGURES = 12  # four maps × a few colourings; ~3 MB each at 50k points
_figures: OrderedDict[str, object] = OrderedDict()
_lock = threading.Lock()


def container_key(i: int) -> str:
    """The key of map i's container: the overlay finds the map through its CSS class."""
    return f"embedlab_map_{i}"


def draw(n_maps: int, selection, highlights: dict[str, list[int]], selected: int | None,
         colours: dict[str, str], source: int | None = None) -> None:
    """Highlight on maps 0..n_maps-1: ``selection`` (chunk ids) in their colours ringed in black,
    each model's ``highlights`` ringed in that model's colour, ``selected`` as a star; the rest of
    each map recedes behind a white veil while anything is highlighted. ``source``: the map the
    selection was drawn on; the others hide a box or lasso plotly still shows from an earlier
    selection. Drawn on every run (an empty overlay clears the last one)."""
    # the names are drawn as canvas text, never markup
    rings = [{"name": str(owner), "colour": colours.get(owner, "#333"), "size": 13 - 2 * min(j, 3),
              "ids": [int(c) for c in ids]} for j, (owner, ids) in enumerate(highlights.items())]
    data = {"maps": [container_key(i) for i in range(n_maps)], "sel": [int(c) for c in selection],
            "rings": rings, "star": None if selected is None else int(selected),
            "dim": bool(len(selection) or rings), "source": source}
    st.html(f"<script>{_JS.replace('/*DATA*/null', payload(data), 1)}</script>", unsafe_allow_javascript=True)


def payload(data: dict) -> str:
    """``data`` as a JavaScript literal that cannot end its script element (model names are the
    user's: "</script>" in one stays text)."""
    return (json.dumps(data, ensure_ascii=True, separators=(",", ":"))
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def figure_cache(parts: tuple, build):
    """The figure built by ``build()`` for these ``parts`` (anything repr-able: ids, arrays'
    bytes…), the very same object while they stay the same — so Streamlit sends the same bytes
    and the browser keeps the map drawn. Process-wide: every session's maps are the same."""
    key = hashlib.sha1(repr(parts).encode()).hexdigest()
    with _lock:
        fig = _figures.get(key)
        if fig is not None:
            _figures.move_to_end(key)
            return fig
    fig = build()
    with _lock:
        _figures[key] = fig
        while len(_figures) > CACHED_FIGURES:
            _figures.popitem(last=False)
    return fig


def digest(*arrays) -> str:
    """A short fingerprint of numpy arrays (None counts too), for ``figure_cache``'s key."""
    h = hashlib.sha1()
    for a in arrays:
        h.update(b"none" if a is None else a.tobytes())
    return h.hexdigest()


def figures(comp_id: str, ms, colour, models: list[str], titles: list[str], hover, *, visible=None,
            generation: int = 0) -> list:
    """The Map page's figures, one per model of ``models`` (``maps.figure`` without highlights: those
    are the overlay's), each the same object while what it shows stays the same. ``hover()``
    gives the hover texts, called only when a figure has to be built; ``generation`` changes
    every figure (a new one drops the box or lasso plotly still draws)."""
    from app_support import maps

    texts = []
    out = []
    last = len(models) - 1
    for i, mid in enumerate(models):
        parts = (comp_id, mid, i == last, titles[i], generation,
                 digest(ms.ids, ms.coords[mid], colour.values[mid], visible),
                 colour.names, colour.palette, colour.title, bool(colour.labels and mid == ms.reference),
                 sorted(colour.emphasis or ()))

        def build(i=i, mid=mid):
            if not texts:
                texts.append(hover())
            fig = maps.figure(mid, ms, colour.values[mid], colour.names, texts[0], {}, None, models,
                              i == last, titles[i], colour.title, palette=colour.palette,
                              labels=colour.labels and mid == ms.reference, visible=visible,
                              emphasis=colour.emphasis)
            fig.update_layout(meta=[generation])
            return fig

        out.append(figure_cache(parts, build))
    return out

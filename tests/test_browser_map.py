"""The Map as a tool, in a real browser: a box or lasso on one model's map rings the same chunk
ids on every other map, the CSV download holds exactly the selected chunks, a shared link
reopens the selection, and colouring by a metadata field changes the legend.

The comparison (text files in two folders plus a CSV with a 'kind' column; bm25 and model2vec)
is made before the server starts, in a child process: Milvus Lite admits one process."""

from __future__ import annotations

import io
import math
import re
import textwrap

import pandas as pd
import pytest
from browser_util import (
    POINT_JS,
    chromium,
    chunk_texts,
    goto,
    new_page,
    no_exception,
    run_in_workspace,
    seeded_server,
    shot,
    wait_idle,
    wait_maps,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TOPICS = ["whales sing long songs in the cold ocean", "honey bees pollinate flowers and store honey",
          "a volcano erupts when magma escapes the crust", "glaciers carve valleys as ice flows downhill",
          "compilers translate source code to machine code", "violins have four strings tuned in fifths"]
_MAKE = textwrap.dedent("""
    import sys
    from pathlib import Path
    from embedlab import comparison
    from embedlab.chunking import Chunking
    from embedlab.documents import load_paths
    from embedlab.workspace import Workspace
    ws = Workspace()
    loaded = load_paths([Path(sys.argv[1])])
    ds = ws.add_dataset(loaded.documents, Chunking(256, 32), name="map test")
    comp = comparison.create(ws, ds, ["bm25", "model2vec"], name="map test")
    comparison.run(ws, comp, evaluate=False)
    print("CID", comp.id)
""")
# JS: every map's ringed selection (chunk ids), and the legend's entries of map i.
RINGED_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].filter(gd => gd._embedlabDrawn)
  .map(gd => gd._embedlabDrawn.selection.slice())"""
LEGEND_JS = """(i) => [...document.querySelectorAll('.js-plotly-plot')[i].querySelectorAll('.legendtext')]
  .map(e => e.textContent).filter(name => !name.startsWith('selected') && !['bm25', 'model2vec'].includes(name))"""
# (the legend's other entries: the selection, the clicked chunk's star and each model's rings)
# JS: the plot area of map i on screen, and the chunk ids whose points fall inside a screen polygon.
AREA_JS = """(i) => { const gd = document.querySelectorAll('.js-plotly-plot')[i]; gd.scrollIntoView({block: 'center'});
  const r = gd.getBoundingClientRect(), xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  return {x: r.left + xa._offset, y: r.top + ya._offset, w: xa._length, h: ya._length}; }"""
INSIDE_JS = """([i, poly]) => { const gd = document.querySelectorAll('.js-plotly-plot')[i];
  const r = gd.getBoundingClientRect(), xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, out = [];
  const inside = (x, y) => { let c = false;
    for (let a = 0, b = poly.length - 1; a < poly.length; b = a++) {
      const [xi, yi] = poly[a], [xj, yj] = poly[b];
      if ((yi > y) !== (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) c = !c; }
    return c; };
  gd._fullData.filter(t => t.meta && t.meta[0] === 'chunks').forEach(t => Array.from(t.customdata).forEach((c, j) => {
    if (inside(r.left + xa._offset + xa.l2p(t.x[j]), r.top + ya._offset + ya.l2p(t.y[j]))) out.push(c); }));
  return out.sort((a, b) => a - b); }"""


def write_corpus(folder):
    for i, text in enumerate(TOPICS * 3):
        sub = folder / ("notes" if i % 2 else "drafts")
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"doc{i:02}.txt").write_text(f"{text}, note {i}.", "utf-8")
    rows = "".join(f'r{i},{["fish", "bird"][i % 2]},"{TOPICS[i % 6]} (row {i})"\n' for i in range(12))
    (folder / "table.csv").write_text("id,kind,text\n" + rows, "utf-8")
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    workspace = tmp_path_factory.mktemp("map_ws")
    corpus = write_corpus(tmp_path_factory.mktemp("map_docs"))
    cid = re.search(r"CID (\S+)", run_in_workspace(workspace, _MAKE, str(corpus))).group(1)
    with seeded_server(workspace) as srv:
        srv.cid = cid
        yield srv


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def page(server, browser):
    page = new_page(browser)
    goto(page, f"{server.url}Map?c={server.cid}&kind=pca", "Disparity")
    wait_maps(page, 2)
    yield page
    page.context.close()


def tool(page, i: int, name: str) -> None:
    """Pick a drag tool ("Box Select", "Lasso Select") in map i's modebar."""
    page.locator(".js-plotly-plot").nth(i).hover()
    page.locator(".js-plotly-plot").nth(i).locator(f'[data-title="{name}"]').click()


def drag(page, points: list[tuple[float, float]]) -> None:
    page.mouse.move(*points[0])
    page.mouse.down()
    for p in points[1:]:
        page.mouse.move(*p, steps=6)
    page.mouse.up()


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label``: type it into the box, press Enter."""
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label).locator("input")
    box.click()
    box.fill(option)
    page.keyboard.press("Enter")
    wait_idle(page)
    wait_maps(page, 2)


def selection_shown(page, count: int) -> list[list[int]]:
    """Every map's ringed chunk ids, once the table and both maps' overlays show ``count`` chunks."""
    page.get_by_text(f"Selection · {count:,} chunks").wait_for()
    wait_maps(page, 2)
    page.wait_for_function(f"() => {{ const r = ({RINGED_JS})(); return r.length === 2 && "
                           f"r.every(ids => ids.length === {count}); }}")
    return page.evaluate(RINGED_JS)


def test_box_selection_on_one_map_rings_the_same_chunks_on_the_other(page):
    a = page.evaluate(AREA_JS, 0)
    box = [(a["x"] + a["w"] * 0.15, a["y"] + a["h"] * 0.1), (a["x"] + a["w"] * 0.7, a["y"] + a["h"] * 0.1),
           (a["x"] + a["w"] * 0.7, a["y"] + a["h"] * 0.9), (a["x"] + a["w"] * 0.15, a["y"] + a["h"] * 0.9)]
    inside = page.evaluate(INSIDE_JS, [0, box])
    assert 3 <= len(inside) < 45, inside  # a real part of the map, not all of it
    tool(page, 0, "Box Select")
    drag(page, [box[0], box[2]])
    ringed = selection_shown(page, len(inside))
    assert ringed == [inside, inside]  # the same chunk ids, ringed on both maps
    assert "sel=" in page.url
    shot(page, "map_box_selection")
    no_exception(page)


def test_csv_download_holds_exactly_the_selected_chunks(page, server):
    ringed = page.evaluate(RINGED_JS)[0]
    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile("Download CSV")).click()
    frame = pd.read_csv(io.StringIO(open(info.value.path(), encoding="utf-8").read()))
    assert sorted(frame["chunk"]) == ringed and len(frame) == len(ringed)
    texts = chunk_texts(server, server.cid)["text"]
    assert frame["text"].tolist() == [texts[c] for c in frame["chunk"]]  # whole texts, not cut
    assert "overlap model2vec" in frame.columns and frame["overlap model2vec"].between(0, 1).all()


def test_a_shared_link_reopens_the_selection(page, browser):
    ringed = page.evaluate(RINGED_JS)[0]
    other = new_page(browser)
    goto(other, page.url, "Disparity")
    assert selection_shown(other, len(ringed)) == [ringed, ringed]
    other.context.close()


def test_lasso_on_the_second_map_replaces_the_selection(page):
    a = page.evaluate(AREA_JS, 1)
    tool(page, 1, "Lasso Select")
    cx, cy, rx, ry = a["x"] + a["w"] * 0.5, a["y"] + a["h"] * 0.5, a["w"] * 0.35, a["h"] * 0.45
    poly = [(cx + rx * math.cos(t / 10 * 2 * math.pi), cy + ry * math.sin(t / 10 * 2 * math.pi)) for t in range(10)]
    inside = page.evaluate(INSIDE_JS, [1, poly])
    assert inside and inside != page.evaluate(RINGED_JS)[0]
    drag(page, [*poly, poly[0]])
    assert selection_shown(page, len(inside)) == [inside, inside]
    no_exception(page)


# JS: on map i (of those with an overlay), how many selected points have the overlay's dark ring
# at their place on screen now, and how many unselected points far from any selected one do.
ALIGNED_JS = """(i) => { const gd = [...document.querySelectorAll('.js-plotly-plot')].filter(g => g._embedlabDrawn)[i];
  const cv = gd.querySelector('canvas.embedlab-overlay'), ctx = cv.getContext('2d'), fl = gd._fullLayout;
  const xa = fl.xaxis, ya = fl.yaxis, dpr = cv.width / fl.width, chosen = new Set(gd._embedlabDrawn.selection);
  const screen = [];
  gd._fullData.filter(t => t.meta && t.meta[0] === 'chunks').forEach(t => Array.from(t.customdata).forEach((c, j) =>
    screen.push([c, xa._offset + xa.l2p(t.x[j]), ya._offset + ya.l2p(t.y[j])])));
  const inside = ([, x, y]) => x > xa._offset + 6 && x < xa._offset + xa._length - 6 && y > ya._offset + 70
    && y < ya._offset + ya._length - 6;  // (not under the key, in the top right corner)
  const dark = (x, y) => { const d = ctx.getImageData(Math.round((x - 5) * dpr), Math.round((y - 5) * dpr),
    Math.round(10 * dpr), Math.round(10 * dpr)).data;
    for (let k = 0; k < d.length; k += 4) {
      if (d[k + 3] > 200 && d[k] < 90 && d[k + 1] < 90 && d[k + 2] < 90) return true; }
    return false; };
  const sel = screen.filter(p => chosen.has(p[0]) && inside(p));
  const far = screen.filter(p => !chosen.has(p[0]) && inside(p)
    && sel.every(q => Math.hypot(p[1] - q[1], p[2] - q[2]) > 14));
  return {selected: sel.length, ringed: sel.filter(p => dark(p[1], p[2])).length,
          far: far.length, far_dark: far.filter(p => dark(p[1], p[2])).length, range: xa.range.slice()}; }"""


def test_the_rings_stay_on_their_points_when_a_map_is_zoomed(page):
    before = page.evaluate(ALIGNED_JS, 1)
    assert before["selected"] >= 3 and before["ringed"] == before["selected"] and before["far_dark"] == 0, before
    a = page.evaluate(AREA_JS, 1)
    page.mouse.move(a["x"] + a["w"] * 0.06, a["y"] + a["h"] * 0.5)  # off the lasso (its outline takes the wheel)
    for _ in range(5):
        page.mouse.wheel(0, -100)  # scroll zoom in, ~10 % a step (plotly redraws the map; the overlay follows)
        page.wait_for_timeout(100)
    try:
        page.wait_for_function(f"() => {{ const r = ({ALIGNED_JS})(1); return r.range[0] !== {before['range'][0]} "
                               "&& r.selected > 0 && r.ringed === r.selected; }", timeout=60_000)
    finally:
        after = page.evaluate(ALIGNED_JS, 1)
        print("before", before, "after", after)
    assert after["far_dark"] == 0 and before["far"] + after["far"] > 0, (before, after)  # no ring off the selection
    assert after["range"][1] - after["range"][0] < before["range"][1] - before["range"][0]  # really zoomed in
    shot(page, "map_zoomed_selection")


def test_a_click_still_selects_one_chunk_and_keeps_the_area_selection(page):
    ringed = page.evaluate(RINGED_JS)[0]
    tool(page, 0, "Pan")  # the maps are not redrawn after a selection: the first map's box tool is still on
    point = page.evaluate(POINT_JS, [0, -1])
    page.mouse.click(point["x"], point["y"])
    page.get_by_role("heading", name=f"Chunk {point['id']}", exact=True).wait_for()
    wait_maps(page, 2)
    page.wait_for_function(f"() => [...document.querySelectorAll('.js-plotly-plot')].filter(gd => gd._embedlabDrawn)"
                           f".every(gd => gd._embedlabDrawn.star === {point['id']})")  # the star on both maps
    assert f"p={point['id']}" in page.url and page.evaluate(RINGED_JS) == [ringed, ringed]
    rings = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')].filter(gd => gd._embedlabDrawn)"
                          ".map(gd => Object.keys(gd._embedlabDrawn.rings).sort())")
    assert rings == [["bm25", "model2vec"]] * 2  # each model's neighbours ringed on both maps
    no_exception(page)


def test_colour_by_a_metadata_field_changes_the_legend(page):
    before = page.evaluate(LEGEND_JS, 0)
    assert any(" · " in name for name in before)  # labelled clusters
    choose(page, "Colour by", "Folder")
    page.wait_for_function(f"() => ({LEGEND_JS})(0).some(name => name.endsWith('/notes'))")
    after = page.evaluate(LEGEND_JS, 0)  # folders as uploaded: <corpus>/notes, <corpus>/drafts, <corpus> (the CSV)
    assert {name.rsplit("/", 1)[-1] for name in after} >= {"notes", "drafts"} and len(after) >= 3
    assert not set(after) & set(before)
    assert "color=folder" in page.url
    choose(page, "Colour by", "Column: kind")
    page.wait_for_function(f"() => ({LEGEND_JS})(0).includes('fish')")
    assert {"fish", "bird"} <= set(page.evaluate(LEGEND_JS, 0))
    shot(page, "map_colour_by_column")
    no_exception(page)

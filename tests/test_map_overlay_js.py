"""The Map's overlay script (app_support/map_overlay.js) run by node against a stand-in for a
plotly map: it rings exactly the selected chunks found in the map's own traces, at the map's own
axes' pixels, and draws them again where they are after a zoom (the map's relayout event)."""

import json
import shutil
import subprocess

import pytest

from app_support import map_overlay

NODE = shutil.which("node")
HARNESS = r"""
const calls = [];
const ctx = new Proxy({measureText: t => ({width: 6 * t.length}), arc: (x, y, r) => calls.push([x, y, r])},
                      {get: (o, k) => k in o ? o[k] : () => {}, set: () => true});
const handlers = {};
const box = {querySelectorAll: () => [{}, {}], insertBefore: cv => { gd.canvas = cv; }};
const gd = {
  _fullLayout: {width: 400, height: 300, xaxis: {_offset: 10, _length: 300, l2p: x => 100 * x},
                yaxis: {_offset: 20, _length: 200, l2p: y => 50 * y}},
  _fullData: [{meta: ['chunks'], customdata: Int32Array.from([5, 6]), x: [0.1, 0.2], y: [1, 2],
               marker: {color: '#f00'}},
              {meta: ['chunks'], customdata: Int32Array.from([7]), x: [0.3], y: [3], marker: {color: '#0f0'}},
              {meta: ['other'], customdata: [8], x: [0.9], y: [0.9], marker: {}}],
  querySelector: s => s === 'canvas.embedlab-overlay' ? gd.canvas || null : s === '.svg-container' ? box : null,
  querySelectorAll: () => [], closest: s => s === '.st-key-K' ? {} : null, on: (ev, f) => { handlers[ev] = f; },
};
global.window = {};
global.performance = {now: () => 0};
global.requestAnimationFrame = () => 0;
global.setInterval = () => 1;
global.document = {querySelector: s => s === '.st-key-K .js-plotly-plot' ? gd : null,
                   createElement: () => ({style: {}, getContext: () => ctx})};
eval(SCRIPT);
const first = {drawn: gd._embedlabDrawn, arcs: calls.splice(0)};
gd._fullLayout.xaxis.l2p = x => 400 * x - 20;  // zoomed in: the map's relayout event follows
handlers['plotly_relayout']();
const zoomed = {drawn: gd._embedlabDrawn, arcs: calls.splice(0)};
console.log(JSON.stringify({first, zoomed, hooked: Object.keys(handlers)}));
"""


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_overlay_rings_the_selected_chunks_where_the_map_draws_them_and_follows_a_zoom():
    data = {"maps": ["K"], "sel": [7, 5, 99], "rings": [], "star": None, "dim": True, "source": None}
    script = map_overlay._JS.replace("/*DATA*/null", map_overlay.payload(data), 1)
    out = subprocess.run([NODE, "-e", HARNESS.replace("SCRIPT", json.dumps(script))], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    first, zoomed = got["first"], got["zoomed"]
    assert first["drawn"]["selection"] == [5, 7]  # 99 is not on this map; chunk 8 is not a point trace
    # chunk 7 at (10 + 100·0.3, 20 + 50·3), chunk 5 at (10 + 100·0.1, 20 + 50·1); legend marks come after
    assert [a[:2] for a in first["arcs"][:2]] == [[40, 170], [20, 70]]
    assert [a[:2] for a in zoomed["arcs"][:2]] == [[110, 170], [30, 70]]  # the new axes, same chunks
    assert {"plotly_afterplot", "plotly_relayout"} <= set(got["hooked"])

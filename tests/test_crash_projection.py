"""``kill -9`` while a comparison's map is computed or written: after a restart the comparison
opens, Milvus still holds every row once, and the map is recomputed — a torn cache file is never
read as a map. Real processes, real Milvus Lite, real bm25 and model2vec vectors.

The protections: ``save_npz`` writes a temporary file and renames it over the cache (a reader
sees the old file or the new one), and ``load_npz`` turns an unreadable file into "recompute".
The write-kill below leaves half a map in whatever file ``save_npz`` opened, so written in place
the cache itself would be torn; the torn-file checks fail when ``load_npz`` lets the error out.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from test_reliability import Watched, assert_exactly, corpus, env, lite, run_cli, stored_rows

from embedlab.npz import load_npz, save_npz
from embedlab.vectors import CONTENT_PREFIX

N_DOCS = 300  # one chunk each
MODELS = ["bm25", "model2vec"]

# Computes the PCA map of a comparison and stops for good at a chosen point inside it, so that
# the kill lands there and not a moment earlier or later.
PROJECT = """
import io, sys, time
import numpy as np
from embedlab import comparison, projection
from embedlab.workspace import Workspace

ws = Workspace(sys.argv[1])
comp, where = comparison.load(ws, sys.argv[2]), sys.argv[3]

def stop_here(what):
    print(what, file=sys.stderr, flush=True)
    time.sleep(600)

if where == "layout":  # the first model's layout is done, the second one's is not
    real_layout = projection.pca_preview
    def layout(x, seed=0):
        y = real_layout(x, seed)
        stop_here("inside the projection")
        return y
    projection.pca_preview = layout
else:  # the map file is half written: the first half of the real bytes, then nothing
    real_savez = np.savez
    def half_savez(f, *args, **kw):
        whole = io.BytesIO()
        real_savez(whole, *args, **kw)
        data = whole.getvalue()
        f.write(data[: len(data) // 2])
        f.flush()
        stop_here(f"inside the projection: {len(data) // 2} of {len(data)} bytes written")
    np.savez = half_savez
projection.map_set(ws, comp, "pca")
print("finished without stopping", file=sys.stderr)
"""

# After the restart: the comparison opens, and the map — recomputed, then read back, then
# recomputed again over a torn cache file — equals one computed here without the cache.
CHECK = """
import json, sys
import numpy as np
from embedlab import comparison, projection
from embedlab.workspace import Workspace

ws = Workspace(sys.argv[1])
comp = comparison.load(ws, sys.argv[2])
models = projection.vector_models(comp)
path = ws.comparison_dir(comp.id) / "projections" / "pca_0.npz"
n = projection.comp_size(ws, comp)
real_layout, layouts = projection.pca_preview, []

def counted_layout(x, seed=0):
    layouts.append(len(x))
    return real_layout(x, seed)

projection.pca_preview = counted_layout
maps = {m: real_layout(projection.load_vectors(ws, comp, m, np.arange(n), for_projection=True), 0) for m in models}
want = projection.align(maps, models[0])[0]

def look():
    layouts.clear()
    got = projection.map_set(ws, comp, "pca")
    cached = projection.load_npz(path)
    return {"layouts_computed": len(layouts), "models": list(got.coords),
            "shapes": [list(got.coords[m].shape) for m in models],
            "ids_all_chunks": bool(np.array_equal(got.ids, np.arange(n))),
            "equal_to_uncached": all(np.allclose(got.coords[m], want[m], atol=1e-5) for m in models),
            "cache_models": cached[0] if cached else None}

out = {"n": n, "models": models, "complete": comparison.is_complete(comp), "after_restart": look(),
       "read_back": look()}
data = path.read_bytes()
path.write_bytes(data[: len(data) // 2])  # the torn write that the atomic rename prevents
out["torn_cache"] = look()
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """A workspace holding one comparison of N_DOCS chunks × bm25, model2vec (copied per test)."""
    root = tmp_path_factory.mktemp("embedded")
    data, ws = corpus(root / "data", N_DOCS), root / "ws"
    done = run_cli(data, ",".join(MODELS), ws, root / "out.json")
    assert done.returncode == 0, done.stderr[-3000:]
    return ws


def comparison_id(ws: Path) -> str:
    (manifest,) = (ws / "comparisons").glob("*/manifest.json")
    return manifest.parent.name


def old_map(path: Path) -> bytes:
    """A complete, readable map from an earlier set of models: stale, so it gets recomputed."""
    ids = np.arange(N_DOCS)
    save_npz(path, ["an-earlier-model"], [np.zeros((N_DOCS, 2), np.float32)], ids=ids,
             disparity=np.zeros(1), reference=np.array("an-earlier-model"))
    return path.read_bytes()


@pytest.mark.parametrize("where", ["layout", "write"])
def test_kill9_inside_the_projection_then_the_map_is_recomputed(embedded, tmp_path, where):
    ws = tmp_path / "ws"
    shutil.copytree(embedded, ws)
    cid = comparison_id(ws)
    cache = ws / "comparisons" / cid / "projections" / "pca_0.npz"
    before = old_map(cache)

    proj = Watched([sys.executable, "-c", PROJECT, str(ws), cid, where], env=env())
    print(proj.wait_for(lambda t: next((line for line in t.splitlines() if "inside the projection" in line), None),
                        timeout=180))
    proj.kill9()
    # Old file or new file, never half of one: written in place, the cache would now be torn.
    assert cache.read_bytes() == before

    manifest = json.loads((ws / "comparisons" / cid / "manifest.json").read_text())
    rows = stored_rows(lite(ws))
    views = [name for name in rows if not name.startswith(CONTENT_PREFIX)]  # content collections are keyed by text
    assert len(views) == len(MODELS)
    for mid in MODELS:
        assert manifest["results"][mid]["chunks"] == N_DOCS
        assert_exactly(rows, manifest["results"][mid]["collection"], N_DOCS)

    done = subprocess.run([sys.executable, "-c", CHECK, str(ws), cid], cwd=ROOT, env=env(), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["complete"] and out["n"] == N_DOCS and out["models"] == MODELS
    for step, computed in (("after_restart", len(MODELS)), ("read_back", 0), ("torn_cache", len(MODELS))):
        look = out[step]
        assert look["layouts_computed"] == computed, step  # the stale and the torn file recomputed
        assert look["models"] == MODELS and look["shapes"] == [[N_DOCS, 2]] * len(MODELS), step
        assert look["ids_all_chunks"] and look["equal_to_uncached"], step
        assert look["cache_models"] == MODELS, step  # a complete map is cached again


def a_map(path: Path, n: int = 500) -> bytes:
    rng = np.random.default_rng(0)
    save_npz(path, ["bm25", "st:some/model"], [rng.random((n, 2), dtype=np.float32) for _ in range(2)],
             ids=np.arange(n), disparity=np.array([0.0, 0.2]), reference=np.array("bm25"))
    return path.read_bytes()


def test_every_torn_prefix_of_a_map_file_reads_as_missing(tmp_path):
    """Whatever a write interrupted at any byte leaves behind is rejected, never half read."""
    whole = a_map(tmp_path / "whole.npz")
    assert load_npz(tmp_path / "whole.npz") is not None
    torn = tmp_path / "torn.npz"
    for cut in [*range(0, len(whole), 61), len(whole) - 1]:
        torn.write_bytes(whole[:cut])
        assert load_npz(torn) is None, f"{cut} of {len(whole)} bytes read as a map"


def test_a_map_file_whose_tail_never_reached_the_disk_reads_as_missing(tmp_path):
    """A crash can leave the file at its full length with zeros where the last blocks were."""
    whole = a_map(tmp_path / "whole.npz")
    for keep in (len(whole) // 4, len(whole) // 2, len(whole) - 30):
        damaged = tmp_path / f"zeros_{keep}.npz"
        damaged.write_bytes(whole[:keep] + bytes(len(whole) - keep))
        assert load_npz(damaged) is None, f"zeros after byte {keep} read as a map"


def test_temp_files_left_by_a_killed_writer_are_swept(tmp_path):
    """A kill during save_npz leaves its .tmp-*.npz behind; the next write removes old ones only."""
    old, fresh = tmp_path / ".tmp-old.npz", tmp_path / ".tmp-live.npz"
    old.write_bytes(b"half a map")
    fresh.write_bytes(b"being written right now")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    save_npz(tmp_path / "pca_0.npz", ["m"], [np.zeros((2, 2), np.float32)])
    assert not old.exists() and fresh.exists()
    assert load_npz(tmp_path / "pca_0.npz") is not None

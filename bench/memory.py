"""#9 — memory of one app process serving 50k chunks × 4 models, and nothing loaded twice.

    python bench/memory.py --workspace /tmp/w50k          # builds it first if needed (in a child process)
    python bench/memory.py --quick --workspace /tmp/w5k   # 5,000 chunks

Runs in its own process what the dashboard does for one comparison — open it from its link,
open every model (Search page), search, load every model's vectors (Map and Neighbourhoods
pages), draw PCA maps, neighbours of a chunk — recording RSS after each step. Then it does
all of it again, as a second session (or a rerun) would: every step of the second pass should
add ~0 MB and hand back the very same objects (embedders, vectors), which is checked by
identity. Building the corpus happens in a child process so its embedding work does not count.
Peak RSS is the process's high-water mark (ru_maxrss), Milvus Lite included (milvus-lite 3 runs
in-process, as threads); any child process the app process has at the end is listed with its
own peak (VmHWM). With Milvus Lite, search runs over vectors held in process (``Store.resident``)
and ``Store.vectors`` hands back that same matrix: each model's vectors for the maps must be the
held object itself (checked by identity), so they are in memory once. Each step's seconds are
printed too (the first search reads every model's vectors from Lite).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import _common as c

MODELS = "minilm,minilm-l3-onnx,bm25,model2vec"


def main() -> None:
    ap = c.parser(__doc__, n_default=50_000, n_quick=5_000)
    ap.add_argument("--models", default=MODELS)
    ap.add_argument("--workspace", required=True, help="the scale comparison's workspace (built if missing)")
    args = ap.parse_args()
    c.header("memory (#9)")
    n = c.size(args)
    cid = _built(args.workspace, n, args.models)
    if not cid:
        cmd = [sys.executable, str(Path(__file__).with_name("search_overhead.py")), "--n", str(n),
               "--models", args.models, "--workspace", args.workspace, "--queries", "3"]
        subprocess.run(cmd, check=True)
        cid = _built(args.workspace, n, args.models)
    from app_support.serve import tune_memory

    tune_memory()  # what the launcher does before the server starts (before pyarrow is imported)
    from embedlab.workspace import Workspace

    rows = [("start (imports)", c.rss_mb(), 0.0, c.peak_rss_mb())]
    ws = Workspace(args.workspace)  # one per process, as the app's st.cache_resource holds it
    first = _session(ws, cid, rows, "1st")
    second = _session(ws, cid, rows, "2nd")
    same = {k: first[k] is second.get(k) for k in first}
    _report(rows, same, n, args.json, _held_once(ws, cid, first))


def _held_once(ws, cid, objects) -> dict:
    """Per model: are the vectors the pages got the very matrix search holds (one copy)?"""
    from embedlab import comparison
    from embedlab import resident as store  # the vectors held in process live there

    comp = comparison.load(ws, cid)
    out = {}
    for m in comp.model_ids:
        held = store._resident.get((ws.store.uri, comp.results[m]["collection"]))
        vecs = objects.get(f"vectors {m}")
        out[m] = {"held_mb": round(held.nbytes / 2**20, 1) if held is not None else None,
                  "pages_get_held_matrix": held is not None and vecs is held.matrix}
    return out


def _children() -> list[dict]:
    """This process's descendants (pid, peak and current RSS in MB, command), from /proc."""
    import os

    found, todo = [], [os.getpid()]
    while todo:
        pid = todo.pop()
        for task in Path(f"/proc/{pid}/task").glob("*"):
            kids = (task / "children").read_text().split() if (task / "children").exists() else []
            for kid in map(int, kids):
                todo.append(kid)
                status = dict(line.split(":", 1) for line in Path(f"/proc/{kid}/status").read_text().splitlines()
                              if ":" in line)
                cmd = Path(f"/proc/{kid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
                found.append({"pid": kid, "peak_rss_mb": int(status["VmHWM"].split()[0]) / 1024,
                              "rss_mb": int(status["VmRSS"].split()[0]) / 1024, "cmd": cmd})
    return found


def _built(root, n, models) -> str | None:
    """The id of the finished scale comparison in ``root`` (as bench/_corpus.py names it)."""
    import json

    folder = Path(root) / "comparisons"
    for m in folder.glob("*/manifest.json") if folder.exists() else []:
        data = json.loads(m.read_text())
        if (data["name"] == f"bench {n}" and [x["id"] for x in data["models"]] == models.split(",")
                and all(r.get("status") == "done" for r in data["results"].values())):
            return data["id"]
    return None


def _session(ws, cid, rows, tag) -> dict:
    """One visitor following the link: the pages' calls in the order a visit makes them."""
    import time

    from app_support import maps
    from embedlab import comparison, explore, projection, retrieval

    t = time.perf_counter()

    def step(name):
        nonlocal t
        rows.append((f"{tag}: {name}", c.rss_mb(), time.perf_counter() - t, c.peak_rss_mb()))
        t = time.perf_counter()

    comp = comparison.load(ws, cid)
    ds = ws.load_dataset(comp.dataset_key)
    objects = {"dataset": ds}
    step("open comparison + dataset")
    for m in [r.id for r in comp.runs() if r.done and not r.hybrid]:  # one at a time, to see each one's
        retrieval.open_model(ds, m, comp.options(m))  # cost; the page's call below gets the same ones
        step(f"open {m}")
    handles = explore.open_handles(ws, comp, ds)
    objects.update({f"embedder {m}": h.embedder for m, h in handles.items()})
    step(f"open {len(handles)} models (the page's call)")
    _, queries, _ = c.scifact_raw()
    query = next(iter(queries.values()))
    for m, h in handles.items():  # the first search of each model reads its vectors
        explore.search_all(ws, ds, {m: h}, query, 10)
        step(f"search {m}")
    explore.search_all(ws, ds, handles, query, 10)
    step("search all models")
    for m in projection.vector_models(comp):
        objects[f"vectors {m}"] = projection.load_vectors(ws, comp, m)
    step("load all vectors")
    projection.map_set(ws, comp, "pca")
    step("PCA maps")
    maps.point_neighbours(ws, comp, 0, 10)
    step("neighbours of a chunk")
    return objects


def _report(rows, same, n, json_path, held) -> None:
    prev = rows[0][1]
    print(f"{'step':44} {'RSS MB':>8} {'+MB':>7} {'s':>7} {'peak so far':>12}")
    for name, mb, seconds, peak in rows:
        print(f"{name:44} {mb:8.0f} {mb - prev:+7.0f} {seconds:7.1f} {peak:12.0f}")
        prev = mb
    second = sum(b[1] - a[1] for a, b in zip(rows, rows[1:], strict=False) if b[0].startswith("2nd"))
    twice = [k for k, v in same.items() if not v]
    kids = _children()
    threads = len(list(Path("/proc/self/task").iterdir()))
    print(f"peak RSS {c.peak_rss_mb():.0f} MB, settled {rows[-1][1]:.0f} MB, for {n} chunks × "
          f"{sum(k.startswith('embedder') for k in same)} models (this process, {threads} threads; Milvus Lite "
          f"runs in it)")
    print("child processes: " + ("; ".join(f"pid {k['pid']} peak {k['peak_rss_mb']:.0f} MB ({k['cmd']})" for k in kids)
                                 or "none"))
    print("vectors held for search / the pages get that same matrix: "
          + ", ".join(f"{m} {h['held_mb']} MB / {h['pages_get_held_matrix']}" for m, h in held.items()))
    print(f"second session added {second:+.0f} MB; objects loaded twice: {twice or 'none'}; {c.load()}")
    c.write_json(json_path, {"chunks": n, "rows": rows, "peak_rss_mb": c.peak_rss_mb(), "settled_rss_mb": rows[-1][1],
                             "threads": threads, "children": kids,
                             "held": held, "second_session_mb": second, "loaded_twice": twice})


if __name__ == "__main__":
    main()

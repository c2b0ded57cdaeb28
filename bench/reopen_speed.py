"""#3 — reopening a finished comparison (its link) until the Map page is drawn, against the
first run of that comparison.

    python bench/reopen_speed.py                # 5,183 SciFact abstracts (256-token chunks), minilm + bm25
    python bench/reopen_speed.py --quick        # 500 abstracts
    python bench/reopen_speed.py --no-browser   # engine-level reopen only

Three fresh processes, one after the other (Milvus Lite lets one process open a workspace):
1. first run: create the comparison, ``comparison.run`` (embed, store, evaluate), then the Map
   page's layouts (PCA preview, UMAP) — what the first visit waits for in total;
2. engine reopen: ``comparison.load`` + ``load_dataset`` + the Map page's calls (``map_set``,
   colouring, hover text, one figure per model, JSON) in a new process, counting every
   embedding call and every PCA/UMAP computation (both must be 0);
3. browser reopen: the app as users start it (``python -m app_support.serve``: ``streamlit run``
   behind the launcher, which starts UMAP's warm-up with the server) on that workspace, headless chromium opens
   ``/Map?c=<id>``; time from navigation until every model's WebGL map is on the page. Done twice:
   a server's first page (imports and caches cold) and a second visitor.
Ratio = reopen time / first-run time (the engine reopen and the cold-server page load).
Target: ≤ 0.02×, nothing re-embedded or re-projected.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import _common as c

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def main() -> None:
    ap = c.parser(__doc__, n_default=None, n_quick=500)
    ap.add_argument("--models", default="minilm,bm25")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--child", choices=["first", "reopen"], help=__import__("argparse").SUPPRESS)
    ap.add_argument("--workspace", help=__import__("argparse").SUPPRESS)
    ap.add_argument("--cid", help=__import__("argparse").SUPPRESS)
    args = ap.parse_args()
    if args.child:
        out = _first(args) if args.child == "first" else _reopen(args.workspace, args.cid)
        print(json.dumps(out))
        return
    c.header("reopen_speed (#3)")
    root = tempfile.mkdtemp(prefix="embedlab-reopen-")
    first = _child(["--child", "first", "--workspace", root, "--models", args.models]
                   + (["--n", str(c.size(args))] if c.size(args) else []))
    print(f"first run: {first['total_s']:.1f} s ({first['chunks']} chunks; "
          + ", ".join(f"{k} {v:.1f} s" for k, v in first["parts"].items()) + ")", flush=True)
    reopen = _child(["--child", "reopen", "--workspace", root, "--cid", first["cid"]])
    r = reopen["total_s"] / first["total_s"]
    parts = ", ".join(f"{k} {v:.2f} s" for k, v in reopen["parts"].items())
    print(f"engine reopen: {reopen['total_s']:.2f} s ({parts}); "
          f"embedding calls {reopen['embed_calls']}, layouts computed {reopen['layouts']}")
    print(f"  ratio {r:.4f} — {c.verdict(r, 0.02)}", flush=True)
    figures = {"first": first, "engine_reopen": reopen, "engine_ratio": r}
    if not args.no_browser:
        loads = _browser(root, first["cid"], len(first["models"]))
        for name, s in loads.items():
            print(f"browser {name}: Map page drawn in {s:.2f} s — ratio {s / first['total_s']:.4f} "
                  f"{c.verdict(s / first['total_s'], 0.02)}")
        figures["browser"] = loads
    print(c.load())
    c.write_json(args.json, figures)


def _child(argv: list[str]) -> dict:
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), *argv], capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"child {argv[:2]} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _first(args) -> dict:
    from embedlab import comparison, projection
    from embedlab.chunking import Chunking
    from embedlab.workspace import Workspace

    parts: dict[str, float] = {}
    t = time.perf_counter()
    docs, eval_set = c.scifact_documents(args.n)
    ws = Workspace(args.workspace)
    with c.timer(parts, "dataset"):
        ds = ws.add_dataset(docs, Chunking(256, 32), eval_set, name="scifact")
    comp = comparison.create(ws, ds, args.models.split(","))
    with c.timer(parts, "embed+evaluate"):
        comparison.run(ws, comp)
    with c.timer(parts, "PCA maps"):
        projection.map_set(ws, comp, "pca")
    with c.timer(parts, "UMAP maps"):
        projection.map_set(ws, comp, "umap")
    return {"cid": comp.id, "chunks": len(ds.chunks), "models": comp.model_ids, "parts": parts,
            "total_s": time.perf_counter() - t}


def _reopen(root: str, cid: str) -> dict:
    """The Map page's work for a reopened link, with embedding and layout calls counted."""
    from embedlab import projection
    from embedlab.embedders import base

    counts = {"embed": 0, "layout": 0}
    _count(base.Embedder, "_encode", counts, "embed")
    _count(projection, "umap_layout", counts, "layout")
    _count(projection, "pca_preview", counts, "layout")
    from app_support import maps
    from embedlab import comparison
    from embedlab.workspace import Workspace

    parts: dict[str, float] = {}
    t = time.perf_counter()
    with c.timer(parts, "manifest+dataset"):
        ws = Workspace(root)
        comp = comparison.load(ws, cid)
        ds = ws.load_dataset(comp.dataset_key)
    with c.timer(parts, "cached maps"):
        ms = projection.map_set(ws, comp, "umap")
    with c.timer(parts, "figures+JSON"):
        colour, names = maps.colouring("document", ws, comp, ds, ms, 10)
        hover = maps.hover_texts(ds, ms.ids)
        models = projection.vector_models(comp)
        figs = [maps.figure(m, ms, colour, names, hover, {}, None, comp.model_ids, False, m) for m in models]
        [f.to_json() for f in figs]
    return {"total_s": time.perf_counter() - t, "parts": parts, "embed_calls": counts["embed"],
            "layouts": counts["layout"]}


def _count(owner, name: str, counts: dict, key: str) -> None:
    original = getattr(owner, name)

    def counted(*a, **kw):
        counts[key] += 1
        return original(*a, **kw)

    setattr(owner, name, counted)


def _browser(root: str, cid: str, n_models: int) -> dict:
    port = 8700 + os.getpid() % 200
    env = {**os.environ, "EMBEDLAB_WORKSPACE": root}
    server = subprocess.Popen([sys.executable, "-m", "app_support.serve",
                               "--server.headless", "true", "--server.port", str(port),
                               "--browser.gatherUsageStats", "false"],
                              cwd=c.ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    before = _snapshot(root, cid)
    try:
        _wait_healthy(port)
        url = f"http://localhost:{port}/Map?c={cid}"
        loads = {"server's first page": _page_draw(url, n_models), "second visitor": _page_draw(url, n_models)}
        changed = sorted(set(_snapshot(root, cid).items()) ^ set(before.items()))
        print(f"comparison files written by the server during the visits: {[p for p, _ in changed] or 'none'}")
        return loads
    finally:
        server.terminate()
        server.wait(timeout=30)


def _snapshot(root: str, cid: str) -> dict:
    """Every file of the comparison (manifest, per-query results, cached maps) → its mtime: a
    re-run or a recomputed map would rewrite one of them."""
    folder = Path(root) / "comparisons" / cid
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def _wait_healthy(port: int, timeout: float = 120) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            if urllib.request.urlopen(f"http://localhost:{port}/_stcore/health", timeout=2).status == 200:
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError("streamlit did not start")


def _page_draw(url: str, n_models: int) -> float:
    """Seconds from navigation until ``n_models`` plotly maps each have a WebGL canvas drawn."""
    from playwright.sync_api import sync_playwright

    done = f"""() => {{
        const plots = [...document.querySelectorAll('.js-plotly-plot')]
            .filter(p => p.querySelector('canvas.gl-canvas'));
        return plots.length >= {n_models} && plots.every(p => p._fullData && p._fullData.length > 0);
    }}"""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        t = time.perf_counter()
        page.goto(url, wait_until="commit")
        page.wait_for_function(done, timeout=300_000, polling=100)
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        seconds = time.perf_counter() - t
        browser.close()
    return seconds


if __name__ == "__main__":
    main()

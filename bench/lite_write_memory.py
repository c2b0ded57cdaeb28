"""#12 — what writing N × 384 vectors into two Milvus Lite collections (a model's content collection
and its view, as a first run does) adds to the process's peak RSS: Lite's own write budgets
(``EMBEDLAB_LITE_DEFAULTS=1``: a 128 MB memtable per collection, merges up to 100k rows) with HNSW, as
before, against EmbedLab's (``lite_memory.tune``: 8 MB, 20k rows) with HNSW and with FLAT (the index
``Store`` now gives Lite collections it searches in process; ``EMBEDLAB_LITE_INDEX=HNSW`` for the
old). Each side runs in a fresh child process through ``Store`` (upsert blocks of 256 → flush →
evict, the path ``vectors.run``/``vectors.keep`` take), sampling RSS every 50 ms; the rows read back
are checked (ids and vectors) on every side.

    .venv/bin/python bench/lite_write_memory.py --n 100000
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time

from _common import header, load, parser

DIM = 384


def child(root: str, n: int) -> dict:
    import numpy as np

    from embedlab.store import Store

    def rss() -> int:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) // 1024 for line in f if line.startswith("VmRSS"))

    peak = [0]

    def sample() -> None:
        while True:
            peak[0] = max(peak[0], rss())
            time.sleep(0.05)

    store = Store(os.path.join(root, "milvus.db"))
    threading.Thread(target=sample, daemon=True).start()
    base, t0 = rss(), time.perf_counter()
    rng = np.random.default_rng(0)
    written = {}
    for name in ("content", "view"):
        store.ensure(name, DIM, False)
        for s in range(0, n, 256):
            v = rng.standard_normal((min(256, n - s), DIM)).astype(np.float32)
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            store.upsert(name, range(s, s + len(v)), v)
            if s == 0:
                written[name] = v[:5].copy()
        store.flush(name)
        store.evict(name)
    seconds = time.perf_counter() - t0
    time.sleep(0.2)
    top = peak[0]
    ok = all(store.row_count(name) == n and np.allclose(store.vectors(name, list(range(5)), False), written[name])
             for name in written)
    return {"peak_added_mb": top - base, "seconds": round(seconds, 1), "rows_ok": bool(ok)}


def run_side(n: int, defaults: bool, index: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MILVUS_LITE_", "EMBEDLAB_LITE_"))}
    env["EMBEDLAB_LITE_INDEX"] = index
    if defaults:
        env["EMBEDLAB_LITE_DEFAULTS"] = "1"
    with tempfile.TemporaryDirectory() as root:
        out = subprocess.run([sys.executable, __file__, "--child", root, "--n", str(n)], env=env,
                             capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = parser(__doc__, n_default=100_000, n_quick=20_000)
    ap.add_argument("--child", help=argparse_hidden())
    args = ap.parse_args()
    n = args.n_quick if args.quick else args.n
    if args.child:
        print(json.dumps(child(args.child, n)))
        return
    header(f"lite_write_memory n={n} × {DIM}, two collections")
    say = "peak +{peak_added_mb} MB, {seconds} s, rows read back ok: {rows_ok}"
    sides = {}
    for name, defaults, index in (("Lite's budgets, HNSW (before)", True, "HNSW"),
                                  ("EmbedLab's budgets, HNSW", False, "HNSW"),
                                  ("EmbedLab's budgets, FLAT (now)", False, "FLAT")):
        sides[name] = run_side(n, defaults, index)
        print(f"{name:32}", say.format(**sides[name]), flush=True)
    before, now = sides["Lite's budgets, HNSW (before)"], sides["EmbedLab's budgets, FLAT (now)"]
    ratio = now["peak_added_mb"] / max(before["peak_added_mb"], 1)
    print(f"ratio peak added (now / before) = {ratio:.2f}×; seconds {now['seconds'] / before['seconds']:.2f}×;",
          load())
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"n": n, "dim": DIM, "sides": sides, "ratio": ratio, "load": load()}, f, indent=2)


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()

"""#7 — projecting 50k vectors: PCA preview, and warm UMAP (PCA-50 first) against cold raw UMAP.

    python bench/projection_speed.py            # 50,000 × 384 (MiniLM vectors of SciFact ×10, perturbed)
    python bench/projection_speed.py --quick    # 10,000

Baseline: a fresh process runs ``umap.UMAP(random_state=0).fit_transform`` on the raw 384-d
vectors with an empty numba cache (NUMBA_CACHE_DIR points at a new folder): import + numba
compilation + fit, what the first map of a server would cost without EmbedLab's care.
EmbedLab: another fresh process (also with an empty numba cache) calls
``projection.warm_up_umap()`` — as the app does when it starts — waits until the warm-up
thread has finished, then times ``projection.umap_layout`` (PCA to 50 dimensions, then UMAP).
The two children run one after the other, never together. PCA preview: ``pca_preview`` in this
process, best of 3. Targets: PCA < 1 s; warm UMAP ≤ 0.5× cold raw UMAP.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common as c
import numpy as np


def main() -> None:
    ap = c.parser(__doc__, n_default=50_000, n_quick=10_000)
    ap.add_argument("--child", choices=["cold", "warm"], help=argparse_hidden())
    ap.add_argument("--vectors")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, np.load(args.vectors))))
        return
    c.header("projection_speed (#7)")
    x = _vectors(c.size(args))
    from embedlab import projection

    projection.pca_preview(x[:1000])  # sklearn's first-call imports are not the preview's cost
    pca = c.best_of(lambda: projection.pca_preview(x), 3)
    print(f"{len(x)} × {x.shape[1]} vectors; PCA preview {pca:.2f} s — {c.verdict(pca, 1.0)}", flush=True)
    with tempfile.NamedTemporaryFile(suffix=".npy", delete=False) as f:
        np.save(f, x)
    cold = _run_child("cold", f.name)
    print(f"cold raw UMAP: import {cold['import_s']:.1f} s + fit {cold['fit_s']:.1f} s = {cold['total_s']:.1f} s "
          f"({cold['load']})", flush=True)
    warm = _run_child("warm", f.name)
    print(f"EmbedLab: warm-up {warm['warmup_s']:.1f} s (background, at start), then umap_layout "
          f"{warm['fit_s']:.1f} s ({warm['load']})")
    os.unlink(f.name)
    ratio = warm["fit_s"] / cold["total_s"]
    print(f"warm / cold ratio {ratio:.3f} — {c.verdict(ratio, 0.5)}; {c.load()}")
    c.write_json(args.json, {"n": len(x), "pca_s": pca, "cold": cold, "warm": warm, "ratio": ratio})


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


def _vectors(n: int) -> np.ndarray:
    import _corpus

    corpus, _, _ = c.scifact_raw()
    return _corpus.copies(_corpus.base_vectors("minilm", [c.full_text(r) for r in corpus]), n)


def _run_child(kind: str, path: str) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": tempfile.mkdtemp(prefix="numba-cold-")}
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", kind, "--vectors", path],
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _child(kind: str, x: np.ndarray) -> dict:
    t = time.perf_counter()
    if kind == "cold":
        import umap

        t1 = time.perf_counter()
        umap.UMAP(random_state=0).fit_transform(x)
        t2 = time.perf_counter()
        return {"import_s": t1 - t, "fit_s": t2 - t1, "total_s": t2 - t, "load": c.load()}
    from embedlab import projection

    projection.warm_up_umap()
    while projection._warm["seconds"] is None:  # the warm-up thread sets it when both passes are done
        time.sleep(0.2)
    warmup = time.perf_counter() - t
    t1 = time.perf_counter()
    projection.umap_layout(x)
    return {"warmup_s": warmup, "fit_s": time.perf_counter() - t1, "load": c.load(),
            "warmup_error": projection._warm["error"]}


if __name__ == "__main__":
    main()

"""Reproduce published BEIR retrieval scores through the full EmbedLab pipeline.

    python bench/reproduce_beir.py ../shared/datasets/scifact [--models minilm,bm25,e5-small]

Documents are embedded whole (``title + " " + text``, each model truncating at its own window),
as MTEB does; metrics are our own functions. Prints ours beside the published figure (from the
model catalog, with its source) and the difference.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("beir_dir")
    ap.add_argument("--models", default="minilm,bm25,e5-small")
    ap.add_argument("--workspace", default=".embedlab-bench")
    ap.add_argument("--chunk-size", type=int, default=0, help="0 = whole documents (MTEB protocol)")
    ap.add_argument("--overlap", type=int, default=0)
    args = ap.parse_args()

    import logging

    logging.getLogger("pymilvus").setLevel(logging.ERROR)
    from embedlab import comparison
    from embedlab.catalog import published_scores
    from embedlab.chunking import Chunking
    from embedlab.cli.common import stderr_progress as _stderr_progress
    from embedlab.documents import load_paths
    from embedlab.workspace import Workspace

    ws = Workspace(args.workspace)
    loaded = load_paths([args.beir_dir])
    ds = ws.add_dataset(loaded.documents, Chunking(args.chunk_size, args.overlap), loaded.eval_set,
                        name=Path(args.beir_dir).name)
    comp = comparison.create(ws, ds, args.models.split(","))
    t = time.perf_counter()
    comparison.run(ws, comp, progress=_stderr_progress())
    name = Path(args.beir_dir).name
    print(f"\n{name}: {len(ds.documents)} documents, {len(ds.chunks)} chunks, "
          f"{len(ds.eval_set.qrels)} queries; {time.perf_counter() - t:.0f} s; comparison {comp.id}")
    print(f"{'model':16} {'nDCG@10':>8} {'published':>9} {'diff':>8}   {'R@100':>6} {'published':>9} {'diff':>8}"
          f"   {'embed s':>8} {'chunks/s':>8}  source")
    for mid in comp.model_ids:
        r = comp.results.get(mid, {})
        m, pub = r.get("metrics", {}), published_scores(mid, "SciFact" if "scifact" in name.lower() else name)
        if not m:
            print(f"{mid:16} {r.get('error', 'no metrics')}")
            continue
        print(f"{mid:16} {m['ndcg@10']:8.4f} {_f(pub.get('ndcg@10'))} {_d(m['ndcg@10'], pub.get('ndcg@10'))}   "
              f"{m['recall@100']:6.4f} {_f(pub.get('recall@100'))} {_d(m['recall@100'], pub.get('recall@100'))}   "
              f"{r.get('embed_seconds', 0):8.1f} {r.get('chunks_per_s', 0) or 0:8.1f}  {pub.get('source', '–')}")
    return 0


def _f(v):
    return f"{v:9.4f}" if v is not None else f"{'–':>9}"


def _d(ours, pub):
    return f"{ours - pub:+8.4f}" if pub is not None else f"{'':>8}"


if __name__ == "__main__":
    sys.exit(main())

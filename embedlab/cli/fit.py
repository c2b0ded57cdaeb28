"""``python -m embedlab fit`` and ``sweep``: what each model costs to run, and quality per chunk size.

Both take ``evaluate``'s options, run the comparison first (embedding only what the workspace does
not hold yet), then work on the stored vectors.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from .common import DEFAULT_MODELS, SAMPLE, stderr_progress


def add_commands(sub) -> None:
    fit = sub.add_parser("fit", help="precision and dimensions vs recall, Milvus index memory, HNSW vs FLAT")
    _common(fit)
    fit.add_argument("--chunk-size", type=int, default=None,
                     help="tokens per chunk; 0 = whole documents (default: the largest every model holds)")
    fit.add_argument("--no-milvus", action="store_true", help="skip the HNSW vs FLAT measurement in Milvus")
    fit.set_defaults(func=cmd_fit)
    sweep = sub.add_parser("sweep", help="evaluate the models at several chunk sizes, reusing stored vectors")
    _common(sweep)
    sweep.add_argument("--chunk-sizes", default="128,256,512,0", help="comma-separated; 0 = whole documents")
    sweep.set_defaults(func=cmd_sweep)


def _common(p) -> None:
    p.add_argument("--data", nargs="+", default=[str(SAMPLE)], help="files, folders, zips or a BEIR folder")
    p.add_argument("--models", default=DEFAULT_MODELS, help=f"comma-separated ids (default {DEFAULT_MODELS})")
    p.add_argument("--workspace", help="folder for vectors and manifests (default $EMBEDLAB_WORKSPACE or ./.embedlab)")
    p.add_argument("--json", dest="json_out", help="write results as JSON here")
    p.add_argument("--overlap", type=int, default=64)
    p.add_argument("--split", default="test", help="BEIR qrels split")
    p.add_argument("--base-url", help="base URL for openai: models (or OPENAI_BASE_URL)")


def _model_ids(args) -> list[str]:
    return [m.strip() for m in args.models.split(",") if m.strip()]


def chunking_for(size: int, overlap: int):
    """A window of ``size`` with the given overlap, the overlap cut to a quarter of a small window."""
    from ..chunking import Chunking

    return Chunking(size, overlap if size == 0 or overlap < size else size // 4)


def resolve_chunking(args, documents):
    """``--chunk-size`` as given, else the largest size every chosen model holds (measured on the documents)."""
    from ..chunking import default_chunk_size

    size = args.chunk_size
    if size is None:
        size = default_chunk_size(_model_ids(args), [d.full_text for d in documents[:200]])
        print(f"chunk size {size} cl100k tokens: the largest every chosen model holds in its own window "
              "(--chunk-size to choose)", file=sys.stderr)
    return chunking_for(size, args.overlap)


def print_truncation_warnings(comp) -> list[str]:
    from ..chunking import truncation_warnings

    warnings = truncation_warnings(comp.runs())
    for w in warnings:
        print(f"warning: {w}")
    return warnings


def _load(args):
    from ..documents import load_paths
    from ..workspace import Workspace

    ws = Workspace(args.workspace)
    ws.store  # noqa: B018 — fail fast when another process holds the workspace
    loaded = load_paths(args.data, split=args.split)
    for s in loaded.skipped:
        print(f"skipped {s.name}: {s.reason}", file=sys.stderr)
    if not loaded.documents:
        raise ValueError("no documents could be read from " + ", ".join(args.data))
    return ws, loaded


def _run(ws, loaded, args, chunking):
    """The comparison of ``args.models`` on ``loaded`` cut by ``chunking``, embedded and evaluated."""
    from .. import comparison

    ds = ws.add_dataset(loaded.documents, chunking, loaded.eval_set, name=", ".join(Path(p).name for p in args.data))
    opts = {"base_url": args.base_url} if args.base_url else {}
    models = [{"id": m, "options": opts if m.startswith("openai:") else {}} for m in _model_ids(args)]
    comp = comparison.create(ws, ds, models)
    t = time.perf_counter()
    comparison.run(ws, comp, progress=stderr_progress())
    print(f"chunk size {chunking.size}: {len(ds.chunks)} chunks, comparison {comp.id} in "
          f"{time.perf_counter() - t:.1f} s", file=sys.stderr)
    return ds, comp


def cmd_fit(args) -> int:
    from ..fit import fit_dataset, save_fit
    from ..fit_view import format_fit, summary_sentences

    ws, loaded = _load(args)
    ds, comp = _run(ws, loaded, args, resolve_chunking(args, loaded.documents))
    done = [r.id for r in comp.runs() if r.done]
    out = fit_dataset(ws, ds, done, {m: comp.options(m) for m in done}, milvus=not args.no_milvus)
    save_fit(ws, comp, out)
    out.update(comparison_id=comp.id, chunk_size=ds.chunking.size, n_chunks=len(ds.chunks))
    print(format_fit(out))
    for line in summary_sentences(out):
        print(line)
    out["truncation_warnings"] = print_truncation_warnings(comp)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, indent=2))
    return 0 if len(done) == len(comp.model_ids) else 1


def cmd_sweep(args) -> int:
    from ..fit import sweep
    from ..summary import format_table

    sizes = [int(s) for s in args.chunk_sizes.split(",") if s.strip()]
    ws, loaded = _load(args)
    opts = {"base_url": args.base_url} if args.base_url else {}
    ids = _model_ids(args)
    out = sweep(ws, loaded.documents, loaded.eval_set, ids, sizes, args.overlap,
                {m: opts for m in ids if m.startswith("openai:")}, ", ".join(Path(p).name for p in args.data),
                stderr_progress())
    for size, entry in out.items():
        print(f"\n== chunk size {size if size != '0' else 'whole documents'} "
              f"({next(iter(entry['models'].values()), {}).get('chunks')} chunks)")
        print(format_table(entry))
        for mid, t in entry["truncation"].items():
            if t["over_context_pct"] > 3:
                print(f"warning: {mid} truncates {t['over_context_pct']:.0f} % of these chunks "
                      f"(window {t['context_window']} tokens)")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, indent=2))
    return 0 if all(r.get("status") == "done" for e in out.values() for r in e["models"].values()) else 1

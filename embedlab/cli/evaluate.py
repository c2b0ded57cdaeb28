"""``python -m embedlab evaluate`` (embed a document set with several models and give the verdict) and
``models`` (the model ids)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ..summary import VERDICT_METRIC, VERDICT_METRICS, format_table, format_verdict, summary
from .common import DEFAULT_MODELS, SAMPLE, stderr_progress

QUERY_KINDS = ("given", "known-item", "inverse-cloze", "keyword")


def add_commands(sub) -> None:
    ev = sub.add_parser("evaluate", help="embed a document set with several models and score them")
    ev.add_argument("--data", nargs="+", default=[str(SAMPLE)], help="files, folders, zips or a BEIR folder")
    ev.add_argument("--models", default=DEFAULT_MODELS, help=f"comma-separated ids (default {DEFAULT_MODELS})")
    ev.add_argument("--workspace", help="folder for vectors and manifests (default $EMBEDLAB_WORKSPACE or ./.embedlab)")
    ev.add_argument("--json", dest="json_out", help="write results as JSON here")
    ev.add_argument("--chunk-size", type=int, default=None,
                    help="tokens per chunk; 0 = whole documents (default: the largest every model holds, <= 512)")
    ev.add_argument("--overlap", type=int, default=64)
    ev.add_argument("--split", default="test", help="BEIR qrels split")
    ev.add_argument("--base-url", help="base URL for openai: models (or OPENAI_BASE_URL)")
    ev.add_argument("--seed", type=int, default=0, help="seed of the bootstrap, the tests and generated queries")
    ev.add_argument("--queries", default="given", choices=QUERY_KINDS,
                    help="evaluation queries: the data's own (given), or generated from the documents: known-item "
                         "(a title or sentence), inverse-cloze (a sentence removed from its document), keyword")
    ev.add_argument("--n-queries", type=int, default=100, help="how many queries to generate")
    ev.add_argument("--metric", default=VERDICT_METRIC, choices=VERDICT_METRICS,
                    help=f"metric of the verdict (default {VERDICT_METRIC})")
    ev.set_defaults(func=cmd_evaluate)
    ls = sub.add_parser("models", help="list the model ids")
    ls.set_defaults(func=cmd_models)


def cmd_models(args) -> int:
    from ..embedders import list_models

    for spec in list_models():
        print(f"{spec.id:18} {'sparse' if spec.sparse else 'dense ':6} {spec.description}")
    print(f"{'st:<id or dir>':18} {'dense':6} any sentence-transformers model")
    print(f"{'openai:<model>':18} {'dense':6} OpenAI or any OpenAI-compatible endpoint (--base-url)")
    print(f"{'hybrid:a+b[@w]':18} {'fused':6} RRF (or weighted, w = a's share) of two models above")
    return 0


def cmd_evaluate(args) -> int:
    from .. import comparison
    from ..documents import load_paths
    from ..workspace import Workspace
    from .fit import print_truncation_warnings, resolve_chunking

    ws = Workspace(args.workspace)
    ws.store  # noqa: B018 — fail fast, before any work, when another process holds the workspace
    loaded = load_paths(args.data, split=args.split)
    for s in loaded.skipped:
        print(f"skipped {s.name}: {s.reason}", file=sys.stderr)
    if not loaded.documents:
        raise ValueError("no documents could be read from " + ", ".join(args.data))
    documents, eval_set = _queries(args.queries, args.n_queries, args.seed, loaded)
    ds = ws.add_dataset(documents, resolve_chunking(args, documents), eval_set,
                        name=", ".join(Path(p).name for p in args.data) + ("" if args.queries == "given"
                                                                          else f" ({args.queries})"))
    print(f"{len(ds.documents)} documents → {len(ds.chunks)} chunks; "
          f"{len(ds.eval_set.qrels) if ds.eval_set else 0} evaluation queries", file=sys.stderr)
    opts = {"base_url": args.base_url} if args.base_url else {}
    models = [{"id": m.strip(), "options": opts if m.strip().startswith("openai:") else {}}
              for m in args.models.split(",") if m.strip()]
    comp = comparison.create(ws, ds, models, seed=args.seed)
    t = time.perf_counter()
    comparison.run(ws, comp, progress=stderr_progress())
    print(f"comparison {comp.id} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    out = summary(comp, ws, metric=args.metric)
    print(format_table(out))
    print(format_verdict(out))
    print_truncation_warnings(comp)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, indent=2))
    return 0 if all(r.done for r in comp.runs()) else 1


def _queries(kind: str, n: int, seed: int, loaded) -> tuple[list, object]:
    """The documents and evaluation set to run on: the data's own, or a generated set of ``kind``."""
    from .. import evalgen

    if kind == "given":
        return loaded.documents, loaded.eval_set
    if kind == "inverse-cloze":
        return evalgen.generate_inverse_cloze(loaded.documents, n, seed)
    make = evalgen.generate_keyword_set if kind == "keyword" else evalgen.generate_eval_set
    return loaded.documents, make(loaded.documents, n=n, seed=seed)

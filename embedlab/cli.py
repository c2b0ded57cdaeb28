"""``python -m embedlab …``: the dashboard's job, headless."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "scifact-mini"
DEFAULT_MODELS = "minilm,bm25,model2vec"
COLUMNS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")
VERDICT_METRIC = "ndcg@10"
VERDICT_METRICS = tuple(f"{m}@{k}" for m in ("ndcg", "recall", "mrr", "map", "precision") for k in (1, 3, 5, 10, 100))
QUERY_KINDS = ("given", "known-item", "inverse-cloze", "keyword")


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
    logging.getLogger("milvus_lite").setLevel(logging.CRITICAL)  # our own message says it better
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("\ninterrupted — run the same command again to resume; nothing stored is lost", file=sys.stderr)
        return 130
    except Exception as e:  # one clear line, not a traceback, for errors a user can act on
        from .comparison import ComparisonNotFound, ManifestCorrupt
        from .embedders import EmbedderError, UnknownEmbedderError
        from .store import StoreError

        if isinstance(e, (EmbedderError, UnknownEmbedderError, StoreError, ComparisonNotFound,
                          ManifestCorrupt, FileNotFoundError, ValueError)):
            print(f"error: {e}", file=sys.stderr)
            return 2
        raise


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m embedlab", description=__doc__)
    sub = p.add_subparsers(required=True)
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
    from .cli_probes import add_probe_commands

    add_probe_commands(sub)
    __import__("embedlab.cli_fit").cli_fit.add_fit_commands(sub)
    __import__("embedlab.cli_bundle").cli_bundle.add_bundle_commands(sub)
    return p


def cmd_models(args) -> int:
    from .embedders import list_models

    for spec in list_models():
        print(f"{spec.id:18} {'sparse' if spec.sparse else 'dense ':6} {spec.description}")
    print(f"{'st:<id or dir>':18} {'dense':6} any sentence-transformers model")
    print(f"{'openai:<model>':18} {'dense':6} OpenAI or any OpenAI-compatible endpoint (--base-url)")
    print(f"{'hybrid:a+b[@w]':18} {'fused':6} RRF (or weighted, w = a's share) of two models above")
    return 0


def cmd_evaluate(args) -> int:
    from . import comparison
    from .cli_fit import print_truncation_warnings, resolve_chunking
    from .documents import load_paths
    from .workspace import Workspace

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
    comparison.run(ws, comp, progress=_stderr_progress())
    print(f"comparison {comp.id} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    out = summary(comp, ws, metric=args.metric)
    print(format_table(out))
    print(format_verdict(out))
    print_truncation_warnings(ds, comp.model_ids)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, indent=2))
    return 0 if all(r.get("status") == "done" for r in comp.results.values()) else 1


def _queries(kind: str, n: int, seed: int, loaded) -> tuple[list, object]:
    """The documents and evaluation set to run on: the data's own, or a generated set of ``kind``."""
    from . import evalgen

    if kind == "given":
        return loaded.documents, loaded.eval_set
    if kind == "inverse-cloze":
        return evalgen.generate_inverse_cloze(loaded.documents, n, seed)
    make = evalgen.generate_keyword_set if kind == "keyword" else evalgen.generate_eval_set
    return loaded.documents, make(loaded.documents, n=n, seed=seed)


def summary(comp, ws=None, metric: str = VERDICT_METRIC) -> dict:
    """The comparison as JSON: per model its metrics, CIs and per-query values; the pairwise tests and
    tiers (nDCG@10, and ``metric`` when another is chosen); the evaluation card."""
    from . import comparison, verdict

    per_query = comparison.per_query(ws, comp) if ws is not None else {}
    models = {}
    for mid in comp.model_ids:
        r = comp.results.get(mid, {})
        m = r.get("metrics", {})
        models[mid] = {**{c: m.get(c) for c in COLUMNS}, "chunks": r.get("chunks"),
                       "embedded_now": r.get("embedded_now"), "embed_seconds": r.get("embed_seconds"),
                       "query_ms_p50": r.get("query_ms_p50"), "status": r.get("status"),
                       "n_queries": r.get("n_queries"), "ci": r.get("ci", {}),
                       "over_context_pct": r.get("over_context_pct")}
        if mid in per_query:
            models[mid]["per_query"] = {c: {q: v[c] for q, v in per_query[mid].items()} for c in COLUMNS}
        if r.get("error"):
            models[mid]["error"] = r["error"]
    out = {"comparison_id": comp.id, "models": models, "seed": comp.seed, "card": comp.card}
    if ws is not None:
        from .evalgen import lexical_overlap, set_kind

        ds = ws.load_dataset(comp.dataset_key)
        overlap = lexical_overlap(ds.eval_set, ds)
        out["query_set"] = {"kind": set_kind(ds.eval_set), "generated": bool(ds.eval_set and ds.eval_set.generated),
                            "lexical_overlap": None if overlap is None else round(overlap, 4)}
    scored = {m: per_query[m] for m in comp.model_ids if m in per_query and models[m]["status"] == "done"}
    if scored:
        main = verdict.compare(scored, VERDICT_METRIC, seed=comp.seed)
        out["pairwise"] = [{"a": p.a, "b": p.b, "metric": p.metric, "diff": p.diff, "ci": [p.low, p.high],
                            "p": p.p, "p_holm": p.p_holm, "wins": p.wins, "ties": p.ties, "losses": p.losses}
                           for p in main.pairs]
        out["tiers"] = [list(t) for t in main.tiers]
        chosen = main if metric == VERDICT_METRIC else verdict.compare(scored, metric, seed=comp.seed)
        out["verdict"] = chosen.to_dict()
    return out


def format_table(out: dict) -> str:
    head = ["model", *COLUMNS, "chunks", "embedded_now", "embed_s", "query_ms_p50"]
    rows = [head]
    for mid, r in out["models"].items():
        if r.get("error"):
            rows.append([mid, f"error: {r['error']}"])
            continue
        ci = r.get("ci") or {}
        rows.append([mid, *(_fmt(r[c]) + (f" [{ci[c][0]:.3f}, {ci[c][1]:.3f}]" if c in ci else "") for c in COLUMNS),
                     str(r["chunks"]), str(r["embedded_now"]), _fmt(r["embed_seconds"], 1),
                     _fmt(r["query_ms_p50"], 1)])
    full = [r for r in rows if len(r) == len(head)]  # an error row must not widen every column
    widths = [max(len(r[i]) for r in full) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) for r in rows)


def format_verdict(out: dict) -> str:
    """Tiers and the pairwise tests, as the terminal shows them."""
    if "verdict" not in out:
        return ""
    from .verdict import Verdict

    v = Verdict.from_dict(out["verdict"])
    lines = [f"\nverdict on {v.metric}, {v.n_queries} queries (95 % paired bootstrap CIs, {v.n_resamples} resamples; "
             f"paired randomization test, {v.n_permutations} permutations, Holm-corrected; seed {v.seed})"]
    qs = out.get("query_set")
    if qs:
        overlap = "" if qs["lexical_overlap"] is None else f"; {qs['lexical_overlap']:.0%} of query words appear " \
            "verbatim in the relevant documents"
        lines.append(f"  rests on {qs['kind']}{overlap}")
    if v.small:
        lines.append(f"  only {v.n_queries} queries: too few to separate close models")
    for i, tier in enumerate(v.tiers, 1):
        names = ", ".join(f"{m} {v.score(m).mean:.4f} [{v.score(m).low:.4f}, {v.score(m).high:.4f}]" for m in tier)
        lines.append(f"  tier {i}{' (statistically tied)' if len(tier) > 1 else ''}: {names}")
    for p in sorted(v.pairs, key=lambda p: p.p_holm):
        mark = "differ" if p.significant else "tied"
        lines.append(f"  {p.a} − {p.b}: {p.diff:+.4f} [{p.low:+.4f}, {p.high:+.4f}]  p={p.p:.4g}  "
                     f"p_holm={p.p_holm:.4g}  W/T/L {p.wins}/{p.ties}/{p.losses}  {mark}")
    return "\n".join(lines)


def _fmt(v, digits=4) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def _stderr_progress():
    def emit(e):
        if e.get("stage") == "embed":
            print(f"\r  {e['model']}: {e['done']}/{e['total']} chunks, {e['rate']:.0f}/s, "
                  f"{e['eta_s']:.0f} s left   ", end="", file=sys.stderr, flush=True)
        elif e.get("stage") in ("load", "evaluate"):
            print(f"\n{e['model']}: {e['stage']}…", end="", file=sys.stderr, flush=True)
        elif e.get("stage") == "error":
            print(f"\n{e['model']}: ERROR {e['error']}", file=sys.stderr)
        elif e.get("stage") == "finished":
            print(file=sys.stderr)
    return emit

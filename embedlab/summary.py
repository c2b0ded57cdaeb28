"""A comparison's results as JSON and as the terminal's tables: per model its metrics, intervals and
per-query values, the pairwise tests and tiers, the query set and the evaluation card. The CLI prints it,
``fit``'s sweep writes it per chunk size."""

from __future__ import annotations

COLUMNS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")
VERDICT_METRIC = "ndcg@10"
VERDICT_METRICS = tuple(f"{m}@{k}" for m in ("ndcg", "recall", "mrr", "map", "precision") for k in (1, 3, 5, 10, 100))


def summary(comp, ws=None, metric: str = VERDICT_METRIC) -> dict:
    """The comparison as JSON: per model its metrics, CIs and per-query values; the pairwise tests and
    tiers (nDCG@10, and ``metric`` when another is chosen); the evaluation card."""
    from . import comparison, verdict

    per_query = comparison.per_query(ws, comp) if ws is not None else {}
    models = {}
    for r in comp.runs():
        mid = r.id
        models[mid] = {**{c: r.metrics.get(c) for c in COLUMNS}, "chunks": r.chunks, "embedded_now": r.embedded_now,
                       "reused": r.reused, "embed_seconds": r.embed_seconds, "query_ms_p50": r.query_ms_p50,
                       "status": r.status if r.status != "queued" else None, "n_queries": r.n_queries, "ci": r.ci,
                       "over_context_pct": r.over_context_pct}
        if mid in per_query:
            models[mid]["per_query"] = {c: {q: v[c] for q, v in per_query[mid].items()} for c in COLUMNS}
        if r.error:
            models[mid]["error"] = r.error
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
        rows.append([mid, *(fmt(r[c]) + (f" [{ci[c][0]:.3f}, {ci[c][1]:.3f}]" if c in ci else "") for c in COLUMNS),
                     str(r["chunks"]), str(r["embedded_now"]), fmt(r["embed_seconds"], 1),
                     fmt(r["query_ms_p50"], 1)])
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


def fmt(v, digits=4) -> str:
    return "–" if v is None else f"{v:.{digits}f}"

"""From a verdict to a decision: quality against cost (Pareto front), the caveats of this run, and a
recommendation in plain words built only from measured numbers.

``Option`` is one model's row: quality (the verdict metric with its CI), $ to embed the corpus now and at
a projected size, p95 query latency, and vector memory. Lower cost, latency and memory are better.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .catalog import get_card
from .chunking import TRUNCATION_WARN_PCT, truncation_sentence
from .costs import embedding_cost, storage_bytes
from .records import ModelRun, is_hybrid, parts
from .verdict import SMALL_SET, Verdict, compare

PROJECTED_CHUNKS = 1_000_000
COSTS = ("cost_now", "cost_projected", "latency_p95_ms", "memory_bytes")


@dataclass(frozen=True)
class Option:
    model: str
    quality: float
    low: float
    high: float
    tier: int
    cost_now: float | None  # $ to embed this corpus (0 for local models; None when the price is unknown)
    cost_projected: float | None  # $ at PROJECTED_CHUNKS chunks
    latency_p95_ms: float | None
    memory_bytes: int | None  # vectors for the projected corpus
    dominated: bool = False


@dataclass(frozen=True)
class Recommendation:
    pick: str | None  # None: the run cannot separate the models
    headline: str
    tied: tuple[str, ...] = ()  # one line per model tied with the pick
    caveats: tuple[str, ...] = ()
    basis: str = ""  # which evaluation set and metric the verdict rests on


def _dominates(a: Option, b: Option, costs: Sequence[str] = COSTS) -> bool:
    """a is at least as good as b on quality and every cost, and better on one. A cost unknown for
    either side is not compared (nothing was measured to say which is cheaper)."""
    known = [c for c in costs if getattr(a, c) is not None and getattr(b, c) is not None]
    not_worse = a.quality >= b.quality and all(getattr(a, c) <= getattr(b, c) for c in known)
    better = a.quality > b.quality or any(getattr(a, c) < getattr(b, c) for c in known)
    return not_worse and better


def pareto(options: Sequence[Option]) -> list[Option]:
    """The same options, each marked dominated when another is no worse anywhere and better somewhere."""
    from dataclasses import replace

    return [replace(o, dominated=any(_dominates(other, o) for other in options if other is not o)) for o in options]


def front_on(options: Sequence[Option], cost: str) -> list[Option]:
    """The Pareto front of quality against one cost (models with that cost known), cheapest first."""
    known = [o for o in options if getattr(o, cost) is not None]
    front = [o for o in known if not any(_dominates(other, o, (cost,)) for other in known if other is not o)]
    return sorted(front, key=lambda o: (getattr(o, cost), -o.quality))


def _price(model: str) -> float | None:
    base = model.split(":", 1)[1] if is_hybrid(model) else model
    if is_hybrid(model):
        parts = [p.split("@")[0] for p in base.split("+")]
        prices = [_price(p) for p in parts]
        return None if any(p is None for p in prices) else sum(prices)
    card = get_card(model)
    if card is None and model.startswith("st:"):
        return 0.0  # a sentence-transformers model runs here: no per-token fee
    return card.price_per_1m_tokens if card else None


def options(verdict: Verdict, runs: Mapping[str, ModelRun], tokens: int, chunks: int,
            projected_chunks: int = PROJECTED_CHUNKS) -> list[Option]:
    """One Option per model in the verdict; ``tokens``/``chunks`` describe the corpus (cl100k tokens)."""
    out = []
    for s in verdict.scores:
        r = runs.get(s.model) or ModelRun(s.model)
        price = _price(s.model)
        now = None if price is None else embedding_cost(tokens, price)
        projected = None if price is None else embedding_cost(tokens * projected_chunks / max(chunks, 1), price)
        out.append(Option(s.model, s.mean, s.low, s.high, verdict.tier_of(s.model), now, projected,
                          r.query_ms_p95, _memory(r, runs, projected_chunks)))
    return pareto(out)


def _memory(r: ModelRun, runs: Mapping[str, ModelRun], n: int) -> int | None:
    if r.hybrid:
        sizes = [_memory(runs.get(p) or ModelRun(p), runs, n) for p in parts(r.id)]
        return None if any(s is None for s in sizes) else sum(sizes)
    if r.dim and not r.sparse:
        return storage_bytes(n, dim=r.dim)["vectors"]
    if r.nnz_mean is not None:
        return storage_bytes(n, nnz_mean=r.nnz_mean)["vectors"]
    return None


@dataclass(frozen=True)
class RunFacts:
    """What the caveats are made of, read from the comparison and its dataset."""

    generated: bool = False
    set_kind: str = "judged queries"  # or "generated known-item queries", "inverse-cloze", ...
    lexical_overlap: float | None = None  # share of query words found verbatim in the relevant chunk
    truncated_pct: Mapping[str, float] = field(default_factory=dict)
    failed: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


def caveats(verdict: Verdict, facts: RunFacts) -> list[str]:
    out = []
    if verdict.small:
        out.append(f"Only {verdict.n_queries} queries: fewer than {SMALL_SET} cannot separate close models; "
                   "add judged queries before trusting a small difference.")
    if facts.generated:
        line = f"The queries were generated from the documents ({facts.set_kind})"
        if facts.lexical_overlap is not None:
            line += f"; {facts.lexical_overlap:.0%} of query words appear verbatim in the relevant document"
            if facts.lexical_overlap >= 0.6:
                line += ", which favours keyword models such as BM25"
        out.append(line + ".")
    for model, pct in sorted(facts.truncated_pct.items()):
        if pct > TRUNCATION_WARN_PCT:
            out.append(truncation_sentence(model, pct) + " Its score is for the start of those chunks only.")
    for model, error in sorted(facts.failed.items()):
        out.append(f"{model} failed and is not in the verdict: {error}")
    out.extend(facts.warnings)
    return out


def _money(x: float | None) -> str:
    if x is None:
        return "price unknown"
    return "$0 (local)" if x == 0 else f"${x:,.2f}"


def _tied_line(pick: Option, other: Option, verdict: Verdict, projected: int = PROJECTED_CHUNKS) -> str:
    pair = verdict.pair(other.model, pick.model)
    parts = [f"{other.model}: {pair.diff:+.3f} {verdict.metric} (95 % CI {pair.low:+.3f} to {pair.high:+.3f}, "
             f"Holm p = {pair.p_holm:.3f})"]
    if None not in (other.cost_projected, pick.cost_projected) and other.cost_projected != pick.cost_projected:
        parts.append(f"{_money(other.cost_projected)} vs {_money(pick.cost_projected)} per {projected:,} chunks")
    if other.latency_p95_ms and pick.latency_p95_ms:
        parts.append(f"p95 query {other.latency_p95_ms:.0f} ms vs {pick.latency_p95_ms:.0f} ms")
    if other.memory_bytes and pick.memory_bytes:
        parts.append(f"{other.memory_bytes / 2**30:.1f} GiB vs {pick.memory_bytes / 2**30:.1f} GiB of vectors "
                     f"at {projected:,} chunks")
    return "; ".join(parts)


def _differing(verdict: Verdict) -> list[str]:
    return [f"{p.a} vs {p.b}" for p in verdict.pairs if p.significant]


def recommend(verdict: Verdict, opts: Sequence[Option], facts: RunFacts,
              projected: int = PROJECTED_CHUNKS) -> Recommendation:
    notes = tuple(caveats(verdict, facts))
    basis = f"{verdict.metric} on {verdict.n_queries} {facts.set_kind}"
    if len(verdict.scores) < 2:
        only = verdict.scores[0]
        return Recommendation(None, f"Only {only.model} was evaluated: nothing to compare it with.", (), notes, basis)
    if not verdict.separable:
        best = verdict.scores[0].model
        others = _differing(verdict)
        line = (f"No recommendation: no model can be separated from the best ({best}) on {verdict.metric} after "
                "Holm's correction. ")
        line += (f"Some other pairs do differ ({', '.join(others)}). " if others else "")
        return Recommendation(None, line + "Add queries, or choose among them on cost and latency.", (), notes, basis)
    by_model = {o.model: o for o in opts}
    best = verdict.scores[0]
    pick = by_model[best.model]
    tier1 = [m for m in verdict.tiers[0] if m != best.model]
    second = verdict.tiers[1][0]
    gap = verdict.pair(best.model, second)
    headline = (f"Use {best.model}: {verdict.metric} {best.mean:.3f} (95 % CI {best.low:.3f}–{best.high:.3f}). "
                f"It beats {second} by {gap.diff:+.3f} (Holm p = {gap.p_holm:.3g})")
    headline += "." if not tier1 else f"; {len(tier1)} other model(s) are statistically tied with it."
    cheaper = [by_model[m] for m in tier1 if _cheaper(by_model[m], pick)]
    if cheaper:
        headline += f" Tied and cheaper to run: {', '.join(o.model for o in cheaper)} — see below."
    tied = tuple(_tied_line(pick, by_model[m], verdict, projected) for m in tier1)
    if tied:
        notes += ("A tied model's difference interval is not corrected for the number of pairs; the Holm p decides.",)
    return Recommendation(best.model, headline, tied, notes, basis)


def _cheaper(a: Option, b: Option) -> bool:
    """a costs less than b on some known cost and more on none."""
    known = [c for c in COSTS if getattr(a, c) is not None and getattr(b, c) is not None]
    return any(getattr(a, c) < getattr(b, c) for c in known) and all(getattr(a, c) <= getattr(b, c) for c in known)


@dataclass(frozen=True)
class Judgement:
    """Everything the verdict views render for one comparison and metric."""

    verdict: Verdict
    options: tuple[Option, ...]
    recommendation: Recommendation
    facts: RunFacts
    tokens: int = 0  # cl100k tokens of the corpus: what the $ figures are computed from
    chunks: int = 0


def run_facts(comp, ds, per_query: Mapping) -> RunFacts:
    from .evalgen import lexical_overlap, set_kind

    ev = ds.eval_set
    runs = comp.runs()
    warnings: tuple[str, ...] = ()
    try:
        from .language import coverage_warnings, language_shares

        warnings = tuple(coverage_warnings(comp.model_ids, language_shares(ds.documents)))
    except ImportError:  # languages are optional: the verdict stands without them
        pass
    return RunFacts(generated=bool(ev and ev.generated), set_kind=set_kind(ev),
                    lexical_overlap=lexical_overlap(ev, ds) if ev else None,
                    truncated_pct={r.id: r.over_context_pct for r in runs if r.over_context_pct is not None},
                    failed={r.id: r.error or "" for r in runs if r.status == "error"},
                    warnings=warnings)


def judge(comp, ds, per_query: Mapping, metric: str = "ndcg@10", projected_chunks: int = PROJECTED_CHUNKS,
          tokens: int | None = None) -> Judgement | None:
    """The verdict, its Pareto options and the recommendation; None before any model is evaluated."""
    from .costs import tiktoken_count

    runs = {r.id: r for r in comp.runs()}
    scored = {m: per_query[m] for m, r in runs.items() if m in per_query and r.done}
    if not scored:
        return None
    pending = [m for m, r in runs.items() if r.status not in ("done", "error")]
    v = compare(scored, metric, seed=comp.seed)
    if tokens is None:
        tokens = sum(tiktoken_count(ds.chunk_texts))
    opts = tuple(options(v, runs, tokens, len(ds.chunks), projected_chunks))
    facts = run_facts(comp, ds, per_query)
    if pending:
        from dataclasses import replace

        facts = replace(facts, warnings=(*facts.warnings, f"Still running, not in the verdict yet: "
                                                  f"{', '.join(pending)}."))
    return Judgement(v, opts, recommend(v, opts, facts, projected_chunks), facts, tokens, len(ds.chunks))

"""The verdict: which model, how sure, and why.

Everything here works on per-query metric values (``{model: {qid: {metric: value}}}``, what
``evaluation.evaluate`` returns as ``Metrics.per_query``) and never on means alone:

- a 95 % percentile bootstrap CI per model, resampling *queries*, the same resampled queries for
  every model (so intervals of different models are comparable and the pairwise differences get
  their own paired interval);
- a two-sided paired randomization test per pair (Fisher's sign-flip test, as ranx's "fisher"),
  with p = (hits + 1) / (n + 1) so p is never 0 (ranx reports hits / n);
- Holm's step-down correction over all pairs (ranx applies none);
- tiers: the best model anchors tier 1 and every model the corrected test cannot separate from it
  joins; the best of the rest anchors tier 2, and so on (membership is relative to the anchor).

One ``Verdict`` record renders everywhere: the Metrics page, the CLI table, the JSON and the report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

ALPHA = 0.05
N_RESAMPLES = 2000
N_PERMUTATIONS = 10_000
SMALL_SET = 50  # below this many queries, close models cannot be told apart


@dataclass(frozen=True)
class Score:
    model: str
    mean: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    metric: str
    diff: float  # mean(a − b) over the same queries
    low: float  # 95 % paired bootstrap CI of the difference
    high: float
    p: float  # two-sided paired randomization test
    p_holm: float
    wins: int  # queries where a > b
    ties: int
    losses: int

    @property
    def significant(self) -> bool:
        return self.p_holm < ALPHA


@dataclass(frozen=True)
class Verdict:
    metric: str
    n_queries: int
    scores: tuple[Score, ...]  # best mean first
    pairs: tuple[Pair, ...]
    tiers: tuple[tuple[str, ...], ...]
    seed: int = 0
    n_resamples: int = N_RESAMPLES
    n_permutations: int = N_PERMUTATIONS
    alpha: float = ALPHA
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def small(self) -> bool:
        return self.n_queries < SMALL_SET

    @property
    def separable(self) -> bool:
        """False when every model sits in one tier: the data cannot name a winner."""
        return len(self.tiers) > 1

    def score(self, model: str) -> Score:
        return next(s for s in self.scores if s.model == model)

    def pair(self, a: str, b: str) -> Pair | None:
        """The pair oriented as asked (diff = a − b), whichever way it was stored."""
        for p in self.pairs:
            if (p.a, p.b) == (a, b):
                return p
            if (p.a, p.b) == (b, a):
                return Pair(a, b, p.metric, -p.diff, -p.high, -p.low, p.p, p.p_holm, p.losses, p.ties, p.wins)
        return None

    def tier_of(self, model: str) -> int | None:
        """1 for the first tier; None for a model the verdict does not cover (failed, not evaluated)."""
        return next((i + 1 for i, t in enumerate(self.tiers) if model in t), None)

    def to_dict(self) -> dict:
        return {**asdict(self), "small": self.small, "separable": self.separable}

    @classmethod
    def from_dict(cls, d: Mapping) -> Verdict:
        return cls(metric=d["metric"], n_queries=d["n_queries"],
                   scores=tuple(Score(**s) for s in d["scores"]),
                   pairs=tuple(Pair(**p) for p in d["pairs"]),
                   tiers=tuple(tuple(t) for t in d["tiers"]), seed=d.get("seed", 0),
                   n_resamples=d.get("n_resamples", N_RESAMPLES),
                   n_permutations=d.get("n_permutations", N_PERMUTATIONS), alpha=d.get("alpha", ALPHA),
                   notes=tuple(d.get("notes", ())))


def matrix(per_query: Mapping[str, Mapping[str, Mapping[str, float]]], metric: str,
           models: Sequence[str] | None = None) -> tuple[list[str], list[str], np.ndarray]:
    """(models, qids, values[model, query]) on the union of the models' queries; a query a model
    did not answer counts 0, as ``evaluation.evaluate`` scores it. A model or metric that is not there,
    or a value that is not a finite number, is an error: scoring it 0 would make it lose silently."""
    models = list(models if models is not None else per_query)
    missing = [m for m in models if m not in per_query]
    if missing:
        raise ValueError(f"no per-query results for {', '.join(missing)}")
    for m in models:
        if per_query[m] and not any(metric in v for v in per_query[m].values()):
            known = sorted({k for v in per_query[m].values() for k in v})
            raise ValueError(f"{m} has no per-query {metric!r}; known: {', '.join(known)}")
    qids = sorted({q for m in models for q in per_query[m]})
    values = np.array([[per_query[m].get(q, {}).get(metric, 0.0) for q in qids] for m in models],
                      dtype=np.float64).reshape(len(models), len(qids))
    if not np.isfinite(values).all():
        bad = sorted({models[i] for i in np.argwhere(~np.isfinite(values))[:, 0]})
        raise ValueError(f"{metric} has values that are not finite numbers for {', '.join(bad)}")
    return models, qids, values


def _block(n: int, budget_bytes: int = 32 << 20) -> int:
    """Resamples per block so that a block's (block × n) float64 weights fit ``budget_bytes``."""
    return max(1, min(1000, budget_bytes // (8 * max(n, 1))))


def _resample_means(values: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """Means of ``values[row, resampled queries]``: shape (rows, n_resamples). Every row sees the
    same resampled queries (a paired bootstrap); a resample is a multinomial count per query, so a
    block costs one matrix product whatever the number of models."""
    rng = np.random.default_rng(seed)
    n = values.shape[1]
    out = np.empty((values.shape[0], n_resamples))
    step = _block(n)
    for start in range(0, n_resamples, step):
        size = min(step, n_resamples - start)
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(np.float64)  # (size, n)
        out[:, start : start + size] = values @ counts.T / n
    return out


def _interval(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.percentile(samples, 100 * ALPHA / 2, axis=-1), np.percentile(samples, 100 * (1 - ALPHA / 2), axis=-1)


def mean_ci(values: Sequence[float], n_resamples: int = N_RESAMPLES, seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high): the mean and its 95 % percentile bootstrap interval."""
    arr = np.asarray(list(values), dtype=np.float64).reshape(1, -1)
    if arr.shape[1] == 0:
        return float("nan"), float("nan"), float("nan")
    low, high = _interval(_resample_means(arr, n_resamples, seed))
    return float(arr.mean()), float(low[0]), float(high[0])


def permutation_ps(diffs: np.ndarray, n_permutations: int = N_PERMUTATIONS, seed: int = 0) -> np.ndarray:
    """Two-sided paired randomization tests of mean = 0 for each column of ``diffs`` (queries × pairs):
    each query's difference keeps or flips its sign at random, the same flips for every pair;
    p = (#|permuted mean| ≥ |observed mean| + 1) / (n_permutations + 1), 1 for an all-zero column."""
    diffs = np.asarray(diffs, dtype=np.float64)
    n, k = diffs.shape
    observed = np.abs(diffs.mean(axis=0)) - 1e-12
    rng = np.random.default_rng(seed)
    hits = np.zeros(k, dtype=np.int64)
    step = _block(n)
    for start in range(0, n_permutations, step):
        size = min(step, n_permutations - start)
        signs = rng.integers(0, 2, size=(size, n), dtype=np.int8).astype(np.float64) * 2 - 1
        hits += (np.abs(signs @ diffs) / max(n, 1) >= observed).sum(axis=0)
    p = (hits + 1) / (n_permutations + 1)
    p[~np.any(diffs, axis=0)] = 1.0
    return p


def permutation_p(a: Sequence[float], b: Sequence[float], n_permutations: int = N_PERMUTATIONS,
                  seed: int = 0) -> float:
    """The test of ``permutation_ps`` for one pair of per-query values."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if d.size == 0:
        return 1.0
    return float(permutation_ps(d.reshape(-1, 1), n_permutations, seed)[0])


def permutations_for(n_pairs: int, alpha: float = ALPHA) -> int:
    """Enough permutations that Holm's first cut (alpha / pairs) can be reached with room to spare."""
    return max(N_PERMUTATIONS, int(np.ceil(20 * n_pairs / alpha)))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (= statsmodels multipletests(method="holm"))."""
    p = np.asarray(pvalues, dtype=np.float64)
    m = p.size
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()


def tiers(means: Mapping[str, float], p_holm: Mapping[frozenset, float], alpha: float = ALPHA) -> list[list[str]]:
    """Anchor tiers: the best remaining model and every remaining model it cannot be separated from."""
    left = sorted(means, key=lambda m: (-means[m], m))
    out = []
    while left:
        anchor = left[0]
        tier = [m for m in left if m == anchor or p_holm.get(frozenset((anchor, m)), 1.0) >= alpha]
        out.append(tier)
        left = [m for m in left if m not in tier]
    return out


def compare(per_query: Mapping[str, Mapping[str, Mapping[str, float]]], metric: str = "ndcg@10",
            models: Sequence[str] | None = None, seed: int = 0, n_resamples: int = N_RESAMPLES,
            n_permutations: int = N_PERMUTATIONS) -> Verdict:
    """The verdict for ``metric`` over the models' per-query values."""
    models, qids, values = matrix(per_query, metric, models)
    if not models or not qids:
        raise ValueError("no evaluated queries to compare")
    boot = _resample_means(values, n_resamples, seed)
    low, high = _interval(boot)
    means = values.mean(axis=1)
    scores = sorted((Score(m, float(means[i]), float(low[i]), float(high[i]), len(qids)) for i, m in enumerate(models)),
                    key=lambda s: (-s.mean, s.model))
    index = [(i, j) for i in range(len(models)) for j in range(i + 1, len(models))]
    n_permutations = max(n_permutations, permutations_for(len(index)))
    diffs = np.stack([values[i] - values[j] for i, j in index], axis=1) if index else np.zeros((len(qids), 0))
    raw = [(i, j, float(p)) for (i, j), p in zip(index, permutation_ps(diffs, n_permutations, seed), strict=True)]
    adjusted = holm([p for _, _, p in raw])
    pairs = []
    for (i, j, p), ph in zip(raw, adjusted, strict=True):
        d = values[i] - values[j]
        d_low, d_high = _interval(boot[i] - boot[j])
        pairs.append(Pair(models[i], models[j], metric, float(d.mean()), float(d_low), float(d_high), float(p),
                          float(ph), int((d > 0).sum()), int((d == 0).sum()), int((d < 0).sum())))
    by_pair = {frozenset((p.a, p.b)): p.p_holm for p in pairs}
    tiered = tiers({s.model: s.mean for s in scores}, by_pair)
    return Verdict(metric, len(qids), tuple(scores), tuple(pairs), tuple(tuple(t) for t in tiered), seed,
                   n_resamples, n_permutations)


def cis(per_query: Mapping[str, Mapping[str, Mapping[str, float]]], metrics: Sequence[str],
        seed: int = 0, n_resamples: int = N_RESAMPLES) -> dict[str, dict[str, tuple[float, float]]]:
    """{model: {metric: (low, high)}} for several metrics, each from the same resampled queries."""
    out: dict[str, dict[str, tuple[float, float]]] = {m: {} for m in per_query}
    for metric in metrics:
        models, _, values = matrix(per_query, metric)
        if values.shape[1] == 0:
            continue
        low, high = _interval(_resample_means(values, n_resamples, seed))
        for i, m in enumerate(models):
            out[m][metric] = (float(low[i]), float(high[i]))
    return out

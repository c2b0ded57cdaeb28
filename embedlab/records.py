"""Named records for what crosses a layer: one model's run in a comparison, and a hybrid's spec.

The manifest stores a run as a plain JSON object (older manifests lack newer fields); ``ModelRun.of``
reads one into a frozen record with defaults, so every reader sees the same names and nobody parses
``"hybrid:"`` ids by hand (``HybridSpec.parse``, ``is_hybrid``, ``parts``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields

HYBRID = "hybrid:"


def is_hybrid(model_id: str) -> bool:
    return model_id.startswith(HYBRID)


@dataclass(frozen=True)
class HybridSpec:
    """``hybrid:a+b`` (RRF, k=60) or ``hybrid:a+b@w`` (weighted; w = a's share, 0..1)."""

    id: str
    parts: tuple[str, str]
    method: str  # "rrf" | "weighted"
    weights: tuple[float, float] = (0.5, 0.5)
    k: int = 60

    @classmethod
    def parse(cls, model_id: str) -> HybridSpec:
        if not is_hybrid(model_id):
            raise ValueError(f"{model_id!r} is not a hybrid id (hybrid:a+b or hybrid:a+b@0.7)")
        body, _, weight = model_id[len(HYBRID):].partition("@")
        parts = [p.strip() for p in body.split("+") if p.strip()]
        if len(parts) != 2:
            raise ValueError(f"{model_id!r}: a hybrid names two models, e.g. hybrid:minilm+bm25")
        if not weight:
            return cls(model_id, (parts[0], parts[1]), "rrf")
        w = float(weight)
        if not 0 <= w <= 1:
            raise ValueError(f"{model_id!r}: the weight after @ is the first model's share, 0..1")
        return cls(model_id, (parts[0], parts[1]), "weighted", (w, 1 - w))


def parts(model_id: str) -> list[str]:
    """The models a result of ``model_id`` is made from: a hybrid's two parts, else the model itself."""
    return list(HybridSpec.parse(model_id).parts) if is_hybrid(model_id) else [model_id]


@dataclass(frozen=True)
class ModelRun:
    """One model's run in a comparison, as the manifest records it."""

    id: str
    status: str = "queued"  # queued | embedding | done | error
    error: str | None = None
    chunks: int | None = None
    embedded_now: int | None = None
    reused: int | None = None
    stored: int | None = None
    embed_seconds: float | None = None
    chunks_per_s: float | None = None
    dim: int | None = None
    sparse: bool = False
    nnz_mean: float | None = None
    settings: dict = field(default_factory=dict)
    tokenizer: str | None = None
    context_window: int | None = None  # tokens, in the model's own tokenizer
    over_context_pct: float | None = None  # chunks longer than the window: the model truncated them
    fitting_chunk: int | None = None  # cl100k tokens that fit the window (recorded when it truncates)
    collection: str | None = None
    metrics: dict = field(default_factory=dict)  # {"ndcg@10": mean, ...}
    ci: dict = field(default_factory=dict)  # {"ndcg@10": [low, high], ...}
    n_queries: int | None = None
    query_ms_p50: float | None = None
    query_ms_p95: float | None = None
    fit: dict = field(default_factory=dict)  # the fit check's result (fit.py), once run
    extra: dict = field(default_factory=dict)  # anything else the manifest holds

    @property
    def done(self) -> bool:
        return self.status == "done"

    @property
    def hybrid(self) -> bool:
        return is_hybrid(self.id)

    @property
    def kind(self) -> str:
        return "hybrid" if self.hybrid else "sparse" if self.sparse else "dense"

    @classmethod
    def of(cls, model_id: str, data: Mapping | None) -> ModelRun:
        """Read a manifest entry (any version: missing fields take their defaults, unknown ones go to
        ``extra``)."""
        data = dict(data or {})
        names = {f.name for f in fields(cls)} - {"id", "extra"}
        known = {k: data.pop(k) for k in list(data) if k in names}
        return cls(id=model_id, **known, extra=data)

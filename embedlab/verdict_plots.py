"""Plotly figures of a verdict: scores with intervals by tier, the pairwise matrix, quality against cost.

No streamlit here: the pages and the HTML report draw the same figures.
"""

from __future__ import annotations

import html

import plotly.graph_objects as go

from .recommend import PROJECTED_CHUNKS, Option, front_on
from .verdict import Verdict

TIER_COLOURS = ["#0072B2", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#D55E00", "#999999"]
GREY = "#c4c9d0"


def cost_axes(projected: int = PROJECTED_CHUNKS) -> dict[str, str]:
    return {"cost_projected": f"$ to embed {projected:,} chunks", "cost_now": "$ to embed this corpus",
            "latency_p95_ms": "p95 query latency (ms)", "memory_bytes": f"vector memory at {projected:,} chunks (GiB)"}


COST_AXES = cost_axes()


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def tier_colour(tier: int) -> str:
    return TIER_COLOURS[(tier - 1) % len(TIER_COLOURS)]


def scores_chart(v: Verdict) -> go.Figure:
    """Each model's mean with its 95 % CI, best at the top, coloured by tier."""
    fig = go.Figure()
    for i, tier in enumerate(v.tiers, 1):
        scores = [v.score(m) for m in tier]
        name = f"tier {i}" + (" (tied)" if len(tier) > 1 else "")
        fig.add_trace(go.Scatter(
            x=[s.mean for s in scores], y=[_esc(s.model) for s in scores], mode="markers", name=name,
            marker=dict(size=11, color=tier_colour(i)),
            error_x=dict(type="data", symmetric=False, array=[s.high - s.mean for s in scores],
                         arrayminus=[s.mean - s.low for s in scores], thickness=2.5, width=6),
            hovertemplate="%{y}: %{x:.4f}<extra>" + name + "</extra>"))
    fig.update_layout(height=110 + 42 * len(v.scores), margin=dict(l=10, r=10, t=36, b=10),
                      xaxis=dict(title=f"{v.metric} (95 % CI, {v.n_queries} queries)", zeroline=False),
                      yaxis=dict(autorange="reversed", categoryorder="array",
                                 categoryarray=[_esc(s.model) for s in v.scores]),
                      legend=dict(orientation="h", y=1.08, x=0))
    return fig


def pairwise_chart(v: Verdict) -> go.Figure:
    """Row − column difference of the metric; the cell text gives Holm p, and a cell the test cannot
    separate is drawn faint with "tied"."""
    models = [s.model for s in v.scores]
    z, text, hover = [], [], []
    for a in models:
        zr, tr, hr = [], [], []
        for b in models:
            if a == b:
                zr.append(None), tr.append(""), hr.append("")
                continue
            p = v.pair(a, b)
            zr.append(p.diff)
            tr.append(f"{p.diff:+.3f}<br>{'Holm p=' + format(p.p_holm, '.2g') if p.significant else 'tied'}")
            hr.append(f"{_esc(a)} − {_esc(b)}: {p.diff:+.4f} [{p.low:+.4f}, {p.high:+.4f}]<br>p {p.p:.4g} · "
                      f"Holm p {p.p_holm:.4g}<br>wins/ties/losses {p.wins}/{p.ties}/{p.losses}")
        z.append(zr), text.append(tr), hover.append(hr)
    span = max((abs(p.diff) for p in v.pairs), default=0.01) or 0.01
    names = [_esc(m) for m in models]
    fig = go.Figure(go.Heatmap(z=z, x=names, y=names, zmin=-span, zmax=span, colorscale="RdBu", zmid=0,
                               text=text, texttemplate="%{text}", customdata=hover,
                               hovertemplate="%{customdata}<extra></extra>",
                               colorbar=dict(title=dict(text="row − col"), thickness=12)))
    for i, a in enumerate(models):  # hatch-free way to show "not separable": a grey frame over the cell
        for j, b in enumerate(models):
            if a != b and not v.pair(a, b).significant:
                fig.add_shape(type="rect", x0=j - 0.5, x1=j + 0.5, y0=i - 0.5, y1=i + 0.5,
                              line=dict(color="#ffffff", width=0), fillcolor="rgba(240,242,245,0.75)")
    fig.update_layout(height=140 + 62 * len(models), margin=dict(l=10, r=10, t=30, b=10),
                      yaxis=dict(autorange="reversed"), xaxis=dict(side="top"))
    return fig


def pareto_chart(v: Verdict, options: tuple[Option, ...] | list[Option], cost: str = "cost_projected",
                 projected: int = PROJECTED_CHUNKS) -> go.Figure:
    """Quality (with CI) against one cost; the Pareto front joined by a line, dominated models grey."""
    axes = cost_axes(projected)
    scale = (1 / 2**30) if cost == "memory_bytes" else 1.0
    known = [o for o in options if getattr(o, cost) is not None]
    front = front_on(options, cost)
    fig = go.Figure()
    if len(front) > 1:
        fig.add_trace(go.Scatter(x=[getattr(o, cost) * scale for o in front], y=[o.quality for o in front],
                                 mode="lines", line=dict(color="#7b8794", dash="dot"), name="front on this axis",
                                 hoverinfo="skip"))
    for o in known:
        colour = GREY if o.dominated else tier_colour(o.tier)
        fig.add_trace(go.Scatter(
            x=[getattr(o, cost) * scale], y=[o.quality], mode="markers+text", text=[_esc(o.model)],
            textposition="middle right", name=_esc(o.model), showlegend=False,
            textfont=dict(color="#9aa5b1" if o.dominated else "#1f2933"),
            marker=dict(size=13, color=colour, line=dict(color="#ffffff", width=1)),
            error_y=dict(type="data", symmetric=False, array=[o.high - o.quality], arrayminus=[o.quality - o.low],
                         color=colour),
            hovertemplate=(f"{_esc(o.model)} (tier {o.tier}{', dominated' if o.dominated else ', on the front'})"
                           f"<br>{v.metric} %{{y:.4f}} [{o.low:.4f}, {o.high:.4f}]<br>{axes[cost]}: %{{x:,.3g}}"
                           "<extra></extra>")))
    fig.update_layout(height=400, margin=dict(l=10, r=10, t=30, b=10),
                      xaxis=_x_axis(axes[cost], [getattr(o, cost) * scale for o in known]),
                      yaxis=dict(title=f"{v.metric} (95 % CI)"))
    return fig


def _x_axis(title: str, values: list[float]) -> dict:
    """Log scale when every value is positive and they span more than 20×: a 2 ms and a 1,300 ms model
    would otherwise sit on top of each other at zero. Linear from zero otherwise ($0 for local models)."""
    positive = [v for v in values if v > 0]
    if values and len(positive) == len(values) and max(positive) > 20 * min(positive):
        return dict(title=title + " (log scale)", type="log")
    return dict(title=title, rangemode="tozero")

"""Plotly figures shared by the pages (no streamlit here: the HTML report draws the same ones)."""

from __future__ import annotations

import html

import plotly.graph_objects as go

# Colour-blind-safe (Okabe-Ito), one per model in comparison order, the same on every page.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
METRICS = ["ndcg@10", "recall@10", "recall@100", "mrr@10"]
PNG = {"toImageButtonOptions": {"format": "png", "scale": 2}, "displaylogo": False}


def model_colours(model_ids: list[str]) -> dict[str, str]:
    return {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(model_ids)}


def label(text: str) -> str:
    """Plotly renders a little HTML in labels: model ids are user input, so escape them."""
    return html.escape(str(text), quote=True)


def metrics_bar(metrics: dict[str, dict[str, float]], columns=METRICS) -> go.Figure:
    """Grouped bars: one group per metric, one bar per model."""
    colours = model_colours(list(metrics))
    fig = go.Figure()
    for mid, values in metrics.items():
        fig.add_bar(name=label(mid), x=list(columns), y=[values.get(c) for c in columns],
                    marker_color=colours[mid], text=[f"{values.get(c, 0):.3f}" for c in columns],
                    textposition="outside", cliponaxis=False)
    fig.update_layout(barmode="group", yaxis=dict(range=[0, 1.08], title="score"), height=380,
                      margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.12))
    return fig


def wins_bar(rows: list[tuple[str, float, float, float]], a: str, b: str, metric: str) -> go.Figure:
    """Per-query difference A − B, sorted: bars above zero are A's wins."""
    diffs = [r[3] for r in rows]
    colours = ["#009E73" if d > 0 else "#D55E00" if d < 0 else "#999999" for d in diffs]
    fig = go.Figure(go.Bar(x=list(range(len(rows))), y=diffs, marker_color=colours,
                           customdata=[r[0] for r in rows],
                           hovertemplate="query %{customdata}<br>Δ %{y:.3f}<extra></extra>"))
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=30, b=10), showlegend=False,
                      title=dict(text=f"{metric}: {label(a)} − {label(b)} per query", font=dict(size=13)),
                      xaxis=dict(title="queries, sorted by difference", showticklabels=False),
                      yaxis=dict(title=dict(text="A − B"), zeroline=True))
    return fig


def heatmap(matrix, model_ids: list[str], title: str, zmax: float = 1.0) -> go.Figure:
    names = [label(m) for m in model_ids]
    fig = go.Figure(go.Heatmap(z=matrix, x=names, y=names, zmin=0, zmax=zmax, colorscale="Viridis",
                               text=[[f"{v:.2f}" for v in row] for row in matrix], texttemplate="%{text}",
                               hovertemplate="%{y} × %{x}: %{z:.3f}<extra></extra>"))
    fig.update_layout(title=dict(text=title, font=dict(size=14)), height=120 + 60 * len(model_ids),
                      margin=dict(l=10, r=10, t=40, b=10), yaxis=dict(autorange="reversed"))
    return fig


def latency_bar(runs: list) -> go.Figure:
    """Query latency p50 and p95 per model (milliseconds), from ``ModelRun`` records."""
    names = [label(r.id) for r in runs]
    fig = go.Figure()
    for key, name, colour in (("query_ms_p50", "p50", PALETTE[0]), ("query_ms_p95", "p95", PALETTE[4])):
        values = [getattr(r, key) for r in runs]
        fig.add_bar(name=name, x=names, y=values, marker_color=colour, textposition="outside", cliponaxis=False,
                    text=[f"{v:.0f}" if v is not None else "" for v in values])
    fig.update_layout(barmode="group", height=320, margin=dict(l=10, r=10, t=30, b=10),
                      yaxis=dict(title=dict(text="ms per query")), legend=dict(orientation="h", y=1.12))
    return fig

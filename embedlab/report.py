"""A comparison as one self-contained HTML file: models and their cards, metrics (table and an
inline plotly chart), costs, and example searches.

Every piece of text that came from a user (document text, titles, queries, names, even model ids)
passes through ``html.escape``; the chart's JSON is embedded with ``<``, ``>`` and ``&`` escaped so
no string in it can close the script tag. Documents may contain <script>, <img onerror> and
javascript: links: in the report they are only characters.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime

from . import catalog, comparison
from .report_verdict import card_html, recommendation_html, tiers_html
from .workspace import Dataset, Workspace

METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")  # as the app
CARD_FIELDS = (("context_window", "context window"), ("tokenizer", "tokenizer unit"), ("dimensions", "dimensions"),
               ("vocab_size", "vocabulary"), ("training_data", "training data"), ("price_per_1m", "price / 1M tokens"),
               ("scifact_ndcg10", "SciFact nDCG@10"), ("mteb", "MTEB"), ("domain", "domain"), ("licence", "licence"))
CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;
color:#1f2933;padding:0 1rem}h1{margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #e4e7eb;
padding-bottom:.3rem}table{border-collapse:collapse;width:100%;font-size:.88rem;margin:.6rem 0}
th,td{border:1px solid #e4e7eb;padding:.35rem .5rem;text-align:left;vertical-align:top}th{background:#f5f7fa}
td.num{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#616e7c;font-size:.85rem}
.hits{display:grid;grid-template-columns:repeat(auto-fit,minmax(260px,1fr));gap:.8rem}
.hit{border:1px solid #e4e7eb;border-radius:6px;padding:.5rem .6rem;margin:.4rem 0;font-size:.85rem}
.rel{color:#0a7d4f;font-weight:600}code{background:#f5f7fa;padding:0 .25rem}
.card{border:1px solid #cbd2d9;border-radius:8px;padding:.4rem 1rem;background:#f8fafc}
.warn{background:#fff8e1;border-radius:4px;padding:.3rem .5rem}"""


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else esc(value)


def _table(head: list[str], rows: list[list], numeric: set[int] = frozenset()) -> str:
    out = ["<table><thead><tr>", *(f"<th>{esc(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for row in rows:
        cells = [f'<td class="num">{_num(v)}</td>' if i in numeric else f"<td>{esc(v)}</td>"
                 for i, v in enumerate(row)]
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "".join(out) + "</tbody></table>"


def _cards(comp: comparison.Comparison) -> str:
    cards = [catalog.get_card(m) or catalog.ModelCard(id=m, name=m, provider="not in the catalog")
             for m in comp.model_ids]
    rows = catalog.card_rows(cards)
    return _table(["model", *(label for _, label in CARD_FIELDS)],
                  [[r["id"], *(r[f] for f, _ in CARD_FIELDS)] for r in rows])


def _metrics(comp: comparison.Comparison) -> str:
    rows = [[r.id, *(r.metrics.get(c) for c in METRICS)] for r in comp.runs()]
    return _table(["model", *METRICS], rows, numeric=set(range(1, len(METRICS) + 1)))


def _costs(comp: comparison.Comparison) -> str:
    head = ["model", "status", "chunks", "embed seconds", "chunks / s", "query p50 ms", "query p95 ms"]
    rows = [[r.id, r.status, r.chunks, r.embed_seconds, r.chunks_per_s, r.query_ms_p50, r.query_ms_p95]
            for r in comp.runs()]
    return _table(head, rows, numeric={2, 3, 4, 5, 6})


def _chart(comp: comparison.Comparison, include_plotlyjs: bool) -> str:
    """Grouped metric bars drawn by plotly.js, embedded inline (no network needed to view it)."""
    scored = {r.id: r.metrics for r in comp.runs() if r.metrics}
    if not scored or not include_plotlyjs:
        return ""
    import plotly.offline

    data = [{"type": "bar", "name": esc(m), "x": list(METRICS), "y": [v.get(c) for c in METRICS],
             "marker": {"color": PALETTE[comp.model_ids.index(m) % len(PALETTE)]}} for m, v in scored.items()]
    layout = {"barmode": "group", "height": 360, "yaxis": {"range": [0, 1], "title": {"text": "score"}},
              "margin": {"l": 50, "r": 10, "t": 20, "b": 40}}
    spec = json.dumps({"data": data, "layout": layout})
    spec = spec.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return (f"<script>{plotly.offline.get_plotlyjs()}</script><div id=\"metrics-chart\"></div>"
            f"<script>(function(){{var s={spec};Plotly.newPlot('metrics-chart',s.data,s.layout,"
            "{displaylogo:false,responsive:true});})();</script>")


def _examples(examples: dict[str, dict[str, list]] | None) -> str:
    """{query text: {model: [explore.Result, ...]}} as one grid of hit lists per query."""
    if not examples:
        return "<p class='muted'>No example searches (no evaluation set, or none requested).</p>"
    out = []
    for query, per_model in examples.items():
        out.append(f"<h3>{esc(query)}</h3><div class='hits'>")
        for mid, hits in per_model.items():
            out.append(f"<div><b>{esc(mid)}</b>")
            for h in hits:
                rel = " <span class='rel'>relevant</span>" if h.relevant else ""
                out.append(f"<div class='hit'><b>#{h.rank}</b> <code>{h.score:.3f}</code>{rel} "
                           f"<i>{esc(h.title or h.doc_id)}</i><br>{esc(_short(h.text, 400))}</div>")
            out.append("</div>")
        out.append("</div>")
    return "".join(out)


def _corpus(ds: Dataset, n: int = 10) -> str:
    rows = [[d.id, d.title, _short(d.text, 240)] for d in ds.documents[:n]]
    return _table(["document id", "title", "text (start)"], rows)


def _short(text: str, n: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def render_report(comp: comparison.Comparison, ds: Dataset, examples: dict | None = None,
                  include_plotlyjs: bool = True, judgement=None) -> str:
    """The report as a string; pure (no store, no models): give it what to show."""
    ev = ds.eval_set
    eval_line = (f"{len(ev.qrels)} judged queries" + (" (generated from the documents)" if ev.generated else "")
                 if ev else "no evaluation set")
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>EmbedLab — {esc(comp.name)}</title>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<style>{CSS}</style></head><body><h1>EmbedLab report: {esc(comp.name)}</h1>",
        f"<p class='muted'>Comparison <code>{esc(comp.id)}</code> · created {esc(comp.created)} · report made "
        f"{esc(datetime.now(UTC).isoformat(timespec='seconds'))}</p>",
        f"<p>{len(ds.documents):,} documents → {len(ds.chunks):,} chunks (windows of "
        f"{esc(comp.chunking.get('size'))} {esc(comp.chunking.get('tokenizer', ''))} tokens, overlap "
        f"{esc(comp.chunking.get('overlap'))}); {esc(eval_line)}.</p>",
        "<h2>Verdict</h2>", recommendation_html(judgement) if ev else "<p class='muted'>No evaluation set.</p>",
        tiers_html(judgement) if ev else "",
        "<h2>Models</h2>", _cards(comp),
        "<h2>Retrieval quality</h2>", _metrics(comp) if ev else "<p class='muted'>No evaluation set.</p>",
        _chart(comp, include_plotlyjs) if ev else "",
        "<h2>Costs and latency (measured on this server)</h2>", _costs(comp),
        __import__("embedlab.fit_view").fit_view.fit_section_html(comp, include_plotlyjs),
        "<h2>Example searches</h2>", _examples(examples),
        "<h2>Corpus (first documents)</h2>", _corpus(ds),
        "<h2>Evaluation card</h2>", card_html(comp.card),
        "<p class='muted'>Made with EmbedLab. Sources of every model-card value are in the app's catalog.</p>",
        "</body></html>"]
    return "\n".join(parts)


def example_searches(ws: Workspace, comp: comparison.Comparison, ds: Dataset, n_queries: int = 3, k: int = 3,
                     api_keys: dict | None = None) -> dict:
    """Top-k of every finished model for the first ``n_queries`` judged queries."""
    if not ds.eval_set:
        return {}
    from .explore import open_handles, search_all

    handles = open_handles(ws, comp, ds, api_keys)
    qids = [q for q in ds.eval_set.qrels if q in ds.eval_set.queries][:n_queries]
    return {ds.eval_set.queries[q]: search_all(ws, ds, handles, ds.eval_set.queries[q], k,
                                               ds.eval_set.qrels[q])[0] for q in qids}


def build_report(ws: Workspace, comp: comparison.Comparison, api_keys: dict | None = None,
                 include_plotlyjs: bool = True) -> str:
    from .recommend import judge

    ds = ws.load_dataset(comp.dataset_key)
    judgement = judge(comp, ds, comparison.per_query(ws, comp)) if ds.eval_set else None
    return render_report(comp, ds, example_searches(ws, comp, ds, api_keys=api_keys), include_plotlyjs, judgement)

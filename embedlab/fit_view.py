"""The fit check as words, a text table, plotly figure specs and an HTML report section.

Figures are plain plotly dicts (no streamlit), drawn by the Fit page and embedded by the report.
"""

from __future__ import annotations

import html
import json

GB = 1e9  # decimal gigabytes, as memory sizing tools quote them
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
MARKERS = {"float32": "circle", "int8": "square", "binary": "diamond", "binary+rescore": "triangle-up"}


def label(v: dict) -> str:
    return "binary+rescore" if v.get("rescore") else v["precision"]


def _dense(fit: dict) -> dict:
    return {m: r for m, r in fit.get("models", {}).items() if "variants" in r}


def _variant(r: dict, precision: str, dims: int, rescore: bool = False) -> dict | None:
    return next((v for v in r["variants"] if v["precision"] == precision and v["dims"] == dims
                 and bool(v.get("rescore")) == rescore), None)


def from_comparison(comp) -> dict:
    """The fit check stored in a comparison's results (``fit.save_fit``), in ``fit_dataset``'s shape."""
    return {"models": {r.id: r.fit for r in comp.runs() if r.fit}}


def summary_sentences(fit: dict, at: int = 10_000_000) -> list[str]:
    """One plain sentence per model: what int8 and binary keep, and what HNSW needs at ``at`` chunks."""
    out = []
    for mid, r in _dense(fit).items():
        d, f32 = r["dim"], _variant(r, "float32", r["dim"])
        i8, b = _variant(r, "int8", d), _variant(r, "binary", d, True)
        hnsw = r["index_memory"]["HNSW"]["bytes"].get(at) or r["index_memory"]["HNSW"]["bytes"].get(str(at))
        sq = r["index_memory"]["HNSW_SQ"]["bytes"].get(at) or r["index_memory"]["HNSW_SQ"]["bytes"].get(str(at))
        full = f32["bytes_per_vector"]
        text = (f"{mid} keeps {100 * i8['recall@10']:.1f} % of its float32 top-10 at int8 with "
                f"{full / i8['bytes_per_vector']:.0f}× less memory per vector, and "
                f"{100 * b['recall@10']:.1f} % with binary + rescoring "
                f"({full / b['bytes_per_vector']:.0f}× less in memory, float32 copies on disk)")
        if f32.get("ndcg@10") is not None:
            text += f"; nDCG@10 {f32['ndcg@10']:.4f} → {i8['ndcg@10']:.4f} (int8)"
        text += (f". At {at / 1e6:.0f}M chunks HNSW needs {hnsw / GB:.1f} GB of memory "
                 f"(HNSW_SQ {sq / GB:.1f} GB).")
        if not r.get("matryoshka"):
            text += " It was not trained for truncated dimensions (no Matryoshka): cut vectors lose more."
        out.append(text)
    return out


def milvus_sentence(mid: str, r: dict) -> str | None:
    m = r.get("milvus")
    if not m:
        return None
    h, f = m["HNSW"], m["FLAT"]
    return (f"{mid} in Milvus Lite, {m['n']:,} vectors, {m['queries']} queries: HNSW recall@10 {h['recall@10']:.3f} "
            f"(p50 {h['p50_ms']:.1f} ms, p95 {h['p95_ms']:.1f} ms) vs FLAT {f['recall@10']:.3f} "
            f"(p50 {f['p50_ms']:.1f} ms, p95 {f['p95_ms']:.1f} ms).")


def format_fit(fit: dict) -> str:
    lines = []
    for mid, r in fit.get("models", {}).items():
        if "variants" not in r:
            lines.append(f"{mid}: {r.get('skipped', 'skipped')}")
            continue
        lines.append(f"\n{mid} ({r['dim']}-d, {r['n_vectors']:,} vectors, queries: {r['queries']['source']}; "
                     f"Matryoshka-trained: {'yes' if r['matryoshka'] else 'no'})")
        lines.append(f"  {'variant':16} {'dims':>5} {'bytes':>6} {'recall@10':>9} {'nDCG@10':>8} {'ms p50':>7}")
        for v in r["variants"]:
            nd = "–" if v["ndcg@10"] is None else f"{v['ndcg@10']:.4f}"
            lines.append(f"  {label(v):16} {v['dims']:>5} {v['bytes_per_vector']:>6} {v['recall@10']:>9.4f} "
                         f"{nd:>8} {v['query_ms_p50']:>7.3f}")
        lines.append("  index memory (this corpus / 1M / 10M / 100M):")
        for name, row in r["index_memory"].items():
            sizes = "  ".join(f"{b / GB:9.3f} GB" for b in row["bytes"].values())
            lines.append(f"    {name:9} {sizes}   {row['formula']}")
        if (s := milvus_sentence(mid, r)) is not None:
            lines.append("  " + s)
    return "\n".join(lines)


def recall_figure(fit: dict) -> dict:
    """Recall@10 against bytes per vector (log x), one colour per model, one marker per precision."""
    data = []
    for n, (mid, r) in enumerate(_dense(fit).items()):
        for kind in MARKERS:
            vs = [v for v in r["variants"] if label(v) == kind]
            data.append({"type": "scatter", "mode": "markers+lines", "name": f"{mid} · {kind}",
                         "legendgroup": mid, "x": [v["bytes_per_vector"] for v in vs],
                         "y": [v["recall@10"] for v in vs], "text": [f"{v['dims']} dims" for v in vs],
                         "marker": {"symbol": MARKERS[kind], "size": 9, "color": PALETTE[n % len(PALETTE)]},
                         "line": {"dash": "dot", "width": 1}})
    return {"data": data, "layout": {"height": 420, "xaxis": {"type": "log", "title": {"text": "bytes per vector"}},
                                     "yaxis": {"title": {"text": "recall@10 vs float32 full dims"}, "range": [0, 1.02]},
                                     "margin": {"l": 60, "r": 10, "t": 20, "b": 50}}}


def memory_figure(fit: dict, indexes=("FLAT", "HNSW", "HNSW_SQ", "IVF_SQ8", "DISKANN")) -> dict:
    """Index memory (GB, log-log) against corpus size, per model and index type."""
    data = []
    for n, (mid, r) in enumerate(_dense(fit).items()):
        for dash, name in zip(("solid", "dash", "dot", "dashdot", "longdash"), indexes, strict=False):
            sizes = sorted((int(k), b) for k, b in r["index_memory"][name]["bytes"].items())
            data.append({"type": "scatter", "mode": "lines+markers", "name": f"{mid} · {name}",
                         "x": [s for s, _ in sizes], "y": [b / GB for _, b in sizes],
                         "line": {"dash": dash, "color": PALETTE[n % len(PALETTE)]}})
    return {"data": data, "layout": {"height": 420, "xaxis": {"type": "log", "title": {"text": "vectors (chunks)"}},
                                     "yaxis": {"type": "log", "title": {"text": "memory, GB"}},
                                     "margin": {"l": 60, "r": 10, "t": 20, "b": 50}}}


def sweep_figure(sweep: dict, metric: str = "ndcg@10") -> dict:
    """Quality per model against chunk size (whole documents drawn right of the largest size), with
    each model's truncation rate as hover text."""
    sizes = sorted((int(s) for s in sweep), key=lambda s: (s == 0, s))
    ticks = [str(s) if s else "whole docs" for s in sizes]
    models = list(next(iter(sweep.values()))["models"]) if sweep else []
    data = []
    for n, mid in enumerate(models):
        ys = [sweep[str(s)]["models"].get(mid, {}).get(metric) for s in sizes]
        trunc = [sweep[str(s)].get("truncation", {}).get(mid, {}) for s in sizes]
        data.append({"type": "scatter", "mode": "lines+markers", "name": mid, "x": ticks, "y": ys,
                     "text": [f"window {t.get('context_window') or 'none'} tokens; "
                              f"{t.get('over_context_pct', 0):.1f} % of chunks truncated" if t else "" for t in trunc],
                     "marker": {"color": PALETTE[n % len(PALETTE)]}})
    return {"data": data, "layout": {"height": 380, "margin": {"l": 60, "r": 10, "t": 20, "b": 50},
                                     "xaxis": {"title": {"text": "chunk size (cl100k tokens)"}, "type": "category"},
                                     "yaxis": {"title": {"text": metric}}}}


def _esc(v) -> str:
    return html.escape("" if v is None else str(v), quote=True)


def _plot(div: str, spec: dict) -> str:
    blob = json.dumps(spec).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return (f"<div id='{div}'></div><script>(function(){{var s={blob};if(window.Plotly)"
            f"Plotly.newPlot('{div}',s.data,s.layout,{{displaylogo:false,responsive:true}});}})();</script>")


def fit_section_html(comp_or_fit, plots: bool = True, sweep: dict | None = None) -> str:
    """The report's "Fit" section for a comparison (its stored fit check) or a ``fit_dataset`` result:
    summary sentences, a variants table per model, index memory with formulas and sources, Milvus'
    measured HNSW vs FLAT; plots when plotly.js is on the page."""
    fit = comp_or_fit if isinstance(comp_or_fit, dict) or comp_or_fit is None else from_comparison(comp_or_fit)
    if not fit or not _dense(fit):
        return ("<h2>Fit: vector size, index memory</h2><p class='muted'>No fit check stored for this "
                "comparison (run it on the Fit page or with <code>python -m embedlab fit</code>).</p>")
    parts = ["<h2>Fit: vector size, index memory</h2>", *(f"<p>{_esc(s)}</p>" for s in summary_sentences(fit))]
    for mid, r in _dense(fit).items():
        parts.append(f"<h3>{_esc(mid)}</h3><table><thead><tr><th>variant</th><th>dims</th><th>bytes/vector</th>"
                     "<th>recall@10</th><th>nDCG@10</th><th>query ms p50</th></tr></thead><tbody>")
        for v in r["variants"]:
            nd = "–" if v["ndcg@10"] is None else f"{v['ndcg@10']:.4f}"
            parts.append(f"<tr><td>{_esc(label(v))}</td><td class='num'>{v['dims']}</td>"
                         f"<td class='num'>{v['bytes_per_vector']}</td><td class='num'>{v['recall@10']:.4f}</td>"
                         f"<td class='num'>{nd}</td>"
                         f"<td class='num'>{v['query_ms_p50']:.3f}</td></tr>")
        parts.append("</tbody></table><table><thead><tr><th>index</th><th>this corpus</th><th>1M</th><th>10M</th>"
                     "<th>100M</th><th>formula</th><th>source</th></tr></thead><tbody>")
        for name, row in r["index_memory"].items():
            cells = "".join(f"<td class='num'>{b / GB:.3f} GB</td>" for b in row["bytes"].values())
            parts.append(f"<tr><td>{_esc(name)}</td>{cells}<td><code>{_esc(row['formula'])}</code></td>"
                         f"<td class='muted'>{_esc(row['source'])}</td></tr>")
        parts.append("</tbody></table>")
        if (s := milvus_sentence(mid, r)) is not None:
            parts.append(f"<p>{_esc(s)}</p>")
    if plots:
        parts += [_plot("fit-recall", recall_figure(fit)), _plot("fit-memory", memory_figure(fit))]
        if sweep:
            parts.append(_plot("fit-sweep", sweep_figure(sweep)))
    return "\n".join(parts)

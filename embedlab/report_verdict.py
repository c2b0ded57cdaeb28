"""The report's verdict section: recommendation, tiers with intervals, pairwise tests, evaluation card.

Plain HTML from a ``recommend.Judgement``; every string is escaped (model ids and notes are user input)."""

from __future__ import annotations

from . import evalcard
from .recommend import Judgement


def _esc(value) -> str:
    import html

    return html.escape("" if value is None else str(value), quote=True)


def recommendation_html(j: Judgement | None) -> str:
    if j is None:
        return "<p class='muted'>No verdict: no model has been evaluated on judged queries.</p>"
    rec = j.recommendation
    parts = [f"<div class='card'><h3>{'Recommendation' if rec.pick else 'No clear winner'}</h3>",
             f"<p>{_esc(rec.headline)}</p>"]
    if rec.tied:
        parts.append("<p><b>Statistically tied with it:</b></p><ul>"
                     + "".join(f"<li>{_esc(t)}</li>" for t in rec.tied) + "</ul>")
    parts.extend(f"<p class='warn'>⚠ {_esc(c)}</p>" for c in rec.caveats)
    parts.append(f"<p class='muted'>Basis: {_esc(rec.basis)}; 95 % paired bootstrap intervals "
                 f"({j.verdict.n_resamples:,} resamples), paired randomization tests ({j.verdict.n_permutations:,} "
                 f"permutations) with Holm's correction, seed {j.verdict.seed}.</p></div>")
    return "".join(parts)


def tiers_html(j: Judgement | None) -> str:
    if j is None:
        return ""
    v = j.verdict
    rows = []
    for i, tier in enumerate(v.tiers, 1):
        for m in tier:
            s = v.score(m)
            tied = "statistically tied" if len(tier) > 1 else ""
            rows.append(f"<tr><td class='num'>{i}</td><td>{_esc(m)}</td><td class='num'>{s.mean:.4f}</td>"
                        f"<td class='num'>{s.low:.4f} – {s.high:.4f}</td><td>{tied}</td></tr>")
    pairs = "".join(
        f"<tr><td>{_esc(p.a)}</td><td>{_esc(p.b)}</td><td class='num'>{p.diff:+.4f}</td>"
        f"<td class='num'>{p.low:+.4f} to {p.high:+.4f}</td><td class='num'>{p.p:.4f}</td>"
        f"<td class='num'>{p.p_holm:.4f}</td><td>{p.wins}/{p.ties}/{p.losses}</td>"
        f"<td>{'differ' if p.significant else 'tied'}</td></tr>" for p in v.pairs)
    return (f"<h3>Tiers on {_esc(v.metric)} ({v.n_queries} queries)</h3><table class='tiers'><thead><tr><th>tier</th>"
            f"<th>model</th><th>{_esc(v.metric)}</th><th>95 % CI</th><th></th></tr></thead><tbody>{''.join(rows)}"
            "</tbody></table><h3>Pairwise tests</h3><table><thead><tr><th>A</th><th>B</th><th>A − B</th>"
            "<th>95 % CI</th><th>p</th><th>Holm p</th><th>W/T/L</th><th></th></tr></thead>"
            f"<tbody>{pairs}</tbody></table>")


def card_html(card: dict) -> str:
    rows = evalcard.rows(card)
    if not rows:
        return "<p class='muted'>No evaluation card (the run has not finished).</p>"
    changes = evalcard.version_changes(card)
    body = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows)
    note = f"<p class='warn'>Versions differ from this server's: {_esc('; '.join(changes))}</p>" if changes else ""
    return f"<table>{body}</table>{note}"

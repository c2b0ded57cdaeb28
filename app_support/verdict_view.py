"""The verdict on screen: recommendation card, tiers with intervals, pairwise matrix, Pareto view and the
disagreement explorer. Numbers come from ``embedlab.recommend.judge``; this module only lays them out."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st
from pymilvus import MilvusException

from app_support import charts, maps, results, state
from app_support.charts import PNG
from app_support.text import md_escape, shorten
from embedlab import comparison, evalcard, explore, recommend, verdict_plots
from embedlab.embedders import EmbedderError
from embedlab.evaluation import per_query_wins
from embedlab.records import is_hybrid
from embedlab.store import StoreError

METRICS = ["ndcg@10", "recall@10", "recall@100", "mrr@10", "map@100"]


@st.cache_data(show_spinner="Bootstrapping intervals and running the paired tests…", max_entries=32)
def _judge(cid: str, metric: str, fingerprint: str, ws_root: str) -> recommend.Judgement | None:
    ws = state.workspace()
    comp = comparison.load(ws, cid)
    ds = ws.load_dataset(comp.dataset_key)
    return recommend.judge(comp, ds, comparison.per_query(ws, comp), metric)


def judgement(cur, metric: str = "ndcg@10") -> recommend.Judgement | None:
    """The comparison's verdict for ``metric``, cached until its results change."""
    fingerprint = json.dumps(cur.comp.results, sort_keys=True, default=str)
    return _judge(cur.comp.id, metric, fingerprint, str(cur.ws.root))


def chosen_metric() -> str:
    """The verdict metric chosen on the Metrics page (in this session or the link), else nDCG@10."""
    value = state.param("metrics", "vm", "ndcg@10")
    return value if value in METRICS else "ndcg@10"


def metric_picker(page: str) -> str:
    value = state.url_widget(page, "vm", st.segmented_control, "Verdict metric", "ndcg@10",
                             valid=lambda v: v in METRICS, options=METRICS,
                             help="The metric the tiers, tests and recommendation are computed on.")
    return value or "ndcg@10"


def recommendation_card(j: recommend.Judgement) -> None:
    rec = j.recommendation
    with st.container(border=True, key="recommendation"):
        icon = ":material/verified:" if rec.pick else ":material/balance:"
        st.markdown(f"#### {icon} {'Recommendation' if rec.pick else 'No clear winner'}")
        st.markdown(md_escape(rec.headline))
        if rec.tied:
            st.markdown("**Statistically tied with it** — what each costs or gains:")
            st.markdown("\n".join(f"- {md_escape(line)}" for line in rec.tied))
        for c in rec.caveats:
            st.warning(md_escape(c), icon=":material/warning:")
        st.caption(f"Basis: {md_escape(rec.basis)}; 95 % paired bootstrap intervals "
                   f"({j.verdict.n_resamples:,} resamples), paired randomization tests "
                   f"({j.verdict.n_permutations:,} permutations) with Holm's correction, seed {j.verdict.seed}.")


def tiers(j: recommend.Judgement) -> None:
    v = j.verdict
    rows = []
    for i, tier in enumerate(v.tiers, 1):
        for m in tier:
            s = v.score(m)
            rows.append({"tier": i, "model": m, v.metric: s.mean, "95 % CI": f"{s.low:.3f} – {s.high:.3f}",
                         "note": "statistically tied" if len(tier) > 1 else "", "queries": s.n})
    if v.small:
        st.warning(f"Only {v.n_queries} queries: fewer than about 50 cannot separate close models.",
                   icon=":material/warning:")
    left, right = st.columns([0.45, 0.55])
    left.dataframe(pd.DataFrame(rows), hide_index=True, key="tiers_table", column_config={
        v.metric: st.column_config.NumberColumn(format="%.4f"),
        "tier": st.column_config.NumberColumn(help="Tier 1: the best model and every model a paired test "
                                              "(Holm-corrected) cannot separate from it; then the same on the rest. "
                                              "Membership is relative to each tier's best model, so a model tied "
                                              "with the best can score below one that is not.")})
    right.plotly_chart(verdict_plots.scores_chart(v), config=PNG, key="scores_chart")


def pairwise(j: recommend.Judgement) -> None:
    v = j.verdict
    st.plotly_chart(verdict_plots.pairwise_chart(v), config=PNG, key="pairwise_chart")
    frame = pd.DataFrame([{"A": p.a, "B": p.b, "A − B": p.diff, "95 % CI": f"{p.low:+.4f} to {p.high:+.4f}",
                           "p": p.p, "Holm p": p.p_holm, "W/T/L": f"{p.wins}/{p.ties}/{p.losses}",
                           "verdict": "differ" if p.significant else "tied"} for p in v.pairs])
    st.dataframe(frame, hide_index=True, key="pairwise_table", column_config={
        "A − B": st.column_config.NumberColumn(format="%+.4f"), "p": st.column_config.NumberColumn(format="%.4f"),
        "Holm p": st.column_config.NumberColumn(format="%.4f")})
    st.download_button("Verdict as JSON", json.dumps(v.to_dict(), indent=2), file_name=f"verdict-{v.metric}.json",
                       mime="application/json", icon=":material/download:")


def pareto(cur, j: recommend.Judgement, page: str) -> None:
    size_col, axis_col = st.columns([0.3, 0.7])
    with size_col:
        projected = state.url_widget(page, "pn", st.number_input, "Projected corpus size (chunks)",
                                     recommend.PROJECTED_CHUNKS, parse=int, valid=lambda x: 1 <= x <= 10**10,
                                     min_value=1, max_value=10**10, step=100_000,
                                     help="The projected $ and memory axes are computed for this many chunks.")
    opts = recommend.options(j.verdict, {r.id: r for r in cur.comp.runs()}, j.tokens, j.chunks, int(projected))
    axes = verdict_plots.cost_axes(int(projected))
    costs = {k: label for k, label in axes.items() if any(getattr(o, k) is not None for o in opts)}
    if not costs:
        st.info("No cost figures yet for these models.")
        return
    paid = any((o.cost_projected or 0) > 0 for o in opts)
    default = "cost_projected" if paid or "latency_p95_ms" not in costs else "latency_p95_ms"
    with axis_col:
        axis = state.url_widget(page, "px", st.segmented_control, "Against", default, options=list(costs),
                                format_func=costs.get, valid=lambda x: x in costs)
    axis = axis or default
    st.plotly_chart(verdict_plots.pareto_chart(j.verdict, opts, axis, int(projected)), config=PNG,
                    key="pareto_chart")
    front = [o.model for o in opts if not o.dominated]
    left_out = [o.model for o in opts if getattr(o, axis) is None]
    st.markdown(f"**Not dominated on any cost:** {md_escape(', '.join(front))}. "
                + (f"**Dominated:** {md_escape(', '.join(o.model for o in opts if o.dominated))}. "
                   if len(front) < len(opts) else "No model is dominated. ")
                + (f"Not on this plot (no figure here): {md_escape(', '.join(left_out))}." if left_out else ""))
    st.caption(f"Grey: dominated over all costs together (another model is at least as good on quality, $, p95 "
               f"latency and memory, and better on one; an unknown cost is not compared). Dotted: the front on "
               f"this axis alone. $ from the catalog's prices on {j.tokens:,} cl100k tokens "
               f"for {j.chunks:,} chunks (0 for local models); memory = float32 vectors (dense) or non-zeros "
               f"(sparse) at {int(projected):,} chunks.")


def disagreement(cur, j: recommend.Judgement, page: str) -> None:
    """Two models: the queries sorted by their per-query difference; one opened side by side, on the maps."""
    comp, ds = cur.comp, cur.ds
    per_query = comparison.per_query(cur.ws, comp)
    models = [s.model for s in j.verdict.scores if s.model in per_query]
    if len(models) < 2:
        st.info("The disagreement explorer needs two evaluated models.")
        return
    c1, c2 = st.columns(2)
    with c1:
        a = state.url_widget(page, "a", st.selectbox, "Model A", models[0], valid=lambda v: v in models, options=models)
    with c2:
        b = state.url_widget(page, "b", st.selectbox, "Model B", models[1], valid=lambda v: v in models, options=models)
    if a == b:
        st.caption("Model A and B are the same model: pick two different ones.")
        return
    metric = j.verdict.metric
    rows = per_query_wins(per_query[a], per_query[b], metric)
    outcome = ["A wins" if d > 0 else "B wins" if d < 0 else "tie" for *_, d in rows]
    frame = pd.DataFrame([{"outcome": o, "A − B": d, a: va, b: vb,
                           "query": shorten(ds.eval_set.queries.get(q, ""), 160), "query id": q}
                          for (q, va, vb, d), o in zip(rows, outcome, strict=True)])
    w = outcome.count("A wins")
    st.markdown(f"**{md_escape(a)}** better on {w} queries, **{md_escape(b)}** on {outcome.count('B wins')}, "
                f"tied on {outcome.count('tie')}. Select a query to open it.")
    st.plotly_chart(charts.wins_bar(rows, a, b, metric), config=PNG, key="wins_bar")
    event = st.dataframe(frame, hide_index=True, height=280, key=f"dq_table:{a}:{b}:{metric}", on_select="rerun",
                         selection_mode="single-row", column_config={
                             "A − B": st.column_config.NumberColumn(format="%+.3f"),
                             a: st.column_config.NumberColumn(format="%.3f"),
                             b: st.column_config.NumberColumn(format="%.3f")})
    st.download_button("Per-query table as CSV", frame.to_csv(index=False),
                       file_name=f"embedlab-{comp.id[:8]}-{metric}-per-query.csv", mime="text/csv",
                       icon=":material/download:")
    picked = event.selection.rows if event and event.selection else []
    if picked:
        state.publish(page, q=frame.iloc[picked[0]]["query id"])
    qid = state.param(page, "q", None)
    if qid in ds.eval_set.queries:
        _open_query(cur, a, b, qid)
    _moved_most(cur, a, b, page)


def _open_query(cur, a: str, b: str, qid: str, k: int = 10) -> None:
    ds = cur.ds
    query, qrels = ds.eval_set.queries[qid], ds.eval_set.qrels.get(qid, {})
    st.markdown(f"##### Query {md_escape(qid)}: {md_escape(query)}")
    handles = {m: h for m, h in results.handles(cur).items() if m in (a, b)}
    key = ("dq", cur.comp.id, a, b, qid, k)
    try:
        # a rerun of the page must not search (and pay for) the same query again
        hits, timings = st.session_state.get(key) or explore.search_all(cur.ws, ds, handles, query, k, qrels)
        st.session_state[key] = (hits, timings)
    except (EmbedderError, StoreError, MilvusException, OSError, RuntimeError, ValueError) as e:
        st.error(f"Search failed: {md_escape(str(e))}")
        return
    results.columns({m: hits[m] for m in (a, b) if m in hits}, timings)
    relevant = [i for i, c in enumerate(ds.chunks) if qrels.get(c.doc_id, 0) > 0]
    highlight = {"judged relevant": relevant, f"{a} top {k}": [h.chunk for h in hits.get(a, [])],
                 f"{b} top {k}": [h.chunk for h in hits.get(b, [])]}
    vector_models = [m for m in (a, b) if not is_hybrid(m)]
    if vector_models:
        st.caption("The query's judged-relevant chunks and each model's top hits, ringed on the aligned maps.")
        maps.linked_maps(cur, vector_models, highlight, key=f"dq_maps:{qid}")


def _moved_most(cur, a: str, b: str, page: str) -> None:
    st.markdown("##### Moved most: chunks whose neighbourhood changes most from A to B")
    if not explore.neighbours_stored(cur.ws, cur.comp) and not st.session_state.get(f"moved:go:{cur.comp.id}"):
        st.caption("Needs every chunk's 10 nearest neighbours under each model (computed once, then stored).")
        if st.button("Find the chunks that moved most", key=f"moved:btn:{a}:{b}"):
            st.session_state[f"moved:go:{cur.comp.id}"] = True
            st.rerun()
        return
    with st.spinner("Neighbours of every chunk under each model (once per comparison)…"):
        moved = explore.moved_most(cur.ws, cur.comp, a, b)
    if not moved:
        st.caption("Needs two vector models (not hybrids), and stored neighbour lists above 20,000 chunks.")
        return
    frame = pd.DataFrame([{"1 − Jaccard@10": d, "chunk": c, "text": shorten(cur.ds.chunks[c].text, 160)}
                          for c, d in moved])
    event = st.dataframe(frame, hide_index=True, height=240, key=f"moved:{a}:{b}", on_select="rerun",
                         selection_mode="single-row",
                         column_config={"1 − Jaccard@10": st.column_config.ProgressColumn(format="%.2f", min_value=0,
                                                                                           max_value=1)})
    picked = event.selection.rows if event and event.selection else []
    if picked:
        chunk = int(frame.iloc[picked[0]]["chunk"])
        lists = {m: ids for m, ids in maps.point_neighbours(cur.ws, cur.comp, chunk, 10).items() if m in (a, b)}
        st.markdown(f"**Chunk {chunk}**: {md_escape(shorten(cur.ds.chunks[chunk].text, 300))}")
        results.neighbour_table(cur.ds, lists)


def evaluation_card(comp) -> None:
    """The evaluation card (what the run rests on), and which recorded versions differ from this server's."""
    changes = evalcard.version_changes(comp.card)
    if changes:
        st.warning(f"Made with other versions than this server runs: {md_escape('; '.join(changes))}."
                   " Stored results are shown as they were; a rerun may differ.", icon=":material/history:")
    with st.expander("Evaluation card — corpus, chunking and query hashes, models, seeds, versions",
                     icon=":material/fact_check:"):
        rows = evalcard.rows(comp.card)
        if rows:
            st.dataframe(pd.DataFrame(rows, columns=["", "value"]), hide_index=True, key="evaluation_card")
        else:
            st.caption("Recorded when the run finishes.")

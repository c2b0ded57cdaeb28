"""The Robustness page's helpers: probe inputs (bundled or uploaded), runs under ``st.status`` with
every result kept with the comparison (``embedlab.probes.runs``), and the tables and charts."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app_support import state
from app_support.charts import PNG, label, model_colours
from app_support.state import Current
from app_support.text import md_escape
from embedlab import probes, projection
from embedlab.documents import EvalSet
from embedlab.embedders import EmbedderError, list_models
from embedlab.explore import open_handles
from embedlab.probes import consistency, runs
from embedlab.records import is_hybrid
from embedlab.store import StoreError

PAGE = "robust"
ERRORS = (EmbedderError, StoreError, ValueError, OSError, RuntimeError)
SECTIONS = {"sts": "Sentence similarity", "bitext": "Languages", "perturb": "Noise",
            "consistency": "Local structure", "generated": "Queries without labels"}
SCORE = {"min_value": 0.0, "max_value": 1.0}


# -- models ------------------------------------------------------------------------------------------
def probe_models(cur: Current) -> list[str]:
    """The comparison's models that have an embedder of their own (hybrids fuse two others)."""
    return [m for m in cur.comp.model_ids if not is_hybrid(m)]


def stored_models(cur: Current) -> list[str]:
    return projection.vector_models(cur.comp)


def models_widget(cur: Current, name: str = "m") -> list[str]:
    """Models for the probes that need no stored vectors: the comparison's, plus any bundled one."""
    own = probe_models(cur)
    options = own + [s.id for s in list_models() if s.id not in own]
    return state.url_widget(PAGE, name, st.multiselect, "Models", own, fmt=",".join,
                            parse=lambda s: [m for m in s.split(",") if m in options],
                            valid=lambda v: isinstance(v, list), options=options,
                            help="The comparison's models; add any bundled model (e5-small is multilingual).")


def options_and_key(cur: Current, mid: str) -> tuple[dict, str | None]:
    return (cur.comp.options(mid) if mid in cur.comp.model_ids else {}), state.api_keys(cur.comp).get(mid)


# -- running -----------------------------------------------------------------------------------------
def run(key: str, what: str, done: dict, jobs: dict[str, Callable[[], object]]) -> dict:
    """``done`` holds results found in the cache, ``jobs`` computes the missing ones — after a click,
    one step at a time under ``st.status``. A failing step is reported; the others go on."""
    if not jobs:
        return done
    slot = st.empty()
    with slot.container():
        clicked = st.button(f"Run: {len(jobs)} to compute", key=f"run:{key}", type="primary",
                            icon=":material/play_arrow:",
                            help="Results are kept with the comparison: this runs once, for everyone with the link.")
        names = ", ".join(map(md_escape, jobs)) if len(jobs) <= 6 else f"{len(jobs)} of {len(jobs) + len(done)}"
        st.caption(f"Not computed yet: {names}. Each finished step is kept, even if you leave the page.")
    if not clicked:
        return done
    slot.empty()
    with st.status(f"{what}…", expanded=True) as status:
        bar = st.progress(0.0)
        for i, (name, job) in enumerate(jobs.items()):
            status.update(label=f"{what}: {name} ({i + 1}/{len(jobs)})")
            try:
                done[name] = job()
            except ERRORS as e:
                st.error(f"{md_escape(name)}: {md_escape(str(e))}")
            bar.progress((i + 1) / len(jobs), text=f"{i + 1}/{len(jobs)}")
        status.update(label=f"{what}: done", state="complete", expanded=False)
    return done


# -- inputs ------------------------------------------------------------------------------------------
@st.cache_data(show_spinner=False)
def _sample_sts() -> tuple[list[tuple[str, str]], list[float]]:
    return probes.load_sts(probes.SAMPLE_STS)


@st.cache_data(show_spinner=False)
def _sample_parallel() -> dict[str, tuple[list[str], list[str]]]:
    return {lang: probes.load_parallel(probes.SAMPLE_PARALLEL, lang)
            for lang in probes.parallel_languages(probes.SAMPLE_PARALLEL)}


def _source(key: str, sample_label: str) -> str:
    return st.segmented_control("Data", ["sample", "upload"], default="sample", key=f"rb:{key}:src", required=True,
                                format_func={"sample": sample_label, "upload": "Upload your own"}.get)


def sts_data():
    """(pairs, gold, note) from the bundled slice or an upload; (None, None, None) until there is one."""
    if _source("sts", "Bundled STS-B slice (300 pairs)") == "sample":
        pairs, gold = _sample_sts()
        return pairs, gold, ("300 pairs of the STS-B test split (image captions, SNLI captions, news headlines; "
                             "scores CC BY-SA 4.0). A slice of three genres: compare models with each other here, "
                             "and read the published figure (all 1,379 pairs, eight genres) as context.")
    file = st.file_uploader("TSV or CSV with a header: sentence1, sentence2, score (any scale)",
                            type=["tsv", "csv", "txt"], key="rb:sts:file")
    if file is None:
        return None, None, None
    try:
        table = probes.read_pairs(file.getvalue(), need_scores=True)
    except ValueError as e:
        st.error(f"Could not read {md_escape(file.name)}: {md_escape(str(e))}")
        return None, None, None
    return list(zip(table.left, table.right, strict=True)), table.scores, f"{file.name}: {table.note}"


def bitext_data() -> dict[str, tuple[list[str], list[str]]]:
    """language → (sentences, English translations): the bundled Tatoeba slice or uploaded files."""
    if _source("bitext", "Bundled Tatoeba slice (kor, spa, deu → eng)") == "sample":
        data = _sample_parallel()
        langs = state.url_widget(PAGE, "langs", st.multiselect, "Languages", list(data), fmt=",".join,
                                 parse=lambda s: [x for x in s.split(",") if x in data],
                                 valid=lambda v: isinstance(v, list), options=list(data))
        st.caption("200 sentence pairs per language from Tatoeba (LASER test set; CC BY 2.0 FR).")
        return {lang: data[lang] for lang in langs}
    files = st.file_uploader("One TSV/CSV per language: source sentence, English translation (header optional); "
                             "the file name is the language label", type=["tsv", "csv", "txt"],
                             accept_multiple_files=True, key="rb:bitext:files")
    data = {}
    for f in files or []:
        try:
            t = probes.read_pairs(f.getvalue())
        except ValueError as e:
            st.error(f"Could not read {md_escape(f.name)}: {md_escape(str(e))}")
            continue
        data[f.name.rsplit(".", 1)[0][:24]] = (t.left, t.right)
        st.caption(f"{md_escape(f.name)}: {md_escape(t.note)}")
    return data


# -- charts ------------------------------------------------------------------------------------------
def grouped_bars(frame: pd.DataFrame, x: str, y: str, title: str, models: list[str], ymax: float = 1.0) -> go.Figure:
    """One bar per model within each ``x`` group; model colours as on every other page."""
    colours = model_colours(models)
    fig = go.Figure()
    for mid in [m for m in models if m in set(frame["model"])]:
        part = frame[frame["model"] == mid]
        fig.add_bar(name=label(mid), x=[label(v) for v in part[x]], y=part[y], marker_color=colours[mid],
                    text=[f"{v:.2f}" for v in part[y]], textposition="outside", cliponaxis=False)
    fig.update_layout(barmode="group", height=340, margin=dict(l=10, r=10, t=40, b=10),
                      title=dict(text=title, font=dict(size=14)), yaxis=dict(range=[0, ymax * 1.1]),
                      legend=dict(orientation="h", y=-0.15))
    return fig


def grid(frame: pd.DataFrame, value: str, title: str, zmin: float = 0.0) -> go.Figure:
    """Model × noise heatmap of ``value``, numbers written in the cells."""
    table = frame.pivot(index="model", columns="kind", values=value)
    table = table.loc[list(dict.fromkeys(frame["model"])), list(dict.fromkeys(frame["kind"]))]
    fig = go.Figure(go.Heatmap(z=table.values, x=[label(c) for c in table.columns], y=[label(i) for i in table.index],
                               zmin=zmin, zmax=1, colorscale="Viridis", texttemplate="%{z:.2f}",
                               hovertemplate="%{y} · %{x}: %{z:.3f}<extra></extra>"))
    fig.update_layout(title=dict(text=title, font=dict(size=14)), height=110 + 45 * len(table),
                      margin=dict(l=10, r=10, t=40, b=10), yaxis=dict(autorange="reversed"))
    return fig


def show(fig: go.Figure, key: str) -> None:
    st.plotly_chart(fig, config=PNG, key=key)


def score_columns(*names: str, fmt: str = "%.3f") -> dict:
    return {n: st.column_config.ProgressColumn(format=fmt, **SCORE) for n in names}


# -- results: cached ones at once, the rest after a click -------------------------------------------
def sts_results(cur: Current, models: list[str], pairs, gold) -> dict:
    ws, cid = cur.ws, cur.comp.id
    done = {m: r for m in models if (r := runs.lookup(ws, cid, "sts", runs.sts_params(
        m, options_and_key(cur, m)[0], pairs, gold)))}
    jobs = {m: partial(runs.sts_row, m, pairs, gold, *options_and_key(cur, m), ws=ws, cid=cid)
            for m in models if m not in done}
    results = run("sts", "Sentence similarity", done, jobs)
    return {m: {**results[m], "published": runs.published_sts(m)} for m in models if m in results}


def bitext_results(cur: Current, models: list[str], data: dict) -> list[dict]:
    ws, cid = cur.ws, cur.comp.id
    keys = {f"{m} · {lang}": (m, lang) for m in models for lang in data}
    done = {name: r for name, (m, lang) in keys.items() if (r := runs.lookup(ws, cid, "bitext",
            runs.bitext_params(m, options_and_key(cur, m)[0], lang, *data[lang])))}
    jobs = {name: partial(runs.bitext_row, m, lang, *data[lang], *options_and_key(cur, m), ws=ws, cid=cid)
            for name, (m, lang) in keys.items() if name not in done}
    results = run("bitext", "Bitext mining", done, jobs)
    return [results[name] for name in keys if name in results]


def perturb_results(cur: Current, models: list[str], texts, kinds, seed: int, k: int) -> list[dict]:
    ws, comp, ds = cur.ws, cur.comp, cur.ds
    done = {m: r for m in models if (r := runs.lookup(ws, comp.id, "perturb", runs.perturb_params(
        ds, comp, m, texts, kinds, seed, k)))}
    jobs = {m: partial(runs.perturb_rows, ws, comp, ds, m, texts, kinds, seed, k, state.api_keys(comp).get(m))
            for m in models if m not in done}
    results = run("perturb", "Perturbation robustness", done, jobs)
    return [row for m in models for row in results.get(m, [])]


def consistency_result(cur: Current, labels: str, k: int) -> dict | None:
    ws, comp, ds = cur.ws, cur.comp, cur.ds
    params = consistency.consistency_params(ws, comp, ds, labels, k)
    done = {"all": r} if (r := runs.lookup(ws, comp.id, "consistency", params)) else {}
    jobs = {} if done else {"all models": partial(consistency.comparison_consistency, ws, comp, ds, labels, k)}
    results = run("consistency", "Neighbourhoods and maps", done, jobs)
    return next(iter(results.values()), None)


def generated_set(cur: Current, n: int, seed: int, llm: dict | None, api_key: str | None) -> EvalSet | None:
    """The generated set for these settings: from the cache, made at once (from the documents: instant,
    no network), or after a click when a chat model writes it."""
    ws, comp, ds = cur.ws, cur.comp, cur.ds
    hit = runs.lookup(ws, comp.id, "geneval", runs.geneval_params(ds, n, seed, llm))
    if hit:
        return EvalSet(hit["queries"], hit["qrels"], True, hit["note"])
    if not llm:
        return runs.generated_eval_set(ws, comp, ds, n, seed)
    if not st.button(f"Generate {n} queries with {llm['model']}", type="primary", icon=":material/auto_awesome:"):
        return None
    with st.status(f"Asking {llm['model']} for queries…", expanded=True) as status:
        bar = st.progress(0.0)
        try:
            ev = runs.generated_eval_set(ws, comp, ds, n, seed, llm, api_key,
                                               progress=lambda d, t: bar.progress(d / t, text=f"{d}/{t} documents"))
        except Exception as e:  # noqa: BLE001 - endpoint errors come in many types; say which, never the key
            message = str(e).replace(api_key, "***") if api_key else str(e)
            st.error(f"The endpoint failed: {type(e).__name__}: {md_escape(message)}")
            status.update(label="Generation failed", state="error")
            return None
        status.update(label=f"{len(ev.queries)} queries generated", state="complete", expanded=False)
    return ev


def generated_results(cur: Current, ev: EvalSet) -> list[dict]:
    """Every finished model (hybrids too) scored on ``ev`` with its stored vectors."""
    ws, comp, ds = cur.ws, cur.comp, cur.ds
    models = cur.done_models()
    done = {m: r for m in models if (r := runs.lookup(ws, comp.id, "generated",
                                                            runs.generated_params(ds, ev, comp, m)))}

    def job(mid):
        handles = open_handles(ws, comp, ds, state.api_keys(comp))
        return runs.evaluate_generated(ws, comp, ds, ev, mid, handles)

    results = run("generated", "Evaluating on the generated queries", done,
                  {m: partial(job, m) for m in models if m not in done})
    return [results[m] for m in models if m in results]


# -- rendering -----------------------------------------------------------------------------------------
def consistency_render(cur: Current, result: dict) -> None:
    kinds, first = result["maps"], next(iter(result["models"].values()))
    rows = [{"model": m, "purity": r["purity"],
             "of the best possible": r["purity"] / r["ceiling"] if r["ceiling"] else None,
             **{f"trust {kind}": r["maps"][kind]["trust"] for kind in kinds},
             **{f"false map neighbours {kind}": 100 * r["maps"][kind]["false"] for kind in kinds}}
            for m, r in result["models"].items()]
    st.dataframe(pd.DataFrame(rows), hide_index=True, placeholder="–", column_config={
        **score_columns("of the best possible", *(f"trust {kind}" for kind in kinds)),
        "purity": st.column_config.NumberColumn(format="%.3f"),
        **{f"false map neighbours {kind}": st.column_config.NumberColumn(format="%.0f%%") for kind in kinds}})
    sample = f"a seeded sample of {result['points']:,} of {result['chunks']:,}" \
        if result["points"] < result["chunks"] else f"all {result['chunks']:,}"
    st.caption(f"On {sample} chunks, k = {result['k']}; {first['points']:,} of them share their label with another "
               f"chunk and are counted. Purity reads between chance ({first['chance']:.3f}, random neighbours) and "
               f"the ceiling ({first['ceiling']:.3f}, the best any model could do): the second column is purity as "
               "a share of that ceiling. Trustworthiness: 1 = no map neighbour is a stranger in the model's own "
               "space, about 0.5 = random. False map neighbours: of each chunk's k nearest points on the map, the "
               "share that are not among its k nearest in the model's space.")
    if "umap" not in kinds:
        st.caption("UMAP maps are checked once the Map page has computed them; PCA maps always are.")


def misleading_points(cur: Current, result: dict) -> None:
    """The chunks whose map neighbours are most often false, for one model and map."""
    st.subheader("When a map misleads")
    st.caption("A 2-D map must squeeze hundreds of dimensions into two: some chunks land beside strangers. "
               "These are the chunks whose nearest points on the map are least often their true neighbours — "
               "before reading a cluster off a map, check a few of them.")
    models, kinds = list(result["models"]), result["maps"]
    c1, c2 = st.columns(2)
    mid = c1.selectbox("Model", models, key="rb:mislead:model")
    kind = c2.selectbox("Map", kinds, index=len(kinds) - 1, format_func=str.upper, key="rb:mislead:kind")
    worst = result["models"][mid]["maps"][kind]["worst"]
    ds = cur.ds
    frame = pd.DataFrame([{"chunk": c, "false map neighbours": share * 100, "document": ds.chunks[c].doc_id,
                           "text": ds.chunks[c].text[:300]} for c, share in worst])
    st.dataframe(frame, hide_index=True, column_config={
        "false map neighbours": st.column_config.ProgressColumn(format="%.0f%%", min_value=0, max_value=100),
        "text": st.column_config.TextColumn(width="large")})
    if worst:
        st.page_link("pages/2_Map.py", label=f"See chunk {worst[0][0]} on the maps", icon=":material/scatter_plot:",
                     query_params={"c": cur.comp.id, "p": str(worst[0][0]), "kind": kind})


def queries_table(cur: Current, ev: EvalSet) -> None:
    titles = {d.id: d.title for d in cur.ds.documents}
    frame = pd.DataFrame([{"query id": q, "query": ev.queries[q], "relevant document": doc,
                           "title": titles.get(doc, "")} for q, rel in ev.qrels.items() for doc in rel])
    st.dataframe(frame, hide_index=True, height=240,
                 column_config={"query": st.column_config.TextColumn(width="large")})


GENERATED_LIMITS = """**Read these scores with their limits:**
- One relevant document per query: other documents that also answer it count as misses, so every score is a floor.
- Copied sentences and titles share exact words with their document, which flatters lexical models (BM25) over
  dense ones; written-by-a-model queries flatter them less, but nobody checked them.
- Known-item search (find the passage I saw) is not question answering: use the ranking between models on
  your text, not the absolute numbers, and judge a few queries yourself before deciding."""


def llm_inputs() -> tuple[dict | None, str | None]:
    """Endpoint, model and key for a chat model. The key stays in this browser session: it is never
    written to the URL, the comparison or a cache file."""
    a, b, c = st.columns(3)
    base = a.text_input("Base URL", key="rb:llm:url", placeholder="https://api.openai.com/v1")
    model = b.text_input("Chat model", key="rb:llm:model", placeholder="gpt-4o-mini, llama3.1, …")
    key = c.text_input("API key", type="password", key="rb:llm:key",
                       help="Kept in this browser session only: never in the URL, the comparison or a log.")
    if not model.strip():
        st.info("Type the chat model's name (and the endpoint's base URL, unless it is OpenAI's).")
        return None, None
    return {"model": model.strip(), "base_url": base.strip()}, key or os.environ.get("OPENAI_API_KEY")

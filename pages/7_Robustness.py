"""Robustness: sentence similarity, languages, noise, local structure and generated queries — each
model probed on bundled samples or on the comparison's own data; every result kept with it."""

import pandas as pd
import streamlit as st

from app_support import robustness_view as rv
from app_support import state
from app_support.text import md_escape, shorten
from embedlab import probes
from embedlab.probes import consistency, runs

PAGE = rv.PAGE
cur = state.require_current()
comp, ds = cur.comp, cur.ds

st.title("Robustness")
st.caption("Deeper looks at each model than retrieval scores. Results are kept with the comparison: "
           "reopening this page, or a teammate's link, recomputes nothing.")
section = state.url_widget(PAGE, "probe", st.segmented_control, "Probe", "sts", valid=lambda v: v in rv.SECTIONS,
                           options=list(rv.SECTIONS), format_func=rv.SECTIONS.get, required=True)
st.header(rv.SECTIONS[section], divider="gray")
if section in ("perturb", "consistency", "generated") and not rv.stored_models(cur):
    st.info("No model has finished embedding yet — the Overview page shows progress.")
    st.stop()

if section == "sts":
    st.caption("Sentence pairs scored 0–5 by people. A model's cosines should order the pairs as people do: "
               "Spearman correlation, MTEB's STS score (both sides encoded as queries).")
    pairs, gold, note = rv.sts_data()
    models = rv.models_widget(cur)
    if pairs is None or not models:
        st.info("Upload a file of scored sentence pairs, and choose at least one model.")
        st.stop()
    st.caption(md_escape(note))
    if results := rv.sts_results(cur, models, pairs, gold):
        frame = pd.DataFrame(results.values())
        st.dataframe(frame[["model", "spearman", "published", "pairs", "seconds"]], hide_index=True, placeholder="–",
                     column_config={**rv.score_columns("spearman", fmt="%.4f"),
                                    "published": st.column_config.NumberColumn("published STS-B", format="%.4f")})
        long = frame.melt(id_vars="model", value_vars=["spearman", "published"], var_name="figure").dropna()
        long["figure"] = long["figure"].map({"spearman": "here", "published": "published (MTEB, all pairs)"})
        rv.show(rv.grouped_bars(long, "figure", "value", "Spearman: here and published", models), "sts_bars")
        st.caption("Published: MTEB STSBenchmark test (1,379 pairs) from EmbedLab's catalog; blank where the "
                   "catalog has no sourced figure.")

elif section == "bitext":
    st.caption("Each sentence must find its own translation among all the English ones (nearest by cosine). "
               "Accuracy: the share found. Gap: how much closer true translations sit than unrelated pairs.")
    data = rv.bitext_data()
    models = rv.models_widget(cur)
    if not data or not models:
        st.info("Choose at least one language (or upload pairs) and one model.")
        st.stop()
    if rows := rv.bitext_results(cur, models, data):
        frame = pd.DataFrame(rows)
        rv.show(rv.grouped_bars(frame, "lang", "accuracy", "Bitext accuracy (→ English)", models), "bitext_acc")
        st.dataframe(frame[["model", "lang", "accuracy", "f1", "gap", "n"]], hide_index=True,
                     column_config={**rv.score_columns("accuracy", "f1"), "gap": st.column_config.NumberColumn(
                         format="%.3f")})
        failed = [f"{md_escape(r.model)} on {md_escape(r.lang)} ({r.accuracy:.0%})"
                  for r in frame[frame["accuracy"] < 0.1].itertuples()]
        if failed:
            st.warning("Below 10% — the model does not represent that language: " + ", ".join(failed) + ".",
                       icon=":material/translate:")
        st.caption("Compare gaps with care: a model whose cosines are all high (e5) keeps a small gap even when "
                   "it ranks every translation first.")

elif section == "perturb":
    st.caption("Typos, casing, punctuation, word order and synonyms applied to your own texts (seeded). Cosine: "
               "noisy text vs original. Top-k survival: the share of the original's top-k chunks the noisy text "
               "still retrieves from the stored vectors. Hybrids have no vectors of their own.")
    sources = (["queries"] if ds.eval_set and ds.eval_set.queries else []) + ["chunks"]
    c1, c2, c3, c4, c5 = st.columns([2, 4, 1, 1, 1])
    with c1:
        source = state.url_widget(PAGE, "texts", st.segmented_control, "Texts", sources[0], required=True,
                                  valid=lambda v: v in sources, options=sources,
                                  format_func={"queries": "Eval queries", "chunks": "Chunks"}.get)
    with c2:
        kinds = state.url_widget(PAGE, "kinds", st.multiselect, "Noise", list(probes.KINDS), fmt=",".join,
                                 parse=lambda s: [k for k in s.split(",") if k in probes.KINDS],
                                 valid=lambda v: isinstance(v, list), options=list(probes.KINDS))
    with c3:
        n = state.url_widget(PAGE, "n", st.number_input, "How many", 200, parse=int, valid=lambda v: 10 <= v <= 2000,
                             min_value=10, max_value=2000, step=50)
    with c4:
        k = state.url_widget(PAGE, "k", st.number_input, "k", 10, parse=int, valid=lambda v: 1 <= v <= 100,
                             min_value=1, max_value=100)
    with c5:
        seed = state.url_widget(PAGE, "seed", st.number_input, "Seed", 0, parse=int, valid=lambda v: v >= 0,
                                min_value=0)
    if not kinds:
        st.info("Choose at least one kind of noise.")
        st.stop()
    texts, which = runs.perturb_texts(ds, source, int(n), int(seed))
    if rows := rv.perturb_results(cur, rv.stored_models(cur), texts, kinds, int(seed), int(k)):
        frame = pd.DataFrame(rows)
        left, right = st.columns(2)
        with left:
            rv.show(rv.grid(frame, "topk_survival", f"Top-{int(k)} survival"), "perturb_survival")
        with right:
            rv.show(rv.grid(frame, "mean_cosine", "Cosine to the original", zmin=0.5), "perturb_cosine")
        changed = frame.groupby("kind", sort=False)["changed"].first()
        st.caption(f"{len(texts)} {which}, seed {int(seed)}. Texts each noise changed: "
                   + ", ".join(f"{kind} {v:.0%}" for kind, v in changed.items())
                   + " — an unchanged text survives by definition.")
    with st.expander("What the noise looks like (first five texts)"):
        examples = {kind: probes.noisy_variants(texts[:5], kind, int(seed)) for kind in kinds}
        st.dataframe(pd.DataFrame({"original": texts[:5], **examples}).map(lambda t: shorten(t, 160)), hide_index=True)

elif section == "consistency":
    st.caption("Do a model's nearest chunks belong together, and can its 2-D map be trusted? Purity: the share "
               "of each chunk's k nearest chunks with the same label. Everything comes from the stored vectors.")
    opts = consistency.label_options(ds)
    c1, c2 = st.columns([4, 1])
    with c1:
        labels = state.url_widget(PAGE, "labels", st.selectbox, "Group chunks by", "document",
                                  valid=lambda v: v in opts, options=list(opts), format_func=opts.get)
    with c2:
        ck = state.url_widget(PAGE, "ck", st.number_input, "k", 10, parse=int, valid=lambda v: 2 <= v <= 50,
                              min_value=2, max_value=50)
    if labels == "document":
        st.caption("No topic labels here, so the group is the document a chunk was cut from: a model should keep "
                   "a document's chunks together. Overlapping chunks share words, which favours lexical models.")
    if result := rv.consistency_result(cur, labels, int(ck)):
        rv.consistency_render(cur, result)
        rv.misleading_points(cur, result)

else:
    st.caption("No judged queries? Known-item queries can be made from the documents themselves, and every "
               "model scored on them with the vectors already stored (only the queries are embedded).")
    if ds.eval_set and not ds.eval_set.generated:
        st.info("This comparison has judged queries (Metrics page); generated ones are scored beside them here, "
                "to show how far generated queries can be trusted on this kind of text.", icon=":material/info:")
    c1, c2, c3 = st.columns([3, 1, 1])
    with c1:
        method = state.url_widget(PAGE, "gen", st.segmented_control, "Queries written by", "documents", required=True,
                                  valid=lambda v: v in ("documents", "llm"), options=["documents", "llm"],
                                  format_func={"documents": "The documents' own titles and sentences",
                                               "llm": "A chat model"}.get,
                                  help="A chat model: any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, …).")
    with c2:
        gn = state.url_widget(PAGE, "gn", st.number_input, "Queries", 100, parse=int, valid=lambda v: 5 <= v <= 2000,
                              min_value=5, max_value=2000, step=25)
    with c3:
        gseed = state.url_widget(PAGE, "gseed", st.number_input, "Seed", 0, parse=int, valid=lambda v: v >= 0,
                                 min_value=0)
    llm, key = rv.llm_inputs() if method == "llm" else (None, None)
    if method == "llm" and llm is None:
        st.stop()
    ev = rv.generated_set(cur, int(gn), int(gseed), llm, key)
    if ev is None:
        st.stop()
    st.warning(f"Generated evaluation set: {len(ev.queries)} queries, not judged by people. {md_escape(ev.note)}",
               icon=":material/auto_awesome:")
    st.markdown(rv.GENERATED_LIMITS)
    rv.queries_table(cur, ev)
    st.subheader("Scores on the generated queries")
    if rows := rv.generated_results(cur, ev):
        st.dataframe(pd.DataFrame(rows).drop(columns="queries"), hide_index=True, placeholder="–",
                     column_config=rv.score_columns(*runs.GENERATED_METRICS, "judged ndcg@10"))
        st.caption(f"{rows[0]['queries']} generated queries. The comparison's own metrics are left as they are. "
                   "Judged nDCG@10: the same model on the comparison's real evaluation set, where it has one.")

"""Languages on the pages: the corpus's share of each language, models that do not cover them,
BM25's analyzer, and metrics per language. Render functions only; the facts come from
``embedlab.language``."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_support.text import md_escape
from embedlab import language


def shares_caption(documents) -> None:
    """One line for a load report: "Languages: English 80 %, Korean 20 %"."""
    shares = language.language_shares(documents)
    if shares:
        st.caption(f"Languages (detected offline): {md_escape(language.describe_shares(shares))}")


def coverage(model_ids, shares) -> None:
    """A warning per chosen model that was not trained for a language of this corpus."""
    for warning in language.coverage_warnings(model_ids, shares):
        st.warning(md_escape(warning), icon=":material/translate:")


def overview(cur) -> None:
    """Overview: languages of the documents, and the coverage warnings for the chosen models."""
    shares = language.language_shares(cur.ds.documents)
    if not shares:
        return
    st.caption(f"Languages (detected offline, {md_escape(language.DETECTOR)}): "
               f"{md_escape(language.describe_shares(shares))}")
    coverage(cur.comp.model_ids, shares)


def analyzers(comp) -> None:
    """Under the model cards: which analyzer each BM25 model used on this corpus (recorded with
    its vectors' settings when it ran)."""
    for mid in comp.model_ids:
        analyzer = (comp.run(mid).settings or {}).get("analyzer")
        if analyzer:
            st.caption(f"**{md_escape(mid)}** analyzer: {md_escape(analyzer)}")


def per_language(cur, per_query: dict, metric: str = "ndcg@10") -> None:
    """Metrics page: each model's ``metric`` per query language with its 95 % interval, when the
    evaluation queries are in more than one language."""
    ev = cur.ds.eval_set
    if not ev or not per_query:
        return
    langs = language.query_languages(ev, cur.ds.documents)
    if len(set(langs.values())) < 2:
        return
    table = language.per_language_metrics(per_query, langs, metric)
    st.subheader(f"{metric} per language")
    counts = pd.Series(list(langs.values())).value_counts()
    rows = [{"language": f"{language.name(lang)} ({lang})", "queries": int(counts.get(lang, 0)), "model": model,
             metric: f"{mean:.3f}", "95 % interval": f"{low:.3f} – {high:.3f}"}
            for lang, models in table.items() for model, (mean, low, high) in models.items()]
    st.table(pd.DataFrame(rows).set_index("language"))  # a few rows: a plain table, readable as text
    st.caption("A query's language is that of its relevant documents. Intervals: 95 % bootstrap over "
               "that language's queries.")
    coverage(cur.comp.model_ids, language.language_shares(cur.ds.documents))

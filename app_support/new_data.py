"""New comparison: documents (upload or sample), evaluation set, chunking that fits the models."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_support import language_view
from app_support.sample import SAMPLE_DIR, SAMPLE_NAME
from app_support.text import md_escape
from embedlab import chunking, documents, probes
from embedlab.chunking import Chunking
from embedlab.readers.model import Limits, human_bytes

DEFAULT_CHUNK = 256  # cl100k tokens: the page's chunk when every chosen model holds more
FORMATS = "txt, md, html, pdf, docx, csv / tsv, json / jsonl, and zip archives of these (BEIR folders too)"


def _limits_caption() -> str:
    lim = Limits()
    return (f"Reads {FORMATS}. Limits: {human_bytes(lim.max_file_bytes)} per file, "
            f"{lim.max_total_bytes / 1024**3:g} GB per upload, {lim.max_files:,} files, zips nested "
            f"{lim.max_zip_depth} deep and compressed at most {lim.max_zip_ratio:.0f}:1. For bigger "
            "corpora run `python -m embedlab evaluate --data <folder>` on the server.")


@st.cache_resource(show_spinner="Reading the sample…")
def _sample() -> documents.LoadResult:
    return documents.load_paths([SAMPLE_DIR])


def _uploads(files, text_column, title_column) -> documents.LoadResult:
    """Parsed once per set of files (and column choice): reruns must not re-read a big upload."""
    sig = (tuple((f.file_id, f.name, f.size) for f in files), text_column, title_column)
    cached = st.session_state.get("new:loaded")
    if cached and cached[0] == sig:
        return cached[1]
    with st.spinner(f"Reading {len(files)} file(s)…"):
        result = documents.load_uploads([(f.name, f.getvalue()) for f in files], text_column=text_column,
                                         title_column=title_column)
    st.session_state["new:loaded"] = (sig, result)
    return result


def _columns(files) -> tuple[str | None, str | None]:
    tables = [f for f in files if f.name.lower().endswith((".csv", ".tsv", ".json", ".jsonl"))]
    if not tables:
        return None, None
    cols = documents.csv_columns(tables[0].name, tables[0].getvalue())
    if not cols:
        return None, None
    with st.expander("Table columns (CSV / TSV / JSON)"):
        text = st.selectbox("Text column", cols, index=None, placeholder="detect automatically", key="new:textcol")
        title = st.selectbox("Title column", cols, index=None, placeholder="detect automatically",
                             key="new:titlecol")
    return text, title


def _height(rows: int) -> int:
    return 38 + 35 * min(max(rows, 1), 8)  # header + up to 8 rows, then it scrolls


def report(result: documents.LoadResult) -> None:
    """What was read and what was skipped, with the reason for each skip."""
    docs = len(result.documents)
    st.success(f"{docs:,} documents from {sum(1 for _, n in result.loaded if n):,} file(s)"
               + (f"; {len(result.skipped)} skipped" if result.skipped else ""), icon=":material/description:")
    language_view.shares_caption(result.documents)
    left, right = st.columns(2)
    with left:
        st.caption("Loaded")
        st.dataframe(pd.DataFrame(result.loaded, columns=["file", "documents"]), hide_index=True,
                     height=_height(len(result.loaded)))
    with right:
        st.caption("Skipped")
        if result.skipped:
            st.dataframe(pd.DataFrame([(s.name, s.reason) for s in result.skipped], columns=["file", "reason"]),
                         hide_index=True, height=_height(len(result.skipped)))
        else:
            st.text("nothing skipped")


def documents_step() -> tuple[documents.LoadResult | None, str]:
    source = st.segmented_control("Documents", ["Upload files", "Bundled sample"], default="Upload files",
                                  key="new:source", required=True)
    if source == "Bundled sample":
        result = _sample()
        st.caption(f"{SAMPLE_NAME}: 500 SciFact abstracts with 100 judged queries (CC BY / ODC-By).")
        return result, SAMPLE_NAME
    files = st.file_uploader("Documents (several files, or one zip)", accept_multiple_files=True, key="new:files")
    st.caption(_limits_caption())
    if not files:
        return None, ""
    text_column, title_column = _columns(files)
    result = _uploads(files, text_column, title_column)
    report(result)
    name = files[0].name if len(files) == 1 else f"{len(files)} uploaded files"
    return result, name


def _fitting(model_ids: list[str], result: documents.LoadResult) -> dict[str, int]:
    """Each chosen model's largest whole chunk, measured on up to 200 of these documents; once per
    (models, documents) in the session (it loads each model's tokenizer)."""
    key = (tuple(model_ids), id(result))  # the LoadResult lives in the session, so its id is stable
    cached = st.session_state.get("new:fitting")
    if not cached or cached[0] != key:
        with st.spinner("Measuring how much text each model's window holds…"):
            cached = (key, chunking.fitting_sizes(model_ids, [d.full_text for d in result.documents[:200]]))
        st.session_state["new:fitting"] = cached
    return cached[1]


def chunking_step(model_ids: list[str], result: documents.LoadResult) -> Chunking | None:
    """Chunk size and overlap. The size follows the chosen models — the largest chunk (at most
    ``DEFAULT_CHUNK``) that every one of them holds whole in its own tokenizer — until the user
    types another; a size some model cannot hold is warned about."""
    fits = _fitting(model_ids, result) if model_ids else {}
    auto = min([DEFAULT_CHUNK, *fits.values()])
    if st.session_state.get("new:size") in (None, st.session_state.get("new:size_auto")):
        st.session_state["new:size"] = auto  # not typed over: follow the models
    st.session_state["new:size_auto"] = auto
    left, right = st.columns(2)
    size = int(left.number_input("Chunk size (cl100k tokens; 0 = one chunk per document)", 0, 8192, step=16,
                                 key="new:size"))
    overlap = int(right.number_input("Overlap (tokens)", 0, 4096, 32, 8, key="new:overlap"))
    limit = min(fits, key=fits.get) if fits else None
    if limit and fits[limit] <= DEFAULT_CHUNK:
        st.caption(f"Default {auto}: the largest chunk every chosen model holds whole in its own tokenizer "
                   f"(measured on these documents; {md_escape(limit)} sets the limit).")
    short = [f"{md_escape(m)} ({f})" for m, f in sorted(fits.items(), key=lambda kv: kv[1]) if size == 0 or size > f]
    if short:
        what = "Whole documents" if size == 0 else f"Chunks of {size} tokens"
        who = short[0] if len(short) == 1 else f"{', '.join(short[:-1])} and {short[-1]}"
        st.warning(f"{what} can be longer than {who} can hold (the largest whole chunk each takes, in cl100k "
                   "tokens): those models would embed only the start of each longer chunk. Overview will say "
                   "how many were cut.",
                   icon=":material/content_cut:")
    try:
        return Chunking(size, overlap)
    except ValueError as e:
        st.error(str(e))
        return None


def eval_step(result: documents.LoadResult):
    """An evaluation set: from the upload (BEIR), uploaded queries + qrels, generated, or none."""
    options = (["From the upload"] if result.eval_set else []) + ["Upload queries + qrels", "Generate", "None"]
    choice = st.segmented_control("Evaluation set", options, default=options[0], key="new:evalsrc", required=True)
    if choice == "From the upload":
        st.caption(f"{len(result.eval_set.qrels):,} judged queries found with the documents.")
        return result.eval_set
    if choice == "Generate":
        n = st.number_input("Queries to generate", 10, 2000, 100, 10, key="new:ngen")
        ev = _generated(result, int(n))
        st.warning(f"Generated: {len(ev.qrels)} known-item queries. {md_escape(ev.note)}",
                   icon=":material/auto_awesome:")
        return ev if ev.qrels else None
    if choice == "Upload queries + qrels":
        return _uploaded_eval()
    return None


def _generated(result, n: int):
    key = (id(result), n)  # the LoadResult object lives in the session, so its id is stable
    cached = st.session_state.get("new:generated")
    if not cached or cached[0] != key:
        cached = (key, probes.generate_eval_set(result.documents, n=n))
        st.session_state["new:generated"] = cached
    return cached[1]


def _uploaded_eval():
    left, right = st.columns(2)
    queries = left.file_uploader("Queries (jsonl with _id/text, or id<TAB>text)", type=["jsonl", "json", "tsv", "txt"],
                                 key="new:queries")
    qrels = right.file_uploader("Qrels (query-id, corpus-id, score TSV)", type=["tsv", "txt", "csv"], key="new:qrels")
    if not (queries and qrels):
        return None
    try:
        ev = documents.load_eval_set(queries.getvalue(), qrels.getvalue())
    except ValueError as e:
        st.error(f"Could not read the evaluation set: {md_escape(str(e))}")
        return None
    st.caption(f"{len(ev.qrels):,} judged queries.")
    return ev

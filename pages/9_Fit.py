"""Fit: what each model costs to run in production — vector precision and dimensions against recall,
Milvus index memory now and at 1M/10M/100M chunks, HNSW vs FLAT measured, and quality per chunk size."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app_support import charts, progress, state
from embedlab import fit, fit_view

cur = state.require_current()
comp, ds = cur.comp, cur.ds

st.title("Fit")
progress.run_panel(cur, compact=True)  # nothing when the run is complete
st.caption("How much of each model's top-10 survives smaller vectors (int8, binary, fewer dimensions), what its "
           "Milvus index needs in memory, and how quality moves with the chunk size. Recall@10 is measured "
           "against the float32 full-dimension exact top-10 of the same queries "
           f"({'the evaluation queries' if ds.eval_set else 'sampled chunks, since there are no evaluation queries'}).")
done = cur.done_models()
if not done:
    st.info("No model has finished embedding yet — the Overview page shows progress.")
    st.stop()

saved = fit_view.from_comparison(comp)
c1, c2 = st.columns([3, 2])
measure = c2.toggle("Also measure HNSW vs FLAT in Milvus", value=True,
                    help="Builds two temporary collections of each model's vectors in this workspace, then drops them.")
if c1.button("Run the fit check" if not saved["models"] else "Run the fit check again", type="primary",
             icon=":material/straighten:"):
    with st.spinner("Quantising, truncating and searching every model's stored vectors…"):
        result = fit.fit_dataset(cur.ws, ds, done, {m: comp.options(m) for m in done}, milvus=measure,
                                 api_keys=state.api_keys(comp))
        fit.save_fit(cur.ws, comp, result)
    saved = fit_view.from_comparison(comp)

dense = {m: r for m, r in saved["models"].items() if "variants" in r}
if not dense:
    st.info("No fit check yet for this comparison's dense models (sparse models have nothing to quantise).")
else:
    for sentence in fit_view.summary_sentences(saved):
        st.success(sentence, icon=":material/straighten:")
    st.subheader("Recall against bytes per vector")
    st.plotly_chart(go.Figure(fit_view.recall_figure(saved)), config=charts.PNG)
    st.caption("One colour per model, one marker per precision; points along a line are 64, 128, 256 and all "
               "dimensions (renormalised). binary+rescore re-ranks 4× the candidates with float32 vectors.")
    for mid, r in dense.items():
        with st.expander(f"{mid}: every variant ({r['dim']} dims, Matryoshka-trained: "
                         f"{'yes' if r['matryoshka'] else 'no'})"):
            rows = [{"variant": fit_view.label(v), "dims": v["dims"], "bytes / vector": v["bytes_per_vector"],
                     "recall@10": v["recall@10"], "nDCG@10": v["ndcg@10"], "query ms p50": v["query_ms_p50"]}
                    for v in r["variants"]]
            st.dataframe(pd.DataFrame(rows), hide_index=True, placeholder="–")
            st.caption(f"Queries: {r['queries']['n']} {r['queries']['source']}. Query time: one query against "
                       f"every vector in numpy on one thread (encoding excluded). {r['source']}.")

    st.subheader("Milvus index memory")
    st.plotly_chart(go.Figure(fit_view.memory_figure(saved)), config=charts.PNG)
    for mid, r in dense.items():
        mem = [{"model": mid, "index": name, **{f"{int(n):,} vectors GB": b / fit_view.GB
                                                for n, b in row["bytes"].items()},
                "formula": row["formula"], "source": row["source"]} for name, row in r["index_memory"].items()]
        st.dataframe(pd.DataFrame(mem), hide_index=True)
        if (line := fit_view.milvus_sentence(mid, r)) is not None:
            st.markdown(f"**Measured.** {line}")
    st.caption("On paper: memory the index holds, not Milvus' own overhead (loading peaks higher). Milvus Lite "
               "builds FLAT, IVF_FLAT, IVF_SQ8, HNSW and HNSW_SQ; DISKANN is estimated only.")

st.subheader("Chunk-size sweep")
sizes = st.multiselect("Chunk sizes (cl100k tokens; 0 = whole documents)", [64, 128, 256, 512, 0],
                       default=[128, 256, 512, 0])
swept = fit.load_sweep(cur.ws, comp)
if ds.eval_set and st.button("Run the sweep", icon=":material/tune:", help="Embeds each new chunking once; "
                             "vectors already stored are reused. Slow models take minutes per size."):
    with st.spinner("Chunking, embedding what is missing and evaluating at every size…"):
        swept = fit.sweep(cur.ws, ds.documents, ds.eval_set, [m for m in comp.model_ids if m in done], sizes,
                          ds.chunking.overlap, {m: comp.options(m) for m in done}, comp.name)
        fit.save_sweep(cur.ws, comp, swept)
if not ds.eval_set:
    st.info("The sweep needs evaluation queries (add or generate them on New comparison).")
elif swept:
    st.plotly_chart(go.Figure(fit_view.sweep_figure(swept)), config=charts.PNG)
    trunc = [{"chunk size": s if s != "0" else "whole documents", "model": m, "window (tokens)": t["context_window"],
              "chunks truncated %": t["over_context_pct"], "nDCG@10": e["models"][m].get("ndcg@10")}
             for s, e in swept.items() for m, t in e["truncation"].items()]
    st.dataframe(pd.DataFrame(trunc), hide_index=True, placeholder="–")

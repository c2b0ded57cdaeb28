"""Map: every model's view of the corpus, aligned side by side. A box or lasso on any map:
the same chunks are ringed on every map and listed below (CSV export, kept in the link). Click a
chunk or type a query: each model's nearest neighbours are ringed on every map."""

import streamlit as st

from app_support import charts, map_colours, map_overlay, map_selection, maps, progress, results, state
from app_support.text import md_escape, shorten
from embedlab import mapdata, projection

PAGE = "map"
cur = state.require_current()
comp, ds = cur.comp, cur.ds
n = len(ds.chunks)

st.title("Map")
progress.run_panel(cur, compact=True)  # nothing when the run is complete
models = projection.vector_models(comp)
if not models:
    st.info("No model has finished embedding yet — the Overview page shows progress.")
    st.stop()
st.caption("One 2-D map per model, rotated and scaled onto the first so the same chunk sits in a comparable "
           "place. Pick the box or lasso tool above a map and drag: the same chunks are ringed on every map and "
           "listed below. Click a point with the pan tool (or type a chunk id or a query): each model's nearest "
           "neighbours are ringed in that model's colour on every map.")

map_selection.take_events(models, n)
colour_opts = map_colours.options(ds)
c1, c2, c3, c4 = st.columns([2, 3, 1, 2])
with c1:
    kind = state.url_widget(PAGE, "kind", st.segmented_control, "Layout", "umap", valid=lambda v: v in ("umap", "pca"),
                            options=["umap", "pca"], format_func=str.upper, required=True)
with c2:
    colour_by = state.url_widget(PAGE, "color", st.selectbox, "Colour by", "cluster",
                                 valid=lambda v: v in colour_opts, options=list(colour_opts),
                                 format_func=colour_opts.get)
with c3:
    k = state.url_widget(PAGE, "k", st.number_input, "k", 10, parse=int, valid=lambda v: 1 <= v <= 50,
                         min_value=1, max_value=50)
with c4:
    sizes = [s for s in (5_000, 20_000, maps.DEFAULT_SAMPLE) if s < n] + [n]
    sample = state.url_widget(PAGE, "n", st.selectbox, "Points", min(n, maps.DEFAULT_SAMPLE), parse=int,
                              valid=lambda v: v in sizes, options=sizes, format_func=lambda v: f"{v:,}"
                              + (" (all)" if v == n else " (sample)"))
d1, d2, d3 = st.columns([1, 2, 2])
with d1:
    selected = state.url_widget(PAGE, "p", st.number_input, "Chunk id", None, parse=int,
                                valid=lambda v: v is None or 0 <= v < n, min_value=0, max_value=n - 1,
                                value=None, placeholder="click a point",  # a cleared box: no selection
                                on_change=lambda: state.set_widget(PAGE, "q", ""))
with d2:
    query = state.url_widget(PAGE, "q", st.text_input, "…or a query", "", placeholder="neighbours of a query",
                             on_change=lambda: state.set_widget(PAGE, "p", None))  # a new query replaces the chunk
with d3:
    if ds.eval_set and ds.eval_set.queries:
        texts = ds.eval_set.queries
        st.selectbox("…or an evaluation query", list(texts), index=None, key="map:evalq",
                     format_func=lambda q: shorten(texts[q], 80), placeholder="colour by relevance: pick one",
                     on_change=lambda: (state.set_widget(PAGE, "q", texts.get(st.session_state["map:evalq"], "")),
                                        state.set_widget(PAGE, "p", None)))

sample_arg = None if sample >= n else int(sample)
map_set = None
if kind == "umap":
    map_set, umap_state = maps.umap_maps(cur.ws, comp, sample_arg)
    if map_set is None:
        @st.fragment(run_every=2)
        def _wait_for_umap():
            ready, now = maps.umap_maps(cur.ws, comp, sample_arg, wait=0)
            if ready is not None:
                st.rerun(scope="app")
            st.info(f"UMAP: {now} Showing the PCA preview meanwhile; the maps switch by themselves.",
                    icon=":material/hourglass_top:")

        _wait_for_umap()
if map_set is None:
    with st.spinner("PCA preview…"):
        map_set = maps.pca_maps(cur.ws, comp, sample_arg)

visible = map_selection.filter_controls(cur, map_set, colour_opts)
selection = map_selection.current(n)
highlights, hits = {}, None
if selected is not None:
    highlights = maps.point_neighbours(cur.ws, comp, int(selected), int(k))
elif query.strip():
    hits, _ = results.handles_search(cur, query, int(k))
    highlights = {m: [h.chunk for h in hs] for m, hs in hits.items()}

with st.spinner("Colouring…"):
    by_query = (highlights, mapdata.relevant_chunks(ds, query)) if hits else None
    colour = map_colours.colour_by(colour_by, cur.ws, comp, ds, map_set, 10, by_query)
if highlights:
    what = f"chunk {int(selected)}" if selected is not None else "the query"
    st.caption(f"Rings: the {int(k)} nearest neighbours of {what} under each model, in that model's colour "
               "(key in each map's corner) — on every map, so you see where one model's neighbours sit in "
               "another's space.")
titles = [f"<b>{charts.label(mid)}</b>" + ("" if mid == map_set.reference else
                                             f"  ·  disparity {map_set.disparity.get(mid, 0):.2f}") for mid in models]
figs = map_overlay.figures(comp.id, map_set, colour, models, titles, lambda: maps.hover_texts(ds, map_set.ids),
                           visible=visible, generation=map_selection.generation())
cols = st.columns(min(len(models), 3))
for i, (mid, fig) in enumerate(zip(models, figs, strict=True)):
    with cols[i % len(cols)], st.container(key=map_overlay.container_key(i)):
        st.plotly_chart(fig, key=f"map:{mid}", on_select="rerun", selection_mode=("box", "lasso", "points"),
                        config={**charts.PNG, "scrollZoom": True,
                                "toImageButtonOptions": {"format": "png", "scale": 2, "filename": f"embedlab-map-{i}"}})
map_overlay.draw(len(models), selection, highlights, selected, charts.model_colours(comp.model_ids),
                 source=map_selection.source(models))
st.caption(f"Disparity: Procrustes residual after aligning onto {md_escape(map_set.reference)}'s map "
           "(0 = the same shape, 1 = unrelated)." + (f" {colour.note}" if colour.note else ""))
if len(map_set.ids) > maps.HOVER_POINTS:
    st.caption(f"Hover text is shown for {maps.HOVER_SAMPLE:,} sampled points; every point can be selected.")

if selection:
    map_selection.panel(cur, selection, map_set.reference, list(map_set.coords))
if highlights:
    if selected is not None:
        chunk = ds.chunks[int(selected)]
        st.subheader(f"Chunk {int(selected)}")
        st.caption(f"document {md_escape(chunk.doc_id)}")
        st.text(shorten(chunk.text, 600))
    else:
        st.subheader("Neighbours of the query")
    results.neighbour_table(ds, highlights)

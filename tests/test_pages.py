"""Every dashboard page through Streamlit's AppTest, on one real comparison (fast models, real
Milvus Lite in the session workspace): no exception, the right elements, URL state honoured,
bad links answered with a clear error."""

import re
import subprocess

import pytest
from apptest_util import APP, run_page, texts
from conftest import HOSTILE, PAGE_MODELS, PY, ROOT

from embedlab import comparison
from embedlab.chunking import Chunking
from embedlab.documents import Document


@pytest.fixture(scope="session")
def bare_comp(workspace, app_comp):
    """No evaluation set, whole documents as chunks, one model: the pages' guards."""
    docs = [Document(f"d{i}", f"title {i}", f"text number {i} about topic {i % 3}") for i in range(12)]
    docs.append(Document("evil", HOSTILE, HOSTILE))
    ds = workspace.add_dataset(docs, Chunking(0, 0), None, name="bare")
    comp = comparison.create(workspace, ds, ["bm25"], name="bare")
    comparison.run(workspace, comp)
    return comp


def test_embedlab_never_imports_streamlit():
    code = ("import importlib, pkgutil, sys, embedlab\n"
            "for m in pkgutil.walk_packages(embedlab.__path__, 'embedlab.'):\n"
            "    if m.name != 'embedlab.__main__':  # running it would start the CLI\n"
            "        importlib.import_module(m.name)\n"
            "assert 'streamlit' not in sys.modules, 'embedlab imported streamlit'\n"
            "print('ok')")
    out = subprocess.run([PY, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-2000:]


def test_overview_opens_the_linked_comparison(app_comp):
    at = run_page(None, app_comp.id)
    assert "Pages" in at.title[0].value and "<script>" not in at.title[0].value  # markdown-escaped
    assert at.query_params["c"] == app_comp.id
    assert len(at.dataframe) >= 1
    assert {"Documents", "Chunks", "Models"} <= {m.label for m in at.metric}
    assert "glove\\-50d" in texts(at.sidebar.markdown)  # model chips (badges are escaped markdown)


@pytest.mark.parametrize("cid, message", [("A" * 24, "no comparison with that id"),
                                          ("../../etc/passwd", "malformed")])
def test_bad_link_shows_a_clear_error(app_comp, cid, message):
    for page in (None, "pages/2_Map.py", "pages/5_Metrics.py"):
        at = run_page(page, cid)
        assert message in texts(at.error), texts(at.error)
        assert "Open a comparison first" in texts(at.info)


def test_damaged_manifest_is_an_error_not_a_traceback(workspace, app_comp):
    broken = comparison.create(workspace, workspace.load_dataset(app_comp.dataset_key), ["bm25"], name="broken")
    (workspace.comparison_dir(broken.id) / "manifest.json").write_text("{not json", "utf-8")
    at = run_page(None, broken.id)
    assert "damaged" in texts(at.error)


def test_map_honours_url_state(app_comp):
    at = run_page("pages/2_Map.py", app_comp.id, kind="pca", p=3, k=5, color="document")
    charts = at.get("plotly_chart")
    assert len(charts) == 3  # one map per model with vectors; the hybrid has none
    assert at.session_state["w:map:p"] == 3 and at.session_state["w:map:k"] == 5
    assert at.query_params["p"] == "3" and at.query_params["color"] == "document"
    assert "Chunk 3" in texts(at.subheader)
    table = at.dataframe[-1].value
    assert list(table.columns) == ["bm25", "model2vec", "glove-50d"] and len(table) == 5


def test_map_with_query_and_umap_preview(app_comp):
    at = run_page("pages/2_Map.py", app_comp.id, q="vitamin D deficiency", color="disagreement")
    assert len(at.get("plotly_chart")) == 3
    assert "Neighbours of the query" in texts(at.subheader)
    # UMAP may still be compiling: the PCA maps are there meanwhile, and the page says so.
    assert "UMAP" in texts(at.info) or not at.info


def test_map_typing_a_query_replaces_the_selected_chunk(app_comp):
    at = run_page("pages/2_Map.py", app_comp.id, kind="pca", p=3)
    at.text_input(key="w:map:q").input("gene expression in cancer").run()
    assert not at.exception
    assert at.session_state["w:map:p"] is None and "p" not in at.query_params
    assert at.query_params["q"] == "gene expression in cancer"
    assert "Neighbours of the query" in texts(at.subheader)


def test_sidebar_switches_between_this_sessions_comparisons(app_comp, bare_comp):
    at = run_page(None, app_comp.id)
    at.query_params["c"] = bare_comp.id
    at.run()
    picker = at.sidebar.selectbox[0]
    assert set(picker.options) >= {f"bare ({bare_comp.id[:6]}…)"} and picker.value == bare_comp.id
    picker.set_value(app_comp.id).run()
    assert not at.exception and at.query_params["c"] == app_comp.id


def test_map_state_survives_page_switches(app_comp):
    """Sidebar navigation drops the query string; c and each page's own values come back."""
    at = run_page("pages/2_Map.py", app_comp.id, kind="pca", p=7)
    at.switch_page("pages/4_Search.py")
    at.query_params.clear()
    at.run()
    assert at.query_params == {"c": app_comp.id}
    at.switch_page("pages/2_Map.py")
    at.query_params.clear()
    at.run()
    assert at.query_params.get("p") == "7" and at.query_params["kind"] == "pca"
    assert at.query_params["c"] == app_comp.id


def test_map_clearing_the_chunk_id_clears_the_selection(app_comp):
    at = run_page("pages/2_Map.py", app_comp.id, kind="pca", p=3)
    at.number_input(key="w:map:p").set_value(None).run()
    assert not at.exception
    assert at.session_state["w:map:p"] is None and "p" not in at.query_params
    assert "Chunk 3" not in texts(at.subheader)


def test_sidebar_copy_link_carries_the_page_state(app_comp):
    """Back on the Map after a page switch: the page restores p= into the URL, and the sidebar's
    Copy link (drawn again after the page ran) carries it too."""
    at = run_page("pages/2_Map.py", app_comp.id, kind="pca", p=7)
    at.switch_page("pages/4_Search.py")
    at.query_params.clear()
    at.run()
    at.switch_page("pages/2_Map.py")
    at.query_params.clear()
    at.run()
    links = [c.value for c in at.sidebar.code]
    assert len(links) == 1 and "p=7" in links[0] and f"c={app_comp.id}" in links[0], links


def test_neighbourhoods(app_comp):
    at = run_page("pages/3_Neighbourhoods.py", app_comp.id, k=5)
    assert len(at.get("plotly_chart")) == 2  # Jaccard and RBO heatmaps
    top = at.dataframe[0].value
    assert len(top) == 25 and top["disagreement"].is_monotonic_decreasing
    assert at.query_params["p"] == str(top["chunk"].iloc[0])


def test_search_marks_relevant_and_shared(app_comp, workspace):
    ev = workspace.load_dataset(app_comp.dataset_key).eval_set
    qid = next(iter(ev.qrels))
    at = run_page("pages/4_Search.py", app_comp.id, qid=qid, k=5)
    assert at.text_input[0].value == ev.queries[qid]
    body = texts(at.markdown)
    for mid in PAGE_MODELS:
        assert f"##### {mid}" in body.replace("\\", "")
    assert "relevant in top 5" in texts(at.caption)


def test_search_typed_query_without_judgements(app_comp):
    at = run_page("pages/4_Search.py", app_comp.id, q="insulin resistance in muscle")
    assert "relevant in top" not in texts(at.caption)
    assert "#1" in texts(at.markdown)


def test_search_page_reads_the_vectors_while_the_user_types(app_comp, workspace):
    """Opened without a query (as after a server restart: nothing held), the page starts reading
    every finished model's stored vectors, so the first search does not wait for that read."""
    import time

    names = [r["collection"] for m, r in app_comp.results.items() if not m.startswith("hybrid:")]
    for name in names:
        workspace.store._forget(name)
    assert not any(workspace.store.is_resident(n) for n in names)
    at = run_page("pages/4_Search.py", app_comp.id)
    assert "Type a query" in texts(at.info)
    deadline = time.time() + 120
    while not all(workspace.store.is_resident(n) for n in names) and time.time() < deadline:
        time.sleep(0.2)
    assert all(workspace.store.is_resident(n) for n in names), [workspace.store.is_resident(n) for n in names]


def test_metrics_and_wins(app_comp):
    at = run_page("pages/5_Metrics.py", app_comp.id, a="bm25", b="glove-50d")
    table = next(d.value for d in at.dataframe if "recall@100" in d.value.columns)
    assert set(table["model"]) == set(PAGE_MODELS)
    assert table.set_index("model").loc["bm25", "ndcg@10"] > table.set_index("model").loc["glove-50d", "ndcg@10"]
    low, high = map(float, table.set_index("model").loc["bm25", "ndcg@10 CI"].split(" – "))
    assert low < table.set_index("model").loc["bm25", "ndcg@10"] < high
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Metrics as CSV", "Verdict as JSON", "Per-query table as CSV"], labels
    assert at.selectbox[0].value == "bm25" and at.selectbox[1].value == "glove-50d"


def test_guards_without_eval_set(bare_comp):
    at = run_page("pages/5_Metrics.py", bare_comp.id)
    assert "no evaluation set" in texts(at.info)
    at = run_page("pages/3_Neighbourhoods.py", bare_comp.id)
    assert "needs two models" in texts(at.info)
    at = run_page("pages/4_Search.py", bare_comp.id, q="topic")
    assert "No evaluation set" in texts(at.caption)


def test_costs(app_comp):
    at = run_page("pages/6_Costs.py", app_comp.id, docs=5000, qpm=1000)
    measured = next(d.value for d in at.dataframe if "tokens / chunk" in d.value.columns)
    assert {"bm25", "model2vec", "glove-50d"} <= set(measured["model"])
    assert "5,000 documents" in texts(at.subheader)
    projected = next(d.value for d in at.dataframe if "embedding cost $" in d.value.columns).set_index("model")
    measured = measured.set_index("model")
    # the sample's 500 documents projected to 5,000, linearly: ten times the tokens; local models cost nothing
    for model in ("model2vec", "glove-50d"):
        assert projected.loc[model, "tokens"] == pytest.approx(10 * measured.loc[model, "tokens"], rel=0.01)
        assert projected.loc[model, "embedding cost $"] == 0.0


def test_share_link_and_report(app_comp):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["c"] = app_comp.id
    at.context["url"] = "http://team.example:8501"
    at.run()
    at.switch_page("pages/8_Share.py").run()
    assert not at.exception
    link = [c.value for c in at.code if "c=" in c.value][0]
    assert re.match(r"^http://team\.example:8501/(Share)?\?", link) and f"c={app_comp.id}" in link
    labels = sorted(b.proto.label for b in at.get("download_button"))
    assert labels == ["Download HTML report", "Download bundle", "Metrics as CSV"], labels


def test_new_comparison_from_upload(workspace, app_comp, monkeypatch):
    from app_support import new_models

    monkeypatch.setattr(new_models, "DEFAULT", ("bm25",))  # the quickest model is enough here
    at = run_page("pages/1_New_comparison.py", app_comp.id)
    files = [("notes.txt", b"Embedding models map text to vectors.\n\nSome are sparse.", "text/plain"),
             ("evil.md", f"# {HOSTILE}\n\nmarkdown body".encode(), "text/markdown"),
             ("photo.txt", b"\x89PNG\r\n\x1a\n" + bytes(64), "text/plain")]
    at.file_uploader[0].set_value(files).run()
    assert not at.exception, [e.value for e in at.exception]
    loaded, skipped = at.dataframe[0].value, at.dataframe[1].value
    assert set(loaded["file"]) >= {"notes.txt", "evil.md"} and "photo.txt" in set(skipped["file"])
    editor = at.dataframe[2].value  # the model table: bundled models listed first
    assert list(editor["model"])[:1] == ["minilm"]
    create = [b for b in at.button if "Create comparison" in b.label][0]
    create.click().run()
    assert not at.exception, [e.value for e in at.exception]
    cid = at.query_params["c"]
    assert cid != app_comp.id
    made = comparison.load(workspace, cid)
    assert made.model_ids == ["bm25"]
    from embedlab import jobs

    job = jobs.get(cid)
    job.thread.join(120)
    assert comparison.is_complete(comparison.load(workspace, cid))


def test_first_start_opens_the_sample_with_a_stable_id(workspace, app_comp, monkeypatch):
    """No ?c= → the bundled sample, created once; its id survives a restart (the pointer file)."""
    from app_support import sample

    monkeypatch.setattr(sample, "SAMPLE_MODELS", ["bm25", "model2vec"])  # fast models in tests
    at = run_page(None, None)
    cid = at.query_params["c"]
    assert (workspace.root / "sample.json").exists() and sample.SAMPLE_NAME in at.title[0].value.replace("\\", "")
    assert sample.ensure_sample(workspace).id == cid  # what the next process start finds
    from embedlab import jobs

    job = jobs.get(cid)  # let the background run finish before Milvus Lite shuts down with the session
    if job is not None:
        job.thread.join(300)
    assert comparison.is_complete(comparison.load(workspace, cid))


def test_failed_model_shows_its_error_and_resume(workspace, bare_comp, monkeypatch):
    """A model that cannot run (an endpoint without a key) is reported on the page, the others
    finish, and Resume is offered; opening the comparison auto-resumes it once."""
    from embedlab import jobs

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    ds = workspace.load_dataset(bare_comp.dataset_key)
    comp = comparison.create(workspace, ds, ["bm25", "openai:text-embedding-3-small"], name="needs a key")
    at = run_page(None, comp.id)  # opening it starts the run in the background
    jobs.get(comp.id).thread.join(120)
    at.run()
    assert not at.exception
    assert "no API key" in texts(at.error)
    assert any(b.label == "Resume" for b in at.button)
    assert comparison.load(workspace, comp.id).results["bm25"]["status"] == "done"

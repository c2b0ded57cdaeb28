"""The Fit page through Streamlit's AppTest on a real comparison (fast models, real Milvus Lite):
the fit check runs from its button, is stored in the comparison, and the page and report show it."""

import os

import pytest
from conftest import ROOT

from embedlab import comparison, report
from embedlab.chunking import Chunking

APP = str(ROOT / "streamlit_app.py")


@pytest.fixture(scope="module")
def fit_comp(workspace, sample_docs):
    os.environ["EMBEDLAB_WORKSPACE"] = str(workspace.root)
    ds = workspace.add_dataset(sample_docs.documents[:200], Chunking(0, 0), sample_docs.eval_set, name="fit page")
    comp = comparison.create(workspace, ds, ["model2vec", "bm25"], name="fit page")
    comparison.run(workspace, comp)
    return comp


def _page(cid: str):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params["c"] = cid
    at.run()
    at.switch_page("pages/9_Fit.py")
    at.query_params.clear()
    at.query_params["c"] = cid
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_fit_page_runs_the_check_and_shows_it(workspace, fit_comp):
    at = _page(fit_comp.id)
    assert [i.value for i in at.info if "No fit check yet" in i.value]
    button = next(b for b in at.button if b.label.startswith("Run the fit check"))
    button.click().run()
    assert not at.exception, [e.value for e in at.exception]
    said = " ".join(s.value for s in at.success)
    assert "model2vec keeps" in said and "At 10M chunks HNSW needs" in said
    assert any("Measured." in m.value and "HNSW recall@10" in m.value for m in at.markdown)
    stored = comparison.load(workspace, fit_comp.id)
    assert stored.results["model2vec"]["fit"]["variants"][0]["precision"] == "float32"
    assert "fit" not in stored.results["bm25"] or "variants" not in stored.results["bm25"]["fit"]
    html = report.render_report(stored, workspace.load_dataset(stored.dataset_key), None, include_plotlyjs=False)
    assert "Fit: vector size, index memory" in html and "model2vec keeps" in html

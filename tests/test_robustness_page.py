"""The Robustness page through Streamlit's AppTest, on a real comparison (fast models, real Milvus
Lite in the session workspace): every probe runs, its results come back from the comparison's
cache on the next visit, URL state is honoured, and nothing is re-embedded."""

import json
import os
import threading
from http.server import ThreadingHTTPServer

import pytest
from conftest import HOSTILE, ROOT

from embedlab import comparison
from embedlab.chunking import Chunking
from embedlab.documents import Document
from embedlab.probes import runs as robustness  # the probes' cached runs

APP = str(ROOT / "streamlit_app.py")
PAGE = "pages/7_Robustness.py"
MODELS = ["bm25", "model2vec", "glove-50d", "hybrid:model2vec+bm25"]


@pytest.fixture(scope="session")
def robust_comp(workspace, sample_docs):
    os.environ["EMBEDLAB_WORKSPACE"] = str(workspace.root)  # the app's cached Workspace opens the same folder
    ds = workspace.add_dataset(sample_docs.documents, Chunking(256, 32), sample_docs.eval_set, name="sample")
    comp = comparison.create(workspace, ds, MODELS, name="Robustness")
    comparison.run(workspace, comp)
    assert comparison.is_complete(comp)
    return comp


@pytest.fixture(scope="session")
def unlabelled_comp(workspace, robust_comp):
    """No evaluation set, whole documents as chunks: the page must generate its own queries."""
    docs = [Document(f"d{i}", f"Report number {i} on topic {i % 4}",
                     f"This report discusses topic {i % 4} in detail. It was written in week {i} of the project. "
                     f"The findings on topic {i % 4} are summarised in section {i}.") for i in range(16)]
    docs.append(Document("evil", HOSTILE, f"{HOSTILE} Some text about nothing in particular for the test."))
    ds = workspace.add_dataset(docs, Chunking(0, 0), None, name="unlabelled")
    comp = comparison.create(workspace, ds, ["bm25", "glove-50d"], name="unlabelled")
    comparison.run(workspace, comp)
    return comp


def open_page(cid: str, **params):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params["c"] = cid
    at.query_params.update({k: str(v) for k, v in params.items()})
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def click_run(at):
    (button,) = [b for b in at.button if b.label.startswith("Run")]
    button.click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [b for b in at.button if b.label.startswith("Run")]  # everything computed
    return at


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def test_opens_on_sentence_similarity_with_every_probe_offered(robust_comp):
    at = open_page(robust_comp.id)
    assert at.title[0].value == "Robustness" and at.header[0].value == "Sentence similarity"
    assert at.query_params["c"] == robust_comp.id
    assert at.segmented_control[0].options == ["Sentence similarity", "Languages", "Noise", "Local structure",
                                               "Queries without labels"]
    assert at.multiselect[0].value == ["bm25", "model2vec", "glove-50d"]  # the comparison's own models


def test_sts_runs_then_comes_back_from_the_cache(robust_comp):
    at = click_run(open_page(robust_comp.id, m="glove-50d,bm25"))
    table = at.dataframe[0].value.set_index("model")
    assert list(table.index) == ["glove-50d", "bm25"] and (table["pairs"] == 300).all()
    assert table.loc["bm25", "spearman"] > table.loc["glove-50d", "spearman"]
    assert len(at.get("plotly_chart")) == 1
    again = open_page(robust_comp.id, m="glove-50d,bm25")  # a teammate's link: nothing to run
    assert not [b for b in again.button if b.label.startswith("Run")]
    assert again.dataframe[0].value["spearman"].tolist() == table["spearman"].tolist()


def test_bitext_shows_an_english_only_model_failing_korean(robust_comp):
    at = click_run(open_page(robust_comp.id, probe="bitext", m="glove-50d,model2vec", langs="kor,spa"))
    assert at.header[0].value == "Languages" and at.query_params["langs"] == "kor,spa"
    frame = at.dataframe[0].value
    assert len(frame) == 4 and set(frame["lang"]) == {"kor", "spa"}
    assert "glove\\-50d on kor (2%)" in texts(at.warning)


def test_perturbation_heatmaps_on_the_eval_queries(robust_comp, workspace):
    at = click_run(open_page(robust_comp.id, probe="perturb", n=30, kinds="typo,casing", k=5, seed=2))
    assert at.session_state["w:robust:n"] == 30 and at.multiselect[0].value == ["typo", "casing"]
    assert len(at.get("plotly_chart")) == 2  # survival and cosine, model × noise
    assert "30 queries, seed 2" in texts(at.caption)
    ds = workspace.load_dataset(robust_comp.dataset_key)
    texts_, _ = robustness.perturb_texts(ds, "queries", 30, 2)
    cached = robustness.lookup(workspace, robust_comp.id, "perturb", robustness.perturb_params(
        ds, robust_comp, "bm25", texts_, ["typo", "casing"], 2, 5))
    assert [r["kind"] for r in cached] == ["typo", "casing"] and cached[1]["topk_survival"] == 1.0


def test_local_structure_and_misleading_maps(robust_comp):
    at = click_run(open_page(robust_comp.id, probe="consistency", ck=5))
    table = at.dataframe[0].value.set_index("model")
    assert list(table.index) == ["bm25", "model2vec", "glove-50d"]
    assert table["purity"].between(0, 1).all() and table["of the best possible"].between(0, 1 + 1e-9).all()
    assert table["trust pca"].between(0.5, 1).all()
    assert "When a map misleads" in texts(at.subheader)
    assert len(at.dataframe[1].value) == 10


def test_generated_queries_scored_on_stored_vectors(robust_comp, workspace):
    before = set(workspace.store.client.list_collections())
    at = open_page(robust_comp.id, probe="generated", gn=25)
    assert "judged queries" in texts(at.info)  # the sample has real judgements: shown beside
    assert "Generated evaluation set: 25 queries" in texts(at.warning) and "floor" in texts(at.markdown)
    click_run(at)
    frame = at.dataframe[1].value.set_index("model")
    assert list(frame.index) == MODELS and "25 generated queries" in texts(at.caption)
    assert frame["judged ndcg@10"].notna().all()
    assert set(workspace.store.client.list_collections()) == before  # searched what was stored


def test_unlabelled_comparison_gets_generated_queries_and_chunk_noise(unlabelled_comp):
    at = open_page(unlabelled_comp.id, probe="generated")
    assert not at.info and "Generated evaluation set" in texts(at.warning)
    assert "<script>" not in texts(at.warning)
    click_run(at)
    assert set(at.dataframe[1].value["model"]) == {"bm25", "glove-50d"}
    at = click_run(open_page(unlabelled_comp.id, probe="perturb", n=10, kinds="punctuation"))
    assert at.segmented_control[1].value == "chunks" and "10 chunks" in texts(at.caption)


def test_llm_generation_through_a_loopback_endpoint(unlabelled_comp, workspace):
    from test_probes import ChatHandler

    server = ThreadingHTTPServer(("127.0.0.1", 0), ChatHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        at = open_page(unlabelled_comp.id, probe="generated", gen="llm", gn=5)
        assert "Type the chat model" in texts(at.info)
        at.text_input(key="rb:llm:url").input(f"http://127.0.0.1:{server.server_port}/v1")
        at.text_input(key="rb:llm:model").input("tiny")
        at.text_input(key="rb:llm:key").input("sk-secret-test").run()
        (button,) = [b for b in at.button if b.label.startswith("Generate")]
        button.click().run()
    finally:
        server.shutdown()
    assert not at.exception, [e.value for e in at.exception]
    assert "5 queries" in texts(at.warning) and "tiny" in texts(at.warning)
    assert "sk-secret-test" not in json.dumps(dict(at.query_params))
    kept = list((workspace.comparison_dir(unlabelled_comp.id) / "probes").glob("geneval-*.json"))
    assert any('"tiny"' in f.read_text("utf-8") for f in kept)  # the model is recorded…
    assert not any("sk-secret-test" in f.read_text("utf-8") for f in kept)  # …the key never


def test_bad_values_in_the_link_fall_back(robust_comp):
    at = open_page(robust_comp.id, probe="nonsense", m="nosuchmodel,glove-50d")
    assert at.header[0].value == "Sentence similarity"
    assert at.multiselect[0].value == ["glove-50d"]


def test_sts_on_uploaded_pairs(robust_comp):
    at = open_page(robust_comp.id, m="glove-50d")
    at.segmented_control(key="rb:sts:src").set_value("upload").run()
    assert "Upload a file" in texts(at.info)
    pairs = ("sentence1,sentence2,score\nA dog runs.,A dog is running.,5\nA dog runs.,Stocks fell.,0\n"
             f"A cat sleeps.,A cat naps.,4.5\n\"{HOSTILE}\",Rain is falling.,0.5\n")
    at.file_uploader(key="rb:sts:file").set_value([("mine.csv", pairs.encode(), "text/csv")]).run()
    click_run(at)
    assert at.dataframe[0].value["pairs"].tolist() == [4]
    assert "mine.csv: 4 pairs (columns from the header)" in texts(at.caption).replace("\\", "")

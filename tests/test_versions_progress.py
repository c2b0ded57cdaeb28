"""The run panel says how many chunks a model embeds now and how many it reuses (AppTest)."""

from streamlit.testing.v1 import AppTest


def _row():
    import streamlit as st

    from app_support.progress import _model_row
    from embedlab.records import ModelRun

    event = {"model": "minilm", "stage": "embed", "done": 40, "total": 1000, "rate": 12.0, "eta_s": 80,
             "new": 3, "reused": 997}
    _model_row(st, ModelRun.of("minilm", {"status": "embedding", "chunks": 1000}), event)


def test_the_progress_row_says_new_and_reused():
    at = AppTest.from_function(_row).run(timeout=60)
    assert not at.exception
    texts = [p.proto.text for p in at.get("progress")]
    assert texts == ["minilm — 3 new chunks to embed, 997 reused · 40 / 1,000 chunks · 12 chunks/s · 01:20 left"]


def _storing_row():
    import streamlit as st

    from app_support.progress import _model_row
    from embedlab.records import ModelRun

    event = {"model": "minilm", "stage": "store", "done": 1000, "total": 1000, "new": 3, "reused": 997}
    _model_row(st, ModelRun.of("minilm", {"status": "embedding", "chunks": 1000}), event)


def test_the_progress_row_says_when_the_new_vectors_are_being_written():
    at = AppTest.from_function(_storing_row).run(timeout=60)
    assert not at.exception
    bars = at.get("progress")
    assert [p.proto.text for p in bars] == ["minilm — 1,000 chunks embedded · writing the new vectors to Milvus…"]
    assert bars[0].proto.value == 100


def test_a_run_reports_storing_between_its_last_block_and_done(workspace):
    """The ``store`` event comes once per model that wrote new vectors, after its last block, before done."""
    import uuid

    from embedlab import comparison
    from embedlab.chunking import Chunking
    from embedlab.documents import Document

    token = uuid.uuid4().hex[:8]
    docs = [Document(f"d{i}", "", f"{token} document {i} about storing vectors") for i in range(12)]
    ds = workspace.add_dataset(docs, Chunking(64, 0), name="storing")
    comp = comparison.create(workspace, ds, [{"id": "model2vec", "options": {}}, {"id": "bm25", "options": {}}])
    events = []
    comparison.run(workspace, comp, progress=events.append)
    stages = [(e.get("model"), e["stage"]) for e in events if e["stage"] in ("embed", "store", "done")]
    m2v = [s for m, s in stages if m == "model2vec"]
    assert m2v[-2:] == ["store", "done"] and m2v.count("store") == 1 and "embed" in m2v
    assert "store" not in [s for m, s in stages if m == "bm25"]  # corpus-fitted: the view is all it writes

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

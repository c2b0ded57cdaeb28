"""Chunks that fit (#14 item 4): the New comparison page defaults to a chunk size every chosen model
holds in its own tokenizer and warns about one that some model cannot hold; every run records how
many chunks each model truncated, and Overview warns when that is more than a few percent."""

import json

import pytest
from apptest_util import run_page, texts

from embedlab import chunking, comparison
from embedlab.chunking import Chunking
from embedlab.embedders import get_embedder


@pytest.fixture(scope="module")
def cut_comp(workspace, app_comp, sample_docs):
    """MiniLM (a 256-token window) on 512-token chunks, no evaluation set: it truncates most of them."""
    ds = workspace.add_dataset(sample_docs.documents[:40], Chunking(512, 0), None, name="long chunks")
    comp = comparison.create(workspace, ds, ["minilm", "bm25"], name="long chunks")
    comparison.run(workspace, comp)
    return comparison.load(workspace, comp.id), ds


def test_every_run_records_what_the_model_truncated(cut_comp):
    comp, ds = cut_comp
    minilm, bm25 = comp.run("minilm"), comp.run("bm25")
    emb = get_embedder("minilm")
    over = sum(n > 256 for n in emb.count_tokens(ds.chunk_texts))
    assert over > 0.03 * len(ds.chunks)  # the case this is about: long chunks, no evaluation set
    assert minilm.context_window == 256 and minilm.over_context_pct == round(100 * over / len(ds.chunks), 2)
    fit = chunking.fitting_size(emb, [d.full_text for d in ds.documents[:200]])
    assert minilm.fitting_chunk == fit and 64 <= fit < 256
    assert bm25.over_context_pct is None and bm25.context_window is None  # BM25 has no window


def test_overview_warns_about_the_truncating_model_only(cut_comp, app_comp):
    comp, _ = cut_comp
    at = run_page(None, comp.id)
    warned = texts(at.warning)
    minilm = comp.run("minilm")
    assert (f"minilm truncates {minilm.over_context_pct:.0f} % of chunks (longer than its 256-token window)"
            in warned.replace("\\", ""))
    assert f"Chunks of {minilm.fitting_chunk} tokens or fewer fit it" in warned and "bm25 truncates" not in warned
    assert "truncates" not in texts(run_page(None, app_comp.id).warning)  # 256-token chunks fit model2vec


def upload(at, sample_docs, n=60):
    rows = [json.dumps({"_id": d.id, "title": d.title, "text": d.text}) for d in sample_docs.documents[:n]]
    at.file_uploader[0].set_value([("docs.jsonl", "\n".join(rows).encode(), "application/json")]).run()
    assert not at.exception, [e.value for e in at.exception]
    return [d.full_text for d in sample_docs.documents[:n]]


def size_input(at):
    return next(n for n in at.number_input if n.label.startswith("Chunk size"))


def test_new_comparison_chunk_size_follows_the_models(app_comp, sample_docs, monkeypatch):
    from app_support import new_models

    monkeypatch.setattr(new_models, "DEFAULT", ("minilm", "bm25"))
    at = run_page("pages/1_New_comparison.py", app_comp.id)
    sample = upload(at, sample_docs)
    fit = chunking.default_chunk_size(["minilm", "bm25"], sample, ceiling=256)
    assert fit < 256 and size_input(at).value == fit
    assert "minilm sets the limit" in texts(at.caption) and not texts(at.warning)
    size_input(at).set_value(512).run()  # typed over: kept, and warned about
    assert size_input(at).value == 512
    assert "Chunks of 512 tokens can be longer than minilm" in texts(at.warning)
    size_input(at).set_value(0).run()
    assert "Whole documents can be longer than minilm" in texts(at.warning)


def test_new_comparison_keeps_256_when_every_model_holds_more(app_comp, sample_docs, monkeypatch):
    from app_support import new_models

    monkeypatch.setattr(new_models, "DEFAULT", ("bm25", "model2vec"))
    at = run_page("pages/1_New_comparison.py", app_comp.id)
    upload(at, sample_docs)
    assert size_input(at).value == 256 and "sets the limit" not in texts(at.caption)
    assert not texts(at.warning)


def test_warnings_come_from_the_recorded_runs(cut_comp, capsys):
    """Overview, the CLI and the verdict read what the run recorded; nothing is tokenized again."""
    from embedlab.cli.fit import print_truncation_warnings

    comp, _ = cut_comp
    minilm = comp.run("minilm")
    want = [chunking.truncation_sentence("minilm", minilm.over_context_pct, 256, minilm.fitting_chunk)]
    assert chunking.truncation_warnings(comp.runs()) == want
    assert print_truncation_warnings(comp) == want and capsys.readouterr().out == f"warning: {want[0]}\n"
    assert chunking.truncation_warnings(comp.runs(), threshold_pct=100.0) == []

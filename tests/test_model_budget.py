"""A process keeps loaded models within EMBEDLAB_MODELS_MB: past it the least recently used one is let
go (and freed: nothing else holds it) and loads again when it is next asked for. Real bundled models."""

import gc
import weakref

import pytest

from embedlab.embedders import get_embedder, registry


@pytest.fixture
def empty_cache(monkeypatch):
    monkeypatch.setattr(registry, "_cache", {})
    monkeypatch.setattr(registry, "_sizes", {})
    monkeypatch.setattr(registry, "_seen", {})


def test_models_past_the_budget_are_let_go_and_load_again(empty_cache, monkeypatch):
    monkeypatch.setenv("EMBEDLAB_MODELS_MB", "1")  # every load is over it: only the newest stays
    first = get_embedder("model2vec")
    gone = weakref.ref(first)
    vec = first.encode_documents(["a protein in a cell"])
    del first
    get_embedder("minilm-l3-onnx")
    assert list(registry.loaded()) == ["minilm-l3-onnx"]
    gc.collect()
    assert gone() is None  # freed, not only forgotten
    again = get_embedder("model2vec")
    assert (again.encode_documents(["a protein in a cell"]) == vec).all()
    assert list(registry.loaded()) == ["model2vec"]


def test_within_the_budget_models_stay_and_the_least_recently_used_goes_first(empty_cache, monkeypatch):
    monkeypatch.setenv("EMBEDLAB_MODELS_MB", "100000")
    a, b = get_embedder("model2vec"), get_embedder("minilm-l3-onnx")
    assert get_embedder("model2vec") is a and get_embedder("minilm-l3-onnx") is b
    sizes = registry.loaded()
    assert set(sizes) == {"model2vec", "minilm-l3-onnx"} and all(mb >= 0 for mb in sizes.values())
    get_embedder("model2vec")  # used last: the onnx model is now the least recently used
    registry._evict(sizes["model2vec"] + 0.5 * sizes["minilm-l3-onnx"])
    assert list(registry.loaded()) == ["model2vec"]


def test_sizing_chunks_leaves_no_model_loaded_and_borrows_a_loaded_one(empty_cache, monkeypatch):
    from embedlab import chunking

    monkeypatch.setattr(chunking, "_fits", {})
    sample = ["Protein folding in the cell and the immune response to a virus. " * 20] * 5
    sizes = chunking.fitting_sizes(["model2vec", "minilm-l3-onnx", "bm25"], sample)
    assert set(sizes) == {"model2vec", "minilm-l3-onnx"} and all(s >= 16 for s in sizes.values())
    assert registry.loaded() == {}  # measured, then let go
    kept = get_embedder("minilm-l3-onnx")
    assert registry.borrowed("minilm-l3-onnx", lambda emb: emb is kept)  # a loaded model is used as it is
    assert list(registry.loaded()) == ["minilm-l3-onnx"]
    assert chunking.fitting_sizes(["minilm-l3-onnx"], sample) == {"minilm-l3-onnx": sizes["minilm-l3-onnx"]}

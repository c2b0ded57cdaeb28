"""The bundled model2vec model is loaded holding one tokenizer: the one model2vec read from disk is
the model's own (not deep-copied into a second 276k-token Unigram), and the model is the one
``StaticModel.from_pretrained`` makes — same vectors, settings and tokens. Real bundled model."""

import copy

import numpy as np
import pytest
from model2vec import StaticModel

from embedlab.embedders import static

TEXTS = ["what is the effect of vitamin d on bone density", "Ünïcode täxt, 学校 <unk> <pad>", "", "a " * 900]


@pytest.fixture(scope="module")
def path():
    return static.bundled_model2vec().path


def test_the_tokenizer_read_from_disk_is_the_models_own(path, monkeypatch):
    import model2vec.persistence as persistence

    read = []
    real = persistence.load_pretrained

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        read.append(out[1])
        return out

    monkeypatch.setattr(persistence, "load_pretrained", spy)
    model = static._static_model(path)
    assert len(read) == 1 and model.tokenizer is read[0]
    assert "__deepcopy__" not in vars(model.tokenizer)  # afterwards a copy is a copy again
    assert copy.deepcopy(model.tokenizer) is not model.tokenizer


def test_it_is_the_model_from_pretrained_makes(path):
    ours, ref = static._static_model(path), StaticModel.from_pretrained(path)
    assert np.array_equal(ours.encode(TEXTS), ref.encode(TEXTS))
    assert (ours.config, ours.normalize, ours.max_length, ours.median_token_length, ours.unk_token_id) == (
        ref.config, ref.normalize, ref.max_length, ref.median_token_length, ref.unk_token_id)
    assert ours.tokens == ref.tokens and np.array_equal(ours.token_mapping, ref.token_mapping)
    assert np.array_equal(ours.weights, ref.weights) and np.array_equal(ours.embedding, ref.embedding)
    assert ours.tokenizer.to_str() == ref.tokenizer.to_str()

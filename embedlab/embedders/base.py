"""The one abstract base every embedder implements.

Dense embedders return float32 arrays (rows L2-normalised when the model is meant for cosine);
sparse embedders return a ``scipy.sparse.csr_matrix`` with non-negative weights.
Batching, progress and checks live here; a provider implements ``_embed_batch`` only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

from .. import heap

Kind = Literal["query", "document"]
Progress = Callable[[int, int], None]  # (done, total)


class EmbedderError(RuntimeError):
    """A model failed in a way a person can act on (bad key, endpoint down, wrong size)."""


class Embedder(ABC):
    id: str = ""  # canonical registry id, e.g. "minilm" or "st:BAAI/bge-small-en-v1.5"
    sparse: bool = False
    dim: int | None = None  # None for sparse (vocabulary size in ``vocab_size``)
    max_tokens: int = 512  # context window in the model's own tokens
    batch_size: int = 32  # the model's own forward-pass batch
    block_size: int = 256  # texts per _embed_batch call: the unit of progress and of storing
    normalize: bool = True
    needs_fit: bool = False  # True when vectors depend on corpus statistics (BM25)
    description: str = ""

    # -- what providers implement -------------------------------------------------------
    @abstractmethod
    def _embed_batch(self, texts: list[str], kind: Kind):
        """Return vectors for one batch: ndarray (dense) or csr_matrix (sparse)."""

    def settings(self) -> dict:
        """Everything that changes the vectors; part of the cache key. Never holds a secret."""
        return {"id": self.id}

    def fit(self, texts: Sequence[str]) -> None:
        """Corpus statistics (BM25 overrides). A no-op for pretrained models."""
        return None

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text under this model's own tokenizer (no truncation)."""
        return [len(t.split()) for t in texts]

    @property
    def tokenizer_name(self) -> str:
        return "whitespace"

    @property
    def vocab_size(self) -> int | None:
        return None

    # -- public API built on _embed_batch -----------------------------------------------
    def encode_documents(self, texts: Sequence[str], progress: Progress | None = None):
        return self._encode(list(texts), "document", progress)

    def encode_queries(self, texts: Sequence[str], progress: Progress | None = None):
        return self._encode(list(texts), "query", progress)

    def iter_batches(self, texts: Sequence[str], kind: Kind = "document"):
        """Yield (start, vectors) per batch, so callers can store each batch as it is made."""
        for start in range(0, len(texts), self.block_size):
            block = list(texts[start : start + self.block_size])
            vecs = self._checked(self._embed_batch(block, kind), len(block))
            heap.trim_now_and_then()  # what the forward passes freed goes back (heap.trim_now_and_then)
            yield start, vecs

    def _encode(self, texts: list[str], kind: Kind, progress: Progress | None):
        parts = []
        for start, vecs in self.iter_batches(texts, kind):
            parts.append(vecs)
            if progress:
                progress(min(start + self.block_size, len(texts)), len(texts))
        if not parts:
            return _empty(self.sparse, self.dim or 0)
        if self.sparse:
            import scipy.sparse as sp

            return sp.vstack(parts).tocsr()
        return np.vstack(parts)

    def _checked(self, vecs, n: int):
        if vecs.shape[0] != n:
            raise EmbedderError(f"{self.id}: asked for {n} vectors, got {vecs.shape[0]}")
        if self.sparse:
            return vecs.tocsr()
        vecs = np.asarray(vecs, dtype=np.float32)
        if self.dim is not None and vecs.shape[1] != self.dim:
            raise EmbedderError(f"{self.id}: expected {self.dim}-dimensional vectors, got {vecs.shape[1]}")
        if not np.isfinite(vecs).all():
            raise EmbedderError(f"{self.id}: returned NaN or infinite values")
        if self.normalize:
            norms = np.linalg.norm(vecs, axis=1, keepdims=True)
            vecs = vecs / np.where(norms == 0, 1, norms)
        return vecs

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"


def _empty(sparse: bool, dim: int):
    if sparse:
        import scipy.sparse as sp

        return sp.csr_matrix((0, 1), dtype=np.float32)
    return np.zeros((0, dim), dtype=np.float32)


def similarity(queries, docs) -> np.ndarray:
    """Score matrix (n_queries × n_docs): inner product, dense or sparse alike."""
    out = queries @ docs.T
    return out.toarray() if hasattr(out, "toarray") else np.asarray(out)

"""OpenAI or any OpenAI-compatible embeddings endpoint (vLLM, TEI, Ollama, a local server)."""

from __future__ import annotations

import os
import time

import numpy as np

from .base import Embedder, EmbedderError

# text-embedding-3-* accept a `dimensions=` argument (Matryoshka truncation); older models don't.
_NATIVE_DIMS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}


class OpenAIEmbedder(Embedder):
    max_tokens = 8191
    block_size = 64

    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None,
                 dimensions: int | None = None, max_retries: int = 4, timeout: float = 60.0):
        try:
            import openai
        except ImportError as e:
            raise EmbedderError("pip install openai") from e
        self.model, self.dimensions, self.max_retries = model, dimensions, max_retries
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        key = api_key or os.environ.get("OPENAI_API_KEY") or ("not-needed" if base_url else None)
        if not key:
            raise EmbedderError("no API key: set OPENAI_API_KEY or type a key in the model settings")
        # We retry ourselves (below) so that 429/5xx back off the same way on every server.
        self.client = openai.OpenAI(api_key=key, base_url=self.base_url, max_retries=0, timeout=timeout)
        self.dim = dimensions or _NATIVE_DIMS.get(model)
        self._sleep = time.sleep

    def settings(self):
        return {"id": self.id, "model": self.model, "base_url": self.base_url, "dimensions": self.dimensions}

    def _embed_batch(self, texts, kind):
        kwargs = {"model": self.model, "input": [t if t.strip() else " " for t in texts]}
        if self.dimensions and self.model.startswith("text-embedding-3"):
            kwargs["dimensions"] = self.dimensions
        data = self._with_retries(kwargs)
        vecs = np.array([d.embedding for d in sorted(data, key=lambda d: d.index)], dtype=np.float32)
        if self.dim is None and vecs.ndim == 2:
            self.dim = vecs.shape[1]  # first answer of an unknown model tells its size
        return vecs

    def _with_retries(self, kwargs):
        import openai

        for attempt in range(self.max_retries + 1):
            try:
                return self.client.embeddings.create(**kwargs).data
            except openai.AuthenticationError as e:
                raise EmbedderError(f"the key was rejected by {self.base_url} (HTTP 401)") from None
            except (openai.RateLimitError, openai.InternalServerError, openai.APITimeoutError,
                    openai.APIConnectionError) as e:
                if attempt == self.max_retries:
                    raise EmbedderError(f"{self.base_url} failed after {attempt + 1} tries: "
                                        f"{_describe(e)}") from None
                self._sleep(min(2**attempt * 0.5, 8.0))
            except openai.APIStatusError as e:
                raise EmbedderError(f"{self.base_url} refused the request: {_describe(e)}") from None
            except (ValueError, TypeError, AttributeError) as e:  # malformed JSON / shape
                raise EmbedderError(f"{self.base_url} sent a malformed answer: {type(e).__name__}") from None
        raise AssertionError("unreachable")

    def count_tokens(self, texts):
        return [len(ids) for ids in _encoding().encode_ordinary_batch(list(texts))]

    @property
    def tokenizer_name(self):
        return "BPE (cl100k_base)"

    @property
    def vocab_size(self):
        return _encoding().n_vocab


def _describe(e) -> str:
    status = getattr(e, "status_code", None)
    return f"HTTP {status}" if status else type(e).__name__


def _encoding():
    from ..chunking import cl100k_encoding

    return cl100k_encoding()

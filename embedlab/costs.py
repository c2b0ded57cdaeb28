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


PRICE_COLUMN = "price per 1M tokens ($)"
DEFAULT_QUERY_TOKENS = 12.0  # a short search query, when no evaluation queries were measured


def price_overrides(edited: list[dict], catalog_prices: dict[str, float | None]) -> dict[str, float]:
    """The prices a user changed in the price table: {model: price} for rows that differ from the catalog."""
    out = {}
    for row in edited:
        value = row.get(PRICE_COLUMN)
        if value is not None and value == value and value != catalog_prices.get(row["model"]):  # NaN: left blank
            out[row["model"]] = float(value)
    return out


def cost_report(table: list[dict], stats: dict[str, dict], target_docs: int, docs_per_chunk: float,
                queries_per_month: float) -> tuple[list[dict], list[dict], int]:
    """The Costs page's two tables from ``cost_table`` rows and each model's token statistics:
    (measured on this corpus, projected to ``target_docs`` documents, the projected chunk count)."""
    target_chunks = int(round(target_docs / max(docs_per_chunk, 1e-12)))
    measured, projected = [], []
    for row in table:
        s = stats[row["model"]]
        p = project(row["chunks"], row["tokens"], row["embed_seconds"], target_chunks,
                    price_per_1m=row["price"] or 0.0, dim=row.get("dim"), nnz_mean=row.get("nnz_mean"))
        timed = row.get("measured", True)
        measured.append({"model": row["model"], "tokenizer": s["tokenizer"], "tokens": row["tokens"],
                         "tokens / chunk": s["mean"], "over context %": s["over_context_pct"],
                         "embed ms / chunk": row["sec_per_chunk"] * 1000 if timed else None,
                         "embed ms / 1k tokens": row["ms_per_1k_tokens"] if timed else None,
                         "timing": row.get("timing"), "storage MB": None if row["storage"] is None
                         else row["storage"] / 1024**2, "cost of this corpus $": row["corpus_cost"]})
        priced = row["price"] is not None
        q_tokens = s.get("query_tokens_mean") or DEFAULT_QUERY_TOKENS
        projected.append({"model": row["model"], "tokens": p["tokens"],
                          "embedding time h": p["seconds"] / 3600 if timed else None,
                          "storage GB": None if p["storage_bytes"] is None else p["storage_bytes"] / 1024**3,
                          "embedding cost $": p["cost"] if priced else None,
                          "queries / month $": monthly_query_cost(queries_per_month, q_tokens, row["price"])
                          if priced else None})
    return measured, projected, target_chunks

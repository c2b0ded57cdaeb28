"""Cost arithmetic against hand-computed examples; token counts on constructed texts."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from embedlab import catalog, costs
from embedlab.embedders import Embedder


class _Whitespace(Embedder):
    """The base class's whitespace token count with a small window, so overflow is easy to build."""

    dim, max_tokens = 4, 5

    def _embed_batch(self, texts, kind):
        return np.ones((len(texts), self.dim), dtype=np.float32)


def test_token_counts_and_over_context():
    texts = ["a b c", "a b c d e", "a b c d e f", "", " ".join(["w"] * 10)]  # 3, 5, 6, 0, 10 tokens
    got = costs.token_counts(_Whitespace(), texts)
    assert got["total"] == 24 and got["max"] == 10
    assert got["mean"] == pytest.approx(4.8)
    assert got["p95"] == pytest.approx(9.2)  # sorted 0,3,5,6,10: position 3.8 → 6 + 0.8 × 4
    assert got["over_context"] == 2  # 5 tokens fit a 5-token window; 6 and 10 do not
    assert costs.token_counts(_Whitespace(), [])["total"] == 0


def test_tiktoken_count():
    assert costs.tiktoken_count("hello world") == [2]
    assert costs.tiktoken_count(["hello world", "", "hello"]) == [2, 0, 1]


def test_embedding_and_query_costs():
    assert costs.embedding_cost(1_500_000, 0.02) == pytest.approx(0.03)
    assert costs.embedding_cost(0, 0.13) == 0
    # 100k queries × 12 tokens = 1.2M tokens at $0.13 per 1M
    assert costs.monthly_query_cost(100_000, 12, 0.13) == pytest.approx(0.156)


def test_storage_bytes_dense_and_sparse():
    dense = costs.storage_bytes(1000, dim=384)
    assert dense["vectors"] == 1000 * 384 * 4 == 1_536_000
    assert dense["index_estimate"] == 1000 * 16 * 2 * 4 == 128_000
    assert dense["total"] == 1_664_000 and "estimate" in dense["note"]
    sparse = costs.storage_bytes(1000, nnz_mean=120.5)
    assert sparse["vectors"] == 964_000 == sparse["index_estimate"]  # 120.5 × 8 bytes × 1000
    with pytest.raises(ValueError):
        costs.storage_bytes(10)


def test_project_scales_linearly():
    got = costs.project(500, 100_000, 20.0, 50_000, price_per_1m=0.02, dim=1536)
    assert got["tokens"] == 10_000_000 and got["seconds"] == pytest.approx(2000.0)
    assert got["cost"] == pytest.approx(0.2)
    assert got["storage_bytes"] == 50_000 * 1536 * 4 + 50_000 * 128 == 313_600_000
    assert costs.project(10, 1000, 1.0, 20)["storage_bytes"] is None
    with pytest.raises(ValueError):
        costs.project(0, 0, 0.0, 10)


def test_latency_summary():
    got = costs.latency_summary([10, 20, 30, 40])
    assert (got["p50"], got["mean"], got["n"]) == (25.0, 25.0, 4)
    assert got["p95"] == pytest.approx(38.5)  # position 2.85 → 30 + 0.85 × 10
    assert costs.latency_summary([]) == {"p50": None, "p95": None, "mean": None, "n": 0}


def test_cost_table_prices_come_from_catalog_or_override():
    small = catalog.get_card("openai:text-embedding-3-small").price_per_1m_tokens
    rows = [
        {"model": "openai:text-embedding-3-small", "chunks": 1000, "tokens": 2_000_000, "embed_seconds": 10.0,
         "query_ms_p50": 80.0, "query_ms_p95": 150.0, "dim": 1536, "nnz_mean": None},
        {"model": "minilm", "chunks": 1000, "tokens": 2_000_000, "embed_seconds": 10.0,
         "query_ms_p50": 5.0, "query_ms_p95": 9.0, "dim": 384, "nnz_mean": None},
        {"model": "bm25", "chunks": 1000, "tokens": 0, "embed_seconds": 1.0,
         "query_ms_p50": 1.0, "query_ms_p95": 2.0, "dim": None, "nnz_mean": 50},
        {"model": "openai:acme-embed", "chunks": 10, "tokens": 100, "embed_seconds": 1.0,
         "query_ms_p50": 1.0, "query_ms_p95": 1.0, "dim": None, "nnz_mean": None},
    ]
    out = {r["model"]: r for r in costs.cost_table(rows, {"minilm": 0.05})}
    oa = out["openai:text-embedding-3-small"]
    assert oa["price"] == small and oa["corpus_cost"] == pytest.approx(2 * small)
    assert oa["sec_per_chunk"] == pytest.approx(0.01) and oa["ms_per_1k_tokens"] == pytest.approx(5.0)
    assert oa["storage"] == 1000 * 1536 * 4 + 1000 * 128
    assert out["minilm"]["price"] == 0.05 and out["minilm"]["price_source"] == "override"
    assert out["bm25"]["storage"] == 2 * 1000 * 50 * 8 and out["bm25"]["ms_per_1k_tokens"] is None
    unknown = out["openai:acme-embed"]
    assert unknown["price"] is None and unknown["corpus_cost"] is None and unknown["storage"] is None


def test_no_price_is_hard_coded_outside_the_catalog():
    prices = {c.price_per_1m_tokens for c in catalog.all_cards() if c.price_per_1m_tokens}
    source = Path(costs.__file__).read_text() + Path(catalog.__file__).read_text()
    for price in prices:
        assert not re.search(rf"(?<![\d.]){re.escape(repr(price))}(?![\d])", source), price


def test_cost_report_projects_every_row():
    table = costs.cost_table([
        {"model": "minilm", "chunks": 1000, "tokens": 200_000, "embed_seconds": 20.0, "dim": 384},
        {"model": "openai:text-embedding-3-small", "chunks": 1000, "tokens": 200_000, "embed_seconds": 50.0,
         "dim": 1536, "measured": False},
        {"model": "openai:acme-embed", "chunks": 1000, "tokens": 200_000, "embed_seconds": 5.0}],
        {"minilm": 0.0})
    stats = {m: {"tokenizer": "t", "mean": 200.0, "over_context_pct": 1.5, "query_tokens_mean": q}
             for m, q in [("minilm", 10.0), ("openai:text-embedding-3-small", None), ("openai:acme-embed", 8.0)]}
    measured, projected, target = costs.cost_report(table, stats, target_docs=50_000, docs_per_chunk=0.5,
                                                    queries_per_month=1_000_000)
    assert target == 100_000  # 50k documents at 2 chunks each
    mini, small, acme = projected
    assert mini["tokens"] == 20_000_000 and mini["embedding time h"] == pytest.approx(2000 / 3600)
    assert mini["storage GB"] == pytest.approx((100_000 * 384 * 4 + 100_000 * 128) / 1024**3)
    assert mini["embedding cost $"] == 0.0 and mini["queries / month $"] == 0.0
    price = catalog.get_card("openai:text-embedding-3-small").price_per_1m_tokens
    assert small["embedding cost $"] == pytest.approx(20 * price)
    assert small["queries / month $"] == pytest.approx(12 * price)  # 1M queries × 12 tokens (no measured queries)
    assert small["embedding time h"] is None and measured[1]["embed ms / chunk"] is None  # not timed in the run
    assert acme["embedding cost $"] is None and acme["queries / month $"] is None and acme["storage GB"] is None
    assert measured[0]["embed ms / chunk"] == pytest.approx(20.0) and measured[0]["storage MB"] == pytest.approx(
        (1000 * 384 * 4 + 1000 * 128) / 1024**2)


def test_price_overrides_are_only_the_changed_prices():
    catalog_prices = {"a": 0.02, "b": None, "c": 0.1}
    edited = [{"model": "a", costs.PRICE_COLUMN: 0.02}, {"model": "b", costs.PRICE_COLUMN: float("nan")},
              {"model": "c", costs.PRICE_COLUMN: 0.5}, {"model": "d", costs.PRICE_COLUMN: 0.0}]
    assert costs.price_overrides(edited, catalog_prices) == {"c": 0.5, "d": 0.0}

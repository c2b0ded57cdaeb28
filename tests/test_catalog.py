"""Model cards: coverage, a source for every value, aliases, prices and published scores."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from embedlab import catalog  # noqa: E402
from embedlab.embedders import Embedder, get_embedder, list_models  # noqa: E402

CATALOG_JSON = Path(catalog.__file__).with_name("catalog.json")
REFERENCE = Path("/work/shared/design/REFERENCE_SCORES.md")
BUNDLED = ["minilm", "e5-small", "e5-small-sparse", "splade-tiny", "bm25", "glove-50d", "model2vec",
           "minilm-l3-onnx"]
REMOTE = ["openai:text-embedding-3-small", "openai:text-embedding-3-large", "openai:text-embedding-ada-002",
          "st:BAAI/bge-m3", "st:BAAI/bge-small-en-v1.5", "st:BAAI/bge-base-en-v1.5", "st:intfloat/e5-base-v2",
          "st:intfloat/multilingual-e5-base", "st:intfloat/multilingual-e5-large",
          "st:Qwen/Qwen3-Embedding-0.6B", "st:nvidia/NV-Embed-v2", "st:nomic-ai/nomic-embed-text-v1.5",
          "st:nlpaueb/legal-bert-base-uncased", "st:dmis-lab/biobert-v1.1",
          "st:sentence-transformers/all-mpnet-base-v2", "st:Snowflake/snowflake-arctic-embed-m-v1.5"]


def _raw() -> dict[str, dict]:
    return {m["id"]: m for m in json.loads(CATALOG_JSON.read_text())["models"]}


def _is_source(text: str | None) -> bool:
    return bool(text) and (text.startswith("https://") or text.startswith(catalog.MEASURED))


def test_catalog_covers_bundled_and_remote_models():
    ids = {c.id for c in catalog.all_cards()}
    assert set(BUNDLED + REMOTE) <= ids
    assert {spec.id for spec in list_models()} <= ids  # every registry model has a card


def test_every_value_has_a_source():
    for card in catalog.all_cards():
        for name in catalog.FACTORS:
            value = getattr(card, name)
            if value is None or value == {}:
                continue
            for part in card.sources.get(name, "").split(catalog.SEP):
                assert _is_source(part), (card.id, name, part)


def test_every_published_score_names_its_source():
    for entry in _raw().values():
        for dataset, results in entry["published"].items():
            assert all(_is_source(r["source"]) for r in results), (entry["id"], dataset)
        assert all(_is_source(x["source"]) for x in entry["extra_scores"].values()), entry["id"]


def test_missing_values_are_explained_not_invented():
    for card in catalog.all_cards():
        for name in ("training_data", "licence", "vocab_size", "context_window"):
            if getattr(card, name) is None and name not in card.not_applicable:
                assert card.notes, f"{card.id}: {name} is unknown but the notes do not say why"


@pytest.mark.parametrize("alias, expected", [
    ("minilm", "minilm"), ("st:sentence-transformers/all-MiniLM-L6-v2", "minilm"),
    ("openai:text-embedding-3-small", "openai:text-embedding-3-small"), ("bm25", "bm25"), ("bm25s", "bm25"),
    ("e5-small", "e5-small"), ("st:intfloat/multilingual-e5-small", "e5-small"),
    ("e5-small-sparse", "e5-small-sparse"), ("splade-tiny", "splade-tiny"), ("glove-50d", "glove-50d"),
    ("glove", "glove-50d"), ("model2vec", "model2vec"), ("minilm-l3-onnx", "minilm-l3-onnx"),
    ("BAAI/bge-m3", "st:BAAI/bge-m3"), ("text-embedding-ada-002", "openai:text-embedding-ada-002"),
])
def test_get_card_accepts_ids_and_aliases(alias, expected):
    assert catalog.get_card(alias).id == expected


def test_unknown_model_has_no_card():
    assert catalog.get_card("st:acme/never-heard-of-it") is None
    assert catalog.get_card("minilmx") is None


def test_prices_match_the_json():
    raw = _raw()
    for card in catalog.all_cards():
        assert card.price_per_1m_tokens == raw[card.id]["price_per_1m_tokens"]
        assert card.price_source
    assert catalog.get_card("openai:text-embedding-3-small").context_window == 8191
    assert catalog.get_card("openai:text-embedding-3-large").dimensions == 3072
    assert all(catalog.get_card(i).price_per_1m_tokens == 0 for i in BUNDLED)


def test_published_scores():
    minilm = catalog.published_scores("minilm")
    assert minilm["ndcg@10"] == 0.6451 and minilm["recall@100"] == 0.925
    assert "all-MiniLM-L6-v2" in minilm["source"]
    bm25 = catalog.published_scores("bm25")
    assert bm25["ndcg@10"] == 0.6874  # the bm25s baseline comes first: it is what EmbedLab runs
    assert {o["ndcg@10"] for o in bm25["others"]} == {0.665, 0.6789}
    assert catalog.published_scores("minilm", "STSBenchmark")["spearman"] == 0.8203
    assert catalog.published_scores("glove-50d") == {} and catalog.published_scores("nope") == {}
    assert catalog.get_card("minilm").mteb["SciFact ndcg@10 (measured here)"] == 0.6451


@pytest.mark.skipif(not REFERENCE.exists(), reason="shared design notes not present")
def test_published_numbers_are_the_reference_ones():
    text = REFERENCE.read_text()
    for entry in _raw().values():
        for results in entry["published"].values():
            for result in results:
                for key, value in result.items():
                    if isinstance(value, float):
                        assert re.search(rf"{re.escape(str(value))}\d*\b", text), (entry["id"], key, value)


def test_card_rows_show_unknown_and_not_applicable():
    rows = {r["id"]: r for r in catalog.card_rows(catalog.all_cards())}
    assert rows["bm25"]["context_window"] == "n/a"
    assert rows["model2vec"]["licence"] == "unknown"
    assert rows["openai:text-embedding-3-small"]["price_per_1m"] == "$0.02"
    assert rows["minilm"]["price_per_1m"].startswith("0 (self-hosted")
    assert rows["minilm"]["scifact_ndcg10"] == "0.6451"
    assert all(isinstance(v, str) for r in rows.values() for v in r.values())


class _Words(Embedder):
    """A real (tiny) embedder for a model the catalog has never heard of."""

    dim, max_tokens = 8, 64

    def _embed_batch(self, texts, kind):
        return np.ones((len(texts), self.dim), dtype=np.float32)


def test_card_for_unknown_embedder_marks_unknowns():
    emb = _Words()
    emb.id = "st:acme/unknown-model"
    card = catalog.card_for_embedder(emb)
    assert (card.context_window, card.dimensions, card.hf_id) == (64, 8, "acme/unknown-model")
    assert card.sources["dimensions"].startswith(catalog.MEASURED)
    row = catalog.card_rows([card])[0]
    assert row["training_data"] == "unknown" and row["licence"] == "unknown"


def test_card_for_bm25_reads_the_corpus_vocabulary():
    emb = get_embedder("bm25")
    emb.fit(["cats sit on mats", "dogs chase cats", "birds fly south"])
    card = catalog.card_for_embedder(emb)
    assert card.dimensions == emb.vocab_size > 0
    assert card.context_window is None and "context_window" in card.not_applicable
    assert card.price_per_1m_tokens == 0


def test_card_for_glove_reads_live_facts():
    card = catalog.card_for_embedder(get_embedder("glove-50d"))
    assert (card.dimensions, card.vocab_size) == (50, 400000)
    assert card.sources["vocab_size"].startswith(catalog.MEASURED)
    assert catalog.card_rows([card])[0]["context_window"] == "n/a"


def test_card_for_bundled_minilm():
    card = catalog.card_for_embedder(get_embedder("minilm"))
    assert (card.context_window, card.dimensions, card.vocab_size) == (256, 384, 30522)
    assert card.tokenizer_unit == "WordPiece (uncased BERT)"  # the catalog's description is kept
    assert card.sources["context_window"].startswith(catalog.MEASURED)

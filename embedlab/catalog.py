"""Model cards: the eight factors (context window, tokenizer unit, dimensions, vocabulary,
training data, price per 1M tokens, MTEB scores, domain) plus licence, each with its source.

The data lives in ``catalog.json`` next to this file; prices exist nowhere else. A value the
catalog could not confirm is ``None`` and shows as "unknown" — never a guess.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

FACTORS = ("context_window", "tokenizer_unit", "dimensions", "vocab_size", "training_data",
           "licence", "price_per_1m_tokens", "mteb", "domain")
MEASURED = "measured here"
# Embedders report a huge max_tokens when they have no window at all (BM25, averaged vectors).
NO_WINDOW = 1_000_000
SEP = " | "  # between several sources of one field (the scores come from several places)


@dataclass(frozen=True)
class ModelCard:
    id: str
    name: str
    provider: str
    context_window: int | None = None
    tokenizer_unit: str | None = None
    dimensions: int | None = None
    vocab_size: int | None = None
    training_data: str | None = None
    licence: str | None = None
    price_per_1m_tokens: float | None = None
    price_source: str | None = None
    mteb: dict[str, float] = field(default_factory=dict)
    mteb_source: str | None = None
    domain: str | None = None
    sources: dict[str, str] = field(default_factory=dict)
    hf_id: str | None = None
    notes: str = ""
    aliases: tuple[str, ...] = ()
    not_applicable: tuple[str, ...] = ()  # factors that do not exist for this model (shown "n/a")
    bundled: bool = False
    languages: tuple[str, ...] | None = None  # ISO 639-1 codes it was trained for; ("*",) any; None unknown


@lru_cache(maxsize=1)
def _entries() -> dict[str, dict]:
    doc = json.loads(Path(__file__).with_name("catalog.json").read_text(encoding="utf-8"))
    return {m["id"]: m for m in doc["models"]}


@lru_cache(maxsize=1)
def _lookup() -> dict[str, str]:
    """Every spelling of a model (id, aliases, HF id with and without ``st:``) → catalog id."""
    table: dict[str, str] = {}
    for cid, m in _entries().items():
        names = [cid, *m.get("aliases", [])]
        if m.get("hf_id"):
            names += [m["hf_id"], "st:" + m["hf_id"]]
        for name in names:
            table.setdefault(name.lower(), cid)
    return table


def _scores(entry: dict) -> tuple[dict[str, float], list[str]]:
    """Flatten published, measured and extra scores into {"SciFact ndcg@10": 0.6451, ...}."""
    scores: dict[str, float] = {}
    sources: list[str] = []
    for dataset, results in entry.get("published", {}).items():
        best = results[0]  # the first entry is the figure closest to what EmbedLab runs
        for metric, value in best.items():
            if isinstance(value, int | float):
                scores[f"{dataset} {metric}"] = value
        sources.append(best["source"])
    for dataset, result in entry.get("measured", {}).items():
        scores[f"{dataset} ndcg@10 ({MEASURED})"] = result["ndcg@10"]
        sources.append(MEASURED)
    for label, item in entry.get("extra_scores", {}).items():
        scores[label] = item["value"]
        sources.append(item["source"])
    return scores, list(dict.fromkeys(sources))


def _card(entry: dict) -> ModelCard:
    mteb, mteb_sources = _scores(entry)
    sources = dict(entry.get("sources", {}))
    if mteb_sources:
        sources["mteb"] = SEP.join(mteb_sources)
    plain = {k: entry.get(k) for k in ("context_window", "tokenizer_unit", "dimensions", "vocab_size",
                                       "training_data", "licence", "price_per_1m_tokens",
                                       "price_source", "domain", "hf_id")}
    return ModelCard(id=entry["id"], name=entry["name"], provider=entry["provider"], mteb=mteb,
                     mteb_source=sources.get("mteb"), sources=sources, notes=entry.get("notes", ""),
                     aliases=tuple(entry.get("aliases", [])),
                     not_applicable=tuple(entry.get("not_applicable", [])),
                     languages=tuple(entry["languages"]) if entry.get("languages") else None,
                     bundled=bool(entry.get("bundled")), **plain)


def _catalog_id(model_id: str) -> str | None:
    key = model_id.strip().lower()
    if key.startswith("bm25:"):  # bm25 with an explicit analyzer ("bm25:ko") is still bm25
        key = "bm25"
    if key in _lookup():
        return _lookup()[key]
    try:  # the registry knows aliases the catalog may not list (e.g. "glove", "static")
        from .embedders.registry import UnknownEmbedderError, canonical_id

        return _lookup().get(canonical_id(model_id).lower())
    except (ImportError, UnknownEmbedderError):
        return None


def get_card(model_id: str) -> ModelCard | None:
    """The card for a registry id or alias ("minilm", "openai:text-embedding-3-small", ...)."""
    cid = _catalog_id(model_id)
    if not cid:
        return None
    card = _card(_entries()[cid])
    analyzer = model_id.strip().lower().partition("bm25:")[2] if model_id.lower().startswith("bm25:") else ""
    if analyzer:  # an explicit analyzer covers its own language only
        card = replace(card, id=model_id, languages=("*",) if analyzer == "ngram" else (analyzer,),
                       tokenizer_unit=f"{analyzer} analyzer (chosen explicitly)")
    return card


def model_languages(model_id: str) -> tuple[str, ...] | None:
    """Languages a model was trained for (ISO 639-1; "*" any); None when the catalog does not say."""
    card = get_card(model_id)
    return card.languages if card else None


def _show_languages(card: ModelCard) -> str:
    if card.languages is None:
        return "unknown"
    if "*" in card.languages:
        return "any (multilingual)"
    langs = card.languages
    return ", ".join(langs) if len(langs) <= 8 else f"{len(langs)} languages ({', '.join(langs[:6])}, …)"


def all_cards() -> list[ModelCard]:
    return [_card(e) for e in _entries().values()]


def published_scores(model_id: str, dataset: str = "SciFact") -> dict:
    """Published figures for one dataset: {"ndcg@10", "recall@100", "source", "others": [...]}.

    The first published result is the one closest to EmbedLab's setup (for BM25: the bm25s
    baseline); other systems' figures (BEIR paper, Pyserini) come under "others"."""
    cid = _catalog_id(model_id)
    results = _entries()[cid].get("published", {}).get(dataset, []) if cid else []
    if not results:
        return {}
    return {**results[0], "others": [dict(r) for r in results[1:]]}


def _unknown_card(model_id: str) -> ModelCard:
    """A blank card for a model the catalog does not know: only live facts will fill it."""
    kind, _, rest = model_id.partition(":")
    if kind == "st":
        return ModelCard(id=model_id, name=rest, provider="Hugging Face model via sentence-transformers",
                         hf_id=None if rest.startswith(("/", ".", "~")) else rest,
                         price_per_1m_tokens=0.0, price_source="self-hosted compute (runs locally)",
                         sources={"price_per_1m_tokens": "measured here (runs locally: no per-token fee)"},
                         notes="Not in EmbedLab's catalog: only facts read from the loaded model are shown.")
    provider = "OpenAI-compatible endpoint" if kind == "openai" else "unknown"
    return ModelCard(id=model_id, name=rest or model_id, provider=provider,
                     price_source="unknown: not in the catalog (set a price override on the Costs page)",
                     notes="Not in EmbedLab's catalog: only facts read from the loaded model are shown.")


def _safe(obj, name: str):
    try:  # a property may need a corpus (BM25 before fitting) or a package: treat as unknown
        return getattr(obj, name)
    except Exception:  # noqa: BLE001 - any failure just means "not known"
        return None


def _live_facts(embedder) -> dict[str, tuple[object, str]]:
    """What the loaded embedder says about itself, with where each fact was read."""
    live = f"{MEASURED} (read from the loaded embedder)"
    vocab, max_tokens = _safe(embedder, "vocab_size"), _safe(embedder, "max_tokens")
    facts = {"tokenizer_unit": (_safe(embedder, "tokenizer_name"), f"{MEASURED} (read from tokenizer)")}
    if max_tokens is not None and max_tokens < NO_WINDOW:
        facts["context_window"] = (int(max_tokens), live)
    if getattr(embedder, "sparse", False):
        facts["dimensions"] = (vocab, live)  # a sparse vector has one slot per vocabulary entry
    else:
        facts["dimensions"] = (_safe(embedder, "dim"), live)
        facts["vocab_size"] = (vocab, f"{MEASURED} (read from tokenizer)")
    return {k: v for k, v in facts.items() if v[0] is not None}


def card_for_embedder(embedder) -> ModelCard:
    """The catalog card overlaid with the loaded embedder's own facts.

    Live facts win where they exist (they are what this app really runs); when they differ
    from the published value the note says so. The catalog's descriptive tokenizer name is
    kept when it has one."""
    card = get_card(embedder.id) or _unknown_card(embedder.id)
    changes, sources, notes = {}, dict(card.sources), [card.notes] if card.notes else []
    for name, (value, source) in _live_facts(embedder).items():
        before = getattr(card, name)
        if name == "tokenizer_unit" and before:
            continue
        if before is not None and before != value:
            notes.append(f"{name.replace('_', ' ')}: published {before:,}, this app runs {value:,}."
                         if isinstance(value, int) else f"{name}: published {before}, loaded {value}.")
        changes[name], sources[name] = value, source
    return replace(card, **changes, sources=sources, notes=" ".join(notes))


def _show(card: ModelCard, name: str) -> str:
    if name in card.not_applicable and getattr(card, name) is None:
        return "n/a"
    value = getattr(card, name)
    if value is None:
        return "unknown"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _price(card: ModelCard) -> str:
    if card.price_per_1m_tokens is None:
        return "unknown"
    if card.price_per_1m_tokens == 0:
        return "0 (self-hosted compute)"
    return f"${card.price_per_1m_tokens:g}"


def _headline(card: ModelCard) -> tuple[str, str]:
    """SciFact nDCG@10 (published, else measured here) and the MTEB averages, as text."""
    sci = card.mteb.get("SciFact ndcg@10")
    measured = card.mteb.get(f"SciFact ndcg@10 ({MEASURED})")
    scifact = (f"{sci:.4f}" if sci is not None else
               f"{measured:.4f} ({MEASURED})" if measured is not None else "not published")
    averages = [f"{k}: {v:g}" for k, v in card.mteb.items() if k.startswith("MTEB")]
    return scifact, "; ".join(averages) or "not published"


def card_rows(cards) -> list[dict]:
    """One flat row of display strings per card, for the UI table and the HTML report."""
    rows = []
    for card in cards:
        scifact, mteb = _headline(card)
        rows.append({"id": card.id, "model": card.name, "provider": card.provider,
                     "context_window": _show(card, "context_window"),
                     "tokenizer": _show(card, "tokenizer_unit"), "dimensions": _show(card, "dimensions"),
                     "vocab_size": _show(card, "vocab_size"), "training_data": _show(card, "training_data"),
                     "price_per_1m": _price(card), "scifact_ndcg10": scifact, "mteb": mteb,
                     "domain": _show(card, "domain"), "languages": _show_languages(card),
                     "licence": _show(card, "licence"),
                     "sources": "\n".join(f"{k}: {v}" for k, v in card.sources.items()),
                     "notes": card.notes})
    return rows

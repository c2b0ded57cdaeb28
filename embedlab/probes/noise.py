"""Noisy variants of a text (typos, casing, punctuation, word order, synonyms), and how far a
model's vectors and search results move under them. Seeded: the same seed gives the same noise.

Both sides are encoded with ``encode_queries``: a perturbed text stands for a user's noisy query.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Callable, Sequence

import numpy as np

from ..embedders.base import Embedder
from .similarity import cosine_blocks, paired_cosine, top_k

# Common English words, each pair usable both ways. Small on purpose: no network, no WordNet.
_PAIRS = """big large|small little|fast quick|begin start|end finish|buy purchase|help assist|show display|
make create|get obtain|use utilize|need require|try attempt|answer reply|ask inquire|choose select|
build construct|find locate|keep retain|give provide|often frequently|maybe perhaps|many numerous|
enough sufficient|hard difficult|easy simple|smart clever|happy glad|sad unhappy|rich wealthy|old aged|
new recent|right correct|wrong incorrect|near close|far distant|job occupation|car automobile|house home|
kid child|shop store|street road|picture photo|movie film|talk speak|look glance|think believe|want desire|
like enjoy|fix repair|rise increase|fall decrease|quickly rapidly|about approximately|shut seal|
important crucial|idea notion|error mistake|method approach|result outcome|problem issue|
show reveal|study examine|cause trigger|effect impact|large huge|reduce lower|role function"""
SYNONYMS: dict[str, str] = {}
for _pair in _PAIRS.replace("\n", "").split("|"):
    _a, _b = _pair.split()
    SYNONYMS.setdefault(_a, _b)
    SYNONYMS.setdefault(_b, _a)

_WORD = re.compile(r"[A-Za-z]+")


def _edit_words(text: str, rng: random.Random, pick: Callable[[str], bool],
                change: Callable[[str, random.Random], str], share: float) -> str:
    """Change about ``share`` of the words that ``pick`` accepts (at least one)."""
    spans = [m.span() for m in _WORD.finditer(text) if pick(m.group())]
    if not spans:
        return text
    chosen = sorted(rng.sample(spans, max(1, round(len(spans) * share))), reverse=True)
    for a, b in chosen:  # right to left keeps earlier spans valid
        text = text[:a] + change(text[a:b], rng) + text[b:]
    return text


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    op = rng.choice(("swap", "drop", "double"))
    if op == "swap" and word[i] != word[i + 1]:  # swapping "ee" would change nothing
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + word[i + 1 :] if op == "drop" else word[:i] + word[i] + word[i:]


def _synonym(word: str, rng: random.Random) -> str:
    other = SYNONYMS[word.lower()]
    return other.capitalize() if word[0].isupper() else other


def _casing(text: str, rng: random.Random) -> str:
    options = [f(text) for f in (str.lower, str.upper, str.title) if f(text) != text]
    return rng.choice(options) if options else text


def _punctuation(text: str, rng: random.Random) -> str:
    # Removing all punctuation is what noisy input (chat, OCR, search boxes) looks like.
    stripped = text.translate(str.maketrans("", "", string.punctuation))
    return stripped if stripped != text else text + "!"


def _word_order(text: str, rng: random.Random) -> str:
    words = text.split()  # whitespace is collapsed to single spaces
    if len(words) < 2:
        return text
    for _ in range(max(1, len(words) // 10)):
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


_PERTURB: dict[str, Callable[[str, random.Random], str]] = {
    "typo": lambda t, r: _edit_words(t, r, lambda w: len(w) >= 4, _typo, 0.1),
    "casing": _casing,
    "punctuation": _punctuation,
    "word_order": _word_order,
    "synonym": lambda t, r: _edit_words(t, r, lambda w: w.lower() in SYNONYMS, _synonym, 0.2),
}
KINDS = tuple(_PERTURB)


def perturb(text: str, kind: str, rng: random.Random) -> str:
    """One noisy variant of ``text``; the same ``rng`` state gives the same result."""
    if kind not in _PERTURB:
        raise ValueError(f"unknown perturbation {kind!r} — known: {', '.join(KINDS)}")
    return _PERTURB[kind](text, rng)


def perturbation_robustness(embedder: Embedder, texts: Sequence[str], kinds: Sequence[str] = KINDS,
                            seed: int = 0, k: int = 10) -> list[dict]:
    """Per kind: how close a perturbed text stays to its original, and whether it still finds it.

    ``mean_cosine``: cosine between perturbed and original, both encoded as queries.
    ``topk_survival``: the perturbed text as a query against the original texts as documents; the
    fraction whose own original is in the top ``k`` (ties count in its favour). We chose this over
    top-k set overlap because it is what a user feels: does a noisy query still find its passage.
    The row ``kind="none"`` is the unperturbed baseline (below 1.0 when query and document encodings
    differ). ``changed`` is the fraction of texts the perturbation actually altered. Sparse models
    like BM25 must be ``fit`` on a corpus first.
    """
    texts = list(texts)
    originals_q, docs = embedder.encode_queries(texts), embedder.encode_documents(texts)
    rows = [_robustness_row("none", originals_q, originals_q, docs, k, 0.0)]
    for kind in kinds:
        noisy = noisy_variants(texts, kind, seed)
        changed = sum(a != b for a, b in zip(noisy, texts, strict=True)) / max(len(texts), 1)
        rows.append(_robustness_row(kind, embedder.encode_queries(noisy), originals_q, docs, k, changed))
    return rows


def _robustness_row(kind: str, noisy, originals, docs, k: int, changed: float) -> dict:
    survived = 0
    for start, block in cosine_blocks(noisy, docs):
        own = block[np.arange(len(block)), np.arange(start, start + len(block))]
        survived += int(((block > own[:, None]).sum(axis=1) < k).sum())
    n = noisy.shape[0]
    return {"kind": kind, "mean_cosine": float(paired_cosine(noisy, originals).mean()) if n else 0.0,
            "topk_survival": survived / n if n else 0.0, "changed": changed, "n": n}


# -- noise against a corpus: does a noisy query still get the same results ----------------------

Search = Callable[[object, int], list[list[int]]]  # encoded queries, k → ranked corpus ids per query


def noisy_variants(texts: Sequence[str], kind: str, seed: int = 0) -> list[str]:
    # A generator per text: one text's noise does not depend on the other texts in the list.
    return [perturb(t, kind, random.Random(f"{seed}/{kind}/{i}")) for i, t in enumerate(texts)]


def corpus_search(embedder: Embedder, corpus: Sequence[str]) -> Search:
    """Exact search of ``corpus`` (encoded as documents once): the stand-in for a stored collection
    when there is none (the CLI). Fit a BM25 embedder on ``corpus`` before calling this."""
    docs = embedder.encode_documents(list(corpus))
    return lambda queries, k: top_k(queries, docs, k)


def perturbation_survival(embedder: Embedder, texts: Sequence[str], search: Search,
                          kinds: Sequence[str] = KINDS, seed: int = 0, k: int = 10) -> list[dict]:
    """Per kind of noise: how far it moves each text's vector, and its search results in a corpus.

    ``mean_cosine``: cosine between the noisy and the original text, both encoded as queries.
    ``topk_survival``: of the original text's top ``k`` results (from ``search``), the share its noisy
    version still retrieves in its own top ``k``, order ignored — what a user with a typo feels.
    ``top1_kept``: the share whose first result is unchanged. ``changed``: the share of texts the
    noise altered at all (a text with nothing to change counts as surviving, so read both).
    Texts whose original retrieves nothing (a stop-word query under BM25) are left out of survival.
    """
    texts = list(texts)
    original = embedder.encode_queries(texts)
    before = search(original, k)
    rows = []
    for kind in kinds:
        noisy = noisy_variants(texts, kind, seed)
        vecs = embedder.encode_queries(noisy)
        after = search(vecs, k)
        kept = [(len(set(a) & set(b)) / len(a), a[0] == (b[0] if b else None)) for a, b in
                zip(before, after, strict=True) if a]
        rows.append({"kind": kind, "mean_cosine": float(paired_cosine(vecs, original).mean()) if texts else 0.0,
                     "topk_survival": float(np.mean([s for s, _ in kept])) if kept else 0.0,
                     "top1_kept": float(np.mean([t for _, t in kept])) if kept else 0.0,
                     "changed": sum(a != b for a, b in zip(noisy, texts, strict=True)) / max(len(texts), 1),
                     "n": len(texts)})
    return rows

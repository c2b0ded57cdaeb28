"""Text → index terms, one analyzer per language, for BM25.

- ``ko``: Kiwi morphemes (kiwipiepy): 학교에 → 학교; particles, endings and symbols dropped.
- ``zh``: jieba words, Chinese stop words dropped.
- ``ja``: character bigrams over Japanese script runs (no dictionary), words for Latin runs.
- Snowball languages (``en``, ``de``, ``fr``, ...): bm25s' word splitter, PyStemmer's stemmer and
  bm25s' stop words where it has them. ``en`` is exactly the tokenizer BM25 always used.
- ``ngram``: character trigrams inside words, for every other language.
All run offline: their dictionaries and models ship in their wheels.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from itertools import chain

import numpy as np

SNOWBALL = {"ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "cs": "czech", "da": "danish",
            "nl": "dutch", "en": "english", "eo": "esperanto", "et": "estonian", "fi": "finnish", "fr": "french",
            "de": "german", "el": "greek", "hi": "hindi", "hu": "hungarian", "id": "indonesian", "ga": "irish",
            "it": "italian", "lt": "lithuanian", "ne": "nepali", "no": "norwegian", "fa": "persian",
            "pl": "polish", "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian",
            "st": "sesotho", "es": "spanish", "sv": "swedish", "ta": "tamil", "tr": "turkish", "yi": "yiddish"}
STOPWORDS = {"en", "de", "nl", "fr", "es", "pt", "it", "ru", "sv", "no", "tr", "da"}  # bm25s has these
OWN = ("ko", "zh", "ja", "ngram")
FALLBACK = "ngram"
# Kiwi tags kept as terms: nouns, numerals, verb/adjective stems, adverbs, roots, foreign words,
# Chinese characters and numbers. Particles (J*), endings (E*), affixes, pronouns and symbols go.
_KIWI_KEEP = {"NNG", "NNP", "NR", "VV", "VA", "MAG", "XR", "SL", "SH", "SN"}
_WORD = re.compile(r"(?u)\b\w\w+\b")
# An ASCII text's \w runs, by C string calls: every other ASCII character becomes a space (then split)
_ASCII_GAPS = str.maketrans({chr(i): " " for i in range(128) if not (chr(i).isalnum() or chr(i) == "_")})
_JA_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]+")
_ANY_WORD = re.compile(r"(?u)\w+")
# A "word" for n-grams: a run without spaces or punctuation (\w alone splits Thai, Hindi ... at vowel signs)
_RUN = re.compile(r"[^\s!-/:-@\[-`{-~\u2000-\u206f\u3000-\u303f\uff00-\uff0f]+")
_lock = threading.Lock()
_using_kiwi = threading.Lock()


def analyzer_for(language: str) -> str:
    """The analyzer a detected language gets: its own, its Snowball stemmer, or n-grams."""
    if language in OWN or language in SNOWBALL:
        return language
    return FALLBACK


def describe(code: str) -> str:
    """What an analyzer does, in a few words (shown on the model card)."""
    if code == "ko":
        return "ko: Kiwi morphemes (particles and endings dropped)"
    if code == "zh":
        return "zh: jieba words, stop words dropped"
    if code == "ja":
        return "ja: character bigrams"
    if code == "ngram":
        return "character trigrams (any language)"
    stops = f", {code} stop words" if code in STOPWORDS else ""
    return f"{code}: Snowball {SNOWBALL[code]} stemmer{stops}"


def known(code: str) -> bool:
    return code in OWN or code in SNOWBALL


def analyze(code: str, texts: list[str]) -> list[list[str]]:
    """Terms per text under analyzer ``code``."""
    if not texts:
        return []
    if code == "ko":
        return _korean(texts)
    if code == "zh":
        return _chinese(texts)
    if code == "ja":
        return [_bigrams(t) for t in texts]
    if code == "ngram":
        return [_trigrams(t) for t in texts]
    flat, lens, names = _snowball_ids(code, texts)
    terms = [names[i] for i in flat.tolist()]
    ends = np.cumsum(lens).tolist()
    return [terms[e - n : e] for e, n in zip(ends, lens.tolist(), strict=True)]


def analyze_ids(code: str, texts: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``analyze``'s terms as ids into a list of terms: (every text's ids one after another, each
    text's count of them, the terms), without a Python string per token for Snowball analyzers."""
    if code in OWN or not texts:
        terms = analyze(code, texts)
        names = list(dict.fromkeys(t for doc in terms for t in doc))
        get = {t: i for i, t in enumerate(names)}.__getitem__
        lens = np.fromiter(map(len, terms), dtype=np.int64, count=len(terms))
        return np.fromiter(map(get, chain.from_iterable(terms)), dtype=np.int64, count=int(lens.sum())), lens, names
    return _snowball_ids(code, texts)


_BLOCK = 4096


def _snowball_ids(code: str, texts: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """bm25s' ``Tokenizer`` (lower-cased ``\\w\\w+`` words, its stop words, PyStemmer's stems; a text
    left with no term gets the empty term ""), token for token, with each distinct word looked at
    once: a dict lookup per token in C instead of bm25s' Python loop (~3× faster on SciFact)."""
    stemmer, stops = _snowball(code)
    index: dict[str, int] = {}  # word -> its id, in order of first occurrence
    counts_parts, id_parts = [], []
    for s in range(0, len(texts), _BLOCK):  # a block of texts' words at a time: not one str per token at once
        words_of = [t.translate(_ASCII_GAPS).split() if t.isascii() else _WORD.findall(t)
                    for t in map(str.lower, texts[s : s + _BLOCK])]
        for w in dict.fromkeys(chain.from_iterable(words_of)):
            index.setdefault(w, len(index))
        counts_parts.append(np.fromiter(map(len, words_of), dtype=np.int64, count=len(words_of)))
        id_parts.append(np.fromiter(map(index.__getitem__, chain.from_iterable(words_of)), dtype=np.int32,
                                    count=int(counts_parts[-1].sum())))
    counts = np.concatenate(counts_parts) if counts_parts else np.zeros(0, np.int64)
    word_id = np.concatenate(id_parts) if id_parts else np.zeros(0, np.int32)
    distinct = list(index)
    kept = [len(w) > 1 and w not in stops for w in distinct]  # one-letter runs: ASCII texts' split keeps them
    stems = stemmer.stemWords([w for w, k in zip(distinct, kept, strict=True) if k])
    names = list(dict.fromkeys(["", *stems]))  # "" first, as bm25s numbers it
    term_of_word = np.full(len(distinct), -1, dtype=np.int64)
    term_of_word[np.flatnonzero(kept)] = np.fromiter(map({t: i for i, t in enumerate(names)}.__getitem__, stems),
                                                     dtype=np.int64, count=len(stems))
    terms = term_of_word[word_id]
    keep = terms >= 0
    lens = np.bincount(np.repeat(np.arange(len(texts)), counts)[keep], minlength=len(texts)).astype(np.int64)
    flat = terms[keep]
    empty = np.flatnonzero(lens == 0)
    if len(empty):  # bm25s gives a text without terms the empty term
        flat = np.insert(flat, np.cumsum(lens)[empty], 0)
        lens[empty] = 1
    return flat, lens, names


def _snowball(code: str):
    """A stemmer (its own: PyStemmer's are not thread-safe) and the stop words of a Snowball analyzer."""
    import Stemmer

    return Stemmer.Stemmer(SNOWBALL[code]), _stopwords(code)


@lru_cache(maxsize=64)
def _stopwords(code: str) -> frozenset[str]:
    from bm25s.tokenization import _infer_stopwords

    return frozenset(_infer_stopwords(code) if code in STOPWORDS else ())


_kiwi = None


def kiwi():
    """One Kiwi per process (about 4 s and 300 MB to load)."""
    global _kiwi
    with _lock:
        if _kiwi is None:
            from kiwipiepy import Kiwi

            _kiwi = Kiwi()
        return _kiwi


def _korean(texts: list[str]) -> list[list[str]]:
    analyzer = kiwi()
    with _using_kiwi:  # one analysis at a time: BM25 fits run in background threads
        return [[t.form.lower() for t in tokens if t.tag in _KIWI_KEEP] for tokens in analyzer.tokenize(texts)]


@lru_cache(maxsize=1)
def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    from bm25s.stopwords import STOPWORDS_CHINESE

    return jieba, frozenset(STOPWORDS_CHINESE)


def _chinese(texts: list[str]) -> list[list[str]]:
    jieba, stops = _jieba()
    out = []
    for text in texts:
        words = (w.strip().lower() for w in jieba.lcut(text))
        out.append([w for w in words if w and w not in stops and _ANY_WORD.search(w)])
    return out


def _bigrams(text: str) -> list[str]:
    """Japanese script runs as overlapping character pairs (a one-character run stays whole);
    the rest of the text as lower-cased words."""
    terms: list[str] = []
    for run in _JA_RUN.findall(text):
        terms += [run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)]
    terms += [w.lower() for w in _WORD.findall(_JA_RUN.sub(" ", text))]
    return terms


def _trigrams(text: str) -> list[str]:
    """Character trigrams of each lower-cased word; a word of three characters or fewer stays whole."""
    terms: list[str] = []
    for word in _RUN.findall(text.lower()):
        terms += [word] if len(word) <= 3 else [word[i:i + 3] for i in range(len(word) - 2)]
    return terms


# -- for generated queries (evalgen): sentences and keywords in the text's own language ----------
_CJK_SENTENCE_END = re.compile(r"(?<=[。！？!?.])\s*")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+")


def sentences(text: str, code: str) -> list[str]:
    """Sentences of ``text``: Kiwi's splitter for Korean, 。！？ for Chinese and Japanese
    (written without spaces), . ! ? followed by a space elsewhere."""
    if code == "ko":
        analyzer = kiwi()
        with _using_kiwi:
            found = [s.text for s in analyzer.split_into_sents(text)]
    else:
        found = (_CJK_SENTENCE_END if code in ("zh", "ja") else _SENTENCE_END).split(text)
    return [s.strip() for s in found if s.strip()]


def length(sentence: str, code: str) -> int:
    """Length in words; Chinese and Japanese count two characters as a word."""
    if code in ("zh", "ja"):
        return len(re.sub(r"\s+", "", sentence)) // 2
    return len(sentence.split())


def keywords(sentence: str, code: str) -> list[str]:
    """The content words of a sentence, in order, once each: nouns for Korean (Kiwi NNG/NNP),
    nouns and verbs for Chinese (jieba n*, v*: it tags many nouns as verbs), Japanese script runs
    of two or more characters, and words of three or more letters that are not stop words elsewhere."""
    if code == "ko":
        analyzer = kiwi()
        with _using_kiwi:
            words = [t.form for t in analyzer.tokenize(sentence) if t.tag in ("NNG", "NNP")]
    elif code == "zh":
        _jieba()
        import jieba.posseg

        words = [w.word for w in jieba.posseg.lcut(sentence) if w.flag[:1] in ("n", "v") and len(w.word) > 1]
    elif code == "ja":
        words = [run for run in _JA_RUN.findall(sentence) if len(run) >= 2]
    else:
        import bm25s

        stops = set(bm25s.tokenization.Tokenizer(stopwords=code if code in STOPWORDS else "en").stopwords)
        words = [w for w in _WORD.findall(sentence) if len(w) >= 3 and w.lower() not in stops]
    return list(dict.fromkeys(words))

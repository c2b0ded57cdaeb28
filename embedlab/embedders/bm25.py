"""BM25 as sparse vectors, so it is stored and searched in Milvus like every other model.

A document's vector holds its BM25 weight per term (Lucene variant, as bm25s computes it);
a query's vector holds its term counts. Their inner product is exactly the BM25 score, so
Milvus' sparse IP search ranks as bm25s does. We analyze text ourselves rather than use Milvus'
built-in BM25 function because that function ignores the stemmer setting
(../shared/design/MILVUS_LITE.md), and the English stemmer is worth 0.025 nDCG@10 on SciFact.
Each text is analyzed in its own language (``analyzers``): an English corpus gets exactly bm25s'
tokenizer with the English stemmer and stop words; Korean gets morphemes, so 학교 matches 학교에.
"""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np

from .. import language
from . import analyzers
from .base import Embedder, EmbedderError


class BM25Embedder(Embedder):
    """``language="auto"`` (the ``bm25`` id) analyzes each text in its detected language;
    an analyzer code (``bm25:ko``, ``bm25:en``, ``bm25:ngram`` ...) analyzes every text with it."""

    sparse = True
    normalize = False
    needs_fit = True
    max_tokens = 1_000_000  # no window: the whole chunk counts
    block_size = 4096

    def __init__(self, k1: float = 1.5, b: float = 0.75, language: str = "auto"):
        try:
            import bm25s  # noqa: F401
        except ImportError as e:
            raise EmbedderError("pip install bm25s PyStemmer") from e
        if language != "auto" and not analyzers.known(language):
            raise EmbedderError(f"bm25:{language}: no analyzer for that language — use one of "
                                f"{', '.join(analyzers.OWN + tuple(sorted(analyzers.SNOWBALL)))} or plain bm25")
        self.k1, self.b, self.language = k1, b, language
        self.corpus_key: str | None = None
        self.vocab: dict[str, int] = {}
        self.shares: dict[str, float] = {}  # analyzer → share of the fitted texts (auto)
        self.main = "en" if language == "auto" else language

    def settings(self):
        out = {"id": self.id, "k1": self.k1, "b": self.b, "analyzer": self.analyzer, "corpus": self.corpus_key}
        return {**out, "detector": language.DETECTOR} if self.language == "auto" else out

    @property
    def analyzer(self) -> str:
        """The analyzer(s) the vectors are keyed by: "ko", or "auto: en 80 %, ko 20 %"."""
        if self.language != "auto":
            return self.language
        if not self.shares:
            return "auto"
        return "auto: " + ", ".join(f"{c} {s:.0%}".replace("%", " %") for c, s in self.shares.items())

    @property
    def analyzer_description(self) -> str:
        """What each analyzer does, for the model card."""
        if self.language != "auto":
            return analyzers.describe(self.language)
        if not self.shares:
            return "auto: the analyzer of each text's detected language"
        parts = [f"{analyzers.describe(c)} ({s:.0%})".replace("%", " %") for c, s in self.shares.items()]
        return "auto, per detected language — " + "; ".join(parts)

    @property
    def languages(self) -> list[str]:
        return list(self.shares) if self.language == "auto" else [self.language]

    def _analyzer_of(self, text: str, kind: str) -> str:
        if self.language != "auto":
            return self.language
        if kind == "query":  # a query is read as one of the corpus's languages
            return analyzers.analyzer_for(language.detect_within(text, self.languages or [self.main], self.main))
        code, p = language.ranked(text, k=1)[0]
        return analyzers.analyzer_for(code) if p >= language.UNSURE and code != language.UNDETERMINED else ""

    def _terms(self, texts, kind: str = "document", codes: list[str] | None = None) -> list[list[str]]:
        """Each text analyzed by its own analyzer; texts sharing one are analyzed together."""
        texts = list(texts)
        codes = codes or [self._analyzer_of(t, kind) or self.main for t in texts]
        out: list[list[str]] = [[] for _ in texts]
        for code in dict.fromkeys(codes):
            idx = [i for i, c in enumerate(codes) if c == code]
            for i, terms in zip(idx, analyzers.analyze(code, [texts[i] for i in idx]), strict=True):
                out[i] = terms
        return out

    def _fit_codes(self, texts: list[str]) -> list[str]:
        """Analyzer per corpus text; a text detected with little confidence takes the likeliest of
        the languages detected with confidence elsewhere in the corpus (else the main one)."""
        if self.language != "auto":
            return [self.language] * len(texts)
        codes = [self._analyzer_of(t, "document") for t in texts]
        sure = Counter(c for c in codes if c)
        self.main = sure.most_common(1)[0][0] if sure else "en"
        seen = [c for c in sure if c != analyzers.FALLBACK]  # languages, not the n-gram fallback
        codes = [c or analyzers.analyzer_for(language.detect_within(t, seen or [self.main], self.main))
                 for c, t in zip(codes, texts, strict=True)]
        self.shares = {c: n / len(codes) for c, n in Counter(codes).most_common()}
        return codes

    def fit(self, texts) -> None:
        """Corpus statistics: vocabulary, document frequencies, average length. The corpus's
        tokens are kept until its documents are embedded, so they are tokenized once."""
        texts = list(texts)
        codes = self._fit_codes(texts)
        parts = []  # per analyzer: its texts' positions, token ids (its own), lengths, its terms
        for code in dict.fromkeys(codes):
            idx = [i for i, c in enumerate(codes) if c == code]
            parts.append((idx, *analyzers.analyze_ids(code, [texts[i] for i in idx])))
        used = [np.flatnonzero(np.bincount(flat, minlength=len(names))) for _, flat, _, names in parts]
        self.vocab = {t: i for i, t in enumerate(sorted({p[3][u] for p, us in zip(parts, used, strict=True)
                                                           for u in us.tolist()}))}
        n = len(texts)
        lengths = np.zeros(n, dtype=np.int64)
        owners, terms = [], []  # per analyzer: each token's text, its vocabulary id
        for (idx, flat, lens, names), us in zip(parts, used, strict=True):
            remap = np.full(len(names), -1, dtype=np.int64)
            remap[us] = [self.vocab[names[u]] for u in us.tolist()]
            owners.append(np.repeat(np.asarray(idx, dtype=np.int64), lens))
            terms.append(remap[flat])
            lengths[idx] = lens
        counted = _term_counts(np.concatenate(owners or [np.zeros(0, np.int64)]),
                               np.concatenate(terms or [np.zeros(0, np.int64)]), lengths, max(len(self.vocab), 1))
        dfs = np.bincount(np.concatenate([c for c, _, _ in counted] or [np.zeros(0, np.int64)]),
                          minlength=len(self.vocab)).astype(np.float64)
        self.idf = np.log(1 + (n - dfs + 0.5) / (dfs + 0.5))  # Lucene idf, as bm25s
        self.avgdl = max(float(lengths.mean()) if n else 1.0, 1e-9)
        self.corpus_key = hashlib.sha256("\x1e".join(texts).encode()).hexdigest()[:16]
        self._fitted_tokens = dict(zip(texts, counted, strict=True))

    def _ids(self, doc: list[str]) -> np.ndarray:
        """Vocabulary indices of a token list; -1 for a term the corpus never had."""
        get = self.vocab.get
        return np.fromiter((get(t, -1) for t in doc), dtype=np.int64, count=len(doc))

    def _counted(self, texts, kind) -> list[tuple[np.ndarray, np.ndarray, int]]:
        """Per text: its terms' vocabulary ids, their counts, its length in tokens. A corpus text's
        were counted by the fit (once: later batches analyze it again)."""
        kept = getattr(self, "_fitted_tokens", {})
        got = [kept.pop(t, None) if kind == "document" else None for t in texts]
        todo = [i for i, g in enumerate(got) if g is None]
        if todo:
            ids = [self._ids(doc) for doc in self._terms([texts[i] for i in todo], kind)]
            lens = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
            for i, g in zip(todo, _term_counts(np.repeat(np.arange(len(ids)), lens), np.concatenate(ids), lens,
                                                max(len(self.vocab), 1)), strict=True):
                got[i] = g
        return got

    def _embed_batch(self, texts, kind):
        import scipy.sparse as sp

        if not self.vocab:
            raise EmbedderError("bm25 must be fitted on the corpus before it can embed")
        got = self._counted(texts, kind)
        r = np.repeat(np.arange(len(got)), [len(c) for c, _, _ in got])
        c = np.concatenate([c for c, _, _ in got] or [np.zeros(0, np.int64)])
        tf = np.concatenate([f for _, f, _ in got] or [np.zeros(0, np.int64)]).astype(np.float64)
        if kind == "query":
            vals = tf
        else:  # Lucene BM25 weight; bm25s drops the constant (k1 + 1)
            lens = np.array([n for _, _, n in got], dtype=np.float64)
            vals = self.idf[c] * tf / (tf + self.k1 * (1 - self.b + self.b * lens[r] / self.avgdl))
        return sp.csr_matrix((vals.astype(np.float32), c, np.r_[0, np.cumsum([len(x) for x, _, _ in got])]),
                             shape=(len(texts), len(self.vocab)))

    def count_tokens(self, texts):
        return [len(d) for d in self._terms(texts)]

    @property
    def tokenizer_name(self):
        return self.analyzer_description

    @property
    def vocab_size(self):
        return len(self.vocab) or None


def _term_counts(rows: np.ndarray, cols: np.ndarray, lens: np.ndarray, width: int):
    """Per row of ``lens``: its distinct columns (vocabulary ids ≥ 0, ascending), how often each occurs
    (``rows``/``cols``: one entry per token), and its length ``lens[row]``."""
    known = cols >= 0
    cells = np.sort(rows[known] * width + cols[known])
    starts = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1]]) if len(cells) else np.zeros(0, np.int64)
    tf = np.diff(np.r_[starts, len(cells)])
    cells = cells[starts]
    bounds = np.cumsum(np.bincount(cells // width, minlength=len(lens)))[:-1]
    return list(zip(np.split(cells % width, bounds), np.split(tf, bounds), lens.tolist(), strict=True))

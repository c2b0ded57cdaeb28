"""BM25 as sparse vectors, so it is stored and searched in Milvus like every other model.

A document's vector holds its BM25 weight per term (Lucene variant, as bm25s computes it);
a query's vector holds its term counts. Their inner product is exactly the BM25 score, so
Milvus' sparse IP search ranks as bm25s does. We use bm25s' tokenizer with PyStemmer rather
than Milvus' built-in BM25 function because that function ignores the stemmer setting
(../shared/design/MILVUS_LITE.md), and the English stemmer is worth 0.025 nDCG@10 on SciFact.
"""

from __future__ import annotations

import hashlib

import numpy as np

from .base import Embedder, EmbedderError


class BM25Embedder(Embedder):
    sparse = True
    normalize = False
    needs_fit = True
    max_tokens = 1_000_000  # no window: the whole chunk counts
    block_size = 4096

    def __init__(self, k1: float = 1.5, b: float = 0.75, stemmer: str | None = "english", stopwords: str = "en"):
        try:
            import bm25s  # noqa: F401
        except ImportError as e:
            raise EmbedderError("pip install bm25s PyStemmer") from e
        self.k1, self.b, self.stemmer_name, self.stopwords = k1, b, stemmer, stopwords
        self.corpus_key: str | None = None
        self.vocab: dict[str, int] = {}

    def settings(self):
        return {"id": self.id, "k1": self.k1, "b": self.b, "stemmer": self.stemmer_name,
                "stopwords": self.stopwords, "corpus": self.corpus_key}

    def _tokenizer(self):
        import bm25s

        stem = None
        if self.stemmer_name:
            import Stemmer

            stem = Stemmer.Stemmer(self.stemmer_name).stemWord
        return bm25s.tokenization.Tokenizer(stemmer=stem, stopwords=self.stopwords)

    def _terms(self, texts) -> list[list[str]]:
        return self._tokenizer().tokenize(list(texts), update_vocab=True, return_as="string",
                                          show_progress=False)

    def fit(self, texts) -> None:
        """Corpus statistics: vocabulary, document frequencies, average length. The corpus's
        tokens are kept until its documents are embedded, so they are tokenized once."""
        texts = list(texts)
        terms = self._terms(texts)
        self.vocab = {t: i for i, t in enumerate(sorted({t for doc in terms for t in doc}))}
        ids = [self._ids(doc) for doc in terms]
        n = len(terms)
        flat = np.concatenate([np.unique(d) for d in ids]) if ids else np.zeros(0, np.int64)
        dfs = np.bincount(flat, minlength=len(self.vocab)).astype(np.float64)
        self.idf = np.log(1 + (n - dfs + 0.5) / (dfs + 0.5))  # Lucene idf, as bm25s
        self.avgdl = max(np.mean([len(d) for d in terms]) if terms else 1.0, 1e-9)
        self.corpus_key = hashlib.sha256("\x1e".join(texts).encode()).hexdigest()[:16]
        self._fitted_tokens = dict(zip(texts, ids, strict=True))

    def _ids(self, doc: list[str]) -> np.ndarray:
        """Vocabulary indices of a token list; -1 for a term the corpus never had."""
        get = self.vocab.get
        return np.fromiter((get(t, -1) for t in doc), dtype=np.int64, count=len(doc))

    def _embed_batch(self, texts, kind):
        import scipy.sparse as sp

        if not self.vocab:
            raise EmbedderError("bm25 must be fitted on the corpus before it can embed")
        kept = getattr(self, "_fitted_tokens", {})
        ids: list[np.ndarray | None] = [kept.pop(t, None) if kind == "document" else None for t in texts]
        todo = [i for i, d in enumerate(ids) if d is None]
        for i, doc in zip(todo, self._terms([texts[i] for i in todo]) if todo else [], strict=True):
            ids[i] = self._ids(doc)
        lens = np.array([len(d) for d in ids], dtype=np.float64)
        rows = np.repeat(np.arange(len(ids)), lens.astype(np.int64))
        cols = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        known = cols >= 0
        width = len(self.vocab)
        cells, tf = np.unique(rows[known] * width + cols[known], return_counts=True)
        r, c = cells // width, cells % width
        if kind == "query":
            vals = tf.astype(np.float32)
        else:  # Lucene BM25 weight; bm25s drops the constant (k1 + 1)
            vals = self.idf[c] * tf / (tf + self.k1 * (1 - self.b + self.b * lens[r] / self.avgdl))
        return sp.csr_matrix((vals.astype(np.float32), (r, c)), shape=(len(texts), width))

    def count_tokens(self, texts):
        return [len(d) for d in self._terms(texts)]

    @property
    def tokenizer_name(self):
        return "word (stemmed, stopwords removed)"

    @property
    def vocab_size(self):
        return len(self.vocab) or None

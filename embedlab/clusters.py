"""Clusters of a comparison's chunks, each named by its most distinctive words.

Clusters are k-means on the first vector model's vectors (the reference map's model), in the
original space, so they do not depend on the layout (UMAP or PCA) or on a map's sample. Names
come from class-based TF-IDF as BERTopic computes it (``ClassTfidfTransformer``): every cluster's
texts are one "class document"; a word's score is its l1-normalised frequency in the class times
log(1 + A / f), A the mean number of words per class and f the word's count over all classes.
Stop words and tokens with digits are dropped. On top, a word must be over-represented in its
cluster (``LIFT``): c-TF-IDF alone can still crown a word that is frequent everywhere, because a
large tf outweighs a small idf. Offline, no model: the words are the cluster's own.

Computed once per comparison and stored beside it: ``clusters/kmeans_{seed}.npz``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .npz import load_npz, save_npz
from .vectors import comp_size, load_vectors, vector_models

TOKEN = re.compile(r"(?u)\b[^\W\d_]{2,}\b")  # letters only: no digits, no underscores
LIFT = 1.5  # a label word's share of its cluster's words is at least this times its share elsewhere
TOP_WORDS = 3
MAX_K = 10
EXTRA_STOP = {"also", "et", "al", "may", "using", "used", "use", "one", "two", "however", "thus", "within"}


@dataclass(frozen=True)
class Clusters:
    labels: np.ndarray  # (n,) cluster of every chunk ordinal
    words: list[list[str]]  # each cluster's label words, most distinctive first
    model: str  # whose vectors were clustered

    @property
    def names(self) -> list[str]:
        """One short name per cluster: its words joined, or "cluster N" when it has none."""
        return [" · ".join(w) if w else f"cluster {i + 1}" for i, w in enumerate(self.words)]


def stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | EXTRA_STOP


def tokens(text: str) -> list[str]:
    stop = stop_words()
    return [t for t in TOKEN.findall(text.lower()) if t not in stop]


def default_k(n: int) -> int:
    """About sqrt(n / 5) clusters, 2 to MAX_K: a legend that can be read."""
    return int(np.clip(round((n / 5) ** 0.5), 2, MAX_K)) if n >= 4 else 1


def kmeans(vectors, k: int, seed: int = 0) -> np.ndarray:
    """Seeded k-means labels; rows are reduced to 50 PCA dimensions first (seconds at 50k × 384)."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    x = np.asarray(vectors, dtype=np.float32)
    n = len(x)
    if n == 0:
        return np.zeros(0, np.int16)
    if x.shape[1] > 50 and n > 50:
        x = PCA(50, svd_solver="randomized", random_state=seed).fit_transform(x)
    k = max(1, min(k, n))
    return KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(x).astype(np.int16)


def class_counts(texts: list[str], labels: np.ndarray, n_classes: int):
    """(n_classes × vocabulary) word counts and the vocabulary, stop words and digits removed."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import CountVectorizer

    vec = CountVectorizer(token_pattern=TOKEN.pattern, lowercase=True, stop_words=sorted(stop_words()))
    try:
        x = vec.fit_transform(texts)
    except ValueError:  # nothing but stop words and digits
        return np.zeros((n_classes, 0)), np.array([], dtype=str)
    onehot = sp.csr_matrix((np.ones(len(labels)), (np.asarray(labels), np.arange(len(labels)))),
                           shape=(n_classes, len(labels)))
    return np.asarray((onehot @ x).todense(), dtype=np.float64), vec.get_feature_names_out()


def ctfidf(counts: np.ndarray) -> np.ndarray:
    """BERTopic's c-TF-IDF: l1 tf per class × log(1 + A / f)."""
    per_class = counts.sum(axis=1, keepdims=True)
    tf = counts / np.maximum(per_class, 1)
    f = counts.sum(axis=0)
    a = counts.sum() / max(len(counts), 1)
    return tf * np.log1p(a / np.maximum(f, 1))


def label_words(texts: list[str], labels, top: int = TOP_WORDS) -> list[list[str]]:
    """Each cluster's ``top`` words by c-TF-IDF among the words it over-represents (``LIFT``) and
    uses at least twice (once for a cluster of a single short text)."""
    labels = np.asarray(labels, dtype=np.int64)
    n_classes = int(labels.max()) + 1 if len(labels) else 0
    counts, vocab = class_counts(texts, labels, n_classes)
    if counts.shape[1] == 0:
        return [[] for _ in range(n_classes)]
    scores = ctfidf(counts)
    totals, per_class = counts.sum(axis=0), counts.sum(axis=1)
    out = []
    for c in range(n_classes):
        share = counts[c] / max(per_class[c], 1)
        rest_words = per_class.sum() - per_class[c]
        rest = (totals - counts[c]) / rest_words if rest_words else np.zeros_like(share)
        ok = (share >= LIFT * rest) & (counts[c] >= min(2, counts[c].max()))
        ranked = [j for j in np.lexsort((vocab, -scores[c])) if ok[j] and counts[c, j] > 0]
        out.append([str(vocab[j]) for j in ranked[:top]])
    return out


def cluster_texts(texts: list[str], vectors, k: int | None = None, seed: int = 0) -> tuple[np.ndarray, list]:
    """(labels, words) for texts and their vectors: k-means, then c-TF-IDF names."""
    labels = kmeans(vectors, k or default_k(len(texts)), seed)
    return labels, label_words(texts, labels)


def comparison_clusters(ws, comp, ds, seed: int = 0) -> Clusters:
    """The comparison's clusters, from its stored copy when it was made for the same reference
    model and chunk count, else computed (seconds) and stored."""
    models = vector_models(comp)
    if not models:
        raise ValueError("no model of this comparison has stored vectors yet: run it first")
    path = ws.comparison_dir(comp.id) / "clusters" / f"kmeans_{seed}.npz"
    n = comp_size(ws, comp)
    got = load_npz(path)
    if got is not None and got[0] == models[:1] and len(got[1][0]) == n:
        return Clusters(got[1][0], [str(w).split("\x1f") if w else [] for w in got[2]["words"]], models[0])
    vectors = load_vectors(ws, comp, models[0], for_projection=True, seed=seed)
    labels, words = cluster_texts([c.text for c in ds.chunks[:n]], vectors, seed=seed)
    save_npz(path, models[:1], [labels], words=np.array(["\x1f".join(w) for w in words], dtype=str))
    return Clusters(labels, words, models[0])

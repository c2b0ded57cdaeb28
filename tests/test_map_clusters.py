"""Cluster labels (embedlab.clusters): class-based TF-IDF words that occur in the cluster's texts
and are distinctive; computed once per comparison and stored with it (real Milvus Lite, real
bm25 + model2vec vectors of the bundled sample)."""

import base64
import json
import re

import numpy as np
import pytest

from embedlab import clusters

TOPICS = {
    0: "whales sing songs in the ocean and humpback whales migrate",
    1: "volcano magma erupts through the crust while lava cools into basalt",
    2: "honey bees pollinate flowers and bees store honey in wax combs",
}


def texts_and_labels():
    """Three topics; 'data' is frequent in every text of every cluster, digits and stop words too."""
    texts, labels = [], []
    for label, topic in TOPICS.items():
        for i in range(6):
            texts.append(f"data data data {topic} 2024 {i}7 the of and data reading {['red', 'blue'][i % 2]}")
            labels.append(label)
    return texts, np.array(labels)


def words_of(texts):
    return {w for t in texts for w in re.findall(r"[^\W\d_]+", t.lower())}


def test_labels_are_distinctive_words_of_their_cluster():
    texts, labels = texts_and_labels()
    words = clusters.label_words(texts, labels)
    assert len(words) == 3 and all(len(w) == clusters.TOP_WORDS for w in words)
    for c, label_words in enumerate(words):
        own = words_of(t for t, lab in zip(texts, labels, strict=True) if lab == c)
        assert set(label_words) <= own  # the cluster's own words
        assert "data" not in label_words and "reading" not in label_words  # frequent in every cluster
        assert not {"red", "blue"} & set(label_words)  # spread evenly over clusters: not distinctive
        assert not any(ch.isdigit() for w in label_words for ch in w)
        assert not set(label_words) & clusters.stop_words()
    assert words[0][0] == "whales" and words[2][0] == "bees"  # the most repeated distinctive word


def test_ctfidf_is_bertopics_formula():
    counts = np.array([[4.0, 1.0, 0.0], [4.0, 0.0, 3.0]])
    a = counts.sum() / 2  # mean words per class
    f = counts.sum(axis=0)  # each term's total count
    expected = counts / counts.sum(axis=1, keepdims=True) * np.log(1 + a / f)
    assert np.allclose(clusters.ctfidf(counts), expected)
    # the shared term has the largest tf everywhere yet the smallest idf
    assert np.argmin(np.log(1 + a / f)) == 0


def test_a_cluster_of_stop_words_has_no_label_and_a_fallback_name():
    words = clusters.label_words(["the and of 123", "glaciers carve valleys, glaciers melt"], [0, 1])
    assert words[0] == [] and words[1][0] == "glaciers"
    named = clusters.Clusters(np.array([0, 1]), words, "m")
    assert named.names[0] == "cluster 1" and named.names[1].startswith("glaciers")


@pytest.fixture(scope="module")
def comp(workspace, sample_docs):
    from embedlab import comparison
    from embedlab.chunking import Chunking

    ds = workspace.add_dataset(sample_docs.documents, Chunking(256, 32), sample_docs.eval_set, name="clusters")
    comp = comparison.create(workspace, ds, ["bm25", "model2vec"])
    comparison.run(workspace, comp, evaluate=False)
    return comp, ds


def test_comparison_clusters_are_stored_once_and_label_real_texts(workspace, comp, monkeypatch):
    comp, ds = comp
    got = clusters.comparison_clusters(workspace, comp, ds)
    n = len(ds.chunks)
    assert got.model == "bm25" and got.labels.shape == (n,)
    k = int(got.labels.max()) + 1
    assert k == clusters.default_k(n) and len(got.words) == k
    texts = [c.text for c in ds.chunks]
    counts, vocab = clusters.class_counts(texts, got.labels, k)
    column = {w: j for j, w in enumerate(vocab)}
    share = counts / counts.sum(axis=1, keepdims=True)
    common = set(vocab[np.argsort(-counts.sum(axis=0))[:5]])  # the corpus's most frequent words
    for c, words in enumerate(got.words):
        assert words, f"cluster {c} has no label"
        own = words_of(t for t, lab in zip(texts, got.labels, strict=True) if lab == c)
        for w in words:
            assert w in own
            rest = (counts[:, column[w]].sum() - counts[c, column[w]]) / (counts.sum() - counts[c].sum())
            assert share[c, column[w]] >= clusters.LIFT * rest
            assert w not in common or share[c, column[w]] >= 3 * share[:, column[w]].min()
    print("\n".join(got.names), "\ncommon:", sorted(common))
    assert (workspace.comparison_dir(comp.id) / "clusters" / "kmeans_0.npz").exists()

    def no_recompute(*a, **k):
        raise AssertionError("clusters were computed again")

    monkeypatch.setattr(clusters, "kmeans", no_recompute)
    again = clusters.comparison_clusters(workspace, comp, ds)
    assert np.array_equal(again.labels, got.labels) and again.words == got.words


def values(array) -> list:
    """A figure JSON's array: a list, or plotly's typed array {"dtype", "bdata": base64}."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array)


def _draw_linked(ws, comp, ds, highlight):
    from app_support import maps
    from app_support.state import Current

    maps.linked_maps(Current(ws, comp, ds), ["model2vec", "bm25"], highlight, sample=None, kind="pca")


def test_linked_maps_draws_aligned_maps_with_the_same_chunks_ringed(workspace, comp):
    """The function other pages call (e.g. a disagreement explorer): one map per model asked for,
    in that order, each ringing every highlighted set at its own chunk ids."""
    from streamlit.testing.v1 import AppTest

    comp, ds = comp
    highlight = {"bm25's top-10": [0, 5, 9], "model2vec's top-10": [5, 11]}
    at = AppTest.from_function(_draw_linked, args=(workspace, comp, ds, highlight), default_timeout=120).run()
    assert not at.exception
    figures = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    assert [f["layout"]["title"]["text"] for f in figures] == ["model2vec", "bm25"]
    for fig in figures:
        rings = {t["name"]: values(t["customdata"]) for t in fig["data"] if "neighbour" in t.get("hovertemplate", "")}
        assert rings == {"bm25&#x27;s top-10": [0, 5, 9], "model2vec&#x27;s top-10": [5, 11]}  # on every map

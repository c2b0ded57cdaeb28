"""Probes with the real bundled MiniLM; shared benchmark files are optional (tests skip without them)."""

import json
import os
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from embedlab.documents import Document  # noqa: E402
from embedlab.embedders import get_embedder  # noqa: E402
from embedlab.probes import (  # noqa: E402
    KINDS,
    bitext_mining,
    generate_eval_set,
    generate_eval_set_llm,
    load_parallel,
    load_sts_tsv,
    neighbourhood_purity,
    perturb,
    perturbation_robustness,
    sts_spearman,
    trustworthiness,
)

SHARED = Path("/work/shared/datasets")
STS = SHARED / "stsb" / "sts-test.csv"
PARALLEL = SHARED / "parallel"
SENTENCES = [
    "The quick brown fox jumps over the lazy dog near the river.",
    "Researchers found that the new method reduces errors in large language models.",
    "She decided to buy a small house close to her old school.",
    "Heavy rain caused flooding on the main street of the town yesterday.",
    "The company will begin building a new factory next year.",
    "Regular exercise can help people keep a healthy heart and mind.",
    "My kid likes to watch movies about space and distant planets.",
    "The committee could not find an easy answer to the difficult problem.",
    "Prices rise quickly when many people want the same product.",
    "He tried to fix the old car but the engine was too damaged.",
    "A good teacher will show students how to think for themselves.",
    "The museum displays a large picture painted over three centuries ago.",
]


@pytest.fixture(scope="session")
def minilm():
    return get_embedder("minilm")


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


# -- STS ------------------------------------------------------------------------------------------

def test_load_sts_tsv_splits_on_tabs_only(tmp_path):
    path = tmp_path / "sts.csv"
    path.write_text('main-news\tf\t2012\t1\t4.5\tHe said "hi.\tHe said hi.\tsrc1\tlicence\n'
                    "main-forum\tf\t2014\t2\t0.0\tA cat.\tA \"dog\".\n", encoding="utf-8")
    pairs, gold = load_sts_tsv(path)
    assert pairs == [('He said "hi.', "He said hi."), ("A cat.", 'A "dog".')]
    assert gold == [4.5, 0.0]


def test_load_sts_real_file_matches_mteb_statistics():
    pairs, gold = load_sts_tsv(need(STS))
    assert len(pairs) == 1379
    assert sum(len(a) for a, _ in pairs) == 74107 and sum(len(b) for _, b in pairs) == 73779
    assert np.mean(gold) == pytest.approx(2.607917, abs=1e-6)


def test_sts_spearman_minilm_on_200_pairs(minilm):
    pairs, gold = load_sts_tsv(need(STS))
    assert sts_spearman(minilm, pairs[:200], gold[:200]) > 0.7


# -- bitext ---------------------------------------------------------------------------------------

def test_load_parallel(tmp_path):
    (tmp_path / "tatoeba.xx-eng.xx").write_text("uno\ndos\n", encoding="utf-8")
    (tmp_path / "tatoeba.xx-eng.eng").write_text("one\ntwo\n", encoding="utf-8")
    assert load_parallel(tmp_path, "xx") == (["uno", "dos"], ["one", "two"])
    (tmp_path / "tatoeba.xx-eng.eng").write_text("one\n", encoding="utf-8")
    with pytest.raises(ValueError, match="2 xx lines but 1 English"):
        load_parallel(tmp_path, "xx")


def test_bitext_identical_sides_are_perfect(minilm):
    result = bitext_mining(minilm, SENTENCES, SENTENCES)
    assert result["accuracy"] == 1.0 and result["f1"] == pytest.approx(1.0)
    assert result["gap"] > 0.5


def test_bitext_english_model_fails_korean(minilm):
    need(PARALLEL)
    kor = bitext_mining(minilm, *[side[:200] for side in load_parallel(PARALLEL, "kor")])
    spa = bitext_mining(minilm, *[side[:200] for side in load_parallel(PARALLEL, "spa")])
    # all-MiniLM-L6-v2 is English-only: MTEB Tatoeba f1 is near zero for Korean. Shared Latin-script
    # words (names, numbers, cognates) still carry some Spanish pairs.
    assert kor["accuracy"] < 0.05
    assert spa["accuracy"] > kor["accuracy"] + 0.05
    assert spa["gap"] > 3 * kor["gap"]
    assert 0 <= kor["f1"] <= kor["accuracy"] + 1e-9  # weighted f1 ≤ accuracy when every class has support 1


# -- perturbations --------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_perturb_is_reproducible_and_changes_text(kind):
    text = SENTENCES[1]
    first = [perturb(text, kind, random.Random(7)) for _ in range(3)]
    assert first[0] == first[1] == first[2]
    assert first[0] != text


def test_perturb_kinds_do_what_they_say():
    rng = random.Random(0)
    assert perturb("Hello, world!", "punctuation", rng) == "Hello world"
    assert perturb("no punctuation", "punctuation", rng) == "no punctuation!"
    assert sorted(perturb("a b c d", "word_order", rng).split()) == ["a", "b", "c", "d"]
    assert perturb("Big dogs", "synonym", rng) == "Large dogs"  # capital kept
    assert perturb("zzz qqq", "synonym", rng) == "zzz qqq"  # nothing in the table: unchanged
    typo = perturb("elephant", "typo", rng)
    assert typo != "elephant" and abs(len(typo) - 8) <= 1
    with pytest.raises(ValueError, match="known: typo"):
        perturb("x", "leet", rng)


def test_perturbation_robustness_minilm(minilm):
    rows = perturbation_robustness(minilm, SENTENCES, seed=3, k=3)
    assert rows == perturbation_robustness(minilm, SENTENCES, seed=3, k=3)
    by_kind = {row["kind"]: row for row in rows}
    assert list(by_kind) == ["none", *KINDS]
    assert by_kind["none"]["topk_survival"] == 1.0 and by_kind["none"]["mean_cosine"] == pytest.approx(1.0)
    # all-MiniLM-L6-v2 lower-cases its input, so casing cannot move it at all.
    assert by_kind["casing"]["mean_cosine"] == pytest.approx(1.0, abs=1e-5)
    for row in rows:
        assert 0.5 < row["mean_cosine"] <= 1.0 + 1e-6 and 0.0 <= row["topk_survival"] <= 1.0
    assert by_kind["typo"]["changed"] == 1.0


# -- local structure ------------------------------------------------------------------------------

def clustered(n_per=50, n_labels=4, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_labels, dim)) * 10
    labels = np.repeat(np.arange(n_labels), n_per)
    return (centres[labels] + rng.normal(size=(len(labels), dim))).astype(np.float32), labels


def test_purity_of_clusters_and_of_random_labels():
    vectors, labels = clustered()
    assert neighbourhood_purity(vectors, labels, k=10) == 1.0
    assert neighbourhood_purity(sp.csr_matrix(np.abs(vectors)), labels, k=5) <= 1.0  # sparse accepted
    rng = np.random.default_rng(1)
    noise = rng.normal(size=(1000, 16))
    assert neighbourhood_purity(noise, rng.integers(0, 5, size=1000), k=10) == pytest.approx(0.2, abs=0.03)


def test_trustworthiness():
    coords = np.random.default_rng(0).normal(size=(300, 2))
    assert trustworthiness(coords, coords, k=10) == pytest.approx(1.0)
    vectors, _ = clustered(n_per=400, n_labels=3)
    shuffled = np.random.default_rng(2).normal(size=(1200, 2))
    assert trustworthiness(vectors, shuffled, k=10, max_points=500) < 0.7
    assert trustworthiness(vectors, shuffled, max_points=500) == trustworthiness(vectors, shuffled, max_points=500)


# -- eval sets ------------------------------------------------------------------------------------

def corpus():
    docs = [Document(f"doc{i}.txt", f"doc{i}", f"{s} Another sentence that is long enough here, number {i}.")
            for i, s in enumerate(SENTENCES)]
    docs.append(Document("a.md", "Flood warnings for coastal towns", "Short body."))
    docs.append(Document("b.md", "Notes", "Disclaimer text that appears in both notes files word for word."))
    docs.append(Document("c.md", "Notes", "Disclaimer text that appears in both notes files word for word."))
    return docs


def test_generate_eval_set_is_deterministic_and_single_relevant():
    docs = corpus()
    first, again = generate_eval_set(docs, n=50, seed=1), generate_eval_set(docs, n=50, seed=1)
    assert first.queries == again.queries and first.qrels == again.qrels
    assert first.generated and "BM25" in first.note
    by_doc = {next(iter(rel)): first.queries[q] for q, rel in first.qrels.items()}
    assert by_doc["a.md"] == "Flood warnings for coastal towns"  # a distinct title
    assert "b.md" not in by_doc and "c.md" not in by_doc  # duplicate title and duplicate text
    for doc_id, query in by_doc.items():
        if doc_id.startswith("doc"):  # file-name titles are not used: a sentence from the text is
            assert query in next(d.text for d in docs if d.id == doc_id) and query != doc_id
    assert len(first.queries) == 13
    assert len(generate_eval_set(docs, n=5, seed=1).queries) == 5
    assert generate_eval_set(docs, n=5, seed=2).queries != generate_eval_set(docs, n=5, seed=1).queries


class ChatHandler(BaseHTTPRequestHandler):
    """A real OpenAI-compatible endpoint on loopback: the query is the document's first three words."""

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        document = body["messages"][0]["content"].split("Document:\n", 1)[1]
        reply = {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                 "choices": [{"index": 0, "finish_reason": "stop",
                              "message": {"role": "assistant", "content": f'"{" ".join(document.split()[:3])}"'}}]}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_generate_eval_set_llm_against_loopback_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), ChatHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        docs = corpus()
        url = f"http://127.0.0.1:{server.server_port}/v1"
        seen = []
        ev = generate_eval_set_llm(docs, n=4, model="tiny", base_url=url, api_key="k", seed=1,
                                   progress=lambda done, total: seen.append((done, total)))
    finally:
        server.shutdown()
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert ev.generated and "tiny" in ev.note and len(ev.queries) == 4
    for qid, rel in ev.qrels.items():
        doc = next(d for d in docs if d.id == next(iter(rel)))
        assert ev.queries[qid] == " ".join(doc.full_text.split()[:3])


# -- input files ----------------------------------------------------------------------------------

def test_read_pairs_layouts():
    from embedlab.probes import read_pairs

    tsv = read_pairs(b'sentence1\tsentence2\tscore\nA "cat.\tA cat.\t4.5\nbad line\nX\tY\tnot-a-number\n',
                     need_scores=True)
    assert (tsv.left, tsv.right, tsv.scores) == (['A "cat.'], ["A cat."], [4.5])  # quotes kept, 2 lines skipped
    assert "2 lines skipped" in tsv.note
    csv_ = read_pairs('source,target\n"Hola, amigo",Hello friend\nAdiós,Bye\n'.encode())
    assert csv_.left == ["Hola, amigo", "Adiós"] and csv_.scores is None
    stsb = read_pairs(b"main-news\tf\t2012\t1\t3.2\tOne.\tTwo.\textra\n")
    assert (stsb.left, stsb.right, stsb.scores) == (["One."], ["Two."], [3.2]) and "STS-B" in stsb.note
    plain = read_pairs(b"a\tb\t1\nc\td\t0\n", max_pairs=1)
    assert plain.scores == [1.0] and "only the first 1" in plain.note
    with pytest.raises(ValueError, match="no score column"):
        read_pairs(b"s1\ts2\nx\ty\n", need_scores=True)
    with pytest.raises(ValueError, match="not UTF-8"):
        read_pairs(b"\xff\xfe\x00bad")
    with pytest.raises(ValueError, match="names no pair"):
        read_pairs(b"sentence1,label\nx,1\n")


def test_bundled_samples():
    from embedlab.probes import SAMPLE_PARALLEL, load_sts, parallel_languages

    pairs, gold = load_sts()
    assert len(pairs) == 300 and min(gold) >= 0 and max(gold) <= 5 and len(set(gold)) > 20
    assert parallel_languages(SAMPLE_PARALLEL) == ["deu", "kor", "spa"]
    for lang in ("deu", "kor", "spa"):
        src, eng = load_parallel(SAMPLE_PARALLEL, lang)
        assert len(src) == len(eng) == 200 and len(set(src)) == 200


def test_sample_slices_match_the_shared_originals():
    """The bundled lines are verbatim lines of the sources named in sample_data/SOURCE.md."""
    from embedlab.probes import SAMPLE_PARALLEL, load_sts

    original = {(a, b): g for (a, b), g in zip(*load_sts_tsv(need(STS)), strict=True)}
    pairs, gold = load_sts()
    assert all(original[p] == pytest.approx(g) for p, g in zip(pairs, gold, strict=True))
    for lang in ("kor", "spa", "deu"):
        assert load_parallel(SAMPLE_PARALLEL, lang) == tuple(side[:200] for side in load_parallel(PARALLEL, lang))


# -- local structure on precomputed neighbours ----------------------------------------------------

def test_purity_of_neighbours_with_ceiling_and_chance():
    from embedlab.probes import purity_of_neighbours

    labels = ["a", "a", "a", "b", "b", "c"]  # "c" has no partner: it does not count
    neighbours = np.array([[1, 3], [0, 2], [5, 4], [4, 0], [0, 1], [0, 1]])
    got = purity_of_neighbours(neighbours, labels)
    assert got["points"] == 5 and got["k"] == 2
    assert got["purity"] == pytest.approx((0.5 + 1 + 0 + 0.5 + 0) / 5)
    assert got["ceiling"] == pytest.approx((1 + 1 + 1 + 0.5 + 0.5) / 5)
    assert got["chance"] == pytest.approx((2 / 5 * 3 + 1 / 5 * 2) / 5)


def test_map_false_neighbours():
    from embedlab.probes import map_false_neighbours

    true = np.array([[1, 2], [0, 2], [0, 1]])
    assert map_false_neighbours(true, np.array([[2, 1], [2, 0], [1, 0]])).tolist() == [0, 0, 0]
    assert map_false_neighbours(true, np.array([[1, 3], [3, 4], [0, 1]])).tolist() == [0.5, 1.0, 0.0]


# -- noise against a corpus -----------------------------------------------------------------------

def test_top_k_matches_brute_force_and_skips_empty_sparse_queries():
    from embedlab.probes.similarity import top_k

    rng = np.random.default_rng(0)
    docs = rng.normal(size=(50, 8)).astype(np.float32)
    queries = rng.normal(size=(7, 8)).astype(np.float32)
    expected = np.argsort(-(queries @ docs.T), axis=1, kind="stable")[:, :5].tolist()
    assert top_k(queries, docs, 5, block=3) == expected
    sparse_docs = sp.csr_matrix(np.abs(docs))
    sparse_queries = sp.csr_matrix(np.vstack([np.abs(queries[:1]), np.zeros((1, 8))]))
    got = top_k(sparse_queries[:, :6], sparse_docs, 4)  # narrower query width is padded
    assert len(got[0]) == 4 and got[1] == []


def test_perturbation_survival_on_a_corpus():
    from embedlab.probes import corpus_search, perturbation_survival

    glove = get_embedder("glove-50d")  # lower-cases its input: casing changes nothing
    corpus = SENTENCES + [s.upper() for s in SENTENCES[:3]]
    rows = perturbation_survival(glove, SENTENCES, corpus_search(glove, corpus), ["casing", "typo"], seed=1, k=3)
    casing, typo = rows
    assert casing["kind"] == "casing" and casing["changed"] == 1.0
    assert casing["mean_cosine"] == pytest.approx(1.0) and casing["topk_survival"] == 1.0 and casing["top1_kept"] == 1
    assert typo["mean_cosine"] < 1.0 and 0 <= typo["topk_survival"] <= 1 and typo["n"] == len(SENTENCES)
    assert rows == perturbation_survival(glove, SENTENCES, corpus_search(glove, corpus), ["casing", "typo"], 1, 3)


def test_probe_embedder_fits_bm25_on_the_probe_texts():
    from embedlab.probes.runs import probe_embedder

    a = probe_embedder("bm25", fit_texts=SENTENCES[:6])
    b = probe_embedder("bm25", fit_texts=SENTENCES[6:])
    assert a is not b and a is not get_embedder("bm25")
    assert a.encode_queries(["river"]).nnz == 1 and b.encode_queries(["river"]).nnz == 0


def test_cached_computes_once_and_survives_a_damaged_file(tmp_path):
    from embedlab.probes.runs import cached, lookup
    from embedlab.workspace import Workspace

    ws = Workspace(tmp_path)  # no Milvus client is opened: only comparison folders are used
    calls = []
    compute = lambda: calls.append(1) or {"x": len(calls)}  # noqa: E731
    assert cached(ws, "cid", "sts", {"a": 1}, compute) == {"x": 1}
    assert cached(ws, "cid", "sts", {"a": 1}, compute) == {"x": 1} and len(calls) == 1
    assert cached(ws, "cid", "sts", {"a": 2}, compute) == {"x": 2}
    assert cached(ws, None, "sts", {"a": 1}, compute) == {"x": 3}  # no comparison: nothing kept
    for path in (tmp_path / "comparisons" / "cid" / "probes").glob("sts-*.json"):
        path.write_text("{half", encoding="utf-8")
    assert lookup(ws, "cid", "sts", {"a": 1}) is None
    assert cached(ws, "cid", "sts", {"a": 1}, compute) == {"x": 4}  # a damaged file is computed again


# -- generated sets -------------------------------------------------------------------------------

def test_write_beir_round_trip(tmp_path):
    from embedlab.documents import load_eval_set
    from embedlab.probes import write_beir

    ev = generate_eval_set(corpus(), n=5, seed=3)
    write_beir(ev, tmp_path / "q.jsonl", tmp_path / "qrels.tsv")
    back = load_eval_set(tmp_path / "q.jsonl", tmp_path / "qrels.tsv")
    assert back.queries == ev.queries and back.qrels == ev.qrels

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
        ev = generate_eval_set_llm(docs, n=4, model="tiny", base_url=url, api_key="k", seed=1)
    finally:
        server.shutdown()
    assert ev.generated and "tiny" in ev.note and len(ev.queries) == 4
    for qid, rel in ev.qrels.items():
        doc = next(d for d in docs if d.id == next(iter(rel)))
        assert ev.queries[qid] == " ".join(doc.full_text.split()[:3])

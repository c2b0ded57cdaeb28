"""``python -m embedlab probe …`` in real processes, on the bundled samples (fast models; MiniLM once)."""

import json
import os
import subprocess

import pytest
from conftest import PY, ROOT

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
SMALL = ["--chunk-size", "256", "--overlap", "32"]


def probe(*args, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run([PY, "-m", "embedlab", "probe", *map(str, args)], cwd=ROOT, env=ENV, capture_output=True,
                         text=True, timeout=900)
    if check:
        assert out.returncode == 0, out.stderr[-3000:]
    return out


def rows(path) -> list[dict]:
    return json.loads(path.read_text("utf-8"))["rows"]


def test_sts_beside_the_published_figure(tmp_path):
    probe("sts", "--models", "minilm,glove-50d,bm25", "--json", tmp_path / "sts.json")
    got = {r["model"]: r for r in rows(tmp_path / "sts.json")}
    assert got["minilm"]["published"] == 0.8203 and got["glove-50d"]["published"] is None
    assert got["minilm"]["spearman"] > 0.8 > got["glove-50d"]["spearman"]  # contextual vs averaged word vectors
    assert all(r["pairs"] == 300 for r in got.values())


def test_sts_on_a_users_csv(tmp_path):
    (tmp_path / "mine.csv").write_text("sentence1,sentence2,score\nA dog runs.,A dog is running.,5\n"
                                       "A dog runs.,The stock market fell.,0\nA cat sleeps.,A cat naps.,4.5\n"
                                       "A cat sleeps.,Rain is falling.,0.5\n", encoding="utf-8")
    out = probe("sts", "--models", "glove-50d", "--data", tmp_path / "mine.csv", "--json", tmp_path / "s.json")
    assert out.stdout.startswith("model") and "glove-50d" in out.stdout
    (row,) = rows(tmp_path / "s.json")
    assert row["pairs"] == 4 and -1 <= row["spearman"] <= 1


def test_bitext_english_only_models_fail_korean(tmp_path):
    (tmp_path / "xx.tsv").write_text("source\ttarget\nhola\thello\nadiós\tgoodbye\n", encoding="utf-8")
    probe("bitext", "--models", "glove-50d,model2vec", "--langs", "kor,spa", "--json", tmp_path / "b.json")
    got = {(r["model"], r["lang"]): r for r in rows(tmp_path / "b.json")}
    assert set(got) == {(m, lang) for m in ("glove-50d", "model2vec") for lang in ("kor", "spa")}
    assert got["glove-50d", "kor"]["accuracy"] < 0.05 and got["glove-50d", "kor"]["n"] == 200
    assert got["model2vec", "spa"]["accuracy"] > got["glove-50d", "spa"]["accuracy"] + 0.2
    own = probe("bitext", "--models", "glove-50d", "--data", tmp_path / "xx.tsv")
    assert "xx" in own.stdout


def test_perturb_and_consistency_on_documents(tmp_path):
    probe("perturb", "--models", "model2vec,bm25", "--n", 40, "--kinds", "typo,casing", "--seed", 3, *SMALL,
          "--json", tmp_path / "p.json")
    got = {(r["model"], r["kind"]): r for r in rows(tmp_path / "p.json")}
    assert got["bm25", "casing"]["topk_survival"] == 1.0  # BM25 lower-cases: casing cannot move it
    assert got["model2vec", "casing"]["mean_cosine"] < 0.95  # model2vec's vocabulary is cased
    assert all(r["n"] == 40 and r["changed"] == 1.0 for r in got.values())
    probe("consistency", "--models", "bm25,model2vec", "--max-points", 400, *SMALL, "--json", tmp_path / "c.json")
    for r in rows(tmp_path / "c.json"):
        assert r["chance"] < r["purity"] <= r["ceiling"] + 1e-9 and 0.5 < r["trust_pca"] <= 1


def test_geneval_writes_beir_files(tmp_path):
    from embedlab.documents import load_eval_set

    q, qrels = tmp_path / "queries.jsonl", tmp_path / "qrels.tsv"
    out = probe("geneval", "--n", 30, "--out", q, qrels)
    assert "30 generated queries from 500 documents" in out.stdout and "BM25" in out.stderr
    ev = load_eval_set(q, qrels)
    assert len(ev.queries) == 30 and all(len(rel) == 1 for rel in ev.qrels.values())


@pytest.mark.parametrize("args, message", [(["perturb", "--kinds", "leet"], "unknown noise leet"),
                                           (["bitext", "--langs", "xx"], "no pairs for xx"),
                                           (["sts", "--data", "/nonexistent.tsv"], "error:")])
def test_errors_are_one_line(args, message):
    out = probe(*args, "--models", "glove-50d", check=False)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr


def test_probes_on_a_stored_comparison_match_the_documents_run(tmp_path):
    """--comparison searches the stored vectors; the numbers equal embedding the same chunks afresh."""
    ws = tmp_path / "ws"
    ev = subprocess.run([PY, "-m", "embedlab", "evaluate", "--models", "model2vec,bm25", *SMALL, "--workspace", ws,
                         "--json", tmp_path / "e.json"], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)
    assert ev.returncode == 0, ev.stderr[-2000:]
    cid = json.loads((tmp_path / "e.json").read_text())["comparison_id"]
    common = ["--n", 30, "--kinds", "typo,punctuation", "--seed", 1]
    probe("perturb", "--comparison", cid, "--workspace", ws, *common, "--json", tmp_path / "stored.json")
    probe("perturb", "--models", "model2vec,bm25", *SMALL, *common, "--json", tmp_path / "fresh.json")
    stored, fresh = rows(tmp_path / "stored.json"), rows(tmp_path / "fresh.json")
    assert [(r["model"], r["kind"]) for r in stored] == [(r["model"], r["kind"]) for r in fresh]
    for a, b in zip(stored, fresh, strict=True):
        assert a["mean_cosine"] == pytest.approx(b["mean_cosine"], abs=1e-5)
        assert a["topk_survival"] == pytest.approx(b["topk_survival"], abs=0.02)  # store ties may order apart
    assert len(list((ws / "comparisons" / cid / "probes").glob("perturb-*.json"))) == 2  # kept with it
    probe("consistency", "--comparison", cid, "--workspace", ws, "--json", tmp_path / "c.json")
    assert {r["model"] for r in rows(tmp_path / "c.json")} == {"model2vec", "bm25"}

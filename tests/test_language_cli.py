"""Done-when for Korean: keyword queries over the Tatoeba Korean sentences, through the CLI."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from conftest import PY, ROOT, SHARED

pytestmark = pytest.mark.skipif(not (SHARED / "parallel" / "tatoeba.kor-eng.kor").exists(),
                                reason="../shared/datasets/parallel is not beside the checkout")


def _run(*args, cwd=ROOT):
    out = subprocess.run([PY, *args], cwd=cwd, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
    assert out.returncode == 0, out.stderr[-3000:]
    return out


@pytest.mark.slow  # about 40 s: two processes, Kiwi and Milvus Lite start in each
def test_bm25_finds_korean_sentences_by_their_nouns(tmp_path):
    data = tmp_path / "tatoeba-kor"
    made = _run("bench/tatoeba_keywords.py", str(data), "--lang", "kor", "--n", "200")
    assert "200 keyword queries" in made.stdout
    queries = [json.loads(line)["text"] for line in (data / "queries.jsonl").read_text("utf-8").splitlines()]
    assert len(queries) == 200 and all(len(q.split()) >= 2 for q in queries)
    out = tmp_path / "out.json"
    _run("-m", "embedlab", "evaluate", "--models", "bm25,bm25:en", "--chunk-size", "0", "--data", str(data),
         "--workspace", str(tmp_path / "ws"), "--json", str(out))
    models = json.loads(out.read_text())["models"]
    assert models["bm25"]["recall@10"] >= 0.95, models
    # the English analyzer, as BM25 tokenized every corpus before: particles keep 학교 from 학교에
    assert models["bm25:en"]["recall@10"] < 0.5, models

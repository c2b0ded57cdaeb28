"""A BEIR folder of keyword queries over the Tatoeba sentences of one language.

    python bench/tatoeba_keywords.py OUT_DIR [--lang kor] [--n 200]
    python -m embedlab evaluate --models bm25,bm25:en --chunk-size 0 --data OUT_DIR

Each of the 1,000 sentences in ../shared/datasets/parallel/tatoeba.<lang>-eng.<lang> is a
document; a query is the nouns of one sentence (Kiwi for Korean, see evalgen.keyword_query),
with at least two of them, and that sentence is its only relevant document. ``--with-english``
adds the English side as more documents, with queries of their own: a mixed corpus.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
PARALLEL = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "parallel"


def documents(lang: str, limit: int, with_english: bool) -> list:
    from embedlab.documents import Document

    sides = [lang] + (["eng"] if with_english else [])
    docs = []
    for side in sides:
        lines = (PARALLEL / f"tatoeba.{lang}-eng.{side}").read_text("utf-8").splitlines()[:limit]
        docs += [Document(f"{side}-{i:04d}", "", text) for i, text in enumerate(lines)]
    return docs


def build(out: Path, lang: str = "kor", n: int = 200, limit: int = 1000, with_english: bool = False) -> int:
    from embedlab.evalgen import generate_keyword_set, write_beir
    from embedlab.language import with_languages

    docs = with_languages(documents(lang, limit, with_english))
    ev = generate_keyword_set(docs, n=n, seed=0)
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with open(out / "corpus.jsonl", "w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps({"_id": d.id, "title": "", "text": d.text}, ensure_ascii=False) + "\n")
    write_beir(ev, out / "queries.jsonl", out / "qrels" / "test.tsv")
    return len(ev.queries)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--lang", default="kor", choices=["kor", "spa", "deu"])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--limit", type=int, default=1000, help="sentences per side")
    ap.add_argument("--with-english", action="store_true")
    args = ap.parse_args()
    made = build(Path(args.out), args.lang, args.n, args.limit, args.with_english)
    print(f"{made} keyword queries over the Tatoeba {args.lang} sentences in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Evaluation sets made from the user's own documents, for corpora that come without queries.

Known-item queries: each query is written from (or copied out of) one document, and that document is
the only one counted relevant. Deterministic without a network; or written by any OpenAI-compatible
chat model. Either way the set is marked ``generated`` and carries a note on its limits.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from .documents import Document, EvalSet

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_NOT_WORD = re.compile(r"[\W_]+")

GENERATED_NOTE = ("Made from the documents themselves: each query is a document's title or one sentence "
                  "copied from it, and that document is the only one counted relevant. Copied words favour "
                  "lexical models such as BM25, and other documents that also answer a query count as misses; "
                  "use it to compare models on your text, not as an absolute score.")


def generate_eval_set(documents: Sequence[Document], n: int = 100, seed: int = 0) -> EvalSet:
    """Up to ``n`` known-item queries, no network, the same every time for the same documents and seed.

    A document with a distinct title (not its file name, shared by no other document) is asked for by
    its title; otherwise by one of its sentences (6–40 words) that appears in no other document.
    """
    docs = list(documents)
    titles = [_norm(d.title) for d in docs]
    title_counts = Counter(titles)
    haystack = [d.full_text for d in docs]

    def pick(i: int) -> str | None:
        doc = docs[i]
        query = doc.title.strip() if _distinct_title(doc, titles[i], title_counts) else None
        return query or _unique_sentence(doc, haystack, random.Random(f"{seed}/{doc.id}"))

    queries, qrels = _known_items(docs, n, seed, "gen", pick)
    return EvalSet(queries=queries, qrels=qrels, generated=True, note=GENERATED_NOTE)


def _known_items(docs: list[Document], n: int, seed: int, prefix: str, pick) -> tuple[dict, dict]:
    """Up to ``n`` queries, one per document in the seeded order, each from ``pick(i)`` (None skips the
    document); the document it came from is the only one relevant."""
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for i in _sample_order(len(docs), seed):
        if len(queries) >= n:
            break
        doc_id = docs[i].id
        query = pick(i)
        if query:
            qid = f"{prefix}-{len(queries):04d}"
            queries[qid], qrels[qid] = query, {doc_id: 1}
    return queries, qrels


def _sample_order(n: int, seed: int) -> list[int]:
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return order


def _norm(text: str) -> str:
    return _NOT_WORD.sub(" ", text).strip().lower()


def _distinct_title(doc: Document, title: str, counts: Counter) -> bool:
    # Readers fall back to the file name when a file has no title; that is no query anyone types.
    names = {_norm(Path(doc.id).stem), _norm(Path(str(doc.meta.get("source", ""))).stem)}
    return len(title.split()) >= 2 and title not in names and counts[title] == 1


def _language(doc: Document) -> str:
    """The analyzer code of a document's language (detected at load time; detected now if not)."""
    from .embedders.analyzers import analyzer_for
    from .language import detect

    return analyzer_for(doc.meta.get("language") or detect(doc.full_text))


def split_sentences(text: str, language: str = "en") -> list[str]:
    """Sentences in the text's own language: Kiwi splits Korean, 。！？ end Chinese and Japanese ones."""
    from .embedders.analyzers import sentences

    return sentences(text, language)


def _unique_sentence(doc: Document, haystack: list[str], rng: random.Random, min_words: int = 6) -> str | None:
    from .embedders.analyzers import length

    code = _language(doc)
    sentences = [s for s in split_sentences(doc.text, code) if min_words <= length(s, code) <= 40]
    rng.shuffle(sentences)
    # Boilerplate (disclaimers, headers) repeats across documents: a single relevant doc would be wrong.
    return next((s for s in sentences if sum(s in text for text in haystack) == 1), None)


KEYWORD_NOTE = ("Keyword queries made from the documents themselves: each query is the nouns (content words) "
                "of one sentence of one document, in that document's language, and that document is the only "
                "one counted relevant. Other documents with the same words count as misses; the words are the "
                "document's own, which favours lexical models such as BM25.")


def keyword_query(sentence: str, language: str = "en", min_terms: int = 2, max_terms: int = 8) -> str | None:
    """A keyword query from one sentence: its nouns (Korean: Kiwi, Chinese: jieba) or content
    words, in dictionary form as the analyzer gives them; None with fewer than ``min_terms``."""
    from .embedders.analyzers import keywords

    words = keywords(sentence, language)[:max_terms]
    return " ".join(words) if len(words) >= min_terms else None


def generate_keyword_set(documents: Sequence[Document], n: int = 100, seed: int = 0,
                         min_terms: int = 2) -> EvalSet:
    """Up to ``n`` keyword known-item queries: a sentence that appears in one document only, its
    nouns as the query, that document the only relevant one. Same documents and seed, same set."""
    docs = list(documents)
    haystack = [d.full_text for d in docs]

    def pick(i: int) -> str | None:
        sentence = _unique_sentence(docs[i], haystack, random.Random(f"{seed}/{docs[i].id}"), min_words=1)
        return keyword_query(sentence, _language(docs[i]), min_terms) if sentence else None

    queries, qrels = _known_items(docs, n, seed, "kw", pick)
    return EvalSet(queries=queries, qrels=qrels, generated=True, note=KEYWORD_NOTE)


def generate_eval_set_llm(documents: Sequence[Document], n: int = 20, *, model: str,
                          base_url: str | None = None, api_key: str | None = None, client=None,
                          seed: int = 0, max_chars: int = 4000,
                          progress: Callable[[int, int], None] | None = None) -> EvalSet:
    """Queries written by a chat model (any OpenAI-compatible endpoint), one per sampled document.

    ``client`` is an ``openai.OpenAI``-like object; without it one is made from ``base_url`` and
    ``api_key``. Documents are sampled in the same order as :func:`generate_eval_set`.
    ``progress(done, total)`` is called after each document.
    """
    if client is None:
        from openai import OpenAI

        client = OpenAI(base_url=base_url, api_key=api_key or "not-needed")
    docs = list(documents)
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    order = _sample_order(len(docs), seed)[:n]
    for done, i in enumerate(order, start=1):
        query = _ask_for_query(client, model, docs[i].full_text[:max_chars])
        if query:
            qid = f"llm-{len(queries):04d}"
            queries[qid], qrels[qid] = query, {docs[i].id: 1}
        if progress:
            progress(done, len(order))
    note = (f"Queries written by {model}, one per sampled document (doc2query; prompt: {_PROMPT.strip()!r}); "
            "that document is the only one counted relevant. Generated, not judged by people: other documents "
            "may answer a query too.")
    return EvalSet(queries=queries, qrels=qrels, generated=True, note=note)


_PROMPT = ("Write one realistic search query that a person would type to find the document below. "
           "Do not copy whole sentences from it. Reply with the query only.\n\nDocument:\n")


def _ask_for_query(client, model: str, text: str) -> str:
    reply = client.chat.completions.create(model=model, temperature=0,
                                           messages=[{"role": "user", "content": _PROMPT + text}])
    content = reply.choices[0].message.content or ""
    return content.strip().strip('"').strip()


def write_beir(eval_set: EvalSet, queries_path: str | Path, qrels_path: str | Path) -> None:
    """BEIR files (queries.jsonl, qrels TSV with header) that ``documents.load_eval_set`` reads back."""
    with open(queries_path, "w", encoding="utf-8") as f:
        for qid, text in eval_set.queries.items():
            meta = {"generated": eval_set.generated, "note": eval_set.note}
            f.write(json.dumps({"_id": qid, "text": text, "metadata": meta}, ensure_ascii=False) + "\n")
    with open(qrels_path, "w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for qid, docs in eval_set.qrels.items():
            f.writelines(f"{qid}\t{doc}\t{rel}\n" for doc, rel in docs.items())


_WORD = re.compile(r"\w+", re.UNICODE)
_SPACES = re.compile(r"[ \t]{2,}")


def set_kind(eval_set: EvalSet | None) -> str:
    """What kind of queries a set holds, in words, for the verdict's basis line."""
    if eval_set is None:
        return "no queries"
    if not eval_set.generated:
        return "judged queries"
    note = (eval_set.note or "").lower()
    for key, kind in (("inverse cloze", "inverse-cloze queries"), ("written by", "LLM-written queries"),
                      ("keyword", "generated keyword queries")):
        if key in note:
            return kind
    return "generated known-item queries"


def lexical_overlap(eval_set: EvalSet | None, ds) -> float | None:
    """Mean over queries of the share of a query's words found verbatim in its relevant documents' text.

    Near 1 means the queries were copied from the answers: a keyword model finds them by construction."""
    if not eval_set:
        return None
    texts = {d.id: d.full_text.lower() for d in ds.documents}  # what the models embed: title + text
    shares = []
    for qid, judged in eval_set.qrels.items():
        words = _WORD.findall(eval_set.queries.get(qid, "").lower())
        relevant = [texts[d] for d, rel in judged.items() if rel > 0 and d in texts]
        if not words or not relevant:
            continue
        vocab = set(_WORD.findall(" ".join(relevant)))
        shares.append(sum(w in vocab for w in words) / len(words))
    return sum(shares) / len(shares) if shares else None


ICT_NOTE = ("Inverse cloze: each query is one sentence of a document, and that sentence is removed from the document "
            "for this evaluation, so a model has to find the answer from the surrounding context rather than from "
            "copied words. The document is the only one counted relevant.")


def generate_inverse_cloze(documents: Sequence[Document], n: int = 100, seed: int = 0,
                           ) -> tuple[list[Document], EvalSet]:
    """Up to ``n`` inverse-cloze queries and the documents to evaluate them on.

    A sampled document gives one sentence (6–40 words, once in it and in no other document) as the query; the
    returned documents are the input with that sentence cut out of its document and every other document
    unchanged, so only the chunks of the changed documents can differ, and only those are embedded again."""
    from dataclasses import replace

    docs = list(documents)
    haystack = [d.full_text for d in docs]

    def pick(i: int) -> str | None:
        doc = docs[i]
        sentence = _unique_sentence(doc, haystack, random.Random(f"ict/{seed}/{doc.id}"))
        if not sentence or doc.full_text.count(sentence) != 1:  # a second copy would still be there to match
            return None
        rest = _SPACES.sub(" ", doc.text.replace(sentence, "", 1)).strip()  # line breaks kept
        if len(rest.split()) < 5:  # something must be left to find it by
            return None
        docs[i] = replace(doc, text=rest)
        return sentence

    queries, qrels = _known_items(docs, n, seed, "ict", pick)
    return docs, EvalSet(queries=queries, qrels=qrels, generated=True, note=ICT_NOTE)

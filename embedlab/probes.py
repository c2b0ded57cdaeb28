"""Deeper looks at a model than retrieval scores: similarity, languages, robustness, local structure,
and eval sets made from the user's own documents.

Probes take an ``Embedder`` (dense or sparse alike) or plain vectors and return plain numbers.
Symmetric tasks (STS, bitext, perturbations) encode both sides with ``encode_queries``: e5-style models
were trained with the ``query:`` prefix on both sides of symmetric pairs, and MTEB does the same.
"""

from __future__ import annotations

import random
import re
import string
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from sklearn.preprocessing import normalize

from .documents import Document, EvalSet
from .embedders.base import Embedder, similarity

# -- shared vector helpers ------------------------------------------------------------------------


def _unit(vectors):
    """Rows scaled to length 1 (dense or sparse), so inner products are cosines."""
    return normalize(vectors, norm="l2")


def _paired_cosine(a, b) -> np.ndarray:
    a, b = _unit(a), _unit(b)
    if hasattr(a, "multiply"):
        return np.asarray(a.multiply(b).sum(axis=1)).ravel()
    return np.sum(a * b, axis=1)


def _cosine_blocks(queries, docs, block: int = 512):
    """Yield (start, cosine block) so an n×n matrix is never held at once."""
    queries, docs = _unit(queries), _unit(docs)
    for start in range(0, queries.shape[0], block):
        yield start, similarity(queries[start : start + block], docs)


def _lines(path: str | Path) -> list[str]:
    # Newlines only: str.splitlines would also split inside a sentence at U+2028, U+0085 or form feeds.
    lines = Path(path).read_text(encoding="utf-8").replace("\r\n", "\n").split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


# -- STS ------------------------------------------------------------------------------------------


def load_sts_tsv(path: str | Path) -> tuple[list[tuple[str, str]], list[float]]:
    """STS-B file: genre, file, year, id, score, s1, s2[, extra fields]. Tabs only: sentences hold
    stray quotes, so a CSV reader would merge lines."""
    pairs, gold = [], []
    for line in _lines(path):
        fields = line.split("\t")
        if len(fields) < 7:
            continue
        pairs.append((fields[5], fields[6]))
        gold.append(float(fields[4]))
    return pairs, gold


def sts_spearman(embedder: Embedder, pairs: Sequence[tuple[str, str]], gold: Sequence[float]) -> float:
    """Spearman correlation of pair cosines with human scores (MTEB's STS main score)."""
    from scipy.stats import spearmanr

    left = embedder.encode_queries([a for a, _ in pairs])
    right = embedder.encode_queries([b for _, b in pairs])
    return float(spearmanr(_paired_cosine(left, right), gold).statistic)


# -- bitext mining --------------------------------------------------------------------------------


def load_parallel(directory: str | Path, lang: str) -> tuple[list[str], list[str]]:
    """Tatoeba-style pair of files ``tatoeba.<lang>-eng.<lang>`` / ``.eng``; line i translates line i."""
    base = Path(directory) / f"tatoeba.{lang}-eng"
    src = _lines(base.with_name(base.name + f".{lang}"))
    eng = _lines(base.with_name(base.name + ".eng"))
    if len(src) != len(eng):
        raise ValueError(f"{base}: {len(src)} {lang} lines but {len(eng)} English lines")
    return src, eng


def bitext_mining(embedder: Embedder, src: Sequence[str], tgt: Sequence[str]) -> dict[str, float]:
    """For each source sentence, its nearest target by cosine; the right one is at the same index.

    ``f1`` is MTEB's BitextMining f1: sklearn's support-weighted f1 over target indices as classes.
    ``gap`` is mean true-pair cosine minus mean cosine over all mismatched pairs: how far apart the
    model keeps translations from unrelated sentences, even when it ranks them right.
    """
    from sklearn.metrics import accuracy_score, f1_score

    s, t = embedder.encode_queries(list(src)), embedder.encode_queries(list(tgt))
    n = len(src)
    predicted, true_sum, all_sum = np.empty(n, dtype=int), 0.0, 0.0
    for start, block in _cosine_blocks(s, t):
        predicted[start : start + len(block)] = block.argmax(axis=1)  # first index wins a tie
        true_sum += float(np.diagonal(block, offset=start).sum())
        all_sum += float(block.sum())
    gold = np.arange(n)
    mismatched = (all_sum - true_sum) / max(n * n - n, 1)
    return {"accuracy": float(accuracy_score(gold, predicted)),
            "f1": float(f1_score(gold, predicted, average="weighted", zero_division=0)),
            "gap": true_sum / n - mismatched, "n": n}


# -- perturbations --------------------------------------------------------------------------------

# Common English words, each pair usable both ways. Small on purpose: no network, no WordNet.
_PAIRS = """big large|small little|fast quick|begin start|end finish|buy purchase|help assist|show display|
make create|get obtain|use utilize|need require|try attempt|answer reply|ask inquire|choose select|
build construct|find locate|keep retain|give provide|often frequently|maybe perhaps|many numerous|
enough sufficient|hard difficult|easy simple|smart clever|happy glad|sad unhappy|rich wealthy|old aged|
new recent|right correct|wrong incorrect|near close|far distant|job occupation|car automobile|house home|
kid child|shop store|street road|picture photo|movie film|talk speak|look glance|think believe|want desire|
like enjoy|fix repair|rise increase|fall decrease|quickly rapidly|about approximately|shut seal|
important crucial|idea notion|error mistake|method approach|result outcome|problem issue|
show reveal|study examine|cause trigger|effect impact|large huge|reduce lower|role function"""
SYNONYMS: dict[str, str] = {}
for _pair in _PAIRS.replace("\n", "").split("|"):
    _a, _b = _pair.split()
    SYNONYMS.setdefault(_a, _b)
    SYNONYMS.setdefault(_b, _a)

_WORD = re.compile(r"[A-Za-z]+")


def _edit_words(text: str, rng: random.Random, pick: Callable[[str], bool],
                change: Callable[[str, random.Random], str], share: float) -> str:
    """Change about ``share`` of the words that ``pick`` accepts (at least one)."""
    spans = [m.span() for m in _WORD.finditer(text) if pick(m.group())]
    if not spans:
        return text
    chosen = sorted(rng.sample(spans, max(1, round(len(spans) * share))), reverse=True)
    for a, b in chosen:  # right to left keeps earlier spans valid
        text = text[:a] + change(text[a:b], rng) + text[b:]
    return text


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    op = rng.choice(("swap", "drop", "double"))
    if op == "swap" and word[i] != word[i + 1]:  # swapping "ee" would change nothing
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + word[i + 1 :] if op == "drop" else word[:i] + word[i] + word[i:]


def _synonym(word: str, rng: random.Random) -> str:
    other = SYNONYMS[word.lower()]
    return other.capitalize() if word[0].isupper() else other


def _casing(text: str, rng: random.Random) -> str:
    options = [f(text) for f in (str.lower, str.upper, str.title) if f(text) != text]
    return rng.choice(options) if options else text


def _punctuation(text: str, rng: random.Random) -> str:
    # Removing all punctuation is what noisy input (chat, OCR, search boxes) looks like.
    stripped = text.translate(str.maketrans("", "", string.punctuation))
    return stripped if stripped != text else text + "!"


def _word_order(text: str, rng: random.Random) -> str:
    words = text.split()  # whitespace is collapsed to single spaces
    if len(words) < 2:
        return text
    for _ in range(max(1, len(words) // 10)):
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


_PERTURB: dict[str, Callable[[str, random.Random], str]] = {
    "typo": lambda t, r: _edit_words(t, r, lambda w: len(w) >= 4, _typo, 0.1),
    "casing": _casing,
    "punctuation": _punctuation,
    "word_order": _word_order,
    "synonym": lambda t, r: _edit_words(t, r, lambda w: w.lower() in SYNONYMS, _synonym, 0.2),
}
KINDS = tuple(_PERTURB)


def perturb(text: str, kind: str, rng: random.Random) -> str:
    """One noisy variant of ``text``; the same ``rng`` state gives the same result."""
    if kind not in _PERTURB:
        raise ValueError(f"unknown perturbation {kind!r} — known: {', '.join(KINDS)}")
    return _PERTURB[kind](text, rng)


def perturbation_robustness(embedder: Embedder, texts: Sequence[str], kinds: Sequence[str] = KINDS,
                            seed: int = 0, k: int = 10) -> list[dict]:
    """Per kind: how close a perturbed text stays to its original, and whether it still finds it.

    ``mean_cosine``: cosine between perturbed and original, both encoded as queries.
    ``topk_survival``: the perturbed text as a query against the original texts as documents; the
    fraction whose own original is in the top ``k`` (ties count in its favour). We chose this over
    top-k set overlap because it is what a user feels: does a noisy query still find its passage.
    The row ``kind="none"`` is the unperturbed baseline (below 1.0 when query and document encodings
    differ). ``changed`` is the fraction of texts the perturbation actually altered. Sparse models
    like BM25 must be ``fit`` on a corpus first.
    """
    texts = list(texts)
    originals_q, docs = embedder.encode_queries(texts), embedder.encode_documents(texts)
    rows = [_robustness_row("none", originals_q, originals_q, docs, k, 0.0)]
    for kind in kinds:
        # A generator per text: one text's result does not depend on the others in the list.
        noisy = [perturb(t, kind, random.Random(f"{seed}/{kind}/{i}")) for i, t in enumerate(texts)]
        changed = sum(a != b for a, b in zip(noisy, texts, strict=True)) / max(len(texts), 1)
        rows.append(_robustness_row(kind, embedder.encode_queries(noisy), originals_q, docs, k, changed))
    return rows


def _robustness_row(kind: str, noisy, originals, docs, k: int, changed: float) -> dict:
    survived = 0
    for start, block in _cosine_blocks(noisy, docs):
        own = block[np.arange(len(block)), np.arange(start, start + len(block))]
        survived += int(((block > own[:, None]).sum(axis=1) < k).sum())
    n = noisy.shape[0]
    return {"kind": kind, "mean_cosine": float(_paired_cosine(noisy, originals).mean()) if n else 0.0,
            "topk_survival": survived / n if n else 0.0, "changed": changed, "n": n}


# -- local structure ------------------------------------------------------------------------------


def neighbourhood_purity(vectors, labels: Sequence, k: int = 10) -> float:
    """Mean fraction of each point's k nearest neighbours (cosine, itself excluded) sharing its label."""
    labels = np.asarray(labels)
    n = len(labels)
    k = min(k, n - 1)
    if k < 1:
        return float("nan")
    total = 0.0
    for start, block in _cosine_blocks(vectors, vectors):
        block = np.array(block, dtype=np.float64)
        block[np.arange(len(block)), np.arange(start, start + len(block))] = -np.inf
        nearest = np.argpartition(-block, k - 1, axis=1)[:, :k]
        total += float((labels[nearest] == labels[start : start + len(block), None]).sum())
    return total / (n * k)


def trustworthiness(vectors, coords2d, k: int = 10, max_points: int = 2000, seed: int = 0,
                    metric: str = "euclidean") -> float:
    """How far a 2-D map's neighbourhoods can be trusted (1.0 = no false neighbours), via sklearn.

    Euclidean by default: embedder vectors are unit length, so euclidean neighbours are cosine
    neighbours; pass ``metric="cosine"`` for raw sparse weights. Above ``max_points`` a fixed-seed
    sample keeps the O(n²) distance matrices small; ``k`` shrinks to sklearn's limit (< n/2).
    """
    from sklearn.manifold import trustworthiness as sk_trust

    n = vectors.shape[0]
    if n > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))
        vectors, coords2d = vectors[keep], np.asarray(coords2d)[keep]
        n = max_points
    k = min(k, (n - 1) // 2)
    if k < 1:
        return float("nan")
    return float(sk_trust(vectors, np.asarray(coords2d), n_neighbors=k, metric=metric))


# -- eval sets from the user's own documents ------------------------------------------------------

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
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for i in _sample_order(len(docs), seed):
        if len(queries) >= n:
            break
        doc = docs[i]
        query = doc.title.strip() if _distinct_title(doc, titles[i], title_counts) else None
        query = query or _unique_sentence(doc, haystack, random.Random(f"{seed}/{doc.id}"))
        if query:
            qid = f"gen-{len(queries):04d}"
            queries[qid], qrels[qid] = query, {doc.id: 1}
    return EvalSet(queries=queries, qrels=qrels, generated=True, note=GENERATED_NOTE)


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


def _unique_sentence(doc: Document, haystack: list[str], rng: random.Random) -> str | None:
    sentences = [s.strip() for s in _SENTENCE_END.split(doc.text) if 6 <= len(s.split()) <= 40]
    rng.shuffle(sentences)
    # Boilerplate (disclaimers, headers) repeats across documents: a single relevant doc would be wrong.
    return next((s for s in sentences if sum(s in text for text in haystack) == 1), None)


def generate_eval_set_llm(documents: Sequence[Document], n: int = 20, *, model: str,
                          base_url: str | None = None, api_key: str | None = None, client=None,
                          seed: int = 0, max_chars: int = 4000) -> EvalSet:
    """Queries written by a chat model (any OpenAI-compatible endpoint), one per sampled document.

    ``client`` is an ``openai.OpenAI``-like object; without it one is made from ``base_url`` and
    ``api_key``. Documents are sampled in the same order as :func:`generate_eval_set`.
    """
    if client is None:
        from openai import OpenAI

        client = OpenAI(base_url=base_url, api_key=api_key or "not-needed")
    docs = list(documents)
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for i in _sample_order(len(docs), seed)[:n]:
        query = _ask_for_query(client, model, docs[i].full_text[:max_chars])
        if query:
            qid = f"llm-{len(queries):04d}"
            queries[qid], qrels[qid] = query, {docs[i].id: 1}
    note = (f"Queries written by {model}, one per sampled document; that document is the only one counted "
            "relevant. Generated, not judged by people: other documents may answer a query too.")
    return EvalSet(queries=queries, qrels=qrels, generated=True, note=note)


_PROMPT = ("Write one realistic search query that a person would type to find the document below. "
           "Do not copy whole sentences from it. Reply with the query only.\n\nDocument:\n")


def _ask_for_query(client, model: str, text: str) -> str:
    reply = client.chat.completions.create(model=model, temperature=0,
                                           messages=[{"role": "user", "content": _PROMPT + text}])
    content = reply.choices[0].message.content or ""
    return content.strip().strip('"').strip()

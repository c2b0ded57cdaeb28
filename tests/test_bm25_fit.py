"""BM25's fit computes its corpus statistics from token ids (bm25s' own, remapped) and language
detection settles Latin-script texts without a per-character loop: both must give exactly what the
term-by-term definitions give. Real bm25s, real stemmer, real fastText."""

from __future__ import annotations

from collections import Counter

import numpy as np

from embedlab import language
from embedlab.embedders.bm25 import BM25Embedder

MIXED = [
    "The committee met on Tuesday to discuss the new budget for the public library.",
    "Libraries and librarians: the library's budget was discussed by the committee.",
    "나는 어제 학교에 갔습니다. 그리고 도서관에서 친구를 만났어요.",
    "我们今天在图书馆讨论了新的预算，然后去学校见了朋友。",
    "私たちは今日図書館で新しい予算について話し合いました。",
    "Der Ausschuss traf sich am Dienstag, um den neuen Haushalt der Bibliothek zu besprechen.",
    "", "12345 ... !!!", "the the the of and",
    "The committee met on Tuesday to discuss the new budget for the public library.",
]


def _reference(emb: BM25Embedder, texts: list[str]):
    """Vocabulary, idf and average length from the terms themselves, as the definitions read."""
    terms = emb._terms(texts, "document", emb._fit_codes(texts))
    vocab = {t: i for i, t in enumerate(sorted({t for doc in terms for t in doc}))}
    df = Counter(t for doc in terms for t in set(doc))
    n = len(texts)
    idf = np.array([np.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in vocab])
    return vocab, idf, float(np.mean([len(d) for d in terms]))


def test_fit_statistics_equal_the_term_by_term_definitions():
    for lang in ("auto", "en", "ngram"):
        emb = BM25Embedder(language=lang)
        emb.fit(MIXED)
        vocab, idf, avgdl = _reference(BM25Embedder(language=lang), MIXED)
        assert emb.vocab == vocab, lang
        assert np.allclose(emb.idf, idf, rtol=0, atol=1e-12) and emb.avgdl == avgdl, lang
        # a document's vector is the same whether its tokens were kept from the fit or analyzed again
        kept = emb.encode_documents(MIXED).toarray()
        again = emb.encode_documents(MIXED).toarray()  # the fit's tokens are used once, then re-analyzed
        assert np.array_equal(kept, again), lang
    emb = BM25Embedder()
    emb.fit(MIXED)
    scores = (emb.encode_queries(["library budget"]) @ emb.encode_documents(MIXED).T).toarray()[0]
    assert scores[0] > 0 and scores[1] > 0 and scores[2] == 0 and scores[0] == scores[-1]


def test_script_rules_answer_as_the_character_loop():
    texts = [*MIXED, "ㄱㄴㄷ", "カタカナ and English words here", "English text with one 字", "x" * 2100 + "학교",
             "學校 school", "a" * 1999 + "学", "Ελληνικά κείμενα", "— … ·", "\u3400\u4dbf", "\u30fc\u30fc"]
    for t in texts:
        assert language._script(t) == language._script_by_counts(t[:2000]), t


def test_snowball_analyzers_give_bm25s_tokenizer_terms_token_for_token():
    """``analyzers`` splits, drops stop words and stems each distinct word once; bm25s' own Tokenizer
    (the reference, run here) does it token by token. The terms must be the same, in order, including
    the empty term bm25s gives a text left with none, for ASCII and non-ASCII texts alike."""
    import bm25s
    import Stemmer

    from embedlab.embedders import analyzers

    texts = [*MIXED, "   ", "a b c", "x1 22 __ a_b I/O e.g. U.S.A", "running runs ran Runner",
             "Ünïcödé wörds straße STRASSE Éducation élève", "Привет мир и все", "α-helix β2 TNF-α",
             "tab\tsep\x1cfs\x85nel\xa0nbsp"]
    for code in ("en", "de", "fr", "ru", "fi"):
        stem = Stemmer.Stemmer(analyzers.SNOWBALL[code]).stemWord
        ref = bm25s.tokenization.Tokenizer(stemmer=stem, stopwords=code if code in analyzers.STOPWORDS else None)
        want = ref.tokenize(texts, update_vocab=True, return_as="string", show_progress=False)
        assert analyzers.analyze(code, texts) == want, code
        flat, lens, names = analyzers.analyze_ids(code, texts)
        assert [names[i] for i in flat] == [t for doc in want for t in doc] and lens.tolist() == [len(d) for d in want]

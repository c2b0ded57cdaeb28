"""Languages: detection at load, BM25's analyzer per language, model coverage, per-language metrics,
generated queries in the corpus's language. Real detector, real Kiwi / jieba, real BM25."""

from __future__ import annotations

import json

import pytest
from conftest import SAMPLE, SHARED

from embedlab import catalog, evalgen, language
from embedlab.chunking import Chunking
from embedlab.documents import Document, load_paths, load_uploads
from embedlab.embedders import UnknownEmbedderError, canonical_id, get_embedder
from embedlab.embedders.bm25 import BM25Embedder
from embedlab.workspace import Workspace

PARALLEL = SHARED / "parallel"
TEXTS = {
    "en": "The committee met on Tuesday to discuss the new budget for the public library.",
    "ko": "나는 어제 학교에 갔습니다. 그리고 도서관에서 친구를 만났어요.",
    "zh": "我们今天在图书馆讨论了新的预算，然后去学校见了朋友。",
    "ja": "私たちは今日図書館で新しい予算について話し合いました。",
    "de": "Der Ausschuss traf sich am Dienstag, um den neuen Haushalt der Bibliothek zu besprechen.",
    "fr": "Le comité s'est réuni mardi pour discuter du nouveau budget de la bibliothèque.",
}


def _upload():
    files = [(f"{code}.txt", text.encode()) for code, text in TEXTS.items()]
    rows = [{"id": "row-ko", "text": "회의는 화요일에 열렸습니다."},
            {"id": "row-en", "text": "The meeting was on Tuesday."}]
    files.append(("mixed.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()))
    return load_uploads(files)


def test_every_uploaded_document_gets_its_language():
    result = _upload()
    got = {d.id: d.meta["language"] for d in result.documents}
    for code in TEXTS:
        assert got[next(i for i in got if i.startswith(code))] == code, got
    assert got["row-ko"] == "ko" and got["row-en"] == "en"
    shares = language.language_shares(result.documents)
    assert shares["ko"] == pytest.approx(2 / 8) and shares["en"] == pytest.approx(2 / 8)
    assert list(shares)[:2] in (["en", "ko"], ["ko", "en"])  # largest first
    assert "Korean 25 %" in language.describe_shares(shares)


def test_language_is_stored_with_the_dataset(tmp_path):
    result = _upload()
    ws = Workspace(tmp_path)
    ds = ws.add_dataset(result.documents, Chunking(0, 0), name="mixed")
    again = Workspace(tmp_path).load_dataset(ds.key)
    assert {d.id: d.meta["language"] for d in again.documents} == {d.id: d.meta["language"] for d in result.documents}


def test_a_given_language_is_kept_and_textless_documents_are_undetermined():
    docs = language.with_languages([Document("a", "", "Hello there, friend", {"language": "fr"}),
                                    Document("b", "", "12345 -- 678")])
    assert [d.meta["language"] for d in docs] == ["fr", language.UNDETERMINED]


def test_english_sample_is_all_english(sample_docs):
    assert language.language_shares(sample_docs.documents) == {"en": 1.0}
    stored_before = [Document(d.id, d.title, d.text) for d in sample_docs.documents[:20]]  # no meta language
    assert language.language_shares(stored_before) == {"en": 1.0}


def _terms(emb, text, kind="query"):
    return emb._terms([text], kind)[0]


def test_auto_bm25_picks_an_analyzer_per_document_and_per_query():
    emb = BM25Embedder()
    emb.fit(list(TEXTS.values()))
    assert set(emb.shares) == set(TEXTS)
    assert emb.settings()["analyzer"].startswith("auto: ") and "ko 17 %" in emb.settings()["analyzer"]
    assert "Kiwi morphemes" in emb.tokenizer_name and "jieba" in emb.tokenizer_name
    # each query in its own language: a Korean query loses its particle, an English one is stemmed
    assert _terms(emb, "학교에") == ["학교"]
    assert _terms(emb, "libraries") == ["librari"]
    assert _terms(emb, "图书馆") == ["图书馆"]
    assert _terms(emb, "図書館で") == ["図書", "書館", "館で"]  # Japanese (kana): character bigrams
    assert _terms(emb, "図書館") == ["図", "書館"]  # Han alone reads as Chinese: jieba
    assert _terms(emb, "Bibliotheken") == ["bibliothek"]  # German stemmer


def test_korean_particles_match_only_with_the_korean_analyzer():
    docs = ["나는 어제 학교에 갔습니다.", "우리는 공원에서 산책했어요.", "그는 병원에 입원했다."]
    for model, hit in (("bm25", True), ("bm25:ko", True), ("bm25:en", False)):
        emb = BM25Embedder(language=model.partition(":")[2] or "auto")
        emb.fit(docs)
        scores = (emb.encode_queries(["학교"]) @ emb.encode_documents(docs).T).toarray()[0]
        assert (scores[0] > 0) == hit, (model, scores)


def test_english_corpus_is_analyzed_exactly_as_before(sample_docs):
    import bm25s
    import Stemmer

    texts = [d.full_text for d in sample_docs.documents[:200]]
    emb = BM25Embedder()
    emb.fit(texts)
    assert emb.shares == {"en": 1.0} and emb.analyzer == "auto: en 100 %"
    ref = bm25s.tokenization.Tokenizer(stemmer=Stemmer.Stemmer("english").stemWord, stopwords="en")
    assert emb._terms(texts) == ref.tokenize(texts, update_vocab=True, return_as="string", show_progress=False)


def test_explicit_analyzers_and_their_ids():
    assert canonical_id("bm25:ko") == "bm25:ko" and canonical_id("BM25:EN") == "bm25:en"
    with pytest.raises(UnknownEmbedderError):
        canonical_id("bm25:klingon")
    ko, auto = get_embedder("bm25:ko"), get_embedder("bm25")
    assert ko.language == "ko" and auto.language == "auto"
    assert ko.settings()["analyzer"] == "ko" and ko.settings() != auto.settings()
    assert _terms(BM25Embedder(language="ngram"), "สวัสดีครับ") == ["สวั", "วัส", "ัสด", "สดี", "ดีค", "ีคร", "ครั", "รับ"]
    assert catalog.get_card("bm25:ko").languages == ("ko",)


def test_coverage_warning_for_an_english_only_model_on_korean_documents():
    shares = {"ko": 0.7, "en": 0.3}
    warnings = language.coverage_warnings(["minilm", "e5-small", "bm25", "model2vec", "hybrid:minilm+bm25"], shares)
    assert len(warnings) == 1 and warnings[0].startswith("minilm ") and "Korean (70%)" in warnings[0]
    assert language.coverage_warnings(["minilm", "glove-50d"], {"en": 0.97, "ko": 0.03}) == []  # under 5 %
    assert any("bm25:en" in w for w in language.coverage_warnings(["bm25:en", "bm25:ko"], shares))
    assert not any("bm25:ko " in w for w in language.coverage_warnings(["bm25:ko"], {"ko": 1.0}))
    assert catalog.model_languages("minilm") == ("en",) and "ko" in catalog.model_languages("e5-small")
    assert catalog.card_rows([catalog.get_card("minilm")])[0]["languages"] == "en"


def test_per_language_metrics_with_intervals():
    per_query = {"a": {"q1": {"ndcg@10": 1.0}, "q2": {"ndcg@10": 0.8}, "q3": {"ndcg@10": 0.0}, "q4": {"ndcg@10": 0.2}},
                 "b": {"q1": {"ndcg@10": 0.5}, "q2": {"ndcg@10": 0.5}, "q3": {"ndcg@10": 0.9}, "q4": {"ndcg@10": 1.0}}}
    table = language.per_language_metrics(per_query, {"q1": "en", "q2": "en", "q3": "ko", "q4": "ko"})
    assert set(table) == {"en", "ko"}
    mean, low, high = table["en"]["a"]
    assert mean == pytest.approx(0.9) and low <= mean <= high
    assert (low, high) == (pytest.approx(0.8), pytest.approx(1.0))
    assert table["ko"]["b"][0] == pytest.approx(0.95) and table["ko"]["a"][0] == pytest.approx(0.1)


def test_query_language_comes_from_its_relevant_documents():
    from embedlab.documents import EvalSet

    docs = language.with_languages([Document("k", "", TEXTS["ko"]), Document("e", "", TEXTS["en"])])
    ev = EvalSet({"q1": "도서관", "q2": "budget", "q3": "としょかん"}, {"q1": {"k": 1}, "q2": {"e": 1}, "q3": {"x": 1}})
    assert language.query_languages(ev, docs) == {"q1": "ko", "q2": "en", "q3": "ja"}


def test_sentences_and_keyword_queries_in_korean_and_chinese():
    assert evalgen.split_sentences("학교에 갔습니다 그리고 친구를 만났어요 정말 좋았어요", "ko") == [
        "학교에 갔습니다", "그리고 친구를 만났어요", "정말 좋았어요"]  # Kiwi splits even without full stops
    assert evalgen.split_sentences("我去了学校。我见了朋友！你呢？", "zh") == ["我去了学校。", "我见了朋友！", "你呢？"]
    assert evalgen.keyword_query("나는 어제 도서관에서 친구를 만났어요.", "ko") == "도서관 친구"
    assert evalgen.keyword_query("我们在图书馆讨论了新的预算", "zh") == "图书馆 讨论 预算"
    assert evalgen.keyword_query("The committee met to discuss the library budget.", "en") == \
        "committee met discuss library budget"


def test_generated_known_item_queries_for_chinese_documents():
    docs = language.with_languages(
        [Document(f"d{i}", "", f"第{i}号文件的内容。我们在第{i}个图书馆讨论了新的预算和学校的计划。"
                               "然后大家一起去吃饭。") for i in range(5)])
    ev = evalgen.generate_eval_set(docs, n=5)
    assert len(ev.queries) == 5  # whitespace-word counts gave Chinese no sentence of 6-40 words before
    kw = evalgen.generate_keyword_set(docs, n=5)
    assert kw.queries and all(" " in q for q in kw.queries.values())


def test_english_generated_set_is_unchanged(sample_docs):
    ev = evalgen.generate_eval_set(load_paths([SAMPLE]).documents, n=20)
    assert len(ev.queries) == 20 and all(len(q.split()) >= 2 for q in ev.queries.values())


def test_tatoeba_sentences_are_detected():
    kor = (PARALLEL / "tatoeba.kor-eng.kor").read_text("utf-8").splitlines()[:200]
    spa = (PARALLEL / "tatoeba.spa-eng.spa").read_text("utf-8").splitlines()[:200]
    assert all(language.detect(s) == "ko" for s in kor)
    assert sum(language.detect(s) == "es" for s in spa) >= 190


def test_detection_survives_control_characters_and_lone_surrogates():
    assert language.detect("\x00\x01" + TEXTS["en"]) == "en"
    assert language.detect("ab\udc80cd " + TEXTS["en"]) == "en"
    assert language.detect("\x00\x00 12 34") == language.UNDETERMINED


def test_ranked_asks_fasttext_once_per_text(monkeypatch):
    """BM25 refits after every added file: a chunk's language is detected once per process."""
    from embedlab import language

    text = "The committee will meet again on Thursday to review the library's budget for next year (memo test)."
    first = language.ranked(text, k=1)
    real, calls = language._fasttext(), []

    class Counting:
        def predict(self, sample, k):
            calls.append(sample)
            return real.predict(sample, k=k)

    monkeypatch.setattr(language, "_fasttext", lambda: Counting())
    assert language.ranked(text, k=1) == first and calls == []
    assert language.ranked(text + " And the week after.", k=1)[0][0] == "en" and len(calls) == 1
    assert language.ranked(text, k=3) and len(calls) == 2  # another k is another question


def test_a_trace_of_a_language_reads_under_one_percent_not_zero():
    got = language.describe_shares({"en": 0.996, "de": 0.004}, top=1)
    assert got == "English 100 %, other <1 %"
    assert language.describe_shares({"en": 0.996, "de": 0.004}) == "English 100 %, German <1 %"

"""The HTML report is self-contained and shows hostile document text as text."""

import re

from embedlab.chunking import Chunking, chunk_documents
from embedlab.comparison import Comparison
from embedlab.documents import Document, EvalSet
from embedlab.explore import Result
from embedlab.report import render_report
from embedlab.workspace import Dataset

SCRIPT = "<script>alert(1)</script>"
HOSTILE = f"{SCRIPT} <img src=x onerror=alert(2)> [x](javascript:alert(3)) </table></div>"


def _report(include_plotlyjs=True) -> str:
    docs = [Document("evil", f"Title {SCRIPT}", HOSTILE), Document("ok", "Plain", "nothing to see here")]
    chunking = Chunking(0, 0)
    ds = Dataset("k" * 24, "hostile", docs, chunk_documents(docs, chunking), chunking,
                 EvalSet({"q1": f"query {SCRIPT}"}, {"q1": {"evil": 1}}))
    metrics = {"ndcg@10": 0.5, "recall@10": 1.0, "recall@100": 1.0, "mrr@10": 0.5}
    evil_model = "st:</script><script>alert(4)</script>"
    comp = Comparison("A" * 24, ds.key, [{"id": "bm25", "options": {}}, {"id": evil_model, "options": {}}],
                      name=f"name {SCRIPT}", created="2026-01-01T00:00:00+00:00", chunking=chunking.to_dict(),
                      results={"bm25": {"status": "done", "metrics": metrics, "embed_seconds": 1.5, "chunks": 2},
                               evil_model: {"status": "done", "metrics": metrics}})
    hit = Result("bm25", 1, 0, "evil", docs[0].title, docs[0].full_text, 3.2, True, 1)
    return render_report(comp, ds, {f"query {SCRIPT}": {"bm25": [hit]}}, include_plotlyjs)


def test_document_text_is_escaped_everywhere():
    html = _report()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert" not in html and "</script><script>alert(4)" not in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    assert 'href="javascript' not in html.lower()
    # The only script tags are plotly.js itself and the chart call.
    assert len(re.findall(r"<script>", html)) == 2


def test_report_is_self_contained():
    html = _report()
    assert html.startswith("<!doctype html>") and html.rstrip().endswith("</html>")
    assert "Plotly.newPlot" in html and "<script src" not in html  # plotly.js inline: opens offline
    for section in ("Models", "Retrieval quality", "Costs and latency", "Example searches", "Corpus"):
        assert f"<h2>{section}" in html
    assert "relevant" in html and "0.5000" in html


def test_report_without_chart_is_small():
    html = _report(include_plotlyjs=False)
    assert "<script" not in html and len(html) < 50_000


def test_report_opens_with_the_verdict_escaped():
    from embedlab import recommend, verdict

    evil = "st:</script><script>alert(4)</script>"
    per_query = {"bm25": {f"q{i}": {"ndcg@10": 1.0 if i % 4 else 0.0} for i in range(60)},
                 evil: {f"q{i}": {"ndcg@10": 0.0 if i % 4 else 0.5} for i in range(60)}}
    v = verdict.compare(per_query)
    facts = recommend.RunFacts(generated=True, set_kind="generated known-item queries", lexical_overlap=0.95)
    opts = recommend.options(v, {}, 1000, 2)
    j = recommend.Judgement(v, tuple(opts), recommend.recommend(v, opts, facts), facts)
    docs = [Document("d", "t", "text")]
    chunking = Chunking(0, 0)
    ds = Dataset("k" * 24, "x", docs, chunk_documents(docs, chunking), chunking, EvalSet({"q0": "q"}, {"q0": {"d": 1}}))
    comp = Comparison("B" * 24, ds.key, [{"id": "bm25", "options": {}}, {"id": evil, "options": {}}], name="n",
                      chunking=chunking.to_dict())
    html = render_report(comp, ds, None, include_plotlyjs=False, judgement=j)
    assert html.index("Recommendation") < html.index("<h2>Models</h2>")
    assert "Use bm25" in html and "Tiers on ndcg@10 (60 queries)" in html
    assert "95%" in html and "favours keyword models" in html  # the lexical-overlap caveat
    assert "</script><script>alert(4)" not in html and "&lt;/script&gt;&lt;script&gt;alert(4)" in html
    assert len(re.findall(r"<script>", html)) == 0

"""Every supported format loads with the right id, title and text; BEIR folders give an eval set."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import docx
import pytest
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from embedlab.documents import (
    Document,
    Limits,
    csv_columns,
    load_eval_set,
    load_paths,
    load_uploads,
)

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "scifact"


def pdf_bytes(pages: list[str], title: str | None = None) -> bytes:
    """A real PDF with one Helvetica text line per page (pypdf has no text-drawing API)."""
    writer = PdfWriter()
    font = writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"),
    }))
    for text in pages:
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})})
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 12 Tf 72 700 Td ({text}) Tj ET".encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
    if title:
        writer.add_metadata({"/Title": title})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx_bytes(paragraphs: list[str], title: str = "", table: list[list[str]] | None = None) -> bytes:
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    document.core_properties.title = title
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def one(result, name: str) -> Document:
    docs = [d for d in result.documents if d.meta.get("source") == name]
    assert len(docs) == 1, (name, result.documents, result.skipped)
    return docs[0]


def test_plain_text_uses_file_name_as_id_and_stem_as_title(tmp_path):
    (tmp_path / "meeting notes.txt").write_text("Line one.\r\nLine two.\n", encoding="utf-8")
    result = load_paths([tmp_path / "meeting notes.txt"])
    doc = one(result, "meeting notes.txt")
    assert (doc.id, doc.title, doc.text) == ("meeting notes.txt", "meeting notes", "Line one.\nLine two.")
    assert doc.full_text == "meeting notes Line one.\nLine two."
    assert result.loaded == [("meeting notes.txt", 1)] and result.skipped == [] and result.eval_set is None


def test_markdown_title_is_first_heading_else_stem(tmp_path):
    (tmp_path / "a.md").write_text("# Vector search\n\nMilvus stores *vectors*.\n## More\ntext\n")
    (tmp_path / "b.md").write_text("No heading here, just text.\n")
    result = load_paths([tmp_path / "a.md", tmp_path / "b.md"])
    a, b = one(result, "a.md"), one(result, "b.md")
    assert a.title == "Vector search" and a.text.startswith("Milvus stores *vectors*.") and "## More" in a.text
    assert (b.title, b.text) == ("b", "No heading here, just text.")


def test_html_title_and_visible_text_only(tmp_path):
    html = (b"<!doctype html><html><head><title>Release notes</title><style>p{color:red}</style></head>"
            b"<body><h1>Version 2</h1><script>alert('x')</script><p>Faster &amp; smaller.</p></body></html>")
    (tmp_path / "page.html").write_bytes(html)
    doc = one(load_paths([tmp_path / "page.html"]), "page.html")
    assert doc.title == "Release notes"
    assert "Version 2" in doc.text and "Faster & smaller." in doc.text
    assert "alert" not in doc.text and "color" not in doc.text


def test_pdf_pages_joined_and_title_from_metadata(tmp_path):
    (tmp_path / "paper.pdf").write_bytes(pdf_bytes(["First page text", "Second page text"], "A Study"))
    (tmp_path / "untitled.pdf").write_bytes(pdf_bytes(["Only page"]))
    result = load_paths([tmp_path / "paper.pdf", tmp_path / "untitled.pdf"])
    paper = one(result, "paper.pdf")
    assert paper.title == "A Study" and paper.text == "First page text\n\nSecond page text"
    assert paper.meta["pages"] == 2
    assert one(result, "untitled.pdf").title == "untitled"


def test_docx_paragraphs_tables_and_title(tmp_path):
    data = docx_bytes(["Intro paragraph.", "Second paragraph."], "Handbook", table=[["k", "v"], ["a", "1"]])
    (tmp_path / "hb.docx").write_bytes(data)
    (tmp_path / "plain.docx").write_bytes(docx_bytes(["Just text."]))
    result = load_paths([tmp_path / "hb.docx", tmp_path / "plain.docx"])
    hb = one(result, "hb.docx")
    assert hb.title == "Handbook"
    assert hb.text.startswith("Intro paragraph.\nSecond paragraph.") and "k\tv" in hb.text and "a\t1" in hb.text
    assert (one(result, "plain.docx").title, one(result, "plain.docx").text) == ("plain", "Just text.")


CSV = (
    b"id,title,abstract,year\n"
    b"d1,Short A,A long abstract about dense retrieval models,2020\n"
    b"d2,Short B,Another long abstract about sparse retrieval,2021\n"
    b"d3,Short C,,2022\n"
)


def test_csv_auto_picks_longest_text_column_and_uses_id_and_title():
    result = load_uploads([("papers.csv", CSV)])
    assert [d.id for d in result.documents] == ["d1", "d2"]
    first = result.documents[0]
    assert (first.title, first.text) == ("Short A", "A long abstract about dense retrieval models")
    assert first.meta["text_column"] == "abstract"
    assert result.loaded == [("papers.csv", 2)]
    assert any("1 rows with an empty 'abstract'" in s.reason for s in result.skipped)


def test_csv_column_choice_and_columns_listing():
    assert csv_columns("papers.csv", CSV) == ["id", "title", "abstract", "year"]
    assert csv_columns("x.jsonl", b'{"_id": "1", "text": "t", "lang": "en"}\n') == ["_id", "text", "lang"]
    assert csv_columns("broken.csv", b"\x89PNG\r\n\x1a\n\x00\x00") == []
    chosen = load_uploads([("papers.csv", CSV)], text_column="title", title_column="year")
    assert [(d.title, d.text) for d in chosen.documents] == [("2020", "Short A"), ("2021", "Short B"),
                                                             ("2022", "Short C")]
    missing = load_uploads([("papers.csv", CSV)], text_column="body")
    assert missing.documents == [] and "column 'body' not found" in missing.skipped[0].reason
    assert "id, title, abstract, year" in missing.skipped[0].reason


def test_tsv_and_semicolon_csv_without_id_column():
    tsv = b"name\tdescription\nx\tThe first description, with commas, in it\ny\tSecond one; semicolons\n"
    semi = b"label;body\nA;Body text with, commas\nB;More body text\n"
    result = load_uploads([("t.tsv", tsv), ("s.csv", semi)])
    assert [(d.id, d.text) for d in result.documents] == [
        ("t.tsv#1", "The first description, with commas, in it"), ("t.tsv#2", "Second one; semicolons"),
        ("s.csv#1", "Body text with, commas"), ("s.csv#2", "More body text"),
    ]


def test_json_and_jsonl_records():
    records = [{"_id": "a", "title": "T1", "text": "first"}, {"id": 7, "text": "second"}]
    jsonl = "\n".join(json.dumps(r) for r in records).encode()
    as_list = json.dumps([{"id": "x", "title": "TX", "text": "from list"}, "bare string doc"]).encode()
    wrapped = json.dumps({"documents": [{"id": "w", "text": "wrapped"}]}).encode()
    single = json.dumps({"title": "Solo", "text": "one object"}).encode()
    result = load_uploads([("r.jsonl", jsonl), ("l.json", as_list), ("w.json", wrapped), ("s.json", single)])
    got = [(d.id, d.title, d.text) for d in result.documents]
    assert got == [
        ("a", "T1", "first"), ("r.jsonl#2", "", "second"), ("x", "TX", "from list"),
        ("l.json#2", "", "bare string doc"), ("w", "", "wrapped"), ("s.json#1", "Solo", "one object"),
    ]


def write_beir(root: Path) -> Path:
    (root / "qrels").mkdir(parents=True)
    corpus = [{"_id": f"d{i}", "title": f"Doc {i}", "text": f"text of document {i}", "metadata": {}}
              for i in range(5)]
    (root / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in corpus) + "\n")
    queries = [{"_id": "q1", "text": "what is doc 1"}, {"_id": "q2", "text": "doc 3?"},
               {"_id": "q9", "text": "a training query"}]
    (root / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries) + "\n")
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t2\nq2\td4\t1\n")
    (root / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\nq9\td0\t1\n")
    (root / "README.md").write_text("# About this dataset\n")
    return root


def test_beir_folder_gives_documents_and_eval_set_for_the_split(tmp_path):
    root = write_beir(tmp_path / "tiny")
    result = load_paths([root])
    assert [d.id for d in result.documents] == ["d0", "d1", "d2", "d3", "d4"]
    assert result.documents[1].full_text == "Doc 1 text of document 1"
    ev = result.eval_set
    assert ev.queries == {"q1": "what is doc 1", "q2": "doc 3?"}  # q9 has no test judgments
    assert ev.qrels == {"q1": {"d1": 1}, "q2": {"d3": 2, "d4": 1}} and not ev.generated
    assert "2 queries with judgments" in ev.note
    reasons = {s.name: s.reason for s in result.skipped}
    assert "not part of the BEIR dataset" in reasons["tiny/README.md"]
    assert "split 'train'" in reasons["tiny/qrels/train.tsv"]
    train = load_paths([root], split="train").eval_set
    assert train.queries == {"q9": "a training query"} and train.qrels == {"q9": {"d0": 1}}


def test_beir_as_zip_upload_and_as_loose_uploads(tmp_path):
    root = write_beir(tmp_path / "tiny")
    members = {f"tiny/{p.relative_to(root).as_posix()}": p.read_bytes() for p in sorted(root.rglob("*"))
               if p.is_file()}
    zipped = load_uploads([("tiny.zip", zip_bytes(members))])
    from_dir = load_paths([root])

    def content(result):
        ev = result.eval_set
        return [(d.id, d.title, d.text) for d in result.documents], ev.queries, ev.qrels

    assert content(zipped) == content(from_dir)
    loose = load_uploads([("corpus.jsonl", (root / "corpus.jsonl").read_bytes()),
                          ("queries.jsonl", (root / "queries.jsonl").read_bytes()),
                          ("test.tsv", (root / "qrels" / "test.tsv").read_bytes())])
    assert content(loose) == content(from_dir)
    assert ("queries.jsonl", 0) in loose.loaded and ("test.tsv", 0) in loose.loaded


def test_lone_judgments_file_is_used_unless_named_for_another_split():
    queries = b'{"_id": "q1", "text": "query one"}\n'
    neutral = load_uploads([("queries.jsonl", queries), ("my-qrels.tsv", b"q1\td1\t1\n")])
    assert neutral.eval_set.qrels == {"q1": {"d1": 1}}
    other = load_uploads([("queries.jsonl", queries), ("qrels/train.tsv", b"q1\td1\t1\n")])
    assert other.eval_set is None
    reasons = {s.name: s.reason for s in other.skipped}
    assert reasons["qrels/train.tsv"] == "relevance judgments for split 'train', not the 'test' split used here"
    assert "without relevance judgments for split 'test'" in reasons["queries.jsonl"]


@pytest.mark.skipif(not (SCIFACT / "corpus.jsonl").exists(), reason="shared SciFact copy not present")
def test_scifact_matches_the_published_counts():
    result = load_paths([SCIFACT])
    assert len(result.documents) == 5183
    assert len(result.eval_set.queries) == 300 and sum(len(r) for r in result.eval_set.qrels.values()) == 339
    assert sum(len(q) for q in result.eval_set.queries.values()) == 27_104  # MTEB descriptive stats
    # MTEB counts 7,771,451 characters of title + " " + text; two abstracts hold five C1 control
    # characters (mojibake: \x96, \x94, \x82, ...) that cleaning removes on purpose.
    assert sum(len(d.full_text) for d in result.documents) == 7_771_451 - 5


def test_zip_of_mixed_files_and_subfolders():
    members = {
        "bundle/readme.md": b"# Bundle\nwhat is inside",
        "bundle/sub/notes.txt": "caf\u00e9 notes".encode("latin-1"),
        "bundle/sub/paper.pdf": pdf_bytes(["pdf inside zip"]),
        "bundle/table.csv": b"id,body\nr1,row one text\n",
        "bundle/letter.docx": docx_bytes(["Dear team"]),
        "bundle/page.htm": b"<html><title>P</title><body>html inside</body></html>",
    }
    result = load_uploads([("bundle.zip", zip_bytes(members))])
    got = {d.id: (d.title, d.text) for d in result.documents}
    assert got == {
        "bundle.zip/bundle/readme.md": ("Bundle", "what is inside"),
        "bundle.zip/bundle/sub/notes.txt": ("notes", "café notes"),
        "bundle.zip/bundle/sub/paper.pdf": ("paper", "pdf inside zip"),
        "r1": ("", "row one text"),
        "bundle.zip/bundle/letter.docx": ("letter", "Dear team"),
        "bundle.zip/bundle/page.htm": ("P", "html inside"),
    }
    assert result.skipped == [] and len(result.loaded) == 6


def test_uploads_equal_paths_on_the_same_content(tmp_path):
    files = {
        "a.txt": b"alpha text", "b.md": b"# Bee\nbody", "c.csv": CSV, "d.pdf": pdf_bytes(["delta"]),
        "e.docx": docx_bytes(["echo"]), "f.html": b"<title>F</title><p>fox</p>",
        "g.jsonl": b'{"_id": "g1", "text": "golf"}\n', "h.zip": zip_bytes({"in/h.txt": b"hotel"}),
        "bad.txt": b"\x00\x01\x02\x03\x04\x05" * 20,
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    from_paths = load_paths([tmp_path / name for name in files])
    from_uploads = load_uploads(list(files.items()))
    assert from_uploads == from_paths
    assert len(from_paths.documents) == 9 and [s.name for s in from_paths.skipped[-1:]] == ["bad.txt"]


def test_folder_walk_is_sorted_and_names_are_relative(tmp_path):
    root = tmp_path / "docs"
    (root / "z").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: main")
    (root / "b.txt").write_text("bee")
    (root / "a.txt").write_text("ay")
    (root / "z" / "c.txt").write_text("sea")
    result = load_paths([root])
    assert [d.id for d in result.documents] == ["docs/a.txt", "docs/b.txt", "docs/z/c.txt"]
    assert [(s.name, s.reason) for s in result.skipped] == [("docs/.git", "hidden folder, not read")]


def test_duplicate_ids_get_stable_suffixes():
    data = b'{"_id": "x", "text": "one"}\n{"_id": "x", "text": "two"}\n{"_id": "x~2", "text": "three"}\n'
    first = load_uploads([("a.jsonl", data), ("x", b"a file called x")])
    second = load_uploads([("a.jsonl", data), ("x", b"a file called x")])
    ids = [d.id for d in first.documents]
    assert ids == ["x", "x~2", "x~2~2", "x~3"] and ids == [d.id for d in second.documents]


def test_load_eval_set_from_paths_and_bytes(tmp_path):
    (tmp_path / "q.tsv").write_text("query-id\ttext\nq1\tfirst query\nq2\tsecond query\nq3\tunjudged\n")
    (tmp_path / "r.tsv").write_text("q1\td1\t1\nq2\td2\t0\nq2\td3\t2\n")  # no header
    ev = load_eval_set(tmp_path / "q.tsv", str(tmp_path / "r.tsv"))
    assert ev.queries == {"q1": "first query", "q2": "second query"}
    assert ev.qrels == {"q1": {"d1": 1}, "q2": {"d2": 0, "d3": 2}}
    trec = load_eval_set(b'{"_id": "1", "text": "x"}\n', b"1 0 doc7 3\n")
    assert trec.qrels == {"1": {"doc7": 3}} and trec.queries == {"1": "x"}
    with pytest.raises(ValueError, match="none of the 1 judged queries"):
        load_eval_set(b'{"_id": "other", "text": "x"}\n', b"1\tdoc\t1\n")


def test_long_document_is_cut_with_a_reason():
    result = load_uploads([("long.txt", b"word " * 1000)], limits=Limits(max_doc_chars=100))
    assert len(result.documents[0].text) == 100 and result.documents[0].meta["cut"] is True
    assert result.loaded == [("long.txt", 1)]
    assert "cut to that length (Limits.max_doc_chars)" in result.skipped[0].reason

"""Bad uploads: each one is skipped with a reason a person can act on (or loads correctly), the good
files in the same batch still load, and nothing ever raises."""

from __future__ import annotations

import codecs
import io
import json
import random
import struct
import time
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfWriter
from test_documents import pdf_bytes  # tests/ is on sys.path (pytest rootdir conftest)

from embedlab.documents import Limits, Skipped, clean_name, load_paths, load_uploads

RNG = random.Random(1234)
RANDOM = bytes(RNG.getrandbits(8) for _ in range(4096))
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00>\x00\x01\x00\x00\x00" + RANDOM[:200]
GOOD = [("good.txt", b"A perfectly normal document."), ("good.md", b"# Fine\nMarkdown that loads.")]


def pdf_of(*, pages: int = 1, user_password: str | None = None, owner_password: str | None = None) -> bytes:
    if pages and not (user_password or owner_password):
        return pdf_bytes(["x"] * pages)
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(100, 100)
    if user_password is not None or owner_password:
        writer.encrypt(user_password or "", owner_password=owner_password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def zip_of(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return out.getvalue()


def owner_only_pdf_with_text() -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(pdf_bytes(["readable despite encryption"])))
    writer.encrypt("", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


TEXT = "Zoë's café serves crème brûlée and naïve piñatas."

# (name, bytes, expected): ("skip", words in the reason) or ("text", the loaded text)
CASES = [
    ("zero.txt", b"", ("skip", "empty file (0 bytes)")),
    ("blank.md", b"  \n\t\r\n   ", ("skip", "only whitespace")),
    ("png.txt", PNG + RANDOM[:300], ("skip", "binary file (looks like a PNG image), not text")),
    ("elf.md", ELF, ("skip", "looks like an ELF executable")),
    ("random.txt", RANDOM, ("skip", "binary data, not text")),
    ("random.pdf", RANDOM, ("skip", "named .pdf but is not a PDF: binary data")),
    ("photo.pdf", PNG + RANDOM[:100], ("skip", "looks like a PNG image")),
    ("text.pdf", b"<html>403 Forbidden</html>", ("skip", "named .pdf but holds plain text")),
    ("gz.txt", b"\x1f\x8b\x08\x00" + RANDOM[:100], ("skip", "gzip archive (upload a .zip instead)")),
    ("db.csv", b"SQLite format 3\x00" + RANDOM[:200], ("skip", "SQLite database")),
    ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + RANDOM[:200], ("skip", "old Microsoft Office file")),
    ("tarball.txt", b"a.txt".ljust(257, b"\x00") + b"ustar\x0000" + bytes(200), ("skip", "tar archive")),
    ("zero-pages.pdf", pdf_of(pages=0), ("skip", "PDF with no pages")),
    ("corrupt.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >>\n" + RANDOM[:500],
     ("skip", "PDF")),
    ("truncated.pdf", pdf_bytes(["cut short"])[:60], ("skip", "PDF")),
    ("locked.pdf", pdf_of(user_password="secret"), ("skip", "password-protected PDF")),
    ("owner-only.pdf", owner_only_pdf_with_text(), ("text", "readable despite encryption")),
    ("junk.docx", zip_of({"junk.bin": RANDOM[:500], "x.txt": b"not word"}),
     ("skip", "not a readable Word .docx")),
    ("text.docx", b"just text pretending", ("skip", "named .docx but holds plain text")),
    ("sheet.zip", zip_of({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"<w/>"}), ("skip", "Excel")),
    ("utf16-bom.txt", codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), ("text", TEXT)),
    ("utf16be-bom.txt", codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), ("text", TEXT)),
    ("utf16-nobom.txt", TEXT.encode("utf-16-le"), ("text", TEXT)),
    ("utf16be-nobom.md", TEXT.encode("utf-16-be"), ("text", TEXT)),
    ("utf8-bom.txt", codecs.BOM_UTF8 + TEXT.encode(), ("text", TEXT)),
    ("latin1.txt", TEXT.encode("latin-1"), ("text", TEXT)),
    ("cp1252.txt", "“Smart quotes” – and a dash…".encode("cp1252"), ("text", "“Smart quotes” – and a dash…")),
    ("mixed.txt", "naïve in UTF-8; ".encode() + "café in latin-1".encode("latin-1"),
     ("text", "naïve in UTF-8; café in latin-1")),
    ("control.txt", b"keep\ttabs\nand lines\x01\x02\x07 but not \x1b\x7fbells",
     ("text", "keep\ttabs\nand lines but not bells")),
    ("nul.txt", b"some\x00 text with a few\x00 NULs in a longer line of ordinary prose", ("text",
     "some text with a few NULs in a longer line of ordinary prose")),
    ("padded.txt", b"written before the crash" + bytes(5000), ("text", "written before the crash")),
    ("crlf.md", b"# Title\r\nline one\r\nline two\rline three", ("text", "line one\nline two\nline three")),
    ("numbers.csv", b"a,b,c\n1,2,3\n4.5,6,7\n", ("skip", "no text column")),
    ("ids-only.csv", b"id,_id\nx1,y1\nx2,y2\n", ("skip", "no text column")),
    ("header-only.csv", b"title,body\n", ("skip", "no rows")),
    ("broken.json", b'{"text": "unterminated', ("skip", "not valid JSON")),
    ("all-broken.jsonl", b"{nope\n[1,2]\n42\n", ("skip", "none of the 3 lines is a JSON record")),
    ("scripts.html", b"<html><script>var a=1;</script><style>b{}</style></html>", ("skip", "no visible text")),
    ("rtf.txt", b"{\\rtf1\\ansi hello}", ("skip", "RTF document")),
    ("about-pdf.txt", b"Every PDF starts with %PDF-1.x in its header.", ("text", "starts with %PDF-1.x")),
    ("queries.jsonl", b'{"_id": "q1", "text": "lonely query"}\n', ("skip", "without relevance judgments")),
    ("x" * 1000 + ".txt", b"very long name", ("text", "very long name")),
    ("日本語 ファイル ✓ ñ.md", "本文です".encode(), ("text", "本文です")),
    ("evil\n\x00name\t.txt", b"name with control characters", ("text", "name with control characters")),
    ("../../etc/passwd", b"root:x:0:0 uploaded under a path-like name", ("text", "root:x:0:0")),
]


def check(result, name: str, expected) -> None:
    shown = clean_name(name)
    kind, words = expected
    if kind == "skip":
        reasons = [s.reason for s in result.skipped if s.name == shown]
        assert reasons and any(words in r for r in reasons), (name, reasons, result.skipped)
        assert not any(d.meta.get("source") == shown for d in result.documents)
    else:
        docs = [d for d in result.documents if d.meta.get("source") == shown]
        assert len(docs) == 1 and words in docs[0].text, (name, docs, result.skipped)


@pytest.mark.parametrize("case", CASES, ids=[c[0][:40].replace("\n", "\\n") for c in CASES])
def test_each_bad_file_is_explained_and_good_files_still_load(case):
    name, data, expected = case
    result = load_uploads([GOOD[0], (name, data), GOOD[1]])
    check(result, name, expected)
    assert {d.id for d in result.documents} >= {"good.txt", "good.md"}


def test_the_whole_hostile_corpus_in_one_batch(tmp_path):
    assert len(CASES) >= 30
    batch = GOOD + [(name, data) for name, data, _ in CASES]
    result = load_uploads(batch)
    for name, _, expected in CASES:
        check(result, name, expected)
    assert {"good.txt", "good.md"} <= {d.id for d in result.documents}
    ids = [d.id for d in result.documents]
    assert len(ids) == len(set(ids))
    assert all(len(n) <= 200 for n, _ in result.loaded) and all(len(s.name) <= 200 for s in result.skipped)


def test_control_characters_never_reach_the_text():
    nasty = "ok" + "".join(map(chr, range(32))) + "\x7f\x85\ufeff end"
    result = load_uploads([("c.jsonl", json.dumps({"text": nasty, "title": "t\x00"}).encode())])
    doc = result.documents[0]
    # \r and form feed are line breaks; the other controls, DEL, C1 (\x85) and the BOM are dropped.
    assert doc.text == "ok\t\n\n\n end" and doc.title == "t"


def test_jsonl_broken_lines_are_counted_and_the_rest_kept():
    lines = [json.dumps({"_id": f"d{i}", "text": f"doc {i}"}) for i in range(5)]
    lines[1] = '{"_id": "d1", "text": '  # cut off
    lines[3] = "not json at all"
    result = load_uploads([("part.jsonl", "\n".join(lines).encode()), GOOD[0]])
    assert [d.id for d in result.documents] == ["d0", "d2", "d4", "good.txt"]
    assert ("part.jsonl", 3) in result.loaded
    assert result.skipped == [
        Skipped("part.jsonl", "2 of 5 lines skipped: not valid JSON records (line 2, 4); "
                "the other 3 loaded")
    ]


def test_a_single_50_mb_line_loads_quickly():
    line = b"token " * (50 * 1024 * 1024 // 6)
    start = time.perf_counter()
    result = load_uploads([("one-line.txt", line), GOOD[0]])
    print(f"50 MB line: {time.perf_counter() - start:.1f} s")  # measured, not asserted
    doc = result.documents[0]
    assert len(doc.text) == len(line) - 1 and "\n" not in doc.text  # trailing space stripped
    cut = load_uploads([("one-line.txt", line[:3_000_000])], limits=Limits(max_doc_chars=1_000_000))
    assert len(cut.documents[0].text) == 1_000_000
    assert "cut to that length" in cut.skipped[0].reason


def test_oversized_file_is_refused_before_reading(tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 5000)
    result = load_paths([big, tmp_path / "missing.txt"], limits=Limits(max_file_bytes=1000))
    assert result.skipped == [
        Skipped("big.txt", "file is 4.9 KB, over the 1000 bytes limit per file "
                "(Limits.max_file_bytes)"),
        Skipped("missing.txt", "not found"),
    ]


def test_zip_bomb_by_ratio_is_refused_from_the_header():
    bomb = zip_of({"bomb.txt": b"\x00" * (20 * 1024 * 1024), "ok.txt": b"survivor"})
    assert len(bomb) < 100_000
    start = time.perf_counter()
    result = load_uploads([("bomb.zip", bomb)])
    print(f"zip bomb refused in {time.perf_counter() - start:.2f} s")  # refused from the header: see reason
    reason = {s.name: s.reason for s in result.skipped}["bomb.zip/bomb.txt"]
    assert "over the 100:1 limit (Limits.max_zip_ratio): looks like a zip bomb" in reason
    assert [d.text for d in result.documents] == ["survivor"]


def test_total_size_limit_stops_reading_more():
    members = {f"part{i}.txt": (f"part {i} " * 200).encode() for i in range(5)}  # ~1.6 KB each
    result = load_uploads([("parts.zip", zip_of(members)), ("after.txt", b"x" * 100)],
                          limits=Limits(max_total_bytes=4000))
    # 3.2 KB read after two parts: the third would pass 4,000 bytes, a 100-byte file still fits.
    assert [d.id for d in result.documents] == ["parts.zip/part0.txt", "parts.zip/part1.txt", "after.txt"]
    refused = [s for s in result.skipped if "total size limit reached" in s.reason]
    assert [s.name for s in refused] == ["parts.zip/part2.txt", "parts.zip/part3.txt", "parts.zip/part4.txt"]


def lie_about_size(data: bytes, member: str, size: int) -> bytes:
    """Rewrite a member's uncompressed size in both its local and central headers."""
    buf = bytearray(data)
    name = member.encode()
    local = buf.find(b"PK\x03\x04")
    while local != -1:
        (name_len,) = struct.unpack_from("<H", buf, local + 26)
        if buf[local + 30: local + 30 + name_len] == name:
            struct.pack_into("<I", buf, local + 22, size)
        local = buf.find(b"PK\x03\x04", local + 4)
    central = buf.find(b"PK\x01\x02")
    while central != -1:
        (name_len,) = struct.unpack_from("<H", buf, central + 28)
        if buf[central + 46: central + 46 + name_len] == name:
            struct.pack_into("<I", buf, central + 24, size)
        central = buf.find(b"PK\x01\x02", central + 4)
    return bytes(buf)


def test_header_that_lies_about_size_is_caught_while_reading():
    honest = zip_of({"liar.txt": b"A" * (8 * 1024 * 1024), "ok.txt": b"fine"})
    lying = lie_about_size(honest, "liar.txt", 1000)  # passes the ratio check from the header
    result = load_uploads([("lying.zip", lying)])
    reason = {s.name: s.reason for s in result.skipped}["lying.zip/liar.txt"]
    assert "damaged zip member" in reason or "unpacks to more than" in reason
    assert [d.text for d in result.documents] == ["fine"]


def test_nested_zips_beyond_the_depth_limit():
    level3 = zip_of({"deep.txt": b"too deep"})
    level2 = zip_of({"l3.zip": level3, "two.txt": b"level two"})
    level1 = zip_of({"l2.zip": level2, "one.txt": b"level one"})
    result = load_uploads([("l1.zip", level1)])
    assert [d.text for d in result.documents] == ["level two", "level one"]
    assert result.skipped == [Skipped(
        "l1.zip/l2.zip/l3.zip", "zip nested 3 levels deep; the limit is 2 (Limits.max_zip_depth)")]


def test_unsafe_member_paths_are_refused():
    members = {"../../etc/passwd": b"root:x:0:0", "/etc/passwd": b"root", "..\\..\\win.ini": b"[x]",
               "C:/boot.ini": b"[boot]", "fine/ok.txt": b"safe member"}
    result = load_uploads([("evil.zip", zip_of(members))])
    assert [d.id for d in result.documents] == ["evil.zip/fine/ok.txt"]
    reasons = {s.name: s.reason for s in result.skipped}
    assert "points outside the archive" in reasons["evil.zip/../../etc/passwd"]
    assert "points outside the archive" in reasons["evil.zip/..\\..\\win.ini"]
    assert "is absolute" in reasons["evil.zip//etc/passwd"] and "is absolute" in reasons["evil.zip/C:/boot.ini"]


def test_odd_zip_members_and_broken_zips():
    link = zipfile.ZipInfo("link.txt")
    link.external_attr = 0o120777 << 16
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(link, "/etc/shadow")
        zf.writestr("__MACOSX/._ok.txt", b"\x00\x05\x16\x07")
        zf.writestr("ok.txt", "kept")
        zf.writestr("locked.txt", "secret")
    data = bytearray(out.getvalue())
    central = data.find(b"PK\x01\x02", data.find(b"locked.txt") - 60)
    while data[central + 46: central + 56] != b"locked.txt":
        central = data.find(b"PK\x01\x02", central + 4)
    data[central + 8] |= 0x1  # mark the member encrypted, as a password-protected zip does
    result = load_uploads([("odd.zip", bytes(data)), ("empty.zip", zip_of({})),
                           ("broken.zip", b"PK\x03\x04" + RANDOM[:300])])
    reasons = {s.name: s.reason for s in result.skipped}
    assert [d.text for d in result.documents] == ["kept"]
    assert reasons["odd.zip/link.txt"] == "symbolic link inside the zip, not a file"
    assert "operating-system metadata" in reasons["odd.zip/__MACOSX/._ok.txt"]
    assert reasons["odd.zip/locked.txt"] == "password-protected zip member"
    assert reasons["empty.zip"] == "empty zip archive (no files inside)"
    assert reasons["broken.zip"].startswith("not a readable zip archive")


def test_100k_tiny_files_hit_the_file_limit():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for i in range(100_000):
            zf.writestr(f"t/{i}.txt", b"tiny")
    start = time.perf_counter()
    result = load_uploads([("many.zip", out.getvalue()), GOOD[0]])
    print(f"100k-file zip: {time.perf_counter() - start:.1f} s")  # speed is measured, not asserted
    assert len(result.documents) == 20_000
    assert result.skipped == [
        Skipped("many.zip", "80,000 more files in this zip not read: the limit is 20,000 files "
                "per load (Limits.max_files)"),
        Skipped("good.txt", "not read: the limit is 20,000 files per load (Limits.max_files)"),
    ]


# Starts of real formats, so generated inputs reach the PDF, zip and UTF-16 code paths too.
PREFIXES = [b"", b"%PDF-1.4\n", b"PK\x03\x04", b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf", PNG, b"{", b"<html>"]
NAMES = st.builds(lambda stem, ext: stem + ext, st.text(max_size=30),
                  st.sampled_from(["", ".txt", ".md", ".pdf", ".docx", ".csv", ".tsv", ".json", ".jsonl",
                                   ".html", ".zip", ".png", "/queries.jsonl", "/qrels/test.tsv"]))
CONTENTS = st.one_of(
    st.binary(max_size=3000),
    st.builds(lambda p, b: p + b, st.sampled_from(PREFIXES), st.binary(max_size=1000)),
    st.text(max_size=500).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.lists(st.tuples(NAMES, st.binary(max_size=300)), max_size=5).map(lambda m: zip_of(dict(m))),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(NAMES, CONTENTS), max_size=6))
def test_load_uploads_never_raises_and_accounts_for_every_input(files):
    result = load_uploads(files)
    accounted = [name for name, _ in result.loaded] + [s.name for s in result.skipped]
    for name, _ in files:
        shown = clean_name(name)
        assert any(a == shown or a.startswith(shown + "/") for a in accounted), (shown, accounted)
    ids = [d.id for d in result.documents]
    assert len(ids) == len(set(ids))
    assert all(d.text.strip() for d in result.documents)
    assert all(s.reason for s in result.skipped)

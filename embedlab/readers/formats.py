"""One-document formats: plain text, Markdown, HTML, PDF and Word."""

from __future__ import annotations

import io
import re

from embedlab.readers.model import Document, Skip, stem
from embedlab.readers.sniff import clean, decode

_ATX = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
_BLANKS = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


def short_error(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = text[:160]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def decoded_text(data: bytes) -> tuple[str, str]:
    """Decoded, cleaned text; Skip if nothing but whitespace is left."""
    text, encoding = decode(data)
    text = clean(text)
    if not text.strip():
        raise Skip("empty: the file holds only whitespace or control characters")
    return text, encoding


def _one(name: str, title: str, text: str, **meta) -> list[Document]:
    text = text.strip()
    if not text:
        raise Skip("no text found in the file")
    return [Document(id=name, title=title.strip(), text=text, meta={"source": name, **meta})]


def read_plain(name: str, data: bytes) -> list[Document]:
    text, encoding = decoded_text(data)
    return _one(name, stem(name), text, format="text", encoding=encoding)


def read_markdown(name: str, data: bytes) -> list[Document]:
    text, encoding = decoded_text(data)
    heading = _ATX.search(text)
    title = heading.group(1) if heading else stem(name)
    if heading and not text[: heading.start()].strip():
        # The heading became the title; keeping it in text too would make full_text repeat it.
        text = text[heading.end() :]
        if not text.strip():
            text = title
    return _one(name, title, text, format="markdown", encoding=encoding)


def read_html(name: str, data: bytes) -> list[Document]:
    from bs4 import BeautifulSoup

    markup, encoding = decoded_text(data)
    soup = BeautifulSoup(markup, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(["script", "style", "noscript", "template", "title", "head"]):
        tag.decompose()
    text = _BLANKS.sub("\n\n", clean(soup.get_text("\n")))
    if not text.strip():
        raise Skip("HTML page with no visible text")
    return _one(name, clean(title) or stem(name), text, format="html", encoding=encoding)


def _pdf_reader(data: bytes):
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise Skip("password-protected PDF: remove the password (or print it to a new PDF) to load it")
        return reader, len(reader.pages)
    except Skip:
        raise
    except DependencyError:
        raise Skip("encrypted PDF that needs the 'cryptography' package: pip install cryptography") from None
    except Exception as exc:  # noqa: BLE001 - hostile input: any parser error means 'skip this file'
        raise Skip(f"corrupt or unreadable PDF ({short_error(exc)})") from None


def _pdf_title(reader, name: str) -> str:
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:  # noqa: BLE001 - broken metadata must not cost the text
        title = None
    return clean(title).strip() if isinstance(title, str) and title.strip() else stem(name)


def read_pdf(name: str, data: bytes) -> tuple[list[Document], list[str]]:
    reader, n_pages = _pdf_reader(data)
    if n_pages == 0:
        raise Skip("PDF with no pages")
    texts, failed = [], 0
    for page in reader.pages:
        try:
            texts.append(clean(page.extract_text() or ""))
        except Exception:  # noqa: BLE001 - one bad page should not lose the others
            failed += 1
    text = "\n\n".join(t.strip() for t in texts if t.strip())
    if not text:
        raise Skip(f"PDF with {n_pages} page(s) but no extractable text (scanned images? run OCR first)")
    notes = [f"{failed} of {n_pages} PDF pages could not be read; the others loaded"] if failed else []
    return _one(name, _pdf_title(reader, name), text, format="pdf", pages=n_pages), notes


def read_docx(name: str, data: bytes) -> list[Document]:
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
        parts = [p.text for p in document.paragraphs]
        for table in document.tables:
            parts.extend("\t".join(cell.text for cell in row.cells) for row in table.rows)
        title = document.core_properties.title or ""
    except Exception as exc:  # noqa: BLE001 - hostile input: any parser error means 'skip this file'
        raise Skip(f"not a readable Word .docx document ({short_error(exc)})") from None
    text = _BLANKS.sub("\n\n", clean("\n".join(parts)))
    if not text.strip():
        raise Skip("Word document with no text")
    return _one(name, clean(title) or stem(name), text, format="docx")

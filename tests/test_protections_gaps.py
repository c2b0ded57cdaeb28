"""Protections that no other test noticed being removed (found by deleting each one in a copy of the
repository and running the suite): each test here fails without its protection and passes with it."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import HOSTILE
from test_documents import zip_bytes  # tests/ is on sys.path (pytest rootdir conftest)

from embedlab.documents import Document, load_uploads

GOOD = ("good.txt", b"A perfectly normal document.")


# -- 1. hostile uploads --------------------------------------------------------------------------
def test_a_docx_that_inflates_like_a_bomb_is_refused_before_the_parser_opens_it(monkeypatch):
    """archive.check_office_zip: a .docx is a zip; 20 MB of XML packed into ~20 KB never reaches python-docx."""
    from embedlab.readers import loader

    parsed = []
    real = loader.read_docx
    monkeypatch.setattr(loader, "read_docx", lambda name, data: parsed.append(name) or real(name, data))
    bomb = zip_bytes({"[Content_Types].xml": b"<Types/>", "word/document.xml": b" " * (20 * 1024 * 1024)})
    assert len(bomb) < 100_000
    result = load_uploads([("bomb.docx", bomb), GOOD])
    reason = {s.name: s.reason for s in result.skipped}["bomb.docx"]
    assert "over the 100:1 limit (Limits.max_zip_ratio): looks like a zip bomb" in reason, reason
    assert parsed == []  # refused from the zip's headers, before the Word parser inflated anything
    assert [d.id for d in result.documents] == ["good.txt"]


def test_a_reader_that_crashes_costs_only_its_own_file(monkeypatch):
    """Loader._take_all: an unexpected exception in a reader becomes that file's skip reason."""
    from embedlab.readers import loader

    def broken(name, data):
        raise RuntimeError("reader bug\nsecond line")

    monkeypatch.setattr(loader, "read_markdown", broken)
    result = load_uploads([GOOD, ("notes.md", b"# A title\nsome text"), ("after.txt", b"still read")])
    assert [d.id for d in result.documents] == ["good.txt", "after.txt"]
    assert [(s.name, s.reason) for s in result.skipped] == [
        ("notes.md", "could not be read (RuntimeError: reader bug)")]


# -- 2. rendering: document text stays text --------------------------------------------------------
def _hit_card_page(evil: str):  # run as a script of its own: the hostile text comes in as an argument
    from app_support.results import hit_card
    from embedlab.explore import Result

    hit_card(Result("bm25", 1, 0, "evil", "<b>Evil</b> [t](javascript:alert(4)) <img src=y>",
                    f"Body {evil}", 1.0, True, 2), n_models=2)


def test_top_k_hit_cards_show_hostile_titles_and_text_as_text():
    """results.hit_card (Search page top-k lists): title markdown-escaped, text as plain st.text."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_hit_card_page, args=(HOSTILE,), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    [title] = [m.value for m in at.markdown if "Evil" in m.value]
    bare = re.sub(r"\\.", "", title)  # what is left once every backslash-escaped character is removed
    assert not re.search(r"[<>\[\]()]", bare), title  # no tag, link or image can form
    assert "javascript" in title and "Evil" in title
    assert not any("<script>" in m.value or "](javascript" in m.value for m in at.markdown)
    assert any(f"Body {HOSTILE}" in t.value for t in at.text)  # the snippet, verbatim, as text


def test_map_hover_labels_escape_titles_and_text():
    """maps.hover_texts → text.hover_escape: plotly hovers understand <b>, <a href>, <br>, <img>."""
    from app_support import maps
    from embedlab.chunking import Chunking, chunk_documents

    docs = [Document("evil", '<a href="javascript:alert(5)">Evil</a>', HOSTILE)]
    ds = SimpleNamespace(documents=docs, chunks=chunk_documents(docs, Chunking(0, 0)))
    [label] = maps.hover_texts(ds, np.array([0]))
    inner = label.replace("<b>", "").replace("</b>", "").replace("<br>", "")  # the only tags we add
    assert "<" not in inner and ">" not in inner, label
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in label and "&lt;img" in label  # shown as characters
    assert label.startswith('<b>&lt;a href="javascript:alert(5)"&gt;Evil&lt;/a&gt;</b><br>'), label


# -- 6 and 8. remote endpoints: a key echoed in an error body; the server's Retry-After ------------
KEY = "sk-test-GAPS-" + "0123456789abcdef" * 2
OK_BODY = {"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.6, 0.8, 0.0]}],
           "model": "m", "usage": {"prompt_tokens": 1, "total_tokens": 1}}


class Endpoint:
    """POST /v1/embeddings answered from a script of (status, headers, body); {token} in the body
    becomes the bearer token the client sent. The last answer repeats."""

    def __init__(self, *answers):
        self.answers, self.requests = list(answers), 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers, body = outer.answers[min(outer.requests, len(outer.answers) - 1)]
                outer.requests += 1
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                payload = json.dumps(body).replace("{token}", token).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def embedder(url, waits):
    from embedlab.embedders.openai_api import OpenAIEmbedder

    emb = OpenAIEmbedder("m", base_url=url, api_key=KEY, max_retries=2)
    emb._sleep = waits.append  # record the backoff instead of sleeping it
    return emb


@pytest.mark.parametrize("status", [403, 400, 404])
def test_a_refusal_whose_body_echoes_the_key_does_not_repeat_it(status):
    """OpenAIEmbedder._describe: the server's message is shown, with the key cut out of it."""
    from embedlab.embedders import EmbedderError

    body = {"error": {"message": "key {token} may not use this model", "type": "invalid_request_error"}}
    waits = []
    with Endpoint((status, {}, body)) as srv, pytest.raises(EmbedderError) as err:
        embedder(srv.url, waits).encode_documents(["some text"])
    message = str(err.value)
    assert f"refused the request: HTTP {status}" in message and "may not use this model" in message, message
    assert KEY not in message and "***" in message
    assert srv.requests == 1 and waits == []  # a 4xx other than 429 is not retried


def test_a_rate_limit_waits_as_long_as_the_server_asks():
    """OpenAIEmbedder._wait: Retry-After wins over the shorter exponential backoff (capped)."""
    limited = (429, {"Retry-After": "7"}, {"error": {"message": "slow down", "type": "rate_limit"}})
    waits = []
    with Endpoint(limited, (429, {"Retry-After": "999"}, limited[2]), (200, {}, OK_BODY)) as srv:
        vecs = embedder(srv.url, waits).encode_documents(["some text"])
        assert srv.requests == 3
    assert waits == [7.0, 30.0]  # asked for 7 s (backoff alone: 0.5 s), then 999 s capped at MAX_WAIT_S
    np.testing.assert_allclose(vecs, [[0.6, 0.8, 0.0]], atol=1e-6)

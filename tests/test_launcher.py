"""The launcher starts UMAP's numba compile with the server, before anyone visits."""

from __future__ import annotations

import time

from browser_util import Server


def test_umap_compiles_when_the_server_starts(tmp_path):
    server = Server(tmp_path)  # healthy; no browser session has run the app script
    try:
        deadline = time.time() + 300
        while "UMAP warm-up done" not in server.log() and time.time() < deadline:
            assert server.proc.poll() is None, server.log()
            time.sleep(1)
        log = server.log()
        assert "UMAP warm-up started" in log
        assert "UMAP warm-up done" in log, log
        # Nobody ran streamlit_app.py (it would have created the sample): the server did this itself.
        assert not (tmp_path / "sample.json").exists()
    finally:
        server.stop()

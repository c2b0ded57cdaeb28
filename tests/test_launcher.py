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


_IMPORTS_FIRST = """
import sys, threading
from embedlab import projection
projection.warm_up_umap()
# The background thread only compiles: every module it needs is imported by now, in this thread.
# (Importing them there while this thread imports streamlit killed 2 of 30 launches with an
# importlib _DeadlockError.)
missing = [m for m in ("umap", "sklearn.decomposition", "embedlab.neighbours") if m not in sys.modules]
assert not missing, missing
assert any(t.name == "umap-warm-up" for t in threading.enumerate())
"""


def test_the_warm_up_imports_in_the_callers_thread():
    import subprocess
    import sys

    from conftest import ROOT

    out = subprocess.run([sys.executable, "-c", _IMPORTS_FIRST], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]

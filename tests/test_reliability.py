"""Crashes, two processes, concurrent writers, a shared Milvus server, links: real processes,
real Milvus Lite in temporary folders, ``kill -9`` — no mocks.

Rows in Milvus are read back in a fresh subprocess: Milvus Lite holds a per-process lock on its
folder, and opening it here would keep it locked for the rest of the test session.
"""

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, free_port, wait_port

from embedlab import comparison
from embedlab.chunking import Chunking
from embedlab.documents import Document
from embedlab.vectors import CONTENT_PREFIX

PROGRESS = re.compile(r"(\S+): (\d+)/(\d+) chunks")
WORDS = ("protein cell gene tumour immune virus dose patient trial brain heart lung blood risk cancer "
         "therapy mouse receptor signal enzyme vaccine sleep memory insulin").split()


def corpus(folder: Path, n_docs: int, words: int = 12) -> Path:
    """A BEIR-style corpus.jsonl whose documents are one short chunk each: N chunks, fast to embed."""
    rng = random.Random(n_docs)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "corpus.jsonl", "w") as f:
        for i in range(n_docs):
            text = " ".join(rng.choice(WORDS) for _ in range(words))
            f.write(json.dumps({"_id": f"d{i}", "title": "", "text": f"{text} (doc {i})"}) + "\n")
    return folder


def cli_args(data, models, ws, out):
    return [sys.executable, "-m", "embedlab", "evaluate", "--data", str(data), "--models", models,
            "--workspace", str(ws), "--chunk-size", "64", "--overlap", "8", "--json", str(out)]


def env(**extra):
    e = {k: v for k, v in os.environ.items() if not k.startswith("EMBEDLAB_")}
    return {**e, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(ROOT), **extra}


def run_cli(data, models, ws, out, timeout=300, **extra) -> subprocess.CompletedProcess:
    return subprocess.run(cli_args(data, models, ws, out), cwd=ROOT, env=env(**extra), capture_output=True,
                          text=True, timeout=timeout)


def result(out: Path, model: str) -> dict:
    return json.loads(Path(out).read_text())["models"][model]


class Watched:
    """A subprocess whose stderr is read as it comes (progress lines end in \\r, not \\n)."""

    def __init__(self, args, **kw):
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
        self.text = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while chunk := os.read(self.proc.stderr.fileno(), 4096):
            self.text += chunk.decode(errors="replace")

    def wait_for(self, check, timeout=240.0):
        end = time.time() + timeout
        while time.time() < end:
            if found := check(self.text):
                return found
            if self.proc.poll() is not None:
                time.sleep(0.2)  # let the reader catch up, then one last look
                if found := check(self.text):
                    return found
                raise AssertionError(f"exited {self.proc.returncode} first:\n{self.text[-3000:]}")
            time.sleep(0.01)
        raise AssertionError(f"timed out:\n{self.text[-3000:]}")

    def kill9(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


# Counts every row the query returns, so a duplicate would show up next to the set of ids.
ROWS = """
import json, sys
from embedlab.store import Store
store = Store(sys.argv[1])
out = {}
for name in store.client.list_collections():
    ids = store.existing_ids(name)
    it = store.client.query_iterator(name, batch_size=8192, filter="id >= 0", output_fields=["id"])
    rows = 0
    while batch := it.next():
        rows += len(batch)
    it.close()
    out[name] = {"ids": sorted(ids), "rows": rows}
print(json.dumps(out))
"""


def stored_rows(uri: str) -> dict:
    done = subprocess.run([sys.executable, "-c", ROWS, uri], cwd=ROOT, env=env(), capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def assert_exactly(rows: dict, name: str | None, n: int):
    """The collection holds ids 0..n-1, each once: nothing lost, nothing doubled."""
    views = [k for k in rows if not k.startswith(CONTENT_PREFIX)]  # content collections: keyed by text
    entry = rows[name] if name else rows[views[0] if len(views) == 1 else None]
    assert entry["ids"] == list(range(n))
    assert entry["rows"] == n


def lite(ws: Path) -> str:
    return str(ws / "milvus.db")


# -- 1. crashes --------------------------------------------------------------------------------
def test_kill9_after_the_first_block_then_the_rerun_resumes(tmp_path):
    data, ws, out = corpus(tmp_path / "data", 400), tmp_path / "ws", tmp_path / "out.json"
    first = Watched(cli_args(data, "minilm", ws, out), env=env())
    m = first.wait_for(lambda t: next((m for m in PROGRESS.finditer(t) if int(m[2]) >= 256), None))
    first.kill9()  # the progress line is printed after its block is upserted
    stored_before, n = int(m[2]), int(m[3])
    assert n == 400 and 256 <= stored_before < n  # blocks of 128: the kill lands before the last one

    rerun = run_cli(data, "minilm", ws, out)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    r = result(out, "minilm")
    assert r["status"] == "done" and r["chunks"] == n
    assert 0 < r["embedded_now"] <= n - stored_before
    assert_exactly(stored_rows(lite(ws)), None, n)


def test_kill9_while_the_collection_is_created_and_indexed(tmp_path):
    data, ws, out = corpus(tmp_path / "data", 300), tmp_path / "ws", tmp_path / "out.json"
    first = Watched(cli_args(data, "model2vec", ws, out), env=env())
    # The collection's schema appears on disk while create_collection builds and loads the index.
    first.wait_for(lambda t: next((ws / "milvus.db" / "collections").glob("*/schema.json"), None)
                   if (ws / "milvus.db" / "collections").exists() else None)
    first.kill9()

    rerun = run_cli(data, "model2vec", ws, out)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert result(out, "model2vec")["status"] == "done"
    assert_exactly(stored_rows(lite(ws)), None, 300)


@pytest.mark.parametrize("garbage", [b"", b'{"id": "abc', b"\xff\xfe\x00garbage", b"[]", b"null",
                                     b'{"unexpected": 1}', b"HALF"])
def test_a_damaged_manifest_raises_manifest_corrupt(tmp_path, garbage):
    from embedlab.workspace import Workspace

    ws = Workspace(tmp_path)
    ds = ws.add_dataset([Document("a", "", "some text")], Chunking(64, 8), name="m")
    comp = comparison.create(ws, ds, ["bm25"])
    path = ws.comparison_dir(comp.id) / "manifest.json"
    path.write_bytes(path.read_bytes()[:40] if garbage == b"HALF" else garbage)
    with pytest.raises(comparison.ManifestCorrupt, match=f"manifest of comparison {comp.id} is damaged"):
        comparison.load(ws, comp.id)


# -- 2. two processes on one workspace ---------------------------------------------------------
HOLD = """
import sys, time
import numpy as np
from embedlab.workspace import Workspace
store = Workspace(sys.argv[1]).store
store.ensure("held", 8, False)
store.upsert("held", range(100), np.eye(100, 8, dtype=np.float32) + 0.5)
print("ready", file=sys.stderr, flush=True)
time.sleep(600)
"""


@pytest.fixture(scope="module")
def held(tmp_path_factory):
    """Process A: holds a workspace with 100 rows in it until killed."""
    ws = tmp_path_factory.mktemp("held")
    a = Watched([sys.executable, "-c", HOLD, str(ws)], env=env())
    a.wait_for(lambda t: "ready" in t, timeout=120)
    yield ws, a, corpus(ws.parent / (ws.name + "-data"), 30)
    if a.proc.poll() is None:
        a.kill9()


def test_a_second_process_is_refused_at_once_with_one_clear_line(held):
    ws, _, data = held
    t = time.perf_counter()
    b = run_cli(data, "bm25", ws, ws / "b.json")
    assert b.returncode == 2 and "in use" in b.stderr
    assert "Traceback" not in b.stderr
    assert not (ws / "comparisons").exists()  # nothing written before the refusal
    print(f"refused after {time.perf_counter() - t:.1f} s")


def test_a_second_process_fails_cleanly_then_a_stale_lock_is_freed(held):
    ws, a, data = held
    b = run_cli(data, "bm25", ws, ws / "b.json")
    assert b.returncode != 0
    assert "in use by another EmbedLab process" in b.stderr + b.stdout
    assert a.proc.poll() is None  # A is untouched by B's attempt

    a.kill9()  # a stale lock: nobody released it
    b = run_cli(data, "bm25", ws, ws / "b.json")
    assert b.returncode == 0, b.stderr[-3000:]
    assert result(ws / "b.json", "bm25")["embedded_now"] == 30
    rows = stored_rows(lite(ws))
    assert_exactly(rows, "held", 100)
    assert_exactly(rows, next(k for k in rows if k != "held"), 30)  # bm25: corpus-fitted, no content collection


# -- 3. concurrent writers in one process --------------------------------------------------------
def test_eight_threads_upserting_through_one_store_lose_nothing(workspace):
    store, name, scratch = workspace.store, f"threads_{os.getpid()}", f"scratch_{os.getpid()}"
    store.drop(name)
    store.ensure(name, 16, False)
    per_thread, batch, errors = 1200, 100, []

    def writer(t):
        rng = np.random.default_rng(t)
        try:
            for s in range(0, per_thread, batch):
                ids = range(t * 100_000 + s, t * 100_000 + s + batch)
                store.upsert(name, ids, rng.random((batch, 16), dtype=np.float32) + 0.01)
        except Exception as e:  # reported below, not swallowed
            errors.append(e)

    def churn():  # other writes (create/index/load/drop) interleaved with the upserts
        for _ in range(3):
            store.ensure(scratch, 4, False)
            store.drop(scratch)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)] + [threading.Thread(target=churn)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    want = {t * 100_000 + i for t in range(8) for i in range(per_thread)}
    assert store.existing_ids(name) == want
    store.drop(name)


# -- 4. a shared Milvus server (EMBEDLAB_MILVUS_URI) ---------------------------------------------
@pytest.fixture(scope="module")
def milvus_server(tmp_path_factory):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "milvus_lite", "server", "--data-dir",
                             str(tmp_path_factory.mktemp("server") / "milvus.db"), "--host", "127.0.0.1",
                             "--port", str(port)], cwd=ROOT, env=env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_port(port, 120, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()


def test_vectors_live_on_the_server(tmp_path, milvus_server):
    data = corpus(tmp_path / "data", 80)
    first = run_cli(data, "model2vec", tmp_path / "w1", tmp_path / "1.json", EMBEDLAB_MILVUS_URI=milvus_server)
    assert first.returncode == 0, first.stderr[-3000:]
    assert result(tmp_path / "1.json", "model2vec")["embedded_now"] == 80
    # Another workspace folder, same server: the vectors can only have come from the server.
    again = run_cli(data, "model2vec", tmp_path / "w2", tmp_path / "2.json", EMBEDLAB_MILVUS_URI=milvus_server)
    assert again.returncode == 0, again.stderr[-3000:]
    assert result(tmp_path / "2.json", "model2vec")["embedded_now"] == 0
    assert not (tmp_path / "w1" / "milvus.db").exists() and not (tmp_path / "w2" / "milvus.db").exists()


def test_two_cli_processes_write_to_the_server_at_once(tmp_path, milvus_server):
    data = corpus(tmp_path / "data", 90)
    both = [subprocess.Popen(cli_args(data, "bm25", tmp_path / f"c{i}", tmp_path / f"c{i}.json"), cwd=ROOT,
                             env=env(EMBEDLAB_MILVUS_URI=milvus_server), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True) for i in range(2)]
    errs = [p.communicate(timeout=300)[1][-2000:] for p in both]
    assert [p.returncode for p in both] == [0, 0], errs
    assert {result(tmp_path / f"c{i}.json", "bm25")["status"] for i in range(2)} == {"done"}
    from embedlab.store import Store

    store = Store(milvus_server)  # a server takes many clients: this one can look in-process
    manifest = next((tmp_path / "c0" / "comparisons").glob("*/manifest.json"))
    name = json.loads(manifest.read_text())["results"]["bm25"]["collection"]
    assert store.existing_ids(name) == set(range(90))
    assert len(store.client.query(name, filter="id >= 0", output_fields=["id"], limit=1000)) == 90


def test_ensure_accepts_a_collection_another_process_created_meanwhile(milvus_server):
    from pymilvus import MilvusClient

    from embedlab.store import Store

    store, other = Store(milvus_server), MilvusClient(uri=milvus_server)  # other: a second process's client
    name, checked = f"raced_{os.getpid()}", store.client.has_collection

    def check_then_lose_the_race(collection, *args, **kwargs):
        found = checked(collection, *args, **kwargs)
        if collection == name and not found:  # the other process creates it right after our check
            other.create_collection(name, schema=store._schema(8, False), index_params=store._index(False))
        return found

    store.client.has_collection = check_then_lose_the_race
    try:
        store.ensure(name, 8, False)
        store.upsert(name, range(10), np.eye(10, 8, dtype=np.float32) + 0.5)
        assert store.existing_ids(name) == set(range(10))
    finally:
        del store.client.has_collection
        other.close()


# -- 5. links: comparison ids --------------------------------------------------------------------
def test_comparison_ids_are_long_random_and_url_safe():
    ids = [comparison.new_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{24}", i) for i in ids)  # 24 × 6 bits = 144 bits
    assert len(set("".join(ids))) == 64  # the whole url-safe alphabet is in use
    for pos in range(24):  # every position varies: no fixed prefix, no counter
        assert len({i[pos] for i in ids}) > 40
    # 1 in 64 random ids would start with '-', which a command line reads as an option
    assert not any(i.startswith("-") for i in ids + [comparison.new_id() for _ in range(3000)])


BAD_IDS = ["../../etc/passwd", "%2e%2e", "%2e%2e%2f%2e%2e%2foutside", "", "x" * 10_000, "é" * 24,
           "ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸ", None, 12345, "../outside/aaaaaaaaaaaaaaa",
           "..%2foutside%2faaaaaaaaaaa", "/tmp", "aaaaaaaaaaaaaaaaaaaaaaa/", "comparisons", "\x00" * 24,
           "aaaaaaaaaaaaaaaaaaaaaaaaa"]


@pytest.mark.parametrize("cid", BAD_IDS, ids=lambda c: repr(c)[:30])
def test_unknown_or_malformed_ids_are_not_found_and_stay_inside(tmp_path, cid):
    from embedlab.workspace import Workspace

    ws = Workspace(tmp_path / "ws")
    ds = ws.add_dataset([Document("a", "", "some text")], Chunking(64, 8), name="links")
    real = comparison.create(ws, ds, ["bm25"])
    # A manifest outside the workspace that a path-traversing id would reach.
    for outside in ("outside/aaaaaaaaaaaaaaa", "etc/passwd", "outside"):
        (tmp_path / outside).mkdir(parents=True, exist_ok=True)
        (tmp_path / outside / "manifest.json").write_text(
            (ws.comparison_dir(real.id) / "manifest.json").read_text())
    with pytest.raises(comparison.ComparisonNotFound) as err:
        comparison.load(ws, cid)
    assert "comparison" in str(err.value) and len(str(err.value)) < 200
    assert comparison.load(ws, real.id).id == real.id
    with pytest.raises(comparison.ComparisonNotFound, match="no comparison with that id"):
        comparison.load(ws, comparison.new_id())

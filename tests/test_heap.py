"""Freed heap goes back to the system (glibc's malloc_trim), and the launcher caps malloc arenas
before the server starts any thread; bench/memory.py measures with what the launcher sets."""

import sys
from pathlib import Path

from embedlab import heap

rss_mb = heap.rss_mb


def test_rss_is_the_kernels_figure():
    before = rss_mb()
    block = bytearray(64 * 2**20)  # zero-filled by the kernel as it is written: resident
    block[:: 4096] = b"x" * len(block[:: 4096])
    status = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmRSS:"))
    assert abs(rss_mb() - int(status.split()[1]) / 1024) < 4
    assert rss_mb() - before > 60


def test_trim_gives_freed_memory_back():
    assert heap._glibc() is not None  # Linux with glibc: what the app runs on here
    keep, garbage = [], []
    for i in range(5_000):  # malloc'd blocks (over pymalloc's 512 bytes, under mmap's 128 kB) between
        garbage.append(bytes(16_000) + str(i).encode())  # kept ones: freeing them leaves holes below the
        keep.append(bytes(600) + str(i).encode())  # top of the heap, which free() does not give back
    del garbage
    freed = rss_mb()
    assert heap.trim() is True
    assert rss_mb() < freed - 40  # 80 MB freed, three whole pages of every 16 kB hole
    assert keep[-1].endswith(b"4999")


def test_limit_arenas_takes_the_setting():
    assert heap.limit_arenas(8) is True
    assert heap.limit_arenas(-1) is False  # nothing to set


def test_arrow_returns_pages_only_before_pyarrow_loads():
    import subprocess

    code = ("import os, sys; from embedlab import heap; first = heap.arrow_returns_pages(); "
            "import pyarrow; os.environ.pop('MIMALLOC_PURGE_DELAY'); "
            "print(first, os.environ.get('MIMALLOC_PURGE_DELAY'), heap.arrow_returns_pages())")
    env = {k: v for k, v in __import__("os").environ.items() if k != "MIMALLOC_PURGE_DELAY"}
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["True", "None", "False"], out.stderr[-2000:]


def test_the_launcher_caps_arenas_before_anything_starts(monkeypatch):
    import streamlit.web.cli as cli

    from app_support import serve
    from embedlab import projection

    calls = []
    monkeypatch.setattr(heap, "arrow_returns_pages", lambda: calls.append("arrow pages") or True)
    monkeypatch.setattr(heap, "limit_arenas", lambda n=None: calls.append("arenas") or True)
    monkeypatch.setattr(projection, "warm_up_umap", lambda: calls.append("umap warm-up"))
    monkeypatch.setattr(cli, "main", lambda: calls.append("streamlit"))
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    serve.main(["--server.headless", "true"])
    assert calls == ["arrow pages", "arenas", "umap warm-up", "streamlit"]
    assert sys.argv[-2:] == ["--server.headless", "true"]


def test_the_memory_bench_does_what_the_launcher_does():
    text = (Path(__file__).resolve().parent.parent / "bench" / "memory.py").read_text()
    assert "from app_support.serve import tune_memory" in text and "tune_memory()" in text


def test_trim_now_and_then_trims_at_most_once_per_interval():
    heap._last_trim = 0.0
    heap.trim_now_and_then(3600)  # trims (or finds nothing to give back): the interval starts now
    assert heap._last_trim > 0
    started = heap._last_trim
    assert heap.trim_now_and_then(3600) is False and heap._last_trim == started  # within the interval: no call

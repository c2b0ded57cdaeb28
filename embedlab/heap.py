"""Give freed heap memory back to the system after a big step (glibc only; elsewhere a no-op).

glibc's ``free`` returns memory to the system only from the top of a heap. Loading a model or a
dataset allocates and frees hundreds of MB of short-lived objects (model2vec deep-copies its
276k-token tokenizer, a dataset file is parsed line by line); what stays allocated afterwards
pins the freed pages between, so the process keeps them as RSS. ``malloc_trim(0)`` hands every
whole free page back (madvise), whatever lies above it. It takes milliseconds, so it is called
after each step that frees a lot, not in loops. ``limit_arenas`` caps glibc's per-thread arenas:
each thread that allocates (Milvus Lite's, onnxruntime's, torch's, Streamlit's) otherwise gets
its own heap, and freed memory in one cannot serve another. ``arrow_returns_pages`` does for
pyarrow's own allocator (mimalloc) what ``trim`` does for glibc: Milvus Lite 3 reads every
collection of ``milvus.db`` into Arrow tables on its first call, and mimalloc keeps the pages that
load frees for later reuse unless told to give them back at once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import time

M_ARENA_MAX = -8  # mallopt parameter (malloc.h)
ARENAS = 2  # the launcher's default; EMBEDLAB_MALLOC_ARENAS overrides it
_libc = None


def _glibc():
    global _libc
    if _libc is None:
        _libc = False
        if sys.platform.startswith("linux"):
            try:
                lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                if hasattr(lib, "malloc_trim") and hasattr(lib, "gnu_get_libc_version"):
                    _libc = lib
            except OSError:
                pass
    return _libc or None


def trim() -> bool:
    """Return free heap pages to the system; True when something was given back."""
    lib = _glibc()
    return bool(lib.malloc_trim(0)) if lib else False


_last_trim = 0.0
TRIM_EVERY_S = 2.0


def trim_now_and_then(every_s: float = TRIM_EVERY_S) -> bool:
    """``trim`` at most once per ``every_s`` seconds: for loops. An embedding thread's forward passes
    free ~190 MB of activations that its arena otherwise keeps (minilm, 4,096 long texts: RSS 758 →
    569 MB after a trim); a trim costs milliseconds, so a fast model's blocks do not pay one each."""
    global _last_trim
    now = time.monotonic()
    if now - _last_trim < every_s:
        return False
    _last_trim = now
    return trim()


def rss_mb() -> float:
    """This process's resident memory in MB (Linux's /proc; 0.0 where there is none)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def limit_arenas(n: int | None = None) -> bool:
    """At most ``n`` malloc arenas for threads started from now on (``MALLOC_ARENA_MAX`` does the
    same, but only when set before the process starts). True when glibc took the setting."""
    lib = _glibc()
    n = n or int(os.environ.get("EMBEDLAB_MALLOC_ARENAS") or ARENAS)
    return bool(lib.mallopt(M_ARENA_MAX, n)) if lib and n > 0 else False


def arrow_returns_pages() -> bool:
    """Make pyarrow's mimalloc pool return freed pages at once (``MIMALLOC_PURGE_DELAY=0``; it is read
    when pyarrow loads, so this must run before anything imports pyarrow). 50k × 4 workspace, Lite's
    first call: +836 MB RSS (peak +836) without, +471 MB (peak +669) with. False when too late or
    when the variable was set already (then it is left as it is)."""
    if "pyarrow" in sys.modules or "MIMALLOC_PURGE_DELAY" in os.environ:
        return False
    os.environ["MIMALLOC_PURGE_DELAY"] = "0"
    return True

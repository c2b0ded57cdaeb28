"""Shared bits of the bench scripts: data, perturbed copies, timing, and the load-average line.

Every script runs its baseline and EmbedLab in the same process on the same data and prints the
ratio; absolute seconds are context (the machine is shared), the ratio is the result.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
logging.getLogger("pymilvus").setLevel(logging.ERROR)
SCIFACT = Path(os.environ.get("EMBEDLAB_SCIFACT", "/work/shared/datasets/scifact"))


def parser(doc: str, n_default: int | None = None, n_quick: int | None = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=n_default, help=f"size of the run (default {n_default})")
    p.add_argument("--quick", action="store_true", help=f"a small run (n={n_quick}) for a busy machine")
    p.add_argument("--json", help="also write the figures as JSON here")
    p.set_defaults(n_quick=n_quick)
    return p


def size(args) -> int | None:
    return args.n_quick if args.quick and args.n_quick else args.n


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def header(name: str) -> None:
    print(f"# {name} — {datetime.now().isoformat(timespec='seconds')}; {load()}", flush=True)


@contextmanager
def timer(into: dict, key: str):
    t = time.perf_counter()
    yield
    into[key] = time.perf_counter() - t


def best_of(fn, repeat: int = 1) -> float:
    """Fastest of ``repeat`` timed calls: the least disturbed by other jobs on the machine."""
    times = []
    for _ in range(max(repeat, 1)):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


# -- data -------------------------------------------------------------------------------------
def scifact_raw(n_docs: int | None = None):
    """(corpus rows, test queries, qrels) straight from the BEIR files: what a minimal script reads."""
    corpus = [json.loads(line) for line in (SCIFACT / "corpus.jsonl").open(encoding="utf-8")]
    queries = {q["_id"]: q["text"] for q in map(json.loads, (SCIFACT / "queries.jsonl").open(encoding="utf-8"))}
    qrels: dict[str, dict[str, int]] = {}
    for line in (SCIFACT / "qrels" / "test.tsv").read_text("utf-8").splitlines()[1:]:
        qid, doc, rel = line.split("\t")
        qrels.setdefault(qid, {})[doc] = int(rel)
    corpus = corpus[:n_docs] if n_docs else corpus
    return corpus, {q: queries[q] for q in qrels}, qrels


def full_text(row: dict) -> str:
    return (row.get("title", "") + " " + row.get("text", "")).strip()


def scifact_documents(n_docs: int | None = None):
    """SciFact through EmbedLab's own reader (documents + eval set), optionally the first n."""
    from embedlab.documents import load_paths

    loaded = load_paths([SCIFACT])
    docs = loaded.documents[:n_docs] if n_docs else loaded.documents
    return docs, loaded.eval_set


def perturbed(texts: list[str], n: int, seed: int = 0) -> list[str]:
    """``n`` texts made by repeating ``texts``: copy 0 unchanged, later copies get a per-copy
    token and one shuffled sentence, so no two texts are equal and lengths stay realistic."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        copy, text = divmod(i, len(texts))
        base = texts[text]
        if copy:
            words = base.split()
            cut = min(len(words), 24)
            head = words[:cut]
            rng.shuffle(head)
            base = f"copy{copy} " + " ".join(head + words[cut:])
        out.append(base)
    return out


def perturbed_documents(n: int, seed: int = 0):
    from embedlab.documents import Document

    corpus, _, _ = scifact_raw()
    texts = perturbed([full_text(r) for r in corpus], n, seed)
    return [Document(f"d{i}", "", t) for i, t in enumerate(texts)]


def temp_workspace(prefix: str = "embedlab-bench-"):
    from embedlab.workspace import Workspace

    return Workspace(tempfile.mkdtemp(prefix=prefix))


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def write_json(path: str | None, data: dict) -> None:
    if path:
        Path(path).write_text(json.dumps({"load": os.getloadavg(), **data}, indent=1))


def verdict(ratio: float, target: float, higher_is_better: bool = False) -> str:
    ok = ratio >= target if higher_is_better else ratio <= target
    return f"{'MET' if ok else 'MISSED'} (target {'≥' if higher_is_better else '≤'} {target:g})"


@contextmanager
def profiled(path: str | None, title: str):
    """pyinstrument over the block, its text written to ``path`` (nothing when path is None)."""
    if not path:
        yield
        return
    from pyinstrument import Profiler

    p = Profiler(interval=0.01)
    p.start()
    try:
        yield
    finally:
        p.stop()
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Frames down to 0.2 % of the run are kept (pyinstrument's default cut is 1 %): when
        # embedding is ~98 % of a run, what is left over is what the profile is read for.
        from pyinstrument.renderers import ConsoleRenderer

        text = p.output(ConsoleRenderer(unicode=True, color=False, processor_options={"filter_threshold": 0.002}))
        Path(path).write_text(f"# {title}; {load()}\n" + text)


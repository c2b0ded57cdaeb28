"""#12 — the scale run THROUGH THE UI: N documents as one zip, uploaded in a real headless chromium
to a fresh app (``python -m app_support.serve`` = `streamlit run streamlit_app.py` behind the
launcher, EMBEDLAB_WORKSPACE = a fresh folder), the chosen models ticked, Create comparison, wait
until every model is done. The app process's RSS (and any children's) is sampled every second
from /proc. Prints wall time (upload → all done), peak RSS (target < 2 GB) and whether the
progress showed an ETA ("… chunks/s · mm:ss left"). The model grid is set by clicks, so the wall
time includes a minute of page work; "Create comparison → done" is the run itself.

    .venv/bin/python bench/scale_100k_ui.py --n 100000 --models bm25,model2vec
    .venv/bin/python bench/scale_100k_ui.py --n 3000        # the 4 bundled models

Same documents as ``scale_100k.py`` (SciFact abstracts perturbed, 40 words, one chunk each), written
as ``corpus.jsonl`` inside ``corpus.zip``. ``--keep`` leaves the workspace (for a CLI rerun in it).
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import _common as c

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

MODELS = ["minilm", "bm25", "model2vec", "minilm-l3-onnx"]
ETA = re.compile(r"chunks/s · (\d+:\d\d|[\d.]+ h) left")


def write_zip(folder: Path, n: int, start: int = 0, name: str = "corpus.zip") -> Path:
    """Documents ``start``..``n - 1`` of ``scale_100k.documents(n)`` as ``corpus.jsonl`` in a zip."""
    from scale_100k import documents

    path = folder / name
    lines = "".join(json.dumps({"_id": d.id, "title": d.title, "text": d.text}) + "\n" for d in documents(n)[start:])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("corpus.jsonl", lines)
    return path


class Sampler(threading.Thread):
    """RSS of the server process and its children, every second."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server, self.peak, self.samples, self.stop = server, 0.0, [], threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                mb = self.server.rss_mb() + self.server.children_rss_mb()
            except (OSError, AttributeError):
                break
            self.samples.append((time.perf_counter(), mb))
            self.peak = max(self.peak, mb)
            self.stop.wait(1.0)


def main() -> None:
    ap = c.parser(__doc__, n_default=100_000, n_quick=2000)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--workspace", help="a fresh folder (default: a new temp dir)")
    ap.add_argument("--timeout", type=int, default=6 * 3600, help="seconds to wait for the run")
    ap.add_argument("--add", action="store_true",
                    help="then restart the app, reopen the link, and add 1 %% more documents through "
                         "'Add files to this dataset'; then `python -m embedlab evaluate` in the same workspace")
    ap.add_argument("--bare", action="store_true",
                    help="first encode the same chunks bare in this process (scale_100k.bare), for the ratio")
    args = ap.parse_args()
    models, n = args.models.split(","), c.size(args)
    c.header(f"scale_100k_ui n={n} models={','.join(models)}")
    from browser_util import (
        Server,
        chromium,
        goto,
        main_text,
        manifest,
        new_page,
        running,
        seed_sample,
        set_model,
        shot,
        wait_idle,
    )

    from embedlab.embedders import list_models

    out = {"n": n, "models": models}
    if args.bare:
        import scale_100k

        from embedlab.chunking import Chunking, chunk_documents

        scale_100k.MODELS[:] = models
        bare, documents = scale_100k.bare, scale_100k.documents
        chunks = [ch.text for ch in chunk_documents(documents(n), Chunking(128, 0))]
        out["bare_s"], out["bare_chunks"] = bare(chunks), len(chunks)
        del chunks
        print("bare encode (this process, before the app starts): "
              + ", ".join(f"{m} {s:.1f} s" for m, s in out["bare_s"].items()) + f"; {c.load()}", flush=True)
    ws = Path(args.workspace or tempfile.mkdtemp(prefix="el_ui_"))
    ws.mkdir(parents=True, exist_ok=True)
    corpus = write_zip(ws.parent if args.workspace else ws, n)
    print(f"workspace {ws}; zip {corpus} ({corpus.stat().st_size / 1e6:.1f} MB)", flush=True)
    seed_sample(ws)  # the first visit opens the sample: seeded with bm25 so it does not queue minilm
    server = Server(ws)
    sampler = Sampler(server)
    sampler.start()
    try:
        with chromium() as browser:
            page = new_page(browser)
            goto(page, server.url + "New_comparison", "1 · Documents")
            t0 = time.perf_counter()
            page.locator('[data-testid="stFileUploader"]').first.locator('input[type="file"]') \
                .set_input_files(str(corpus))
            wait_idle(page, "documents from", timeout=3_600_000)
            out["upload_s"] = time.perf_counter() - t0
            print(f"upload + read: {out['upload_s']:.1f} s; RSS {sampler.samples[-1][1]:.0f} MB", flush=True)
            for spec in list_models():
                if spec.bundled:
                    try:
                        set_model(page, spec.id, spec.id in models)
                    except ValueError:  # not offered on this page
                        continue
            page.get_by_label("Name", exact=True).fill(f"scale {n}")
            page.get_by_label("Name", exact=True).press("Enter")
            wait_idle(page, timeout=3_600_000)
            t_run = time.perf_counter()
            page.get_by_role("button", name=re.compile("Create comparison")).click()
            page.wait_for_url(re.compile(r"\?c=.*"), timeout=3_600_000)
            page.get_by_role("heading", name=f"scale {n}").wait_for(timeout=3_600_000)
            cid = page.url.split("c=")[1].split("&")[0]
            out["create_s"] = time.perf_counter() - t0
            eta, seen_progress, statuses = None, False, None
            while time.perf_counter() - t0 < args.timeout:
                res = manifest(server, cid)["results"]
                now = {m: res.get(m, {}).get("status") for m in models}
                if now != statuses:  # when each model started and ended: where the RSS peak sat
                    statuses = now
                    out.setdefault("status_changes", []).append([round(time.perf_counter() - t0, 1), now])
                try:
                    text = main_text(page)
                except Exception:  # noqa: BLE001 - the page is between reruns
                    text = ""
                found = ETA.search(text)
                if found and eta is None:
                    eta = found.group(0)
                    shot(page, "scale_ui_eta")
                    print(f"progress shows: {eta!r} (after {time.perf_counter() - t0:.0f} s)", flush=True)
                seen_progress = seen_progress or running(page)
                if all(res.get(m, {}).get("status") in ("done", "error") for m in models) and not running(page):
                    break
                page.wait_for_timeout(2000)
            out["wall_s"], out["run_s"] = time.perf_counter() - t0, time.perf_counter() - t_run
            res = manifest(server, cid)["results"]
            out["results"] = {m: {k: res.get(m, {}).get(k) for k in ("status", "embedded_now", "embed_seconds",
                                                                      "chunks", "error")} for m in models}
            out["eta_shown"], out["eta_text"], out["cid"] = eta is not None, eta, cid
            wait_idle(page, timeout=3_600_000)
            shot(page, "scale_ui_done")
    finally:
        sampler.stop.set()
        sampler.join(5)
        out["peak_rss_mb"] = sampler.peak
        out["rss_timeline"] = [[round(t - t0, 1), round(mb)] for t, mb in sampler.samples[::10]]
        if sampler.samples:
            t_peak = max(sampler.samples, key=lambda x: x[1])[0] - t0
            during = [st for at, st in out.get("status_changes", []) if at <= t_peak]
            out["peak_at_s"], out["peak_during"] = round(t_peak, 1), during[-1] if during else None
            print(f"RSS peak at {t_peak:.0f} s, model statuses then: {out['peak_during']}", flush=True)
        server.stop()
    if args.add:
        out.update(add_and_cli(ws, out, models, n, sampler_cls=Sampler, timeout=args.timeout))
    print(f"wall time upload → all models done: {out['wall_s']:.1f} s (Create comparison → done "
          f"{out['run_s']:.1f} s); per model: {out['results']}")
    print(f"app peak RSS {out['peak_rss_mb']:.0f} MB (incl. children) — "
          f"{'MET' if out['peak_rss_mb'] < 2048 else 'MISSED'} (target < 2 GB)")
    print(f"progress showed an ETA: {out['eta_shown']} ({out['eta_text']})")
    if "add_s" in out:
        out["add_ratio"] = out["add_s"] / out["run_s"]
        print(f"reopened after a restart: embedded nothing, first page {out['reopen_s']:.1f} s")
        print(f"+1 % ({out['add_docs']} documents) through 'Add files': {out['add_s']:.1f} s, per model "
              f"{out['add_results']}; app peak RSS {out['add_peak_rss_mb']:.0f} MB")
        print(f"ratio +1 % / first run = {out['add_ratio']:.3f}× — {c.verdict(out['add_ratio'], 0.05)}")
        print(f"CLI in the same workspace: {out['cli_s']:.1f} s, embedded_now {out['cli_embedded_now']}, "
              f"CLI peak RSS {out['cli_peak_rss_mb']:.0f} MB")
    if "bare_s" in out:
        out["ratio"] = out["run_s"] / sum(out["bare_s"].values())
        print(f"ratio Create comparison → done / bare encode = {out['ratio']:.2f}× — {c.verdict(out['ratio'], 2.0)}")
    print(f"workspace {ws} comparison {out['cid']}; {c.load()}")
    c.write_json(args.json, out)


def wait_done(server, page, cid: str, models: list[str], timeout: float) -> dict:
    from browser_util import manifest, running

    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        res = manifest(server, cid)["results"] if (server.workspace / "comparisons" / cid).exists() else {}
        if all(res.get(m, {}).get("status") in ("done", "error") for m in models) and not running(page):
            return res
        page.wait_for_timeout(1000)
    raise TimeoutError(f"{cid} not done after {timeout} s")


def add_and_cli(ws: Path, first: dict, models: list[str], n: int, sampler_cls, timeout: int) -> dict:
    """Restart the app on ``ws``, reopen the comparison, add 1 % more documents through the UI, then
    run the CLI on the same zip in the same workspace (the app stopped: Lite allows one process)."""
    import re as _re
    import subprocess

    from browser_util import Server, chromium, goto, manifest, new_page, no_exception, shot

    extra = max(1, n // 100)
    add_zip = write_zip(ws.parent if (ws.parent / "corpus.zip").exists() else ws, n + extra, start=n,
                        name="corpus_add.zip")
    out: dict = {"add_docs": extra}
    server = Server(ws)
    sampler = sampler_cls(server)
    sampler.start()
    cid = first["cid"]
    before = manifest(server, cid)
    try:
        with chromium() as browser:
            page = new_page(browser)
            t = time.perf_counter()
            goto(page, f"{server.url}?c={cid}", f"scale {n}")
            out["reopen_s"] = time.perf_counter() - t
            assert manifest(server, cid) == before, "reopening the link changed its manifest"
            goto(page, f"{server.url}New_comparison?c={cid}", "grow the open dataset")
            page.get_by_text("Add files to this dataset").click()
            page.locator('[data-testid="stFileUploader"]').filter(has_text="Files to add") \
                .locator('input[type="file"]').set_input_files([str(add_zip)])
            page.get_by_role("button", name="Add and create the new version").wait_for()
            t = time.perf_counter()
            page.get_by_role("button", name="Add and create the new version").click()
            page.wait_for_url(lambda url: "c=" in url and cid not in url, timeout=timeout * 1000)
            new_cid = page.url.split("c=")[1].split("&")[0]
            res = wait_done(server, page, new_cid, models, timeout)
            out["add_s"] = time.perf_counter() - t
            no_exception(page)
            shot(page, "scale_ui_added")
            out["add_results"] = {m: {k: res.get(m, {}).get(k) for k in ("status", "embedded_now", "reused",
                                                                          "embed_seconds", "error")} for m in models}
            out["add_cid"] = new_cid
    finally:
        sampler.stop.set()
        sampler.join(5)
        out["add_peak_rss_mb"] = sampler.peak
        server.stop()
    meta = json.loads(next((ws / "datasets").glob("*/dataset.json")).read_text())
    size, overlap = meta["chunking"]["size"], meta["chunking"]["overlap"]
    corpus = ws.parent / "corpus.zip" if (ws.parent / "corpus.zip").exists() else ws / "corpus.zip"
    report = ws.parent / f"cli_{n}.json"
    cmd = [sys.executable, "-m", "embedlab", "evaluate", "--data", str(corpus), "--models", ",".join(models),
           "--chunk-size", str(size), "--overlap", str(overlap), "--workspace", str(ws), "--json", str(report)]
    t = time.perf_counter()
    proc = subprocess.Popen(["/usr/bin/time", "-f", "%M", *cmd], cwd=Path(__file__).resolve().parents[1],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, err = proc.communicate()
    out["cli_s"] = time.perf_counter() - t
    if proc.returncode:
        raise RuntimeError(f"CLI failed: {err[-2000:]}")
    out["cli_peak_rss_mb"] = int(_re.findall(r"^(\d+)$", err, _re.M)[-1]) / 1024
    got = json.loads(report.read_text())["models"]
    out["cli_embedded_now"] = {m: got[m].get("embedded_now") for m in models}
    out["cli_command"] = " ".join(cmd)
    return out


if __name__ == "__main__":
    main()

"""Helpers for the real-browser tests: a `streamlit run` server on loopback with its own workspace,
Debian's chromium driven by Playwright, and waits that follow Streamlit's own "script finished"
marker instead of sleeping."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT, free_port, wait_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path("/tmp/browser_shots")
VIEWPORT = {"width": 1400, "height": 900}
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
WAIT_MS = 240_000  # the machine is small and shared: waits are generous, the happy path is quick


def require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (scripts/setup.sh dev installs it)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")


def server_env(workspace: Path) -> dict:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("EMBEDLAB_", "STREAMLIT_"))}
    return {**keep, "EMBEDLAB_WORKSPACE": str(workspace), "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(ROOT)}


# The app opens the bundled sample on a first visit and embeds it with minilm in the background;
# runs share one slot, so every comparison a test makes would queue behind that minute of work.
# Seeding the sample with bm25 alone (in a child process: Milvus Lite admits one process) keeps
# the tests about the user's own comparison.
_SEED = textwrap.dedent("""
    from app_support import sample
    from embedlab import comparison, jobs
    from embedlab.workspace import Workspace
    sample.SAMPLE_MODELS = ["bm25"]
    ws = Workspace()
    comp = sample.ensure_sample(ws)
    job = jobs.get(comp.id)
    if job:
        job.thread.join()
    assert comparison.is_complete(comparison.load(ws, comp.id)), "the seeded sample did not finish"
""")


def seed_sample(workspace: Path) -> None:
    run_in_workspace(workspace, _SEED)


def run_in_workspace(workspace: Path, code: str, *args: str, timeout: int = 600) -> str:
    """Run ``code`` in a child process on ``workspace`` (Milvus Lite admits one process: the test's own
    server must not be up yet); its stdout, after asserting it succeeded."""
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=server_env(workspace),
                         capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


class Server:
    """The app as users start it (``python -m app_support.serve``, i.e. `streamlit run
    streamlit_app.py` behind the launcher) on 127.0.0.1 and a free port; log in <workspace>/server.log."""

    def __init__(self, workspace: Path, env: dict | None = None, log_name: str = "server.log"):
        self.workspace = workspace
        self.log_path = workspace / log_name
        for attempt in range(3):
            self._start(env)
            try:
                wait_port(self.port, 120, self.proc)
                self._wait_health(120)
                return
            except Exception as exc:
                self.stop()
                taken = "is not available" in self.log()  # another process took the port first
                if taken and attempt < 2:
                    continue
                raise RuntimeError(f"the app server did not start ({exc}); its log:\n{self.log()}") from exc

    def _start(self, env: dict | None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        cmd = [sys.executable, "-m", "app_support.serve", "--server.headless", "true",
               "--server.port", str(self.port), "--server.address", "127.0.0.1",
               "--browser.gatherUsageStats", "false"]
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env={**server_env(self.workspace), **(env or {})},
                                     stdout=self._log, stderr=subprocess.STDOUT)

    def _wait_health(self, timeout: float) -> None:
        """Healthy, and the listener is ours: Streamlit logs its URL once it has bound the port
        (another server that took the port first would answer the health check too)."""
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            if f"127.0.0.1:{self.port}" not in self.log():
                time.sleep(0.3)
                continue
            try:
                with urllib.request.urlopen(f"{self.url}_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise TimeoutError(f"streamlit not healthy on {self.url}:\n{self.log()}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss_mb(self, pid: int | None = None) -> float:
        """Resident memory of the server process (VmRSS from /proc; psutil is not a dependency)."""
        status = Path(f"/proc/{pid or self.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024

    def children_rss_mb(self) -> float:
        """Resident memory of the server's descendants (a Milvus Lite process, if it runs one)."""
        parents = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                parents[int(stat.parent.name)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
        family, grew = {self.pid}, True
        while grew:
            kids = {p for p, pp in parents.items() if pp in family} - family
            family |= kids
            grew = bool(kids)
        total = 0.0
        for pid in family - {self.pid}:
            try:
                total += self.rss_mb(pid)
            except (OSError, AttributeError):
                continue
        return total

    def log(self, tail: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def launch(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


@contextlib.contextmanager
def seeded_server(workspace: Path):
    """The app on ``workspace`` with the sample seeded (bm25 only, see ``seed_sample``)."""
    require_chromium()
    seed_sample(workspace)
    srv = Server(workspace)
    try:
        yield srv
    finally:
        srv.stop()


@contextlib.contextmanager
def chromium():
    """Debian's chromium driven by Playwright (sync API)."""
    from playwright.sync_api import sync_playwright

    require_chromium()
    with sync_playwright() as p:
        b = launch(p)
        try:
            yield b
        finally:
            b.close()


def new_page(browser):
    """A fresh context (own cookies, own Streamlit session) and its page."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(WAIT_MS)
    return context.new_page()


def wait_idle(page, text: str | None = None, timeout: int = WAIT_MS) -> None:
    """Until the script run is over and ``text`` (if given) is on the page. A run that is still
    going (a progress fragment polls every second) flips the marker off and on: check twice."""
    if text:
        page.get_by_text(text, exact=False).first.wait_for(timeout=timeout)
    page.wait_for_selector(IDLE, timeout=timeout)
    page.wait_for_timeout(300)
    page.wait_for_selector(IDLE, timeout=timeout)


def goto(page, url: str, text: str | None = None) -> None:
    page.goto(url, wait_until="domcontentloaded")
    wait_idle(page, text)


def shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def xss_flag(page):
    return page.evaluate("() => window.__xss")


class Timer:
    """Step timings, printed at the end of a test (run pytest with -s to see them)."""

    def __init__(self):
        self.steps: list[tuple[str, float]] = []
        self._t = time.perf_counter()

    def lap(self, step: str) -> float:
        now = time.perf_counter()
        self.steps.append((step, now - self._t))
        self._t = now
        return self.steps[-1][1]

    def report(self) -> str:
        return "  ".join(f"{name} {sec:.1f}s" for name, sec in self.steps)


# -- the dashboard's pages: Streamlit's markers, canvas grids, plotly maps -------------------------------
def no_exception(page) -> None:
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0, errors.first.inner_text()


def manifest(server, cid: str) -> dict:
    return json.loads((server.workspace / "comparisons" / cid / "manifest.json").read_text())


def chunk_texts(server, cid: str) -> pd.DataFrame:
    key = manifest(server, cid)["dataset_key"]
    return pd.read_parquet(server.workspace / "datasets" / key / "chunks.parquet")


def grid_cells(page, frame_filter: str | None = None) -> list[str]:
    """Text of a data grid's cells (Streamlit draws grids on a canvas; this is their a11y table)."""
    frames = page.locator('[data-testid="stDataFrame"]')
    if frame_filter:
        frames = frames.filter(has=page.locator("th", has_text=frame_filter))
    return [t.strip() for t in frames.locator("td").all_inner_texts()]


def sidebar_link(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True).click()


CHOSEN = re.compile(r"Model cards for the (\d+) chosen models")


def chosen_count(text: str) -> int:
    found = CHOSEN.search(text)
    return int(found.group(1)) if found else 0


def set_model(page, model: str, use: bool) -> None:
    """Tick or untick a model in the data editor (a canvas grid): select its 'use' cell and press
    Space; done when the server's rerun counts one model more or less. The grid's a11y table gives
    the starting value (it can lag behind later edits in a busy browser). Tried again if a rerun
    swallowed the click or the key."""
    editor = page.locator('[data-testid="stDataFrame"]').filter(has=page.locator("td", has_text="glove-50d"))
    row = editor.locator('td[aria-colindex="2"]').all_inner_texts().index(model)
    wait_idle(page)
    if (editor.locator(f'[data-testid="glide-cell-0-{row}"]').inner_text().strip() == "true") == use:
        return
    want = chosen_count(main_text(page)) + (1 if use else -1)
    for attempt in range(3):
        editor.scroll_into_view_if_needed()
        box = editor.locator("canvas").first.bounding_box()
        page.mouse.click(box["x"] + 20, box["y"] + 35 + 35 * row + 17)  # header and rows are 35 px high
        page.keyboard.press("Space")
        try:
            page.get_by_text(f"Model cards for the {want} chosen models").wait_for(timeout=30_000)
            wait_idle(page)
            return
        except Exception:  # noqa: BLE001 - a Playwright timeout: the edit was lost to a rerun
            print(f"set {model}={use}: attempt {attempt + 1} did not register")
    raise AssertionError(f"could not set {model} to {use}")


def running(page) -> bool:
    """The run panel (per-model progress bars under "Embedding — …") is on the page."""
    return page.get_by_text("Embedding —").count() > 0 or page.locator('[data-testid="stProgress"]').count() > 0


# JS: the screen position of chunk ``chunk`` on map ``i`` or, for -1, of an isolated point (its
# nearest neighbour is farthest away), so a click lands on that point and not on one drawn over it.
# The points are split over one trace per colour, marked meta[0] == "chunks" (the rings are not).
POINT_JS = """([i, chunk]) => {
  const gd = document.querySelectorAll('.js-plotly-plot')[i];
  gd.scrollIntoView({block: 'center'});
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, ids = [], px = [];
  gd._fullData.filter(t => t.meta && t.meta[0] === 'chunks').forEach(fd => Array.from(fd.customdata).forEach((c, j) => {
    ids.push(c); px.push([xa.l2p(fd.x[j]), ya.l2p(fd.y[j])]);
  }));
  let best = ids.indexOf(chunk);
  if (best < 0) {
    let gap = -1;
    px.forEach((p, j) => {
      const d = Math.min(...px.map((q, k) => k === j ? Infinity : Math.hypot(p[0] - q[0], p[1] - q[1])));
      if (d > gap) { gap = d; best = j; }
    });
  }
  const r = gd.getBoundingClientRect();
  return {x: r.left + xa._offset + px[best][0], y: r.top + ya._offset + px[best][1], id: ids[best]};
}"""


MAPS_DRAWN_JS = """(n) => {
  const plots = [...document.querySelectorAll('.js-plotly-plot')];
  return plots.length >= n && plots.every(p => p.querySelector('canvas') && p._fullData);
}"""


def wait_maps(page, n: int = 3) -> None:
    """Until ``n`` plotly maps are drawn (a WebGL canvas each) and the script is idle."""
    page.wait_for_function(MAPS_DRAWN_JS, arg=n)
    wait_idle(page)
    assert page.get_by_text("WebGL is not supported").count() == 0


def wait_umap(page, timeout_ms: int = 240_000) -> None:
    """The map page shows PCA while UMAP compiles/computes, then reruns by itself: wait for that,
    so a click is not lost when the maps are replaced."""
    page.wait_for_function("() => !document.body.innerText.includes('Showing the PCA preview')",
                           timeout=timeout_ms)
    wait_maps(page)


def copy_link(page) -> str:
    """Open the sidebar's Copy link popover, press its copy button, and return what was copied."""
    page.locator('[data-testid="stSidebar"]').get_by_role("button", name=re.compile("Copy link")).click()
    code = page.locator('[data-testid="stPopoverBody"] [data-testid="stCode"]')
    code.wait_for()
    shown = code.inner_text().strip()
    code.hover()
    code.get_by_role("button", name="Copy to clipboard").click()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied.strip() == shown, (copied, shown)
    page.keyboard.press("Escape")
    return shown


def sidebar_link_text(page) -> str:
    page.locator('[data-testid="stSidebar"]').get_by_role("button", name=re.compile("Copy link")).click()
    shown = page.locator('[data-testid="stPopoverBody"] [data-testid="stCode"]').inner_text().strip()
    page.keyboard.press("Escape")
    return shown


def select_chunk(page, chunk: int) -> None:
    box = page.get_by_label("Chunk id")
    box.fill(str(chunk))
    box.press("Enter")
    page.get_by_role("heading", name=f"Chunk {chunk}", exact=True).wait_for()
    wait_maps(page)


def hover_label(page, chunk: int) -> str:
    """Hover a chunk's point on the first map; the hover label's text."""
    point = page.evaluate(POINT_JS, [0, chunk])
    assert point["id"] == chunk
    page.mouse.move(point["x"] + 1, point["y"] + 1)
    page.mouse.move(point["x"], point["y"])
    hover = page.locator(".hoverlayer .hovertext").first
    hover.wait_for()
    return " ".join(hover.text_content().split())


def download_report(page, path: Path) -> Path:
    """Click Download HTML report and save the file. A click may be lost: the button's default
    on_click reruns the page, and that rerun can retire the deferred file before the browser asks
    for it ("Deferred file … not found" in the server log); then the test clicks again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(3):
        try:
            with page.expect_download(timeout=90_000) as info:
                page.get_by_role("button", name=re.compile("Download HTML report")).click()
            info.value.save_as(path)
            return path
        except PlaywrightTimeout:
            print(f"report download: click {attempt + 1} gave no file")
            wait_idle(page)
    raise AssertionError("the report never downloaded")


def upload(page, corpus: tuple[list[Path], Path, Path]) -> None:
    """On New comparison: the documents, then the queries and qrels files of an evaluation set."""
    docs, queries, qrels = corpus
    page.locator('[data-testid="stFileUploader"]').first.locator('input[type="file"]').set_input_files(docs)
    wait_idle(page, "documents from")
    uploader = page.locator('[data-testid="stFileUploader"]')
    uploader.filter(has_text="Queries").locator('input[type="file"]').set_input_files(queries)
    wait_idle(page)
    uploader.filter(has_text="Qrels").locator('input[type="file"]').set_input_files(qrels)
    wait_idle(page, "judged queries.")

"""Security and reliability in a real browser: a key typed into the page never leaks, a wrong key
is reported as rejected, and a second app process on the same workspace gets a clear message.

``streamlit run`` on 127.0.0.1 (browser_util.Server), Debian chromium via Playwright. The endpoint
is the fault server on loopback (tests/fault_server.py): it answers only the bearer token it was
given (any other gets a 401 whose body echoes the token back, as careless servers do), and here it
also records every Authorization header, so a test cannot pass by never sending the key.
Screenshots go to /tmp/browser_shots/; step timings print with ``-s``.
"""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from browser_util import (
    Server,
    Timer,
    chromium,
    download_report,
    goto,
    grid_cells,
    main_text,
    manifest,
    new_page,
    no_exception,
    running,
    seed_sample,
    seeded_server,
    set_model,
    shot,
    sidebar_link,
    sidebar_link_text,
    upload,
    wait_idle,
    wait_maps,
)
from fault_server import FaultServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LOCKED = "is in use by another EmbedLab process"  # embedlab/store.py, WorkspaceLockedError
UNCAUGHT = "Uncaught app execution"  # what Streamlit logs for an exception that reached the page


class KeyServer(FaultServer):
    """The fault server, also recording the Authorization header of every request."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.auths: list[str] = []

    def answer(self, body, auth):
        self.auths.append(auth)  # list.append is atomic; FaultServer's lock is not re-entrant
        return super().answer(body, auth)


def new_key(tag: str) -> str:
    return f"sk-ui-{tag}-{secrets.token_hex(16)}"


def needles(key: str) -> list[str]:
    """The key and a distinctive 12-character piece of its random part (a truncated or split
    copy still counts as a leak)."""
    random_part = key.rsplit("-", 1)[1]
    return [key, random_part[7:19]]


def write_docs(folder: Path, topics: dict[str, str], queries: dict[str, tuple[str, str]]):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in topics.items():
        (folder / name).write_text(text, "utf-8")
        paths.append(folder / name)
    q, qrels = folder / "queries.jsonl", folder / "qrels.tsv"
    q.write_text("".join(json.dumps({"_id": i, "text": t}) + "\n" for i, (t, _) in queries.items()), "utf-8")
    qrels.write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{i}\t{d}\t1\n" for i, (_, d) in queries.items()),
                     "utf-8")
    return paths, q, qrels


TOPICS = {"whales.txt": "Whales are large marine mammals; humpback whales sing long songs in the ocean.",
          "bees.txt": "Honey bees pollinate flowers and store honey in wax combs.",
          "volcano.txt": "A volcano erupts when magma and gas escape through the crust.",
          "tides.txt": "Tides follow the pull of the moon on the oceans twice a day.",
          "owls.txt": "Owls hunt at night with silent feathers and sharp hearing."}
QUERIES = {"q1": ("whales singing songs", "whales.txt"), "q2": ("bees pollinate flowers", "bees.txt"),
           "q3": ("magma erupts", "volcano.txt")}
OTHER_TOPICS = {"tea.txt": "Green tea leaves are steamed, black tea leaves are oxidised.",
                "chess.txt": "Chess openings fight for control of the centre of the board.",
                "violin.txt": "Violins have four strings tuned in perfect fifths.",
                "bread.txt": "Bread rises because yeast makes carbon dioxide in the dough."}


# -- one server, one browser: the comparisons are made through the page ----------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with seeded_server(tmp_path_factory.mktemp("security_ws")) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


class Seen:
    """What the browser saw: every request URL, the address bar after each step, the HTML of
    each page, every websocket frame the server sent, and texts read off the page."""

    def __init__(self, page):
        self.requests: list[str] = []
        self.urls: list[str] = []
        self.html: dict[str, str] = {}
        self.frames: list[bytes] = []
        self.texts: dict[str, str] = {}
        page.context.on("request", lambda r: self.requests.append(r.url))
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload):
        self.frames.append(payload if isinstance(payload, bytes) else payload.encode())

    def step(self, page, name: str) -> None:
        self.urls.append(page.url)
        self.html[name] = page.content()
        self.texts[name] = main_text(page)


def add_endpoint(page, base_url: str, model: str, key: str) -> None:
    """The OpenAI-compatible endpoint tab: base URL, model name and API key typed, Add."""
    want = int(re.search(r"Model cards for the (\d+) chosen", main_text(page)).group(1)) + 1
    page.get_by_role("tab", name="OpenAI-compatible endpoint").click()
    page.get_by_label("Base URL", exact=True).fill(base_url)
    page.get_by_label("Model name", exact=True).fill(model)
    page.get_by_label("API key", exact=True).fill(key)
    page.get_by_role("button", name="Add endpoint model").click()
    page.get_by_text(f"Model cards for the {want} chosen models").wait_for()
    wait_idle(page)
    assert page.get_by_label("API key", exact=True).input_value() == ""  # the form cleared the field


def create(page, name: str) -> str:
    before = parse_qs(urlparse(page.url).query).get("c", [""])[0]
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Name", exact=True).press("Enter")
    wait_idle(page)
    page.get_by_role("button", name=re.compile("Create comparison")).click()
    page.wait_for_url(re.compile(r"\?c=(?!" + re.escape(before) + "(&|$))"))
    page.get_by_role("heading", name=name).wait_for()
    return parse_qs(urlparse(page.url).query)["c"][0]


def wait_results(page, server, cid: str, models: list[str], timeout_s: int = 300) -> dict:
    """Until every model has an outcome (scored, or an error) and the run panel has stopped."""
    for _ in range(timeout_s):
        results = manifest(server, cid)["results"]
        if all(results.get(m, {}).get("metrics") or results.get(m, {}).get("status") == "error" for m in models) \
                and not page.get_by_text("Embedding —").count():
            wait_idle(page)
            return results
        page.wait_for_timeout(1000)
    raise AssertionError(f"run did not finish in {timeout_s}s: {manifest(server, cid)['results']}")


def workspace_files(folder: Path) -> dict[str, bytes]:
    """Every file under the workspace, bytes, recursively (Milvus Lite's db and lock files too)."""
    out = {}
    for p in sorted(Path(folder).rglob("*")):
        if p.is_file() and not p.is_symlink():
            try:
                out[str(p.relative_to(folder))] = p.read_bytes()
            except OSError as e:  # a socket or a file removed while listing: say so, do not skip silently
                out[str(p.relative_to(folder))] = f"<unreadable: {e}>".encode()
    return out


def leaks(key: str, texts: dict[str, str | bytes]) -> list[str]:
    """Names of the texts that hold the key or its distinctive piece."""
    found = []
    for name, text in texts.items():
        blob = text if isinstance(text, bytes) else text.encode("utf-8", "replace")
        found += [f"{name} ({n[:8]}…)" for n in needles(key) if n.encode() in blob]
    return found


# -- 1. a key typed into the page is sent to the endpoint and nowhere else ----------------------------
def test_a_key_typed_in_the_page_reaches_the_endpoint_and_nowhere_else(server, browser, tmp_path):
    key, timer = new_key("SECRET"), Timer()
    page = new_page(browser)
    seen = Seen(page)
    mid = "openai:embed-under-test"
    with KeyServer(key=key, dim=8) as endpoint:
        goto(page, server.url + "New_comparison", "1 · Documents")
        upload(page, write_docs(tmp_path / "docs", TOPICS, QUERIES))
        set_model(page, "minilm", False)
        set_model(page, "model2vec", False)
        add_endpoint(page, endpoint.url, mid.removeprefix("openai:"), key)
        seen.step(page, "new comparison")
        timer.lap("upload + models")
        cid = create(page, "Key in the page")
        results = wait_results(page, server, cid, ["bm25", mid])
        timer.lap("create + run")
        assert results[mid]["status"] == "done", results[mid]
        assert results[mid]["embedded_now"] == len(TOPICS) and results[mid]["dim"] == 8
        assert results["bm25"]["status"] == "done", results["bm25"]
        assert grid_cells(page, "status").count("done") == 2
        seen.step(page, "overview")
        no_exception(page)
        sent_by_run = len(endpoint.auths)

        sidebar_link(page, "Map")
        wait_maps(page, 2)
        seen.step(page, "map")
        no_exception(page)
        sidebar_link(page, "Neighbourhoods")
        wait_idle(page, "Where the models disagree most")
        seen.step(page, "neighbourhoods")
        no_exception(page)
        sidebar_link(page, "Search")
        wait_idle(page, "Type a query")
        box = page.get_by_label("Query", exact=True)
        box.fill("humpback whales singing")
        box.press("Enter")
        page.get_by_role("heading", name=mid, exact=True).or_(page.get_by_text("Search failed")).first.wait_for()
        wait_idle(page)
        assert "Search failed" not in main_text(page), main_text(page)[:1500]
        assert "Whales are large marine mammals" in main_text(page)
        seen.step(page, "search")
        no_exception(page)
        assert len(endpoint.auths) > sent_by_run, "the search did not embed its query at the endpoint"
        timer.lap("map, neighbourhoods, search")
        for title, text in [("Metrics", "Metrics"), ("Costs & latency", "Measured on this corpus"),
                            ("Robustness", "Robustness"), ("Share & export", "Download HTML report")]:
            sidebar_link(page, title)
            wait_idle(page, text)
            seen.step(page, title)
            no_exception(page)
        seen.texts["share page link"] = page.locator('[data-testid="stMain"] [data-testid="stCode"]').first.inner_text()
        seen.texts["sidebar link"] = sidebar_link_text(page)
        report = download_report(page, tmp_path / "report.html").read_bytes()
        seen.urls.append(page.url)
        seen.texts["browser storage"] = json.dumps(page.context.storage_state())  # cookies, localStorage
        timer.lap("metrics, costs, robustness, share, report")
        auths = list(endpoint.auths)
    page.context.close()

    # The key was used (by the run, then by the search) and only ever as the bearer token.
    assert auths and set(auths) == {f"Bearer {key}"}, {a[:20] for a in auths}
    assert mid in report.decode() and "bm25" in report.decode() and cid in report.decode()
    assert f"c={cid}" in seen.texts["share page link"] and f"c={cid}" in seen.texts["sidebar link"]
    files = workspace_files(server.workspace)
    assert any("milvus" in name for name in files), sorted(files)[:20]  # Milvus Lite's files are read too
    assert "server.log" in files and f"comparisons/{cid}/manifest.json" in files
    where = {"request URLs": "\n".join(seen.requests), "address bar": "\n".join(seen.urls),
             "report": report, "websocket frames from the server": b"\n".join(seen.frames),
             **{f"page text: {k}": v for k, v in seen.texts.items()},
             **{f"page HTML: {k}": v for k, v in seen.html.items()},
             **{f"workspace file {k}": v for k, v in files.items()}}
    assert len(seen.requests) > 20 and len(seen.html) == 9 and seen.frames
    found = leaks(key, where)
    assert not found, f"the key leaked into: {found}"
    print(f"\nchecked {len(files)} workspace files, {len(seen.requests)} requests, {len(seen.frames)} frames, "
          f"{len(auths)} endpoint requests; steps: {timer.report()}")


# -- 1b. a wrong key: "the key was rejected", the other model still finishes ------------------------------
def test_a_wrong_key_is_reported_as_rejected_and_the_other_model_finishes(server, browser, tmp_path):
    good, wrong = new_key("GOOD"), new_key("WRONG")
    page = new_page(browser)
    seen = Seen(page)
    mid = "openai:embed-wrong-key"
    with KeyServer(key=good, dim=8) as endpoint:
        goto(page, server.url + "New_comparison", "1 · Documents")
        upload(page, write_docs(tmp_path / "docs", OTHER_TOPICS, {"q1": ("green tea", "tea.txt")}))
        set_model(page, "minilm", False)
        set_model(page, "model2vec", False)
        add_endpoint(page, endpoint.url, mid.removeprefix("openai:"), wrong)
        cid = create(page, "Wrong key in the page")
        results = wait_results(page, server, cid, ["bm25", mid])
        assert endpoint.auths and set(endpoint.auths) == {f"Bearer {wrong}"}  # the typed key was tried
    assert results["bm25"]["status"] == "done" and results["bm25"]["embedded_now"] == len(OTHER_TOPICS)
    assert results[mid]["status"] == "error" and "the key was rejected" in results[mid]["error"], results[mid]
    page.get_by_text("the key was rejected", exact=False).first.wait_for()
    panel = page.locator('[data-testid="stExpander"], [data-testid="stStatusWidget"], [data-testid="stAlert"]')
    message = next(t for t in panel.all_inner_texts() if "the key was rejected" in t)
    assert mid in message and endpoint.url in message and "HTTP 401" in message, message
    assert "bm25 — done" in message and "evaluating" not in message, message  # not a stale stage
    text = main_text(page)
    assert "Traceback" not in text and "encountered an error" not in text
    no_exception(page)
    assert grid_cells(page, "status").count("done") == 1  # bm25's row
    seen.step(page, "overview")
    print(f"\nwrong-key message: {message!r}\nscreenshot: {shot(page, 'security_wrong_key')}")
    page.context.close()
    where = {"address bar": "\n".join(seen.urls), "request URLs": "\n".join(seen.requests),
             "websocket frames from the server": b"\n".join(seen.frames),
             **{f"page {k}": v for k, v in {**seen.html, **seen.texts}.items()},
             **{f"workspace file {k}": v for k, v in workspace_files(server.workspace).items()}}
    for k in (good, wrong):  # the 401 body echoed the wrong key: it must not have been passed on
        found = leaks(k, where)
        assert not found, f"a key leaked into: {found}"


# -- 2. a second app process on the same workspace -----------------------------------------------------
def search_bm25(page, query: str) -> str:
    box = page.get_by_label("Query", exact=True)
    box.fill(query)
    box.press("Enter")
    page.get_by_role("heading", name="bm25", exact=True).wait_for()
    wait_idle(page)
    column = page.locator('[data-testid="stColumn"]').filter(has=page.get_by_role("heading", name="bm25", exact=True))
    return column.last.inner_text()


def wait_text(page, text: str, timeout_ms: int = 30_000) -> None:
    """Until ``text`` is on the page (the script is idle already); else fail showing the page."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.get_by_text(text).first.wait_for(timeout=timeout_ms)
    except PlaywrightTimeout:
        raise AssertionError(f"{text!r} is not on {page.url} after {timeout_ms // 1000} s; the page shows:\n"
                             f"{main_text(page)[:1500]}") from None
    wait_idle(page)


def stored(ws: Path) -> dict[str, bytes]:
    return {n: b for n, b in workspace_files(ws).items() if n.startswith(("comparisons", "datasets", "sample.json"))}


def test_a_second_process_on_the_same_workspace_gets_a_clear_message(browser, tmp_path):
    ws, timer = tmp_path / "shared_ws", Timer()
    seed_sample(ws)
    cid = json.loads((ws / "sample.json").read_text())["id"]
    first, second, pages = Server(ws), None, []
    try:
        a = new_page(browser)
        pages.append(a)
        goto(a, f"{first.url}Search?c={cid}", "Type a query")
        assert re.search(r"^#1 ", search_bm25(a, "vaccine side effects"), re.M)  # Milvus Lite is open here
        before = stored(ws)
        timer.lap("first server")

        second = Server(ws, log_name="server2.log")
        b = new_page(browser)
        pages.append(b)
        for url in (second.url, f"{second.url}Map?c={cid}", f"{second.url}Search?c={cid}&q=vaccines"):
            goto(b, url)
            no_exception(b)  # an exception box (Streamlit's redacted traceback) fails here, with its text
            wait_text(b, LOCKED)
            text = main_text(b)
            alert = b.locator('[data-testid="stAlert"]').filter(has_text=LOCKED)
            assert alert.count() == 1, text[:1000]
            assert "Stop the other process" in text and "EMBEDLAB_WORKSPACE" in text
            assert "Traceback" not in text and "encountered an error" not in text, text[:2000]
            no_exception(b)
            if url == second.url:
                print(f"\nsecond process: {alert.inner_text()!r}\nscreenshot: {shot(b, 'security_second_process')}")
        timer.lap("second server")
        # Milvus Lite logs its own lock failure (with its traceback); the app let nothing through
        assert UNCAUGHT not in second.log(100_000), second.log()

        # The first server and its data are untouched: its comparison opens, shows its model, searches.
        c = new_page(browser)
        pages.append(c)
        goto(c, f"{first.url}?c={cid}", "Models")
        c.locator('[data-testid="stDataFrame"] td', has_text="done").first.wait_for(state="attached")
        wait_idle(c)
        cells = grid_cells(c, "status")
        assert cells[:2] == ["bm25", "done"] and cells.count("done") == 1, cells
        assert "bm25" in c.locator('[data-testid="stSidebar"]').inner_text()
        assert not running(c)
        no_exception(c)
        sidebar_link(c, "Search")
        wait_idle(c, "Type a query")
        assert re.search(r"^#1 ", search_bm25(c, "vaccine side effects"), re.M)
        no_exception(c)
        after = stored(ws)
        assert after.keys() >= before.keys()
        assert all(after[n] == before[n] for n in before), [n for n in before if after[n] != before[n]]
        timer.lap("first server again")
    finally:
        for page in pages:
            page.context.close()
        if second is not None:
            second.stop()
        first.stop()
    assert UNCAUGHT not in first.log(100_000), first.log()
    print(f"steps: {timer.report()}")

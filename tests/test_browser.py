"""The dashboard in a real browser: `streamlit run` on 127.0.0.1, Debian chromium via Playwright.

One user's path, step by step on one comparison: upload files through the file input (txt, md, csv,
jsonl, a zip, plus queries + qrels), pick three bundled models, run, open the map and select a point,
search, copy the share link and open it in a fresh browser context. Hostile document text
(<script>, <img onerror>, javascript: links) must show as text on every page and in the report.
Screenshots go to /tmp/browser_shots/; step timings print with ``-s``.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from browser_util import (
    POINT_JS,
    Timer,
    chromium,
    chunk_texts,
    copy_link,
    download_report,
    goto,
    grid_cells,
    hover_label,
    main_text,
    manifest,
    new_page,
    no_exception,
    running,
    seeded_server,
    select_chunk,
    set_model,
    shot,
    sidebar_link,
    sidebar_link_text,
    upload,
    wait_idle,
    wait_maps,
    wait_umap,
    xss_flag,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MODELS = ["bm25", "model2vec", "glove-50d"]
NAME = "Browser run 7f3a"
HOSTILE = ('Hostile note <script>window.__xss=1</script> and <img src=x onerror="window.__xss=2"> '
           "and [x](javascript:window.__xss=3) about zebrafish fins")
TOPICS = {
    "whales.txt": "Whales are large marine mammals; humpback whales sing long songs in the ocean.",
    "bees.md": "# Honey bees\n\nHoney bees pollinate flowers and store honey in wax combs.",
    "volcano.md": "# Volcanoes\n\nA volcano erupts when magma and gas escape through the crust.",
}
ROWS = ["Glaciers carve valleys as ice slowly flows downhill.", "Coral reefs bleach when sea water warms.",
        "Tides follow the pull of the moon on the oceans.", "Desert cacti store water in thick stems.",
        "Owls hunt at night with silent feathers.", "Rust forms when iron reacts with oxygen and water.",
        "Bread rises because yeast makes carbon dioxide.", "Lightning heats the air and makes thunder."]
RECORDS = ["Chess openings control the centre of the board.", "Violins have four strings tuned in fifths.",
           "Marathon runners train their aerobic endurance.", "Sourdough needs a living starter culture.",
           "Telescopes gather light from distant galaxies.", "Penguins huddle to survive the polar winter.",
           "Compilers translate source code to machine code.", "Bonsai trees are pruned to stay small."]
ZIPPED = {"archive/glacier-notes.txt": "Notes on the Arctic tundra: permafrost, lichens and caribou herds.",
          "archive/tea.txt": "Green tea leaves are steamed, black tea leaves are oxidised.",
          "archive/maps.md": "# Old maps\n\nCartographers drew sea monsters on unexplored waters."}
QUERIES = {"q1": ("zebrafish fins hostile note", "evil.txt"), "q2": ("whales singing songs", "whales.txt"),
           "q3": ("bees pollinate flowers", "bees.md"), "q4": ("ice flows and carves valleys", "table.csv#1"),
           "q5": ("violin strings", "rec-2"), "q6": ("arctic tundra caribou", "archive.zip/archive/glacier-notes.txt")}
N_DOCS = 2 + len(TOPICS) + len(ROWS) + len(RECORDS) + len(ZIPPED)


def write_corpus(folder: Path) -> tuple[list[Path], Path, Path]:
    """The upload: hostile documents first (the report lists the first ten), then every format."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"evil.txt": HOSTILE, "evil.md": f"# Evil <b>title</b>\n\n{HOSTILE}", **TOPICS,
             "table.csv": "title,text\n" + "".join(f"row {i + 1},{t}\n" for i, t in enumerate(ROWS)),
             "records.jsonl": "".join(json.dumps({"id": f"rec-{i + 1}", "title": f"record {i + 1}", "text": t}) + "\n"
                                      for i, t in enumerate(RECORDS))}
    paths = []
    for name, text in files.items():
        (folder / name).write_text(text, "utf-8")
        paths.append(folder / name)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in ZIPPED.items():
            zf.writestr(name, text)
    (folder / "archive.zip").write_bytes(buf.getvalue())
    paths.append(folder / "archive.zip")
    queries, qrels = folder / "queries.jsonl", folder / "qrels.tsv"
    queries.write_text("".join(json.dumps({"_id": q, "text": t}) + "\n" for q, (t, _) in QUERIES.items()), "utf-8")
    qrels.write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, (_, d) in QUERIES.items()),
                     "utf-8")
    return paths, queries, qrels


# -- the server, the browser, and one comparison made through the UI ---------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with seeded_server(tmp_path_factory.mktemp("browser_ws")) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as b:
        yield b


def wait_run(page, server, cid: str, timeout_s: int = 300) -> bool:
    """Poll the Overview until every model is done and scored; True if the progress UI was seen."""
    seen = False
    for _ in range(timeout_s):
        m = manifest(server, cid)
        done = all(m["results"].get(x, {}).get("metrics") for x in MODELS)
        busy = running(page)
        if busy and not seen:
            seen = True
            shot(page, "02_run_progress")
        if done and not busy and grid_cells(page, "status").count("done") == len(MODELS):
            return seen
        page.wait_for_timeout(1000)
    raise AssertionError(f"run did not finish in {timeout_s}s: {manifest(server, cid)['results']}")


def create(page, server, sample_cid: str) -> str:
    """Models bm25, model2vec and glove-50d (minilm is a default: untick it), a name, Create."""
    set_model(page, "minilm", False)
    set_model(page, "glove-50d", True)
    assert page.get_by_text("Model cards for the 3 chosen models").count() == 1
    page.get_by_label("Name", exact=True).fill(NAME)
    page.get_by_label("Name", exact=True).press("Enter")
    wait_idle(page)
    shot(page, "01_new_comparison")
    page.get_by_role("button", name=re.compile("Create comparison")).click()
    page.wait_for_url(re.compile(r"\?c=(?!" + re.escape(sample_cid) + ")"))
    cid = parse_qs(urlparse(page.url).query)["c"][0]
    page.get_by_role("heading", name=NAME).wait_for()
    assert manifest(server, cid)["name"] == NAME
    return cid


@pytest.fixture(scope="module")
def made(server, browser, tmp_path_factory):
    """Upload → choose models → create → run, all through the page. Yields (page, cid, timer)."""
    corpus = write_corpus(tmp_path_factory.mktemp("upload"))
    page, timer = new_page(browser), Timer()
    goto(page, server.url + "New_comparison", "1 · Documents")
    timer.lap("open app")
    upload(page, corpus)
    assert f"{N_DOCS} documents from 10 file(s)" in main_text(page)
    assert {"evil.txt", "table.csv", "records.jsonl", "archive.zip/archive/tea.txt"} <= set(grid_cells(page, "file"))
    timer.lap("upload")
    cid = create(page, server, sample_cid=parse_qs(urlparse(page.url).query)["c"][0])
    timer.lap("models + create")
    print(f"\nrun progress UI seen while polling: {wait_run(page, server, cid)}")
    timer.lap("run")
    wait_idle(page)
    shot(page, "03_overview_done")
    no_exception(page)
    yield page, cid, timer
    print("\nstep timings:", timer.report())
    page.context.close()


# -- the user's path ------------------------------------------------------------------------------------
def test_overview_after_the_run(made, server):
    page, cid, _ = made
    text = main_text(page)
    assert NAME in text and f"Comparison {cid}" in text
    assert "nDCG@10" in page.locator('[data-testid="stDataFrame"] th').all_inner_texts()
    results = manifest(server, cid)["results"]
    assert all(results[m]["embedded_now"] == N_DOCS for m in MODELS), results


def test_map_is_drawn_and_a_click_selects_a_point(made):
    page, cid, timer = made
    sidebar_link(page, "Map")
    wait_maps(page)
    timer.lap("map drawn")
    shot(page, "04_map")
    wait_umap(page)
    timer.lap("umap ready")
    point = page.evaluate(POINT_JS, [0, -1])
    page.mouse.click(point["x"], point["y"])
    page.get_by_role("heading", name=f"Chunk {point['id']}", exact=True).wait_for()
    wait_maps(page)
    timer.lap("point selected")
    assert page.get_by_label("Chunk id").input_value() == str(point["id"])
    assert f"p={point['id']}" in page.url and f"c={cid}" in page.url
    assert f"nearest neighbours of chunk {point['id']}" in main_text(page)
    table = page.locator('[data-testid="stDataFrame"]').last
    assert set(MODELS) <= set(table.locator("th").all_inner_texts())  # one column per model
    assert len(table.locator("td").all_inner_texts()) >= 3 * 10  # k = 10 neighbours per model
    shot(page, "05_map_selected")
    no_exception(page)


def test_map_chunk_id_input_selects_a_point(made, server):
    page, cid, _ = made
    chunks = chunk_texts(server, cid)
    target = int(chunks.index[chunks["doc_id"] == "whales.txt"][0])
    select_chunk(page, target)
    assert "document whales\\.txt" not in main_text(page) and "document whales.txt" in main_text(page)
    assert "humpback whales sing" in main_text(page)
    no_exception(page)


def test_search_shows_a_column_per_model(made):
    page, _, timer = made
    sidebar_link(page, "Search")
    wait_idle(page, "Type a query")
    timer.lap("open search")
    box = page.get_by_label("Query", exact=True)
    box.fill("whales singing songs in the ocean")
    box.press("Enter")
    for mid in MODELS:
        page.get_by_role("heading", name=mid, exact=True).wait_for()
    wait_idle(page)
    timer.lap("search")
    shot(page, "06_search")
    for mid in MODELS:
        column = page.locator('[data-testid="stColumn"]').filter(
            has=page.get_by_role("heading", name=mid, exact=True))
        text = column.last.inner_text()
        hits = re.findall(r"^#(\d+) ", text, re.M)
        assert hits[:1] == ["1"], text[:300]
        assert mid == "bm25" or len(hits) == 10, text[:300]  # bm25 lists only chunks sharing a word
    bm25 = page.locator('[data-testid="stColumn"]').filter(has=page.get_by_role("heading", name="bm25", exact=True))
    assert "whales" in bm25.last.inner_text().split("#2")[0]  # bm25's top hit is the whales document
    no_exception(page)


def test_share_link_reopens_the_same_view_in_a_fresh_context(made, server, browser):
    page, cid, timer = made
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url.rstrip("/"))
    sidebar_link(page, "Map")
    wait_maps(page)
    selected = page.get_by_label("Chunk id").input_value()
    assert selected and f"p={selected}" in page.url  # the Map's state came back from the session
    copied = copy_link(page)
    assert copied.startswith(server.url + "Map?") and f"c={cid}" in copied
    link = page.url  # the address bar: comparison and view (the next test checks the sidebar's)
    before = (server.workspace / "comparisons" / cid / "manifest.json").read_bytes()
    timer.lap("copy link")
    other = new_page(browser)  # a fresh context: no cookies, a new Streamlit session
    try:
        other.goto(link, wait_until="domcontentloaded")
        other.get_by_role("heading", name=f"Chunk {selected}", exact=True).wait_for()
        wait_maps(other)
        timer.lap("link reopen")
        shot(other, "07_link_reopened")
        side = other.locator('[data-testid="stSidebar"]').inner_text()
        assert NAME in side and all(m in side for m in MODELS)
        assert other.get_by_label("Chunk id").input_value() == selected
        assert not running(other)
        no_exception(other)
    finally:
        other.context.close()
    assert (server.workspace / "comparisons" / cid / "manifest.json").read_bytes() == before  # nothing re-run


def test_sidebar_copy_link_carries_the_page_state(made):
    """Back on the Map from another page (sidebar navigation drops the query string): the page puts
    its selected chunk back in the URL, and the sidebar's link (drawn again after the page) has it."""
    page, cid, _ = made
    sidebar_link(page, "Search")
    wait_idle(page, "Query")
    sidebar_link(page, "Map")
    wait_maps(page)
    selected = page.get_by_label("Chunk id").input_value()
    assert f"p={selected}" in page.url
    assert f"p={selected}" in sidebar_link_text(page), f"sidebar link vs address bar {page.url}"


def test_share_page_link_opens_the_comparison_elsewhere(made, server, browser):
    page, cid, _ = made
    sidebar_link(page, "Share & export")
    wait_idle(page, "Download HTML report")
    link = page.locator('[data-testid="stMain"] [data-testid="stCode"]').first.inner_text().strip()
    assert link == f"{server.url}Share?c={cid}", link
    other = new_page(browser)
    try:
        goto(other, link, "Download HTML report")
        assert NAME in other.locator('[data-testid="stSidebar"]').inner_text()
        assert other.locator('[data-testid="stMain"] [data-testid="stCode"]').first.inner_text().strip() == link
        sidebar_link(other, "Overview")
        other.get_by_role("heading", name=NAME).wait_for()
        other.locator('[data-testid="stDataFrame"] td', has_text="done").first.wait_for(state="attached")
        wait_idle(other)
        assert grid_cells(other, "status").count("done") == len(MODELS)
        no_exception(other)
    finally:
        other.context.close()


# -- hostile document text stays text -------------------------------------------------------------------
LITERALS = ["<script>window.__xss=1</script>", '<img src=x onerror="window.__xss=2">',
            "[x](javascript:window.__xss=3)"]
ACTIVE_JS = """() => ({img: document.querySelectorAll('img[src="x"]').length,
  js: document.querySelectorAll('a[href^="javascript"]').length,
  scripts: [...document.scripts].filter(s => s.text.includes('__xss')).length})"""


def assert_inert(page, text: str | None = None) -> None:
    """Nothing in the hostile text ran or became an element, and (if given) it shows as characters."""
    assert xss_flag(page) is None
    assert page.evaluate(ACTIVE_JS) == {"img": 0, "js": 0, "scripts": 0}
    for literal in LITERALS if text is not None else []:
        assert literal in text, f"{literal!r} not shown literally"


def evil_chunk(server, cid: str) -> int:
    chunks = chunk_texts(server, cid)
    return int(chunks.index[chunks["doc_id"] == "evil.txt"][0])


def test_hostile_text_in_search_results(made):
    page, _, _ = made
    sidebar_link(page, "Search")
    wait_idle(page, "Query")
    box = page.get_by_label("Query", exact=True)
    box.fill("zebrafish fins hostile note")
    box.press("Enter")
    page.get_by_role("heading", name="glove-50d", exact=True).wait_for()
    wait_idle(page)
    shot(page, "08_search_hostile")
    text = main_text(page)
    assert_inert(page, text)
    assert "Evil <b>title</b>" in text  # a markdown title, escaped
    no_exception(page)


@pytest.fixture
def fresh_map(made, server, browser):
    """The Map in a new context with nothing selected: no ring or star drawn over a point, so its
    hover is the chunk's own text."""
    _, cid, _ = made
    page = new_page(browser)
    goto(page, f"{server.url}Map?c={cid}", "Disparity")
    wait_maps(page)
    yield page, evil_chunk(server, cid)
    page.context.close()


def test_hostile_text_on_the_map_and_in_hover(fresh_map):
    page, target = fresh_map
    label = hover_label(page, target)
    shot(page, "09_map_hover_hostile")
    assert f"chunk {target}" in label and "<script>window.__xss=1</script>" in label, label
    assert page.locator(".hoverlayer image, .hoverlayer img, .hoverlayer a").count() == 0
    assert_inert(page)
    select_chunk(page, target)
    assert_inert(page, main_text(page))
    no_exception(page)


def test_hover_shows_quotes_as_quotes(fresh_map):
    page, target = fresh_map
    label = hover_label(page, target)
    assert 'onerror="window.__xss=2"' in label, label


def test_clearing_the_chunk_id_clears_the_selection(made, server):
    page, cid, _ = made
    goto(page, f"{server.url}Map?c={cid}&p=3", "Chunk 3")
    box = page.get_by_label("Chunk id")
    box.fill("")
    box.press("Enter")
    page.wait_for_timeout(1000)
    wait_maps(page)
    assert box.input_value() == "" and "p=" not in page.url, (box.input_value(), page.url)


def test_hostile_text_in_neighbourhoods(made, server):
    page, cid, _ = made
    target = evil_chunk(server, cid)
    goto(page, f"{server.url}Neighbourhoods?c={cid}&p={target}", "Where the models disagree most")
    page.get_by_text(f"Chunk {target}").first.wait_for()
    assert page.locator(".js-plotly-plot").count() == 2  # Jaccard and RBO heatmaps
    shot(page, "10_neighbourhoods_hostile")
    text = main_text(page)
    assert "document evil.txt" in text
    assert_inert(page, text)
    no_exception(page)


def test_hostile_text_in_the_html_report(made, server, browser, tmp_path):
    page, cid, timer = made
    timer.lap("checks in between")
    sidebar_link(page, "Share & export")
    wait_idle(page, "Download HTML report")
    timer.lap("open share page")
    path = download_report(page, tmp_path / "report.html")
    timer.lap("report download")
    html = path.read_text("utf-8")
    assert NAME in html and cid in html and all(m in html for m in MODELS)
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html
    assert "<script>window.__xss" not in html and "<img src=x" not in html and 'href="javascript' not in html
    viewer = new_page(browser)
    try:
        viewer.goto(path.as_uri())
        viewer.wait_for_load_state("load")
        shot(viewer, "11_report")
        assert_inert(viewer, viewer.locator("body").inner_text())
    finally:
        viewer.context.close()

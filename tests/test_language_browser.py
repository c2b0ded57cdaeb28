"""In the browser: a Korean + English corpus with MiniLM shows the coverage warning, the language
shares, BM25's analyzer and metrics per language."""

from __future__ import annotations

import textwrap

import pytest
from browser_util import chromium, goto, main_text, new_page, run_in_workspace, seeded_server, shot
from conftest import SHARED

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not (SHARED / "parallel").exists(), reason="../shared/datasets/parallel missing")]

_SEED = textwrap.dedent("""
    import sys
    from pathlib import Path
    sys.path.insert(0, "bench")
    import tatoeba_keywords
    from embedlab import comparison
    from embedlab.chunking import Chunking
    from embedlab.documents import load_paths
    from embedlab.workspace import Workspace
    folder = Path(sys.argv[1])
    tatoeba_keywords.build(folder, "kor", n=40, limit=60, with_english=True)
    loaded = load_paths([folder])
    ws = Workspace()
    ds = ws.add_dataset(loaded.documents, Chunking(0, 0), loaded.eval_set, name="Korean and English sentences")
    comp = comparison.create(ws, ds, ["minilm", "bm25"])
    comparison.run(ws, comp)
    assert comparison.is_complete(comp), comp.results
    print(comp.id)
""")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    ws = tmp_path_factory.mktemp("langws")
    cid = run_in_workspace(ws, _SEED, str(ws / "tatoeba")).strip().splitlines()[-1]
    with seeded_server(ws) as srv, chromium() as browser:
        yield srv, new_page(browser), cid


def test_overview_warns_that_minilm_does_not_cover_korean(mixed):
    srv, page, cid = mixed
    goto(page, f"{srv.url}?c={cid}", "Languages (detected offline")
    text = main_text(page)
    assert "Korean 50 %" in text and "English 4" in text or "English 50 %" in text, text[:2000]
    assert "minilm was trained for English only" in text and "Korean (50%)" in text
    assert "e5-small" not in text.split("minilm was trained")[1][:300]
    assert "bm25 was trained" not in text
    page.get_by_text("Model cards").first.click()
    page.get_by_text("analyzer: auto: ko 50 %", exact=False).first.wait_for(timeout=30_000)
    shot(page, "language_overview")


def test_metrics_per_language(mixed):
    srv, page, cid = mixed
    goto(page, f"{srv.url}Metrics?c={cid}", "per language")
    # the table is drawn after its heading: scroll to it and wait for its first row
    page.get_by_text("per language").first.scroll_into_view_if_needed()
    page.get_by_text("Korean (ko)", exact=False).first.wait_for(timeout=60_000)
    text = main_text(page)
    assert "Korean (ko)" in text and "English (en)" in text, text[-3000:]
    table = text[text.index("per language"):]
    assert table.count("minilm") >= 2 and table.count("bm25") >= 2
    page.get_by_text("per language").first.scroll_into_view_if_needed()
    shot(page, "language_metrics")


def test_load_report_shows_the_languages_of_an_upload(mixed, tmp_path):
    srv, page, _ = mixed
    texts = {"ko.txt": "나는 어제 학교에 갔습니다. 그리고 도서관에서 친구를 만났어요.",
             "en.txt": "The committee met on Tuesday to discuss the new budget for the public library.",
             "zh.txt": "我们今天在图书馆讨论了新的预算，然后去学校见了朋友。"}
    for name, text in texts.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    goto(page, srv.url + "New_comparison", "1 · Documents")
    uploader = page.locator('[data-testid="stFileUploader"]').first.locator('input[type="file"]')
    uploader.set_input_files([str(tmp_path / n) for n in texts])
    page.get_by_text("Languages (detected offline)").first.wait_for()
    text = main_text(page)
    assert all(f"{lang} 33 %" in text for lang in ("English", "Korean", "Chinese")), text[:3000]

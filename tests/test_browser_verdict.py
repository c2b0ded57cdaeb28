"""The verdict in a real browser, opened from shared links: the recommendation on Overview, the tiers, the
disagreement explorer with a query opened (both top-k lists, the aligned maps), on a comparison of three
bundled models over the sample's 100 judged queries."""

from __future__ import annotations

import json
import textwrap

import pytest
from browser_util import (
    ROOT,
    Server,
    chromium,
    goto,
    main_text,
    new_page,
    no_exception,
    run_in_workspace,
    seed_sample,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

_MAKE = textwrap.dedent("""
    import json, sys
    from embedlab import comparison
    from embedlab.chunking import Chunking
    from embedlab.documents import load_paths
    from embedlab.workspace import Workspace
    ws = Workspace()
    loaded = load_paths([sys.argv[1]])
    ds = ws.add_dataset(loaded.documents, Chunking(256, 32), loaded.eval_set, name="verdict sample")
    comp = comparison.create(ws, ds, ["bm25", "model2vec", "glove-50d"], name="Verdict in the browser")
    comparison.run(ws, comp)
    pq = comparison.per_query(ws, comp)
    # the query where bm25 beats glove-50d most: the explorer opens it from the link
    best = max(pq["bm25"], key=lambda q: (pq["bm25"][q]["ndcg@10"] - pq["glove-50d"][q]["ndcg@10"], q))
    print(json.dumps({"cid": comp.id, "qid": best, "query": ds.eval_set.queries[best]}))
""")


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    ws = tmp_path_factory.mktemp("verdict_ws")
    seed_sample(ws)
    out = run_in_workspace(ws, _MAKE, str(ROOT / "sample_data" / "scifact-mini"), timeout=900)
    made = json.loads(out.strip().splitlines()[-1])
    srv = Server(ws)
    try:
        with chromium() as browser:
            yield srv, browser, made
    finally:
        srv.stop()


def test_recommendation_and_tiers_from_a_shared_link(shared):
    srv, browser, made = shared
    page = new_page(browser)  # a teammate: fresh context, only the link
    goto(page, f"{srv.url}?c={made['cid']}", "Recommendation")
    text = main_text(page)
    assert "Use bm25" in text and "95 % CI" in text
    assert "paired randomization tests (10,000 permutations) with Holm" in text
    shot(page, "verdict_overview")
    no_exception(page)
    goto(page, f"{srv.url}Metrics?c={made['cid']}", "Verdict")
    page.get_by_text("tier 1").first.wait_for()  # the intervals chart's legend (its table is drawn on a canvas)
    text = main_text(page)
    assert "tier 1" in text and "Every metric, with its 95 % interval" in text
    no_exception(page)
    page.context.close()


def test_disagreement_explorer_opens_the_linked_query(shared):
    srv, browser, made = shared
    page = new_page(browser)
    goto(page, f"{srv.url}Metrics?c={made['cid']}&a=bm25&b=glove-50d&q={made['qid']}", "Verdict")
    page.get_by_role("tab", name="Disagreements").click()
    page.get_by_text("Moved most").first.wait_for()
    heading = page.get_by_text(f"Query {made['qid']}", exact=False).first
    heading.wait_for()
    text = main_text(page)
    assert made["query"][:40] in text
    assert "bm25 better on" in text
    # both models' top-k lists side by side, and the aligned maps with the query's chunks ringed
    explorer = page.locator('[data-testid="stTabPanel"]:visible')
    assert explorer.get_by_text("relevant in top 10").count() >= 1
    maps = explorer.locator(".js-plotly-plot")
    maps.first.wait_for()
    legend = explorer.inner_text()
    assert "judged relevant" in legend and "bm25 top 10" in legend
    shot(page, "verdict_disagreement")
    no_exception(page)
    page.context.close()

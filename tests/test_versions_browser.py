"""Dataset versions through the browser: "Add files to this dataset" on New comparison makes a new
version and a new comparison that embeds only the new files' chunks; the old link is unchanged."""

import json

import pytest
from browser_util import (
    Server,
    chromium,
    goto,
    main_text,
    manifest,
    new_page,
    no_exception,
    run_in_workspace,
    shot,
)

pytestmark = pytest.mark.slow

SEED = """
from embedlab import comparison
from embedlab.chunking import Chunking
from embedlab.documents import Document
from embedlab.workspace import Workspace
ws = Workspace()
docs = [Document(f"d{i}", "", f"first version document {i} about protein folding and cell growth") for i in range(30)]
ds = ws.add_dataset(docs, Chunking(64, 8), name="grown")
comp = comparison.create(ws, ds, ["model2vec", "bm25"])
comparison.run(ws, comp)
print(comp.id)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    ws = tmp_path_factory.mktemp("versions_ws")
    cid = run_in_workspace(ws, SEED).strip().splitlines()[-1]
    srv = Server(ws)
    srv.cid = cid
    try:
        yield srv
    finally:
        srv.stop()


def test_add_files_makes_a_version_that_embeds_only_the_new_chunks(server, tmp_path):
    files = []
    for i in range(3):
        files.append(tmp_path / f"new{i}.txt")
        files[-1].write_text(f"an added file number {i} about sleep and memory in mice")
    before = manifest(server, server.cid)
    with chromium() as browser:
        page = new_page(browser)
        goto(page, f"{server.url}New_comparison?c={server.cid}", "grow the open dataset")
        page.get_by_text("Add files to this dataset").click()
        page.locator('[data-testid="stFileUploader"]').filter(has_text="Files to add") \
            .locator('input[type="file"]').set_input_files([str(f) for f in files])
        page.get_by_role("button", name="Add and create the new version").click()
        page.wait_for_url(lambda url: "c=" in url and server.cid not in url, timeout=240_000)
        page.get_by_text("grown · v2").first.wait_for(timeout=240_000)
        no_exception(page)
        shot(page, "versions_added")
        new_cid = page.url.split("c=")[1].split("&")[0]
        for _ in range(600):  # the run goes on in the server's background job
            new = manifest(server, new_cid)
            if all(new["results"].get(m, {}).get("status") == "done" for m in ["model2vec", "bm25"]):
                break
            page.wait_for_timeout(500)
        assert new["results"]["model2vec"]["embedded_now"] == 3
        assert new["results"]["model2vec"]["reused"] == 30
        assert new["results"]["bm25"]["corpus_fitted"] and new["results"]["bm25"]["embedded_now"] == 33
        # the old link still opens the old version, unchanged
        goto(page, f"{server.url}?c={server.cid}", "grown")
        assert "grown · v2" not in main_text(page)
        assert manifest(server, server.cid) == before
        key = before["dataset_key"]
        meta = json.loads((server.workspace / "datasets" / key / "dataset.json").read_text())
        assert meta["name"] == "grown"

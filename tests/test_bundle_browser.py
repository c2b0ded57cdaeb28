"""Bundles through the browser: open one on the Share page of another EmbedLab (embedding nothing),
download it again, and see a damaged one refused."""

import subprocess
import sys

import pytest
from browser_util import (
    chromium,
    goto,
    manifest,
    new_page,
    no_exception,
    run_in_workspace,
    seeded_server,
    server_env,
    shot,
    wait_idle,
)
from conftest import ROOT
from test_versions_browser import SEED

from embedlab import bundle

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    src = tmp_path_factory.mktemp("bundle_src")
    cid = run_in_workspace(src, SEED).strip().splitlines()[-1]
    path = src / "grown.zip"
    done = subprocess.run([sys.executable, "-m", "embedlab", "export", "--comparison", cid, "--out", str(path),
                           "--workspace", str(src)], cwd=ROOT, env=server_env(src), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return cid, path


def upload_bundle(page, path) -> None:
    page.locator('[data-testid="stFileUploader"]').filter(has_text="Open a bundle") \
        .locator('input[type="file"]').set_input_files(str(path))
    wait_idle(page)
    page.get_by_role("button", name="Open this bundle").click()


def test_open_download_and_refuse_on_the_share_page(exported, tmp_path):
    cid, path = exported
    with seeded_server(tmp_path / "ws") as server, chromium() as browser:
        page = new_page(browser)
        bad = tmp_path / "bad.zip"
        bad.write_bytes(path.read_bytes()[:5000])
        goto(page, f"{server.url}Share", "Open a bundle")
        upload_bundle(page, bad)
        wait_idle(page, "This bundle was refused")
        assert not (server.workspace / "comparisons" / cid).exists()

        goto(page, f"{server.url}Share", "Open a bundle")
        upload_bundle(page, path)
        page.wait_for_url(lambda url: f"c={cid}" in url, timeout=240_000)
        wait_idle(page, "grown")
        no_exception(page)
        results = manifest(server, cid)["results"]
        assert results["model2vec"]["status"] == "done" and results["model2vec"]["chunks"] == 30

        goto(page, f"{server.url}Share?c={cid}", "Download bundle")
        shot(page, "share_bundle")
        with page.expect_download(timeout=120_000) as info:
            page.get_by_role("button", name="Download bundle").click()
        again = tmp_path / "again.zip"
        info.value.save_as(again)
        assert bundle.read(again)["comp"].id == cid
        assert manifest(server, cid)["results"] == results  # nothing was embedded or rerun

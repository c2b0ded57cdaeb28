"""Bundles: a comparison exported from one workspace opens in a fresh one with 0 embeddings and the
same metrics; a tampered, truncated or hostile bundle is refused and changes nothing."""

import io
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from conftest import ROOT

from embedlab import bundle, comparison
from embedlab.chunking import Chunking

MODELS = ["bm25", "model2vec", "hybrid:model2vec+bm25"]


def env():
    e = {k: v for k, v in os.environ.items() if not k.startswith("EMBEDLAB_")}
    return {**e, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(ROOT)}


def cli(*args):
    return subprocess.run([sys.executable, "-m", "embedlab", *map(str, args)], cwd=ROOT, env=env(),
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def exported(workspace, sample_docs, tmp_path_factory):
    ds = workspace.add_dataset(sample_docs.documents, Chunking(200, 20), sample_docs.eval_set, name="bundled")
    comp = comparison.create(workspace, ds, MODELS)
    comparison.run(workspace, comp)
    path = tmp_path_factory.mktemp("bundle") / "comp.zip"
    head = bundle.export(workspace, comp.id, path)
    return comp, path, head


# Opens the bundle in a fresh workspace (its own process: Lite admits one client per folder here),
# then runs the comparison there and prints what it embedded and measured.
REOPEN = """
import json, sys
from embedlab import comparison
from embedlab.workspace import Workspace
ws = Workspace(sys.argv[1])
comp = comparison.load(ws, sys.argv[2])
before = {m: r.get("metrics") for m, r in comp.results.items()}
comparison.run(ws, comp)
print(json.dumps({"before": before, "embedded": {m: r["embedded_now"] for m, r in comp.results.items()},
                  "metrics": {m: r.get("metrics") for m, r in comp.results.items()}}))
"""


def test_a_fresh_workspace_opens_it_with_no_embedding_and_the_same_metrics(exported, tmp_path):
    comp, path, head = exported
    assert set(head["collections"]) == {comp.results[m]["collection"] for m in ["bm25", "model2vec"]}
    done = cli("import", path, "--workspace", tmp_path / "fresh")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == comp.id
    out = subprocess.run([sys.executable, "-c", REOPEN, tmp_path / "fresh", comp.id], cwd=ROOT, env=env(),
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["embedded"] == dict.fromkeys(MODELS, 0)
    want = {m: comp.results[m]["metrics"] for m in MODELS}
    assert got["before"] == want  # the manifest came over
    assert got["metrics"] == want  # and evaluating again on the imported vectors gives the same numbers
    again = cli("import", path, "--workspace", tmp_path / "fresh")  # the same bundle twice: nothing new
    assert again.returncode == 0, again.stderr[-3000:]


def test_cli_export_writes_the_same_members(exported, workspace, tmp_path):
    comp, path, _ = exported
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
    assert {"bundle.json", "comparison/manifest.json", "dataset/chunks.parquet", "dataset/documents.jsonl"} <= names
    assert any(n.startswith("vectors/") for n in names)


def rezip(path, out, change=None, add=None, drop=None, head_fix=True):
    """A copy of the bundle with one member changed/added/dropped; the head re-hashed or not."""
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    head = json.loads(members.pop("bundle.json"))
    for name, data in (change or {}).items():
        members[name] = data
        if head_fix:
            import hashlib

            head["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    for name in drop or []:
        members.pop(name)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("bundle.json", json.dumps(head))
        for name, data in {**members, **(add or {})}.items():
            z.writestr(name, data)
    out.write_bytes(buf.getvalue())
    return out


def bad_bundles(path, tmp_path):
    with zipfile.ZipFile(path) as z:
        manifest_bytes = z.read("comparison/manifest.json")
        manifest = json.loads(manifest_bytes)
        vec = next(n for n in z.namelist() if n.startswith("vectors/"))
    raw = path.read_bytes()
    tampered_manifest = manifest_bytes.replace(b'"created": "20', b'"created": "19', 1)  # same size
    assert tampered_manifest != manifest_bytes
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("bundle.json", "{}")
        z.writestr("dataset/zeros", b"\0" * (50 * 2**20))
    traversal = io.BytesIO()
    with zipfile.ZipFile(traversal, "w") as z:
        z.writestr("bundle.json", "{}")
        z.writestr("../../evil.txt", "x")
    yield "truncated", raw[: len(raw) // 2], "not a readable zip"
    yield "not a zip", b"hello", "not a readable zip"
    yield "tampered manifest", rezip(path, tmp_path / "t.zip", {"comparison/manifest.json": tampered_manifest},
                                     head_fix=False).read_bytes(), "does not match its sha256"
    yield "tampered vectors", rezip(path, tmp_path / "v.zip", {vec: b"PK\x03\x04junk"}).read_bytes(), "vectors"
    yield "extra file", rezip(path, tmp_path / "e.zip", add={"dataset/extra.txt": b"x"}).read_bytes(), "not listed"
    yield "missing file", rezip(path, tmp_path / "m.zip", drop=[vec]).read_bytes(), "missing"
    yield "zip bomb", bomb.getvalue(), "zip bomb"
    yield "path traversal", traversal.getvalue(), "unexpected path"
    wrong_id = dict(manifest, id="../../../../etc/passwd0000")
    yield "hostile id", rezip(path, tmp_path / "i.zip", {"comparison/manifest.json":
                                                         json.dumps(wrong_id).encode()}).read_bytes(), "comparison id"


def tree(root):
    return sorted((str(p.relative_to(root)), p.stat().st_size) for p in root.rglob("*") if p.is_file())


def test_bad_bundles_are_refused_and_change_nothing(exported, tmp_path):
    from embedlab.workspace import Workspace

    _, path, _ = exported
    ws = Workspace(tmp_path / "target")
    before = tree(ws.root)
    for label, data, message in bad_bundles(path, tmp_path):
        with pytest.raises(bundle.BundleError, match=message):
            bundle.import_bundle(ws, data)
        assert tree(ws.root) == before, label
    assert ws._store is None  # refused before the vector store was even opened


def test_the_cli_refuses_a_bad_bundle_with_one_line(exported, tmp_path):
    _, path, _ = exported
    bad = tmp_path / "bad.zip"
    bad.write_bytes(path.read_bytes()[:1000])
    done = cli("import", bad, "--workspace", tmp_path / "w")
    assert done.returncode == 2 and done.stderr.startswith("error: not an EmbedLab bundle")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "w" / "comparisons").exists()


def test_vectors_round_trip_exactly(exported, workspace):
    comp, path, _ = exported
    checked = bundle.read(path)
    for mid in ["bm25", "model2vec"]:
        r = comp.results[mid]
        got = checked["vectors"][r["collection"]]
        want = workspace.store.vectors(r["collection"], list(range(r["chunks"])), r["sparse"])
        if r["sparse"]:
            assert (got != want).nnz == 0
        else:
            np.testing.assert_array_equal(got, want)

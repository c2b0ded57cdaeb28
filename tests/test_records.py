"""Named records: a manifest written by an older EmbedLab opens and reads through ModelRun; hybrid ids are
parsed in one place."""

import json

import pytest

from embedlab import comparison
from embedlab.records import HybridSpec, ModelRun, is_hybrid, parts
from embedlab.workspace import Workspace

OLD_MANIFEST = {  # as the first version wrote it: no seed, no evaluation card, no intervals
    "id": "A" * 24, "dataset_key": "k" * 24, "models": [{"id": "bm25", "options": {}},
                                                        {"id": "hybrid:minilm+bm25", "options": {}}],
    "name": "old", "created": "2026-11-01T00:00:00+00:00", "chunking": {"size": 512, "overlap": 64},
    "results": {"bm25": {"status": "done", "chunks": 10, "embedded_now": 10, "metrics": {"ndcg@10": 0.5},
                         "collection": "el_x", "sparse": True, "legacy_field": 7}},
    "view": {}}


def test_an_old_manifest_opens_and_reads_as_records(tmp_path):
    ws = Workspace(tmp_path)
    path = ws.comparison_dir("A" * 24) / "manifest.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(OLD_MANIFEST))
    comp = comparison.load(ws, "A" * 24)
    assert comp.seed == 0 and comp.card == {}
    bm25, hybrid = comp.runs()
    assert (bm25.status, bm25.chunks, bm25.metrics, bm25.ci, bm25.kind) == ("done", 10, {"ndcg@10": 0.5}, {}, "sparse")
    assert bm25.extra == {"legacy_field": 7} and bm25.done
    assert (hybrid.status, hybrid.kind, hybrid.done, hybrid.metrics) == ("queued", "hybrid", False, {})
    with pytest.raises(AttributeError):  # frozen: a reader cannot change the manifest through a record
        bm25.status = "error"


def test_hybrid_ids_are_parsed_in_one_place():
    spec = HybridSpec.parse("hybrid:minilm+bm25@0.7")
    assert (spec.parts, spec.method, spec.weights) == (("minilm", "bm25"), "weighted", pytest.approx((0.7, 0.3)))
    assert HybridSpec.parse("hybrid:a+b").method == "rrf" and HybridSpec.parse("hybrid:a+b").k == 60
    assert parts("hybrid:a+b") == ["a", "b"] and parts("minilm") == ["minilm"]
    assert is_hybrid("hybrid:a+b") and not is_hybrid("minilm")
    for bad in ("hybrid:a", "hybrid:a+b+c", "hybrid:a+b@1.5", "minilm"):
        with pytest.raises(ValueError):
            HybridSpec.parse(bad)
    assert ModelRun.of("x", None) == ModelRun("x")

"""The verdict's statistics, checked against ranx and scipy on real runs of the bundled sample."""

import json
import subprocess

import numpy as np
import pytest
from conftest import PY, ROOT, SAMPLE

from embedlab import comparison, recommend, verdict
from embedlab.chunking import Chunking
from embedlab.evaluation import ranked
from embedlab.retrieval import chunk_depth, doc_run, open_hybrid, open_model, search

MODELS = ["bm25", "model2vec", "glove-50d", "hybrid:glove-50d+bm25"]


@pytest.fixture(scope="module")
def runs(workspace, sample_docs):
    """Real document runs of three bundled models on the sample's 100 judged queries."""
    ds = workspace.add_dataset(sample_docs.documents, Chunking(240, 24), sample_docs.eval_set, name="sample")
    comp = comparison.create(workspace, ds, MODELS)
    comparison.run(workspace, comp)
    ev = ds.eval_set
    qids = [q for q in ev.qrels if q in ev.queries]
    handles = {m: open_model(ds, m, {}, None) for m in MODELS if not m.startswith("hybrid:")}
    handles.update({m: open_hybrid(m, handles) for m in MODELS if m.startswith("hybrid:")})
    out = {}
    for m, h in handles.items():
        hits = search(workspace.store, h, [ev.queries[q] for q in qids], chunk_depth(len(ds.chunks), len(ds.documents)))
        out[m] = doc_run(dict(zip(qids, hits, strict=True)), [c.doc_id for c in ds.chunks])
    return workspace, comp, ds, out


def _tie_free(run):
    """The same ranking with ties broken as our evaluation breaks them, so ranx scores identically."""
    return {q: {d: float(len(docs) - i) for i, d in enumerate(ranked(docs, 100))} for q, docs in run.items()}


def test_p_values_match_ranx_fisher_on_real_runs(runs):
    ranx = pytest.importorskip("ranx")
    ws, comp, ds, doc_runs = runs
    qrels = {q: {d: int(r) for d, r in j.items()} for q, j in ds.eval_set.qrels.items() if q in doc_runs["bm25"]}
    rx_runs = [ranx.Run(_tie_free({q: doc_runs[m].get(q, {}) for q in qrels}), name=m) for m in MODELS]
    report = ranx.compare(ranx.Qrels(qrels), rx_runs, ["ndcg@10"], stat_test="fisher", n_permutations=10_000,
                          random_seed=7, max_p=0.05).to_dict()
    ours = verdict.compare(comparison.per_query(ws, comp), "ndcg@10", models=MODELS, seed=7, n_permutations=10_000)
    assert ours.n_permutations == 10_000
    for m in MODELS:  # the same per-query numbers: means agree to rounding
        assert ours.score(m).mean == pytest.approx(report[m]["scores"]["ndcg@10"], abs=1e-9)
    checked = 0
    for p in ours.pairs:
        theirs = report[p.a]["comparisons"][p.b]["ndcg@10"]
        # both are Monte Carlo estimates of the same exact p: 10,000 permutations each, ours adds 1/(n+1)
        se = np.sqrt(max(theirs * (1 - theirs), 1e-4) / 10_000)
        assert abs(p.p - theirs) <= 4 * se + 2e-4, (p.a, p.b, p.p, theirs)
        checked += 1
    assert checked == 6
    # one real pair sits well above the p floor, where a one-sided test would give half the p-value
    assert max(p.p for p in ours.pairs) > 0.005, [p.p for p in ours.pairs]
    # and with a pair whose difference is small enough that p is far from 0 (sign flips of a real run)
    a = np.array([v["ndcg@10"] for _, v in sorted(comparison.per_query(ws, comp)["bm25"].items())])
    rng = np.random.default_rng(0)
    b = a + rng.normal(0, 0.05, a.size)
    from ranx.statistical_tests import fisher_randomization_test

    theirs, _ = fisher_randomization_test(a, b, 10_000, 0.05, 3)
    mine = verdict.permutation_p(a, b, 10_000, seed=3)
    assert 0.01 < theirs < 0.99
    assert abs(mine - theirs) <= 4 * np.sqrt(theirs * (1 - theirs) / 10_000) + 2e-4


def test_intervals_match_scipy_bootstrap(runs):
    from scipy import stats

    ws, comp, _, _ = runs
    pq = comparison.per_query(ws, comp)
    for m in MODELS:
        values = np.array([v["ndcg@10"] for _, v in sorted(pq[m].items())])  # the stored CI resamples sorted ids
        mean, low, high = verdict.mean_ci(values, n_resamples=9999, seed=1)
        ref = stats.bootstrap((values,), np.mean, n_resamples=9999, method="percentile",
                              random_state=np.random.default_rng(5)).confidence_interval
        assert mean == pytest.approx(values.mean())
        assert low == pytest.approx(ref.low, abs=0.008) and high == pytest.approx(ref.high, abs=0.008)
        assert low < mean < high
        # the CI stored with the run is compare()'s for that model (same seed, same resampled queries)
        stored = comp.results[m]["ci"]["ndcg@10"]
        joint = verdict.compare(pq, models=MODELS, seed=comp.seed).score(m)
        assert stored == pytest.approx([joint.low, joint.high], abs=1e-6)


def test_same_resampled_queries_for_every_model():
    rng = np.random.default_rng(0)
    x = rng.random(80)
    per_query = {m: {f"q{i}": {"ndcg@10": v} for i, v in enumerate(x)} for m in ("a", "b")}
    v = verdict.compare(per_query, seed=3)
    assert v.score("a").low == v.score("b").low and v.score("a").high == v.score("b").high
    pair = v.pairs[0]
    assert (pair.diff, pair.low, pair.high, pair.p) == (0.0, 0.0, 0.0, 1.0)
    assert v.tiers == (("a", "b"),) and not v.separable


def test_holm_against_hand_computation():
    # sorted: 0.01×3 = 0.03; 0.03×2 = 0.06; 0.04×1 = 0.04 → raised to 0.06 (monotone)
    assert verdict.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert verdict.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert verdict.holm([]) == []


def test_tiers_are_anchored_not_transitive():
    means = {"a": 0.70, "b": 0.68, "c": 0.66, "d": 0.40}
    p = {frozenset(("a", "b")): 0.3, frozenset(("a", "c")): 0.01, frozenset(("b", "c")): 0.4,
         frozenset(("a", "d")): 0.001, frozenset(("b", "d")): 0.001, frozenset(("c", "d")): 0.001}
    # c is tied with b, but not with the anchor a: it starts tier 2
    assert verdict.tiers(means, p) == [["a", "b"], ["c"], ["d"]]


def test_a_clear_difference_is_found_and_a_null_one_is_not():
    rng = np.random.default_rng(1)
    base = rng.random(200)
    per_query = {"good": {f"q{i}": {"ndcg@10": min(1.0, v + 0.2)} for i, v in enumerate(base)},
                 "bad": {f"q{i}": {"ndcg@10": v} for i, v in enumerate(base)},
                 "noisy": {f"q{i}": {"ndcg@10": float(np.clip(v + rng.normal(0, 0.01), 0, 1))}
                           for i, v in enumerate(base)}}
    v = verdict.compare(per_query, seed=0)
    assert v.tiers[0] == ("good",)
    assert set(v.tiers[1]) == {"bad", "noisy"}
    assert v.pair("good", "bad").significant and v.pair("good", "bad").diff > 0.15
    assert not v.pair("bad", "noisy").significant
    assert v.pair("bad", "good").diff == pytest.approx(-v.pair("good", "bad").diff)
    assert verdict.Verdict.from_dict(json.loads(json.dumps(v.to_dict()))) == v


def test_pareto_greys_out_dominated_models():
    o = recommend.Option
    opts = recommend.pareto([o("big", 0.70, 0.6, 0.8, 1, 10.0, 100.0, 50.0, 4000),
                             o("small", 0.65, 0.55, 0.75, 1, 0.0, 0.0, 5.0, 1000),
                             o("worse", 0.60, 0.5, 0.7, 2, 0.0, 0.0, 6.0, 1000),
                             o("unknown", 0.50, 0.4, 0.6, 2, None, None, None, None)])
    assert {x.model: x.dominated for x in opts} == {"big": False, "small": False, "worse": True, "unknown": True}


def test_recommendation_says_so_when_nothing_separates():
    per_query = {m: {f"q{i}": {"ndcg@10": (i % 3) / 2} for i in range(30)} for m in ("a", "b")}
    v = verdict.compare(per_query)
    rec = recommend.recommend(v, recommend.options(v, {}, 1000, 10), recommend.RunFacts(generated=True,
                              set_kind="generated known-item queries", lexical_overlap=0.9))
    assert rec.pick is None and "No recommendation" in rec.headline
    assert any("Only 30 queries" in c for c in rec.caveats) and "Some other pairs" not in rec.headline
    assert any("90%" in c and "BM25" in c for c in rec.caveats)


def test_recommendation_on_real_runs(runs):
    ws, comp, ds, _ = runs
    v = verdict.compare(comparison.per_query(ws, comp), models=MODELS)
    facts = recommend.RunFacts(truncated_pct={"model2vec": 12.0}, failed={"x": "boom"})
    rec = recommend.recommend(v, recommend.options(v, {r.id: r for r in comp.runs()}, 100_000, len(ds.chunks)), facts)
    assert rec.pick == "bm25" == v.scores[0].model
    assert "bm25" in rec.headline and f"{v.scores[0].mean:.3f}" in rec.headline
    assert any("model2vec truncates 12 %" in c for c in rec.caveats) and any("x failed" in c for c in rec.caveats)


def test_cli_json_has_per_query_ci_pairwise_and_tiers(tmp_path):
    out = tmp_path / "v.json"
    cmd = [PY, "-m", "embedlab", "evaluate", "--data", str(SAMPLE), "--models", "bm25,model2vec",
           "--workspace", str(tmp_path / "ws"), "--seed", "11", "--json", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert res.returncode == 0, res.stderr
    data = json.loads(out.read_text())
    for mid, row in data["models"].items():
        values = row["per_query"]["ndcg@10"]
        assert len(values) == 100
        assert np.mean(list(values.values())) == pytest.approx(row["ndcg@10"], abs=1e-6)
        low, high = row["ci"]["ndcg@10"]
        assert low <= row["ndcg@10"] <= high, mid
    (pair,) = data["pairwise"]
    assert {pair["a"], pair["b"]} == {"bm25", "model2vec"} and pair["metric"] == "ndcg@10"
    assert pair["p"] <= pair["p_holm"] <= 1
    assert sorted(m for t in data["tiers"] for m in t) == ["bm25", "model2vec"]
    assert data["tiers"][0] == ["bm25"]
    assert data["card"]["seed"] == 11 and data["card"]["queries"] == 100
    assert "tier 1" in res.stdout and "p_holm" in res.stdout


def test_inverse_cloze_removes_the_query_sentence_and_nothing_else(sample_docs):
    from embedlab import evalgen

    docs, ev = evalgen.generate_inverse_cloze(sample_docs.documents, n=30, seed=2)
    assert len(ev.queries) == 30 and ev.generated and evalgen.set_kind(ev) == "inverse-cloze queries"
    before = {d.id: d for d in sample_docs.documents}
    changed = {d.id for d in docs if d.text != before[d.id].text}
    assert changed == {doc for judged in ev.qrels.values() for doc in judged}
    for qid, sentence in ev.queries.items():
        (doc_id,) = ev.qrels[qid]
        new = next(d for d in docs if d.id == doc_id)
        assert sentence in before[doc_id].text and sentence not in new.full_text
    # the copied-words share falls when the answer's own sentence is gone
    known = evalgen.generate_eval_set(sample_docs.documents, n=30, seed=2)

    class _Ds:
        def __init__(self, documents):
            self.documents = documents

    assert evalgen.lexical_overlap(ev, _Ds(docs)) < evalgen.lexical_overlap(known, _Ds(sample_docs.documents))


def test_version_changes_name_what_differs(runs):
    from embedlab import evalcard

    _, comp, _, _ = runs
    card = comp.card
    assert card["queries"] == 100 and card["seed"] == comp.seed and card["models"]["bm25"]["packages"]["bm25s"]
    assert evalcard.version_changes(card) == []
    tampered = {**card, "libraries": {**card["libraries"], "numpy": "0.0.1"}}
    tampered["models"] = {**card["models"], "bm25": {**card["models"]["bm25"], "packages": {"bm25s": "0.0.0"}}}
    changes = evalcard.version_changes(tampered)
    assert any(c.startswith("numpy: recorded 0.0.1, running ") for c in changes)
    assert any(c.startswith("bm25 (bm25s): recorded 0.0.0") for c in changes) and len(changes) == 2


def test_cli_generated_queries_name_their_kind(tmp_path):
    out = tmp_path / "g.json"
    cmd = [PY, "-m", "embedlab", "evaluate", "--data", str(SAMPLE / "corpus.jsonl"), "--models", "bm25",
           "--workspace", str(tmp_path / "ws"), "--queries", "inverse-cloze", "--n-queries", "40", "--json", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert res.returncode == 0, res.stderr
    data = json.loads(out.read_text())
    assert data["query_set"]["kind"] == "inverse-cloze queries" and data["query_set"]["generated"]
    assert 0 < data["query_set"]["lexical_overlap"] < 1
    assert len(data["models"]["bm25"]["per_query"]["ndcg@10"]) == 40
    assert "rests on inverse-cloze queries" in res.stdout and "only 40 queries" in res.stdout


def test_no_recommendation_names_the_pairs_that_do_differ():
    rng = np.random.default_rng(4)
    base = rng.random(200)
    per_query = {"b": {f"q{i}": {"ndcg@10": v + 0.1} for i, v in enumerate(base)},
                 "c": {f"q{i}": {"ndcg@10": v} for i, v in enumerate(base)},
                 "a": {f"q{i}": {"ndcg@10": v + 0.12 + rng.normal(0, 1.2)} for i, v in enumerate(base)}}
    v = verdict.compare(per_query)
    assert v.scores[0].model == "a" and v.tiers == (("a", "b", "c"),)
    assert v.pair("b", "c").significant and not v.pair("a", "c").significant
    rec = recommend.recommend(v, recommend.options(v, {}, 1000, 10), recommend.RunFacts())
    assert rec.pick is None
    assert "no model can be separated from the best (a)" in rec.headline and "b vs c" in rec.headline


def test_an_unknown_cost_is_not_counted_as_worse():
    o = recommend.Option
    opts = recommend.pareto([o("paid", 0.70, 0.6, 0.8, 1, 5.0, 50.0, 10.0, 1000),
                             o("unpriced", 0.70, 0.6, 0.8, 1, None, None, 10.0, 1000)])
    assert [x.dominated for x in opts] == [False, False]
    assert recommend._price("st:/models/my-local-model") == 0.0


def test_bad_values_and_unknown_metrics_are_errors_not_zeros():
    good = {f"q{i}": {"ndcg@10": 0.5} for i in range(10)}
    with pytest.raises(ValueError, match="not finite"):
        verdict.compare({"a": good, "b": {**good, "q3": {"ndcg@10": float("nan")}}})
    with pytest.raises(ValueError, match="no per-query 'ndcg@20'"):
        verdict.compare({"a": good, "b": good}, metric="ndcg@20")
    with pytest.raises(ValueError, match="no per-query results for ghost"):
        verdict.compare({"a": good}, models=["a", "ghost"])


def test_pairs_share_their_sign_flips():
    rng = np.random.default_rng(0)
    x = rng.random((3, 120))
    diffs = np.stack([x[0] - x[1], x[0] - x[2], x[1] - x[2]], axis=1)
    together = verdict.permutation_ps(diffs, 5000, seed=9)
    alone = [verdict.permutation_p(x[i], x[j], 5000, seed=9) for i, j in [(0, 1), (0, 2), (1, 2)]]
    assert together.tolist() == alone
    # enough permutations that Holm's first cut can be reached with many models
    assert verdict.permutations_for(45) >= 20 * 45 / 0.05 and verdict.permutations_for(1) == verdict.N_PERMUTATIONS

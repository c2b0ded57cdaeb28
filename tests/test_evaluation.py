"""Metrics checked against ranx (a test dependency) and pytrec_eval (trec_eval itself) when present."""

import random
import warnings

import pytest
import ranx

from embedlab.evaluation import (
    doc_run_from_chunks,
    evaluate,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    per_query_wins,
    precision_at_k,
    ranked,
    recall_at_k,
)

KS = (1, 3, 5, 10, 100)  # 100 is longer than any run below
OURS = {"ndcg": ndcg_at_k, "recall": recall_at_k, "mrr": mrr_at_k, "map": map_at_k,
        "precision": precision_at_k}


def random_case(seed: int, ties: bool):
    """30 judged queries with graded relevance; some missing from the run, some extra in it."""
    rng = random.Random(seed)
    docs = [f"d{i}" for i in range(25)] + [str(i) for i in range(5, 15)]  # "9" > "10" bytewise
    qrels, run = {}, {}
    for q in range(30):
        judged = rng.sample(docs, rng.randint(1, 8))
        qrels[f"q{q}"] = {d: rng.choice([0, 1, 1, 2, 3]) for d in judged}
        qrels[f"q{q}"][judged[0]] = rng.randint(1, 3)  # at least one relevant doc
        if rng.random() < 0.15:
            continue  # no run entry: must score 0
        retrieved = rng.sample(docs, rng.randint(1, 30))
        run[f"q{q}"] = {d: (rng.randint(0, 4) / 4 if ties else rng.random()) for d in retrieved}
    run["not-judged"] = {"d1": 1.0}
    return qrels, run


def ranx_per_query(qrels, run, name, k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba type-safety chatter
        values = ranx.evaluate(ranx.Qrels(qrels), ranx.Run(run), f"{name}@{k}",
                               make_comparable=True, return_mean=False)
    return dict(zip(sorted(qrels), values, strict=True))


def tie_free(run):
    """Same order as ours, as strictly decreasing scores: ranx leaves ties in insertion order."""
    return {q: {d: float(len(s) - i) for i, d in enumerate(ranked(s, len(s)))} for q, s in run.items()}


def assert_close(ours, ref, label):
    assert set(ours) == set(ref), label
    for qid in ours:
        assert ours[qid] == pytest.approx(ref[qid], abs=1e-9), f"{label} {qid}"


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("name", list(OURS))
def test_matches_ranx_without_ties(seed, name):
    qrels, run = random_case(seed, ties=False)
    for k in KS:
        assert_close(OURS[name](qrels, run, k), ranx_per_query(qrels, run, name, k), f"{name}@{k}")


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("name", list(OURS))
def test_matches_ranx_with_ties_in_trec_order(seed, name):
    qrels, run = random_case(seed + 100, ties=True)
    for k in KS:
        assert_close(OURS[name](qrels, run, k), ranx_per_query(qrels, tie_free(run), name, k), f"{name}@{k}")


TREC = {"ndcg": "ndcg_cut", "recall": "recall", "precision": "P", "map": "map_cut"}


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ties", [True, False])
def test_matches_pytrec_eval(seed, ties):
    pytrec_eval = pytest.importorskip("pytrec_eval")
    qrels, run = random_case(seed + 200, ties=ties)
    cuts = ",".join(map(str, KS))
    result = pytrec_eval.RelevanceEvaluator(qrels, {f"{m}.{cuts}" for m in TREC.values()}).evaluate(run)
    judged = {q for q in qrels if any(r > 0 for r in qrels[q].values())}
    for name, measure in TREC.items():
        for k in KS:
            ref = {q: result.get(q, {}).get(f"{measure}_{k}", 0.0) for q in judged}
            assert_close(OURS[name](qrels, run, k), ref, f"{name}@{k}")
    # trec_eval's recip_rank has no cutoff: compare at a k longer than every run.
    rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(run)
    assert_close(mrr_at_k(qrels, run, 100), {q: rr.get(q, {}).get("recip_rank", 0.0) for q in judged}, "mrr")


def test_ties_break_by_doc_id_descending_like_trec_eval():
    assert ranked({"a": 1.0, "b": 1.0, "c": 2.0}, 3) == ["c", "b", "a"]
    assert ranked({"10": 0.5, "9": 0.5}, 2) == ["9", "10"]  # byte order, not numeric
    assert mrr_at_k({"q": {"a": 1}}, {"q": {"a": 1.0, "b": 1.0}}, 10) == {"q": 0.5}


def test_missing_and_unjudged_queries():
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 0}}
    metrics = evaluate(qrels, {"q1": {"a": 0.3}, "q9": {"a": 1.0}}, ks=(10,))
    assert set(metrics.per_query) == {"q1", "q2"}  # q3 has nothing relevant, q9 nothing judged
    assert metrics.per_query["q2"]["ndcg@10"] == 0.0
    assert metrics.mean["ndcg@10"] == pytest.approx(0.5)
    assert metrics.n_queries == 2


def test_evaluate_agrees_with_single_metrics_and_has_all_names():
    qrels, run = random_case(7, ties=True)
    metrics = evaluate(qrels, run)
    for name, fn in OURS.items():
        for k in KS:
            per_query = fn(qrels, run, k)
            assert {q: v[f"{name}@{k}"] for q, v in metrics.per_query.items()} == per_query
            assert metrics.mean[f"{name}@{k}"] == pytest.approx(sum(per_query.values()) / len(per_query))


def test_graded_ndcg_by_hand():
    qrels = {"q": {"a": 3, "b": 1}}
    # ranking b, a: dcg = 1/log2(2) + 3/log2(3); ideal = 3 + 1/log2(3)
    got = ndcg_at_k(qrels, {"q": {"a": 0.1, "b": 0.9}}, 10)["q"]
    assert got == pytest.approx((1 + 3 / 1.584962500721156) / (3 + 1 / 1.584962500721156))


def test_bad_k_is_rejected():
    with pytest.raises(ValueError, match="k must be"):
        ndcg_at_k({"q": {"a": 1}}, {}, 0)
    with pytest.raises(ValueError, match="ks must"):
        evaluate({"q": {"a": 1}}, {}, ks=())


def test_doc_run_keeps_best_chunk():
    run = doc_run_from_chunks({"q": [("a", 0.2), ("b", 0.5), ("a", 0.7), ("a", 0.1)], "r": []})
    assert run == {"q": {"a": 0.7, "b": 0.5}, "r": {}}


def test_per_query_wins_sorted_biggest_win_first():
    a = {"q1": {"ndcg@10": 0.9}, "q2": {"ndcg@10": 0.1}, "q3": {"ndcg@10": 0.5}}
    b = {"q1": {"ndcg@10": 0.4}, "q2": {"ndcg@10": 0.6}, "q4": {"ndcg@10": 0.2}}
    rows = per_query_wins(a, b)
    assert [r[0] for r in rows] == ["q1", "q3", "q4", "q2"]
    assert rows[0] == ("q1", 0.9, 0.4, pytest.approx(0.5))
    assert rows[2] == ("q4", 0.0, 0.2, pytest.approx(-0.2))

"""Tests of hashlearn.evaluation.ranking: the counting kernel against its numpy references."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashlearn import _numba
from hashlearn.codes import pack_bits
from hashlearn.evaluation import (
    HammingEvaluation,
    _counting,
    default_curve_ks,
    evaluate_hamming_ranking,
    hamming_precision_at_k,
    mean_average_precision,
    precision_recall_curve_by_radius,
    precision_within_radius,
    tie_aware_map,
    tie_aware_map_at_k,
)
from hashlearn.evaluation._labels import prepare_labels
from hashlearn.testing import (
    hamming_precision_at_k_reference,
    mean_average_precision_reference,
    precision_recall_curve_by_radius_reference,
    precision_within_radius_reference,
    ranking_statistics_reference,
    tie_aware_map_reference,
)

# The hand-computed example of test_metrics.py: 3 queries x 5 database items, 4 bits.
#   q0: d2(0) d1(1) d4(1) d0(2) d3(3)  relevant: F T F F T   R = 2
#   q1: d3(1) d0(2) d1(3) d4(3) d2(4)  relevant: none         R = 0
#   q2: d0(0) d1(1) d3(1) d4(1) d2(2)  relevant: T F F T T   R = 3
QUERIES = pack_bits([[0, 0, 0, 0], [1, 1, 1, 1], [1, 1, 0, 0]])
DATABASE = pack_bits([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 0], [0, 1, 0, 0]])
QUERY_LABELS = np.array([1, 2, 0])
DATABASE_LABELS = np.array([0, 1, 0, 1, 0])
EXAMPLE = (QUERIES, DATABASE, QUERY_LABELS, DATABASE_LABELS)


def _evaluate_example() -> HammingEvaluation:
    return evaluate_hamming_ranking(
        *EXAMPLE,
        n_bits=4,
        map_ks=[3, 5],
        precision_ks=[2, 5],
        radii=[0, 1, 2, 9],
        curve_ks=[1, 2, 5],
    )


def test_hand_example_every_metric():
    result = _evaluate_example()
    assert (result.n_queries, result.n_database) == (3, 5)
    # mAP@all: q0 (1/2 + 2/5)/2 = 9/20; q1 excluded; q2 (1 + 2/4 + 3/5)/3 = 7/10
    np.testing.assert_allclose(result.map_all.per_query, [9 / 20, np.nan, 7 / 10])
    assert result.map_all.value == pytest.approx(23 / 40)
    assert result.map_all.n_queries_excluded == 1
    # tie-aware: 49/120 and 209/270 (derived in test_metrics.py)
    tie = [float(Fraction(49, 120)), np.nan, float(Fraction(209, 270))]
    np.testing.assert_allclose(result.tie_aware_map.per_query, tie)
    assert result.tie_aware_map.n_queries_excluded == 1
    # mAP@3: q0 F T F -> 1/2; q1 0 (not excluded); q2 T F F -> 1.  mAP@5 = mAP@all, q1 -> 0
    np.testing.assert_allclose(result.map_at_k[3].per_query, [0.5, 0.0, 1.0])
    assert result.map_at_k[3].n_queries_excluded == 0
    np.testing.assert_allclose(result.map_at_k[5].per_query, [9 / 20, 0.0, 7 / 10])
    # tie-aware mAP@3: q0 has d1 (T) and d4 (F) tied at ranks 2..3, both in the top 3: AP@3
    # = 1/2 or 1/3, mean 5/12; q2 has d1 d3 d4 (F F T) tied at ranks 2..4, two of them in
    # the top 3: d4 in (chance 2/3) at rank 2 or 3, AP@3 = 1 or 5/6; out (1/3): AP@3 = 1
    tie_at_3 = [5 / 12, 0.0, 2 / 3 * (1 + 5 / 6) / 2 + 1 / 3]
    np.testing.assert_allclose(result.tie_aware_map_at_k[3].per_query, tie_at_3)
    # at K = n_database: tie-aware mAP@all, with the query without relevant items at 0
    np.testing.assert_allclose(result.tie_aware_map_at_k[5].per_query, np.nan_to_num(tie))
    # P@2: 1/2, 0, 1/2; P@5: 2/5, 0, 3/5
    np.testing.assert_allclose(result.precision_at_k[2].per_query, [0.5, 0.0, 0.5])
    np.testing.assert_allclose(result.precision_at_k[5].per_query, [0.4, 0.0, 0.6])
    # P@r: r=0 -> 0 (d2), empty -> 0, 1 (d0); r=1 -> 1/3, 0, 2/4; r=2 -> 1/4, 0, 3/5
    r0 = result.precision_within_radius[0]
    np.testing.assert_allclose(r0.per_query, [0.0, 0.0, 1.0])
    assert r0.empty_fraction == pytest.approx(1 / 3)
    np.testing.assert_allclose(result.precision_within_radius[1].per_query, [1 / 3, 0, 0.5])
    np.testing.assert_allclose(result.precision_within_radius[2].per_query, [0.25, 0, 0.6])
    # a radius above n_bits retrieves everything: R / n_database
    np.testing.assert_allclose(result.precision_within_radius[9].per_query, [0.4, 0, 0.6])
    radius, precision, recall = result.pr_curve
    np.testing.assert_array_equal(radius, [0, 1, 2, 3, 4])
    np.testing.assert_allclose(precision, [1 / 3, 5 / 18, 17 / 60, 1 / 3, 1 / 3])
    np.testing.assert_allclose(recall, [1 / 6, 7 / 12, 3 / 4, 1, 1])
    # P@K curve: P@1 = (0 + 0 + 1)/3; P@2 = (1/2 + 0 + 1/2)/3; P@5 = (2/5 + 0 + 3/5)/3
    ks, curve = result.precision_at_k_curve
    np.testing.assert_array_equal(ks, [1, 2, 5])
    np.testing.assert_allclose(curve, [1 / 3, 1 / 3, 1 / 3])


def test_to_dict_shape_and_json():
    summary = _evaluate_example().to_dict()
    assert list(summary) == [
        "map",
        "map_n_excluded",
        "tie_aware_map",
        "map_at_k",
        "tie_aware_map_at_k",
        "precision_at_k",
        "tie_aware_precision_at_k",
        "precision_within_radius",
        "pr_curve",
        "precision_at_k_curve",
    ]
    assert summary["map"] == pytest.approx(23 / 40)
    assert summary["map_n_excluded"] == 1
    assert list(summary["map_at_k"]) == ["3", "5"]
    assert list(summary["tie_aware_map_at_k"]) == ["3", "5"]
    assert summary["precision_at_k"]["2"] == pytest.approx(1 / 3)
    assert summary["precision_within_radius"]["0"] == pytest.approx(
        {"value": 1 / 3, "empty_fraction": 1 / 3}
    )
    assert summary["pr_curve"]["radius"] == [0, 1, 2, 3, 4]
    assert summary["precision_at_k_curve"]["k"] == [1, 2, 5]
    text = json.dumps(summary, allow_nan=False)  # plain Python, no NaN
    assert json.loads(text) == summary
    for value in summary["pr_curve"]["precision"] + summary["precision_at_k_curve"]["precision"]:
        assert type(value) is float


def test_to_dict_nan_becomes_none():
    codes = pack_bits([[0, 1]])
    result = evaluate_hamming_ranking(codes, codes, [0], [1], precision_ks=[1])
    assert np.isnan(result.map_all.value)
    summary = result.to_dict()
    assert summary["map"] is None and summary["tie_aware_map"] is None
    assert summary["map_n_excluded"] == 1
    assert summary["pr_curve"]["recall"] == [None] * 9
    json.dumps(summary, allow_nan=False)


def test_results_are_read_only():
    result = _evaluate_example()
    with pytest.raises(ValueError):
        result.map_all.per_query[0] = 1.0
    with pytest.raises(TypeError):
        result.map_at_k[7] = result.map_all  # type: ignore[index]
    with pytest.raises(AttributeError):
        result.n_queries = 4  # type: ignore[misc]


def test_default_curve_ks():
    assert default_curve_ks(1).tolist() == [1]
    assert default_curve_ks(10).tolist() == [1, 2, 5, 10]
    assert default_curve_ks(50_000).tolist() == [
        1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000
    ]  # fmt: skip
    ks, _ = evaluate_hamming_ranking(*EXAMPLE, precision_ks=[1]).precision_at_k_curve
    np.testing.assert_array_equal(ks, [1, 2, 5])


# --------------------------------------------------------------------------------------
# The kernel against its numpy reference (exact equality, sums in the same order)
# --------------------------------------------------------------------------------------


def _random_problem(rng, n_bits, n_queries, n_database, *, multi, n_pool=3):
    # few distinct codes, so that distance ties are common
    pool = rng.integers(0, 2, (n_pool, n_bits))
    queries = pack_bits(rng.integers(0, 2, (n_queries, n_bits)))
    database = pack_bits(pool[rng.integers(0, n_pool, n_database)])
    if multi:
        n_labels = int(rng.integers(1, 70))
        query_labels = rng.random((n_queries, n_labels)) < 0.05
        database_labels = rng.random((n_database, n_labels)) < 0.05
    else:
        query_labels = rng.integers(0, 5, n_queries)
        database_labels = rng.integers(0, 4, n_database)  # class 4: no relevant item
    return queries, database, query_labels, database_labels


def _kernel_statistics(queries, database, query_labels, database_labels, ks, n_bits):
    labels = prepare_labels(query_labels, database_labels, queries.shape[0], database.shape[0])
    blocks = list(
        _counting.iter_statistics(
            queries, database, labels, n_bits + 1, np.unique(ks).astype(np.int64), ranks=True
        )
    )
    return {
        name: np.concatenate([getattr(stats, name) for _, _, stats in blocks])
        for name in ("items", "relevant", "ap_all", "hits", "ap_sums")
    }


@settings(max_examples=60, deadline=None)
@given(
    n_bits=st.integers(1, 140),
    n_queries=st.integers(1, 12),
    n_database=st.integers(1, 60),
    multi=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_kernel_matches_reference(n_bits, n_queries, n_database, multi, seed, data):
    rng = np.random.default_rng(seed)
    problem = _random_problem(rng, n_bits, n_queries, n_database, multi=multi)
    ks = data.draw(st.lists(st.integers(1, n_database), max_size=5))
    expected = ranking_statistics_reference(*problem, ks=ks, n_bits=n_bits)
    got = _kernel_statistics(*problem, ks, n_bits)
    for name in ("items", "relevant", "ap_all", "hits", "ap_sums"):
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


@pytest.mark.parametrize("multi", [False, True])
@pytest.mark.parametrize("n_bits", [3, 12, 64, 100])
def test_public_functions_match_numpy_references(n_bits, multi):
    rng = np.random.default_rng(n_bits + multi)
    problem = _random_problem(rng, n_bits, 11, 70, multi=multi, n_pool=6)
    for k in (None, 1, 9, 70):
        got = mean_average_precision(*problem, k=k)
        expected = mean_average_precision_reference(*problem, k=k)
        np.testing.assert_array_equal(got.per_query, expected.per_query)
        assert got.n_queries_excluded == expected.n_queries_excluded
    for k in (1, 9, 70):
        np.testing.assert_array_equal(
            hamming_precision_at_k(*problem, k=k).per_query,
            hamming_precision_at_k_reference(*problem, k=k).per_query,
        )
    for radius in (0, 1, 3, 200):
        got_r = precision_within_radius(*problem, radius=radius)
        expected_r = precision_within_radius_reference(*problem, radius=radius)
        np.testing.assert_array_equal(got_r.per_query, expected_r.per_query)
        assert got_r.empty_fraction == expected_r.empty_fraction
    np.testing.assert_array_equal(
        tie_aware_map(*problem).per_query, tie_aware_map_reference(*problem).per_query
    )
    for average in ("macro", "micro"):
        got_c = precision_recall_curve_by_radius(*problem, n_bits=n_bits, average=average)
        expected_c = precision_recall_curve_by_radius_reference(
            *problem, n_bits=n_bits, average=average
        )
        for got_part, expected_part in zip(got_c, expected_c, strict=True):
            np.testing.assert_allclose(got_part, expected_part, rtol=1e-13)


@pytest.mark.parametrize("multi", [False, True])
def test_evaluate_equals_the_single_metric_functions(multi):
    rng = np.random.default_rng(21)
    problem = _random_problem(rng, 20, 15, 90, multi=multi, n_pool=8)
    result = evaluate_hamming_ranking(
        *problem, n_bits=20, map_ks=[5, 90], precision_ks=[1, 30], radii=[0, 2, 4]
    )
    np.testing.assert_array_equal(
        result.map_all.per_query, mean_average_precision(*problem).per_query
    )
    np.testing.assert_array_equal(result.tie_aware_map.per_query, tie_aware_map(*problem).per_query)
    for k in (5, 90):
        np.testing.assert_array_equal(
            result.map_at_k[k].per_query, mean_average_precision(*problem, k=k).per_query
        )
        np.testing.assert_array_equal(
            result.tie_aware_map_at_k[k].per_query, tie_aware_map_at_k(*problem, k=k).per_query
        )
        assert result.tie_aware_map_at_k[k].n_queries_excluded == 0
    for k in (1, 30):
        np.testing.assert_array_equal(
            result.precision_at_k[k].per_query, hamming_precision_at_k(*problem, k=k).per_query
        )
    for radius in (0, 2, 4):
        expected = precision_within_radius(*problem, radius=radius)
        got = result.precision_within_radius[radius]
        np.testing.assert_array_equal(got.per_query, expected.per_query)
        assert got.empty_fraction == expected.empty_fraction
    curve = precision_recall_curve_by_radius(*problem, n_bits=20)
    for got_part, expected_part in zip(result.pr_curve, curve, strict=True):
        np.testing.assert_array_equal(got_part, expected_part)
    ks, precision = result.precision_at_k_curve
    for k, value in zip(ks, precision, strict=True):
        assert value == pytest.approx(hamming_precision_at_k(*problem, k=int(k)).value)


def test_threads_and_blocks_do_not_change_results(monkeypatch):
    rng = np.random.default_rng(5)
    problem = _random_problem(rng, 70, 37, 400, multi=False, n_pool=20)
    kwargs = {"map_ks": [10, 400], "precision_ks": [7], "radii": [1]}
    baseline = evaluate_hamming_ranking(*problem, **kwargs).to_dict()
    monkeypatch.setattr(_numba, "SERIAL_WORK", 0)  # force the threaded compilation
    assert evaluate_hamming_ranking(*problem, n_threads=2, **kwargs).to_dict() == baseline
    monkeypatch.setattr(_counting, "_STATISTICS_BYTES", 1)  # one query per block
    blocked = evaluate_hamming_ranking(*problem, **kwargs)
    assert blocked.to_dict() == baseline
    np.testing.assert_array_equal(
        blocked.map_all.per_query, evaluate_hamming_ranking(*problem, **kwargs).map_all.per_query
    )


def test_larger_random_problem_against_reference():
    # many relevant items and long distance groups; codes of 3 words
    rng = np.random.default_rng(8)
    queries = rng.integers(0, 256, (20, 17), dtype=np.uint8)
    database = rng.integers(0, 256, (3000, 17), dtype=np.uint8)
    query_labels, database_labels = rng.integers(0, 3, 20), rng.integers(0, 3, 3000)
    args = (queries, database, query_labels, database_labels)
    expected = ranking_statistics_reference(*args, ks=[1, 100, 2999])
    got = _kernel_statistics(*args, [1, 100, 2999], 136)
    for name in ("items", "relevant", "ap_all", "hits", "ap_sums"):
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------


def test_invalid_inputs():
    with pytest.raises(ValueError, match=r"precision_ks must hold ints K in \[1, n_database=5\]"):
        evaluate_hamming_ranking(*EXAMPLE)  # default precision_ks include 10 > 5
    with pytest.raises(ValueError, match=r"map_ks\[0\] must be an int >= 1 \(a cut-off K\), got 0"):
        evaluate_hamming_ranking(*EXAMPLE, map_ks=[0], precision_ks=[1])
    with pytest.raises(TypeError, match=r"curve_ks\[0\] must be an int >= 1 .*got 1.5"):
        evaluate_hamming_ranking(*EXAMPLE, precision_ks=[1], curve_ks=[1.5])
    with pytest.raises(ValueError, match="at least one cut-off"):
        evaluate_hamming_ranking(*EXAMPLE, precision_ks=[1], curve_ks=[])
    with pytest.raises(TypeError, match="sequence of ints"):
        evaluate_hamming_ranking(*EXAMPLE, precision_ks=5)
    with pytest.raises(ValueError, match=r"radii\[0\] must be an int >= 0 .*got -1"):
        evaluate_hamming_ranking(*EXAMPLE, precision_ks=[1], radii=[-1])
    with pytest.raises(ValueError, match="2 bytes per code for n_bits=12"):
        evaluate_hamming_ranking(*EXAMPLE, n_bits=12, precision_ks=[1])
    with pytest.raises(ValueError, match="padding bits"):
        evaluate_hamming_ranking(*EXAMPLE, n_bits=2, precision_ks=[1])
    with pytest.raises(ValueError, match="query_labels has 2 entries but there are 3"):
        evaluate_hamming_ranking(QUERIES, DATABASE, QUERY_LABELS[:2], DATABASE_LABELS)
    with pytest.raises(ValueError, match="1-D class labels or a 2-D"):
        evaluate_hamming_ranking(QUERIES, DATABASE, np.zeros((3, 2, 2)), DATABASE_LABELS)
    with pytest.raises(ValueError, match="n_threads"):
        evaluate_hamming_ranking(*EXAMPLE, precision_ks=[1], n_threads=0)
    with pytest.raises(ValueError, match="n_database must be a positive int"):
        default_curve_ks(0)

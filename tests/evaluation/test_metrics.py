"""Tests of hashlearn.evaluation.metrics: hand-computed examples, references, blocking."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashlearn.codes import pack_bits
from hashlearn.evaluation import (
    MAPResult,
    hamming_precision_at_k,
    hamming_ranking,
    map_at_all,
    map_at_k,
    mean_average_precision,
    precision_at_k,
    precision_recall_curve_by_radius,
    precision_within_radius,
    ranked_relevance,
    relevance,
    tie_aware_map,
    tie_aware_map_at_k,
    tutorial_precision_at_k,
)
from hashlearn.index import Reranker
from hashlearn.testing import (
    hamming_distances_reference,
    hamming_precision_at_k_reference,
    mean_average_precision_reference,
    precision_recall_curve_by_radius_reference,
    precision_within_radius_reference,
    tie_aware_map_reference,
)

# --------------------------------------------------------------------------------------
# The hand-computed example: 3 queries x 5 database items, 4-bit codes (bits LSB first).
#
#   query bits   label      database bits  label
#   q0 0000      1          d0 1100        0
#   q1 1111      2          d1 1000        1
#   q2 1100      0          d2 0000        0
#                           d3 1110        1
#                           d4 0100        0
#
# Hamming distances        d0 d1 d2 d3 d4
#   q0                      2  1  0  3  1
#   q1                      2  3  4  1  3
#   q2                      0  1  2  1  1
#
# Ranking by (distance, index):
#   q0: d2(0) d1(1) d4(1) d0(2) d3(3)  relevant (label 1): F T F F T   R = 2
#   q1: d3(1) d0(2) d1(3) d4(3) d2(4)  relevant (label 2): none         R = 0
#   q2: d0(0) d1(1) d3(1) d4(1) d2(2)  relevant (label 0): T F F T T   R = 3
# --------------------------------------------------------------------------------------

QUERY_BITS = [[0, 0, 0, 0], [1, 1, 1, 1], [1, 1, 0, 0]]
DATABASE_BITS = [[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 0], [0, 1, 0, 0]]
QUERY_LABELS = np.array([1, 2, 0])
DATABASE_LABELS = np.array([0, 1, 0, 1, 0])


@pytest.fixture
def example():
    return pack_bits(QUERY_BITS), pack_bits(DATABASE_BITS), QUERY_LABELS, DATABASE_LABELS


def test_hamming_ranking_hand_example(example):
    queries, database, _, _ = example
    distances, indices = hamming_ranking(queries, database)
    assert distances.dtype == np.int32 and indices.dtype == np.int64
    np.testing.assert_array_equal(indices, [[2, 1, 4, 0, 3], [3, 0, 1, 4, 2], [0, 1, 3, 4, 2]])
    np.testing.assert_array_equal(distances, [[0, 1, 1, 2, 3], [1, 2, 3, 3, 4], [0, 1, 1, 1, 2]])


def test_hamming_ranking_top_k_includes_kth_item(example):
    queries, database, _, _ = example
    # k = n_database must be the full ranking (the topK=-1 slice pitfall drops the last item)
    full = hamming_ranking(queries, database)
    top5 = hamming_ranking(queries, database, k=5)
    np.testing.assert_array_equal(top5[1], full[1])
    _, top3 = hamming_ranking(queries, database, k=3)
    np.testing.assert_array_equal(top3, [[2, 1, 4], [3, 0, 1], [0, 1, 3]])


def test_ties_break_by_database_index():
    # two codes interleaved, long enough that an unstable sort would scramble the ties:
    # the ranking must be the even indices (distance 1) in order, then the odd (distance 2)
    database = np.zeros((1000, 2), dtype=np.uint8)
    database[0::2, 0] = 0b001
    database[1::2, 0] = 0b101
    queries = np.zeros((2, 2), dtype=np.uint8)
    for k in (None, 600):
        distances, indices = hamming_ranking(queries, database, k=k)
        expected = np.concatenate([np.arange(0, 1000, 2), np.arange(1, 1000, 2)])[:k]
        np.testing.assert_array_equal(indices, np.tile(expected, (2, 1)))
        np.testing.assert_array_equal(distances, np.tile([1] * 500 + [2] * 500, (2, 1))[:, :k])


def test_ranked_relevance_hand_example(example):
    queries, database, query_labels, database_labels = example
    _, indices = hamming_ranking(queries, database)
    ranked = ranked_relevance(query_labels, database_labels, indices)
    np.testing.assert_array_equal(
        ranked.astype(int), [[0, 1, 0, 0, 1], [0, 0, 0, 0, 0], [1, 0, 0, 1, 1]]
    )
    padded = np.array([[2, 1, -1]])
    np.testing.assert_array_equal(ranked_relevance([1], database_labels, padded), [[0, 1, 0]])


def test_map_at_all_hand_example(example):
    # q0: relevant at positions 2 and 5 -> AP = (1/2 + 2/5) / 2 = 9/20
    #     (were the d1/d4 tie reversed, relevant at 3 and 5 -> (1/3 + 2/5) / 2 = 11/30)
    # q1: no relevant item -> excluded, counted
    # q2: relevant at 1, 4, 5 -> AP = (1/1 + 2/4 + 3/5) / 3 = 7/10
    # mAP@all = (9/20 + 7/10) / 2 = 23/40
    result = mean_average_precision(*example)
    assert isinstance(result, MAPResult)
    assert result.value == pytest.approx(23 / 40)
    assert result.n_queries_excluded == 1
    np.testing.assert_allclose(result.per_query, [9 / 20, np.nan, 7 / 10])
    with pytest.raises(ValueError):
        result.per_query[0] = 1.0  # read-only


def test_map_at_k_hand_example(example):
    # k=3: q0 top3 F T F -> R_K = 1, AP = (1/2)/1 = 1/2
    #      q1 none relevant in top 3 -> scores 0, not excluded
    #      q2 top3 T F F -> AP = 1
    #      mAP@3 = (1/2 + 0 + 1) / 3 = 1/2
    result = mean_average_precision(*example, k=3)
    assert result.value == pytest.approx(0.5)
    assert result.n_queries_excluded == 0
    np.testing.assert_allclose(result.per_query, [0.5, 0.0, 1.0])
    # k=4: q0 F T F F -> 1/2; q2 T F F T -> (1 + 2/4) / 2 = 3/4
    np.testing.assert_allclose(mean_average_precision(*example, k=4).per_query, [0.5, 0, 0.75])
    # k=5 = n_database includes the 5th item: q0 -> 9/20, q2 -> 7/10, q1 -> 0 (not excluded)
    result = mean_average_precision(*example, k=5)
    np.testing.assert_allclose(result.per_query, [9 / 20, 0.0, 7 / 10])
    assert result.value == pytest.approx((9 / 20 + 7 / 10) / 3)


def test_ranked_matrix_metrics_hand_example():
    ranked = np.array([[0, 1, 0, 0, 1], [0, 0, 0, 0, 0], [1, 0, 0, 1, 1]], dtype=bool)
    result = map_at_all(ranked)
    np.testing.assert_allclose(result.per_query, [9 / 20, np.nan, 7 / 10])
    assert result.n_queries_excluded == 1
    np.testing.assert_allclose(map_at_k(ranked, 3).per_query, [0.5, 0.0, 1.0])
    np.testing.assert_allclose(map_at_k(ranked, 5).per_query, [9 / 20, 0.0, 7 / 10])
    # P@2: q0 F T -> 1/2; q1 -> 0; q2 T F -> 1/2.  P@5: 2/5, 0, 3/5
    np.testing.assert_allclose(precision_at_k(ranked, 2).per_query, [0.5, 0.0, 0.5])
    p5 = precision_at_k(ranked, 5)
    np.testing.assert_allclose(p5.per_query, [0.4, 0.0, 0.6])
    assert p5.value == pytest.approx(1 / 3)
    # 0/1 integers are accepted like booleans
    assert map_at_all(ranked.astype(int)).value == pytest.approx(23 / 40)


def test_hamming_precision_at_k_hand_example(example):
    np.testing.assert_allclose(hamming_precision_at_k(*example, k=2).per_query, [0.5, 0, 0.5])
    np.testing.assert_allclose(hamming_precision_at_k(*example, k=5).per_query, [0.4, 0, 0.6])


def test_all_queries_excluded_gives_nan():
    codes = pack_bits([[0, 1]])
    result = mean_average_precision(codes, codes, [0], [1])
    assert np.isnan(result.value)
    assert result.n_queries_excluded == 1


def test_precision_within_radius_hand_example(example):
    # radius 0: q0 retrieves {d2}: 0/1; q1 retrieves nothing -> 0 (empty); q2 {d0}: 1/1
    result = precision_within_radius(*example, radius=0)
    np.testing.assert_allclose(result.per_query, [0.0, 0.0, 1.0])
    assert result.value == pytest.approx(1 / 3)
    assert result.empty_fraction == pytest.approx(1 / 3)
    # radius 1: q0 {d1, d2, d4}: 1/3; q1 {d3}: 0/1; q2 {d0, d1, d3, d4}: 2/4
    result = precision_within_radius(*example, radius=1)
    np.testing.assert_allclose(result.per_query, [1 / 3, 0.0, 0.5])
    assert result.value == pytest.approx(5 / 18)
    assert result.empty_fraction == 0.0
    # default radius 2: q0 {d0, d1, d2, d4}: 1/4; q1 {d0, d3}: 0; q2 all: 3/5
    np.testing.assert_allclose(precision_within_radius(*example).per_query, [0.25, 0, 0.6])


def test_precision_within_radius_all_empty():
    queries = pack_bits([[1, 1, 1, 1, 1, 1, 1, 1, 1]])
    database = pack_bits([[0] * 9, [0] * 9])
    result = precision_within_radius(queries, database, [0], [0, 0], radius=8)
    assert result.value == 0.0
    assert result.empty_fraction == 1.0


def test_precision_recall_curve_hand_example(example):
    # retrieved / relevant-retrieved at radius r (R: q0 = 2, q1 = 0, q2 = 3)
    #        r=0    r=1    r=2    r=3    r=4
    #   q0   1/0    3/1    4/1    5/2    5/2
    #   q1   0/0    1/0    2/0    4/0    5/0
    #   q2   1/1    4/2    5/3    5/3    5/3
    radii, precision, recall = precision_recall_curve_by_radius(*example, n_bits=4)
    np.testing.assert_array_equal(radii, [0, 1, 2, 3, 4])
    # macro: mean over queries of hit/ret (empty -> 0); recall over q0, q2 only
    np.testing.assert_allclose(precision, [1 / 3, 5 / 18, 17 / 60, 1 / 3, 1 / 3])
    np.testing.assert_allclose(recall, [1 / 6, 7 / 12, 3 / 4, 1, 1])
    # micro: sum hit / sum ret, sum hit / sum R (R total = 5)
    _, precision, recall = precision_recall_curve_by_radius(*example, n_bits=4, average="micro")
    np.testing.assert_allclose(precision, [1 / 2, 3 / 8, 4 / 11, 5 / 14, 1 / 3])
    np.testing.assert_allclose(recall, [1 / 5, 3 / 5, 4 / 5, 1, 1])
    # without n_bits the radii run to 8 * n_bytes = 8 and the tail repeats
    radii, precision, _ = precision_recall_curve_by_radius(*example)
    assert radii[-1] == 8
    np.testing.assert_allclose(precision[4:], 1 / 3)


def test_macro_curve_matches_precision_within_radius():
    rng = np.random.default_rng(3)
    queries = pack_bits(rng.integers(0, 2, (6, 10)))
    database = pack_bits(rng.integers(0, 2, (40, 10)))
    query_labels, database_labels = rng.integers(0, 3, 6), rng.integers(0, 3, 40)
    _, precision, _ = precision_recall_curve_by_radius(
        queries, database, query_labels, database_labels, n_bits=10
    )
    for radius in range(11):
        expected = precision_within_radius(
            queries, database, query_labels, database_labels, radius=radius
        ).value
        assert precision[radius] == pytest.approx(expected)


def test_tie_aware_map_hand_example(example):
    # q0 groups: d=1 holds {d1 (rel), d4}: the relevant item is at position 2 or 3 (p = 1/2)
    #   AP = 1/2 * ((1/2 + 2/5)/2 + (1/3 + 2/5)/2) = 1/2 * (9/20 + 11/30) = 49/120
    # q2 groups: d0 (rel) at 1; d=1 holds {d1, d3, d4 (rel)} at positions 2..4; d2 (rel) at 5
    #   AP = (1/1 + (2/2 + 2/3 + 2/4)/3 + 3/5) / 3 = (1 + 13/18 + 3/5) / 3 = 209/270
    result = tie_aware_map(*example)
    expected = [Fraction(49, 120), Fraction(209, 270)]
    np.testing.assert_allclose(result.per_query, [float(expected[0]), np.nan, float(expected[1])])
    assert result.value == pytest.approx(float(sum(expected) / 2))
    assert result.n_queries_excluded == 1


def _average_precision(relevant: list[bool]) -> float:
    hits, total = 0, 0.0
    for position, is_relevant in enumerate(relevant, start=1):
        if is_relevant:
            hits += 1
            total += hits / position
    return total / hits


def test_tie_aware_map_matches_brute_force_over_permutations():
    rng = np.random.default_rng(7)
    for _ in range(10):
        n_database = int(rng.integers(2, 7))
        queries = pack_bits(rng.integers(0, 2, (3, 3)))
        database = pack_bits(rng.integers(0, 2, (n_database, 3)))
        query_labels = rng.integers(0, 2, 3)
        database_labels = rng.integers(0, 2, n_database)
        result = tie_aware_map(queries, database, query_labels, database_labels)
        distances = hamming_distances_reference(queries, database)
        for i in range(3):
            relevant = database_labels == query_labels[i]
            if not relevant.any():
                assert np.isnan(result.per_query[i])
                continue
            groups = [np.flatnonzero(distances[i] == d) for d in np.unique(distances[i])]
            aps = [
                _average_precision(list(relevant[np.concatenate(orders)]))
                for orders in itertools.product(*(itertools.permutations(g) for g in groups))
            ]
            assert result.per_query[i] == pytest.approx(np.mean(aps), abs=1e-12)


# --------------------------------------------------------------------------------------
# References on random data
# --------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    n_bits=st.integers(1, 70),
    n_queries=st.integers(1, 5),
    n_database=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_hamming_ranking_matches_lexsort(n_bits, n_queries, n_database, seed, data):
    rng = np.random.default_rng(seed)
    # few distinct codes, so that ties are common
    pool = rng.integers(0, 2, (3, n_bits))
    queries = pack_bits(rng.integers(0, 2, (n_queries, n_bits)))
    database = pack_bits(pool[rng.integers(0, 3, n_database)])
    k = data.draw(st.one_of(st.none(), st.integers(1, n_database)))
    block_size = data.draw(st.one_of(st.none(), st.integers(1, 3)))
    distances, indices = hamming_ranking(queries, database, k=k, block_size=block_size)
    reference = hamming_distances_reference(queries, database)
    size = n_database if k is None else k
    for i in range(n_queries):
        order = np.lexsort((np.arange(n_database), reference[i]))[:size]
        np.testing.assert_array_equal(indices[i], order)
        np.testing.assert_array_equal(distances[i], reference[i][order])


def _reference_map(queries, database, query_labels, database_labels, k=None):
    """Straightforward mAP: full distance matrix, lexsort, Python loop."""
    distances = hamming_distances_reference(queries, database)
    relevant = relevance(query_labels, database_labels)
    n_database = database.shape[0]
    per_query = []
    for i in range(queries.shape[0]):
        order = np.lexsort((np.arange(n_database), distances[i]))
        ranked = relevant[i][order] if k is None else relevant[i][order][:k]
        if not ranked.any():
            per_query.append(np.nan if k is None else 0.0)
        else:
            per_query.append(_average_precision(list(ranked)))
    return np.array(per_query)


@pytest.mark.parametrize("multi_label", [False, True])
@pytest.mark.parametrize("n_bits", [5, 12, 64, 70])
def test_mean_average_precision_matches_reference(n_bits, multi_label):
    rng = np.random.default_rng(n_bits)
    queries = pack_bits(rng.integers(0, 2, (9, n_bits)))
    database = pack_bits(rng.integers(0, 2, (60, n_bits)))
    if multi_label:
        query_labels = rng.random((9, 5)) < 0.2
        database_labels = rng.random((60, 5)) < 0.2
    else:
        query_labels, database_labels = rng.integers(0, 4, 9), rng.integers(0, 4, 60)
    for k in (None, 1, 7, 60):
        expected = _reference_map(queries, database, query_labels, database_labels, k)
        result = mean_average_precision(queries, database, query_labels, database_labels, k=k)
        np.testing.assert_allclose(result.per_query, expected, rtol=1e-12)
        assert result.n_queries_excluded == int(np.isnan(expected).sum())


def test_blocked_equals_unblocked():
    # hamming_ranking and the numpy references work in blocks of queries; the counting
    # kernel has none. Every block size gives the kernel's numbers exactly.
    rng = np.random.default_rng(11)
    queries = pack_bits(rng.integers(0, 2, (13, 20)))
    database = pack_bits(rng.integers(0, 2, (50, 20)))
    labels = (rng.integers(0, 3, 13), rng.integers(0, 3, 50))
    args = (queries, database, *labels)
    for block_size in (None, 1, 4, 13, 100):
        kw = {"block_size": block_size}
        np.testing.assert_array_equal(
            mean_average_precision_reference(*args, **kw).per_query,
            mean_average_precision(*args).per_query,
        )
        np.testing.assert_array_equal(
            mean_average_precision_reference(*args, k=10, **kw).per_query,
            mean_average_precision(*args, k=10).per_query,
        )
        np.testing.assert_array_equal(
            hamming_ranking(queries, database, **kw)[1], hamming_ranking(queries, database)[1]
        )
        np.testing.assert_array_equal(
            tie_aware_map_reference(*args, **kw).per_query, tie_aware_map(*args).per_query
        )
        np.testing.assert_array_equal(
            precision_within_radius_reference(*args, radius=5, **kw).per_query,
            precision_within_radius(*args, radius=5).per_query,
        )
        np.testing.assert_array_equal(
            hamming_precision_at_k_reference(*args, k=10, **kw).per_query,
            hamming_precision_at_k(*args, k=10).per_query,
        )
        for average in ("macro", "micro"):
            np.testing.assert_array_equal(
                precision_recall_curve_by_radius_reference(*args, average=average, **kw)[1],
                precision_recall_curve_by_radius(*args, average=average)[1],
            )


def test_ranked_matrix_path_equals_convenience():
    rng = np.random.default_rng(5)
    queries = pack_bits(rng.integers(0, 2, (8, 16)))
    database = pack_bits(rng.integers(0, 2, (30, 16)))
    query_labels, database_labels = rng.integers(0, 3, 8), rng.integers(0, 3, 30)
    _, indices = hamming_ranking(queries, database)
    ranked = ranked_relevance(query_labels, database_labels, indices)
    args = (queries, database, query_labels, database_labels)
    np.testing.assert_array_equal(
        map_at_all(ranked).per_query, mean_average_precision(*args).per_query
    )
    np.testing.assert_array_equal(
        map_at_k(ranked, 5).per_query, mean_average_precision(*args, k=5).per_query
    )
    np.testing.assert_array_equal(
        precision_at_k(ranked, 5).per_query, hamming_precision_at_k(*args, k=5).per_query
    )


# Tie-aware mAP@K by hand: two queries 00 against a = 00, b = 10, c = 01, d = 10, so a is
# at distance 0 and b, c, d tie at distance 1 (ranks 2..4 in any order).
#   q0 (label 1): only b is relevant. K=2: b is first of the tie with chance 1/3 and then
#     AP@2 = (1/2)/1, else no hit: 1/6. K=3: b is in the top 3 with chance 2/3, at rank 2 or
#     3: (2/3) * (1/2 + 1/3)/2 = 5/18. K=4: mean of 1/2, 1/3, 1/4 = 13/36.
#   q1 (label 0): a, c, d are relevant. K=2: rank 2 is relevant or not, AP@2 = 1 either
#     way. K=3: both of c, d in ranks 2..3 (chance 1/3): AP@3 = 1; one of them (2/3), at
#     rank 2 or 3: (1 + 1)/2 or (1 + 2/3)/2, mean 11/12: 1/3 + (2/3)(11/12) = 17/18.
#     K=4: c, d at ranks {2,3}, {2,4}, {3,4}: AP = 1, 11/12, 29/36: 49/54.
# The stable order (a b c d) gives q0 1/2, 1/2, 1/2 and q1 1, 5/6, 29/36 instead.
TIED_QUERIES = [[0, 0], [0, 0]]
TIED_DATABASE = [[0, 0], [1, 0], [0, 1], [1, 0]]
TIED_LABELS = ([1, 0], [0, 1, 0, 0])


@pytest.mark.parametrize(
    ("k", "expected", "stable"),
    [
        (1, [0, 1], [0, 1]),
        (2, [Fraction(1, 6), 1], [Fraction(1, 2), 1]),
        (3, [Fraction(5, 18), Fraction(17, 18)], [Fraction(1, 2), Fraction(5, 6)]),
        (4, [Fraction(13, 36), Fraction(49, 54)], [Fraction(1, 2), Fraction(29, 36)]),
    ],
)
def test_tie_aware_map_at_k_hand_example(k, expected, stable):
    args = (pack_bits(TIED_QUERIES), pack_bits(TIED_DATABASE), *TIED_LABELS)
    result = tie_aware_map_at_k(*args, k=k)
    np.testing.assert_allclose(result.per_query, [float(v) for v in expected], rtol=1e-14)
    assert result.value == pytest.approx(float(sum(expected) / 2))
    assert result.n_queries_excluded == 0
    np.testing.assert_allclose(
        mean_average_precision(*args, k=k).per_query, [float(v) for v in stable]
    )


def _average_precision_at(relevant: np.ndarray, k: int) -> float:
    """The stable AP@K of one ranked row (0 when none of the top k is relevant)."""
    top = relevant[:k]
    hits = np.cumsum(top)
    return float((hits[top] / (np.flatnonzero(top) + 1)).sum() / hits[-1]) if top.any() else 0.0


@pytest.mark.parametrize("multi", [False, True])
def test_tie_aware_map_at_k_is_the_mean_over_every_order_of_tied_items(multi):
    rng = np.random.default_rng(11)
    for _ in range(12):
        n_database = int(rng.integers(2, 8))
        n_bits = int(rng.integers(1, 4))  # few bits: large tie groups
        queries = pack_bits(rng.integers(0, 2, (2, n_bits)))
        database = pack_bits(rng.integers(0, 2, (n_database, n_bits)))
        if multi:
            query_labels = rng.integers(0, 2, (2, 3))
            database_labels = rng.integers(0, 2, (n_database, 3))
        else:
            query_labels = rng.integers(0, 3, 2)
            database_labels = rng.integers(0, 3, n_database)
        relevant = relevance(query_labels, database_labels)
        distances = hamming_distances_reference(queries, database)
        for k in range(1, n_database + 1):
            result = tie_aware_map_at_k(queries, database, query_labels, database_labels, k)
            for i in range(2):
                groups = [np.flatnonzero(distances[i] == d) for d in np.unique(distances[i])]
                aps = [
                    _average_precision_at(relevant[i][np.concatenate(orders)], k)
                    for orders in itertools.product(*(itertools.permutations(g) for g in groups))
                ]
                assert result.per_query[i] == pytest.approx(np.mean(aps), abs=1e-12)


def test_tie_aware_map_at_k_at_the_whole_database_is_tie_aware_map():
    rng = np.random.default_rng(5)
    queries = rng.integers(0, 256, (40, 1), dtype=np.uint8)
    database = rng.integers(0, 16, (300, 1), dtype=np.uint8)  # 4 of 8 bits vary: ties
    query_labels = rng.integers(0, 12, 40)  # some queries have no relevant item
    database_labels = rng.integers(0, 10, 300)
    args = (queries, database, query_labels, database_labels)
    everything = tie_aware_map_at_k(*args, k=300)
    expected = tie_aware_map(*args)
    assert 0 < expected.n_queries_excluded < 40
    has_relevant = ~np.isnan(expected.per_query)
    np.testing.assert_allclose(
        everything.per_query[has_relevant], expected.per_query[has_relevant], rtol=1e-13
    )
    # a query with no relevant item scores 0 (the mAP@K rule), where tie_aware_map excludes it
    np.testing.assert_array_equal(everything.per_query[~has_relevant], 0.0)


def test_tie_aware_map_at_k_does_not_depend_on_the_database_order():
    rng = np.random.default_rng(8)
    queries = rng.integers(0, 8, (30, 1), dtype=np.uint8)
    database = rng.integers(0, 8, (200, 1), dtype=np.uint8)  # 3-bit codes: every code ties
    query_labels = rng.integers(0, 4, 30)
    database_labels = rng.integers(0, 4, 200)
    order = np.argsort(database_labels, kind="stable")
    for k in (1, 10, 57, 200):
        shuffled = tie_aware_map_at_k(queries, database, query_labels, database_labels, k)
        ordered = tie_aware_map_at_k(
            queries, database[order], query_labels, database_labels[order], k
        )
        np.testing.assert_allclose(shuffled.per_query, ordered.per_query, rtol=1e-12)
    stable = mean_average_precision(queries, database, query_labels, database_labels, k=10)
    moved = mean_average_precision(
        queries, database[order], query_labels, database_labels[order], k=10
    )
    assert stable.value != moved.value  # what the tie-aware value is for


def test_tie_aware_map_at_k_checks_k(example):
    with pytest.raises(ValueError, match="k must be at most n_database=5, got 6"):
        tie_aware_map_at_k(*example, k=6)
    with pytest.raises(ValueError, match="k"):
        tie_aware_map_at_k(*example, k=0)
    with pytest.raises(TypeError, match="k"):
        tie_aware_map_at_k(*example, k=None)


def test_tie_aware_equals_stable_without_ties():
    # all database codes distinct from each other at distinct distances from the query
    queries = pack_bits([[0, 0, 0, 0]])
    database = pack_bits([[1, 1, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0], [1, 1, 0, 0]])
    labels = ([0], [1, 0, 0, 1, 0])
    assert tie_aware_map(queries, database, *labels).value == pytest.approx(
        mean_average_precision(queries, database, *labels).value
    )


# --------------------------------------------------------------------------------------
# Relevance
# --------------------------------------------------------------------------------------


def test_relevance_single_and_multi_label():
    np.testing.assert_array_equal(relevance([0, 1], [1, 0, 0]), [[0, 1, 1], [1, 0, 0]])
    np.testing.assert_array_equal(relevance(["cat"], ["dog", "cat"]), [[False, True]])
    # column vectors are single labels
    np.testing.assert_array_equal(relevance([[2]], [[2], [3]]), [[True, False]])
    query = [[1, 0, 1], [0, 0, 0]]
    database = [[0, 0, 1], [1, 0, 0], [0, 1, 0]]
    # q0 shares label 2 with d0, label 0 with d1, nothing with d2; q1 has no label
    np.testing.assert_array_equal(relevance(query, database), [[1, 1, 0], [0, 0, 0]])


def test_relevance_multi_label_many_labels():
    rng = np.random.default_rng(2)
    query = rng.random((7, 150)) < 0.02
    database = rng.random((20, 150)) < 0.02
    expected = (query.astype(int) @ database.T.astype(int)) > 0
    np.testing.assert_array_equal(relevance(query, database), expected)
    indices = rng.integers(0, 20, (7, 4))
    np.testing.assert_array_equal(
        ranked_relevance(query, database, indices), np.take_along_axis(expected, indices, 1)
    )


# --------------------------------------------------------------------------------------
# The tutorial's measure (scored on ids that Reranker has ordered; the metric never searches)
# --------------------------------------------------------------------------------------

# database vectors, labels:  d0 (1, 0) 1   d1 (1, 1) 0   d2 (0, 1) 1   d3 (2, 0) 0   d4 (-1, 0) 2
TUTORIAL_DATABASE = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [2.0, 0.0], [-1.0, 0.0]])
TUTORIAL_DATABASE_LABELS = np.array([1, 0, 1, 0, 2])
TUTORIAL_QUERIES = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
TUTORIAL_QUERY_LABELS = np.array([0, 1, 0])
# candidates: q0 {d3, d1, d0, d4} (unsorted on purpose), q1 {d2}, q2 none
TUTORIAL_LIMS = np.array([0, 4, 5, 5])
TUTORIAL_INDICES = np.array([3, 1, 0, 4, 2])


def _tutorial(k, metric="cosine"):
    """Re-rank the candidates as the tutorial does, then score the ids."""
    _, ranked = Reranker(TUTORIAL_DATABASE, metric).rerank(
        TUTORIAL_QUERIES, TUTORIAL_LIMS, TUTORIAL_INDICES, k
    )
    return tutorial_precision_at_k(ranked, TUTORIAL_QUERY_LABELS, TUTORIAL_DATABASE_LABELS, k=k)


def test_tutorial_precision_on_ids_by_hand():
    # q0: d0 (class 1, not 0), d3 (0), d1 (0) -> 2/3; q1: d2 (1) and padding -> 1/3 (divides
    # by k, not by 1); q2: all padding -> empty, NaN
    ranked = [[0, 3, 1], [2, -1, -1], [-1, -1, -1]]
    result = tutorial_precision_at_k(ranked, TUTORIAL_QUERY_LABELS, TUTORIAL_DATABASE_LABELS, k=3)
    np.testing.assert_allclose(result.per_query, [2 / 3, 1 / 3, np.nan])
    assert result.skip_empty == pytest.approx(0.5)
    assert result.empty_as_zero == pytest.approx(1 / 3)
    assert result.empty_fraction == pytest.approx(1 / 3)
    assert not result.per_query.flags.writeable


def test_tutorial_precision_multi_label():
    # relevant = shares a label: q0 {0, 1} shares with d0 {1} and d2 {0, 2}, not d1 {2}
    result = tutorial_precision_at_k(
        [[1, 0, 2, -1]], [[1, 1, 0]], [[0, 1, 0], [0, 0, 1], [1, 0, 1]], k=4
    )
    np.testing.assert_allclose(result.per_query, [0.5])


def test_tutorial_precision_hand_example():
    # cosine distances to q0: d0 0, d3 0 (tie, d0 first by index), d1 1 - 1/sqrt2, d4 2
    #   k=3: top d0, d3, d1 with labels 1, 0, 0 -> 2/3
    # q1: one candidate d2 (label 1 = its class) -> 1 / k = 1/3 (divides by k, not by 1)
    # q2: empty candidate set -> NaN; skipped: (2/3 + 1/3) / 2; as zero: (2/3 + 1/3 + 0) / 3
    result = _tutorial(3)
    np.testing.assert_allclose(result.per_query, [2 / 3, 1 / 3, np.nan])
    assert result.skip_empty == pytest.approx(0.5)
    assert result.empty_as_zero == pytest.approx(1 / 3)
    assert result.empty_fraction == pytest.approx(1 / 3)


def test_tutorial_precision_ties_by_database_index():
    # k=1: d0 and d3 tie at cosine distance 0; d0 (label 1) wins -> q0 scores 0
    # (breaking the tie the other way would pick d3, label 0, and score 1)
    np.testing.assert_allclose(_tutorial(1).per_query, [0.0, 1.0, np.nan])


def test_tutorial_precision_euclidean():
    # euclidean to q0: d0 0, d1 1, d3 1 (tie: d1 first), d4 2; k=2 -> d0, d1 -> 1/2
    np.testing.assert_allclose(_tutorial(2, "euclidean").per_query, [0.5, 0.5, np.nan])


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("fraction", [0.1, 1.0])
def test_tutorial_precision_matches_reference(metric, fraction):
    # fraction 1.0: every query gets the whole database (the one-matrix-product path)
    rng = np.random.default_rng(4)
    queries, database = rng.standard_normal((6, 5)), rng.standard_normal((40, 5))
    database[7] = database[3]  # an exact duplicate: a tie broken by index
    query_labels, database_labels = rng.integers(0, 3, 6), rng.integers(0, 3, 40)
    candidates = [rng.permutation(40)[: max(1, int(fraction * 40)) - i % 2] for i in range(6)]
    lims = np.concatenate([[0], np.cumsum([len(c) for c in candidates])])
    k = 5
    _, ranked = Reranker(database, metric).rerank(queries, lims, np.concatenate(candidates), k)
    result = tutorial_precision_at_k(ranked, query_labels, database_labels, k=k)
    for i, found in enumerate(candidates):
        vectors = database[found]
        if metric == "cosine":
            norms = np.linalg.norm(vectors, axis=1) * np.linalg.norm(queries[i])
            distances = 1 - vectors @ queries[i] / norms
        else:
            distances = np.linalg.norm(vectors - queries[i], axis=1)
        top = found[np.lexsort((found, distances))[:k]]
        expected = np.sum(database_labels[top] == query_labels[i]) / k
        assert result.per_query[i] == pytest.approx(expected)


def test_tutorial_precision_all_empty():
    result = tutorial_precision_at_k(np.full((1, 10), -1), [0], TUTORIAL_DATABASE_LABELS)
    assert np.isnan(result.skip_empty)
    assert result.empty_as_zero == 0.0
    assert result.empty_fraction == 1.0


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("k", "error", "match"),
    [
        (0, ValueError, r"k must be an int >= 1 \(a ranking cut-off, or None for all"),
        (-1, ValueError, "never means 'all'"),
        (6, ValueError, "at most n_database=5, got 6; use k=None for all"),
        (True, TypeError, "k must be an int >= 1"),
        (2.0, TypeError, "k must be an int >= 1"),
    ],
)
def test_invalid_k(example, k, error, match):
    with pytest.raises(error, match=match):
        mean_average_precision(*example, k=k)
    with pytest.raises(error):
        hamming_ranking(example[0], example[1], k=k)


def test_invalid_inputs(example):
    queries, database, query_labels, database_labels = example
    with pytest.raises(ValueError, match="bytes per code"):
        mean_average_precision(np.zeros((3, 2), np.uint8), database, query_labels, database_labels)
    with pytest.raises(TypeError, match="uint8"):
        hamming_ranking(queries.astype(np.int64), database)
    with pytest.raises(ValueError, match="query_labels has 2 entries but there are 3"):
        mean_average_precision(queries, database, query_labels[:2], database_labels)
    with pytest.raises(ValueError, match="1-D but database_labels is 2-D"):
        relevance([0, 1], [[0, 1]])
    with pytest.raises(ValueError, match="0/1 label-indicator"):
        relevance([[0, 2]], [[0, 1]])
    with pytest.raises(ValueError, match="same label set"):
        relevance([[0, 1, 1]], [[0, 1]])
    with pytest.raises(TypeError, match="both be numeric"):
        relevance([0], ["a"])
    with pytest.raises(ValueError, match=r"radius must be an int >= 0 .*got -1"):
        precision_within_radius(*example, radius=-1)
    with pytest.raises(ValueError, match="at least one code"):
        hamming_ranking(queries[:0], database)
    with pytest.raises(ValueError, match="average must be"):
        precision_recall_curve_by_radius(*example, average="weighted")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="padding bits"):
        precision_recall_curve_by_radius(*example, n_bits=2)
    with pytest.raises(ValueError, match="at most n_ranked=2"):
        map_at_k([[True, False]], k=3)
    with pytest.raises(TypeError, match="boolean"):
        map_at_all([[0.5, 1.0]])
    with pytest.raises(ValueError, match="indices must lie"):
        ranked_relevance([0], [0, 1], [[2]])


def test_invalid_tutorial_inputs():
    labels = (TUTORIAL_QUERY_LABELS, TUTORIAL_DATABASE_LABELS)
    good = np.array([[0, 3], [2, -1], [-1, -1]])

    def call(ranked, k=2):
        return tutorial_precision_at_k(ranked, *labels, k=k)

    call(good)  # valid as given
    with pytest.raises(ValueError, match=r"k=2 columns .*got 3"):
        call(np.array([[0, 3, 1], [2, -1, -1], [-1, -1, -1]]))
    with pytest.raises(ValueError, match="2-D integer array"):
        call(good.astype(float))
    with pytest.raises(ValueError, match="2-D integer array"):
        call(good[0])
    with pytest.raises(ValueError, match="database indices or -1, got -2"):
        call(np.array([[0, -2], [2, -1], [-1, -1]]))
    with pytest.raises(ValueError, match="row 1 has a database index after a -1"):
        call(np.array([[0, 3], [-1, 2], [-1, -1]]))
    with pytest.raises(ValueError, match="row 0 lists a database index twice"):
        call(np.array([[3, 3], [2, -1], [-1, -1]]))
    with pytest.raises(ValueError, match=r"must lie in \[0, 4\] .*got 5"):
        call(np.array([[0, 5], [2, -1], [-1, -1]]))
    with pytest.raises(ValueError, match="query_labels has 3 entries but there are 2"):
        call(good[:2])
    with pytest.raises(ValueError, match=r"k must be an int >= 1 \(the number of re-ranked"):
        call(good[:, :0], k=0)
    with pytest.raises(TypeError, match="k must be an int >= 1"):
        call(good, k=2.0)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# Scale smoke check
# --------------------------------------------------------------------------------------


def test_scale_smoke():
    rng = np.random.default_rng(0)
    queries = rng.integers(0, 256, (2_000, 4), dtype=np.uint8)
    database = rng.integers(0, 256, (20_000, 4), dtype=np.uint8)
    query_labels, database_labels = rng.integers(0, 10, 2_000), rng.integers(0, 10, 20_000)
    result = mean_average_precision(queries, database, query_labels, database_labels)
    # random codes carry no information: mAP is close to the 10% base rate
    assert result.value == pytest.approx(0.1, abs=0.02)
    assert result.n_queries_excluded == 0

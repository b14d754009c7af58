"""Tests of hashlearn.evaluation.ground_truth: exact k-NN, recall@R, Hamming recall@R."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.neighbors import NearestNeighbors

from hashlearn import _numba
from hashlearn.codes import pack_bits
from hashlearn.evaluation import exact_neighbors, hamming_ranking, hamming_recall_at, recall_at
from hashlearn.testing import hamming_distances_reference

# database: d0 (0, 0), d1 (1, 0), d2 (0, 2), d3 (1, 0) (= d1), d4 (-3, 0)
DATABASE = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [1.0, 0.0], [-3.0, 0.0]])


def test_euclidean_hand_example():
    # from (1, 1): d1, d3 at 1 (tie -> index order), d0 at sqrt2, d2 at sqrt2 (tie), d4 at sqrt17
    distances, indices = exact_neighbors([[1.0, 1.0]], DATABASE, k=5)
    np.testing.assert_array_equal(indices, [[1, 3, 0, 2, 4]])
    np.testing.assert_allclose(distances, [[1, 1, np.sqrt(2), np.sqrt(2), np.sqrt(17)]])
    assert distances.dtype == np.float64 and indices.dtype == np.int64
    # k-th place inside a tie: the smaller index wins, whatever the block size
    for block_size in (None, 1, 2, 3):
        _, top = exact_neighbors([[1.0, 1.0]], DATABASE, k=3, block_size=block_size)
        np.testing.assert_array_equal(top, [[1, 3, 0]])


def test_cosine_and_inner_product_hand_example():
    database = DATABASE[1:]  # cosine needs non-zero rows: (1,0) (0,2) (1,0) (-3,0)
    # cosine from (1, 0): 0, 0 (tie), 1, 2
    distances, indices = exact_neighbors([[2.0, 0.0]], database, k=4, metric="cosine")
    np.testing.assert_array_equal(indices, [[0, 2, 1, 3]])
    np.testing.assert_allclose(distances, [[0, 0, 1, 2]], atol=1e-15)
    # inner product with (1, 1): 1, 2, 1, -3 -> distances -2, -1, -1, 3
    distances, indices = exact_neighbors(
        [[1.0, 1.0]], database, k=4, metric="inner_product", block_size=1
    )
    np.testing.assert_array_equal(indices, [[1, 0, 2, 3]])
    np.testing.assert_allclose(distances, [[-2, -1, -1, 3]])


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@settings(max_examples=25, deadline=None)
@given(
    n_queries=st.integers(1, 15),
    n_database=st.integers(1, 80),
    n_features=st.integers(2, 12),  # one feature: cosine distances all tie (0 or 2)
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_matches_sklearn(metric, n_queries, n_database, n_features, seed, data):
    rng = np.random.default_rng(seed)
    queries = rng.standard_normal((n_queries, n_features))
    database = rng.standard_normal((n_database, n_features))
    k = data.draw(st.integers(1, n_database))
    block_size = data.draw(st.one_of(st.none(), st.integers(1, n_database)))
    distances, indices = exact_neighbors(queries, database, k, metric=metric, block_size=block_size)
    reference = NearestNeighbors(n_neighbors=k, algorithm="brute", metric=metric).fit(database)
    ref_distances, ref_indices = reference.kneighbors(queries)
    np.testing.assert_allclose(distances, ref_distances, rtol=1e-9, atol=1e-9)
    # continuous random data: no ties, so the indices must agree exactly
    np.testing.assert_array_equal(indices, ref_indices)


def test_inner_product_and_ties_against_lexsort():
    rng = np.random.default_rng(3)
    # small integers: many exact ties, and duplicates spread over blocks
    database = rng.integers(-2, 3, (60, 3)).astype(np.float64)
    queries = rng.integers(-2, 3, (7, 3)).astype(np.float64)
    for metric in ("euclidean", "inner_product"):
        for block_size in (None, 1, 7, 60):
            distances, indices = exact_neighbors(
                queries, database, 13, metric=metric, block_size=block_size
            )
            for i, query in enumerate(queries):
                if metric == "euclidean":
                    full = np.sqrt(((database - query) ** 2).sum(axis=1))
                else:
                    full = -(database @ query)
                order = np.lexsort((np.arange(60), full))[:13]
                np.testing.assert_array_equal(indices[i], order)
                np.testing.assert_allclose(distances[i], full[order])


def test_float32_input():
    rng = np.random.default_rng(1)
    database = rng.standard_normal((50, 6)).astype(np.float32)
    queries = rng.standard_normal((4, 6)).astype(np.float32)
    distances, indices = exact_neighbors(queries, database, 5)
    expected_d, expected_i = exact_neighbors(queries.astype(np.float64), database, 5)
    assert distances.dtype == np.float64
    np.testing.assert_array_equal(indices, expected_i)
    np.testing.assert_array_equal(distances, expected_d)


def test_exact_neighbors_validation():
    with pytest.raises(ValueError, match="NaN or infinity"):
        exact_neighbors([[np.nan, 0.0]], DATABASE, 1)
    with pytest.raises(ValueError, match="queries have 3 features but database has 2"):
        exact_neighbors([[0.0, 0.0, 0.0]], DATABASE, 1)
    with pytest.raises(ValueError, match=r"k must be in \[1, n_database=5\], got 6"):
        exact_neighbors([[0.0, 0.0]], DATABASE, 6)
    with pytest.raises(ValueError, match=r"k must be an int >= 1 \(neighbours per query\), got 0"):
        exact_neighbors([[0.0, 0.0]], DATABASE, 0)
    with pytest.raises(ValueError, match="database row 0 has zero norm"):
        exact_neighbors([[1.0, 0.0]], DATABASE, 1, metric="cosine")
    with pytest.raises(ValueError, match="metric must be"):
        exact_neighbors([[1.0, 0.0]], DATABASE, 1, metric="manhattan")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"block_size must be in \[1, inf\], got 0"):
        exact_neighbors([[1.0, 0.0]], DATABASE, 1, block_size=0)
    with pytest.raises(ValueError, match="2-D"):
        exact_neighbors([1.0, 0.0], DATABASE, 1)


# --------------------------------------------------------------------------------------
# recall@R
# --------------------------------------------------------------------------------------


def test_recall_at_hand_example():
    truth = [[3, 5], [0, 1]]
    retrieved = [[5, 2, 3], [2, 4, -1]]
    # R=1: q0 {5} -> 1/2, q1 {2} -> 0 => 1/4.  R=2: q0 1/2, q1 0.  R=3: q0 {5, 3} -> 1, q1 0
    assert recall_at(truth, retrieved, rs=[3, 1, 2]) == {1: 0.25, 2: 0.25, 3: 0.5}
    # one true neighbour per query: the fraction of queries with it in the top R
    assert recall_at([[2], [7]], [[1, 2], [7, 0]], rs=(1, 2)) == {1: 0.5, 2: 1.0}


def test_recall_at_against_sets():
    rng = np.random.default_rng(4)
    truth = np.array([rng.permutation(30)[:5] for _ in range(20)])
    retrieved = np.array([rng.permutation(30)[:12] for _ in range(20)])
    retrieved[::3, 8:] = -1  # padded rows
    result = recall_at(truth, retrieved, rs=(1, 4, 12))
    for r in (1, 4, 12):
        expected = np.mean(
            [len(set(t) & set(x[:r]) - {-1}) / 5 for t, x in zip(truth, retrieved, strict=True)]
        )
        assert result[r] == pytest.approx(expected)


def test_recall_at_validation():
    with pytest.raises(ValueError, match=r"rs must hold ints R in \[1, n_retrieved=2\], got R=3"):
        recall_at([[0]], [[0, 1]], rs=[3])
    with pytest.raises(ValueError, match="retrieved row 0 lists a database index twice"):
        recall_at([[0]], [[1, 1]], rs=[1])
    with pytest.raises(ValueError, match="true_neighbors must hold non-negative"):
        recall_at([[-1]], [[1, 0]], rs=[1])
    with pytest.raises(ValueError, match="rows but retrieved has"):
        recall_at([[0], [1]], [[1, 0]], rs=[1])
    with pytest.raises(ValueError, match="at least one cut-off"):
        recall_at([[0]], [[1, 0]], rs=[])
    with pytest.raises(ValueError, match="2-D integer array"):
        recall_at([[0.5]], [[1, 0]], rs=[1])


def test_hamming_recall_at():
    database = pack_bits([[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 1, 0]])
    # query 000: distances 0, 3, 1, 1 -> ranking 0, 2, 3 (tie by index), 1
    queries = pack_bits([[0, 0, 0]])
    assert hamming_recall_at(queries, database, [[3]], rs=[1, 2, 3, 4], n_bits=3) == {
        1: 0.0,
        2: 0.0,
        3: 1.0,
        4: 1.0,
    }
    with pytest.raises(ValueError, match=r"rs must hold ints R in \[1, n_database=4\]"):
        hamming_recall_at(queries, database, [[3]], rs=[5])
    with pytest.raises(ValueError, match=r"true_neighbors must hold indices in \[0, 3\]"):
        hamming_recall_at(queries, database, [[4]], rs=[1])
    with pytest.raises(ValueError, match="bytes per code"):
        hamming_recall_at(np.zeros((1, 2), np.uint8), database, [[3]], rs=[1])


def test_hamming_recall_against_reference():
    rng = np.random.default_rng(6)
    vectors = rng.standard_normal((300, 8))
    queries = rng.standard_normal((10, 8))
    _, truth = exact_neighbors(queries, vectors, 10)
    projection = rng.standard_normal((8, 12))
    database_codes = pack_bits(vectors @ projection >= 0)
    query_codes = pack_bits(queries @ projection >= 0)
    result = hamming_recall_at(query_codes, database_codes, truth, rs=(1, 10, 100), n_bits=12)
    distances = hamming_distances_reference(query_codes, database_codes)
    for r in (1, 10, 100):
        expected = np.mean(
            [
                len(set(truth[i]) & set(np.lexsort((np.arange(300), distances[i]))[:r])) / 10
                for i in range(10)
            ]
        )
        assert result[r] == pytest.approx(expected)
    assert result[1] <= result[10] <= result[100]


@settings(max_examples=40, deadline=None)
@given(
    n_bits=st.integers(1, 140),
    n_queries=st.integers(1, 9),
    n_database=st.integers(1, 50),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_hamming_recall_equals_recall_of_the_hamming_ranking(
    n_bits, n_queries, n_database, seed, data
):
    # few distinct codes, so that distance ties (broken by index) decide the top R
    rng = np.random.default_rng(seed)
    pool = rng.integers(0, 2, (3, n_bits))
    database = pack_bits(pool[rng.integers(0, 3, n_database)])
    queries = pack_bits(rng.integers(0, 2, (n_queries, n_bits)))
    n_true = data.draw(st.integers(1, n_database))
    truth = np.array([rng.permutation(n_database)[:n_true] for _ in range(n_queries)])
    rs = data.draw(st.lists(st.integers(1, n_database), min_size=1, max_size=4))
    _, ranking = hamming_ranking(queries, database)
    expected = recall_at(truth, ranking, rs)
    assert hamming_recall_at(queries, database, truth, rs, n_bits=n_bits) == expected


def test_hamming_recall_threads_do_not_change_results(monkeypatch):
    rng = np.random.default_rng(3)
    database = rng.integers(0, 256, (500, 3), dtype=np.uint8)
    queries = rng.integers(0, 256, (40, 3), dtype=np.uint8)
    truth = np.array([rng.permutation(500)[:20] for _ in range(40)])
    baseline = hamming_recall_at(queries, database, truth, rs=(1, 20, 100, 500))
    monkeypatch.setattr(_numba, "SERIAL_WORK", 0)  # force the threaded compilation
    assert hamming_recall_at(queries, database, truth, rs=(1, 20, 100, 500), n_threads=2) == (
        baseline
    )
    with pytest.raises(ValueError, match="n_threads"):
        hamming_recall_at(queries, database, truth, rs=(1,), n_threads=0)

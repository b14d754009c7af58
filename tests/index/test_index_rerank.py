"""Re-ranking candidates by exact float distances, against a brute-force sort."""

from __future__ import annotations

import numpy as np
import pytest

from hashlearn.index import CosineReranker, Reranker, rerank


def brute_force(queries, database, lims, candidates, k, metric):
    out_d = np.full((queries.shape[0], k), np.inf)
    out_i = np.full((queries.shape[0], k), -1, dtype=np.int64)
    for i, q in enumerate(queries):
        ids = np.array(sorted({int(c) for c in candidates[lims[i] : lims[i + 1]] if c >= 0}))
        if ids.size == 0:
            continue
        rows = database[ids].astype(np.float64)
        if metric == "euclidean":
            d = np.sqrt(((rows - q) ** 2).sum(axis=1))
        else:
            norms = np.linalg.norm(rows, axis=1) * np.linalg.norm(q)
            with np.errstate(invalid="ignore", divide="ignore"):
                d = np.where(norms > 0, 1 - rows @ q / norms, 1.0)
        order = np.lexsort((ids, d))[:k]
        out_d[i, : order.size], out_i[i, : order.size] = d[order], ids[order]
    return out_d, out_i


def random_csr(rng, n_queries, n_database, max_candidates):
    counts = rng.integers(0, max_candidates, n_queries)
    lims = np.r_[0, np.cumsum(counts)].astype(np.int64)
    candidates = rng.integers(-1, n_database, lims[-1])  # -1 padding mixed in, duplicates too
    return lims, candidates


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rerank_matches_brute_force(metric, dtype):
    rng = np.random.default_rng(0)
    database = rng.standard_normal((300, 24)).astype(dtype)
    queries = rng.standard_normal((12, 24)).astype(dtype)
    lims, candidates = random_csr(rng, 12, 300, 80)
    want_d, want_i = brute_force(queries, database, lims, candidates, 10, metric)
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    for got_d, got_i in (
        rerank(queries, database, lims, candidates, 10, metric=metric),
        Reranker(database, metric=metric).rerank(queries, lims, candidates, 10),
    ):
        assert got_d.dtype == np.float64 and got_i.dtype == np.int64
        assert got_d.shape == got_i.shape == (12, 10)
        np.testing.assert_array_equal(got_i, want_i)
        np.testing.assert_allclose(got_d, want_d, atol=tolerance, rtol=0)
    one_d, one_i = (
        CosineReranker(database).rerank_one(queries[3], candidates[lims[3] : lims[4]], 10)
        if metric == "cosine"
        else Reranker(database, "euclidean").rerank_one(
            queries[3], candidates[lims[3] : lims[4]], 10
        )
    )
    np.testing.assert_array_equal(one_i, want_i[3])
    np.testing.assert_allclose(one_d, want_d[3], atol=tolerance, rtol=0)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_ties_break_by_database_index_and_rows_are_padded(metric):
    # Integer vectors: every distance is computed exactly, so duplicates tie exactly.
    base = np.array([[1, 0, 0], [0, 2, 0], [1, 1, 0]], dtype=np.float64)
    database = base[[2, 0, 1, 0, 2, 1, 0]]  # ids 1, 3, 6 equal; 0, 4 equal; 2, 5 equal
    queries = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    lims = np.array([0, 7, 9])
    candidates = np.array([6, 5, 4, 3, 2, 1, 0, 3, 3])
    distances, indices = rerank(queries, database, lims, candidates, 4, metric=metric)
    np.testing.assert_array_equal(indices[0], [1, 3, 6, 0])
    np.testing.assert_array_equal(indices[1], [3, -1, -1, -1])  # duplicates counted once
    assert np.isinf(distances[1, 1:]).all()
    want_d, want_i = brute_force(queries, database, lims, candidates, 4, metric)
    np.testing.assert_array_equal(indices, want_i)
    np.testing.assert_allclose(distances, want_d, atol=1e-12)


def test_partial_selection_keeps_all_ties_at_the_kth_distance():
    database = np.array([[0.0], [2.0], [1.0], [1.0], [1.0], [3.0]])
    lims, candidates = np.array([0, 6]), np.array([5, 4, 3, 2, 1, 0])
    distances, indices = rerank(np.array([[0.0]]), database, lims, candidates, 3, "euclidean")
    np.testing.assert_array_equal(indices, [[0, 2, 3]])
    np.testing.assert_array_equal(distances, [[0.0, 1.0, 1.0]])


def test_rerank_accepts_search_output_without_lims():
    rng = np.random.default_rng(1)
    database = rng.standard_normal((50, 8))
    queries = rng.standard_normal((3, 8))
    candidates = np.array([[4, 9, 1, -1], [-1, -1, -1, -1], [0, 1, 2, 3]])
    distances, indices = rerank(queries, database, None, candidates, 2)
    lims = np.array([0, 4, 8, 12])
    want = brute_force(queries, database, lims, candidates.ravel(), 2, "cosine")
    np.testing.assert_array_equal(indices, want[1])
    np.testing.assert_allclose(distances, want[0], atol=1e-12)
    assert (indices[1] == -1).all()


def test_zero_vectors_have_cosine_distance_one():
    database = np.array([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0]])
    reranker = CosineReranker(database)
    distances, indices = reranker.rerank_one([1.0, 0.0], [0, 1, 2], 3)
    np.testing.assert_array_equal(indices, [1, 0, 2])
    np.testing.assert_allclose(distances, [0.0, 1.0, 2.0])
    distances, indices = reranker.rerank_one([0.0, 0.0], [2, 1], 3)
    np.testing.assert_array_equal(indices, [1, 2, -1])
    np.testing.assert_allclose(distances[:2], [1.0, 1.0])
    got = rerank(np.zeros((1, 2)), database, [0, 3], [0, 1, 2], 3)
    np.testing.assert_allclose(got[0], [[1.0, 1.0, 1.0]])


def test_rerank_validation():
    database = np.ones((5, 3))
    queries = np.ones((2, 3))
    with pytest.raises(ValueError, match="metric must be one of"):
        rerank(queries, database, [0, 1, 2], [0, 1], 1, metric="manhattan")
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        rerank(queries, database, [0, 1, 2], [0, 1], 0)
    with pytest.raises(ValueError, match=r"lims must be integers of shape \(n_queries \+ 1,\)"):
        rerank(queries, database, [0, 2], [0, 1], 1)
    with pytest.raises(ValueError, match="lims must rise from 0"):
        rerank(queries, database, [0, 2, 1], [0, 1], 1)
    with pytest.raises(ValueError, match=r"database ids in \[0, 4\]"):
        rerank(queries, database, [0, 1, 2], [0, 5], 1)
    with pytest.raises(ValueError, match=r"database ids in \[0, 4\]"):
        rerank(queries, database, [0, 1, 2], [0, -2], 1)
    with pytest.raises(TypeError, match="integers"):
        rerank(queries, database, [0, 1, 2], [0.0, 1.0], 1)
    with pytest.raises(ValueError, match="3 features"):
        rerank(np.ones((2, 4)), database, [0, 1, 2], [0, 1], 1)
    with pytest.raises(ValueError, match="NaN or infinity"):
        rerank(np.array([[np.nan, 0, 0], [1, 1, 1]]), database, [0, 1, 2], [0, 1], 1)
    bad = database.copy()
    bad[1, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or infinity"):
        rerank(queries, bad, [0, 1, 2], [0, 1], 1)
    with pytest.raises(ValueError, match="NaN or infinity"):
        Reranker(bad)
    with pytest.raises(ValueError, match="one vector"):
        Reranker(database).rerank_one(np.ones((2, 3)), [0], 1)
    with pytest.raises(ValueError, match="2-D"):
        rerank(queries, np.ones(3), [0, 1, 2], [0, 1], 1)


def test_every_candidate_and_the_search_alias():
    rng = np.random.default_rng(2)
    database = rng.standard_normal((40, 6)).astype(np.float32)
    queries = rng.standard_normal((3, 6)).astype(np.float32)
    lims = np.array([0, 40, 80, 120])
    candidates = np.tile(np.arange(40)[::-1], 3)
    reranker = CosineReranker(database)
    want = brute_force(queries, database, lims, candidates, 40, "cosine")
    got = reranker.search(queries, lims, candidates, 40)
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_allclose(got[0], want[0], atol=1e-5)
    np.testing.assert_array_equal(reranker.database_vectors, database)
    assert not reranker.database_vectors.flags.writeable


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("share", [0.05, 0.3, 0.9])
def test_large_candidate_sets_with_duplicates_and_padding(metric, share):
    # Large sets take the mask de-duplication path (>= n/64 candidates) and, from a quarter
    # of the database on, the contiguous full-scan path; both must equal brute force.
    rng = np.random.default_rng(11)
    database = rng.normal(size=(2_000, 12)).astype(np.float32)
    queries = rng.normal(size=(3, 12)).astype(np.float32)
    m = int(share * len(database))
    rows = [rng.choice(len(database), size=m, replace=False) for _ in range(3)]
    rows = [np.concatenate([r, r[: m // 3], [-1, -1]]) for r in rows]  # duplicates, padding
    candidates = np.concatenate(rows).astype(np.int64)
    lims = np.cumsum([0] + [len(r) for r in rows]).astype(np.int64)
    # norms spread over two decades, so cosine and euclidean rankings differ
    database *= rng.uniform(0.1, 10, size=(len(database), 1)).astype(np.float32)
    want_d, want_i = brute_force(queries, database, lims, candidates, 15, metric)
    for got_d, got_i in (
        Reranker(database, metric).rerank(queries, lims, candidates, 15),
        rerank(queries, database, lims, candidates, 15, metric=metric),
    ):
        np.testing.assert_array_equal(got_i, want_i)
        np.testing.assert_allclose(got_d, want_d, rtol=1e-5, atol=1e-6)


def test_one_off_rerank_of_a_large_candidate_set_converts_and_checks_rows():
    rng = np.random.default_rng(3)
    database = rng.integers(-50, 50, size=(400, 6))  # integers: must not truncate the query
    query = rng.normal(size=(1, 6))
    candidates = np.arange(300)[None, :]
    got_d, got_i = rerank(query, database, None, candidates, 5, metric="euclidean")
    want_d, want_i = brute_force(query, database, np.array([0, 300]), candidates[0], 5, "euclidean")
    np.testing.assert_array_equal(got_i, want_i)
    np.testing.assert_allclose(got_d, want_d)
    with_nan = database.astype(float)
    with_nan[10, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        rerank(query, with_nan, None, candidates, 5)

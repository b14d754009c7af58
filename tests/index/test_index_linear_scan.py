"""LinearScanIndex and its selection kernels against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashlearn.codes import hamming_distances_reference, pack_bits
from hashlearn.index import LinearScanIndex, linear_scan
from hashlearn.index.linear_scan import range_select, topk_by_counting, topk_reference

N_BITS = [8, 13, 16, 32, 64, 100]


def random_codes(rng, n, n_bits):
    return pack_bits(rng.integers(0, 2, size=(n, n_bits)))


def reference(queries, database, k, radius):
    D = hamming_distances_reference(queries, database)
    top = topk_reference(D, k)
    ranges = []
    for row in D:
        hit = np.flatnonzero(row <= radius)
        order = hit[np.lexsort((hit, row[hit]))]
        ranges.append((row[order], order))
    return top, ranges


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_bits=st.sampled_from(N_BITS),
    n=st.integers(1, 120),
    n_queries=st.integers(1, 8),
    k=st.integers(1, 130),
    radius=st.integers(0, 110),
    n_distinct=st.integers(1, 40),
)
def test_linear_scan_matches_brute_force(seed, n_bits, n, n_queries, k, radius, n_distinct):
    rng = np.random.default_rng(seed)
    # Draw from few distinct codes so that ties (the tie rule) are frequent.
    pool = random_codes(rng, n_distinct, n_bits)
    database = pool[rng.integers(0, n_distinct, n)]
    queries = np.concatenate([random_codes(rng, n_queries, n_bits), pool[:1]])
    index = LinearScanIndex(n_bits).add(database)
    (top_d, top_i), ranges = reference(queries, database, k, radius)
    distances, indices = index.search(queries, k)
    kk = min(k, n)
    np.testing.assert_array_equal(distances[:, :kk], top_d)
    np.testing.assert_array_equal(indices[:, :kk], top_i)
    assert (distances[:, kk:] == -1).all() and (indices[:, kk:] == -1).all()
    lims, dist, ids = index.range_search(queries, radius)
    for i, (ref_d, ref_i) in enumerate(ranges):
        np.testing.assert_array_equal(dist[lims[i] : lims[i + 1]], ref_d)
        np.testing.assert_array_equal(ids[lims[i] : lims[i + 1]], ref_i)


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_rows=st.integers(0, 6),
    n_cols=st.integers(0, 60),
    max_distance=st.integers(0, 9),
    k=st.integers(1, 70),
)
def test_topk_by_counting_matches_sort(seed, n_rows, n_cols, max_distance, k):
    rng = np.random.default_rng(seed)
    D = rng.integers(0, max_distance + 1, size=(n_rows, n_cols)).astype(np.int32)
    got = topk_by_counting(D, k, max_distance)
    want = topk_reference(D, k)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)


def test_topk_ties_at_kth_distance_take_smallest_indices():
    D = np.array([[2, 1, 2, 2, 0, 2, 1, 2]], dtype=np.int32)
    distances, columns = topk_by_counting(D, 5, max_distance=2)
    np.testing.assert_array_equal(distances, [[0, 1, 1, 2, 2]])
    np.testing.assert_array_equal(columns, [[4, 1, 6, 0, 2]])


def test_range_select_matches_reference():
    rng = np.random.default_rng(0)
    D = rng.integers(0, 6, size=(7, 40)).astype(np.int32)
    lims, values, columns = range_select(D, 2)
    for i in range(7):
        hit = np.flatnonzero(D[i] <= 2)
        order = hit[np.lexsort((hit, D[i, hit]))]
        np.testing.assert_array_equal(columns[lims[i] : lims[i + 1]], order)
        np.testing.assert_array_equal(values[lims[i] : lims[i + 1]], D[i, order])


@pytest.mark.parametrize("n_bits", N_BITS)
def test_reference_query_blocks_do_not_change_results(monkeypatch, n_bits):
    rng = np.random.default_rng(n_bits)
    database = random_codes(rng, 250, n_bits)
    queries = random_codes(rng, 37, n_bits)
    search = linear_scan.knn_reference(queries, database, 11, n_bits)
    ranged = linear_scan.range_reference(queries, database, n_bits // 3)
    # A block budget of 600 distances forces blocks of 2 queries (with a short last one).
    monkeypatch.setattr(linear_scan, "_BLOCK_ELEMENTS", 600)
    for a, b in zip(search, linear_scan.knn_reference(queries, database, 11, n_bits), strict=True):
        np.testing.assert_array_equal(a, b)
    blocked = linear_scan.range_reference(queries, database, n_bits // 3)
    for a, b in zip(ranged, blocked, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n_bits", [16, 100])
@pytest.mark.parametrize("k", [1, 5, 70, 300])
def test_reference_database_chunks_merge_exactly(monkeypatch, n_bits, k):
    rng = np.random.default_rng(k)
    pool = random_codes(rng, 20, n_bits)  # few distinct codes: ties across chunks
    database = pool[rng.integers(0, 20, 250)]
    queries = np.concatenate([random_codes(rng, 9, n_bits), pool[:3]])
    index = LinearScanIndex(n_bits).add(database)
    search, ranged = index.search(queries, k), index.range_search(queries, n_bits // 2)
    # Chunks of 64 // 16 = 4 codes (2 for 100 bits), blocks of 64 // 4 = 16 queries, so
    # chunks smaller than k are merged.
    monkeypatch.setattr(linear_scan, "_BLOCK_ELEMENTS", 64)
    monkeypatch.setattr(linear_scan, "_XOR_BYTES", 64)
    assert linear_scan._chunk_size(250, database.shape[1]) < 250
    got = linear_scan.knn_reference(queries, database, k, n_bits)
    for a, b in zip(search, got, strict=True):
        np.testing.assert_array_equal(a[:, : min(k, 250)], b)
    got_range = linear_scan.range_reference(queries, database, n_bits // 2)
    for a, b in zip(ranged, got_range, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n_threads", [None, -1, 1, 2])
def test_n_threads_does_not_change_results(n_threads):
    rng = np.random.default_rng(5)
    database = random_codes(rng, 3000, 64)
    queries = random_codes(rng, 50, 64)
    want = LinearScanIndex(64).add(database).search(queries, 7)
    got = LinearScanIndex(64, n_threads=n_threads).add(database).search(queries, 7)
    for a, b in zip(want, got, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_n_threads_is_validated(bad):
    with pytest.raises((TypeError, ValueError), match="n_threads"):
        LinearScanIndex(8, n_threads=bad)


def test_n_threads_is_saved(tmp_path):
    from hashlearn import load

    index = LinearScanIndex(8, n_threads=1).add(random_codes(np.random.default_rng(0), 5, 8))
    assert load(index.save(tmp_path / "index.hashlearn")).n_threads == 1

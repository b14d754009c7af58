"""LinearScanIndex against brute force (its kernels: tests/test_kernels.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashlearn.codes import pack_bits
from hashlearn.index import LinearScanIndex, RangeResultLimitError
from hashlearn.testing import hamming_distances_reference

N_BITS = [8, 13, 16, 32, 64, 100]


def random_codes(rng, n, n_bits):
    return pack_bits(rng.integers(0, 2, size=(n, n_bits)))


def topk_reference(distances, k):
    """The ``k`` smallest ``(distance, column)`` pairs of each row, by a full sort."""
    kk = min(k, distances.shape[1])
    order = np.lexsort((np.broadcast_to(np.arange(distances.shape[1]), distances.shape), distances))
    order = order[:, :kk] if distances.shape[0] else order.reshape(0, kk)
    top_d = np.take_along_axis(distances, order, axis=1).astype(np.int32)
    return top_d, order.astype(np.int64)


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


def test_budgeted_range_search_is_one_pass_that_counts_before_it_allocates(monkeypatch):
    # The scan counts its results first: a budget splits nothing (one kernel call for every
    # query), and a search over it is refused before any result array is allocated.
    import hashlearn.index.linear_scan as linear_scan

    rng = np.random.default_rng(3)
    index = LinearScanIndex(64).add(random_codes(rng, 1000, 64))
    queries = random_codes(rng, 100, 64)
    whole = index.range_search(queries, 24, max_results=None)
    calls = []
    real = linear_scan.range_scan
    monkeypatch.setattr(
        linear_scan, "range_scan", lambda q, *a, **k: calls.append(len(q)) or real(q, *a, **k)
    )
    total = int(whole[0][-1])
    within = index.range_search(queries, 24, max_results=total)
    assert calls == [100]
    for got, want in zip(within, whole, strict=True):
        np.testing.assert_array_equal(got, want)
    budget = int(whole[0][40]) + 1  # the first 40 queries fit, the 41st passes the budget
    with pytest.raises(RangeResultLimitError) as caught:
        index.range_search(queries, 24, max_results=budget)
    assert caught.value.n_queries_done == 41
    assert caught.value.n_found == int(whole[0][41]) > budget

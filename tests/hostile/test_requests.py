"""Hostile requests to an index: absurd k, range searches that would fill the memory.

The service puts these calls behind a network port, so each must stay bounded: k is capped
at the number of stored codes, and a range search refuses to return more than its
``max_results`` budget, stopping at the first block of queries that exceeds it.
"""

from __future__ import annotations

import numpy as np
import pytest

from hashlearn.index import (
    MAX_RANGE_RESULTS,
    FaissBinaryFlat,
    FaissBinaryHash,
    FaissBinaryMultiHash,
    HashTableIndex,
    LinearScanIndex,
    MultiIndexHashing,
    MultiTableIndex,
    RangeResultLimitError,
)
from hashlearn.testing import knn_reference, random_codes

N_BITS = 32


def _faiss(cls, **kwargs):
    def build():
        pytest.importorskip("faiss")
        return cls(N_BITS, n_threads=1, **kwargs)

    return build


INDEXES = {
    "linear scan": lambda: LinearScanIndex(N_BITS),
    "hash table": lambda: HashTableIndex(N_BITS),
    "multi-table": lambda: MultiTableIndex(N_BITS, n_tables=4, bits_per_table=8),
    "multi-index hashing": lambda: MultiIndexHashing(N_BITS),
    "faiss flat": _faiss(FaissBinaryFlat),
    "faiss hash": _faiss(FaissBinaryHash, bits_per_table=8, probe_radius=2),
    "faiss multi-hash": _faiss(FaissBinaryMultiHash, n_tables=2, bits_per_table=8),
}


@pytest.fixture(scope="module")
def codes():
    return random_codes(np.random.default_rng(0), 1_000, N_BITS)


@pytest.mark.parametrize("name", INDEXES)
def test_k_far_beyond_the_database_is_capped(name, codes):
    """k = 10**9 over 1,000 codes used to allocate (n_queries, 10**9) arrays of padding
    until the kernel killed the process (the faiss backend returned 3 x 10^8 padding)."""
    index = INDEXES[name]().add(codes)
    distances, ids = index.search(codes[:3], 10**9)
    assert distances.shape == ids.shape == (3, 1_000)
    # The exact indexes return every code in (distance, id) order; approximate ones may
    # pad what their probes miss, but never return more columns than there are codes.
    if name in {"linear scan", "hash table", "multi-index hashing", "faiss flat"}:
        np.testing.assert_array_equal(ids, knn_reference(codes[:3], codes, 10**9)[1])


@pytest.mark.parametrize("name", INDEXES)
def test_range_search_stops_at_its_result_budget(name, codes):
    index = INDEXES[name]().add(codes)
    queries = np.repeat(codes[:1], 500, axis=0)  # 500 x 1,000 results at full radius
    with pytest.raises(
        RangeResultLimitError, match=r"more than max_results=2000.*lower the "
    ) as error:
        index.range_search(queries, N_BITS, max_results=2_000)
    # Blocks of max(1, 2,000 // 1,000) = 2 queries: refused at the first block that goes
    # over, long before the 500 queries are searched (an exact index: after 2 blocks). The
    # scan and multi-index hashing count every query's results before they allocate any:
    # refused at the first query that goes over.
    assert error.value.max_results == 2_000 and error.value.n_found > 2_000
    assert error.value.n_queries_done < 500
    if name in {"linear scan", "multi-index hashing"}:
        assert (error.value.n_found, error.value.n_queries_done) == (3_000, 3)
    elif name in {"hash table", "faiss flat"}:
        assert (error.value.n_found, error.value.n_queries_done) == (4_000, 4)


def test_range_budget_default_and_opt_out(codes):
    index = LinearScanIndex(N_BITS).add(codes)
    assert MAX_RANGE_RESULTS == 10**8
    queries = codes[:50]
    whole = index.range_search(queries, N_BITS, max_results=None)
    assert whole[0][-1] == 50_000
    blocked = index.range_search(queries, N_BITS, max_results=50_000)  # exactly the budget
    for got, want in zip(blocked, whole, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(("value", "error"), [(0, ValueError), (2.5, TypeError), (True, TypeError)])
def test_range_budget_is_validated(codes, value, error):
    index = LinearScanIndex(N_BITS).add(codes)
    with pytest.raises(error, match="max_results must be an int >= 1"):
        index.range_search(codes[:1], 3, max_results=value)


def test_budgeted_range_search_keeps_per_query_statistics(codes):
    """Answering in blocks must not leave only the last block's probe statistics."""
    index = HashTableIndex(N_BITS).add(codes)
    queries = codes[:40]
    index.range_search(queries, 6, max_results=None)
    whole = index.last_stats_
    index.range_search(queries, 6, max_results=20_000)  # blocks of 20 queries
    assert index.last_stats_.n_queries == 40
    np.testing.assert_array_equal(index.last_stats_.candidates, whole.candidates)


def test_faiss_flat_makes_one_faiss_call_for_k(codes, monkeypatch):
    """faiss's IndexBinaryFlat keeps the (distance, id) order itself: no over-fetch, no
    tie completion by range search (the contract tests check the order on tied codes)."""
    pytest.importorskip("faiss")
    index = FaissBinaryFlat(N_BITS, n_threads=1).add(np.tile(codes[:4], (50, 1)))
    calls = []
    real = index._faiss_search
    monkeypatch.setattr(
        index, "_faiss_search", lambda queries, k: calls.append(k) or real(queries, k)
    )
    monkeypatch.setattr(index, "_faiss_range", lambda *a: pytest.fail("tie completion ran"))
    _, ids = index.search(codes[:2], 10)  # 50 codes tie at distance 0
    assert calls == [10]
    np.testing.assert_array_equal(ids[0], np.arange(10) * 4)

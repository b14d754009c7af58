"""The scan and table kernels against their numpy references, across block boundaries.

The numpy reference of the scans lives here, not in the library: blocked
:func:`hashlearn.codes.hamming_distances` followed by two pure selection functions,
:func:`topk_by_counting` and :func:`range_select`. It is slower (it materialises a block of
the queries x database distance matrix) and exists so the kernels are tested against an
independent implementation; it is itself tested against sorting.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashlearn import _numba
from hashlearn.codes import as_words, hamming_distances, pack_bits
from hashlearn.index._kernels import scan, table

# -- the numpy reference ----------------------------------------------------------------------
# Sizes of the reference's blocks (tests shrink them to cross block boundaries): distances
# (int32) computed per block of queries, 2**21 * 4 bytes = 8 MiB; bytes of query x code x
# word XOR scratch for one query against one chunk.
BLOCKS = SimpleNamespace(elements=2**21, xor_bytes=32 * 2**20)


def topk_by_counting(
    distances: np.ndarray, k: int, max_distance: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` smallest ``(distance, column)`` pairs of each row, by counting.

    Distances are small integers in ``[0, max_distance]``, so the ``k``-th smallest
    distance of row ``i`` is found from a histogram without sorting:

    ``t_i = min{ d : #{j : D[i, j] <= d} >= k }``;

    the selection is every column with ``D[i, j] < t_i`` plus the
    ``k - #{j : D[i, j] < t_i}`` *smallest columns* with ``D[i, j] = t_i`` (this is
    where ties at the ``k``-th distance resolve by smallest index). The ``k`` selected
    entries, already in column order, are then stably sorted by distance. Cost:
    ``O(n_rows * n_cols)`` with no ``log`` factor.

    Parameters
    ----------
    distances : ndarray of int, shape (n_rows, n_cols)
        Values in ``[0, max_distance]``.
    k : int
        ``>= 1``; rows return ``min(k, n_cols)`` results.
    max_distance : int
        Upper bound on the values (``n_bits`` for Hamming distances).

    Returns
    -------
    top_distances : ndarray of int32, shape (n_rows, min(k, n_cols))
    top_columns : ndarray of int64, shape (n_rows, min(k, n_cols))
        Sorted by ``(distance, column)``.

    Examples
    --------
    >>> D = np.array([[3, 1, 2, 1, 0]])
    >>> topk_by_counting(D, 3, max_distance=3)
    (array([[0, 1, 1]], dtype=int32), array([[4, 1, 3]]))
    """
    n_rows, n_cols = distances.shape
    kk = min(k, n_cols)
    if n_rows == 0 or kk == 0:
        return np.empty((n_rows, kk), dtype=np.int32), np.empty((n_rows, kk), dtype=np.int64)
    n_values = max_distance + 1
    rows = np.arange(n_rows)
    histogram = np.bincount(
        (distances + (rows * n_values)[:, None]).ravel(), minlength=n_rows * n_values
    ).reshape(n_rows, n_values)
    cumulative = np.cumsum(histogram, axis=1)
    threshold = (cumulative < kk).sum(axis=1)  # t_i, the k-th smallest distance of row i
    below = np.where(threshold > 0, cumulative[rows, np.maximum(threshold - 1, 0)], 0)
    need = kk - below  # how many of the ties at t_i are taken (>= 1)
    at_threshold = distances == threshold[:, None]
    tie_rank = np.cumsum(at_threshold, axis=1, dtype=np.int32)
    selected = (distances < threshold[:, None]) | (at_threshold & (tie_rank <= need[:, None]))
    sel_rows, sel_cols = np.nonzero(selected)
    columns = sel_cols.reshape(n_rows, kk)
    values = distances[sel_rows, sel_cols].reshape(n_rows, kk)
    order = np.argsort(values, axis=1, kind="stable")
    top_distances = np.take_along_axis(values, order, axis=1).astype(np.int32, copy=False)
    top_columns = np.take_along_axis(columns, order, axis=1).astype(np.int64, copy=False)
    return top_distances, top_columns


def topk_reference(distances: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Reference for :func:`topk_by_counting`: a full ``(distance, column)`` sort per row."""
    n_rows, n_cols = distances.shape
    kk = min(k, n_cols)
    top_d = np.empty((n_rows, kk), dtype=np.int32)
    top_c = np.empty((n_rows, kk), dtype=np.int64)
    columns = np.arange(n_cols)
    for i in range(n_rows):
        order = np.lexsort((columns, distances[i]))[:kk]
        top_d[i], top_c[i] = distances[i, order], order
    return top_d, top_c


def range_select(distances: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every ``(row, column)`` with ``D[row, column] <= radius``, in CSR layout.

    Row ``i``'s entries are ``[lims[i]:lims[i + 1]]``, sorted by ``(distance, column)``.

    Returns
    -------
    lims : ndarray of int64, shape (n_rows + 1,)
    values : ndarray of int32
    columns : ndarray of int64

    Examples
    --------
    >>> range_select(np.array([[2, 0, 1], [3, 3, 0]]), 1)
    (array([0, 2, 3]), array([0, 1, 0], dtype=int32), array([1, 2, 2]))
    """
    n_rows = distances.shape[0]
    rows, columns = np.nonzero(distances <= radius)  # row-major: columns ascending per row
    values = distances[rows, columns].astype(np.int32, copy=False)
    # Rows are already grouped and columns ascending, so a stable sort on
    # (row, distance) yields the (row, distance, column) order.
    order = np.argsort(rows * np.int64(radius + 1) + values, kind="stable")
    lims = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=lims[1:])
    return lims, values[order], columns[order].astype(np.int64, copy=False)


def _chunk_size(n: int, width: int) -> int:
    """Codes per database chunk: bounded by the distance and the XOR scratch budgets."""
    return max(1, min(n, BLOCKS.elements, BLOCKS.xor_bytes // width))


def _distance_blocks(
    queries: np.ndarray, database: np.ndarray
) -> Iterator[tuple[int, int, int, np.ndarray]]:
    """Yield ``(query_start, query_stop, code_start, distances)`` over the whole scan.

    For each block of queries, every chunk of the database in order; ``distances``
    is ``int32 (query_stop - query_start, chunk_size)``.
    """
    n = database.shape[0]
    chunk = _chunk_size(n, database.shape[1])
    block = max(1, BLOCKS.elements // chunk)
    for q_start in range(0, queries.shape[0], block):
        q_stop = min(q_start + block, queries.shape[0])
        for c_start in range(0, n, chunk):
            distances = hamming_distances(
                queries[q_start:q_stop], database[c_start : c_start + chunk]
            )
            yield q_start, q_stop, c_start, distances


def knn_reference(
    queries: np.ndarray, database: np.ndarray, k: int, n_bits: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k-NN in numpy: the reference for ``scan.knn_scan``.

    Distances of a block of queries against a chunk of the database
    (:func:`hashlearn.codes.hamming_distances`, at most ``BLOCKS.elements`` of them at a
    time), selected by :func:`topk_by_counting`; the top-k of successive chunks are
    merged, which keeps the ``(distance, id)`` order because later chunks hold larger ids.

    Parameters
    ----------
    queries, database : uint8 packed codes of the same width, ``database`` non-empty
    k : int, ``>= 1``
    n_bits : int

    Returns
    -------
    distances : int32 (n_queries, min(k, n))
    indices : int64 (n_queries, min(k, n))
    """
    n = database.shape[0]
    kk = min(k, n)
    top_d = np.empty((queries.shape[0], kk), dtype=np.int32)
    top_i = np.empty((queries.shape[0], kk), dtype=np.int64)
    kept_d = kept_i = np.empty((0, 0), dtype=np.int64)
    for q_start, q_stop, c_start, distances in _distance_blocks(queries, database):
        chunk_d, chunk_i = topk_by_counting(distances, kk, n_bits)
        chunk_i += c_start
        if c_start == 0:
            kept_d, kept_i = chunk_d, chunk_i
        else:
            # Both parts are sorted by (distance, id) and the chunk's ids are all larger,
            # so a stable sort of [kept, chunk] by distance is the (distance, id) order.
            merged_d = np.concatenate([kept_d, chunk_d], axis=1)
            merged_i = np.concatenate([kept_i, chunk_i], axis=1)
            order = np.argsort(merged_d, axis=1, kind="stable")[:, :kk]
            kept_d = np.take_along_axis(merged_d, order, axis=1)
            kept_i = np.take_along_axis(merged_i, order, axis=1)
        if c_start + distances.shape[1] == n:
            top_d[q_start:q_stop], top_i[q_start:q_stop] = kept_d, kept_i
    return top_d, top_i


def range_reference(
    queries: np.ndarray, database: np.ndarray, radius: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact range search in numpy: the reference for ``scan.range_scan``.

    Returns ``(lims, distances, indices)`` in CSR layout sorted by ``(distance, id)``.
    """
    n_queries = queries.shape[0]
    rows, all_d, all_i = [], [], []
    for q_start, _, c_start, distances in _distance_blocks(queries, database):
        lims, values, columns = range_select(distances, radius)
        rows.append(np.repeat(np.arange(q_start, q_start + lims.shape[0] - 1), np.diff(lims)))
        all_d.append(values)
        all_i.append(columns + c_start)
    row = np.concatenate(rows)
    distances_out = np.concatenate(all_d)
    indices = np.concatenate(all_i)
    if _chunk_size(database.shape[0], database.shape[1]) < database.shape[0]:
        # Several chunks: put each query's pieces back into (distance, id) order.
        order = np.lexsort((indices, distances_out, row))
        row, distances_out, indices = row[order], distances_out[order], indices[order]
    lims_out = np.zeros(n_queries + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=n_queries), out=lims_out[1:])
    return lims_out, distances_out, indices


# 1, 2, 4 and 8 words take specialised paths; 3 and 9 words (and 13 bits) the general one.
N_BITS = [13, 64, 128, 192, 256, 512, 576]


def random_codes(rng, n, n_bits):
    return pack_bits(rng.integers(0, 2, size=(n, n_bits)))


def clustered_codes(rng, n, n_bits, n_centres, flip):
    """Codes near a few centres: many ties, and neighbours scattered over the ids."""
    centres = rng.integers(0, 2, size=(n_centres, n_bits))
    bits = centres[rng.integers(0, n_centres, n)]
    bits ^= rng.random(bits.shape) < flip
    return pack_bits(bits)


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


@pytest.mark.parametrize("n_bits", [8, 13, 16, 32, 64, 100])
def test_reference_query_blocks_do_not_change_results(monkeypatch, n_bits):
    rng = np.random.default_rng(n_bits)
    database = random_codes(rng, 250, n_bits)
    queries = random_codes(rng, 37, n_bits)
    search = knn_reference(queries, database, 11, n_bits)
    ranged = range_reference(queries, database, n_bits // 3)
    # A block budget of 600 distances forces blocks of 2 queries (with a short last one).
    monkeypatch.setattr(BLOCKS, "elements", 600)
    for a, b in zip(search, knn_reference(queries, database, 11, n_bits), strict=True):
        np.testing.assert_array_equal(a, b)
    blocked = range_reference(queries, database, n_bits // 3)
    for a, b in zip(ranged, blocked, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n_bits", [16, 100])
@pytest.mark.parametrize("k", [1, 5, 70, 300])
def test_reference_database_chunks_merge_exactly(monkeypatch, n_bits, k):
    rng = np.random.default_rng(k)
    pool = random_codes(rng, 20, n_bits)  # few distinct codes: ties across chunks
    database = pool[rng.integers(0, 20, 250)]
    queries = np.concatenate([random_codes(rng, 9, n_bits), pool[:3]])
    words, query_words = as_words(database), as_words(queries)
    search = scan.knn_scan(query_words, words, min(k, 250), n_bits)
    ranged = scan.range_scan(query_words, words, n_bits // 2)
    # Chunks of 64 // 16 = 4 codes (2 for 100 bits), blocks of 64 // 4 = 16 queries, so
    # chunks smaller than k are merged.
    monkeypatch.setattr(BLOCKS, "elements", 64)
    monkeypatch.setattr(BLOCKS, "xor_bytes", 64)
    assert _chunk_size(250, database.shape[1]) < 250
    got = knn_reference(queries, database, k, n_bits)
    for a, b in zip(search, got, strict=True):
        np.testing.assert_array_equal(a[:, : min(k, 250)], b)
    got_range = range_reference(queries, database, n_bits // 2)
    for a, b in zip(ranged, got_range, strict=True):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_bits=st.sampled_from(N_BITS),
    n=st.integers(1, 2500),
    n_queries=st.integers(1, 40),
    k=st.sampled_from([1, 2, 10, 64, 100, 700]),
    flip=st.sampled_from([0.0, 0.02, 0.2, 0.5]),
)
def test_knn_scan_matches_reference(seed, n_bits, n, n_queries, k, flip):
    rng = np.random.default_rng(seed)
    database = clustered_codes(rng, n, n_bits, n_centres=5, flip=flip)
    queries = clustered_codes(rng, n_queries, n_bits, n_centres=5, flip=flip)
    kk = min(k, n)
    want = knn_reference(queries, database, kk, n_bits)
    got = scan.knn_scan(as_words(queries), as_words(database), kk, n_bits)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_bits=st.sampled_from(N_BITS),
    n=st.integers(1, 2500),
    n_queries=st.integers(1, 40),
    radius_fraction=st.floats(0, 0.6),
    flip=st.sampled_from([0.0, 0.05, 0.5]),
)
def test_range_scan_matches_reference(seed, n_bits, n, n_queries, radius_fraction, flip):
    rng = np.random.default_rng(seed)
    database = clustered_codes(rng, n, n_bits, n_centres=4, flip=flip)
    queries = clustered_codes(rng, n_queries, n_bits, n_centres=4, flip=flip)
    radius = int(radius_fraction * n_bits)
    want = range_reference(queries, database, radius)
    got = scan.range_scan(as_words(queries), as_words(database), radius)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n_bits", [64, 128, 576])
def test_range_scan_blocks_that_overflow_their_region_are_searched_again(monkeypatch, n_bits):
    # Regions of 16 slots: the query blocks near a crowded centre overflow theirs and are
    # searched a second time; the far ones collect everything in one pass. Both kinds end
    # up in one output, in (distance, id) order.
    monkeypatch.setattr(scan, "RANGE_REGION", 16)
    assert scan._region_size(6) == 16 and scan.QUERY_BLOCK == 16
    rng = np.random.default_rng(n_bits)
    database = clustered_codes(rng, 1500, n_bits, n_centres=3, flip=0.02)
    near = database[rng.integers(0, 1500, 40)]
    far = random_codes(rng, 40, n_bits)
    queries = np.concatenate([near, far, near[:7]])
    radius = n_bits // 8
    want = range_reference(queries, database, radius)
    counts = np.diff(want[0])
    blocks = np.add.reduceat(counts, np.arange(0, counts.size, 16))
    assert (blocks > 16).any() and (blocks <= 16).any()
    got = scan.range_scan(as_words(queries), as_words(database), radius)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)


def test_knn_ties_at_kth_position_break_by_smallest_id():
    # 3,000 identical codes: every distance ties, so the k best are the k smallest ids,
    # including after the candidate buffer has been compacted many times.
    database = np.zeros((3000, 8), dtype=np.uint8)
    queries = np.zeros((5, 8), dtype=np.uint8)
    queries[1, 0] = 1
    distances, indices = scan.knn_scan(as_words(queries), as_words(database), 50, 64)
    np.testing.assert_array_equal(indices, np.tile(np.arange(50), (5, 1)))
    np.testing.assert_array_equal(distances[1], np.ones(50))


def test_knn_scan_finds_late_better_codes():
    # The best codes sit at the end: the limit must keep dropping until the last block.
    rng = np.random.default_rng(0)
    database = rng.integers(0, 256, size=(5000, 8), dtype=np.uint8)
    queries = database[-3:].copy()
    distances, indices = scan.knn_scan(as_words(queries), as_words(database), 1, 64)
    np.testing.assert_array_equal(indices[:, 0], [4997, 4998, 4999])
    np.testing.assert_array_equal(distances[:, 0], 0)


@numba.njit
def _popcounts(values):
    out = np.empty(values.shape[0], dtype=np.int64)
    for i in range(values.shape[0]):
        out[i] = _numba.popcount64(values[i])
    return out


def test_popcount64_is_exact():
    values = np.array([0, 1, 2**63, 2**64 - 1, 0x5555555555555555, 12345], dtype=np.uint64)
    assert _popcounts(values).tolist() == [bin(int(v)).count("1") for v in values]


def test_as_words_pads_without_changing_bits():
    codes = np.array([[1, 2, 3], [255, 0, 7]], dtype=np.uint8)
    words = as_words(codes)
    assert words.dtype == np.uint64 and words.shape == (2, 1)
    assert words[1, 0] == 255 + (7 << 16)


def test_threads_context_restores_the_thread_count():
    before = numba.get_num_threads()
    with _numba.threads(1) as count:
        assert count == 1 and numba.get_num_threads() == 1
    assert numba.get_num_threads() == before
    assert _numba.thread_count(10**6) == numba.config.NUMBA_NUM_THREADS
    assert _numba.thread_count(None) == numba.config.NUMBA_NUM_THREADS


@pytest.mark.parametrize("bad", [0, -3, 2.0, "1", False])
def test_check_n_threads_refuses(bad):
    with pytest.raises((TypeError, ValueError), match="n_threads"):
        _numba.check_n_threads(bad)


def test_key_table_finds_every_key_and_only_those():
    rng = np.random.default_rng(2)
    keys = np.unique(rng.integers(0, 2**63, 5000, dtype=np.int64).astype(np.uint64))
    keys = np.concatenate([[np.uint64(0)], keys, [np.uint64(2**64 - 1)]])
    slots, _ = table.build_key_table(keys)
    assert slots.shape[0] >= 2 * keys.shape[0]
    used = slots[:, 1] > 0
    positions = slots[used, 1].astype(np.int64) - 1
    assert sorted(positions.tolist()) == list(range(keys.shape[0]))
    np.testing.assert_array_equal(slots[used, 0], keys[positions])
    empty, _ = table.build_key_table(np.empty(0, dtype=np.uint64))
    assert (empty == 0).all()


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_bits=st.sampled_from([4, 12, 20, 64]),
    n=st.integers(1, 400),
    radius=st.integers(0, 3),
)
def test_probe_table_returns_every_member_within_the_radius_in_order(seed, n_bits, n, radius):
    from hashlearn.codes import bucket_keys
    from hashlearn.index import HashTableIndex, hash_table

    rng = np.random.default_rng(seed)
    database = clustered_codes(rng, n, n_bits, n_centres=3, flip=0.1)
    queries = clustered_codes(rng, 9, n_bits, n_centres=3, flip=0.1)
    index = HashTableIndex(n_bits).add(database)
    masks, mask_distances = hash_table._masks_up_to(n_bits, radius)
    lims, distances, indices, hits = table.probe_table(
        bucket_keys(queries, n_bits),
        masks,
        mask_distances,
        table.build_key_table(index.bucket_keys_),
        index.bucket_offsets_,
        index.bucket_ids_,
    )
    want = range_reference(queries, database, radius)
    for a, b in zip((lims, distances, indices), want, strict=True):
        np.testing.assert_array_equal(a, b)
    keys = bucket_keys(queries, n_bits)
    for q in range(9):
        near = [bin(int(keys[q]) ^ int(key)).count("1") for key in index.bucket_keys_]
        assert hits[q] == sum(d <= radius for d in near)


@pytest.mark.parametrize("n_bits", [64, 192])
def test_serial_and_threaded_compilations_agree(monkeypatch, n_bits):
    rng = np.random.default_rng(n_bits)
    database = as_words(clustered_codes(rng, 3000, n_bits, n_centres=4, flip=0.1))
    queries = as_words(clustered_codes(rng, 23, n_bits, n_centres=4, flip=0.1))
    results = []
    for threshold in (0, 2**62):  # always threaded, then always serial
        monkeypatch.setattr(_numba, "SERIAL_WORK", threshold)
        monkeypatch.setattr(table, "SERIAL_PROBES", threshold)
        results.append(
            (
                *scan.knn_scan(queries, database, 17, n_bits),
                *scan.range_scan(queries, database, n_bits // 4),
            )
        )
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


def test_serial_and_threaded_compilations_have_their_own_cache_entries():
    # numba's disk cache keys entries by function name, not by the parallel flag: sharing
    # one name once made the threaded scans load the serial code (half the speed).
    for pair in (scan._knn_scan, scan._range_pass, scan._scatter):
        serial, threaded = pair
        assert threaded.targetoptions.get("parallel") and not serial.targetoptions.get("parallel")
        assert serial._cache._cache_file._index_name != threaded._cache._cache_file._index_name

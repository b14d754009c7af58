"""Exhaustive Hamming scans: exact k nearest codes and range search over every code.

Codes are rows of 64-bit words: ``uint64 (n, n_words)``, the packed format of
:mod:`hashlearn.codes` zero-padded to a multiple of 8 bytes (:func:`hashlearn.codes.as_words`;
padding bits are zero in queries and codes alike, so they never count). The distance is

    ``d(q, c) = sum_w popcount(q[w] XOR c[w])``,

computed with the hardware ``popcnt`` instruction (:func:`hashlearn._numba.popcount64`;
vectorised to ``vpopcntq`` where the CPU has it). :func:`knn_scan` returns, per query, the
``k`` smallest pairs ``(d(q, c), c)``; :func:`range_scan` every ``c`` with
``d(q, c) <= radius``, both sorted by ``(distance, id)``. Pure functions: arrays in, arrays
out; the tests compare them with a numpy reference.

Threads: the threaded compilations split *queries* across numba's threads (``prange``), so
each thread streams the whole database once per block of queries; small problems run the
serial compilation (:func:`hashlearn._numba.pick`). Indexes set the thread count per call
from their ``n_threads`` parameter (:func:`hashlearn._numba.threads`).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from hashlearn._numba import CACHE, compile_both, pick, popcount64

__all__ = ["CODE_BLOCK", "QUERY_BLOCK", "QUERY_GROUP", "knn_scan", "range_scan"]

# QUERY_GROUP queries share every code loaded (register blocking); a thread takes
# QUERY_BLOCK queries and streams the database in blocks of CODE_BLOCK // n_words codes
# (2 KiB: in L1 while the block's queries read it). Small blocks matter: a block holding a
# candidate is scanned again for that query, so the re-scan cost per code grows with the
# block size (measured on 10^6 codes: 256 codes beat 1,024 by 1.1x at k=10, 1.6x at k=100).
QUERY_GROUP = 4
QUERY_BLOCK = 16
CODE_BLOCK = 256


# -- distances --------------------------------------------------------------------------------
@numba.njit(inline="always", nogil=True, cache=CACHE)
def _distance(queries, q, database, j):
    total = 0
    for w in range(queries.shape[1]):
        total += popcount64(queries[q, w] ^ database[j, w])
    return total


@numba.njit(inline="always", nogil=True, cache=CACHE, boundscheck=False)
def _group_minima(queries, g, database, start, stop):
    """Smallest distance from each of queries ``g .. g + 3`` to ``database[start:stop]``.

    Four queries share every code loaded (register blocking), and nothing is stored:
    only the four running minima. LLVM vectorises the loop over codes (``vpopcntq``).
    Specialised for 1, 2 and 4 words per code; other widths loop over the words.
    """
    n_words = queries.shape[1]
    m0 = m1 = m2 = m3 = 1 << 30
    if n_words == 1:
        a, b, c, e = queries[g, 0], queries[g + 1, 0], queries[g + 2, 0], queries[g + 3, 0]
        for j in range(start, stop):
            x = database[j, 0]
            m0 = min(m0, popcount64(a ^ x))
            m1 = min(m1, popcount64(b ^ x))
            m2 = min(m2, popcount64(c ^ x))
            m3 = min(m3, popcount64(e ^ x))
    elif n_words == 2:
        a0, b0, c0, e0 = queries[g, 0], queries[g + 1, 0], queries[g + 2, 0], queries[g + 3, 0]
        a1, b1, c1, e1 = queries[g, 1], queries[g + 1, 1], queries[g + 2, 1], queries[g + 3, 1]
        for j in range(start, stop):
            x0 = database[j, 0]
            x1 = database[j, 1]
            m0 = min(m0, popcount64(a0 ^ x0) + popcount64(a1 ^ x1))
            m1 = min(m1, popcount64(b0 ^ x0) + popcount64(b1 ^ x1))
            m2 = min(m2, popcount64(c0 ^ x0) + popcount64(c1 ^ x1))
            m3 = min(m3, popcount64(e0 ^ x0) + popcount64(e1 ^ x1))
    elif n_words == 4:
        for j in range(start, stop):
            x0 = database[j, 0]
            x1 = database[j, 1]
            x2 = database[j, 2]
            x3 = database[j, 3]
            m0 = min(
                m0,
                popcount64(queries[g, 0] ^ x0)
                + popcount64(queries[g, 1] ^ x1)
                + popcount64(queries[g, 2] ^ x2)
                + popcount64(queries[g, 3] ^ x3),
            )
            m1 = min(
                m1,
                popcount64(queries[g + 1, 0] ^ x0)
                + popcount64(queries[g + 1, 1] ^ x1)
                + popcount64(queries[g + 1, 2] ^ x2)
                + popcount64(queries[g + 1, 3] ^ x3),
            )
            m2 = min(
                m2,
                popcount64(queries[g + 2, 0] ^ x0)
                + popcount64(queries[g + 2, 1] ^ x1)
                + popcount64(queries[g + 2, 2] ^ x2)
                + popcount64(queries[g + 2, 3] ^ x3),
            )
            m3 = min(
                m3,
                popcount64(queries[g + 3, 0] ^ x0)
                + popcount64(queries[g + 3, 1] ^ x1)
                + popcount64(queries[g + 3, 2] ^ x2)
                + popcount64(queries[g + 3, 3] ^ x3),
            )
    else:
        for j in range(start, stop):
            d0 = d1 = d2 = d3 = 0
            for w in range(n_words):
                x = database[j, w]
                d0 += popcount64(queries[g, w] ^ x)
                d1 += popcount64(queries[g + 1, w] ^ x)
                d2 += popcount64(queries[g + 2, w] ^ x)
                d3 += popcount64(queries[g + 3, w] ^ x)
            m0 = min(m0, d0)
            m1 = min(m1, d1)
            m2 = min(m2, d2)
            m3 = min(m3, d3)
    return m0, m1, m2, m3


def _pad_queries(queries: np.ndarray) -> np.ndarray:
    """Queries padded to a multiple of ``QUERY_GROUP`` rows (copies of the last one)."""
    rest = -queries.shape[0] % QUERY_GROUP
    if rest == 0:
        return queries
    return np.concatenate([queries, np.repeat(queries[-1:], rest, axis=0)])


# -- k nearest neighbours ----------------------------------------------------------------------
@numba.njit(nogil=True, cache=CACHE, boundscheck=False)
def _compact(buf_d, buf_i, size, k, histogram):
    """Keep the ``k`` smallest ``(distance, id)`` of a full candidate buffer, by counting.

    The buffer holds candidates in increasing id order. From the histogram of its
    distances, ``t`` is the smallest distance with ``#{d <= t} >= k``; every candidate
    with ``d < t`` is kept and, of those at ``t``, the first ``k - #{d < t}`` (smallest
    ids). Order is preserved. Returns ``t``; the buffer then holds exactly ``k`` items.
    """
    histogram[:] = 0
    for p in range(size):
        histogram[buf_d[p]] += 1
    below = 0
    t = 0
    while below + histogram[t] < k:
        below += histogram[t]
        t += 1
    ties = k - below
    kept = 0
    for p in range(size):
        d = buf_d[p]
        if d < t or (d == t and ties > 0):
            if d == t:
                ties -= 1
            buf_d[kept] = d
            buf_i[kept] = buf_i[p]
            kept += 1
    return t


@numba.njit(nogil=True, cache=CACHE, boundscheck=False)
def _emit_sorted(buf_d, buf_i, size, k, histogram, out_d, out_i, row):
    """Write the ``min(k, size)`` smallest buffer entries to ``out[row]``, by counting sort.

    A stable counting sort on distance keeps ids ascending within each distance, which is
    the ``(distance, id)`` order.
    """
    histogram[:] = 0
    for p in range(size):
        histogram[buf_d[p]] += 1
    start = 0
    for d in range(histogram.shape[0]):
        count = histogram[d]
        histogram[d] = start
        start += count
    n_out = min(k, size)
    for p in range(size):
        position = histogram[buf_d[p]]
        histogram[buf_d[p]] += 1
        if position < n_out:
            out_d[row, position] = buf_d[p]
            out_i[row, position] = buf_i[p]


@numba.njit(nogil=True, cache=CACHE, boundscheck=False)
def _select(queries, q, database, start, stop, buf_d, buf_i, size, limit, k, histogram):
    """Append codes ``start .. stop - 1`` with ``d <= limit`` to query ``q``'s buffer.

    Compacts (by counting) whenever the buffer fills. Returns the new ``(size, limit)``.
    """
    capacity = buf_d.shape[0]
    for j in range(start, stop):
        d = _distance(queries, q, database, j)
        if d <= limit:
            buf_d[size] = d
            buf_i[size] = j
            size += 1
            if size == capacity:
                limit = _compact(buf_d, buf_i, size, k, histogram) - 1
                size = k
                if limit < 0:
                    break  # k codes at distance 0: nothing can enter any more
    return size, limit


def _knn_scan_py(queries, database, k, n_bits):
    n_queries = queries.shape[0]
    n = database.shape[0]
    out_d = np.empty((n_queries, k), dtype=np.int32)
    out_i = np.empty((n_queries, k), dtype=np.int64)
    capacity = 2 * k + 64
    n_blocks = (n_queries + QUERY_BLOCK - 1) // QUERY_BLOCK
    code_block = max(64, CODE_BLOCK // queries.shape[1])
    for block in prange(n_blocks):
        q_start = block * QUERY_BLOCK
        width = min(QUERY_BLOCK, n_queries - q_start)
        buf_d = np.empty((width, capacity), dtype=np.int32)
        buf_i = np.empty((width, capacity), dtype=np.int64)
        sizes = np.zeros(width, dtype=np.int64)
        limits = np.full(width, n_bits, dtype=np.int64)
        histogram = np.empty(n_bits + 1, dtype=np.int64)
        for c_start in range(0, n, code_block):
            c_stop = min(c_start + code_block, n)
            for g in range(0, width, QUERY_GROUP):
                minima = _group_minima(queries, q_start + g, database, c_start, c_stop)
                for r in range(QUERY_GROUP):
                    # The usual case once the limit has dropped: nothing in this block.
                    if minima[r] <= limits[g + r]:
                        sizes[g + r], limits[g + r] = _select(
                            queries,
                            q_start + g + r,
                            database,
                            c_start,
                            c_stop,
                            buf_d[g + r],
                            buf_i[g + r],
                            sizes[g + r],
                            limits[g + r],
                            k,
                            histogram,
                        )
        for r in range(width):
            _emit_sorted(buf_d[r], buf_i[r], sizes[r], k, histogram, out_d, out_i, q_start + r)
    return out_d, out_i


_knn_scan = compile_both(_knn_scan_py)


def knn_scan(
    queries: np.ndarray, database: np.ndarray, k: int, n_bits: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``k`` nearest codes of each query, by a blocked scan and counting selection.

    **Scan.** Threads take blocks of ``QUERY_BLOCK`` queries; the database is read in
    blocks of about ``CODE_BLOCK`` codes (cache-sized), and for each group of four
    queries a vectorised pass computes only the *smallest* distance to the block. A block
    whose minimum exceeds a query's current limit is skipped for that query, which after
    the first blocks is nearly always the case; otherwise the block's distances are
    recomputed and selected.

    **Selection by counting.** Each query keeps a buffer of ``2k + 64`` candidates
    ``(d, id)`` in id order, accepting codes with ``d <= limit``. When it fills, a
    histogram of its distances gives ``t``, the smallest distance with ``#{d <= t} >= k``;
    every candidate with ``d < t`` stays, and of those at ``t`` the smallest ids, ``k``
    in all. The limit becomes ``t - 1``: a later code at distance ``t`` has a larger id
    and can never displace a kept one. At the end a counting sort on distance (stable,
    so ids ascend within a distance) gives the ``(distance, id)`` order. No comparison
    sort anywhere.

    Parameters
    ----------
    queries : uint64 (n_queries, n_words)
    database : uint64 (n, n_words), ``n >= 1``
    k : int, ``1 <= k <= n``
    n_bits : int, the largest possible distance

    Returns
    -------
    distances : int32 (n_queries, k)
    indices : int64 (n_queries, k)
        Sorted by ``(distance, id)``.
    """
    n_queries = queries.shape[0]
    padded = _pad_queries(queries)
    work = padded.shape[0] * database.shape[0] * database.shape[1]
    distances, indices = pick(_knn_scan, work)(padded, database, k, n_bits)
    return distances[:n_queries], indices[:n_queries]


# -- range search ------------------------------------------------------------------------------
def _range_pass_py(queries, n_real, database, radius, positions, out_d, out_i, fill):
    """One pass of :func:`range_scan` over the database (queries from ``n_real`` on are padding).

    ``fill=False``: count, ``positions[q, d] += 1`` for each result at distance ``d``.
    ``fill=True``: write each result at ``positions[q, d]``, then advance it (a counting
    sort by distance; codes are visited in id order, so ids ascend within a distance).
    """
    n_queries = queries.shape[0]
    n = database.shape[0]
    n_blocks = (n_queries + QUERY_BLOCK - 1) // QUERY_BLOCK
    code_block = max(64, CODE_BLOCK // queries.shape[1])
    for block in prange(n_blocks):
        q_start = block * QUERY_BLOCK
        width = min(QUERY_BLOCK, n_queries - q_start)
        for c_start in range(0, n, code_block):
            c_stop = min(c_start + code_block, n)
            for g in range(0, width, QUERY_GROUP):
                minima = _group_minima(queries, q_start + g, database, c_start, c_stop)
                for r in range(QUERY_GROUP):
                    if minima[r] > radius:
                        continue
                    q = q_start + g + r
                    if q >= n_real:
                        continue
                    for j in range(c_start, c_stop):
                        d = _distance(queries, q, database, j)
                        if d <= radius:
                            if fill:
                                position = positions[q, d]
                                out_d[position] = d
                                out_i[position] = j
                                positions[q, d] = position + 1
                            else:
                                positions[q, d] += 1


_range_pass = compile_both(_range_pass_py)


def range_scan(
    queries: np.ndarray, database: np.ndarray, radius: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every ``(query, code)`` pair within ``radius``, in CSR layout sorted by ``(d, id)``.

    Two passes over the database, each skipping blocks whose smallest distance to a
    query exceeds ``radius`` (see :func:`knn_scan`): the first counts results per query
    and distance, so memory is exactly the output; the second writes each result at its
    final place.

    Returns
    -------
    lims : int64 (n_queries + 1,)
    distances : int32 (lims[-1],)
    indices : int64 (lims[-1],)
    """
    n_queries = queries.shape[0]
    padded = _pad_queries(queries)
    histograms = np.zeros((padded.shape[0], radius + 1), dtype=np.int64)
    empty_d = np.empty(0, dtype=np.int32)
    empty_i = np.empty(0, dtype=np.int64)
    range_pass = pick(_range_pass, padded.shape[0] * database.shape[0] * database.shape[1])
    range_pass(padded, n_queries, database, radius, histograms, empty_d, empty_i, False)
    histograms = histograms[:n_queries]
    lims = np.zeros(n_queries + 1, dtype=np.int64)
    np.cumsum(histograms.sum(axis=1), out=lims[1:])
    # positions[q, d]: where query q's first result at distance d goes.
    positions = np.cumsum(histograms, axis=1) - histograms + lims[:-1, None]
    out_d = np.empty(int(lims[-1]), dtype=np.int32)
    out_i = np.empty(int(lims[-1]), dtype=np.int64)
    range_pass(padded, n_queries, database, radius, positions, out_d, out_i, True)
    return lims, out_d, out_i

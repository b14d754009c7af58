"""Multi-index hashing (MIH): exact Hamming search through substring hash tables.

Norouzi, Punjani & Fleet (CVPR 2012, PAMI 2014). Each ``n_bits`` code is cut into ``m``
disjoint contiguous substrings; substring ``i`` holds bits ``starts[i] ..
starts[i] + lengths[i] - 1`` and the lengths differ by at most one (the longer ones
first). One hash table per substring maps a substring value to the codes that carry it.

Why it is exact (pigeonhole)
----------------------------
With ``d_i(q, c)`` the Hamming distance of substring ``i``, ``d(q, c) = sum_i d_i(q, c)``.
Give every substring a probe radius ``a_i`` (``a_i = -1``: not probed). If
``d_i(q, c) > a_i`` for every ``i`` then ``d(q, c) >= sum_i (a_i + 1)``. So when
``sum_i (a_i + 1) >= r + 1``, every code within distance ``r`` of the query lies in
the ball of radius ``a_i`` around the query's substring ``i`` in *some* table: probing
those balls and verifying the candidates by their full distance finds all of them.

The paper's refinement of the plain pigeonhole (radius ``floor(r / m)`` in every table)
writes ``r = a m + b``: ``b + 1`` substrings are probed at radius ``a`` and the other
``m - b - 1`` at ``a - 1``, so ``sum_i (a_i + 1) = r + 1`` exactly. With unequal
lengths any choice satisfying the sum is exact; the larger radii go to the *longer*
substrings because a ball of radius ``a`` holds a smaller fraction of a longer
substring's ``2**length`` values (``V(l, a) / 2**l`` decreases with ``l``), hence fewer
candidates. :func:`substring_radii` computes that assignment.

k nearest neighbours grow the same schedule one substring at a time: step ``t`` probes
the ring of radius ``s = t // m`` of substring ``t % m``, after which
``sum_i (a_i + 1) = t + 1``, so every code within distance ``R = t`` has been seen. The
search stops as soon as at least ``k`` verified codes lie within ``R`` (the paper's
stopping rule): the ``k`` smallest ``(distance, id)`` pairs are then among the codes
seen, and none of the unseen codes (all at distance ``> R``) can displace them.

A code is verified once per table that returns it but counted once: a candidate met in
substring ``i`` is new exactly when ``d_j(q, c) > a_j`` for every other substring ``j``
already probed to radius ``a_j`` (otherwise that table returned it before).

Tables
------
Each table is CSR: the ids sorted by ``(substring value, id)``, the distinct values
(``bucket keys``) in ascending order and the offsets of their buckets. Substrings short
enough (``2**length`` at most :data:`_DIRECT_SLOTS_PER_CODE` times the number of codes)
also get a succinct direct-address index: a bitmap of the occupied values with, every 64
values, the number of occupied values below; a value's bucket number is that count plus
a popcount in its 64-bit word (16 bytes per 64 values, so a 22-bit table's index is 1
MiB and stays in cache). Keys are looked up in batches of :data:`_BATCH` masks, every
lookup of a batch first, then the buckets found, so that their cache misses overlap. A
ring whose ``C(length, s)`` masks outnumber the table's distinct keys is found by
comparing every key instead (the same buckets). With at most :data:`_COPY_MAX_FACTOR`
substrings, each table also keeps a copy of the codes in bucket order: a bucket is
verified by reading contiguous memory, and skipped after one pass over its codes when
none of them can enter the results.

Falling back to the scan
------------------------
Each query counts its work (codes verified, keys looked up); when it passes
``_FALLBACK_WORK_PER_CODE * ntotal`` (3%), the query stops and is answered by the blocked
linear scan of :mod:`hashlearn._kernels`, which costs about 0.25 ns per code against about
10 ns per candidate verified here. Results stay exact either way. With 64 queries or more,
32 evenly spaced ones are searched first; when most of them fall back (uniform random
codes), the others go to the scan without probing.

Kernels
-------
The numba kernels below are pure functions (arrays in, arrays out) with a numpy or
brute-force reference in this module or the tests: :func:`substring_keys`
(:func:`substring_keys_reference`), :func:`next_combination`
(:func:`hashlearn.index.hash_table.flip_masks`), and the two search kernels (checked
against :class:`~hashlearn.index.LinearScanIndex` and, for the work they report, against
:func:`candidate_counts_reference`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import numba
import numpy as np
from numba import prange

from hashlearn import _kernels
from hashlearn._kernels import popcount64
from hashlearn._registry import register
from hashlearn.index._base import BinaryIndex, check_radius
from hashlearn.index.hash_table import ProbeStatistics

__all__ = [
    "MIH",
    "MultiIndexHashing",
    "candidate_counts_reference",
    "next_combination",
    "recommended_substrings",
    "substring_keys",
    "substring_keys_reference",
    "substring_layout",
    "substring_radii",
]

# The succinct direct-address index of a table (16 bytes per 64 possible keys) is built
# when 2**length <= max(_DIRECT_MIN_SLOTS, _DIRECT_SLOTS_PER_CODE * ntotal) and
# length <= _DIRECT_MAX_BITS; otherwise keys are found by binary search. Per-table copies
# of the codes in bucket order are kept with at most _COPY_MAX_FACTOR substrings (memory:
# that many times the codes). Measured on 10**6 clustered 64-bit codes (2,000 centres,
# flip 0.075, k=10): the direct index is 1.3x (m = 4) and 1.9x (m = 3) faster than
# binary search; the copies 1.4x to 1.6x faster than reading the codes by id.
_DIRECT_SLOTS_PER_CODE = 64
_DIRECT_MIN_SLOTS = 2**16
_DIRECT_MAX_BITS = 28
_COPY_MAX_FACTOR = 8
# Work units: one candidate verified = 1, one key looked up = _PROBE_COST, one bucket key
# compared in a ring scan = 1. A query whose work exceeds
# _FALLBACK_WORK_PER_CODE * ntotal + _FALLBACK_MIN_WORK stops and is answered by the
# blocked linear scan instead (about 0.25 ns per code against about 10 ns per candidate
# verified here): this keeps uniform random codes near the scan's cost. Measured: 0.03
# loses nothing on clustered codes and keeps uniform 64-bit codes within 1.1x of the scan.
_PROBE_COST = 4
_FALLBACK_WORK_PER_CODE = 0.03
_FALLBACK_MIN_WORK = 2048
# With at least 2 * _PILOT_QUERIES queries, that many go first; if more than
# _PILOT_MAX_FAILED of them fall back, so do all the others, without probing.
_PILOT_QUERIES = 32
_PILOT_MAX_FAILED = 0.5

# Slots of the per-query state vector shared by the kernels.
_SIZE = 0  # entries in the k-NN buffer / results counted or written
_LIMIT = 1  # k-NN: largest combined key admitted; range: the radius
_WITHIN = 2  # k-NN: distinct codes seen within the guaranteed radius
_RADIUS = 3  # k-NN: the guaranteed radius R (every code within R has been seen)
_PROBED = 4  # keys looked up (masks)
_SCANNED = 5  # bucket keys compared in ring scans
_HIT = 6  # non-empty buckets read
_CANDIDATES = 7  # codes verified (once per table that returned them)
_FAILED = 8  # 1 when the work budget ran out
_K = 9  # k-NN: the number of neighbours kept
_TOUCHED = 10  # scratch written so that prefetching loads are not optimised away
_N_STATE = 11

_MODE_KNN = 0
_MODE_COUNT = 1
_MODE_FILL = 2

_NO_LIMIT = np.iinfo(np.int64).max
# Keys looked up together before their buckets are read.
_BATCH = 128


def _binomials() -> np.ndarray:
    """``C(l, s)`` for ``0 <= s <= l <= 64`` as int64 (the largest, C(64, 32), fits)."""
    table = np.zeros((65, 65), dtype=np.int64)
    for length in range(65):
        for s in range(length + 1):
            table[length, s] = math.comb(length, s)
    return table


_BINOMIALS = _binomials()


# -- layout ---------------------------------------------------------------------------------
def substring_layout(n_bits: int, n_substrings: int) -> tuple[np.ndarray, np.ndarray]:
    """Where each substring starts and how long it is: ``m`` nearly equal parts.

    ``n_bits = q m + e`` with ``0 <= e < m``: the first ``e`` substrings have ``q + 1``
    bits and the others ``q``; substring ``i`` covers bits ``starts[i] ..
    starts[i] + lengths[i] - 1``.

    Returns
    -------
    starts, lengths : ndarray of int64, shape (n_substrings,)

    Examples
    --------
    >>> substring_layout(13, 3)
    (array([0, 5, 9]), array([5, 4, 4]))
    """
    base, extra = divmod(n_bits, n_substrings)
    lengths = np.full(n_substrings, base, dtype=np.int64)
    lengths[:extra] += 1
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return starts, lengths


def substring_radii(lengths: np.ndarray, radius: int) -> np.ndarray:
    """Probe radius of each substring for an exact range search of ``radius``.

    With ``radius + 1 = a m + b`` (``0 <= b < m``): ``a_i + 1 = a + 1`` for the first
    ``b`` substrings (the longer ones) and ``a`` for the rest, so
    ``sum_i (a_i + 1) = radius + 1``: any code within ``radius`` has ``d_i <= a_i`` in
    some substring (the paper's ``r = a' m + b'`` rule). ``a_i = -1`` means the table
    is not probed; radii never exceed the substring lengths.

    Examples
    --------
    >>> substring_radii(np.array([5, 4, 4]), 4)  # 5 = 1 * 3 + 2
    array([1, 1, 0])
    """
    m = lengths.shape[0]
    quotient, remainder = divmod(radius + 1, m)
    plus_one = quotient + (np.arange(m) < remainder)
    return np.minimum(plus_one - 1, lengths).astype(np.int64)


def recommended_substrings(n_bits: int, n_codes: int) -> int:
    """The paper's choice of ``m``: substrings of about ``log2(N)`` bits.

    ``m = ceil(n_bits / log2(n_codes))``: the fewest substrings of at most ``log2(N)``
    bits, so that a table has at least about as many possible keys as codes (about one
    code per bucket). Rounding up rather than to the nearest was measured on 10**6
    clustered 64-bit codes (m = 4 rather than 3): as fast when the neighbours are near,
    about 1.2x faster when they are far. The result is clipped to
    ``[ceil(n_bits / 64), n_bits]`` (substring keys are at most 64 bits and at least 1);
    ``n_codes < 2`` counts as 2.

    Examples
    --------
    >>> recommended_substrings(64, 10**6), recommended_substrings(128, 10**6)
    (4, 7)
    """
    ratio = n_bits / math.log2(max(n_codes, 2))
    return int(min(max(math.ceil(ratio - 1e-9), -(-n_bits // 64), 1), n_bits))


# -- kernels ----------------------------------------------------------------------------------
@numba.njit(inline="always", nogil=True, cache=True, boundscheck=False)
def _extract(words, row, start, length):
    """Bits ``start .. start + length - 1`` of ``words[row]`` as an integer (LSB first)."""
    word = start >> 6
    shift = start & 63
    value = words[row, word] >> np.uint64(shift)
    if shift + length > 64:
        value |= words[row, word + 1] << np.uint64(64 - shift)
    if length < 64:
        value &= (np.uint64(1) << np.uint64(length)) - np.uint64(1)
    return value


@numba.njit(inline="always", nogil=True, cache=True, boundscheck=False)
def _extract3(words, plane, row, start, length):
    """:func:`_extract` on ``words[plane]`` of a 3-D array, without making a view."""
    word = start >> 6
    shift = start & 63
    value = words[plane, row, word] >> np.uint64(shift)
    if shift + length > 64:
        value |= words[plane, row, word + 1] << np.uint64(64 - shift)
    if length < 64:
        value &= (np.uint64(1) << np.uint64(length)) - np.uint64(1)
    return value


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _substring_keys(words, starts, lengths):
    n = words.shape[0]
    m = starts.shape[0]
    out = np.empty((n, m), dtype=np.uint64)
    for row in range(n):  # one thread: a few ms for 10**6 codes, less than a sort
        for i in range(m):
            out[row, i] = _extract(words, row, starts[i], lengths[i])
    return out


def substring_keys(words: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Integer value of every substring of every code.

    ``keys[n, i] = sum_{j < lengths[i]} bit(starts[i] + j) * 2**j`` where ``bit(p)`` is
    bit ``p`` of code ``n`` (the packed format's order), read from two 64-bit words when
    the substring straddles a word boundary.

    Parameters
    ----------
    words : ndarray of uint64, shape (n, n_words)
        Codes as 64-bit words (:func:`hashlearn._kernels.as_words`).
    starts, lengths : ndarray of int64, shape (m,)
        From :func:`substring_layout`; lengths in ``[1, 64]``.

    Returns
    -------
    ndarray of uint64, shape (n, m)
    """
    _check_substrings_fit(starts, lengths, 64 * words.shape[1])
    return _substring_keys(words, starts, lengths)


def _check_substrings_fit(starts: np.ndarray, lengths: np.ndarray, n_bits: int) -> None:
    if lengths.size and (lengths.min() < 1 or lengths.max() > 64):
        raise ValueError(f"substring lengths must be in [1, 64], got {lengths.tolist()}")
    if starts.size and (starts.min() < 0 or (starts + lengths).max() > n_bits):
        raise ValueError(f"substrings must lie within the {n_bits} bits of the codes")


def substring_keys_reference(
    codes: np.ndarray, starts: np.ndarray, lengths: np.ndarray
) -> np.ndarray:
    """Reference for :func:`substring_keys` from packed ``uint8`` codes, via unpacked bits."""
    _check_substrings_fit(starts, lengths, 8 * codes.shape[1])
    bits = np.unpackbits(codes, axis=1, bitorder="little").astype(np.uint64)
    keys = np.zeros((codes.shape[0], starts.shape[0]), dtype=np.uint64)
    for i, (start, length) in enumerate(zip(starts.tolist(), lengths.tolist(), strict=True)):
        for j in range(length):
            keys[:, i] |= bits[:, start + j] << np.uint64(j)
    return keys


@numba.njit(inline="always", nogil=True, cache=True)
def _first_combination(s):
    """The smallest ``uint64`` with ``s`` set bits: ``2**s - 1``."""
    if s >= 64:
        return ~np.uint64(0)
    return (np.uint64(1) << np.uint64(s)) - np.uint64(1)


@numba.njit(inline="always", nogil=True, cache=True)
def next_combination(value):
    """The next larger ``uint64`` with as many set bits as ``value`` (Gosper's hack).

    ``c = value & -value`` (lowest set bit), ``r = value + c``, then
    ``next = (((r XOR value) >> 2) / c) | r``, the division being a shift by the
    number of trailing zeros, ``popcount(c - 1)``. Starting from ``2**s - 1`` and
    applying it ``C(l, s) - 1`` times enumerates every mask of ``s`` bits below bit
    ``l`` in increasing order, the order of :func:`hashlearn.index.hash_table.flip_masks`.
    ``value`` must be non-zero and not the largest mask of its bit count.
    """
    lowest = value & (~value + np.uint64(1))
    ripple = value + lowest
    # Two shifts: one by trailing_zeros + 2 could reach 64, which is undefined.
    trailing_zeros = np.uint64(popcount64(lowest - np.uint64(1)))
    return (((ripple ^ value) >> np.uint64(2)) >> trailing_zeros) | ripple


@numba.njit(inline="always", nogil=True, cache=True, boundscheck=False)
def _hamming(queries, q, source, plane, row):
    """Hamming distance of ``queries[q]`` and ``source[plane, row]``."""
    total = 0
    for w in range(queries.shape[1]):
        total += popcount64(queries[q, w] ^ source[plane, row, w])
    return total


@numba.njit(inline="always", nogil=True, cache=True, boundscheck=False)
def _is_new(source, plane, row, table, starts, lengths, query_keys, radii):
    """Whether no table but ``table``, probed so far to ``radii``, has returned the code.

    The code is ``source[plane, row]``.
    """
    for j in range(starts.shape[0]):
        if j != table and radii[j] >= 0:
            key = _extract3(source, plane, row, starts[j], lengths[j])
            if popcount64(key ^ query_keys[j]) <= radii[j]:
                return False
    return True


@numba.njit(inline="always", nogil=True, cache=True, boundscheck=False)
def _visit_bucket(
    mode, q, table, p0, p1, queries, database, ids, codes, copy, starts, lengths,
    query_keys, radii, buffer, histogram, state, out_keys, n,
):  # fmt: skip
    """Verify the members ``p0 .. p1 - 1`` of one bucket of ``table``.

    ``mode`` ``_MODE_KNN``: admit new codes with combined key ``d * n + id`` at most
    ``state[_LIMIT]`` into the k-NN buffer (compacting it to the ``k`` smallest keys
    when full, see :func:`_knn_kernel`); ``_MODE_COUNT``: count new codes within
    ``state[_LIMIT]``; ``_MODE_FILL``: write their combined keys to ``out_keys``.
    """
    state[_HIT] += 1
    state[_CANDIDATES] += p1 - p0
    # No array views here: creating one costs reference counting, per bucket. Without
    # its own copy of the codes, a table reads them from the database (one plane).
    if copy:
        # Most buckets hold nothing good enough once the limit has dropped: find that
        # out from the distances alone (a branch-free pass over contiguous codes).
        closest = 1 << 30
        if queries.shape[1] == 1:  # one word: a loop LLVM vectorises
            word = queries[q, 0]
            for p in range(p0, p1):
                closest = min(closest, popcount64(word ^ codes[table, p, 0]))
        else:
            for p in range(p0, p1):
                closest = min(closest, _hamming(queries, q, codes, table, p))
        bound = state[_LIMIT] // n if mode == _MODE_KNN else state[_LIMIT]
        if closest > bound:
            return
    key = np.int64(0)
    for p in range(p0, p1):
        row = np.int64(ids[table, p])
        if copy:
            d = _hamming(queries, q, codes, table, p)
        else:
            d = _hamming(queries, q, database, 0, row)
        if mode == _MODE_KNN:
            key = d * n + row
            if key > state[_LIMIT]:
                continue
        elif d > state[_LIMIT]:
            continue
        if copy:
            new = _is_new(codes, table, p, table, starts, lengths, query_keys, radii)
        else:
            new = _is_new(database, 0, row, table, starts, lengths, query_keys, radii)
        if not new:
            continue
        if mode == _MODE_KNN:
            size = state[_SIZE]
            buffer[size] = key
            size += 1
            histogram[d] += 1
            if d <= state[_RADIUS]:
                state[_WITHIN] += 1
            if size == buffer.shape[0]:
                # Keep the k smallest (distance, id) pairs; later codes must beat the
                # k-th to enter.
                k = state[_K]
                buffer.sort()
                size = k
                state[_LIMIT] = buffer[k - 1]
            state[_SIZE] = size
        elif mode == _MODE_COUNT:
            state[_SIZE] += 1
        else:
            out_keys[state[_SIZE]] = d * n + row
            state[_SIZE] += 1


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _probe_ring(
    mode, q, table, s, queries, database, ids, codes, copy, starts, lengths, bucket_keys,
    bucket_offsets, n_buckets, occupancy, direct, binomials, query_keys, radii, buffer,
    histogram, state, out_keys, n, budget, probe_cost, batch,
):  # fmt: skip
    """Visit every bucket of ``table`` whose key is at distance exactly ``s`` from the query's.

    Enumerates the ``C(length, s)`` masks of ``s`` bits (direct lookup or binary search
    of ``query_key XOR mask``) when they are no more than the table's distinct keys, and
    otherwise compares every distinct key with the query's (same buckets, less work).
    Sets ``state[_FAILED]`` and returns early when the work exceeds ``budget``.
    """
    length = lengths[table]
    query_key = query_keys[table]
    count = binomials[length, s]
    n_keys = n_buckets[table]
    if count <= n_keys:
        # Batches of masks: first every lookup of the batch (independent loads, no
        # branch on their outcome), then the buckets found.
        mask = _first_combination(s)
        done = 0
        while done < count:
            size = min(_BATCH, count - done)
            hits = 0
            for c in range(size):
                key = query_key ^ mask
                if done + c + 1 < count:
                    mask = next_combination(mask)
                if direct:
                    # The bucket number is the key's rank among the occupied keys.
                    block = np.int64(key >> np.uint64(6))
                    bit = key & np.uint64(63)
                    bitmap = occupancy[table, block, 0]
                    below = bitmap & ((np.uint64(1) << bit) - np.uint64(1))
                    batch[0, hits] = np.int64(occupancy[table, block, 1]) + popcount64(below)
                    hits += np.int64((bitmap >> bit) & np.uint64(1))
                else:
                    lo = 0
                    hi = n_keys
                    while lo < hi:
                        mid = (lo + hi) >> 1
                        if bucket_keys[table, mid] < key:
                            lo = mid + 1
                        else:
                            hi = mid
                    if lo < n_keys and bucket_keys[table, lo] == key:
                        batch[0, hits] = lo
                        hits += 1
            for h in range(hits):
                batch[1, h] = bucket_offsets[table, batch[0, h]]
                batch[2, h] = bucket_offsets[table, batch[0, h] + 1]
            # Touch each bucket's first entry now, so their cache misses overlap.
            touched = 0
            for h in range(hits):
                if copy:
                    touched ^= np.int64(codes[table, batch[1, h], 0] & np.uint64(1))
                else:
                    touched ^= ids[table, batch[1, h]]
            state[_TOUCHED] = touched
            for h in range(hits):
                _visit_bucket(
                    mode, q, table, batch[1, h], batch[2, h], queries, database, ids, codes,
                    copy, starts, lengths, query_keys, radii, buffer, histogram, state,
                    out_keys, n,
                )  # fmt: skip
            done += size
            state[_PROBED] += size
            if state[_CANDIDATES] + probe_cost * state[_PROBED] + state[_SCANNED] > budget:
                state[_FAILED] = 1
                return
    else:
        for b in range(n_keys):
            state[_SCANNED] += 1
            if popcount64(bucket_keys[table, b] ^ query_key) == s:
                _visit_bucket(
                    mode, q, table, bucket_offsets[table, b], bucket_offsets[table, b + 1],
                    queries, database, ids, codes, copy, starts, lengths, query_keys, radii,
                    buffer, histogram, state, out_keys, n,
                )  # fmt: skip
                if state[_CANDIDATES] + probe_cost * state[_PROBED] + state[_SCANNED] > budget:
                    state[_FAILED] = 1
                    return
        if state[_CANDIDATES] + probe_cost * state[_PROBED] + state[_SCANNED] > budget:
            state[_FAILED] = 1


@numba.njit(parallel=True, nogil=True, cache=True, boundscheck=False)
def _knn_kernel(
    mode, active, queries, database, ids, codes, copy, starts, lengths, bucket_keys,
    bucket_offsets, n_buckets, occupancy, direct, binomials, k, n_bits, budget, probe_cost,
):  # fmt: skip
    """Exact k-NN of the queries listed in ``active``, by growing substring radii.

    Step ``t`` probes the ring ``s = t // m`` of substring ``t % m``; then every code
    within ``R = t`` has been seen. New codes enter a buffer of ``2k + 64`` combined keys
    ``d * n + id`` (so sorting them is the ``(distance, id)`` order); when it fills it
    is sorted and cut to its ``k`` smallest, and only keys below the ``k``-th enter
    afterwards. ``histogram[d]`` counts the codes admitted at distance ``d``, so
    ``#{seen codes within R}`` is kept up to date, and the query stops once it reaches
    ``k``. A code not admitted has a key above ``k`` admitted ones, so it is never
    needed, and it can only be within ``R`` once those ``k`` are.

    Returns distances ``int32 (len(active), k)``, ids ``int64 (len(active), k)`` and
    the per-query state (``int64 (len(active), _N_STATE)``); rows whose ``_FAILED``
    slot is set ran out of budget and hold garbage. ``mode`` is ``_MODE_KNN``, passed in
    so that the helpers are compiled once for this kernel and :func:`_range_kernel`.
    """
    n_queries = active.shape[0]
    n = ids.shape[1]
    m = starts.shape[0]
    out_d = np.empty((n_queries, k), dtype=np.int32)
    out_i = np.empty((n_queries, k), dtype=np.int64)
    states = np.zeros((n_queries, _N_STATE), dtype=np.int64)
    out_keys = np.empty(0, dtype=np.int64)
    for j in prange(n_queries):
        q = active[j]
        state = states[j]
        query_keys = np.empty(m, dtype=np.uint64)
        radii = np.full(m, -1, dtype=np.int64)
        histogram = np.zeros(n_bits + 1, dtype=np.int64)
        buffer = np.empty(2 * k + 64, dtype=np.int64)
        batch = np.empty((3, _BATCH), dtype=np.int64)
        for i in range(m):
            query_keys[i] = _extract(queries, q, starts[i], lengths[i])
        state[_LIMIT] = _NO_LIMIT
        state[_RADIUS] = -1
        state[_K] = k
        for t in range(n_bits + 1):
            table = t % m
            s = t // m
            if s <= lengths[table]:
                _probe_ring(
                    mode, q, table, s, queries, database, ids, codes, copy, starts,
                    lengths, bucket_keys, bucket_offsets, n_buckets, occupancy, direct,
                    binomials, query_keys, radii, buffer, histogram, state, out_keys, n,
                    budget, probe_cost, batch,
                )  # fmt: skip
                if state[_FAILED]:
                    break
            radii[table] = s
            state[_RADIUS] = t
            state[_WITHIN] += histogram[t]
            if state[_WITHIN] >= k:
                break
        if state[_FAILED]:
            continue
        size = state[_SIZE]
        kept = buffer[:size]
        kept.sort()
        for r in range(k):
            out_d[j, r] = kept[r] // n
            out_i[j, r] = kept[r] % n
    return out_d, out_i, states


@numba.njit(parallel=True, nogil=True, cache=True, boundscheck=False)
def _range_kernel(
    mode, active, queries, database, ids, codes, copy, starts, lengths, bucket_keys,
    bucket_offsets, n_buckets, occupancy, direct, binomials, target_radii, radius, lims,
    out_keys, budget, probe_cost,
):  # fmt: skip
    """One pass of the exact range search over the queries listed in ``active``.

    Tables are probed in order, table ``i`` at rings ``0 .. target_radii[i]``; a code is
    new when no earlier table (already probed to its full radius) returned it.
    ``_MODE_COUNT`` counts the new codes within ``radius`` (state slot ``_SIZE``) and
    stops a query when its work exceeds ``budget``; ``_MODE_FILL`` writes their
    combined keys ``d * n + id`` to ``out_keys[lims[j]:lims[j + 1]]`` for the ``j``-th
    active query and sorts them, which is the ``(distance, id)`` order.

    Returns the per-query state, ``int64 (len(active), _N_STATE)``.
    """
    n = ids.shape[1]
    m = starts.shape[0]
    states = np.zeros((active.shape[0], _N_STATE), dtype=np.int64)
    buffer = np.empty(0, dtype=np.int64)
    histogram = np.empty(0, dtype=np.int64)
    for j in prange(active.shape[0]):
        q = active[j]
        state = states[j]
        state[_LIMIT] = radius
        if mode == _MODE_FILL:
            state[_SIZE] = lims[j]
        query_keys = np.empty(m, dtype=np.uint64)
        radii = np.full(m, -1, dtype=np.int64)
        batch = np.empty((3, _BATCH), dtype=np.int64)
        for i in range(m):
            query_keys[i] = _extract(queries, q, starts[i], lengths[i])
        for table in range(m):
            for s in range(target_radii[table] + 1):
                _probe_ring(
                    mode, q, table, s, queries, database, ids, codes, copy, starts, lengths,
                    bucket_keys, bucket_offsets, n_buckets, occupancy, direct, binomials,
                    query_keys, radii, buffer, histogram, state, out_keys, n, budget,
                    probe_cost, batch,
                )  # fmt: skip
                if state[_FAILED]:
                    break
            if state[_FAILED]:
                break
            radii[table] = target_radii[table]
        if mode == _MODE_FILL:
            out_keys[lims[j] : lims[j + 1]].sort()
    return states


def candidate_counts_reference(
    query_codes: np.ndarray, codes: np.ndarray, starts: np.ndarray, lengths: np.ndarray,
    radii: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Brute-force count of the codes the tables return for each query.

    ``sum_i #{c : d_i(q, c) <= radii[i]}`` (a code counts once per table that returns
    it): the ``candidates`` that a probe of the substring radii ``radii`` verifies.
    ``radii`` is ``(m,)`` (the same for every query) or ``(n_queries, m)``.
    """
    query_keys = substring_keys_reference(query_codes, starts, lengths)
    keys = substring_keys_reference(codes, starts, lengths)
    per_query = np.broadcast_to(radii, (query_codes.shape[0], starts.shape[0]))
    distances = np.bitwise_count(query_keys[:, None, :] ^ keys[None, :, :])
    return (distances <= per_query[:, None, :]).sum(axis=(1, 2)).astype(np.int64)


# -- the tables ------------------------------------------------------------------------------
class _Tables:
    """The ``m`` substring tables of a fixed set of ``n`` codes (see the module docstring)."""

    def __init__(self, words: np.ndarray, n_bits: int, n_substrings: int) -> None:
        n = words.shape[0]
        self.ntotal = n
        self.starts, self.lengths = substring_layout(n_bits, n_substrings)
        m = n_substrings
        longest = int(self.lengths.max())
        self.direct = longest <= _DIRECT_MAX_BITS and 2**longest <= max(
            _DIRECT_MIN_SLOTS, _DIRECT_SLOTS_PER_CODE * n
        )
        self.copy = m <= _COPY_MAX_FACTOR
        keys = substring_keys(words, self.starts, self.lengths)
        self.ids = np.empty((m, n), dtype=np.int32 if n < 2**31 else np.int64)
        self.codes = np.empty((m, n if self.copy else 0, words.shape[1]), dtype=np.uint64)
        sorted_keys = np.empty((m, n), dtype=np.uint64)
        for i in range(m):
            order = np.argsort(keys[:, i], kind="stable")
            self.ids[i] = order
            if self.copy:
                self.codes[i] = words[order]
            sorted_keys[i] = keys[order, i]
        new_bucket = np.ones((m, n), dtype=bool)
        new_bucket[:, 1:] = sorted_keys[:, 1:] != sorted_keys[:, :-1]
        self.n_buckets = new_bucket.sum(axis=1).astype(np.int64)
        width = int(self.n_buckets.max())
        self.bucket_keys = np.zeros((m, width), dtype=np.uint64)
        self.bucket_offsets = np.full((m, width + 1), n, dtype=np.int64)
        for i in range(m):
            first = np.flatnonzero(new_bucket[i])
            self.bucket_keys[i, : first.shape[0]] = sorted_keys[i, first]
            self.bucket_offsets[i, : first.shape[0]] = first
        # occupancy[i, w] = (bitmap of the occupied keys 64 w .. 64 w + 63, number of
        # occupied keys below 64 w): a key's bucket number is its rank among them.
        n_blocks = max(1, 2**longest // 64)
        self.occupancy = np.zeros((m, n_blocks if self.direct else 0, 2), dtype=np.uint64)
        if self.direct:
            for i in range(m):
                present = self.bucket_keys[i, : self.n_buckets[i]]
                bitmap = self.occupancy[i, :, 0]
                np.bitwise_or.at(
                    bitmap,
                    (present >> np.uint64(6)).astype(np.intp),
                    np.uint64(1) << (present & np.uint64(63)),
                )
                counts = np.bitwise_count(bitmap).astype(np.uint64)
                self.occupancy[i, 1:, 1] = np.cumsum(counts)[:-1]

    @property
    def n_substrings(self) -> int:
        return int(self.starts.shape[0])

    def arrays(self) -> tuple[Any, ...]:
        """The table arguments of the kernels, in their order."""
        return (
            self.ids,
            self.codes,
            self.copy,
            self.starts,
            self.lengths,
            self.bucket_keys,
            self.bucket_offsets,
            self.n_buckets,
            self.occupancy,
            self.direct,
        )

    def ring_cost(self, table: int, s: int) -> int:
        """Work to enumerate ring ``s`` of ``table`` (masks or a scan of its keys)."""
        count = int(_BINOMIALS[self.lengths[table], s])
        keys = int(self.n_buckets[table])
        return _PROBE_COST * count if count <= keys else keys


# -- the index ---------------------------------------------------------------------------------
@register
class MultiIndexHashing(BinaryIndex):
    """Exact Hamming k-NN and range search by multi-index hashing (MIH).

    Codes are cut into ``m`` contiguous substrings of nearly equal length (differing by
    at most one bit), each indexed by its own hash table. A range search of radius
    ``r`` probes substring ``i`` within a radius ``a_i`` such that
    ``sum_i (a_i + 1) = r + 1`` (the paper's ``r = a m + b`` rule, larger radii for the
    longer substrings), which by the pigeonhole principle returns every code within
    ``r``; candidates are verified by their full Hamming distance. k-NN grows the
    substring radii one table at a time and stops when ``k`` verified codes lie within
    the radius guaranteed complete. Both are **exact**: they return the same arrays as
    :class:`~hashlearn.index.LinearScanIndex`, sorted by ``(distance, database id)``
    (ties break by the smaller database id, always; see :mod:`hashlearn.index._base`).
    The module docstring derives the rules.

    Parameters
    ----------
    n_bits : int
        Code length in bits, in ``[1, 4096]``.
    n_substrings : int or None, default=None
        The number ``m`` of substrings (and tables), in ``[ceil(n_bits / 64), n_bits]``
        (a substring is a 64-bit key at most). ``None`` follows the paper, substrings of
        about ``log2(ntotal)`` bits: ``m = ceil(n_bits / log2(ntotal))``
        (:func:`recommended_substrings`), chosen again whenever the tables are rebuilt,
        so it follows the database's size.
    hasher : hasher, optional
        The hasher that produced the codes; enables :meth:`add_vectors` /
        :meth:`search_vectors` and is saved with the index.
    n_threads : int or None, default=None
        Threads used by a search (queries are split across them); ``None`` or ``-1``
        use numba's whole pool.

    Attributes
    ----------
    ntotal : int
        Number of stored codes.
    codes : ndarray of uint8, shape (ntotal, ceil(n_bits / 8))
        The stored codes (read-only view).
    n_substrings_ : int
        The number of substrings the next search uses (``n_substrings``, or the
        recommendation for the current ``ntotal``).
    substring_lengths_ : ndarray of int64, shape (n_substrings_,)
        Their lengths in bits (longer ones first).
    last_stats_ : ProbeStatistics or None
        Per-query work of the last search: ``radius`` (for ``search``, the Hamming
        radius within which every code had been seen when it stopped; ``n_bits`` for a
        query answered by the scan), ``buckets_probed`` (keys looked up plus keys
        compared in ring scans, over all tables), ``buckets_hit``, ``candidates`` (codes
        verified, once per table that returned them, plus ``ntotal`` for a query
        answered by the scan) and ``scanned`` (answered by the linear-scan fallback).

    Notes
    -----
    **Tables** are built at the first search after :meth:`add` (adds only store the
    codes), by one stable sort per substring: about 0.5 s for 10**6 codes of 64 bits.
    Add in batches: the search after an add rebuilds them, and with
    ``n_substrings=None`` chooses ``m`` again. Memory per stored code is ``4 m`` bytes
    of ids plus, with at most 8 substrings, ``m`` copies of the code (bucket order); a
    table also holds 16 bytes per distinct substring value and, when its substrings are
    short enough, a 16-byte bitmap entry per 64 possible values. For 10**6 64-bit codes
    (m = 4) that is about 50 MB next to the 8 MB of codes.

    **When it is fast.** The work of a query grows with the number of codes whose
    substrings fall near the query's, so with the distance of its ``k``-th neighbour
    relative to ``m``. On *clustered* codes (learned hash codes, near-duplicates) the
    ``k`` nearest are close and few buckets are read. Measured on 10**6 64-bit codes
    around 2,000 random centres (every bit flipped with probability 0.05, 0.075, 0.1),
    1,000 queries, k=10, 2 threads: about 9x to 17x, 7x to 10x and 4x to 5x faster than
    :class:`~hashlearn.index.LinearScanIndex`, with about 650, 1,200 and 2,700 candidates
    verified per query. On *uniform random* codes no index beats the scan: the ``k``-th
    neighbour is far (15 bits for k=10 among 10**6 codes of 64 bits), so each of the 4
    tables of 16-bit substrings must be probed to radius 3, a ball holding 1% of the
    database (about 42,000 candidates per query against a scan that costs about as
    much as 20,000 random reads). A query
    whose work passes a few percent of ``ntotal`` stops and is answered by the blocked
    linear scan instead (``last_stats_.scanned``), and when most of the first 32
    queries of a batch do, the others go to the scan directly: uniform codes cost about
    1.1 times the scan.

    References
    ----------
    .. [1] M. Norouzi, A. Punjani and D. J. Fleet, "Fast Search in Hamming Space with
       Multi-Index Hashing", CVPR 2012.
    .. [2] M. Norouzi, A. Punjani and D. J. Fleet, "Fast Exact Search in Hamming Space
       with Multi-Index Hashing", IEEE TPAMI 36(6), 2014.

    Examples
    --------
    >>> import numpy as np
    >>> from hashlearn.codes import pack_bits
    >>> database = pack_bits([[0, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0],
    ...                       [0, 0, 0, 0, 1, 1], [1, 1, 1, 1, 1, 1]])
    >>> index = MultiIndexHashing(n_bits=6, n_substrings=2).add(database)
    >>> index.substring_lengths_
    array([3, 3])
    >>> index.search(pack_bits([[1, 0, 0, 0, 0, 0]]), k=3)
    (array([[0, 1, 1]], dtype=int32), array([[2, 0, 1]]))
    >>> lims, distances, indices = index.range_search(pack_bits([[0, 0, 0, 0, 0, 0]]), 2)
    >>> lims, distances, indices
    (array([0, 4]), array([0, 1, 2, 2], dtype=int32), array([0, 2, 1, 3]))
    >>> index.probe_radii(2)  # radius + 1 = 3 = 1 * 2 + 1
    array([1, 0])
    >>> index.last_stats_.candidates  # 3 codes within 1 of 000 in bits 0-2, 3 equal in 3-5
    array([6])
    """

    def __init__(
        self,
        n_bits: int,
        *,
        n_substrings: int | None = None,
        hasher: Any = None,
        n_threads: int | None = None,
    ) -> None:
        super().__init__(n_bits, hasher=hasher)
        self.n_substrings = self._check_substrings(n_substrings)
        self.n_threads = _kernels.check_n_threads(n_threads)
        self._tables: _Tables | None = None
        self.last_stats_: ProbeStatistics | None = None

    def _check_substrings(self, n_substrings: Any) -> int | None:
        if n_substrings is None:
            return None
        low = -(-self._n_bits // 64)
        if isinstance(n_substrings, bool) or not isinstance(n_substrings, (int, np.integer)):
            raise TypeError(
                f"n_substrings must be None or an int in [{low}, {self._n_bits}], "
                f"got {n_substrings!r}"
            )
        if not low <= n_substrings <= self._n_bits:
            raise ValueError(
                f"n_substrings must be in [{low}, {self._n_bits}] for n_bits={self._n_bits} "
                "(at least 1 bit and at most 64 bits per substring), "
                f"got {int(n_substrings)}"
            )
        return int(n_substrings)

    def __repr__(self) -> str:
        return (
            f"MultiIndexHashing(n_bits={self._n_bits}, n_substrings={self.n_substrings}, "
            f"ntotal={self.ntotal})"
        )

    # -- tables ------------------------------------------------------------------------
    @property
    def n_substrings_(self) -> int:
        """Substrings (tables) the next search uses."""
        if self.n_substrings is not None:
            return self.n_substrings
        return recommended_substrings(self._n_bits, self.ntotal)

    @property
    def substring_lengths_(self) -> np.ndarray:
        """Lengths in bits of the substrings the next search uses."""
        return substring_layout(self._n_bits, self.n_substrings_)[1]

    def probe_radii(self, radius: int) -> np.ndarray:
        """Radius probed in each substring's table by a range search of ``radius``.

        ``sum_i (a_i + 1) = radius + 1``, the larger radii on the longer substrings
        (:func:`substring_radii`); ``-1`` means the table is not probed.

        Returns
        -------
        ndarray of int64, shape (n_substrings_,)
        """
        radius = check_radius(radius, self._n_bits)
        return substring_radii(self.substring_lengths_, radius)

    def _storage_width(self) -> int:
        return 8 * ((self._n_bytes + 7) // 8)

    def _database_words(self) -> np.ndarray:
        return self._store.view().view(np.uint64)

    def _current_tables(self) -> _Tables:
        """The tables for the stored codes, (re)built when codes were added since."""
        tables = self._tables
        if tables is None or tables.ntotal != self.ntotal:
            tables = _Tables(self._database_words(), self._n_bits, self.n_substrings_)
            self._tables = tables
        return tables

    def _threads_for(self, n_queries: int) -> int:
        """Threads for a batch: queries are split across threads, so at most one each."""
        return min(_kernels.thread_count(self.n_threads), n_queries)

    def _budget(self) -> int:
        return int(_FALLBACK_MIN_WORK + _FALLBACK_WORK_PER_CODE * self.ntotal)

    def _add(self, codes: np.ndarray, first_id: int) -> None:
        self._tables = None  # rebuilt at the next search

    def _reset(self) -> None:
        self._tables = None
        self.last_stats_ = None

    def _empty_search_stats(self, n_queries: int) -> None:
        zeros = np.zeros(n_queries, dtype=np.int64)
        self.last_stats_ = ProbeStatistics(
            radius=np.zeros(n_queries, dtype=np.int32),
            buckets_probed=zeros,
            buckets_hit=zeros.copy(),
            candidates=zeros.copy(),
            scanned=np.zeros(n_queries, dtype=bool),
        )

    def _record(self, states: np.ndarray, radius: np.ndarray, scanned: np.ndarray) -> None:
        candidates = states[:, _CANDIDATES].copy()
        candidates[scanned] += self.ntotal
        self.last_stats_ = ProbeStatistics(
            radius=radius.astype(np.int32),
            buckets_probed=states[:, _PROBED] + states[:, _SCANNED],
            buckets_hit=states[:, _HIT].copy(),
            candidates=candidates,
            scanned=scanned,
        )

    # -- search ------------------------------------------------------------------------
    def _search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        tables = self._current_tables()
        query_words = _kernels.as_words(queries)
        database = self._database_words()
        n_queries = queries.shape[0]
        kk = min(k, self.ntotal)
        distances = np.empty((n_queries, kk), dtype=np.int32)
        indices = np.empty((n_queries, kk), dtype=np.int64)

        def probe(active: np.ndarray) -> np.ndarray:
            found_d, found_i, states = _knn_kernel(  # type: ignore[call-arg]
                _MODE_KNN,
                active,
                query_words,
                database[None],
                *tables.arrays(),
                _BINOMIALS,
                kk,
                self._n_bits,
                self._budget(),
                _PROBE_COST,
            )
            distances[active], indices[active] = found_d, found_i
            result: np.ndarray = states
            return result

        with _kernels.threads(self._threads_for(n_queries)):
            states = self._probe_with_pilot(n_queries, probe)
            failed = states[:, _FAILED].astype(bool)
            if failed.any():
                with _scan_threads(int(failed.sum()), self.n_threads):
                    scan_d, scan_i = _kernels.knn_scan(
                        query_words[failed], database, kk, self._n_bits
                    )
                distances[failed], indices[failed] = scan_d, scan_i
        radius = np.where(failed, self._n_bits, states[:, _RADIUS])
        self._record(states, radius, failed)
        return distances, indices

    def _probe_with_pilot(
        self, n_queries: int, probe: Callable[[np.ndarray], np.ndarray]
    ) -> np.ndarray:
        """Per-query states of ``probe`` run on every query, or on a pilot sample only.

        With many queries, :data:`_PILOT_QUERIES` evenly spaced ones go first; when more
        than :data:`_PILOT_MAX_FAILED` of them run out of budget, the data are not the
        kind multi-index hashing helps with (e.g. uniform random codes), and the other
        queries are marked failed without being probed (they go to the scan).
        """
        states = np.zeros((n_queries, _N_STATE), dtype=np.int64)
        if n_queries < 2 * _PILOT_QUERIES:
            states[:] = probe(np.arange(n_queries, dtype=np.int64))
            return states
        pilot = np.unique(np.linspace(0, n_queries - 1, _PILOT_QUERIES).astype(np.int64))
        rest = np.setdiff1d(np.arange(n_queries, dtype=np.int64), pilot)
        # On the calling thread: waking the pool costs more than these few queries when
        # the machine is busy.
        with _kernels.threads(1):
            states[pilot] = probe(pilot)
        if states[pilot, _FAILED].mean() > _PILOT_MAX_FAILED:
            states[rest, _FAILED] = 1
        else:
            states[rest] = probe(rest)
        return states

    def _range_search(
        self, queries: np.ndarray, radius: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tables = self._current_tables()
        query_words = _kernels.as_words(queries)
        database = self._database_words()
        n_queries = queries.shape[0]
        target = substring_radii(tables.lengths, radius)
        budget = self._budget()
        ring_work = sum(
            tables.ring_cost(i, s) for i in range(tables.n_substrings) for s in range(target[i] + 1)
        )
        with _kernels.threads(self._threads_for(n_queries)):
            if ring_work > budget:  # the probes alone cost more than a scan: skip them
                states = np.zeros((n_queries, _N_STATE), dtype=np.int64)
                states[:, _FAILED] = 1
            else:
                states = self._probe_with_pilot(
                    n_queries,
                    lambda active: self._range_pass(
                        _MODE_COUNT, active, query_words, database, tables, target, radius,
                        np.zeros(1, dtype=np.int64), np.empty(0, dtype=np.int64), budget,
                    ),
                )  # fmt: skip
            failed = states[:, _FAILED].astype(bool)
            found = np.flatnonzero(~failed)
            counts = np.zeros(n_queries, dtype=np.int64)
            if found.size:
                counts[found] = states[found, _SIZE]
                found_lims = np.zeros(found.size + 1, dtype=np.int64)
                np.cumsum(counts[found], out=found_lims[1:])
                keys = np.empty(int(found_lims[-1]), dtype=np.int64)
                self._range_pass(
                    _MODE_FILL, found, query_words, database, tables, target, radius,
                    found_lims, keys, _NO_LIMIT,
                )  # fmt: skip
            else:
                keys = np.empty(0, dtype=np.int64)
            scan_lims = np.zeros(1, dtype=np.int64)
            scan_d = np.empty(0, dtype=np.int32)
            scan_i = np.empty(0, dtype=np.int64)
            if failed.any():
                with _scan_threads(int(failed.sum()), self.n_threads):
                    scan_lims, scan_d, scan_i = _kernels.range_scan(
                        query_words[failed], database, radius
                    )
                counts[failed] = np.diff(scan_lims)
        lims = np.zeros(n_queries + 1, dtype=np.int64)
        np.cumsum(counts, out=lims[1:])
        distances = np.empty(int(lims[-1]), dtype=np.int32)
        indices = np.empty(int(lims[-1]), dtype=np.int64)
        # Place each group's CSR pieces at their queries' positions.
        if found.size:
            where = _segment_positions(lims, found)
            distances[where] = keys // self.ntotal
            indices[where] = keys % self.ntotal
        if failed.any():
            where = _segment_positions(lims, np.flatnonzero(failed))
            distances[where] = scan_d
            indices[where] = scan_i
        self._record(states, np.full(n_queries, radius), failed)
        return lims, distances, indices

    def _range_pass(
        self,
        mode: int,
        active: np.ndarray,
        query_words: np.ndarray,
        database: np.ndarray,
        tables: _Tables,
        target: np.ndarray,
        radius: int,
        lims: np.ndarray,
        keys: np.ndarray,
        budget: int,
    ) -> np.ndarray:
        states: np.ndarray = _range_kernel(  # type: ignore[call-arg]
            mode,
            active,
            query_words,
            database[None],
            *tables.arrays(),
            _BINOMIALS,
            target,
            radius,
            lims,
            keys,
            budget,
            _PROBE_COST,
        )
        return states

    # -- persistence ---------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, np.ndarray]]:
        params, attributes, arrays = super()._get_state()
        params["n_substrings"] = self.n_substrings
        params["n_threads"] = self.n_threads
        return params, attributes, arrays


def _scan_threads(n_queries: int, n_threads: int | None) -> AbstractContextManager[int]:
    """Threads for a fallback scan of ``n_queries``: the scan gives each thread a block of
    ``QUERY_BLOCK`` queries, and waking idle threads costs time on a busy machine."""
    blocks = -(-n_queries // _kernels.QUERY_BLOCK)
    return _kernels.threads(min(blocks, _kernels.thread_count(n_threads)))


def _segment_positions(lims: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Output positions of the CSR segments of ``rows`` (ascending), concatenated."""
    starts = lims[rows]
    sizes = lims[rows + 1] - starts
    offsets = np.cumsum(sizes) - sizes
    return np.arange(int(sizes.sum()), dtype=np.int64) + np.repeat(starts - offsets, sizes)


MIH = MultiIndexHashing
"""Short name of :class:`MultiIndexHashing`."""

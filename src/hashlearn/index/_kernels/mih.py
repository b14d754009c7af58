"""Multi-index hashing kernels: substring keys, substring tables, and the two exact searches.

A code of ``n_bits`` bits is cut into ``m`` contiguous substrings; substring ``i`` holds
bits ``starts[i] .. starts[i] + lengths[i] - 1`` and its key is

    ``key_i(c) = sum_{j < lengths[i]} bit(c, starts[i] + j) * 2**j``

(:func:`substring_keys`). With ``d_i(q, c) = popcount(key_i(q) XOR key_i(c))``, the
Hamming distance is ``d(q, c) = sum_i d_i(q, c)``, so if every table ``i`` has been
probed to radius ``a_i`` then every code with ``d(q, c) <= sum_i (a_i + 1) - 1`` has
been returned by some table (pigeonhole; derivation in
:mod:`hashlearn.index.multi_index`). A candidate met in table ``i`` is *new* exactly when
``d_j(q, c) > a_j`` for every other table ``j`` already probed to ``a_j``.

* :func:`knn_kernel`: step ``t`` probes the ring ``s = t // m`` of table ``t % m``, after
  which every code within ``R = t`` has been seen; a query stops once ``k`` verified codes
  lie within ``R``. The ``k`` smallest combined keys ``d * n + id`` are its answer.
* :func:`range_kernel`: table ``i`` probed at rings ``0 .. target_radii[i]``, every new
  code with ``d(q, c) <= radius`` counted, or written as ``d * n + id`` and sorted.

A ring of radius ``s`` of table ``i`` is the buckets keyed ``key_i(q) XOR mask`` for the
``C(l, s)`` masks of ``s`` bits (:func:`next_combination`), or, when they outnumber the
table's distinct keys, every bucket whose key is at distance ``s``. Work is counted per
query (``candidates + probe_cost * probed + scanned``) and a query stops, *failed*, when it
passes the budget; its caller answers it with the scan.

Kernel state is named: the tables are a :class:`Tables` record, what a call asks is a
:class:`Search`, a query's scratch a :class:`Query`, and each query's counters a row of a
structured array of dtype :data:`STATE` (fields, not slots of an integer vector). Pure
functions: arrays in, arrays out.

Inside a ``prange`` body, arrays are written through local names only, never as
``record.field[i] = ...``: numba's parfor pass does not see that such a write aliases the
record's array and drops it (numba 0.68). Functions called from the body may write
through record fields.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np
from numba import prange

from hashlearn._numba import CACHE, popcount64

__all__ = [
    "MODE_COUNT",
    "MODE_FILL",
    "MODE_KNN",
    "NO_LIMIT",
    "PROBE_COST",
    "STATE",
    "Query",
    "Search",
    "Tables",
    "assemble_tables",
    "build_tables",
    "knn_kernel",
    "next_combination",
    "occupancy_index",
    "range_kernel",
    "ring_cost",
    "substring_keys",
]

# The succinct direct-address index of a table (16 bytes per 64 possible keys) is built
# when 2**length <= max(DIRECT_MIN_SLOTS, DIRECT_SLOTS_PER_CODE * ntotal) and
# length <= DIRECT_MAX_BITS; otherwise keys are found by binary search. Per-table copies
# of the codes in bucket order are kept with at most COPY_MAX_FACTOR substrings (memory:
# that many times the codes). Measured on 10**6 clustered 64-bit codes (2,000 centres,
# flip 0.075, k=10): the direct index is 1.3x (m = 4) and 1.9x (m = 3) faster than
# binary search; the copies 1.4x to 1.6x faster than reading the codes by id.
DIRECT_SLOTS_PER_CODE = 64
DIRECT_MIN_SLOTS = 2**16
DIRECT_MAX_BITS = 28
COPY_MAX_FACTOR = 8
# Work units: one candidate verified = 1, one key looked up = PROBE_COST, one bucket key
# compared in a ring scan = 1.
PROBE_COST = 4

MODE_KNN = 0
MODE_COUNT = 1
MODE_FILL = 2

NO_LIMIT = np.iinfo(np.int64).max
# Keys looked up together before their buckets are read.
_BATCH = 128

#: Per-query counters of a search, one row per query.
STATE = np.dtype(
    [
        ("size", np.int64),  # entries in the k-NN buffer / results counted or written
        ("limit", np.int64),  # k-NN: largest combined key admitted; range: the radius
        ("within", np.int64),  # k-NN: distinct codes seen within the guaranteed radius
        ("radius", np.int64),  # k-NN: the guaranteed radius R (every code within R seen)
        ("probed", np.int64),  # keys looked up (masks)
        ("scanned", np.int64),  # bucket keys compared in ring scans
        ("hit", np.int64),  # non-empty buckets read
        ("candidates", np.int64),  # codes verified (once per table that returned them)
        ("failed", np.int64),  # 1 when the work budget ran out
        ("k", np.int64),  # k-NN: the number of neighbours kept
        ("touched", np.int64),  # written so that prefetching loads are not optimised away
    ]
)


class Tables(NamedTuple):
    """The ``m`` substring tables of ``n`` codes (:func:`build_tables`).

    Table ``i`` is CSR: ``ids[i]`` the ids sorted by ``(key_i, id)``; ``bucket_keys[i,
    :n_buckets[i]]`` its distinct keys, ascending; bucket ``b`` holds ``ids[i,
    bucket_offsets[i, b]:bucket_offsets[i, b + 1]]``. With ``copy``, ``codes[i]`` is the
    codes in that order; with ``direct``, ``occupancy[i, w] = (bitmap of the occupied keys
    64 w .. 64 w + 63, number of occupied keys below 64 w)``, so a key's bucket number is
    its rank among them. ``binomials[l, s] = C(l, s)``.
    """

    ids: np.ndarray
    codes: np.ndarray
    copy: bool
    starts: np.ndarray
    lengths: np.ndarray
    bucket_keys: np.ndarray
    bucket_offsets: np.ndarray
    n_buckets: np.ndarray
    occupancy: np.ndarray
    direct: bool
    binomials: np.ndarray


class Search(NamedTuple):
    """What one kernel call asks, the same for every query.

    ``mode`` is :data:`MODE_KNN`, :data:`MODE_COUNT` or :data:`MODE_FILL`; ``queries`` the
    query codes as words, ``database`` the stored codes as words with a leading plane
    axis ``(1, n, n_words)`` (the layout of ``Tables.codes``); ``out_keys`` receives the
    combined keys in ``MODE_FILL``; a query fails once its work exceeds ``budget``.
    """

    mode: int
    queries: np.ndarray
    database: np.ndarray
    out_keys: np.ndarray
    budget: int
    probe_cost: int


class Query(NamedTuple):
    """One query's scratch: its row in ``queries``, its substring keys, the radius each
    table was probed to (``-1``: not yet), the k-NN buffer and distance histogram, and a
    ``(3, _BATCH)`` array of the buckets found by a batch of lookups."""

    row: int
    keys: np.ndarray
    radii: np.ndarray
    buffer: np.ndarray
    histogram: np.ndarray
    batch: np.ndarray


def _binomials() -> np.ndarray:
    """``C(l, s)`` for ``0 <= s <= l <= 64`` as int64 (the largest, C(64, 32), fits)."""
    table = np.zeros((65, 65), dtype=np.int64)
    for length in range(65):
        for s in range(length + 1):
            table[length, s] = math.comb(length, s)
    return table


BINOMIALS = _binomials()


# -- keys -------------------------------------------------------------------------------------
@numba.njit(inline="always", nogil=True, cache=CACHE, boundscheck=False)
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


@numba.njit(inline="always", nogil=True, cache=CACHE, boundscheck=False)
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


@numba.njit(nogil=True, cache=CACHE, boundscheck=False)
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
        Codes as 64-bit words (:func:`hashlearn.codes.as_words`).
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


# -- probing ---------------------------------------------------------------------------------
@numba.njit(inline="always", nogil=True, cache=CACHE)
def _first_combination(s):
    """The smallest ``uint64`` with ``s`` set bits: ``2**s - 1``."""
    if s >= 64:
        return ~np.uint64(0)
    return (np.uint64(1) << np.uint64(s)) - np.uint64(1)


@numba.njit(inline="always", nogil=True, cache=CACHE)
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


@numba.njit(inline="always", nogil=True, cache=CACHE, boundscheck=False)
def _hamming(queries, q, source, plane, row):
    """Hamming distance of ``queries[q]`` and ``source[plane, row]``."""
    total = 0
    for w in range(queries.shape[1]):
        total += popcount64(queries[q, w] ^ source[plane, row, w])
    return total


@numba.njit(inline="always", nogil=True, cache=CACHE, boundscheck=False)
def _is_new(source, plane, row, table, starts, lengths, query_keys, radii):
    """Whether no table but ``table``, probed so far to ``radii``, has returned the code
    ``source[plane, row]``."""
    for j in range(starts.shape[0]):
        if j != table and radii[j] >= 0:
            key = _extract3(source, plane, row, starts[j], lengths[j])
            if popcount64(key ^ query_keys[j]) <= radii[j]:
                return False
    return True


@numba.njit(inline="always", nogil=True, cache=CACHE, boundscheck=False)
def _over_budget(search, state):
    """Whether the query's work passed the budget: ``candidates + probe_cost * probed +
    scanned > budget``; marks it failed."""
    work = state.candidates + search.probe_cost * state.probed + state.scanned
    if work > search.budget:
        state.failed = 1
        return True
    return False


@numba.njit(inline="always", nogil=True, cache=CACHE, boundscheck=False)
def _take(mode, buffer, histogram, out_keys, state, row, d, n):
    """Take the new code ``row`` at distance ``d``: into the k-NN buffer (``MODE_KNN``),
    the count (``MODE_COUNT``) or the output keys (``MODE_FILL``)."""
    if mode == MODE_KNN:
        size = state.size
        buffer[size] = d * n + row
        size += 1
        histogram[d] += 1
        if d <= state.radius:
            state.within += 1
        if size == buffer.shape[0]:
            # Keep the k smallest (distance, id) pairs; later codes must beat the k-th
            # to enter.
            buffer.sort()
            size = state.k
            state.limit = buffer[size - 1]
        state.size = size
    elif mode == MODE_COUNT:
        state.size += 1
    else:
        out_keys[state.size] = d * n + row
        state.size += 1


@numba.njit(inline="always", nogil=True, cache=CACHE, boundscheck=False)
def _visit_buckets(search, tables, query, state, table, hits):
    """Verify the members of the buckets ``query.batch[1, h] .. query.batch[2, h] - 1``
    of ``table``, for ``h < hits``.

    ``MODE_KNN``: admit new codes with combined key ``d * n + id`` at most
    ``state.limit`` into the k-NN buffer (compacting it to the ``k`` smallest keys when
    full, see :func:`knn_kernel`); ``MODE_COUNT``: count new codes within
    ``state.limit``; ``MODE_FILL``: write their combined keys to ``search.out_keys``.
    """
    # Record fields are read once per batch of buckets: each read of an array field costs
    # two atomic reference-count updates, and reading them per bucket made MIH 1.3x
    # slower than plain arrays.
    mode = search.mode
    queries = search.queries
    out_keys = search.out_keys
    ids = tables.ids
    copy = tables.copy
    # Without its own copy of the codes, a table reads them from the database (one plane).
    source = tables.codes if copy else search.database
    starts = tables.starts
    lengths = tables.lengths
    q = query.row
    query_keys = query.keys
    radii = query.radii
    buffer = query.buffer
    histogram = query.histogram
    batch = query.batch
    n = ids.shape[1]
    knn = mode == MODE_KNN
    plane = table if copy else 0
    for h in range(hits):
        p0 = batch[1, h]
        p1 = batch[2, h]
        state.hit += 1
        state.candidates += p1 - p0
        if copy:
            # Most buckets hold nothing good enough once the limit has dropped: find that
            # out from the distances alone (a branch-free pass over contiguous codes).
            closest = 1 << 30
            if queries.shape[1] == 1:  # one word: a loop LLVM vectorises
                word = queries[q, 0]
                # Indexed from 0 in a slice: with ``range(p0, p1)`` numba's wraparound of
                # negative indices turns LLVM's vector loads into single ones (5x slower).
                members = source[table, p0:p1]
                for p in range(p1 - p0):
                    closest = min(closest, popcount64(word ^ members[p, 0]))
            else:
                for p in range(p0, p1):
                    closest = min(closest, _hamming(queries, q, source, table, p))
            bound = state.limit // n if knn else state.limit
            if closest > bound:
                continue
        for p in range(p0, p1):
            row = np.int64(ids[table, p])
            position = p if copy else row
            d = _hamming(queries, q, source, plane, position)
            if knn:
                if d * n + row > state.limit:
                    continue
            elif d > state.limit:
                continue
            if _is_new(source, plane, position, table, starts, lengths, query_keys, radii):
                _take(mode, buffer, histogram, out_keys, state, row, d, n)


@numba.njit(inline="always", nogil=True, cache=CACHE, boundscheck=False)
def _lookup_batch(tables, query, table, mask, count):
    """Look up ``query_key XOR mask`` for the next ``count`` masks from ``mask``; the
    buckets found go to ``query.batch[0]``. Returns their number and the next mask.

    Every lookup of the batch is independent (no branch on its outcome), so their cache
    misses overlap: a direct lookup is the key's rank among the occupied keys, otherwise
    a binary search of the table's distinct keys.
    """
    batch = query.batch
    occupancy = tables.occupancy
    bucket_keys = tables.bucket_keys
    direct = tables.direct
    query_key = query.keys[table]
    n_keys = tables.n_buckets[table]
    hits = 0
    for c in range(count):
        key = query_key ^ mask
        if c + 1 < count:
            mask = next_combination(mask)
        if direct:
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
    return hits, mask


@numba.njit(nogil=True, cache=CACHE, boundscheck=False)
def _probe_ring(search, tables, query, state, table, s):
    """Visit every bucket of ``table`` whose key is at distance exactly ``s`` from the query's.

    Enumerates the ``C(length, s)`` masks of ``s`` bits (direct lookup or binary search
    of ``query_key XOR mask``) when they are no more than the table's distinct keys, and
    otherwise compares every distinct key with the query's (same buckets, less work).
    Sets ``state.failed`` and returns early when the work exceeds the budget.
    """
    count = tables.binomials[tables.lengths[table], s]
    n_keys = tables.n_buckets[table]
    offsets = tables.bucket_offsets
    batch = query.batch
    if count > n_keys:
        bucket_keys = tables.bucket_keys
        query_key = query.keys[table]
        hits = 0
        for b in range(n_keys):
            state.scanned += 1
            if popcount64(bucket_keys[table, b] ^ query_key) == s:
                batch[1, hits] = offsets[table, b]
                batch[2, hits] = offsets[table, b + 1]
                hits += 1
                if hits == _BATCH:
                    _visit_buckets(search, tables, query, state, table, hits)
                    hits = 0
                    if _over_budget(search, state):
                        return
        _visit_buckets(search, tables, query, state, table, hits)
        _over_budget(search, state)
        return
    codes = tables.codes
    ids = tables.ids
    copy = tables.copy
    mask = _first_combination(s)
    done = 0
    while done < count:
        size = min(_BATCH, count - done)
        hits, last = _lookup_batch(tables, query, table, mask, size)
        if done + size < count:
            mask = next_combination(last)
        for h in range(hits):
            batch[1, h] = offsets[table, batch[0, h]]
            batch[2, h] = offsets[table, batch[0, h] + 1]
        # Touch each bucket's first entry now, so their cache misses overlap.
        touched = 0
        for h in range(hits):
            if copy:
                touched ^= np.int64(codes[table, batch[1, h], 0] & np.uint64(1))
            else:
                touched ^= ids[table, batch[1, h]]
        state.touched = touched
        _visit_buckets(search, tables, query, state, table, hits)
        done += size
        state.probed += size
        if _over_budget(search, state):
            return


@numba.njit(nogil=True, cache=CACHE, boundscheck=False)
def _query_keys(queries, row, starts, lengths):
    """The substring keys of query ``row``."""
    keys = np.empty(starts.shape[0], dtype=np.uint64)
    for i in range(starts.shape[0]):
        keys[i] = _extract(queries, row, starts[i], lengths[i])
    return keys


@numba.njit(parallel=True, nogil=True, cache=CACHE, boundscheck=False)
def knn_kernel(search, tables, active, states, k, n_bits):
    """Exact k-NN of the queries listed in ``active``, by growing substring radii.

    Step ``t`` probes the ring ``s = t // m`` of substring ``t % m``; then every code
    within ``R = t`` has been seen. New codes enter a buffer of ``2k + 64`` combined keys
    ``d * n + id`` (so sorting them is the ``(distance, id)`` order); when it fills it
    is sorted and cut to its ``k`` smallest, and only keys below the ``k``-th enter
    afterwards. ``histogram[d]`` counts the codes admitted at distance ``d``, so
    ``#{seen codes within R}`` is kept up to date, and the query stops once it reaches
    ``k``. A code not admitted has a key above ``k`` admitted ones, so it is never
    needed, and it can only be within ``R`` once those ``k`` are.

    ``search.mode`` is :data:`MODE_KNN`; ``states`` (``STATE (len(active),)``, zeros) is
    filled. Returns distances ``int32 (len(active), k)`` and ids ``int64 (len(active),
    k)``; rows whose ``failed`` field is set ran out of budget and hold garbage.
    """
    n_queries = active.shape[0]
    n = tables.ids.shape[1]
    m = tables.starts.shape[0]
    lengths = tables.lengths
    out_d = np.empty((n_queries, k), dtype=np.int32)
    out_i = np.empty((n_queries, k), dtype=np.int64)
    for j in prange(n_queries):
        state = states[j]
        histogram = np.zeros(n_bits + 1, dtype=np.int64)
        buffer = np.empty(2 * k + 64, dtype=np.int64)
        radii = np.full(m, -1, dtype=np.int64)
        keys = _query_keys(search.queries, active[j], tables.starts, lengths)
        batch = np.empty((3, _BATCH), dtype=np.int64)
        query = Query(active[j], keys, radii, buffer, histogram, batch)
        state.limit = NO_LIMIT
        state.radius = -1
        state.k = k
        for t in range(n_bits + 1):
            table = t % m
            s = t // m
            if s <= lengths[table]:
                _probe_ring(search, tables, query, state, table, s)
                if state.failed:
                    break
            radii[table] = s
            state.radius = t
            state.within += histogram[t]
            if state.within >= k:
                break
        if state.failed:
            continue
        kept = buffer[: state.size]
        kept.sort()
        for r in range(k):
            out_d[j, r] = kept[r] // n
            out_i[j, r] = kept[r] % n
    return out_d, out_i


@numba.njit(parallel=True, nogil=True, cache=CACHE, boundscheck=False)
def range_kernel(search, tables, active, states, target_radii, radius, lims):
    """One pass of the exact range search over the queries listed in ``active``.

    Tables are probed in order, table ``i`` at rings ``0 .. target_radii[i]``; a code is
    new when no earlier table (already probed to its full radius) returned it.
    :data:`MODE_COUNT` counts the new codes within ``radius`` (field ``size`` of
    ``states``, ``STATE (len(active),)``, zeros) and stops a query when its work exceeds
    ``search.budget``; :data:`MODE_FILL` writes their combined keys ``d * n + id`` to
    ``search.out_keys[lims[j]:lims[j + 1]]`` for the ``j``-th active query and sorts
    them, which is the ``(distance, id)`` order.
    """
    m = tables.starts.shape[0]
    buffer = np.empty(0, dtype=np.int64)
    histogram = np.empty(0, dtype=np.int64)
    out_keys = search.out_keys
    for j in prange(active.shape[0]):
        state = states[j]
        state.limit = radius
        if search.mode == MODE_FILL:
            state.size = lims[j]
        radii = np.full(m, -1, dtype=np.int64)
        keys = _query_keys(search.queries, active[j], tables.starts, tables.lengths)
        batch = np.empty((3, _BATCH), dtype=np.int64)
        query = Query(active[j], keys, radii, buffer, histogram, batch)
        for table in range(m):
            for s in range(target_radii[table] + 1):
                _probe_ring(search, tables, query, state, table, s)
                if state.failed:
                    break
            if state.failed:
                break
            radii[table] = target_radii[table]
        if search.mode == MODE_FILL:
            out_keys[lims[j] : lims[j + 1]].sort()


# -- building the tables ---------------------------------------------------------------------


def build_tables(words: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> Tables:
    """The substring tables of the codes ``words`` (``uint64 (n, n_words)``, ``n >= 1``).

    One stable sort per substring orders the ids by ``(key_i, id)``; the distinct keys and
    their bucket offsets follow. Short substrings (``2**length`` at most
    ``DIRECT_SLOTS_PER_CODE`` per code) also get the direct-address occupancy index, and
    with at most ``COPY_MAX_FACTOR`` substrings each table keeps a copy of the codes in
    bucket order (see :class:`Tables`).
    """
    n = words.shape[0]
    m = starts.shape[0]
    keys = substring_keys(words, starts, lengths)
    ids = np.empty((m, n), dtype=np.int32 if n < 2**31 else np.int64)
    sorted_keys = np.empty((m, n), dtype=np.uint64)
    for i in range(m):
        order = np.argsort(keys[:, i], kind="stable")
        ids[i] = order
        sorted_keys[i] = keys[order, i]
    new_bucket = np.ones((m, n), dtype=bool)
    new_bucket[:, 1:] = sorted_keys[:, 1:] != sorted_keys[:, :-1]
    n_buckets = new_bucket.sum(axis=1).astype(np.int64)
    width = int(n_buckets.max())
    bucket_keys = np.zeros((m, width), dtype=np.uint64)
    bucket_offsets = np.full((m, width + 1), n, dtype=np.int64)
    for i in range(m):
        first = np.flatnonzero(new_bucket[i])
        bucket_keys[i, : first.shape[0]] = sorted_keys[i, first]
        bucket_offsets[i, : first.shape[0]] = first
    occupancy = occupancy_index(bucket_keys, n_buckets, int(lengths.max()), n)
    return assemble_tables(
        words,
        ids,
        starts,
        lengths,
        (bucket_keys, bucket_offsets, n_buckets, occupancy),
        copy=m <= COPY_MAX_FACTOR,
    )


def assemble_tables(
    words: np.ndarray,
    ids: np.ndarray,
    starts: np.ndarray,
    lengths: np.ndarray,
    buckets: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    *,
    copy: bool,
) -> Tables:
    """:class:`Tables` from sorted ids and ``(bucket_keys, bucket_offsets, n_buckets,
    occupancy)``, built here or read from an index folder; with ``copy``, each table
    gets the codes of ``words`` in its bucket order."""
    bucket_keys, bucket_offsets, n_buckets, occupancy = buckets
    codes = (
        np.stack([words[ids[i]] for i in range(ids.shape[0])])
        if copy
        else np.empty((ids.shape[0], 0, words.shape[1]), dtype=np.uint64)
    )
    return Tables(
        ids=ids,
        codes=codes,
        copy=bool(copy),
        starts=starts,
        lengths=lengths,
        bucket_keys=bucket_keys,
        bucket_offsets=bucket_offsets,
        n_buckets=n_buckets,
        occupancy=occupancy,
        direct=bool(occupancy.shape[1] > 0),
        binomials=BINOMIALS,
    )


def occupancy_index(
    bucket_keys: np.ndarray, n_buckets: np.ndarray, longest: int, n: int
) -> np.ndarray:
    """The direct-address index of ``m`` tables (see :class:`Tables`), or an empty one.

    Built when ``longest`` (the longest substring) is at most ``DIRECT_MAX_BITS`` and
    ``2**longest`` at most ``max(DIRECT_MIN_SLOTS, DIRECT_SLOTS_PER_CODE * n)``; otherwise
    ``(m, 0, 2)``, and keys are found by binary search.
    """
    m = bucket_keys.shape[0]
    direct = longest <= DIRECT_MAX_BITS and 2**longest <= max(
        DIRECT_MIN_SLOTS, DIRECT_SLOTS_PER_CODE * n
    )
    n_blocks = max(1, 2**longest // 64)
    occupancy = np.zeros((m, n_blocks if direct else 0, 2), dtype=np.uint64)
    if direct:
        for i in range(m):
            present = bucket_keys[i, : n_buckets[i]]
            bitmap = occupancy[i, :, 0]
            np.bitwise_or.at(
                bitmap,
                (present >> np.uint64(6)).astype(np.intp),
                np.uint64(1) << (present & np.uint64(63)),
            )
            counts = np.bitwise_count(bitmap).astype(np.uint64)
            occupancy[i, 1:, 1] = np.cumsum(counts)[:-1]
    return occupancy


def ring_cost(tables: Tables, table: int, s: int) -> int:
    """Work to enumerate ring ``s`` of ``table``: ``PROBE_COST * C(length, s)`` masks, or
    one unit per distinct key when the masks outnumber them (the ring is then scanned)."""
    count = int(BINOMIALS[tables.lengths[table], s])
    keys = int(tables.n_buckets[table])
    return PROBE_COST * count if count <= keys else keys

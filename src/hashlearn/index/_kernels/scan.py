"""Exhaustive Hamming scans: exact k nearest codes and range search over every code.

Codes are rows of 64-bit words: ``uint64 (n, n_words)``, the packed format of
:mod:`hashlearn.codes` zero-padded to a multiple of 8 bytes (:func:`hashlearn.codes.as_words`;
padding bits are zero in queries and codes alike, so they never count). The distance is

    ``d(q, c) = sum_w popcount(q[w] XOR c[w])``,

computed through LLVM's ``ctpop`` (:func:`hashlearn._numba.popcount64`). The passes over
blocks of codes are vectorised by LLVM for the CPU numba compiles for: with AVX2 (and no
AVX-512) four codes per 256-bit register, the popcount a nibble lookup (``vpshufb``) summed
by ``vpsadbw``; with AVX-512 VPOPCNTDQ ``vpopcntq``; scalar code uses ``popcnt``. Blocks are
read word by word (:func:`_code_block`) so that those loops load whole vectors.
:func:`knn_scan` returns, per query, the
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
# Range search: result slots shared out among the query blocks of one call, and the most
# one block gets (int32 + int64 + int32 each: 64 MiB and 64 KiB). A block that meets more
# results is searched a second time (see range_scan).
RANGE_SLOTS = 2**22
RANGE_REGION = 4096


# -- distances --------------------------------------------------------------------------------
@numba.njit(inline="always", nogil=True, cache=CACHE, boundscheck=False)
def _transpose(database, start, stop, block):
    """``block[w, j] = database[start + j, w]``: a block of codes word by word.

    The minima pass reads word ``w`` of consecutive codes from contiguous memory, so LLVM
    vectorises it with plain loads (four codes per 256-bit register) instead of the
    shuffles that de-interleave codes of several words (1.1-1.25x faster at 128 to 512
    bits on an AVX2 CPU, see docs/benchmarks.md, "Search at the floor").
    """
    codes = database[start:stop]
    for j in range(stop - start):
        for w in range(database.shape[1]):
            block[w, j] = codes[j, w]


@numba.njit(inline="always", nogil=True, cache=CACHE, boundscheck=False)
def _group_minima(queries, g, block, n, scratch):
    """Smallest distance from each of queries ``g .. g + 3`` to the codes ``block[:, :n]``
    (codes word by word, :func:`_code_block`).

    Four queries share every word loaded (register blocking), and nothing is stored but
    the four running minima. LLVM vectorises the loop over codes: on AVX2 the popcount
    of four 64-bit lanes is a nibble lookup (``vpshufb``) summed by ``vpsadbw``; with
    AVX-512 VPOPCNTDQ it is ``vpopcntq``. Specialised (unrolled over the words of a code)
    for 1, 2, 4 and 8 words; other widths add up each word's distances in ``scratch``
    (``int64 (4, n)``), word by word, so that that loop vectorises too.
    """
    n_words = queries.shape[1]
    m0 = m1 = m2 = m3 = 1 << 30
    if n_words == 1:
        a, b, c, e = queries[g, 0], queries[g + 1, 0], queries[g + 2, 0], queries[g + 3, 0]
        for j in range(n):
            x = block[0, j]
            m0 = min(m0, popcount64(a ^ x))
            m1 = min(m1, popcount64(b ^ x))
            m2 = min(m2, popcount64(c ^ x))
            m3 = min(m3, popcount64(e ^ x))
    elif n_words == 2:
        a0, b0, c0, e0 = queries[g, 0], queries[g + 1, 0], queries[g + 2, 0], queries[g + 3, 0]
        a1, b1, c1, e1 = queries[g, 1], queries[g + 1, 1], queries[g + 2, 1], queries[g + 3, 1]
        for j in range(n):
            x0 = block[0, j]
            x1 = block[1, j]
            m0 = min(m0, popcount64(a0 ^ x0) + popcount64(a1 ^ x1))
            m1 = min(m1, popcount64(b0 ^ x0) + popcount64(b1 ^ x1))
            m2 = min(m2, popcount64(c0 ^ x0) + popcount64(c1 ^ x1))
            m3 = min(m3, popcount64(e0 ^ x0) + popcount64(e1 ^ x1))
    elif n_words == 4 or n_words == 8:
        # A constant trip count: LLVM unrolls the loop over words and vectorises over codes.
        if n_words == 4:
            return _minima_fixed(queries, g, block, n, 4)
        return _minima_fixed(queries, g, block, n, 8)
    else:
        scratch[:, :n] = 0
        for w in range(n_words):
            a, b, c, e = queries[g, w], queries[g + 1, w], queries[g + 2, w], queries[g + 3, w]
            for j in range(n):
                x = block[w, j]
                scratch[0, j] += popcount64(a ^ x)
                scratch[1, j] += popcount64(b ^ x)
                scratch[2, j] += popcount64(c ^ x)
                scratch[3, j] += popcount64(e ^ x)
        for j in range(n):
            m0 = min(m0, scratch[0, j])
            m1 = min(m1, scratch[1, j])
            m2 = min(m2, scratch[2, j])
            m3 = min(m3, scratch[3, j])
    return m0, m1, m2, m3


@numba.njit(inline="always", nogil=True, cache=CACHE, boundscheck=False)
def _minima_fixed(queries, g, block, n, n_words):
    """:func:`_group_minima` for a width known when compiling (``n_words`` a literal)."""
    m0 = m1 = m2 = m3 = 1 << 30
    for j in range(n):
        d0 = d1 = d2 = d3 = 0
        for w in range(n_words):
            x = block[w, j]
            d0 += popcount64(queries[g, w] ^ x)
            d1 += popcount64(queries[g + 1, w] ^ x)
            d2 += popcount64(queries[g + 2, w] ^ x)
            d3 += popcount64(queries[g + 3, w] ^ x)
        m0 = min(m0, d0)
        m1 = min(m1, d1)
        m2 = min(m2, d2)
        m3 = min(m3, d3)
    return m0, m1, m2, m3


@numba.njit(inline="always", nogil=True, cache=CACHE, boundscheck=False)
def _code_block(database, start, stop, block, transpose):
    """The codes ``start .. stop - 1`` word by word, for :func:`_group_minima`.

    One-word codes are already laid out so (a view); wider ones are transposed into
    ``block`` (unless ``transpose`` is False: already done). Either way the result is
    indexed from 0: with a loop index that may be negative as far as LLVM knows
    (``range(start, stop)``), numba's wraparound of negative indices leaves LLVM a gather
    of single words instead of vector loads.
    """
    if database.shape[1] == 1:
        return database[start:stop].reshape((1, stop - start))
    if transpose:
        _transpose(database, start, stop, block)
    return block


@numba.njit(inline="always", nogil=True, cache=CACHE, boundscheck=False)
def _distances_fixed(queries, q, block, n, out, n_words):
    """:func:`_block_distances` for a width known when compiling (``n_words`` a literal)."""
    for j in range(n):
        d = 0
        for w in range(n_words):
            d += popcount64(queries[q, w] ^ block[w, j])
        out[j] = d


@numba.njit(nogil=True, cache=CACHE, boundscheck=False)
def _block_distances(queries, q, block, n, out):
    """``out[j]``: the distance from query ``q`` to code ``j`` of ``block`` (word by word,
    :func:`_code_block`), ``j < n``; vectorised like :func:`_group_minima`."""
    n_words = queries.shape[1]
    if n_words == 1:
        _distances_fixed(queries, q, block, n, out, 1)
    elif n_words == 2:
        _distances_fixed(queries, q, block, n, out, 2)
    elif n_words == 4:
        _distances_fixed(queries, q, block, n, out, 4)
    elif n_words == 8:
        _distances_fixed(queries, q, block, n, out, 8)
    else:
        out[:n] = 0
        for w in range(n_words):
            a = queries[q, w]
            for j in range(n):
                out[j] += popcount64(a ^ block[w, j])


@numba.njit(nogil=True, cache=CACHE, boundscheck=False)
def _block_minima(queries, q_start, width, database, start, stop, words, scratch, minima):
    """``minima[r]``: the smallest distance from query ``q_start + r`` to the codes
    ``start .. stop - 1``, for ``r < width`` (a multiple of ``QUERY_GROUP``).

    Not inlined, on purpose: compiled on its own, the vectorised loops come out the same
    in the serial and the threaded kernels (inlined into the serial kernel's single
    function, LLVM made them about 1.4x slower), and one call covers a block of queries.
    """
    block = _code_block(database, start, stop, words, True)
    for g in range(0, width, QUERY_GROUP):
        m0, m1, m2, m3 = _group_minima(queries, q_start + g, block, stop - start, scratch)
        minima[g] = m0
        minima[g + 1] = m1
        minima[g + 2] = m2
        minima[g + 3] = m3


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
def _select(distances, start, n, buf_d, buf_i, size, limit, k, histogram):
    """Append codes ``start .. start + n - 1`` (at ``distances[:n]``) with ``d <= limit``
    to a query's buffer.

    Compacts (by counting) whenever the buffer fills. Returns the new ``(size, limit)``.
    """
    capacity = buf_d.shape[0]
    for j in range(n):
        d = distances[j]
        if d <= limit:
            buf_d[size] = d
            buf_i[size] = start + j
            size += 1
            if size == capacity:
                limit = _compact(buf_d, buf_i, size, k, histogram) - 1
                size = k
                if limit < 0:
                    break  # k codes at distance 0: nothing can enter any more
    return size, limit


def _knn_scan_py(queries, database, k, n_bits):
    n_queries = queries.shape[0]
    n, n_words = database.shape
    out_d = np.empty((n_queries, k), dtype=np.int32)
    out_i = np.empty((n_queries, k), dtype=np.int64)
    capacity = 2 * k + 64
    n_blocks = (n_queries + QUERY_BLOCK - 1) // QUERY_BLOCK
    code_block = max(64, CODE_BLOCK // n_words)
    for block in prange(n_blocks):
        q_start = block * QUERY_BLOCK
        width = min(QUERY_BLOCK, n_queries - q_start)
        buf_d = np.empty((width, capacity), dtype=np.int32)
        buf_i = np.empty((width, capacity), dtype=np.int64)
        sizes = np.zeros(width, dtype=np.int64)
        limits = np.full(width, n_bits, dtype=np.int64)
        histogram = np.empty(n_bits + 1, dtype=np.int64)
        words = np.empty((n_words, code_block), dtype=np.uint64)
        scratch = np.empty((QUERY_GROUP, code_block), dtype=np.int64)
        minima = np.empty(width, dtype=np.int64)
        distances = np.empty(code_block, dtype=np.int64)
        for c_start in range(0, n, code_block):
            c_stop = min(c_start + code_block, n)
            _block_minima(
                queries, q_start, width, database, c_start, c_stop, words, scratch, minima
            )
            for r in range(width):
                # The usual case once the limit has dropped: nothing in this block.
                if minima[r] <= limits[r]:
                    n_codes = c_stop - c_start
                    codes = _code_block(database, c_start, c_stop, words, False)
                    _block_distances(queries, q_start + r, codes, n_codes, distances)
                    sizes[r], limits[r] = _select(
                        distances,
                        c_start,
                        n_codes,
                        buf_d[r],
                        buf_i[r],
                        sizes[r],
                        limits[r],
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
@numba.njit(inline="always", nogil=True, cache=CACHE, boundscheck=False)
def _range_block(distances, radius, start, n, q, histogram, sink, slot, fill):
    """Every code ``start .. start + n - 1`` (at ``distances[:n]``) within ``radius`` of
    query ``q``, in id order.

    Counts each in ``histogram[d]``. ``fill=False``: appends ``(d, id, q)`` to the
    block's region of ``sink`` at ``slot`` while it fits (the slot counter runs on past
    the region's end, which marks an overflow). ``fill=True``: writes each result at
    its final place ``histogram[d]`` (prefix sums, see :func:`range_scan`) and advances
    it. Returns the new slot.
    """
    out_d, out_i, out_q, region_end = sink
    for j in range(n):
        d = distances[j]
        if d <= radius:
            if fill:
                position = histogram[d]
                out_d[position] = d
                out_i[position] = start + j
                histogram[d] = position + 1
            else:
                histogram[d] += 1
                if slot < region_end:
                    out_d[slot] = d
                    out_i[slot] = start + j
                    out_q[slot] = q
                slot += 1
    return slot


def _range_pass_py(queries, n_real, database, radius, histograms, out_d, out_i, out_q, region):
    """One pass of :func:`range_scan` over the database (queries from ``n_real`` on are
    padding).

    ``region > 0`` (collect): query block ``b`` appends its results ``(d, id, query)``, in
    the order met, to ``out[b * region:(b + 1) * region]`` and counts them in
    ``histograms[q, d]``; the number it met is returned in ``slots[b]`` (more than
    ``region``: it overflowed, and wrote only the first ``region``). ``region == 0``
    (fill): each result goes straight to ``out[histograms[q, d]]``, which then advances
    (a counting sort by distance; codes are visited in id order, so ids ascend within a
    distance).
    """
    n_queries = queries.shape[0]
    n, n_words = database.shape
    n_blocks = (n_queries + QUERY_BLOCK - 1) // QUERY_BLOCK
    code_block = max(64, CODE_BLOCK // n_words)
    fill = region == 0
    slots = np.zeros(n_blocks, dtype=np.int64)
    for block in prange(n_blocks):
        q_start = block * QUERY_BLOCK
        width = min(QUERY_BLOCK, n_queries - q_start)
        words = np.empty((n_words, code_block), dtype=np.uint64)
        scratch = np.empty((QUERY_GROUP, code_block), dtype=np.int64)
        minima = np.empty(width, dtype=np.int64)
        distances = np.empty(code_block, dtype=np.int64)
        slot = block * region
        sink = (out_d, out_i, out_q, slot + region)
        for c_start in range(0, n, code_block):
            c_stop = min(c_start + code_block, n)
            _block_minima(
                queries, q_start, width, database, c_start, c_stop, words, scratch, minima
            )
            for r in range(width):
                q = q_start + r
                if minima[r] <= radius and q < n_real:
                    n_codes = c_stop - c_start
                    codes = _code_block(database, c_start, c_stop, words, False)
                    _block_distances(queries, q, codes, n_codes, distances)
                    slot = _range_block(
                        distances, radius, c_start, n_codes, q, histograms[q], sink, slot, fill
                    )
        slots[block] = slot - block * region
    return slots


_range_pass = compile_both(_range_pass_py)


def _scatter_py(slots, region, out_d, out_i, out_q, positions, final_d, final_i):
    """Move each collected region that did not overflow to its final places.

    A region holds each of its queries' results in id order; ``positions[q, d]`` is where
    query ``q``'s next result at distance ``d`` goes, so the move is a stable counting
    sort by distance. Regions of different blocks hold different queries: no conflicts.
    """
    for block in prange(slots.shape[0]):
        if slots[block] > region:
            continue
        for p in range(block * region, block * region + slots[block]):
            q = out_q[p]
            d = out_d[p]
            position = positions[q, d]
            final_d[position] = d
            final_i[position] = out_i[p]
            positions[q, d] = position + 1


_scatter = compile_both(_scatter_py)


def _region_size(n_blocks: int) -> int:
    """Results each query block may collect in one pass (see :func:`range_scan`)."""
    return int(min(RANGE_REGION, max(QUERY_BLOCK * 8, RANGE_SLOTS // n_blocks)))


class ResultBudgetExceeded(Exception):
    """Raised by :func:`range_scan` when the results counted exceed ``max_results``.

    ``lims`` holds the counted CSR offsets (nothing else was allocated).
    """

    def __init__(self, lims: np.ndarray) -> None:
        super().__init__(f"{int(lims[-1])} results")
        self.lims = lims


def range_scan(
    queries: np.ndarray, database: np.ndarray, radius: int, max_results: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every ``(query, code)`` pair within ``radius``, in CSR layout sorted by ``(d, id)``.

    **One pass** over the database, skipping blocks whose smallest distance to a query
    exceeds ``radius`` (see :func:`knn_scan`). Each block of ``QUERY_BLOCK`` queries
    collects its results, in the order met, in a region of its own (``RANGE_SLOTS``
    slots shared out, at most ``RANGE_REGION`` per block) and counts them per query and
    distance. From the counts come the output offsets, and a stable counting sort moves
    each region to its final places: ``(distance, id)`` order. A block that met more
    results than its region holds is searched again, alone, writing each result at its
    final place (its counts are known by then). Sparse results therefore cost one pass
    (faiss's ``IndexBinaryFlat`` range search also makes one); dense ones two, with
    memory about the output.

    The results are counted before the output is allocated: with ``max_results``, a
    search that would return more raises :class:`ResultBudgetExceeded` having held only
    the regions (at most ``RANGE_SLOTS`` results and ``QUERY_BLOCK * RANGE_REGION`` more)
    and the counts, so a budget needs no splitting of the queries.

    Returns
    -------
    lims : int64 (n_queries + 1,)
    distances : int32 (lims[-1],)
    indices : int64 (lims[-1],)
    """
    n_queries = queries.shape[0]
    padded = _pad_queries(queries)
    n_blocks = -(-padded.shape[0] // QUERY_BLOCK)
    region = _region_size(n_blocks)
    histograms = np.zeros((padded.shape[0], radius + 1), dtype=np.int64)
    out_d = np.empty(n_blocks * region, dtype=np.int32)
    out_i = np.empty(n_blocks * region, dtype=np.int64)
    out_q = np.empty(n_blocks * region, dtype=np.int32)
    work = padded.shape[0] * database.shape[0] * database.shape[1]
    range_pass = pick(_range_pass, work)
    slots = range_pass(padded, n_queries, database, radius, histograms, out_d, out_i, out_q, region)
    histograms = histograms[:n_queries]
    lims = np.zeros(n_queries + 1, dtype=np.int64)
    np.cumsum(histograms.sum(axis=1), out=lims[1:])
    if max_results is not None and lims[-1] > max_results:
        raise ResultBudgetExceeded(lims)
    # positions[q, d]: where query q's first result at distance d goes.
    positions = np.cumsum(histograms, axis=1) - histograms + lims[:-1, None]
    final_d = np.empty(int(lims[-1]), dtype=np.int32)
    final_i = np.empty(int(lims[-1]), dtype=np.int64)
    # Moving a result costs about as much as comparing 16 code words.
    scatter = pick(_scatter, 16 * int(lims[-1]))
    scatter(slots, region, out_d, out_i, out_q, positions, final_d, final_i)
    overflowed = np.flatnonzero(slots > region)
    if overflowed.size:
        rows = (overflowed[:, None] * QUERY_BLOCK + np.arange(QUERY_BLOCK)).ravel()
        rows = rows[rows < n_queries]
        again = _pad_queries(queries[rows])
        where = np.zeros((again.shape[0], radius + 1), dtype=np.int64)
        where[: rows.shape[0]] = positions[rows]
        nothing = np.empty(0, dtype=np.int32)
        pick(_range_pass, again.shape[0] * database.shape[0] * database.shape[1])(
            again, rows.shape[0], database, radius, where, final_d, final_i, nothing, 0
        )
    return lims, final_d, final_i

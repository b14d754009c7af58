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
Built and searched in :mod:`hashlearn.index._kernels.mih` (where the constants named here
are defined). Each table is CSR: the ids sorted by ``(substring value, id)``, the distinct
values (``bucket keys``) in ascending order and the offsets of their buckets. Substrings short
enough (``2**length`` at most ``DIRECT_SLOTS_PER_CODE`` times the number of codes)
also get a succinct direct-address index: a bitmap of the occupied values with, every 64
values, the number of occupied values below; a value's bucket number is that count plus
a popcount in its 64-bit word (16 bytes per 64 values, so a 22-bit table's index is 1
MiB and stays in cache). Keys are looked up in batches of ``_BATCH`` masks, every
lookup of a batch first, then the buckets found, so that their cache misses overlap. A
ring whose ``C(length, s)`` masks outnumber the table's distinct keys is found by
comparing every key instead (the same buckets). With at most ``COPY_MAX_FACTOR``
substrings, each table also keeps a copy of the codes in bucket order: a bucket is
verified by reading contiguous memory, and skipped after one pass over its codes when
none of them can enter the results.

Falling back to the scan
------------------------
Multi-index hashing never costs much more than the blocked linear scan of
:mod:`hashlearn.index._kernels.scan`, which it falls back to. Each query counts its work
(codes verified, keys looked up, bucket keys compared) in units that a measured cost model
relates to the scan's (one unit, 4-9 ns, costs about as much as comparing 16 code words in
the scan, 0.3 ns per 64-bit code; without per-table copies of the codes, a mapped folder or
more than ``COPY_MAX_FACTOR`` substrings, a candidate is a cache miss and the budget in units
is 5 times smaller); its *budget* is what scanning would cost it: ``(ntotal *
n_words + k ln(ntotal / k) * CODE_BLOCK) / 16`` units for k-NN (the second term: the scan's
re-reads of blocks that hold a new k-th best code), ``ntotal * n_words / 16`` for range
search (checked in its count pass; its fill pass repeats the probes of the queries that
finished, so a finished range query costs twice its count). A query that spends its budget
stops and is answered by the scan, so it costs at most about twice the scan. *Per batch*:
with 64 queries or more, up to 32 evenly spaced ones (one in 8 at most) are probed first, 4
at a time (on the index's threads when they may be costly), and their mean cost (their work;
for one that fell back, its work plus its scan) decides for the others: probed when it is
below the scan's cost divided by 1.25, else all sent to the scan in one call, without
probing. A range search whose rings alone (their key lookups, known from the table sizes
before any probe) cost more than the budget goes to the scan directly. Results are exact
either way. Where the crossover lies, and the cost when the scan is chosen (the pilot's few
queries), is measured in ``docs/benchmarks.md`` ("Search at the floor").

Kernels
-------
The tables and the numba kernels that build and search them live in
:mod:`hashlearn.index._kernels.mih` (pure functions, tested against numpy and brute-force
references); this module chooses the layout, runs the kernels and falls back to the scan.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np

from hashlearn._numba import check_n_threads, thread_count, threads
from hashlearn._registry import register
from hashlearn._validation import check_radius
from hashlearn.codes import as_words
from hashlearn.index._base import BinaryIndex
from hashlearn.index._kernels import mih
from hashlearn.index._kernels.scan import (
    CODE_BLOCK,
    QUERY_BLOCK,
    ResultBudgetExceeded,
    knn_scan,
    range_scan,
)
from hashlearn.index.hash_table import ProbeStatistics

__all__ = [
    "MIH",
    "MultiIndexHashing",
    "recommended_n_tables",
    "substring_layout",
    "substring_radii",
]

# The cost model. Work is counted in units (hashlearn.index._kernels.mih: a candidate
# verified or a bucket key compared is 1, a key looked up PROBE_COST); one unit costs about
# as much as comparing 1 / _FALLBACK_WORK_PER_CODE code words in the blocked scan (measured
# 4-9 ns per unit against 0.3 ns per 64-bit code, one thread, 64-bit CIFAR-10 GIST and
# uniform codes, N = 59,000 and 10^6; docs/benchmarks.md, "Search at the floor"). A k-NN
# scan also re-reads a block of codes (CODE_BLOCK words) whenever a code enters a query's
# k best, about k ln(N / k) times. So a query's scan costs about
# ``_FALLBACK_WORK_PER_CODE * (ntotal * n_words + k ln(ntotal / k) CODE_BLOCK)`` units (no
# k term for range search): that is its budget (at least _FALLBACK_MIN_WORK, so that small
# indexes still probe). A query that spends it stops and is answered by the scan: it then
# cost at most about twice the scan.
_FALLBACK_WORK_PER_CODE = 1 / 16
_FALLBACK_MIN_WORK = 256
# Without per-table copies of the codes (a mapped index folder, or more than
# COPY_MAX_FACTOR substrings) a candidate's code is read by id, a cache miss: measured 20-33
# ns per candidate against 4.5 with the copies (clustered codes, 2 x 10^6 at 64 bits and
# 10^6 at 256 bits, every query probed, 2 threads). The budget, in units, shrinks by this
# factor, so such tables fall back to the scan where their probes would cost more than it.
_NO_COPY_UNIT_FACTOR = 5
# With at least 2 * _PILOT_QUERIES queries, up to _PILOT_QUERIES evenly spaced ones (and
# at most one in _PILOT_SHARE of the batch) go first, _PILOT_STEP at a time, and their
# mean cost (work, plus the budget again for one that fell back, whose scan is still to
# come) decides for the others: probe them when it is below the scan's cost divided by
# _PILOT_MARGIN (near the crossover the scan is the safer bet: its cost is known), scan
# them all otherwise. The decision is taken after any step once the mean is _PILOT_CLEAR
# times above or below that threshold.
_PILOT_QUERIES = 32
_PILOT_SHARE = 8
_PILOT_STEP = 4
# A pilot step runs on the calling thread unless its queries may cost more than this many
# units each: waking the pool costs more than a few cheap queries on a busy machine, but
# a pilot of expensive ones on one of two cores left range searches of 10^6 LSH codes
# (batches of 100 queries, see BinaryIndex.range_search's result budget) at 0.75x the scan.
_PILOT_THREADED_WORK = 2**14
_PILOT_MARGIN = 1.25
_PILOT_CLEAR = 1.5


# -- layout ---------------------------------------------------------------------------------
def substring_layout(n_bits: int, n_tables: int) -> tuple[np.ndarray, np.ndarray]:
    """Where each substring starts and how long it is: ``m`` nearly equal parts.

    ``n_bits = q m + e`` with ``0 <= e < m``: the first ``e`` substrings have ``q + 1``
    bits and the others ``q``; substring ``i`` covers bits ``starts[i] ..
    starts[i] + lengths[i] - 1``.

    Returns
    -------
    starts, lengths : ndarray of int64, shape (n_tables,)

    Examples
    --------
    >>> substring_layout(13, 3)
    (array([0, 5, 9]), array([5, 4, 4]))
    """
    base, extra = divmod(n_bits, n_tables)
    lengths = np.full(n_tables, base, dtype=np.int64)
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


def recommended_n_tables(n_bits: int, n_codes: int) -> int:
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
    >>> recommended_n_tables(64, 10**6), recommended_n_tables(128, 10**6)
    (4, 7)
    """
    ratio = n_bits / math.log2(max(n_codes, 2))
    return int(min(max(math.ceil(ratio - 1e-9), -(-n_bits // 64), 1), n_bits))


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
    n_tables : int or None, default=None
        The number ``m`` of substrings (one table each), in ``[ceil(n_bits / 64), n_bits]``
        (a substring is a 64-bit key at most). ``None`` follows the paper, substrings of
        about ``log2(ntotal)`` bits: ``m = ceil(n_bits / log2(ntotal))``
        (:func:`recommended_n_tables`), chosen again whenever the tables are rebuilt,
        so it follows the database's size.
    n_threads : int or None, default=None
        Threads used by a search (queries are split across them); ``None`` or ``-1``
        use numba's whole pool.
    hasher : hasher, optional
        The hasher that produced the codes; enables :meth:`add_vectors` /
        :meth:`search_vectors` and is saved with the index.

    Attributes
    ----------
    ntotal : int
        Number of stored codes.
    codes : ndarray of uint8, shape (ntotal, ceil(n_bits / 8))
        The stored codes (read-only view).
    n_tables_ : int
        The number of substrings (tables) the next search uses (``n_tables``, or the
        recommendation for the current ``ntotal``).
    bits_per_table_ : ndarray of int64, shape (n_tables_,)
        The lengths in bits of their substrings, i.e. of each table's keys (longer ones
        first, differing by at most one).
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
    ``n_tables=None`` chooses ``m`` again. Memory per stored code is ``4 m`` bytes
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
    verified per query. On *uniform random* codes no index beats the scan at k-NN: the
    ``k``-th neighbour is far (15 bits for k=10 among 10**6 codes of 64 bits), so each of
    the 4 tables of 16-bit substrings must be probed to radius 3, a ball holding 1% of the
    database (about 42,000 candidates per query against a scan that costs about as
    much as 20,000 random reads). **It falls back to the scan**: a query whose work
    passes what its scan would cost stops and is answered by the blocked linear scan
    (``last_stats_.scanned``), and a batch whose first few queries (a pilot of at most
    32) cost more on average than scanning goes to the scan as a whole, so such batches
    cost about what the scan costs (module docstring; measured crossover in
    ``docs/benchmarks.md``, "Search at the floor").

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
    >>> index = MultiIndexHashing(n_bits=6, n_tables=2).add(database)
    >>> index.bits_per_table_
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

    _folder_support = True

    def __init__(
        self,
        n_bits: int,
        *,
        n_tables: int | None = None,
        n_threads: int | None = None,
        hasher: Any = None,
    ) -> None:
        super().__init__(n_bits, hasher=hasher)
        self.n_tables = self._check_n_tables(n_tables)
        self.n_threads = check_n_threads(n_threads)
        self._tables: mih.Tables | None = None
        self.last_stats_: ProbeStatistics | None = None

    def _check_n_tables(self, n_tables: Any) -> int | None:
        if n_tables is None:
            return None
        low = -(-self._n_bits // 64)
        if isinstance(n_tables, bool) or not isinstance(n_tables, (int, np.integer)):
            raise TypeError(
                f"n_tables must be None or an int in [{low}, {self._n_bits}], got {n_tables!r}"
            )
        if not low <= n_tables <= self._n_bits:
            raise ValueError(
                f"n_tables must be in [{low}, {self._n_bits}] for n_bits={self._n_bits} "
                "(at least 1 bit and at most 64 bits per substring), "
                f"got {int(n_tables)}"
            )
        return int(n_tables)

    def __repr__(self) -> str:
        return (
            f"MultiIndexHashing(n_bits={self._n_bits}, n_tables={self.n_tables}, "
            f"ntotal={self.ntotal})"
        )

    # -- tables ------------------------------------------------------------------------
    @property
    def n_tables_(self) -> int:
        """Substrings (tables) the next search uses."""
        if self.n_tables is not None:
            return self.n_tables
        return recommended_n_tables(self._n_bits, self.ntotal)

    @property
    def bits_per_table_(self) -> np.ndarray:
        """Lengths in bits of the substrings (table keys) the next search uses."""
        return substring_layout(self._n_bits, self.n_tables_)[1]

    def probe_radii(self, radius: int) -> np.ndarray:
        """Radius probed in each substring's table by a range search of ``radius``.

        ``sum_i (a_i + 1) = radius + 1``, the larger radii on the longer substrings
        (:func:`substring_radii`); ``-1`` means the table is not probed.

        Returns
        -------
        ndarray of int64, shape (n_tables_,)
        """
        radius = min(check_radius(radius), self._n_bits)
        return substring_radii(self.bits_per_table_, radius)

    def _storage_width(self) -> int:
        return 8 * ((self._n_bytes + 7) // 8)

    def _database_words(self) -> np.ndarray:
        return self._store.view().view(np.uint64)

    def _current_tables(self) -> mih.Tables:
        """The tables for the stored codes, (re)built when codes were added since."""
        tables = self._tables
        if tables is None or tables.ids.shape[1] != self.ntotal:
            starts, lengths = substring_layout(self._n_bits, self.n_tables_)
            tables = mih.build_tables(self._database_words(), starts, lengths)
            self._tables = tables
        return tables

    def _threads_for(self, n_queries: int) -> int:
        """Threads for a batch: queries are split across threads, so at most one each."""
        return min(thread_count(self.n_threads), n_queries)

    def _budget(self, k: int = 0) -> int:
        """Work units a query may spend before it falls back to the scan: about what
        scanning costs it, for a k-NN search of ``k`` (0: a range search); see the cost
        model at the top of this module."""
        words = float(self.ntotal * (self._storage_width() // 8))
        if k:
            words += k * math.log(max(self.ntotal / k, 1.0)) * CODE_BLOCK
        units = _FALLBACK_WORK_PER_CODE * words
        if self._tables is not None and not self._tables.copy:
            units /= _NO_COPY_UNIT_FACTOR
        return int(max(_FALLBACK_MIN_WORK, units))

    def _search_record(
        self, mode: int, queries: np.ndarray, out_keys: Any = None, budget: int = mih.NO_LIMIT
    ) -> mih.Search:
        """What a kernel call asks (see :class:`hashlearn.index._kernels.mih.Search`)."""
        return mih.Search(
            mode=mode,
            queries=queries,
            database=self._database_words()[None],
            out_keys=np.empty(0, dtype=np.int64) if out_keys is None else out_keys,
            budget=budget,
            probe_cost=mih.PROBE_COST,
        )

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
        candidates = states["candidates"].copy()
        candidates[scanned] += self.ntotal
        self.last_stats_ = ProbeStatistics(
            radius=radius.astype(np.int32),
            buckets_probed=states["probed"] + states["scanned"],
            buckets_hit=states["hit"].copy(),
            candidates=candidates,
            scanned=scanned,
        )

    # -- search ------------------------------------------------------------------------
    def _search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        tables = self._current_tables()
        query_words = as_words(queries)
        n_queries = queries.shape[0]
        kk = min(k, self.ntotal)
        distances = np.empty((n_queries, kk), dtype=np.int32)
        indices = np.empty((n_queries, kk), dtype=np.int64)
        search = self._search_record(mih.MODE_KNN, query_words, budget=self._budget(kk))

        def probe(active: np.ndarray) -> np.ndarray:
            states = np.zeros(active.shape[0], dtype=mih.STATE)
            found_d, found_i = mih.knn_kernel(search, tables, active, states, kk, self._n_bits)
            distances[active], indices[active] = found_d, found_i
            return states

        with threads(self._threads_for(n_queries)):
            states = self._probe_with_pilot(n_queries, probe, search.budget)
            failed = states["failed"].astype(bool)
            if failed.any():
                with _scan_threads(int(failed.sum()), self.n_threads):
                    scan_d, scan_i = knn_scan(
                        query_words[failed], self._database_words(), kk, self._n_bits
                    )
                distances[failed], indices[failed] = scan_d, scan_i
        radius = np.where(failed, self._n_bits, states["radius"])
        self._record(states, radius, failed)
        return distances, indices

    def _probe_with_pilot(
        self,
        n_queries: int,
        probe: Callable[[np.ndarray], np.ndarray],
        scan_cost: int,
        passes: int = 1,
    ) -> np.ndarray:
        """Per-query states of ``probe`` run on every query, or on a pilot sample only.

        With many queries, up to :data:`_PILOT_QUERIES` evenly spaced ones (one in
        :data:`_PILOT_SHARE` at most) are probed first, :data:`_PILOT_STEP` at a time, and
        their mean cost in work units decides for the others: a query that finished costs
        ``passes`` times its work (a range search probes twice: count, then fill), one that
        ran out of budget its work plus its scan (``scan_cost``, :meth:`_budget`). The
        others are probed when that mean is below the scan's cost (divided by
        :data:`_PILOT_MARGIN`), and otherwise marked failed without being probed (they go to
        the scan, with the pilot's failed queries, in one call). Uniform random codes, say,
        are sent to the scan after the first step: the waste is at most ``_PILOT_STEP``
        budgets, the scan of that many queries.
        """
        threshold = scan_cost / _PILOT_MARGIN
        states = np.zeros(n_queries, dtype=mih.STATE)
        if n_queries < 2 * _PILOT_QUERIES:
            states[:] = probe(np.arange(n_queries, dtype=np.int64))
            return states
        size = min(_PILOT_QUERIES, n_queries // _PILOT_SHARE)
        pilot = np.unique(np.linspace(0, n_queries - 1, size).astype(np.int64))
        total = 0.0
        done = 0
        mean = 0.0
        with threads(1 if scan_cost < _PILOT_THREADED_WORK else self._threads_for(_PILOT_STEP)):
            for start in range(0, pilot.shape[0], _PILOT_STEP):
                rows = pilot[start : start + _PILOT_STEP]
                found = probe(rows)
                states[rows] = found
                work = found["candidates"] + mih.PROBE_COST * found["probed"] + found["scanned"]
                failed = found["failed"].astype(bool)
                total += float(np.where(failed, work + scan_cost, passes * work).sum())
                done += rows.shape[0]
                mean = total / done
                if not threshold / _PILOT_CLEAR < mean < threshold * _PILOT_CLEAR:
                    break
        rest = np.setdiff1d(np.arange(n_queries, dtype=np.int64), pilot[:done])
        if mean < threshold:
            states[rest] = probe(rest)
        else:
            states["failed"][rest] = 1
        return states

    def _budgeted_range_search(
        self, queries: np.ndarray, radius: int, budget: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # The count pass and the fallback scan count every query's results before any is
        # written: one call for every query, refused before the output is allocated
        # (blocks of budget // ntotal queries would be one query per call from 10^8 codes).
        try:
            return self._range_search(queries, radius, budget)
        except ResultBudgetExceeded as exc:
            raise self._counted_past_budget(radius, budget, exc.lims) from None

    def _range_search(
        self, queries: np.ndarray, radius: int, budget: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tables = self._current_tables()
        query_words = as_words(queries)
        n_queries = queries.shape[0]
        target = substring_radii(tables.lengths, radius)
        ring_work = sum(
            mih.ring_cost(tables, i, s)
            for i in range(tables.starts.shape[0])
            for s in range(target[i] + 1)
        )
        # The count pass gets the whole budget: a query stopped at half of it (its fill
        # pass would cost the other half) was measured to fall back more often than it
        # saved (LSH codes, 10^6, r = 12: 0.8x the scan, against 1.5x probing them all).
        scan_cost = self._budget()
        count = self._search_record(mih.MODE_COUNT, query_words, budget=scan_cost)
        no_lims = np.zeros(1, dtype=np.int64)

        def probe(active: np.ndarray) -> np.ndarray:
            states = np.zeros(active.shape[0], dtype=mih.STATE)
            mih.range_kernel(count, tables, active, states, target, radius, no_lims)
            return states

        with threads(self._threads_for(n_queries)):
            if ring_work > count.budget:  # the probes alone cost more than a scan: skip them
                states = np.zeros(n_queries, dtype=mih.STATE)
                states["failed"] = 1
            else:
                states = self._probe_with_pilot(n_queries, probe, scan_cost, passes=2)
            failed = states["failed"].astype(bool)
            found = np.flatnonzero(~failed)
            counts = np.zeros(n_queries, dtype=np.int64)
            counts[found] = states["size"][found]
            left = None if budget is None else budget - int(counts.sum())
            if left is not None and left < 0:
                raise ResultBudgetExceeded(_offsets(counts))
            scan = (np.zeros(1, dtype=np.int64), np.empty(0, np.int32), np.empty(0, np.int64))
            if failed.any():
                with _scan_threads(int(failed.sum()), self.n_threads):
                    try:
                        scan = range_scan(
                            query_words[failed], self._database_words(), radius, max_results=left
                        )
                    except ResultBudgetExceeded as exc:
                        counts[failed] = np.diff(exc.lims)
                        raise ResultBudgetExceeded(_offsets(counts)) from None
                counts[failed] = np.diff(scan[0])
            keys = self._range_fill(query_words, tables, found, counts[found], target, radius)
        lims = _offsets(counts)
        distances = np.empty(int(lims[-1]), dtype=np.int32)
        indices = np.empty(int(lims[-1]), dtype=np.int64)
        # Place each group's CSR pieces at their queries' positions.
        if found.size:
            where = _segment_positions(lims, found)
            distances[where] = keys // self.ntotal
            indices[where] = keys % self.ntotal
        if failed.any():
            where = _segment_positions(lims, np.flatnonzero(failed))
            distances[where] = scan[1]
            indices[where] = scan[2]
        self._record(states, np.full(n_queries, radius), failed)
        return lims, distances, indices

    def _range_fill(
        self,
        query_words: np.ndarray,
        tables: mih.Tables,
        found: np.ndarray,
        counts: np.ndarray,
        target: np.ndarray,
        radius: int,
    ) -> np.ndarray:
        """Combined keys ``d * ntotal + id`` of the results of the queries ``found``
        (``counts`` of each, from the count pass), concatenated and sorted per query."""
        if not found.size:
            return np.empty(0, dtype=np.int64)
        lims = np.zeros(found.size + 1, dtype=np.int64)
        np.cumsum(counts, out=lims[1:])
        keys = np.empty(int(lims[-1]), dtype=np.int64)
        fill = self._search_record(mih.MODE_FILL, query_words, keys)
        states = np.zeros(found.size, dtype=mih.STATE)
        mih.range_kernel(fill, tables, found, states, target, radius, lims)
        return keys

    # -- persistence ---------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, np.ndarray]]:
        params, attributes, arrays = super()._get_state()
        params["n_tables"] = self.n_tables
        params["n_threads"] = self.n_threads
        return params, attributes, arrays

    def _folder_params(self) -> dict[str, Any]:
        # The number of tables the folder holds, resolved: the default depends on ntotal.
        return {**super()._folder_params(), "n_tables": self.n_tables_, "n_threads": self.n_threads}

    def _folder_arrays(self) -> dict[str, np.ndarray]:
        if self.ntotal:
            tables = self._current_tables()
            return folder_table_arrays(
                tables.ids,
                tables.bucket_keys,
                tables.bucket_offsets,
                tables.n_buckets,
                tables.occupancy,
            )
        m = self.n_tables_
        return folder_table_arrays(
            np.zeros((m, 0), dtype=np.int32),
            np.zeros((m, 0), dtype=np.uint64),
            np.zeros((m, 1), dtype=np.int64),
            np.zeros(m, dtype=np.int64),
            np.zeros((m, 0, 2), dtype=np.uint64),
        )

    def _open_folder(self, codes: np.ndarray, arrays: dict[str, np.ndarray], folder: Path) -> None:
        try:
            ids, keys, offsets, n_buckets, occupancy = (arrays[name] for name in TABLE_ARRAYS)
        except KeyError as exc:
            raise ValueError(f"the table array {exc} is missing") from exc
        n = codes.shape[0]
        starts, lengths = substring_layout(self._n_bits, self.n_tables_)
        problem = _table_shape_problem(ids, keys, offsets, n_buckets, occupancy, n, lengths)
        if problem:
            raise ValueError(problem)
        super()._open_folder(codes, arrays, folder)
        self._tables = None
        if not n:
            return
        # Read into memory: per-table copies of the codes in bucket order make verifying a
        # bucket a contiguous read (see Tables). Mapped: the codes are read by id instead,
        # so the folder holds the codes once.
        copy = not isinstance(codes, np.memmap) and lengths.shape[0] <= mih.COPY_MAX_FACTOR
        self._tables = mih.assemble_tables(
            self._database_words(),
            ids,
            starts,
            lengths,
            (keys, offsets, n_buckets, occupancy),
            copy=copy,
        )


def _offsets(counts: np.ndarray) -> np.ndarray:
    """CSR offsets of per-query result counts (0 where a query was not counted)."""
    lims = np.zeros(counts.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=lims[1:])
    return lims


def _scan_threads(n_queries: int, n_threads: int | None) -> AbstractContextManager[int]:
    """Threads for a fallback scan of ``n_queries``: the scan gives each thread a block of
    ``QUERY_BLOCK`` queries, and waking idle threads costs time on a busy machine."""
    blocks = -(-n_queries // QUERY_BLOCK)
    return threads(min(blocks, thread_count(n_threads)))


TABLE_ARRAYS = (
    "mih_ids",
    "mih_bucket_keys",
    "mih_bucket_offsets",
    "mih_n_buckets",
    "mih_occupancy",
)


def folder_table_arrays(
    ids: np.ndarray,
    keys: np.ndarray,
    offsets: np.ndarray,
    n_buckets: np.ndarray,
    occupancy: np.ndarray,
) -> dict[str, np.ndarray]:
    """The substring tables as the arrays of an index folder (no per-table code copies)."""
    return dict(zip(TABLE_ARRAYS, (ids, keys, offsets, n_buckets, occupancy), strict=True))


def _table_shape_problem(
    ids: np.ndarray,
    keys: np.ndarray,
    offsets: np.ndarray,
    n_buckets: np.ndarray,
    occupancy: np.ndarray,
    n: int,
    lengths: np.ndarray,
) -> str | None:
    """What is wrong with the dtypes or shapes of folder tables for ``n`` codes, or None.

    Only what can be checked without reading the arrays: a mapped index of 10^9 codes
    opens in milliseconds.
    """
    m = lengths.shape[0]
    if ids.dtype not in (np.int32, np.int64) or (n >= 2**31 and ids.dtype != np.int64):
        return f"mih_ids.npy holds {ids.dtype}, not int32 (int64 from 2**31 codes)"
    if keys.dtype != np.uint64 or offsets.dtype != np.int64 or n_buckets.dtype != np.int64:
        return "the bucket arrays have the wrong dtypes"
    if occupancy.dtype != np.uint64:
        return "mih_occupancy.npy does not hold uint64"
    if ids.shape != (m, n):
        return f"mih_ids.npy has shape {ids.shape}, expected {(m, n)} ({m} tables of {n} codes)"
    width = keys.shape[1] if keys.ndim == 2 else -1
    if keys.shape != (m, width) or offsets.shape != (m, width + 1) or n_buckets.shape != (m,):
        return "the bucket arrays have inconsistent shapes"
    blocks = max(1, 2 ** int(lengths.max()) // 64)
    if occupancy.ndim != 3 or occupancy.shape[0] != m or occupancy.shape[1] not in (0, blocks):
        return f"mih_occupancy.npy has shape {occupancy.shape}"
    return None


def _segment_positions(lims: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Output positions of the CSR segments of ``rows`` (ascending), concatenated."""
    starts = lims[rows]
    sizes = lims[rows + 1] - starts
    offsets = np.cumsum(sizes) - sizes
    return np.arange(int(sizes.sum()), dtype=np.int64) + np.repeat(starts - offsets, sizes)


MIH = MultiIndexHashing
"""Short name of :class:`MultiIndexHashing`."""

"""Several hash tables keyed by sub-codes, OR-ed together: the classic LSH index.

Structure
---------
The index keeps ``L`` hash tables. Table ``t`` is keyed by ``K_t <= 64`` bit positions
``P_t = (p_0, ..., p_{K_t - 1})`` of the stored ``n_bits``-bit code, its *bit group*::

    key_t(x) = sum_j x[p_j] * 2**j        (bit p_j of the code is bit j of the key)

(:func:`table_keys`). Each table is a CSR bucket table like
:class:`~hashlearn.index.HashTableIndex`'s, and the ``L`` tables share four flat arrays:
table ``t`` owns buckets ``table_offsets_[t] .. table_offsets_[t + 1] - 1``, whose keys
``bucket_keys_`` ascend within the table; bucket ``b`` holds the ids
``bucket_ids_[bucket_offsets_[b]:bucket_offsets_[b + 1]]``, ascending.

Bit groups (``tables=``): ``"disjoint"``, ``L`` consecutive groups of ``K`` bits (table
``t`` reads bits ``t K .. t K + K - 1``); ``"random"``, ``K`` distinct positions drawn per
table with ``random_state`` (groups may overlap; with the same seed, the first ``L``
tables of a larger index are the same); or explicit position arrays, e.g. one group per
hasher of a :class:`~hashlearn.hashers.stack.HasherStack` (independent hash functions per
table, the scheme of Indyk and Motwani).

Queries
-------
At probe radius ``r``, table ``t`` yields the members of every bucket whose key lies
within Hamming distance ``r`` of the query's key: every item ``x`` with
``d_t(q, x) = popcount(key_t(q) XOR key_t(x)) <= r`` (multi-probe). A query's
*candidates* are the union over the tables, without duplicates; each is verified with
the full ``n_bits``-bit Hamming distance ``d(q, x)``, and results are candidates with
their exact distances, sorted by ``(distance, database id)``. A table's buckets are
found by XOR-ing the query key with every mask of at most ``r`` bits (one binary search
per mask) or, when those lookups would cost more than reading every bucket key, by
comparing every bucket key with the query's (same buckets, less work).

Guarantee (pigeonhole)
----------------------
Let ``m`` be the largest number of tables sharing one bit position (``m = 1`` for
disjoint groups). A bit where ``q`` and ``x`` differ counts in at most ``m`` of the
sub-distances, so ``sum_t d_t(q, x) <= m d(q, x)``. An item that is not a candidate has
every ``d_t >= r + 1``, hence ``d(q, x) >= L (r + 1) / m``. So every item with

    ``d(q, x) <= R(r) = floor((L (r + 1) - 1) / m)``

is a candidate, and every item at all once ``r >= min_t K_t`` (that table's probe then
covers all its keys). :meth:`MultiTableIndex.certified_radius` gives ``R(r)``. Hence:

* ``range_search(q, radius)`` returns exactly the candidates within ``radius``: always a
  subset of the exact result, and all of it when ``probe_radius >= floor(m radius / L)``
  (:meth:`MultiTableIndex.probe_radius_for`; ``floor(radius / L)`` for disjoint groups).
* ``search(q, k)`` returns the ``k`` smallest ``(distance, id)`` pairs among the
  candidates. Every item within ``R(r)`` is a candidate, so the results at distances
  ``<= R(r)`` are exactly the exact search's at the same positions, and the whole row
  is exact when its ``k``-th distance is ``<= R(r)``; ``grow="exact"`` raises the probe
  radius per query until that holds.

The kernels (key extraction and the probing and verification pass) are the numba
functions of :mod:`hashlearn.index._kernels.multi_table`, tested against numpy references
and brute force; the bit groups are resolved in :mod:`hashlearn.index._table_groups`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from hashlearn._numba import check_n_threads, thread_count, threads
from hashlearn._registry import register
from hashlearn._validation import check_int, check_radius
from hashlearn.codes import as_words, check_codes
from hashlearn.index._base import BinaryIndex
from hashlearn.index._kernels import multi_table as kernels
from hashlearn.index._kernels.scan import knn_scan
from hashlearn.index._table_groups import (
    TABLE_KINDS,
    check_groups,
    flatten,
    merge_table,
    probe_plan,
    resolve_groups,
)

__all__ = ["GROWTH", "TABLE_KINDS", "MultiTableIndex", "MultiTableStatistics", "table_keys"]

GROWTH = (None, "candidates", "exact")
# Candidate ids gathered per block of queries before verification (int64 + int32 each):
# bounds scratch memory to about 50 MiB whatever the number of queries.
_BUFFER_ITEMS = 2**22
# Bits of "already seen" bitsets allowed over all query chunks (64 MiB).
_SEEN_BITS = 2**29
# Chunks of queries per thread: several, so that slow queries balance out.
_CHUNKS_PER_THREAD = 4
# Work (keys probed plus candidates gathered) per thread: below it, fewer threads run,
# since starting a parallel loop costs more than a small batch of queries.
_WORK_PER_THREAD = 2**15


def table_keys(codes: Any, n_bits: int, table_bits: Sequence[Any]) -> np.ndarray:
    """Key of every code in every table: ``uint64 (n, L)``.

    ``keys[i, t] = sum_j codes[i, bit table_bits[t][j]] * 2**j``: bit ``table_bits[t][j]``
    of the code (in the packed format of :mod:`hashlearn.codes`) becomes bit ``j`` of the
    key. Two codes share table ``t``'s bucket exactly when they agree on those bits, and
    ``popcount(keys[a, t] ^ keys[b, t])`` counts the group's bits where they differ.

    Parameters
    ----------
    codes : ndarray of uint8, shape (n, ceil(n_bits / 8))
    n_bits : int
    table_bits : sequence of L arrays of int
        Distinct bit positions in ``[0, n_bits)`` per table, 1 to 64 of them.

    Examples
    --------
    >>> from hashlearn.codes import pack_bits
    >>> table_keys(pack_bits([[1, 0, 1, 1]]), 4, [[0, 1], [3, 2], [2]])
    array([[1, 3, 1]], dtype=uint64)
    """
    groups = check_groups(table_bits, check_int(n_bits, "n_bits", low=1))
    positions, group_offsets = flatten(groups)
    array = check_codes(codes, n_bits)
    return np.asarray(kernels.table_keys(as_words(array), positions, group_offsets))


# -- statistics --------------------------------------------------------------------------------
@dataclass(frozen=True)
class MultiTableStatistics:
    """Per-query work of the last :class:`MultiTableIndex` ``search`` or ``range_search``.

    Per-table arrays describe the final probe of each query (for ``search`` with
    ``grow``, the probe at the final radius).

    Attributes
    ----------
    radius : ndarray of int32, shape (n_queries,)
        The probe radius used (after growth, for ``search`` with ``grow``).
    certified_radius : ndarray of int32, shape (n_queries,)
        ``R(radius)``: every item within this full Hamming distance was a candidate, so
        the query's results at distances ``<= certified_radius`` are exact.
    buckets_probed : ndarray of int64, shape (n_queries, n_tables)
        Keys looked up (masks) or bucket keys compared (scan), per table.
    buckets_hit : ndarray of int64, shape (n_queries, n_tables)
        Non-empty buckets within the radius, per table.
    collisions : ndarray of int64, shape (n_queries, n_tables)
        Members read from those buckets, per table (an item found by several tables
        counts in each).
    candidates : ndarray of int64, shape (n_queries,)
        Distinct candidates whose full distance was computed (the union over tables).
    verified : ndarray of int64, shape (n_queries,)
        Full distances computed over all growth rounds (``candidates`` without growth).
    scanned : ndarray of bool, shape (n_queries, n_tables)
        Whether the table compared every bucket key instead of enumerating masks.
    """

    radius: np.ndarray
    certified_radius: np.ndarray
    buckets_probed: np.ndarray
    buckets_hit: np.ndarray
    collisions: np.ndarray
    candidates: np.ndarray
    verified: np.ndarray
    scanned: np.ndarray

    @property
    def n_queries(self) -> int:
        """Number of queries described."""
        return int(self.radius.shape[0])

    def summary(self) -> dict[str, float]:
        """Means over the queries, per-table counts summed over tables (plain floats).

        ``scanned`` is the fraction of ``(query, table)`` probes that scanned buckets.
        """
        names = (
            "radius",
            "certified_radius",
            "buckets_probed",
            "buckets_hit",
            "collisions",
            "candidates",
            "verified",
            "scanned",
        )
        if self.n_queries == 0:
            return dict.fromkeys(names, 0.0)
        return {
            "radius": float(self.radius.mean()),
            "certified_radius": float(self.certified_radius.mean()),
            "buckets_probed": float(self.buckets_probed.sum(axis=1).mean()),
            "buckets_hit": float(self.buckets_hit.sum(axis=1).mean()),
            "collisions": float(self.collisions.sum(axis=1).mean()),
            "candidates": float(self.candidates.mean()),
            "verified": float(self.verified.mean()),
            "scanned": float(self.scanned.mean()) if self.scanned.size else 0.0,
        }


class _Probe(NamedTuple):
    """Results of one probing round over query rows (see ``MultiTableIndex._probe``)."""

    kept: np.ndarray
    distances: np.ndarray
    indices: np.ndarray
    found: np.ndarray
    probed: np.ndarray
    hit: np.ndarray
    collisions: np.ndarray
    scanned: np.ndarray


def _blocks(sizes: np.ndarray, budget: int) -> Iterator[tuple[int, int]]:
    """Consecutive ``[start, stop)`` row ranges whose sizes sum to at most ``budget``
    (or one row, when a single row exceeds it)."""
    total = np.cumsum(sizes)
    start = 0
    while start < sizes.shape[0]:
        base = int(total[start - 1]) if start else 0
        stop = max(start + 1, int(np.searchsorted(total, base + budget, side="right")))
        yield start, stop
        start = stop


# -- the index ---------------------------------------------------------------------------------
@register
class MultiTableIndex(BinaryIndex):
    """``L`` hash tables on sub-codes of ``K <= 64`` bits, OR-ed: the classic LSH index.

    Each table buckets the stored codes by a group of bit positions; a query's candidates
    are the members of the buckets within ``probe_radius`` of its key in any table,
    deduplicated, and verified with the full ``n_bits`` Hamming distance. Results are
    exact distances sorted by ``(distance, database id)`` (ties: smaller id first);
    missing ``search`` entries are ``-1``. See the module docstring for the structure and
    the pigeonhole guarantee behind :meth:`certified_radius`.

    **What is guaranteed.** ``range_search`` returns a subset of the exact result (the
    candidates within ``radius``), and all of it when ``probe_radius >=``
    :meth:`probe_radius_for` ``(radius)`` ``= floor(m radius / L)`` (``m``: most tables
    sharing a bit, 1 for disjoint groups). ``search`` returns the ``k`` best candidates:
    its results at distances ``<= certified_radius()`` coincide with the exact ones, and
    it is exact when the ``k``-th distance is within it. Candidates never shrink when
    ``probe_radius`` grows, nor when tables are added (disjoint groups, or random groups
    drawn with the same seed).

    Parameters
    ----------
    n_bits : int
        Code length in bits, in ``[1, 4096]``.
    n_tables : int, optional
        Number of tables ``L`` (string ``tables`` only). Default ``n_bits // bits_per_table``.
    bits_per_table : int, optional
        Bits per table key ``K``, in ``[1, min(n_bits, 64)]`` (string ``tables`` only).
        Default ``min(n_bits, 16)`` when ``n_tables`` is not given either, else
        ``min(n_bits // n_tables, 64)``.
    tables : {"disjoint", "random"} or sequence of arrays of int, default "disjoint"
        The bit groups: consecutive disjoint groups (``n_tables * bits_per_table <=
        n_bits``), groups of distinct positions drawn at random with ``random_state``
        (may overlap), or explicit positions per table (1 to 64 distinct positions each,
        sizes may differ).
    probe_radius : int, default 0
        Largest Hamming distance between the query's key and a probed bucket's key, in
        every table (multi-probe; ``0`` reads only the query's own buckets). Settable
        between searches; values above ``K`` act as ``K``.
    grow : {None, "candidates", "exact"}, default None
        ``search`` only. ``None``: probe at ``probe_radius``. ``"candidates"``: raise the
        radius per query, one step at a time, until at least ``k`` candidates exist (the
        rows are then full). ``"exact"``: raise it until the ``k``-th distance is
        certified, so that ``search`` equals exact k-NN (:class:`LinearScanIndex`); it
        also makes ``range_search`` exact by probing at ``probe_radius_for(radius)``. A
        query whose next radius would cost more key lookups than comparing it with every
        code (see :attr:`HashTableIndex.lookup_cost`) is answered by the exhaustive k-NN
        kernel instead (``last_stats_.scanned``), so exact k-NN never costs much more
        than :class:`LinearScanIndex`. Settable.
    random_state : int, numpy.random.Generator or None, default None
        Draws the groups of ``tables="random"`` (once, at construction); ignored otherwise.
    n_threads : int or None, default None
        Threads for the kernels; ``None`` or ``-1``: numba's whole pool.
    hasher : hasher, optional
        The hasher that produced the codes; enables :meth:`add_vectors` /
        :meth:`search_vectors` and is saved with the index.

    Attributes
    ----------
    table_bits : tuple of ndarray of int64
        The bit positions of each table (bit ``table_bits[t][j]`` of a code is bit ``j``
        of its key in table ``t``).
    table_offsets_ : ndarray of int64, shape (n_tables + 1,)
        Table ``t`` owns buckets ``table_offsets_[t] .. table_offsets_[t + 1] - 1``.
    bucket_keys_ : ndarray of uint64, shape (n_buckets_total,)
        Bucket keys, ascending within each table.
    bucket_offsets_ : ndarray of int64, shape (n_buckets_total + 1,)
        Bucket ``b`` holds ``bucket_ids_[bucket_offsets_[b]:bucket_offsets_[b + 1]]``.
    bucket_ids_ : ndarray of int64, shape (n_tables * ntotal,)
        Table ``t``'s ids (slice ``t * ntotal .. (t + 1) * ntotal``) sorted by ``(key, id)``.
    last_stats_ : MultiTableStatistics or None
        Per-query work of the last ``search`` / ``range_search``.

    Notes
    -----
    Measured trade-off: 100,000 database codes of 64 bits and 1,000 queries, each a copy
    of one of 2,000 random centres with every bit flipped with probability ``p`` (seed
    0). Each cell is recall@10 / candidates: recall counts the returned codes within the
    exact 10th-nearest distance (ties count as found); candidates are distinct codes
    verified per query (mean; with ``grow``, over all rounds). ``R(r)`` is
    :meth:`certified_radius`.

    ==================  =======  ====  ====  ==============  ===============
    tables              L x K    r     R(r)  p = 0.05        p = 0.15
    ==================  =======  ====  ====  ==============  ===============
    disjoint            2 x 32   0     1     0.291 / 4       0.001 / 0
    disjoint            2 x 32   2     5     0.938 / 32      0.048 / 1
    disjoint            4 x 16   0     3     0.888 / 36      0.114 / 8
    disjoint            4 x 16   1     7     1.000 / 153     0.552 / 115
    disjoint            4 x 16   2     11    1.000 / 882     0.951 / 862
    disjoint            8 x 8    0     7     1.000 / 3,124   0.910 / 3,109
    disjoint            8 x 8    1     15    1.000 / 24,907  1.000 / 24,932
    random              8 x 16   0     1     0.946 / 47      0.194 / 15
    random              8 x 16   1     2     0.999 / 255     0.708 / 219
    random              16 x 16  0     1     0.989 / 67      0.340 / 30
    random              32 x 16  0     1     1.000 / 96      0.549 / 58
    grow="candidates"   4 x 16   0     3     0.961 / 47      0.400 / 84
    grow="exact"        4 x 16   0     3     1.000 / 8,434   1.000 / 100,084
    ==================  =======  ====  ====  ==============  ===============

    Short keys make big buckets (8 x 8: high recall from many candidates), long keys
    empty probes (2 x 32); more tables or a larger radius buy recall with candidates.
    Random groups overlap (``m`` > 1), so their certified radius is small even when
    their recall is high. Indicative timings, one thread of a shared 2-core machine:
    :class:`LinearScanIndex` 0.05-0.07 ms per query; 4 x 16 at ``r = 1`` 0.015-0.023
    ms; ``grow="exact"`` 0.021 ms at ``p = 0.05`` and 0.069 ms at ``p = 0.15``, where the
    10th neighbour is far and most queries are handed to the exhaustive scan (candidates
    then count every code): for exact k-NN of far neighbours the scan is the right tool,
    and the index uses it.

    ``add`` merges a batch of ``b`` codes into every table in ``O(L (ntotal + b log b))``:
    add in batches. Memory: the codes, plus ``8 L`` bytes per item and 16 per bucket,
    plus ``25 L`` bytes per query for :attr:`last_stats_`. The kernels compile on first
    use (a few seconds, then cached on disk by numba).

    References
    ----------
    P. Indyk and R. Motwani. Approximate nearest neighbors: towards removing the curse
    of dimensionality. STOC 1998.
    A. Gionis, P. Indyk and R. Motwani. Similarity search in high dimensions via hashing.
    VLDB 1999.
    Q. Lv, W. Josephson, Z. Wang, M. Charikar and K. Li. Multi-probe LSH: efficient
    indexing for high-dimensional similarity search. VLDB 2007.

    Examples
    --------
    >>> from hashlearn.codes import pack_bits
    >>> database = pack_bits([[0, 0, 0, 0], [1, 1, 0, 0], [1, 0, 0, 0], [1, 0, 1, 1]])
    >>> index = MultiTableIndex(4, n_tables=2, bits_per_table=2).add(database)
    >>> index.table_bits
    (array([0, 1]), array([2, 3]))
    >>> index.certified_radius()  # probe_radius=0 finds every code within distance 1
    1
    >>> index.search(pack_bits([[0, 0, 0, 0]]), k=4)  # code 3, at distance 3, is missed
    (array([[ 0,  1,  2, -1]], dtype=int32), array([[ 0,  2,  1, -1]]))
    >>> index.grow = "exact"
    >>> index.search(pack_bits([[0, 0, 0, 0]]), k=4)
    (array([[0, 1, 2, 3]], dtype=int32), array([[0, 2, 1, 3]]))
    >>> bool(index.last_stats_.scanned.all())  # 4 codes: scanning beats any probe
    True
    """

    def __init__(
        self,
        n_bits: int,
        *,
        n_tables: int | None = None,
        bits_per_table: int | None = None,
        tables: str | Sequence[Any] = "disjoint",
        probe_radius: int = 0,
        grow: str | None = None,
        random_state: Any = None,
        n_threads: int | None = None,
        hasher: Any = None,
    ) -> None:
        super().__init__(n_bits, hasher=hasher)
        groups, kind = resolve_groups(self._n_bits, n_tables, bits_per_table, tables, random_state)
        self._groups = tuple(groups)
        self._table_kind = kind
        self._positions, self._group_offsets = flatten(groups)
        self._sizes = np.diff(self._group_offsets)
        self._multiplicity = int(np.bincount(self._positions, minlength=self._n_bits).max())
        self.probe_radius = probe_radius
        self.grow = grow
        self.n_threads = check_n_threads(n_threads)
        self._clear_tables()

    @classmethod
    def from_hasher_stack(
        cls,
        stack: Any,
        *,
        probe_radius: int = 0,
        grow: str | None = None,
        n_threads: int | None = None,
    ) -> MultiTableIndex:
        """One table per hasher of a :class:`~hashlearn.hashers.stack.HasherStack`.

        Table ``t`` is keyed by the bits of hasher ``t`` (each at most 64 bits), so the
        tables use independently drawn hash functions, as in Indyk and Motwani's
        scheme; the stack becomes the index's :attr:`hasher`.

        Examples
        --------
        >>> import numpy as np
        >>> from hashlearn.hashers import LSH
        >>> from hashlearn.hashers.stack import HasherStack
        >>> X = np.random.default_rng(0).normal(size=(500, 20))
        >>> stack = HasherStack([LSH(12) for _ in range(4)], random_state=0).fit(X)
        >>> index = MultiTableIndex.from_hasher_stack(stack, probe_radius=1).add_vectors(X)
        >>> index.n_tables, index.bits_per_table, index.n_bits
        (4, 12, 48)
        """
        bit_groups = getattr(stack, "bit_groups", None)
        if not callable(bit_groups):
            raise TypeError(
                "from_hasher_stack needs a HasherStack (an object with bit_groups()), got "
                f"{type(stack).__name__}"
            )
        return cls(
            stack.n_bits,
            tables=bit_groups(),
            probe_radius=probe_radius,
            grow=grow,
            n_threads=n_threads,
            hasher=stack,
        )

    # -- parameters ------------------------------------------------------------------------
    @property
    def probe_radius(self) -> int:
        """Largest key distance probed per table (settable; ``>= 0``)."""
        return self._probe_radius

    @probe_radius.setter
    def probe_radius(self, value: int) -> None:
        self._probe_radius = check_int(value, "probe_radius", low=0)

    @property
    def grow(self) -> str | None:
        """How ``search`` raises the probe radius: None, ``"candidates"`` or ``"exact"``."""
        return self._grow

    @grow.setter
    def grow(self, value: str | None) -> None:
        if value not in GROWTH:
            raise ValueError(f"grow must be None, 'candidates' or 'exact', got {value!r}")
        self._grow = value

    @property
    def n_tables(self) -> int:
        """Number of tables ``L``."""
        return len(self._groups)

    @property
    def bits_per_table(self) -> int | None:
        """Bits per table key ``K``; None when explicit tables differ in size."""
        sizes = set(self._sizes.tolist())
        return sizes.pop() if len(sizes) == 1 else None

    @property
    def table_bits(self) -> tuple[np.ndarray, ...]:
        """Bit positions of each table's key (read-only int64 arrays)."""
        return self._groups

    @property
    def table_kind(self) -> str:
        """How the groups were made: ``"disjoint"``, ``"random"`` or ``"explicit"``."""
        return self._table_kind

    @property
    def bit_multiplicity(self) -> int:
        """``m``: the largest number of tables sharing one bit position (1 when disjoint)."""
        return self._multiplicity

    @property
    def n_buckets(self) -> np.ndarray:
        """Non-empty buckets per table, ``int64 (n_tables,)``."""
        return np.diff(self.table_offsets_)

    def __repr__(self) -> str:
        tables = repr(self._table_kind) if self._table_kind != "explicit" else "[...]"
        return (
            f"MultiTableIndex(n_bits={self._n_bits}, n_tables={self.n_tables}, "
            f"bits_per_table={self.bits_per_table}, tables={tables}, "
            f"probe_radius={self._probe_radius}, grow={self._grow!r}, ntotal={self.ntotal})"
        )

    # -- guarantees ------------------------------------------------------------------------
    @property
    def _full_radius(self) -> int:
        """Probe radius from which some table returns every item: ``min_t K_t``."""
        return int(self._sizes.min())

    def _certified(self, radii: np.ndarray) -> np.ndarray:
        """``R(r)`` for each radius (see :meth:`certified_radius`), int64."""
        radii = np.asarray(radii, dtype=np.int64)
        bound = (self.n_tables * (radii + 1) - 1) // self._multiplicity
        return np.where(radii >= self._full_radius, self._n_bits, np.minimum(bound, self._n_bits))

    def certified_radius(self, probe_radius: int | None = None) -> int:
        """Full Hamming distance within which every item is a candidate.

        ``R(r) = min(n_bits, floor((L (r + 1) - 1) / m))``, or ``n_bits`` when ``r >=
        min_t K_t`` (pigeonhole; see the module docstring). At probe radius ``r``,
        ``range_search`` is exact for radii ``<= R(r)`` and ``search`` results at
        distances ``<= R(r)`` are exact.

        Parameters
        ----------
        probe_radius : int, optional
            Default: the index's :attr:`probe_radius`.
        """
        r = (
            self._probe_radius
            if probe_radius is None
            else check_int(probe_radius, "probe_radius", low=0)
        )
        return int(self._certified(np.array([r]))[0])

    def probe_radius_for(self, radius: int) -> int:
        """Smallest probe radius that guarantees an exact ``range_search(..., radius)``.

        ``min(floor(m radius / L), min_t K_t)``; ``floor(radius / L)`` for disjoint groups
        (the smallest ``r`` with ``R(r) >= radius``, see :meth:`certified_radius`).
        """
        radius = min(check_radius(radius), self._n_bits)
        return min(self._multiplicity * radius // self.n_tables, self._full_radius)

    # -- building ----------------------------------------------------------------------------
    def _storage_width(self) -> int:
        return 8 * ((self._n_bytes + 7) // 8)

    def _clear_tables(self) -> None:
        self.table_offsets_ = np.zeros(self.n_tables + 1, dtype=np.int64)
        self.bucket_keys_ = np.empty(0, dtype=np.uint64)
        self.bucket_offsets_ = np.zeros(1, dtype=np.int64)
        self.bucket_ids_ = np.empty(0, dtype=np.int64)
        self.last_stats_: MultiTableStatistics | None = None
        self._plans: dict[int, kernels.Plan] = {}

    def _reset(self) -> None:
        self._clear_tables()

    def _keys(self, codes: np.ndarray) -> np.ndarray:
        with threads(self.n_threads):
            keys = kernels.table_keys(as_words(codes), self._positions, self._group_offsets)
        return np.asarray(keys)

    def _add(self, codes: np.ndarray, first_id: int) -> None:
        new_keys = self._keys(codes)
        n_old, n_new = first_id, self.ntotal
        keys, starts, ids = [], [], []
        table_offsets = np.zeros(self.n_tables + 1, dtype=np.int64)
        for t in range(self.n_tables):
            lo, hi = self.table_offsets_[t], self.table_offsets_[t + 1]
            table = merge_table(
                self.bucket_keys_[lo:hi],
                np.diff(self.bucket_offsets_[lo : hi + 1]),
                self.bucket_ids_[t * n_old : (t + 1) * n_old],
                new_keys[:, t],
                first_id,
            )
            keys.append(table[0])
            starts.append(table[1] + t * n_new)
            ids.append(table[2])
            table_offsets[t + 1] = table_offsets[t] + table[0].shape[0]
        starts.append(np.array([self.n_tables * n_new], dtype=np.int64))
        self.table_offsets_ = table_offsets
        self.bucket_keys_ = np.concatenate(keys)
        self.bucket_offsets_ = np.concatenate(starts)
        self.bucket_ids_ = np.concatenate(ids)
        self._plans = {}

    def _empty_search_stats(self, n_queries: int) -> None:
        zeros = np.zeros((n_queries, self.n_tables), dtype=np.int64)
        radius = np.full(n_queries, min(self._probe_radius, int(self._sizes.max())), np.int32)
        self.last_stats_ = MultiTableStatistics(
            radius=radius,
            certified_radius=self._certified(radius).astype(np.int32),
            buckets_probed=zeros,
            buckets_hit=zeros.copy(),
            collisions=zeros.copy(),
            candidates=np.zeros(n_queries, dtype=np.int64),
            verified=np.zeros(n_queries, dtype=np.int64),
            scanned=np.zeros((n_queries, self.n_tables), dtype=bool),
        )

    # -- probing -----------------------------------------------------------------------------
    def _plan(self, max_radius: int) -> kernels.Plan:
        """How each table is probed, for radii up to ``max_radius`` (cached until an add;
        see :func:`hashlearn.index._table_groups.probe_plan`)."""
        plan = self._plans.get(max_radius)
        if plan is None:
            plan = probe_plan(self._sizes, self.n_buckets, max_radius)
            self._plans[max_radius] = plan
        return plan

    def _probe(self, queries: np.ndarray, radii: np.ndarray, keep: int, limit: int) -> _Probe:
        """Candidates of each query at its radius, verified, filtered and selected.

        Returns, per query, the ``keep`` smallest ``(distance, id)`` pairs among its
        candidates with full distance ``<= limit`` (concatenated over queries; ``kept``
        counts them), the number of distinct candidates (``found``) and the per-table
        probe statistics.
        """
        n_rows, n_tables = queries.shape[0], self.n_tables
        query_keys = self._keys(queries)
        query_words = as_words(queries)
        database = self._store.view().view(np.uint64)
        tables = kernels.Tables(
            self.table_offsets_, self.bucket_keys_, self.bucket_offsets_, self.bucket_ids_
        )
        plan = self._plan(int(radii.max()))
        found = np.zeros(n_rows, dtype=np.int64)
        kept = np.zeros(n_rows, dtype=np.int64)
        stats = kernels.Stats(
            probed=np.zeros((n_rows, n_tables), dtype=np.int64),
            hit=np.zeros((n_rows, n_tables), dtype=np.int64),
            collisions=np.zeros((n_rows, n_tables), dtype=np.int64),
            scanned=np.zeros((n_rows, n_tables), dtype=bool),
        )
        no_output = kernels.Gather(database, found, found, np.empty(0, np.int32), found, kept)
        pool = thread_count(self.n_threads)
        max_chunks = max(1, _SEEN_BITS // self.ntotal)  # bounds the bitsets' memory
        # Keys looked up or compared per query, at most (the count pass's work per row).
        probes = int(np.minimum(plan.ball[:, -1], self.n_buckets).sum())

        def run(
            rows: kernels.Queries,
            radii: np.ndarray,
            fill: bool,
            gather: kernels.Gather,
            stats: kernels.Stats,
        ) -> None:
            # Threads in proportion to the work: a parallel launch must pay for itself.
            work = radii.shape[0] * probes + (int(gather.buffer.shape[0]) if fill else 0)
            n_threads = int(min(pool, max(1, work // _WORK_PER_THREAD)))
            chunks = int(min(radii.shape[0], _CHUNKS_PER_THREAD * n_threads, max_chunks))
            with threads(n_threads):
                kernels.probe_pass(
                    rows, radii, tables, plan, chunks, fill, limit, keep, gather, stats
                )

        # Count pass: the statistics, and each query's members read, which bound its
        # distinct candidates (the room it needs in the buffer).
        run(kernels.Queries(query_keys, query_words), radii, False, no_output, stats)
        needed = stats.collisions.sum(axis=1)
        pieces_d, pieces_i = [], []
        for a, b in _blocks(needed, _BUFFER_ITEMS):
            starts = np.zeros(b - a, dtype=np.int64)
            np.cumsum(needed[a : b - 1], out=starts[1:])
            buffer = np.empty(int(needed[a:b].sum()), dtype=np.int64)
            distances = np.empty(buffer.shape[0], dtype=np.int32)
            run(
                kernels.Queries(query_keys[a:b], query_words[a:b]),
                radii[a:b],
                True,
                kernels.Gather(database, starts, buffer, distances, found[a:b], kept[a:b]),
                kernels.Stats(*(array[a:b] for array in stats)),
            )
            block_kept = kept[a:b]
            lims = np.cumsum(block_kept) - block_kept
            positions = np.repeat(starts - lims, block_kept) + np.arange(block_kept.sum())
            pieces_d.append(distances[positions])
            pieces_i.append(buffer[positions])
        return _Probe(
            kept=kept,
            distances=np.concatenate(pieces_d) if pieces_d else np.empty(0, np.int32),
            indices=np.concatenate(pieces_i) if pieces_i else np.empty(0, np.int64),
            found=found,
            probed=stats.probed,
            hit=stats.hit,
            collisions=stats.collisions,
            scanned=stats.scanned,
        )

    def _start_radius(self) -> int:
        """The probe radius, clipped to the longest key (beyond, nothing changes)."""
        return min(self._probe_radius, int(self._sizes.max()))

    def _range_search(
        self, queries: np.ndarray, radius: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        probe_radius = self._start_radius()
        if self._grow == "exact":
            probe_radius = max(probe_radius, self.probe_radius_for(radius))
        radii = np.full(queries.shape[0], probe_radius, dtype=np.int64)
        result = self._probe(queries, radii, keep=max(1, self.ntotal), limit=radius)
        lims = np.zeros(queries.shape[0] + 1, dtype=np.int64)
        np.cumsum(result.kept, out=lims[1:])
        self._record(radii, result, result.found)
        return lims, result.distances, result.indices

    def _search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """k-NN among the candidates; with ``grow``, per-query rounds of larger radius.

        ``"candidates"`` adds one to the radius of each query with fewer than ``k``
        candidates. ``"exact"`` does so too, and for a query whose ``k``-th distance
        ``D`` exceeds ``R(r)`` jumps to ``r' = floor(m D / L)``, where ``R(r') >= D``:
        every item within ``D`` is then a candidate, so the new ``k``-th distance is
        ``<= D <= R(r')`` and the query is certified after that round. Every query
        stops at the latest at ``min_t K_t``, where every item is a candidate.
        """
        n_queries, kk = queries.shape[0], min(k, self.ntotal)
        radii = np.full(n_queries, self._start_radius(), dtype=np.int64)
        out_d = np.full((n_queries, kk), -1, dtype=np.int32)
        out_i = np.full((n_queries, kk), -1, dtype=np.int64)
        shape = (n_queries, self.n_tables)
        stats = _Probe(
            kept=np.zeros(n_queries, dtype=np.int64),
            distances=out_d,
            indices=out_i,
            found=np.zeros(n_queries, dtype=np.int64),
            probed=np.zeros(shape, dtype=np.int64),
            hit=np.zeros(shape, dtype=np.int64),
            collisions=np.zeros(shape, dtype=np.int64),
            scanned=np.zeros(shape, dtype=bool),
        )
        verified = np.zeros(n_queries, dtype=np.int64)
        active = np.arange(n_queries)
        full = self._full_radius
        while active.size:
            result = self._probe(queries[active], radii[active], keep=kk, limit=self._n_bits)
            rows = np.repeat(active, result.kept)
            columns = np.arange(rows.shape[0]) - np.repeat(
                np.cumsum(result.kept) - result.kept, result.kept
            )
            out_d[active], out_i[active] = -1, -1
            out_d[rows, columns], out_i[rows, columns] = result.distances, result.indices
            for name in ("found", "probed", "hit", "collisions", "scanned"):
                getattr(stats, name)[active] = getattr(result, name)
            verified[active] += result.found
            if self._grow is None:
                break
            current = radii[active]
            full_rows = result.found >= kk
            done = current >= full
            scan = np.zeros(active.shape[0], dtype=bool)
            if self._grow == "candidates":
                done |= full_rows
                following = current + 1
            else:
                kth = out_d[active, kk - 1].astype(np.int64)
                done |= full_rows & (kth <= self._certified(current))
                needed = self._multiplicity * kth // self.n_tables
                following = np.where(full_rows, np.maximum(needed, current + 1), current + 1)
                scan = ~done & self._scan_is_cheaper(np.minimum(following, full))
                if scan.any():
                    self._scan_exact(queries, active[scan], kk, out_d, out_i, stats, verified)
                    done |= scan
            # A scanned query is certified at every distance, like the full radius.
            radii[active] = np.where(
                scan, full, np.where(done, current, np.minimum(following, full))
            )
            active = active[~done]
        self._record(radii, stats, verified)
        return out_d, out_i

    def _scan_is_cheaper(self, radii: np.ndarray) -> np.ndarray:
        """Per radius: whether probing every table costs more than scanning every code.

        Keys looked up: ``sum_t sum_{d <= r} C(K_t, d)``, each costing
        :attr:`HashTableIndex.lookup_cost <hashlearn.index.HashTableIndex.lookup_cost>`
        codes compared by the exhaustive scan.
        """
        from hashlearn.index.hash_table import HashTableIndex, n_masks

        costs = {
            int(r): sum(n_masks(int(size), int(r)) for size in self._sizes)
            * HashTableIndex.lookup_cost
            for r in np.unique(radii)
        }
        return np.array([costs[int(r)] > self.ntotal for r in radii], dtype=bool)

    def _scan_exact(
        self,
        queries: np.ndarray,
        rows: np.ndarray,
        kk: int,
        out_d: np.ndarray,
        out_i: np.ndarray,
        stats: _Probe,
        verified: np.ndarray,
    ) -> None:
        """Answer ``rows`` with the exhaustive k-NN kernel (exact, like the last round)."""
        with threads(self.n_threads):
            out_d[rows], out_i[rows] = knn_scan(
                as_words(queries[rows]),
                as_words(self._store.view()),
                kk,
                self._n_bits,
            )
        stats.found[rows] = self.ntotal
        stats.scanned[rows] = True
        verified[rows] += self.ntotal

    def _record(self, radii: np.ndarray, result: _Probe, verified: np.ndarray) -> None:
        self.last_stats_ = MultiTableStatistics(
            radius=radii.astype(np.int32),
            certified_radius=self._certified(radii).astype(np.int32),
            buckets_probed=result.probed,
            buckets_hit=result.hit,
            collisions=result.collisions,
            candidates=result.found,
            verified=verified,
            scanned=result.scanned,
        )

    # -- persistence ---------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, np.ndarray]]:
        params, attributes, arrays = super()._get_state()
        params.update(
            n_tables=self.n_tables,
            bits_per_table=self.bits_per_table,
            probe_radius=self._probe_radius,
            grow=self._grow,
            n_threads=self.n_threads,
        )
        return params, attributes, arrays

    def _extra_state(self, attributes: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        # The groups are saved, not the seed: a loaded index has exactly these tables.
        attributes["table_kind"] = self._table_kind
        arrays["table_bits"] = self._positions
        arrays["table_sizes"] = self._sizes

    @classmethod
    def _from_state(
        cls, params: dict[str, Any], attributes: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> MultiTableIndex:
        name = cls.__name__
        positions, sizes = arrays.get("table_bits"), arrays.get("table_sizes")
        if positions is None or sizes is None:
            raise ValueError(f"corrupt {name} file: the tables' bit positions are missing")
        positions, sizes = np.asarray(positions), np.asarray(sizes)
        if (
            positions.ndim != 1
            or sizes.ndim != 1
            or positions.dtype.kind not in "iu"
            or sizes.dtype.kind not in "iu"
            or np.any(sizes < 1)
            or int(sizes.sum()) != positions.shape[0]
        ):
            raise ValueError(f"corrupt {name} file: the tables' bit positions are inconsistent")
        groups = np.split(positions.astype(np.int64), np.cumsum(sizes)[:-1])
        try:
            index = super()._from_state({**params, "tables": groups}, attributes, arrays)
        except (TypeError, ValueError) as exc:
            if str(exc).startswith("corrupt"):
                raise
            raise ValueError(f"corrupt {name} file: {exc}; save the index again") from exc
        assert isinstance(index, MultiTableIndex)
        if attributes.get("table_kind") in (*TABLE_KINDS, "explicit"):
            index._table_kind = attributes["table_kind"]
        return index

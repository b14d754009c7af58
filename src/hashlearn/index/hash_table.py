"""A hash table keyed by the whole code, with exact Hamming-radius multi-probe.

Structure
---------
Each stored code of ``n_bits <= 64`` bits is mapped to its integer key
(:func:`hashlearn.codes.bucket_keys`). Buckets are kept CSR-style in three sorted arrays,
not in a dict of lists:

* ``bucket_keys_``: the distinct keys, ascending, ``uint64 (n_buckets,)``;
* ``bucket_offsets_``: ``int64 (n_buckets + 1,)``; bucket ``b`` holds the ids
  ``bucket_ids_[bucket_offsets_[b]:bucket_offsets_[b + 1]]``;
* ``bucket_ids_``: the stored ids sorted by ``(key, id)``, ``int64 (ntotal,)``.

Probing
-------
The items within Hamming distance ``r`` of a query are exactly the members of the buckets
whose key ``K`` satisfies ``popcount(K XOR q) <= r``. The index finds them by XOR-ing the
query key with every mask of ``d`` set bits, ``d = 0 .. r`` (``sum_d C(n_bits, d)``
masks, enumerated once per ``(n_bits, d)`` and cached), and looking each probe key up in an
open-addressing table of the bucket keys, in a compiled kernel parallel over queries
(:func:`hashlearn.index._kernels.table.probe_table`).

The ball grows combinatorially with ``r``: past some radius, looking up its keys costs more
than comparing the query with every bucket key. The index then **scans** the bucket keys
instead, with the exhaustive range kernel of :class:`~hashlearn.index.LinearScanIndex` (the
keys are the distinct codes as 64-bit words; same results), and ``range_search`` /
``probe`` warn with :class:`ProbeCostWarning`. The switch happens when
``n_masks(n_bits, r) * lookup_cost > n_buckets``, ``lookup_cost`` being the measured cost of
one key lookup in units of one key compared by the scan (see
:attr:`HashTableIndex.lookup_cost`). k-NN ``search`` grows the radius ring by ring while a
ring costs less than scanning every stored code, and finishes the queries still open with
the exhaustive k-NN kernel over the codes.

The pure kernels (:func:`flip_masks`, :func:`probe_by_masks`, :func:`gather_buckets`) are
tested against brute force.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from hashlearn._numba import check_n_threads, threads
from hashlearn._registry import register
from hashlearn._validation import check_int
from hashlearn.codes import as_words, bucket_keys, keys_to_codes
from hashlearn.index._base import BinaryIndex
from hashlearn.index._kernels.scan import knn_scan, range_scan
from hashlearn.index._kernels.table import build_key_table, probe_table

__all__ = [
    "BucketInfo",
    "BucketStatistics",
    "HashTableIndex",
    "ProbeCostWarning",
    "ProbeStatistics",
    "flip_masks",
    "gather_buckets",
    "n_masks",
    "probe_by_masks",
]

# Probe keys (queries x masks) looked up per block: keeps scratch memory to a few tens of MiB.
_PROBE_BLOCK = 2**20


class ProbeCostWarning(UserWarning):
    """A radius whose Hamming ball costs more to probe than scanning every code.

    The index scans instead (the results are the same); the warning says the radius is
    past the point where a hash table helps.
    """


# -- kernels -------------------------------------------------------------------------------
@cache
def flip_masks(n_bits: int, distance: int) -> np.ndarray:
    """Every ``uint64`` mask with exactly ``distance`` of its low ``n_bits`` bits set.

    There are ``C(n_bits, distance)`` of them, in colexicographic order (by highest set
    bit, then recursively). Built without a Python loop per mask: the masks of
    ``distance`` bits whose highest bit is ``b`` are the masks of ``distance - 1`` bits
    below ``b`` (a prefix of that list, of length ``C(b, distance - 1)``) with bit ``b``
    added. Cached per ``(n_bits, distance)``; the returned array is read-only.

    Examples
    --------
    >>> flip_masks(4, 2)
    array([ 3,  5,  6,  9, 10, 12], dtype=uint64)
    """
    if not 0 <= distance <= n_bits <= 64:
        raise ValueError(f"need 0 <= distance <= n_bits <= 64, got {distance=}, {n_bits=}")
    if distance == 0:
        masks = np.zeros(1, dtype=np.uint64)
    else:
        shorter = flip_masks(n_bits, distance - 1)
        masks = np.concatenate(
            [
                shorter[: math.comb(bit, distance - 1)] | np.uint64(1 << bit)
                for bit in range(distance - 1, n_bits)
            ]
        )
    masks.flags.writeable = False
    return masks


@lru_cache(maxsize=256)
def _masks_up_to(n_bits: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """All masks of ``0 .. radius`` set bits (by distance), and the distance of each."""
    masks = np.concatenate([flip_masks(n_bits, d) for d in range(radius + 1)])
    distances = np.repeat(
        np.arange(radius + 1, dtype=np.int32), [math.comb(n_bits, d) for d in range(radius + 1)]
    )
    masks.flags.writeable = False
    distances.flags.writeable = False
    return masks, distances


def n_masks(n_bits: int, radius: int) -> int:
    """Number of keys in a Hamming ball: ``sum_{d=0}^{radius} C(n_bits, d)``."""
    return sum(math.comb(n_bits, d) for d in range(min(radius, n_bits) + 1))


def probe_by_masks(
    sorted_keys: np.ndarray, query_keys: np.ndarray, masks: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Look up ``query_keys[i] XOR masks[j]`` for every ``(i, j)`` in ``sorted_keys``.

    Parameters
    ----------
    sorted_keys : ndarray of uint64, shape (n_buckets,)
        Distinct keys in ascending order (``n_buckets >= 1``).
    query_keys : ndarray of uint64, shape (n_queries,)
    masks : ndarray of uint64, shape (n_masks,)

    Returns
    -------
    query_index, mask_index, bucket_index : ndarray of int64
        One entry per probe key found: ``sorted_keys[bucket_index] ==
        query_keys[query_index] ^ masks[mask_index]``, in row-major ``(query, mask)``
        order.

    Examples
    --------
    >>> keys = np.array([0, 3, 8], dtype=np.uint64)
    >>> probe_by_masks(keys, np.array([1], dtype=np.uint64), flip_masks(4, 1))  # 1^1, 1^2
    (array([0, 0]), array([0, 1]), array([0, 1]))
    """
    probes = (query_keys[:, None] ^ masks[None, :]).ravel()
    positions = np.searchsorted(sorted_keys, probes)
    np.minimum(positions, sorted_keys.shape[0] - 1, out=positions)
    found = np.flatnonzero(sorted_keys[positions] == probes)
    query_index, mask_index = np.divmod(found, masks.shape[0])
    return query_index, mask_index, positions[found].astype(np.int64, copy=False)


def gather_buckets(offsets: np.ndarray, buckets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the members of ``buckets`` in a CSR layout, without a Python loop.

    Parameters
    ----------
    offsets : ndarray of int64, shape (n_buckets + 1,)
        Bucket ``b`` occupies ``[offsets[b], offsets[b + 1])``.
    buckets : ndarray of int, shape (m,)

    Returns
    -------
    positions : ndarray of int64
        The concatenation of ``range(offsets[b], offsets[b + 1])`` for ``b`` in
        ``buckets``, in that order.
    owner : ndarray of int64
        For each position, the index into ``buckets`` it came from.

    Examples
    --------
    >>> gather_buckets(np.array([0, 2, 3, 6]), np.array([2, 0]))
    (array([3, 4, 5, 0, 1]), array([0, 0, 0, 1, 1]))
    """
    starts = offsets[buckets]
    sizes = offsets[buckets + 1] - starts
    owner = np.repeat(np.arange(buckets.shape[0], dtype=np.int64), sizes)
    # Position p of the output belongs to bucket owner[p] and sits
    # p - (output start of that bucket) places into it.
    shift = starts - (np.cumsum(sizes) - sizes)
    positions = np.arange(int(sizes.sum()), dtype=np.int64) + np.repeat(shift, sizes)
    return positions, owner


# -- statistics records ---------------------------------------------------------------------
@dataclass(frozen=True)
class ProbeStatistics:
    """Per-query work done by the last :meth:`HashTableIndex.probe` or ``search`` call.

    Attributes
    ----------
    radius : ndarray of int32, shape (n_queries,)
        The Hamming radius probed (for ``search``: the radius at which the ``k``-th
        neighbour was found).
    buckets_probed : ndarray of int64, shape (n_queries,)
        Keys looked up (one per mask of the probed rings).
    buckets_hit : ndarray of int64, shape (n_queries,)
        Non-empty buckets whose members were read.
    candidates : ndarray of int64, shape (n_queries,)
        Items examined: members read from the hit buckets (for ``search`` this can
        exceed ``k``: a whole ring is read before the first ``k`` are kept), or every
        stored code for a query answered by the exhaustive scan.
    scanned : ndarray of bool, shape (n_queries,)
        Whether the query was answered (or finished) by the exhaustive scan.
    """

    radius: np.ndarray
    buckets_probed: np.ndarray
    buckets_hit: np.ndarray
    candidates: np.ndarray
    scanned: np.ndarray

    @property
    def n_queries(self) -> int:
        """Number of queries described."""
        return int(self.radius.shape[0])

    def summary(self) -> dict[str, float]:
        """Means over the queries (plain floats, for records)."""
        if self.n_queries == 0:
            names = ("radius", "buckets_probed", "buckets_hit", "candidates", "scanned")
            return dict.fromkeys(names, 0.0)
        return {
            "radius": float(self.radius.mean()),
            "buckets_probed": float(self.buckets_probed.mean()),
            "buckets_hit": float(self.buckets_hit.mean()),
            "candidates": float(self.candidates.mean()),
            "scanned": float(self.scanned.mean()),
        }


@dataclass(frozen=True)
class BucketInfo:
    """One bucket of a :class:`HashTableIndex` (see :meth:`HashTableIndex.bucket_statistics`).

    Attributes
    ----------
    key : int
        The bucket key (``sum_j bit_j * 2**j``).
    code : ndarray of uint8, shape (ceil(n_bits / 8),)
        The packed code every member shares.
    members : ndarray of int64
        The ids in the bucket, ascending.
    labels : ndarray or None
        The members' labels, when labels were given.
    majority_label : object or None
        The most frequent label (ties: the smallest label).
    purity : float or None
        Fraction of the members carrying the majority label.
    """

    key: int
    code: np.ndarray
    members: np.ndarray
    labels: np.ndarray | None = None
    majority_label: Any = None
    purity: float | None = None

    @property
    def size(self) -> int:
        """Number of members."""
        return int(self.members.shape[0])


@dataclass(frozen=True)
class BucketStatistics:
    """How the stored codes are spread over the buckets of a :class:`HashTableIndex`.

    Attributes
    ----------
    n_items : int
        Stored codes.
    n_buckets : int
        Non-empty buckets (distinct codes).
    occupancy_histogram : dict of int to int
        Bucket size -> number of buckets of that size (sizes in ascending order).
    largest_bucket : int
        Size of the fullest bucket (0 for an empty index).
    mean_occupancy : float
        ``n_items / n_buckets``: mean size of a non-empty bucket (0.0 for an empty index).
    collision_fraction : float
        Fraction of the items that share their bucket with at least one other item
        (0.0 for an empty index).
    label_purity : float or None
        With labels: ``sum_b (count of the majority label in b) / n_items``, the
        size-weighted fraction of the majority label per bucket (1.0 = every bucket is
        single-label; NaN for an empty index). None without labels.
    largest_buckets : tuple of BucketInfo
        The ``n_largest`` fullest buckets, by decreasing size, ties by increasing key,
        with their members (and labels when given).
    """

    n_items: int
    n_buckets: int
    occupancy_histogram: dict[int, int]
    largest_bucket: int
    mean_occupancy: float
    collision_fraction: float
    label_purity: float | None = None
    largest_buckets: tuple[BucketInfo, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        """The scalar statistics and the histogram as plain JSON values (no members)."""
        return {
            "n_items": self.n_items,
            "n_buckets": self.n_buckets,
            "occupancy_histogram": {str(k): v for k, v in self.occupancy_histogram.items()},
            "largest_bucket": self.largest_bucket,
            "mean_occupancy": self.mean_occupancy,
            "collision_fraction": self.collision_fraction,
            "label_purity": self.label_purity,
        }


# -- the index --------------------------------------------------------------------------------
@register
class HashTableIndex(BinaryIndex):
    """One hash table keyed by the whole code, searched exactly by Hamming-radius probing.

    ``probe`` / ``range_search`` return every item within the radius (exact range
    search); ``search`` grows the radius until the ``k``-th neighbour is certain, so it
    is exact k-NN too and returns the same arrays as :class:`LinearScanIndex`. Results
    are sorted by ``(distance, database id)``; ties break by the smaller database id,
    always. See the module docstring for the structure and the probing strategies.

    Parameters
    ----------
    n_bits : int
        Code length in bits, in ``[1, 64]`` (bucket keys are 64-bit integers).
    n_threads : int or None, default=None
        Threads used by the probing and scanning kernels (queries are split across
        them); ``None`` or ``-1`` use numba's whole pool.
    hasher : hasher, optional
        The hasher that produced the codes; enables :meth:`add_vectors` /
        :meth:`search_vectors` and is saved with the index.

    Attributes
    ----------
    bucket_keys_ : ndarray of uint64, shape (n_buckets,)
        Distinct keys, ascending.
    bucket_offsets_ : ndarray of int64, shape (n_buckets + 1,)
        CSR offsets of the buckets into ``bucket_ids_``.
    bucket_ids_ : ndarray of int64, shape (ntotal,)
        Stored ids sorted by ``(key, id)``.
    last_stats_ : ProbeStatistics or None
        Per-query work of the last ``probe`` / ``range_search`` / ``search`` call.

    Notes
    -----
    ``add`` sorts the new codes' keys (``O(m log m)``); they are merged into the sorted
    arrays at the first use after a run of adds, in one ``O(ntotal + m log m)`` pass
    however many adds there were.

    A probe of radius ``r`` costs ``sum_{d <= r} C(n_bits, d)`` key lookups. Once that
    times :attr:`lookup_cost` exceeds the number of buckets, the index compares the
    queries with every bucket key instead (the exhaustive kernel of
    :class:`LinearScanIndex`; same results, ``last_stats_.scanned``), and
    ``range_search`` / ``probe`` warn with :class:`ProbeCostWarning`. k-NN ``search`` is
    cheap when the ``k``-th neighbour is near (short codes, clustered data); when it is
    far (long random codes) it ends in the exhaustive scan of the codes and costs about
    as much as :class:`LinearScanIndex`.

    Examples
    --------
    >>> import numpy as np
    >>> from hashlearn.codes import pack_bits
    >>> database = pack_bits([[0, 0, 0, 0], [1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]])
    >>> index = HashTableIndex(n_bits=4).add(database)
    >>> lims, distances, indices = index.probe(pack_bits([[0, 0, 0, 0]]), radius=1)
    >>> distances, indices
    (array([0, 0, 1], dtype=int32), array([0, 3, 2]))
    >>> index.search(pack_bits([[1, 1, 1, 0]]), k=2)
    (array([[1, 2]], dtype=int32), array([[1, 2]]))
    >>> index.bucket_statistics().occupancy_histogram
    {1: 2, 2: 1}
    """

    _max_bits = 64
    _folder_support = True

    #: Cost of looking up one key, in units of one stored code compared by the scan
    #: kernel. Measured on 10^6 clustered 64-bit codes, 2 threads (2-core Xeon,
    #: 2026-11-25): 2.08 million lookups (radius 2) take 50 ms, a range scan 200 ms for
    #: 10^9 code comparisons; one lookup costs as much as comparing about 100-250 codes.
    lookup_cost = 200

    _key_table_cache: tuple[np.ndarray, int] | None

    def __init__(self, n_bits: int, *, n_threads: int | None = None, hasher: Any = None) -> None:
        if isinstance(n_bits, (int, np.integer)) and not isinstance(n_bits, bool) and n_bits > 64:
            raise ValueError(
                f"n_bits must be in [1, 64] for HashTableIndex (bucket keys are 64-bit), "
                f"got {n_bits}; use LinearScanIndex for longer codes"
            )
        super().__init__(n_bits, hasher=hasher)
        self.n_threads = check_n_threads(n_threads)
        self._clear_table()

    def _storage_width(self) -> int:
        return 8  # one 64-bit word per code (n_bits <= 64), read in place by the scan

    def _scan_is_cheaper(self, n_keys: int, population: int | None = None) -> bool:
        """Whether looking up ``n_keys`` keys costs more than comparing ``population`` keys.

        ``population`` defaults to the number of buckets (what a range scan compares). A
        lookup never counts as cheaper than one comparison, so a ball larger than the
        population is always scanned, whatever ``lookup_cost`` says.
        """
        if population is None:
            population = self.n_buckets
        return n_keys * max(float(self.lookup_cost), 1.0) > population

    def _words(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Queries and stored codes as ``uint64`` words, for the scan kernels."""
        return as_words(queries), self._store.view().view(np.uint64)

    def _key_table(self) -> tuple[np.ndarray, int]:
        """The open-addressing table of the bucket keys (built on first use after a change)."""
        if self._key_table_cache is None:
            self._key_table_cache = build_key_table(self.bucket_keys_)
        return self._key_table_cache

    def _clear_table(self) -> None:
        self._set_buckets(
            np.empty(0, dtype=np.uint64), np.zeros(1, dtype=np.int64), np.empty(0, dtype=np.int64)
        )
        self.last_stats_: ProbeStatistics | None = None

    def _set_buckets(self, keys: np.ndarray, offsets: np.ndarray, ids: np.ndarray) -> None:
        self._keys, self._offsets, self._ids = keys, offsets, ids
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._key_table_cache = None

    @property
    def bucket_keys_(self) -> np.ndarray:
        """Distinct keys, ascending (see the class docstring)."""
        self._merge_pending()
        return self._keys

    @property
    def bucket_offsets_(self) -> np.ndarray:
        """CSR offsets of the buckets into :attr:`bucket_ids_`."""
        self._merge_pending()
        return self._offsets

    @property
    def bucket_ids_(self) -> np.ndarray:
        """Stored ids sorted by ``(key, id)``."""
        self._merge_pending()
        return self._ids

    def _merge_pending(self) -> None:
        """Merge the codes added since the last merge into the sorted arrays, all at once.

        Each add only sorts its own keys; merging at the first use after a run of adds
        costs one pass over the stored ids however many adds there were (``add_chunks``
        of 10^8 codes in 100 chunks would otherwise re-merge every stored id 100 times).
        """
        if not self._pending:
            return
        # Chunks are in id order and each is sorted by (key, id): a stable sort of their
        # concatenation by key is the (key, id) order of all of them.
        pending, self._pending = self._pending, []
        new_keys = np.concatenate([keys for keys, _ in pending])
        new_ids = np.concatenate([ids for _, ids in pending])
        if len(pending) > 1:
            order = np.argsort(new_keys, kind="stable")
            new_keys, new_ids = new_keys[order], new_ids[order]
        if self._ids.shape[0]:
            old_keys = np.repeat(self._keys, np.diff(self._offsets))
            # side="right": new ids (all larger) go after the old members of a bucket.
            where = np.searchsorted(old_keys, new_keys, side="right")
            sorted_keys = np.insert(old_keys, where, new_keys)
            sorted_ids = np.insert(self._ids, where, new_ids)
        else:
            sorted_keys, sorted_ids = new_keys, new_ids
        starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
        self._keys = sorted_keys[starts]
        self._offsets = np.append(starts, sorted_keys.shape[0]).astype(np.int64)
        self._ids = sorted_ids
        self._key_table_cache = None

    @property
    def n_buckets(self) -> int:
        """Number of non-empty buckets (distinct stored codes)."""
        return int(self.bucket_keys_.shape[0])

    def __repr__(self) -> str:
        return (
            f"HashTableIndex(n_bits={self._n_bits}, ntotal={self.ntotal}, "
            f"n_buckets={self.n_buckets})"
        )

    # -- building ------------------------------------------------------------------------
    def _add(self, codes: np.ndarray, first_id: int) -> None:
        new_keys = bucket_keys(codes, self._n_bits)
        order = np.argsort(new_keys, kind="stable")
        self._pending.append((new_keys[order], order.astype(np.int64) + first_id))
        self._key_table_cache = None

    def _reset(self) -> None:
        self._clear_table()

    def _empty_search_stats(self, n_queries: int) -> None:
        zeros = np.zeros(n_queries, dtype=np.int64)
        self.last_stats_ = ProbeStatistics(
            radius=np.zeros(n_queries, dtype=np.int32),
            buckets_probed=zeros,
            buckets_hit=zeros.copy(),
            candidates=zeros.copy(),
            scanned=np.zeros(n_queries, dtype=bool),
        )

    # -- probing -------------------------------------------------------------------------
    def probe(self, query_codes: Any, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every stored item within Hamming distance ``radius`` of each query (exact).

        Results come in radius order: all items at distance 0, then distance 1, ...;
        within a distance, by database id. The masks of ``0 .. radius`` bits are looked up
        when there are at most as many as non-empty buckets; otherwise every bucket key
        is compared with the query (same result, less work). :attr:`last_stats_` records
        the work per query.

        Parameters
        ----------
        query_codes : ndarray of uint8, shape (n_queries, ceil(n_bits / 8))
        radius : int
            ``>= 0``; values above ``n_bits`` act as ``n_bits``.

        Returns
        -------
        lims : ndarray of int64, shape (n_queries + 1,)
        distances : ndarray of int32, shape (lims[-1],)
        indices : ndarray of int64, shape (lims[-1],)
            Query ``i``'s results are ``[lims[i]:lims[i + 1]]``.
        """
        return self.range_search(query_codes, radius)

    def _range_search(
        self, queries: np.ndarray, radius: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        query_keys = bucket_keys(queries, self._n_bits)
        n_queries = query_keys.shape[0]
        ball = n_masks(self._n_bits, radius)
        if self._scan_is_cheaper(ball):
            warnings.warn(
                f"radius {radius} on {self._n_bits}-bit codes means probing {ball:,} keys per "
                f"query, which costs more than comparing the query with all "
                f"{self.n_buckets:,} bucket keys; scanning them instead (same results). Use "
                "a smaller radius, LinearScanIndex, or MultiIndexHashing for large radii.",
                ProbeCostWarning,
                stacklevel=4,
            )
            # The bucket keys are the distinct codes as 64-bit words: the exhaustive range
            # kernel finds every bucket within the radius, then the members are gathered.
            with threads(self.n_threads):
                key_lims, key_distances, buckets = range_scan(
                    query_keys.reshape(-1, 1), self.bucket_keys_.reshape(-1, 1), radius
                )
            owner = np.repeat(np.arange(n_queries, dtype=np.int64), np.diff(key_lims))
            lims, distances, indices, hits = self._collect(
                [(owner, key_distances, buckets)], n_queries
            )
            self.last_stats_ = ProbeStatistics(
                radius=np.full(n_queries, radius, dtype=np.int32),
                buckets_probed=np.full(n_queries, self.n_buckets, dtype=np.int64),
                buckets_hit=hits,
                candidates=np.diff(lims),
                scanned=np.ones(n_queries, dtype=bool),
            )
            return lims, distances, indices
        masks, mask_distances = _masks_up_to(self._n_bits, radius)
        with threads(self.n_threads):
            lims, distances, indices, hits = probe_table(
                query_keys,
                masks,
                mask_distances,
                self._key_table(),
                self.bucket_offsets_,
                self.bucket_ids_,
            )
        self.last_stats_ = ProbeStatistics(
            radius=np.full(n_queries, radius, dtype=np.int32),
            buckets_probed=np.full(n_queries, masks.shape[0], dtype=np.int64),
            buckets_hit=hits,
            candidates=np.diff(lims),
            scanned=np.zeros(n_queries, dtype=bool),
        )
        return lims, distances, indices

    def _collect(
        self, pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray]], n_queries: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Members of the hit buckets as CSR results sorted by (query, distance, id).

        ``pieces`` holds ``(query, distance, bucket)`` triples, one per bucket hit.
        Returns ``lims, distances, indices`` and the number of buckets hit per query.
        """
        if pieces:
            hit_query = np.concatenate([p[0] for p in pieces])
            hit_distance = np.concatenate([p[1] for p in pieces]).astype(np.int32, copy=False)
            hit_bucket = np.concatenate([p[2] for p in pieces])
        else:
            hit_query = hit_bucket = np.empty(0, dtype=np.int64)
            hit_distance = np.empty(0, dtype=np.int32)
        positions, owner = gather_buckets(self.bucket_offsets_, hit_bucket)
        query = hit_query[owner]
        distances = hit_distance[owner]
        indices = self.bucket_ids_[positions]
        n_values = self._n_bits + 1
        if n_queries * n_values * max(1, self.ntotal) < 2**62:
            sort_key = (query * n_values + distances) * self.ntotal + indices
            order = np.argsort(sort_key)
        else:  # pragma: no cover - only for astronomically large batches
            order = np.lexsort((indices, distances, query))
        lims = np.zeros(n_queries + 1, dtype=np.int64)
        np.cumsum(np.bincount(query, minlength=n_queries), out=lims[1:])
        hits = np.bincount(hit_query, minlength=n_queries).astype(np.int64)
        return lims, distances[order], indices[order], hits

    def _search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact k-NN: probe rings of growing radius until ``min(k, ntotal)`` are certain.

        After the ring at distance ``d`` a query has seen every item at distance
        ``<= d``; once that is at least ``k`` items, its ``k`` smallest
        ``(distance, id)`` pairs are among them. Rings are probed while the ball's keys
        cost less than a scan; queries still open then are answered by the exhaustive
        k-NN kernel.
        """
        query_keys = bucket_keys(queries, self._n_bits)
        n_queries = query_keys.shape[0]
        kk = min(k, self.ntotal)
        sizes = np.diff(self.bucket_offsets_)
        found = np.zeros(n_queries, dtype=np.int64)
        probed = np.zeros(n_queries, dtype=np.int64)
        reached = np.zeros(n_queries, dtype=np.int32)
        pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        active = np.arange(n_queries)
        ball = 0
        for distance in range(self._n_bits + 1):
            ball += math.comb(self._n_bits, distance)
            if not active.size or self._scan_is_cheaper(ball, self.ntotal):
                break
            masks = flip_masks(self._n_bits, distance)
            block = max(1, _PROBE_BLOCK // masks.shape[0])
            for start in range(0, active.shape[0], block):
                members = active[start : start + block]
                q, _, b = probe_by_masks(self.bucket_keys_, query_keys[members], masks)
                found[members] += np.bincount(
                    q, weights=sizes[b], minlength=members.shape[0]
                ).astype(np.int64)
                q = members[q]
                pieces.append((q, np.full(q.shape[0], distance, dtype=np.int32), b))
            probed[active] += masks.shape[0]
            reached[active] = distance
            active = active[found[active] < kk]
        if active.size:
            # Drop the rings already read for these queries: the scan answers them whole.
            keep = [~np.isin(p[0], active) for p in pieces]
            pieces = [(p[0][m], p[1][m], p[2][m]) for p, m in zip(pieces, keep, strict=True)]
        lims, distances, indices, hits = self._collect(pieces, n_queries)
        rank = np.arange(indices.shape[0]) - np.repeat(lims[:-1], np.diff(lims))
        keep_first = rank < kk
        candidates = np.diff(lims)
        top_d = np.empty((n_queries, kk), dtype=np.int32)
        top_i = np.empty((n_queries, kk), dtype=np.int64)
        probed_rows = np.ones(n_queries, dtype=bool)
        probed_rows[active] = False
        top_d[probed_rows] = distances[keep_first].reshape(-1, kk)
        top_i[probed_rows] = indices[keep_first].reshape(-1, kk)
        if active.size:
            query_words, database = self._words(queries[active])
            with threads(self.n_threads):
                top_d[active], top_i[active] = knn_scan(query_words, database, kk, self._n_bits)
            reached[active] = top_d[active, -1]
            candidates[active] = self.ntotal
        self.last_stats_ = ProbeStatistics(
            radius=reached,
            buckets_probed=probed,
            buckets_hit=hits,
            candidates=candidates,
            scanned=~probed_rows,
        )
        return top_d, top_i

    # -- inspecting buckets ------------------------------------------------------------------
    def bucket_members(self, code: Any) -> np.ndarray:
        """Ids stored in the bucket of ``code`` (one packed code), ascending; empty if none.

        ``code`` may be of shape ``(n_bytes,)`` or ``(1, n_bytes)``.
        """
        array = np.asarray(code)
        if array.ndim == 1:
            array = array.reshape(1, -1)
        array = self._check_codes(array, "code")
        if array.shape[0] != 1:
            raise ValueError(f"code must be a single packed code, got {array.shape[0]} codes")
        key = bucket_keys(array, self._n_bits)[0]
        position = int(np.searchsorted(self.bucket_keys_, key))
        if position == self.n_buckets or self.bucket_keys_[position] != key:
            return np.empty(0, dtype=np.int64)
        start, stop = self.bucket_offsets_[position], self.bucket_offsets_[position + 1]
        return self.bucket_ids_[start:stop].copy()

    def bucket_statistics(self, labels: Any = None, *, n_largest: int = 10) -> BucketStatistics:
        """Occupancy, collisions and (with labels) label purity of the buckets.

        Parameters
        ----------
        labels : array-like of shape (ntotal,), optional
            One class label per stored item (by id). Enables ``label_purity`` and the
            labels of the largest buckets.
        n_largest : int, default 10
            How many of the fullest buckets to list with their members.

        Returns
        -------
        BucketStatistics

        Examples
        --------
        >>> import numpy as np
        >>> from hashlearn.codes import keys_to_codes
        >>> index = HashTableIndex(n_bits=4).add(keys_to_codes([3, 3, 3, 5, 5, 7], 4))
        >>> stats = index.bucket_statistics(labels=["a", "a", "b", "c", "c", "c"], n_largest=1)
        >>> stats.n_buckets, stats.occupancy_histogram, stats.collision_fraction
        (3, {1: 1, 2: 1, 3: 1}, 0.8333333333333334)
        >>> stats.largest_buckets[0].members, str(stats.largest_buckets[0].majority_label)
        (array([0, 1, 2]), 'a')
        """
        n_largest = check_int(n_largest, "n_largest", low=0)
        label_array: np.ndarray | None = None
        if labels is not None:
            label_array = np.asarray(labels)
            if label_array.ndim != 1 or label_array.shape[0] != self.ntotal:
                raise ValueError(
                    f"labels must be 1-D with one label per stored item ({self.ntotal}), "
                    f"got shape {label_array.shape}"
                )
        n_items = self.ntotal
        sizes = np.diff(self.bucket_offsets_)
        size_values, size_counts = np.unique(sizes, return_counts=True)
        histogram = {int(s): int(c) for s, c in zip(size_values, size_counts, strict=True)}
        purity: float | None = None
        majority: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        if label_array is not None:
            purity = float("nan")
            if n_items:
                majority = self._majority_labels(label_array)
                purity = float(majority[0].sum() / n_items)
        largest = []
        for b in np.lexsort((self.bucket_keys_, -sizes))[:n_largest]:
            members = self.bucket_ids_[self.bucket_offsets_[b] : self.bucket_offsets_[b + 1]]
            key = self.bucket_keys_[b : b + 1]
            extra: dict[str, Any] = {}
            if label_array is not None and majority is not None:
                count, winner, classes = majority
                extra = {
                    "labels": label_array[members],
                    "majority_label": classes[winner[b]],
                    "purity": float(count[b] / members.shape[0]),
                }
            largest.append(
                BucketInfo(
                    key=int(key[0]),
                    code=keys_to_codes(key, self._n_bits)[0],
                    members=members.copy(),
                    **extra,
                )
            )
        return BucketStatistics(
            n_items=n_items,
            n_buckets=self.n_buckets,
            occupancy_histogram=histogram,
            largest_bucket=int(sizes.max()) if sizes.size else 0,
            mean_occupancy=n_items / self.n_buckets if self.n_buckets else 0.0,
            collision_fraction=float(sizes[sizes > 1].sum() / n_items) if n_items else 0.0,
            label_purity=purity,
            largest_buckets=tuple(largest),
        )

    def _majority_labels(self, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per bucket: count and class code of the majority label (ties: smallest class)."""
        classes, codes = np.unique(labels, return_inverse=True)
        n_classes = classes.shape[0]
        bucket_of_position = np.repeat(np.arange(self.n_buckets), np.diff(self.bucket_offsets_))
        pair = bucket_of_position * n_classes + codes[self.bucket_ids_]
        pairs, counts = np.unique(pair, return_counts=True)
        pair_bucket, pair_class = np.divmod(pairs, n_classes)
        # Within a bucket, sort by decreasing count then increasing class: the first wins.
        order = np.lexsort((pair_class, -counts, pair_bucket))
        first = np.r_[True, pair_bucket[order][1:] != pair_bucket[order][:-1]]
        winners = order[first]
        return counts[winners], pair_class[winners], classes

    # -- persistence ---------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, np.ndarray]]:
        params, attributes, arrays = super()._get_state()
        params["n_threads"] = self.n_threads
        return params, attributes, arrays

    def _folder_params(self) -> dict[str, Any]:
        return {**super()._folder_params(), "n_threads": self.n_threads}

    def _folder_arrays(self) -> dict[str, np.ndarray]:
        return {
            "bucket_keys": self.bucket_keys_,
            "bucket_offsets": self.bucket_offsets_,
            "bucket_ids": self.bucket_ids_,
        }

    def _open_folder(self, codes: np.ndarray, arrays: dict[str, np.ndarray], folder: Path) -> None:
        try:
            keys, offsets, ids = (arrays[name] for name in self._folder_arrays())
        except KeyError as exc:
            raise ValueError(f"the bucket array {exc} is missing") from exc
        problem = _bucket_shape_problem(keys, offsets, ids, codes.shape[0])
        if problem is None and (offsets[0] != 0 or offsets[-1] != codes.shape[0]):
            problem = "bucket offsets do not run from 0 to ntotal"
        if problem:
            raise ValueError(problem)
        super()._open_folder(codes, arrays, folder)
        self._set_buckets(keys, offsets, ids)

    def _extra_state(self, attributes: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        arrays["bucket_keys"] = self.bucket_keys_
        arrays["bucket_offsets"] = self.bucket_offsets_
        arrays["bucket_ids"] = self.bucket_ids_

    def _restore(
        self, codes: np.ndarray, attributes: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> None:
        name = type(self).__name__
        try:
            keys = np.asarray(arrays["bucket_keys"])
            offsets = np.asarray(arrays["bucket_offsets"])
            ids = np.asarray(arrays["bucket_ids"])
        except KeyError as exc:
            raise ValueError(f"corrupt {name} file: array {exc} is missing") from exc
        n = codes.shape[0]
        problem = _bucket_shape_problem(keys, offsets, ids, n)
        if problem is None:
            problem = _bucket_content_problem(keys, offsets, ids, codes, self._n_bits)
        if problem:
            raise ValueError(f"corrupt {name} file: {problem}; save the index again")
        self._store.append(codes)
        self._set_buckets(keys, offsets, ids)


def _bucket_content_problem(
    keys: np.ndarray, offsets: np.ndarray, ids: np.ndarray, codes: np.ndarray, n_bits: int
) -> str | None:
    """What is wrong with the content of well-shaped bucket arrays, or None (reads them all)."""
    n = codes.shape[0]
    if offsets[0] != 0 or offsets[-1] != n or np.any(np.diff(offsets) <= 0):
        return "bucket offsets are not increasing from 0 to ntotal"
    if np.any(keys[1:] <= keys[:-1]):
        return "bucket keys are not strictly increasing"
    if n and (ids.min() < 0 or ids.max() >= n or np.any(np.bincount(ids, minlength=n) != 1)):
        return "bucket ids are not a permutation of 0 .. ntotal - 1"
    if n and np.any(bucket_keys(codes, n_bits)[ids] != np.repeat(keys, np.diff(offsets))):
        return "bucket keys do not match the stored codes"
    return None


def _bucket_shape_problem(
    keys: np.ndarray, offsets: np.ndarray, ids: np.ndarray, n: int
) -> str | None:
    """What is wrong with the dtypes or shapes of bucket arrays for ``n`` codes, or None."""
    if keys.dtype != np.uint64 or offsets.dtype != np.int64 or ids.dtype != np.int64:
        return "bucket arrays have the wrong dtypes"
    if keys.ndim != 1 or offsets.shape != (keys.shape[0] + 1,) or ids.shape != (n,):
        return "bucket arrays have inconsistent shapes"
    return None

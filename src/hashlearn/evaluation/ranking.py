"""Evaluation at scale: every Hamming-ranking metric from one counting pass per query.

The whole database is ranked for every query by (Hamming distance, database index) -- the
stable tie rule of :mod:`hashlearn.evaluation.metrics` -- without sorting anything and
without a dense ``(n_queries, n_database)`` matrix. Hamming distances are small integers
in ``[0, n_bits]``, so ranks follow from counting:

**Pass 1** (per query): the distance ``d_j`` of every database item ``j`` and whether it is
relevant, and the histograms ``items[d]`` and ``relevant[d]`` for ``d = 0..n_bits``.

**Pass 2** (database-index order): with ``N_<(d) = sum_{e<d} items[e]`` and a running counter
per distance, the exact rank of item ``j`` under the (distance, index) order is

``pos_j = N_<(d_j) + #{i <= j : d_i = d_j}``,

and for a relevant item its rank among the relevant ones is
``m_j = R_<(d_j) + #{i <= j relevant : d_i = d_j}`` (``R_<`` the prefix sums of
``relevant``), so ``P@pos_j = m_j / pos_j``. These precisions are stored at index ``m_j``
(rank order) and, for the list of cut-offs ``K``, the relevant items are counted into
``K`` slots (the smallest ``K >= pos_j``).

**Pass 3**: the precisions are summed in rank order (a plain sequential sum, so results do
not depend on threads or blocks and equal the ranked-matrix functions of
:mod:`~hashlearn.evaluation.metrics` bit for bit), reading the running sum at the number of
relevant items within each ``K``.

From these per-query statistics: ``AP@all = (1/R) * sum_j P@pos_j`` over relevant ``j``;
``AP@K`` and ``P@K`` from the running sums at ``K``; P@r, the precision-recall curve by radius
and the tie-aware AP from the histograms alone. Work is ``O(n_queries * n_database)`` with no
``log`` factor; memory is about 24 bytes per database item per thread plus the per-query
outputs. Queries are split across numba's threads; small problems run on one thread.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
from numba import prange
from numpy.typing import NDArray

from hashlearn import _numba
from hashlearn.codes import as_words, hamming_distances
from hashlearn.evaluation.metrics import (
    MAPResult,
    PrecisionResult,
    RadiusPrecisionResult,
    _check_code_pair,
    _frozen,
    _harmonic_numbers,
    _Labels,
    _map_result,
    _prepare_labels,
    _resolve_n_bits,
    _sequential_sums,
    _tie_aware_per_query,
)

__all__ = [
    "HammingEvaluation",
    "default_curve_ks",
    "evaluate_hamming_ranking",
    "ranking_statistics_reference",
]

# Queries handed to one thread at a time (each thread allocates its scratch once per block).
_QUERY_BLOCK = 8
# Interleaved copies of the counters in the kernel (breaks store-to-load dependencies).
_LANES = 4
# Bytes of per-query statistics (histograms, sums at each K) held at once: queries are
# processed in blocks of about this size, so memory stays bounded whatever n_queries.
_STATISTICS_BYTES = 32 * 2**20


# --------------------------------------------------------------------------------------
# The kernel
# --------------------------------------------------------------------------------------


def _rank_scan_py(
    queries,
    database,
    query_labels,
    database_labels,
    multi,
    k_slot,
    ranks,
    items,
    relevant,
    ap_all,
    hits,
    ap_sums,
):
    """Histograms and rank statistics of each query's Hamming ranking (see module doc).

    ``queries`` / ``database``: uint64 words. Labels: uint64 ``(n, n_label_words)``;
    ``multi=False``: one word, equal ids are relevant; ``multi=True``: packed label sets,
    relevant when ``AND != 0``. ``k_slot[p]`` (``p = 0..n_database``): index of the smallest
    cut-off ``K >= p`` (``n_ks`` when none). ``ranks=False`` stops after pass 1.

    Outputs (written): ``items``, ``relevant`` int64 ``(n_queries, n_bins)``; ``ap_all``
    float64 ``(n_queries,)`` = sum of ``P@pos`` over relevant items; ``hits`` int64
    ``(n_queries, n_ks)`` = relevant items within the top ``K``; ``ap_sums`` float64
    ``(n_queries, n_ks)`` = sum of ``P@pos`` over relevant items within the top ``K``.
    """
    n_queries, n_words = queries.shape
    n_database = database.shape[0]
    n_label_words = query_labels.shape[1]
    n_bins = items.shape[1]
    n_ks = hits.shape[1]
    n_blocks = (n_queries + _QUERY_BLOCK - 1) // _QUERY_BLOCK
    for block in prange(n_blocks):
        # key[j] = 2 * distance + relevant: one array read by both passes
        key = np.empty(n_database, dtype=np.int32)
        # _LANES interleaved histograms (item j counts in copy j % _LANES), so that runs of
        # equal keys do not serialise on one memory location
        histogram = np.empty((_LANES, 2 * n_bins), dtype=np.int64)
        # seen[d]: rank of the last item met at distance d; starts at N_<(d)
        seen = np.empty(n_bins, dtype=np.int64)
        relevant_before = np.empty(n_bins, dtype=np.int64)
        seen_relevant = np.empty(n_bins, dtype=np.int64)
        precision_at = np.empty(n_database, dtype=np.float64)
        found_position = np.empty(n_database + 1, dtype=np.int64)
        found_distance = np.empty(n_database + 1, dtype=np.int32)
        slot_hits = np.empty(n_ks + 1, dtype=np.int64)
        stop = min((block + 1) * _QUERY_BLOCK, n_queries)
        for q in range(block * _QUERY_BLOCK, stop):
            # pass 1: distances and relevance -> keys -> histograms
            if n_words == 1:
                word = queries[q, 0]
                for j in range(n_database):
                    key[j] = 2 * _numba.popcount64(word ^ database[j, 0])
            else:
                for j in range(n_database):
                    total_bits = 0
                    for w in range(n_words):
                        total_bits += _numba.popcount64(queries[q, w] ^ database[j, w])
                    key[j] = 2 * total_bits
            if multi:
                for j in range(n_database):
                    shared = np.uint64(0)
                    for w in range(n_label_words):
                        shared |= query_labels[q, w] & database_labels[j, w]
                    key[j] += shared != 0
            else:
                label = query_labels[q, 0]
                for j in range(n_database):
                    key[j] += database_labels[j, 0] == label
            histogram[:] = 0
            for j in range(n_database):
                histogram[j & (_LANES - 1), key[j]] += 1
            for d in range(n_bins):
                n_irrelevant = 0
                n_relevant_d = 0
                for lane in range(_LANES):
                    n_irrelevant += histogram[lane, 2 * d]
                    n_relevant_d += histogram[lane, 2 * d + 1]
                items[q, d] = n_irrelevant + n_relevant_d
                relevant[q, d] = n_relevant_d
            if not ranks:
                continue
            # pass 2: rank of item j = N_<(d_j) + #{i <= j : d_i = d_j}
            before = 0
            before_relevant = 0
            for d in range(n_bins):
                seen[d] = before
                relevant_before[d] = before_relevant
                seen_relevant[d] = 0
                before += items[q, d]
                before_relevant += relevant[q, d]
            n_relevant = before_relevant
            # 2a, branch-free: every item advances its distance's counter; its rank is
            # written at slot n_found, which advances only for relevant items
            n_found = 0
            for j in range(n_database):
                d = key[j] >> 1
                position = seen[d] + 1
                seen[d] = position
                found_position[n_found] = position
                found_distance[n_found] = d
                n_found += key[j] & 1
            # 2b, relevant items only (in index order): their rank among the relevant
            slot_hits[:] = 0
            for i in range(n_found):
                d = found_distance[i]
                position = found_position[i]
                seen_relevant[d] += 1
                m = relevant_before[d] + seen_relevant[d]
                precision_at[m - 1] = m / position
                slot_hits[k_slot[position]] += 1
            # pass 3: sequential sums in rank order, read at each cut-off
            running = 0.0
            i = 0
            cumulative = 0
            for s in range(n_ks):
                cumulative += slot_hits[s]
                hits[q, s] = cumulative
                while i < cumulative:
                    running += precision_at[i]
                    i += 1
                ap_sums[q, s] = running
            while i < n_relevant:
                running += precision_at[i]
                i += 1
            ap_all[q] = running


_rank_scan = _numba.compile_both(_rank_scan_py)


@dataclass(frozen=True)
class _Statistics:
    """Per-query statistics of a block of queries (the kernel's outputs)."""

    items: np.ndarray  # int64 (n, n_bins)
    relevant: np.ndarray  # int64 (n, n_bins)
    ap_all: np.ndarray  # float64 (n,)
    hits: np.ndarray  # int64 (n, n_ks)
    ap_sums: np.ndarray  # float64 (n, n_ks)


def _label_words(labels: _Labels) -> tuple[np.ndarray, np.ndarray]:
    """Labels as the kernel reads them: uint64 ``(n, n_label_words)`` on both sides."""
    if labels.multi:
        return (
            np.ascontiguousarray(labels.query, dtype=np.uint64),
            np.ascontiguousarray(labels.database, dtype=np.uint64),
        )
    # single-label ids are non-negative (np.unique inverse), so uint64 is exact
    return (
        labels.query.astype(np.uint64).reshape(-1, 1),
        labels.database.astype(np.uint64).reshape(-1, 1),
    )


def _k_slots(ks: np.ndarray, n_database: int) -> np.ndarray:
    """``slot[p]`` = index of the smallest cut-off ``K >= p`` (``len(ks)`` when none)."""
    return np.searchsorted(ks, np.arange(n_database + 1), side="left").astype(np.int64)


def _iter_statistics(
    queries: np.ndarray,
    database: np.ndarray,
    labels: _Labels,
    n_bins: int,
    ks: np.ndarray,
    *,
    ranks: bool,
    n_threads: int | None = None,
) -> Iterator[tuple[int, int, _Statistics]]:
    """Run the kernel over blocks of queries; yield ``(start, stop, statistics)``.

    ``ks``: sorted unique cut-offs in ``[1, n_database]``. ``n_bins`` must exceed every
    possible distance (``n_bits + 1``; padding bits zero). Scratch memory is bounded by
    ``_STATISTICS_BYTES`` of per-query statistics plus ``O(n_database)`` per thread.
    """
    query_words = as_words(queries)
    database_words = as_words(database)
    query_labels, database_labels = _label_words(labels)
    n_queries, n_database = queries.shape[0], database.shape[0]
    n_ks = ks.shape[0]
    k_slot = _k_slots(ks, n_database)
    per_query = 16 * (n_bins + n_ks) + 8
    block = max(1, min(n_queries, _STATISTICS_BYTES // per_query))
    with _numba.threads(n_threads):
        for start in range(0, n_queries, block):
            stop = min(start + block, n_queries)
            size = stop - start
            stats = _Statistics(
                items=np.empty((size, n_bins), dtype=np.int64),
                relevant=np.empty((size, n_bins), dtype=np.int64),
                ap_all=np.zeros(size, dtype=np.float64),
                hits=np.zeros((size, n_ks), dtype=np.int64),
                ap_sums=np.zeros((size, n_ks), dtype=np.float64),
            )
            work = size * n_database * (query_words.shape[1] + 1)
            _numba.pick(_rank_scan, work)(
                query_words[start:stop],
                database_words,
                query_labels[start:stop],
                database_labels,
                labels.multi,
                k_slot,
                ranks,
                stats.items,
                stats.relevant,
                stats.ap_all,
                stats.hits,
                stats.ap_sums,
            )
            yield start, stop, stats


def ranking_statistics_reference(
    query_codes: Any,
    database_codes: Any,
    query_labels: Any,
    database_labels: Any,
    ks: Iterable[int] = (),
    *,
    n_bits: int | None = None,
) -> dict[str, np.ndarray]:
    """The numpy reference of the ranking kernel: a full stable sort per query.

    Computes, from :func:`hashlearn.codes.hamming_distances` and a stable argsort of each
    query's distances (ties by database index), the statistics the compiled kernel
    produces by counting: ``items`` and ``relevant`` histograms over distances
    ``0..n_bits``, ``ap_all`` (sum over relevant items of the precision at their position),
    and for each cut-off in ``sorted(set(ks))``: ``hits`` (relevant items within the top K)
    and ``ap_sums`` (sum of the precision at the relevant positions ``<= K``). Sums run
    left to right in rank order, as in the kernel, so the two agree exactly. Slow
    (``O(n_database log n_database)`` per query, one dense row at a time); for tests.

    Parameters
    ----------
    query_codes, database_codes : ndarray of uint8
    query_labels, database_labels : array-like
        As in :func:`hashlearn.evaluation.mean_average_precision`.
    ks : iterable of int, default ()
        Cut-offs in ``[1, n_database]``.
    n_bits : int or None, default None
        None means ``8 * n_bytes``.

    Returns
    -------
    dict with keys ``"ks", "items", "relevant", "ap_all", "hits", "ap_sums"``.

    Examples
    --------
    >>> from hashlearn.codes import pack_bits
    >>> stats = ranking_statistics_reference(
    ...     pack_bits([[0, 0]]), pack_bits([[1, 1], [0, 0], [1, 0]]), [1], [1, 0, 1],
    ...     ks=[2], n_bits=2)
    >>> stats["items"].tolist(), stats["hits"].tolist()
    ([[1, 1, 1]], [[1]])
    """
    queries, database = _check_code_pair(query_codes, database_codes)
    labels = _prepare_labels(query_labels, database_labels, queries.shape[0], database.shape[0])
    n_bits = _resolve_n_bits(n_bits, queries, database)
    n_database = database.shape[0]
    cutoffs = _check_ks(ks, n_database, "ks")
    n_queries, n_bins = queries.shape[0], n_bits + 1
    out = {
        "ks": cutoffs,
        "items": np.zeros((n_queries, n_bins), dtype=np.int64),
        "relevant": np.zeros((n_queries, n_bins), dtype=np.int64),
        "ap_all": np.zeros(n_queries),
        "hits": np.zeros((n_queries, cutoffs.shape[0]), dtype=np.int64),
        "ap_sums": np.zeros((n_queries, cutoffs.shape[0])),
    }
    for i in range(n_queries):
        distances = hamming_distances(queries[i : i + 1], database)[0]
        is_relevant = labels.block(i, i + 1)[0]
        out["items"][i] = np.bincount(distances, minlength=n_bins)
        out["relevant"][i] = np.bincount(distances[is_relevant], minlength=n_bins)
        ranked = is_relevant[np.argsort(distances, kind="stable")]
        positions = np.flatnonzero(ranked) + 1
        precisions = np.arange(1, positions.shape[0] + 1) / positions
        out["ap_all"][i] = _sequential_sums(
            precisions, np.zeros(1, np.int64), np.array([precisions.shape[0]])
        )[0]
        for s, k in enumerate(cutoffs):
            within = int(np.searchsorted(positions, k, side="right"))
            out["hits"][i, s] = within
            out["ap_sums"][i, s] = _sequential_sums(
                precisions, np.zeros(1, np.int64), np.array([within])
            )[0]
    return out


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------


def _check_ks(ks: Any, n_database: int, name: str, *, nonempty: bool = False) -> np.ndarray:
    """Cut-offs as a sorted unique int64 array, each in ``[1, n_database]``."""
    if isinstance(ks, (str, bytes)) or not isinstance(ks, Iterable):
        raise TypeError(f"{name} must be a sequence of ints in [1, n_database], got {ks!r}")
    values = list(ks)
    for k in values:
        if isinstance(k, bool) or not isinstance(k, numbers.Integral):
            raise TypeError(f"{name} must hold ints in [1, n_database], got {k!r}")
        if not 1 <= k <= n_database:
            raise ValueError(
                f"{name} must hold ints K in [1, n_database={n_database}], got K={int(k)}; "
                f"pass {name}=... without cut-offs larger than the database"
            )
    if nonempty and not values:
        raise ValueError(f"{name} must hold at least one cut-off, got an empty sequence")
    return np.unique(np.asarray(values, dtype=np.int64))


def _check_radii(radii: Any) -> np.ndarray:
    if isinstance(radii, (str, bytes)) or not isinstance(radii, Iterable):
        raise TypeError(f"radii must be a sequence of non-negative ints, got {radii!r}")
    values = list(radii)
    for radius in values:
        if isinstance(radius, bool) or not isinstance(radius, numbers.Integral):
            raise TypeError(f"radii must hold non-negative ints, got {radius!r}")
        if radius < 0:
            raise ValueError(f"radii must hold non-negative ints, got {int(radius)}")
    return np.unique(np.asarray(values, dtype=np.int64))


def default_curve_ks(n_database: int) -> NDArray[np.int64]:
    """The default cut-offs of the P@K curve: 1, 2, 5, 10, 20, 50, ... below ``n_database``,
    then ``n_database`` itself.

    Examples
    --------
    >>> default_curve_ks(120).tolist()
    [1, 2, 5, 10, 20, 50, 100, 120]
    """
    if isinstance(n_database, bool) or not isinstance(n_database, numbers.Integral):
        raise TypeError(f"n_database must be a positive int, got {n_database!r}")
    if n_database < 1:
        raise ValueError(f"n_database must be a positive int, got {n_database}")
    grid = [
        mantissa * 10**exponent
        for exponent in range(int(math.log10(n_database)) + 1)
        for mantissa in (1, 2, 5)
    ]
    return np.array(sorted({k for k in grid if k < n_database} | {int(n_database)}), np.int64)


# --------------------------------------------------------------------------------------
# Per-query metrics from the statistics (shared with hashlearn.evaluation.metrics)
# --------------------------------------------------------------------------------------


def _ap_all(stats: _Statistics) -> np.ndarray:
    n_relevant = stats.relevant.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_relevant > 0, stats.ap_all / n_relevant, np.nan)


def _ap_at(stats: _Statistics, slot: int) -> np.ndarray:
    hits = stats.hits[:, slot]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(hits > 0, stats.ap_sums[:, slot] / hits, 0.0)


def _radius_counts(stats: _Statistics, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Per query: items, and relevant items, at distance ``<= radius``."""
    stop = min(radius, stats.items.shape[1] - 1) + 1
    return stats.items[:, :stop].sum(axis=1), stats.relevant[:, :stop].sum(axis=1)


def _radius_precision(stats: _Statistics, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Per query: P@r (0 when nothing is retrieved) and whether nothing is retrieved."""
    retrieved, hits = _radius_counts(stats, radius)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(retrieved > 0, hits / retrieved, 0.0), retrieved == 0


def _add_rows(total: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``total + rows[0] + rows[1] + ...`` added one row at a time (``cumsum`` is sequential),
    so sums over blocks of queries do not depend on where the blocks split."""
    if rows.shape[0] == 0:
        return total
    return np.cumsum(np.concatenate([total[None, :], rows]), axis=0)[-1]


class _CurveSums:
    """Running sums over query blocks of the precision-recall curve by radius."""

    def __init__(self, n_bins: int) -> None:
        self.precision = np.zeros(n_bins)  # macro: sum of hit / ret (empty -> 0)
        self.recall = np.zeros(n_bins)  # macro: sum over R >= 1 of hit / R
        self.n_queries = 0
        self.n_with_relevant = 0
        self.retrieved = np.zeros(n_bins, dtype=np.int64)  # micro sums
        self.hits = np.zeros(n_bins, dtype=np.int64)
        self.total_relevant = 0

    def add(self, stats: _Statistics) -> None:
        retrieved = np.cumsum(stats.items, axis=1)
        hits = np.cumsum(stats.relevant, axis=1)
        n_relevant = hits[:, -1]
        has_relevant = n_relevant > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            self.precision = _add_rows(
                self.precision, np.where(retrieved > 0, hits / retrieved, 0.0)
            )
            self.recall = _add_rows(
                self.recall, hits[has_relevant] / n_relevant[has_relevant, None]
            )
        self.n_queries += stats.items.shape[0]
        self.n_with_relevant += int(has_relevant.sum())
        self.retrieved += retrieved.sum(axis=0)
        self.hits += hits.sum(axis=0)
        self.total_relevant += int(n_relevant.sum())

    def macro(self) -> tuple[np.ndarray, np.ndarray]:
        precision = self.precision / self.n_queries
        if self.n_with_relevant:
            recall = self.recall / self.n_with_relevant
        else:
            recall = np.full(self.recall.shape[0], np.nan)
        return precision, recall

    def micro(self) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(self.retrieved > 0, self.hits / self.retrieved, 0.0)
        if self.total_relevant:
            recall = self.hits / self.total_relevant
        else:
            recall = np.full(self.hits.shape[0], np.nan)
        return precision, recall


# --------------------------------------------------------------------------------------
# The public one-call evaluation
# --------------------------------------------------------------------------------------


def _number(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


@dataclass(frozen=True, eq=False)
class HammingEvaluation:
    """Every Hamming-ranking metric of one set of queries, from one pass over the database.

    Definitions as in :mod:`hashlearn.evaluation.metrics` (and ``docs/metrics.md``):
    ranking by (Hamming distance, database index); relevance = same class (single label) or
    at least one shared label (multi-label).

    Attributes
    ----------
    map_all : MAPResult
        mAP@all; queries with no relevant item in the database are excluded (NaN in
        ``per_query``) and counted in ``n_queries_excluded``.
    tie_aware_map : MAPResult
        Expected AP@all over random orders within distance ties (He et al., 2018); the same
        exclusions as ``map_all``.
    map_at_k : mapping of int to MAPResult
        mAP@K for each requested K (AP normalised by the relevant items within the top K; a
        query with none scores 0).
    precision_at_k : mapping of int to PrecisionResult
        P@K for each requested K (denominator K).
    precision_within_radius : mapping of int to RadiusPrecisionResult
        P@r for each requested radius (an empty retrieval scores 0; ``empty_fraction``).
    pr_curve : tuple (radius int64, precision float64, recall float64), each (n_bits + 1,)
        Macro-averaged precision and recall of radius retrieval for ``r = 0..n_bits``, as
        :func:`~hashlearn.evaluation.precision_recall_curve_by_radius` (``average="macro"``).
    precision_at_k_curve : tuple (k int64, precision float64)
        Mean P@K at each cut-off of ``curve_ks``.
    n_queries : int
    n_database : int
    """

    map_all: MAPResult
    tie_aware_map: MAPResult
    map_at_k: Mapping[int, MAPResult]
    precision_at_k: Mapping[int, PrecisionResult]
    precision_within_radius: Mapping[int, RadiusPrecisionResult]
    pr_curve: tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]
    precision_at_k_curve: tuple[NDArray[np.int64], NDArray[np.float64]]
    n_queries: int
    n_database: int

    def to_dict(self) -> dict[str, Any]:
        """The summary values as JSON-ready plain Python (NaN becomes None, keys are str).

        Returns
        -------
        dict
            ``{"map", "map_n_excluded", "tie_aware_map", "map_at_k": {K: value},
            "precision_at_k": {K: value}, "precision_within_radius": {r: {"value",
            "empty_fraction"}}, "pr_curve": {"radius", "precision", "recall"},
            "precision_at_k_curve": {"k", "precision"}}``.
        """
        radius, precision, recall = self.pr_curve
        curve_ks, curve_precision = self.precision_at_k_curve
        return {
            "map": _number(self.map_all.value),
            "map_n_excluded": int(self.map_all.n_queries_excluded),
            "tie_aware_map": _number(self.tie_aware_map.value),
            "map_at_k": {str(k): _number(r.value) for k, r in self.map_at_k.items()},
            "precision_at_k": {str(k): _number(r.value) for k, r in self.precision_at_k.items()},
            "precision_within_radius": {
                str(r): {"value": _number(res.value), "empty_fraction": float(res.empty_fraction)}
                for r, res in self.precision_within_radius.items()
            },
            "pr_curve": {
                "radius": [int(r) for r in radius],
                "precision": [_number(p) for p in precision],
                "recall": [_number(r) for r in recall],
            },
            "precision_at_k_curve": {
                "k": [int(k) for k in curve_ks],
                "precision": [_number(p) for p in curve_precision],
            },
        }


def evaluate_hamming_ranking(
    query_codes: Any,
    database_codes: Any,
    query_labels: Any,
    database_labels: Any,
    *,
    n_bits: int | None = None,
    map_ks: Iterable[int] = (),
    precision_ks: Iterable[int] = (10, 100, 1000),
    radii: Iterable[int] = (0, 1, 2, 3),
    curve_ks: Iterable[int] | None = None,
    n_threads: int | None = None,
) -> HammingEvaluation:
    """mAP@all, tie-aware mAP, mAP@K, P@K, P@r and both curves in one pass per query.

    Ranking: the whole database by (Hamming distance, database index) -- ties break by
    database index (stable). Relevance: same class label (1-D labels) or at least one
    shared label (2-D 0/1 indicators). Definitions (``R`` = relevant items in the database,
    ``R_K`` = relevant within the top K):

    * mAP@all: ``AP = (1/R) * sum over relevant positions p of P@p``; a query with
      ``R = 0`` is excluded (NaN per query) and counted.
    * tie-aware mAP: expected AP over uniformly random orders within equal distances
      (closed form of He et al., 2018); same exclusions.
    * mAP@K: ``(1/R_K) * sum over relevant positions p <= K of P@p``; 0 when ``R_K = 0``.
    * P@K: ``R_K / K``.
    * P@r: ``(relevant at distance <= r) / (items at distance <= r)``; a query retrieving
      nothing scores 0 and is counted in ``empty_fraction``.
    * PR curve by radius (macro): mean over queries of P@r (empty -> 0) and mean over
      queries with ``R >= 1`` of ``(relevant at distance <= r) / R``, ``r = 0..n_bits``.

    Nothing is sorted and no ``(n_queries, n_database)`` matrix is formed: a compiled
    kernel computes, per query, the distance histograms and then the exact rank of every
    item by counting (see :mod:`hashlearn.evaluation.ranking`). Time is linear in
    ``n_queries * n_database``; memory is ``O(n_database)`` per thread plus the outputs.

    Parameters
    ----------
    query_codes : ndarray of uint8, shape (n_queries, n_bytes)
    database_codes : ndarray of uint8, shape (n_database, n_bytes)
    query_labels : array-like, shape (n_queries,) or (n_queries, n_labels)
    database_labels : array-like, shape (n_database,) or (n_database, n_labels)
    n_bits : int or None, default None
        Code length (radii of the PR curve run ``0..n_bits``); None means ``8 * n_bytes``.
        When given, the codes must have ``ceil(n_bits / 8)`` bytes and zero padding bits.
    map_ks : iterable of int, default ()
        Cut-offs K of mAP@K, each in ``[1, n_database]``.
    precision_ks : iterable of int, default (10, 100, 1000)
        Cut-offs K of P@K, each in ``[1, n_database]`` (pass smaller ones for small
        databases).
    radii : iterable of int, default (0, 1, 2, 3)
        Radii of P@r, each ``>= 0`` (a radius above ``n_bits`` retrieves everything).
    curve_ks : iterable of int or None, default None
        Cut-offs of the P@K curve; None means :func:`default_curve_ks` (1, 2, 5, 10, ...,
        ``n_database``).
    n_threads : int or None, default None
        Threads (None or -1: numba's pool). Small problems run on one thread.

    Returns
    -------
    HammingEvaluation

    Examples
    --------
    >>> from hashlearn.codes import pack_bits
    >>> queries = pack_bits([[0, 0, 0, 0]])
    >>> database = pack_bits([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 0]])
    >>> result = evaluate_hamming_ranking(
    ...     queries, database, [1], [0, 1, 0, 1], n_bits=4, map_ks=[2], precision_ks=[2],
    ...     radii=[1])
    >>> # ranking d2(0) d1(1) d0(2) d3(3): relevant at positions 2 and 4
    >>> result.map_all.value  # (1/2 + 2/4) / 2
    0.5
    >>> result.precision_at_k[2].value, result.precision_within_radius[1].value
    (0.5, 0.5)
    >>> result.to_dict()["map_at_k"]
    {'2': 0.5}
    """
    queries, database = _check_code_pair(query_codes, database_codes)
    n_queries, n_database = queries.shape[0], database.shape[0]
    labels = _prepare_labels(query_labels, database_labels, n_queries, n_database)
    n_bits = _resolve_n_bits(n_bits, queries, database)
    map_cutoffs = _check_ks(map_ks, n_database, "map_ks")
    precision_cutoffs = _check_ks(precision_ks, n_database, "precision_ks")
    radius_list = _check_radii(radii)
    curve = (
        default_curve_ks(n_database)
        if curve_ks is None
        else _check_ks(curve_ks, n_database, "curve_ks", nonempty=True)
    )
    n_threads = _numba.check_n_threads(n_threads)
    ks = np.unique(np.concatenate([map_cutoffs, precision_cutoffs, curve]))
    slot = {int(k): s for s, k in enumerate(ks)}

    map_all = np.empty(n_queries)
    tie_aware = np.empty(n_queries)
    map_at = {int(k): np.empty(n_queries) for k in map_cutoffs}
    precision_at = {int(k): np.empty(n_queries) for k in precision_cutoffs}
    radius_precision = {int(r): np.empty(n_queries) for r in radius_list}
    radius_empty = {int(r): np.empty(n_queries, dtype=bool) for r in radius_list}
    curve_sums = np.zeros(curve.shape[0])
    radius_curve = _CurveSums(n_bits + 1)
    harmonic = _harmonic_numbers(n_database)
    for start, stop, stats in _iter_statistics(
        queries, database, labels, n_bits + 1, ks, ranks=True, n_threads=n_threads
    ):
        map_all[start:stop] = _ap_all(stats)
        tie_aware[start:stop] = _tie_aware_per_query(stats.items, stats.relevant, harmonic)
        for k, values in map_at.items():
            values[start:stop] = _ap_at(stats, slot[k])
        for k, values in precision_at.items():
            values[start:stop] = stats.hits[:, slot[k]] / float(k)
        for r in radius_precision:
            radius_precision[r][start:stop], radius_empty[r][start:stop] = _radius_precision(
                stats, r
            )
        curve_slots = [slot[int(k)] for k in curve]
        curve_sums = _add_rows(curve_sums, stats.hits[:, curve_slots] / curve.astype(np.float64))
        radius_curve.add(stats)
    precision_curve, recall_curve = radius_curve.macro()
    return HammingEvaluation(
        map_all=_map_result(map_all, int(np.isnan(map_all).sum())),
        tie_aware_map=_map_result(tie_aware, int(np.isnan(tie_aware).sum())),
        map_at_k=MappingProxyType({k: _map_result(v, 0) for k, v in map_at.items()}),
        precision_at_k=MappingProxyType(
            {k: PrecisionResult(float(v.mean()), _frozen(v)) for k, v in precision_at.items()}
        ),
        precision_within_radius=MappingProxyType(
            {
                r: RadiusPrecisionResult(float(v.mean()), _frozen(v), float(radius_empty[r].mean()))
                for r, v in radius_precision.items()
            }
        ),
        pr_curve=(
            _frozen(np.arange(n_bits + 1, dtype=np.int64)),
            _frozen(precision_curve),
            _frozen(recall_curve),
        ),
        precision_at_k_curve=(_frozen(curve.copy()), _frozen(curve_sums / n_queries)),
        n_queries=n_queries,
        n_database=n_database,
    )

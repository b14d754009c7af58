"""Evaluation at scale: every Hamming-ranking metric from one counting pass per query.

:func:`evaluate_hamming_ranking` ranks the whole database for every query by (Hamming
distance, database index) -- the stable tie rule of :mod:`hashlearn.evaluation.metrics` --
without sorting anything and without a dense ``(n_queries, n_database)`` matrix, and derives
mAP@all, tie-aware mAP, mAP@K, P@K, P@r and both curves from the same per-query statistics.
The counting kernel and its three passes are described in
:mod:`hashlearn.evaluation._counting`; its numpy reference is
:func:`hashlearn.testing.ranking_statistics_reference`. Work is ``O(n_queries *
n_database)`` with no ``log`` factor; memory is about 24 bytes per database item per thread
plus the per-query outputs.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Iterable
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hashlearn import _numba
from hashlearn.evaluation._checks import (
    check_code_pair,
    check_ks,
    check_radii,
    resolve_n_bits,
)
from hashlearn.evaluation._counting import (
    CurveSums,
    Statistics,
    add_rows,
    ap_all,
    ap_at,
    harmonic_numbers,
    iter_statistics,
    radius_precision,
    tie_aware_ap_at,
    tie_aware_per_query,
    tie_aware_precision_at,
)
from hashlearn.evaluation._labels import prepare_labels
from hashlearn.evaluation.results import (
    HammingEvaluation,
    PrecisionResult,
    RadiusPrecisionResult,
    _frozen,
    _map_result,
)

__all__ = ["SortedLabelsWarning", "default_curve_ks", "evaluate_hamming_ranking"]


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


class _Sums:
    """Per-query values of :func:`evaluate_hamming_ranking`, filled one block at a time."""

    def __init__(
        self,
        n_queries: int,
        n_database: int,
        n_bits: int,
        ks: np.ndarray,
        map_cutoffs: np.ndarray,
        precision_cutoffs: np.ndarray,
        radius_list: np.ndarray,
        curve: np.ndarray,
    ) -> None:
        self.n_queries, self.n_database, self.n_bits = n_queries, n_database, n_bits
        self.slot = {int(k): s for s, k in enumerate(ks)}
        self.curve = curve
        self.map_all = np.empty(n_queries)
        self.tie_aware = np.empty(n_queries)
        self.map_at = {int(k): np.empty(n_queries) for k in map_cutoffs}
        self.tie_map_at = {int(k): np.empty(n_queries) for k in map_cutoffs}
        self.precision_at = {int(k): np.empty(n_queries) for k in precision_cutoffs}
        self.tie_precision_at = {int(k): np.empty(n_queries) for k in precision_cutoffs}
        self.within_radius = {int(r): np.empty(n_queries) for r in radius_list}
        self.radius_empty = {int(r): np.empty(n_queries, dtype=bool) for r in radius_list}
        self.curve_sums = np.zeros(curve.shape[0])
        self.radius_curve = CurveSums(n_bits + 1)
        self.harmonic = harmonic_numbers(n_database)

    def add(self, start: int, stop: int, stats: Statistics) -> None:
        slot = self.slot
        self.map_all[start:stop] = ap_all(stats)
        self.tie_aware[start:stop] = tie_aware_per_query(stats.items, stats.relevant, self.harmonic)
        for k, values in self.map_at.items():
            values[start:stop] = ap_at(stats, slot[k])
        for k, values in self.tie_map_at.items():
            values[start:stop] = tie_aware_ap_at(stats.items, stats.relevant, self.harmonic, k)
        for k, values in self.precision_at.items():
            values[start:stop] = stats.hits[:, slot[k]] / float(k)
        for k, values in self.tie_precision_at.items():
            values[start:stop] = tie_aware_precision_at(stats.items, stats.relevant, k)
        for r, values in self.within_radius.items():
            values[start:stop], self.radius_empty[r][start:stop] = radius_precision(stats, r)
        curve_slots = [slot[int(k)] for k in self.curve]
        self.curve_sums = add_rows(
            self.curve_sums, stats.hits[:, curve_slots] / self.curve.astype(np.float64)
        )
        self.radius_curve.add(stats)

    def result(self) -> HammingEvaluation:
        precision_curve, recall_curve = self.radius_curve.macro()
        return HammingEvaluation(
            map_all=_map_result(self.map_all, int(np.isnan(self.map_all).sum())),
            tie_aware_map=_map_result(self.tie_aware, int(np.isnan(self.tie_aware).sum())),
            map_at_k=MappingProxyType({k: _map_result(v, 0) for k, v in self.map_at.items()}),
            tie_aware_map_at_k=MappingProxyType(
                {k: _map_result(v, 0) for k, v in self.tie_map_at.items()}
            ),
            precision_at_k=MappingProxyType(
                {
                    k: PrecisionResult(float(v.mean()), _frozen(v))
                    for k, v in self.precision_at.items()
                }
            ),
            tie_aware_precision_at_k=MappingProxyType(
                {
                    k: PrecisionResult(float(v.mean()), _frozen(v))
                    for k, v in self.tie_precision_at.items()
                }
            ),
            precision_within_radius=MappingProxyType(
                {
                    r: RadiusPrecisionResult(
                        float(v.mean()), _frozen(v), float(self.radius_empty[r].mean())
                    )
                    for r, v in self.within_radius.items()
                }
            ),
            pr_curve=(
                _frozen(np.arange(self.n_bits + 1, dtype=np.int64)),
                _frozen(precision_curve),
                _frozen(recall_curve),
            ),
            precision_at_k_curve=(
                _frozen(self.curve.copy()),
                _frozen(self.curve_sums / self.n_queries),
            ),
            n_queries=self.n_queries,
            n_database=self.n_database,
        )


class SortedLabelsWarning(UserWarning):
    """The database rows are sorted by label: P@K and mAP@K depend on that order."""


def _warn_if_sorted(database_labels: Any) -> None:
    """Warn when 1-D database labels are sorted: ties break by database index, so a
    database sorted by class puts whole classes first among tied codes."""
    labels = np.asarray(database_labels)
    if labels.ndim != 1 or labels.shape[0] < 3 or labels.dtype.kind not in "biuf":
        return
    steps = np.diff(labels)
    if not steps.any() or not ((steps >= 0).all() or (steps <= 0).all()):
        return
    warnings.warn(
        "database_labels are sorted: P@K and mAP@K break ties by database index, so they "
        "depend on this row order; compare tie_aware_precision_at_k and tie_aware_map_at_k "
        "(which do not), or shuffle the database",
        SortedLabelsWarning,
        stacklevel=3,
    )


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
    """mAP@all, tie-aware mAP, mAP@K, P@K (both also tie-aware), P@r and both curves in one pass.

    Ranking: the whole database by (Hamming distance, database index) -- ties break by
    database index (stable). Relevance: same class label (1-D labels) or at least one
    shared label (2-D 0/1 indicators). Definitions (``R`` = relevant items in the database,
    ``R_K`` = relevant within the top K):

    * mAP@all: ``AP = (1/R) * sum over relevant positions p of P@p``; a query with
      ``R = 0`` is excluded (NaN per query) and counted.
    * tie-aware mAP: expected AP over uniformly random orders within equal distances
      (closed form of He et al., 2018); same exclusions.
    * mAP@K: ``(1/R_K) * sum over relevant positions p <= K of P@p``; 0 when ``R_K = 0``.
    * tie-aware mAP@K: the expected mAP@K over random orders within equal distances
      (:func:`~hashlearn.evaluation.tie_aware_map_at_k`).
    * P@K: ``R_K / K``; tie-aware P@K: its expectation over random orders within equal
      distances, ``(R_< + (K - N_<) * r_D / n_D) / K`` with ``D`` the distance of rank K.
    * P@r: ``(relevant at distance <= r) / (items at distance <= r)``; a query retrieving
      nothing scores 0 and is counted in ``empty_fraction``.
    * PR curve by radius (macro): mean over queries of P@r (empty -> 0) and mean over
      queries with ``R >= 1`` of ``(relevant at distance <= r) / R``, ``r = 0..n_bits``.

    Nothing is sorted and no ``(n_queries, n_database)`` matrix is formed: a compiled
    kernel computes, per query, the distance histograms and then the exact rank of every
    item by counting (see :mod:`hashlearn.evaluation._counting`). Time is linear in
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
        Cut-offs K of mAP@K and tie-aware mAP@K, each in ``[1, n_database]``.
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

    Warns
    -----
    SortedLabelsWarning
        When 1-D ``database_labels`` are sorted (ties break by database index, so P@K and
        mAP@K depend on the row order; the tie-aware values do not). The benchmark runner
        keeps it in the record (``evaluation_warnings``).

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
    queries, database = check_code_pair(query_codes, database_codes)
    n_queries, n_database = queries.shape[0], database.shape[0]
    labels = prepare_labels(query_labels, database_labels, n_queries, n_database)
    _warn_if_sorted(database_labels)
    n_bits = resolve_n_bits(n_bits, queries, database)
    map_cutoffs = check_ks(map_ks, n_database, "map_ks")
    precision_cutoffs = check_ks(precision_ks, n_database, "precision_ks")
    radius_list = check_radii(radii)
    curve = (
        default_curve_ks(n_database)
        if curve_ks is None
        else check_ks(curve_ks, n_database, "curve_ks", nonempty=True)
    )
    n_threads = _numba.check_n_threads(n_threads)
    ks = np.unique(np.concatenate([map_cutoffs, precision_cutoffs, curve]))
    sums = _Sums(
        n_queries, n_database, n_bits, ks, map_cutoffs, precision_cutoffs, radius_list, curve
    )
    for start, stop, stats in iter_statistics(
        queries, database, labels, n_bits + 1, ks, ranks=True, n_threads=n_threads
    ):
        sums.add(start, stop, stats)
    return sums.result()

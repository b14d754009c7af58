"""The results the metrics return: small frozen dataclasses of read-only arrays.

Every metric of :mod:`hashlearn.evaluation` returns one of these (or plain arrays), so
that a per-query breakdown travels with the mean and nothing can be changed afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hashlearn._io import to_json

__all__ = [
    "HammingEvaluation",
    "MAPResult",
    "PrecisionResult",
    "RadiusPrecisionResult",
    "TutorialPrecisionResult",
]


def _frozen(array: NDArray[Any]) -> NDArray[Any]:
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class MAPResult:
    """Mean average precision of a set of queries.

    Attributes
    ----------
    value : float
        Mean of ``per_query`` over the queries that were not excluded (NaN when every query
        was excluded).
    per_query : ndarray of float64, shape (n_queries,)
        Average precision of each query; NaN for an excluded query.
    n_queries_excluded : int
        Queries excluded from the mean (mAP@all: queries with no relevant item in the
        database; always 0 for mAP@K, where such a query scores 0).
    """

    value: float
    per_query: NDArray[np.float64]
    n_queries_excluded: int


def _map_result(per_query: np.ndarray, n_excluded: int) -> MAPResult:
    """A :class:`MAPResult` whose value is the mean over the non-NaN queries."""
    included = ~np.isnan(per_query)
    value = float(per_query[included].mean()) if included.any() else float("nan")
    return MAPResult(value, _frozen(per_query), int(n_excluded))


@dataclass(frozen=True, eq=False)
class PrecisionResult:
    """Precision at K of a set of queries.

    Attributes
    ----------
    value : float
        Mean of ``per_query`` over all queries.
    per_query : ndarray of float64, shape (n_queries,)
    """

    value: float
    per_query: NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class RadiusPrecisionResult:
    """Precision within a Hamming radius.

    Attributes
    ----------
    value : float
        Mean of ``per_query`` over all queries, empty retrievals counted as 0.
    per_query : ndarray of float64, shape (n_queries,)
    empty_fraction : float
        Fraction of queries with no database item within the radius.
    """

    value: float
    per_query: NDArray[np.float64]
    empty_fraction: float


@dataclass(frozen=True, eq=False)
class TutorialPrecisionResult:
    """The tutorial's precision at k after re-ranking, under both empty-set conventions.

    Attributes
    ----------
    skip_empty : float
        Mean over queries with at least one candidate (the tutorial's convention); NaN when
        every candidate set is empty.
    empty_as_zero : float
        Mean over all queries, an empty candidate set scoring 0.
    per_query : ndarray of float64, shape (n_queries,)
        Precision of each query; NaN for a query with an empty candidate set.
    empty_fraction : float
        Fraction of queries with an empty candidate set.
    """

    skip_empty: float
    empty_as_zero: float
    per_query: NDArray[np.float64]
    empty_fraction: float


@dataclass(frozen=True, eq=False)
class HammingEvaluation:
    """Every Hamming-ranking metric of one set of queries, from one pass over the database.

    Returned by :func:`~hashlearn.evaluation.evaluate_hamming_ranking`. Definitions as in
    :mod:`hashlearn.evaluation.metrics` (and ``docs/metrics.md``): ranking by (Hamming
    distance, database index); relevance = same class (single label) or at least one shared
    label (multi-label).

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
    tie_aware_map_at_k : mapping of int to MAPResult
        Expected mAP@K over random orders within distance ties, for the same K
        (:func:`~hashlearn.evaluation.tie_aware_map_at_k`): like the tie-aware P@K, it does
        not depend on the database's row order.
    precision_at_k : mapping of int to PrecisionResult
        P@K for each requested K (denominator K).
    tie_aware_precision_at_k : mapping of int to PrecisionResult
        Expected P@K over random orders within distance ties, for the same K: it does not
        depend on the database's row order, which P@K (ties by database index) does when
        many codes tie (a database sorted by class moves it).
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
    tie_aware_map_at_k: Mapping[int, MAPResult]
    precision_at_k: Mapping[int, PrecisionResult]
    tie_aware_precision_at_k: Mapping[int, PrecisionResult]
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
            "tie_aware_map_at_k": {K: value}, "precision_at_k": {K: value},
            "tie_aware_precision_at_k": {K: value}, "precision_within_radius": {r: {"value",
            "empty_fraction"}}, "pr_curve": {"radius", "precision", "recall"},
            "precision_at_k_curve": {"k", "precision"}}``.
        """
        radius, precision, recall = self.pr_curve
        curve_ks, curve_precision = self.precision_at_k_curve
        # to_json turns numpy numbers into Python ones and NaN into None
        return to_json(
            {
                "map": self.map_all.value,
                "map_n_excluded": self.map_all.n_queries_excluded,
                "tie_aware_map": self.tie_aware_map.value,
                "map_at_k": {k: r.value for k, r in self.map_at_k.items()},
                "tie_aware_map_at_k": {k: r.value for k, r in self.tie_aware_map_at_k.items()},
                "precision_at_k": {k: r.value for k, r in self.precision_at_k.items()},
                "tie_aware_precision_at_k": {
                    k: r.value for k, r in self.tie_aware_precision_at_k.items()
                },
                "precision_within_radius": {
                    r: {"value": res.value, "empty_fraction": res.empty_fraction}
                    for r, res in self.precision_within_radius.items()
                },
                "pr_curve": {"radius": radius, "precision": precision, "recall": recall},
                "precision_at_k_curve": {"k": curve_ks, "precision": curve_precision},
            }
        )

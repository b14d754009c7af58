"""Evaluation: pure retrieval metrics on binary codes and ground-truth relevance.

No I/O, no plotting and no search: every function takes arrays (codes, labels, or ids
that an index or a re-ranker has already returned) and returns numbers or small frozen
dataclasses (:mod:`hashlearn.evaluation.results`). The exact definitions are in
:mod:`hashlearn.evaluation.metrics` (and ``docs/metrics.md``); :func:`evaluate_hamming_ranking`
computes every Hamming-ranking metric in one counting pass
(:mod:`hashlearn.evaluation.ranking`); :mod:`hashlearn.evaluation.ground_truth` gives exact
k-NN on the original vectors and recall@R. The numpy references the compiled paths are
tested against are in :mod:`hashlearn.testing`.
"""

from hashlearn.evaluation.ground_truth import exact_neighbors, hamming_recall_at, recall_at
from hashlearn.evaluation.metrics import (
    hamming_precision_at_k,
    hamming_ranking,
    map_at_all,
    map_at_k,
    mean_average_precision,
    precision_at_k,
    precision_recall_curve_by_radius,
    precision_within_radius,
    ranked_relevance,
    relevance,
    tie_aware_map,
    tie_aware_map_at_k,
    tutorial_precision_at_k,
)
from hashlearn.evaluation.ranking import (
    SortedLabelsWarning,
    default_curve_ks,
    evaluate_hamming_ranking,
)
from hashlearn.evaluation.results import (
    HammingEvaluation,
    MAPResult,
    PrecisionResult,
    RadiusPrecisionResult,
    TutorialPrecisionResult,
)

__all__ = [
    "HammingEvaluation",
    "MAPResult",
    "PrecisionResult",
    "RadiusPrecisionResult",
    "SortedLabelsWarning",
    "TutorialPrecisionResult",
    "default_curve_ks",
    "evaluate_hamming_ranking",
    "exact_neighbors",
    "hamming_precision_at_k",
    "hamming_ranking",
    "hamming_recall_at",
    "map_at_all",
    "map_at_k",
    "mean_average_precision",
    "precision_at_k",
    "precision_recall_curve_by_radius",
    "precision_within_radius",
    "ranked_relevance",
    "recall_at",
    "relevance",
    "tie_aware_map",
    "tie_aware_map_at_k",
    "tutorial_precision_at_k",
]

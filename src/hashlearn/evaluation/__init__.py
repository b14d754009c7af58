"""Evaluation: pure retrieval metrics on binary codes and ground-truth relevance.

No I/O and no plotting: every function takes arrays and returns numbers (or small frozen
dataclasses). The exact definitions are in :mod:`hashlearn.evaluation.metrics` (and
``docs/metrics.md``); :func:`evaluate_hamming_ranking` computes every Hamming-ranking metric
in one counting pass (:mod:`hashlearn.evaluation.ranking`); :mod:`hashlearn.evaluation.ground_truth`
gives exact k-NN on the original vectors and recall@R.
"""

from hashlearn.evaluation.ground_truth import exact_neighbors, hamming_recall_at, recall_at
from hashlearn.evaluation.metrics import (
    MAPResult,
    PrecisionResult,
    RadiusPrecisionResult,
    TutorialPrecisionResult,
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
    tutorial_precision_at_k,
)
from hashlearn.evaluation.ranking import (
    HammingEvaluation,
    default_curve_ks,
    evaluate_hamming_ranking,
    ranking_statistics_reference,
)

__all__ = [
    "HammingEvaluation",
    "MAPResult",
    "PrecisionResult",
    "RadiusPrecisionResult",
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
    "ranking_statistics_reference",
    "recall_at",
    "relevance",
    "tie_aware_map",
    "tutorial_precision_at_k",
]

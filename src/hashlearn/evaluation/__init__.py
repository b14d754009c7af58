"""Evaluation: pure retrieval metrics on binary codes and ground-truth relevance.

No I/O and no plotting: every function takes arrays and returns numbers (or small frozen
dataclasses). The exact definitions are in :mod:`hashlearn.evaluation.metrics`.
"""

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

__all__ = [
    "MAPResult",
    "PrecisionResult",
    "RadiusPrecisionResult",
    "TutorialPrecisionResult",
    "hamming_precision_at_k",
    "hamming_ranking",
    "map_at_all",
    "map_at_k",
    "mean_average_precision",
    "precision_at_k",
    "precision_recall_curve_by_radius",
    "precision_within_radius",
    "ranked_relevance",
    "relevance",
    "tie_aware_map",
    "tutorial_precision_at_k",
]

"""Contract checks and reference implementations for your own hashers and indexes.

hashlearn's own test suite runs every built-in hasher and index through these checks; a
hasher or index you write can run through the same ones, as scikit-learn's
:func:`~sklearn.utils.estimator_checks.check_estimator` does for estimators::

    from hashlearn.testing import check_hasher, check_index

    check_hasher(MyHasher(n_bits=16, random_state=0))   # raises AssertionError naming the rule
    check_index(lambda n_bits: MyIndex(n_bits))

* :func:`check_hasher` (and :func:`hasher_checks`, one ``(name, check)`` per rule of
  :data:`HASHER_CHECKS`, to parametrise a test): scikit-learn's estimator checks, same seed
  -> same codes, shapes and dtypes, the code format, save/load, bad input.
* :func:`check_index`: exactness against the brute-force references (or the subset
  guarantee of an approximate index), the ``(distance, id)`` tie rule, ``-1`` padding, CSR
  range results, argument errors, save/load.
* References: slow, obviously correct numpy versions of what the compiled code computes
  (:func:`hamming_distances_reference`, :func:`knn_reference`, :func:`range_reference`,
  :func:`gist_features_reference`, and one per metric), used by the test suite as oracles.
* Test data: :func:`random_codes` and :func:`clustered_codes` (crowded distances, many ties);
  :func:`make_hasher_data`, and :func:`hasher_input` (data shifted to non-negative values
  for a hasher of word weights).
"""

from hashlearn.testing._features import gist_features_reference
from hashlearn.testing._hasher import (
    HASHER_CHECKS,
    check_hasher,
    hasher_checks,
    hasher_input,
    make_hasher_data,
)
from hashlearn.testing._index import (
    check_index,
    clustered_codes,
    knn_reference,
    random_codes,
    range_reference,
)
from hashlearn.testing._metrics import (
    hamming_distances_reference,
    hamming_precision_at_k_reference,
    mean_average_precision_reference,
    precision_recall_curve_by_radius_reference,
    precision_within_radius_reference,
    ranking_statistics_reference,
    tie_aware_map_reference,
)

__all__ = [
    "HASHER_CHECKS",
    "check_hasher",
    "check_index",
    "clustered_codes",
    "gist_features_reference",
    "hamming_distances_reference",
    "hamming_precision_at_k_reference",
    "hasher_checks",
    "hasher_input",
    "knn_reference",
    "make_hasher_data",
    "mean_average_precision_reference",
    "precision_recall_curve_by_radius_reference",
    "precision_within_radius_reference",
    "random_codes",
    "range_reference",
    "ranking_statistics_reference",
    "tie_aware_map_reference",
]

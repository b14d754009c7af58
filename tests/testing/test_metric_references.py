"""The numpy references of hashlearn.testing._metrics, on a hand-computed example.

The compiled metrics are tested against these references (tests/evaluation); here the
references themselves are checked against numbers worked out by hand, so that neither side
can drift on its own.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from hashlearn.codes import pack_bits
from hashlearn.testing import (
    hamming_distances_reference,
    hamming_precision_at_k_reference,
    mean_average_precision_reference,
    precision_recall_curve_by_radius_reference,
    precision_within_radius_reference,
    ranking_statistics_reference,
    tie_aware_map_reference,
)

# 3 queries x 5 database items, 4-bit codes (bits LSB first); the example of
# tests/evaluation/test_metrics.py.
#
#   query bits   label      database bits  label
#   q0 0000      1          d0 1100        0
#   q1 1111      2          d1 1000        1
#   q2 1100      0          d2 0000        0
#                           d3 1110        1
#                           d4 0100        0
#
# Ranking by (distance, index):
#   q0: d2(0) d1(1) d4(1) d0(2) d3(3)  relevant: F T F F T   R = 2
#   q1: d3(1) d0(2) d1(3) d4(3) d2(4)  relevant: none         R = 0
#   q2: d0(0) d1(1) d3(1) d4(1) d2(2)  relevant: T F F T T   R = 3
QUERIES = pack_bits([[0, 0, 0, 0], [1, 1, 1, 1], [1, 1, 0, 0]])
DATABASE = pack_bits([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 0], [0, 1, 0, 0]])
EXAMPLE = (QUERIES, DATABASE, np.array([1, 2, 0]), np.array([0, 1, 0, 1, 0]))


def test_hamming_distances_by_hand():
    np.testing.assert_array_equal(
        hamming_distances_reference(QUERIES, DATABASE),
        [[2, 1, 0, 3, 1], [2, 3, 4, 1, 3], [0, 1, 2, 1, 1]],
    )
    # bits beyond the first byte count too
    assert hamming_distances_reference(pack_bits([[1] * 12]), pack_bits([[0] * 12]))[0, 0] == 12


@pytest.mark.parametrize("block_size", [None, 1, 2])
def test_mean_average_precision_by_hand(block_size):
    # q0: (1/2 + 2/5) / 2; q1 excluded (R = 0); q2: (1/1 + 2/4 + 3/5) / 3
    result = mean_average_precision_reference(*EXAMPLE, block_size=block_size)
    np.testing.assert_allclose(result.per_query, [0.45, np.nan, 0.7])
    assert result.value == pytest.approx(0.575)
    assert result.n_queries_excluded == 1
    # top 2: q0 [F T] -> 1/2; q1 none -> 0 (not excluded); q2 [T F] -> 1
    at_2 = mean_average_precision_reference(*EXAMPLE, k=2, block_size=block_size)
    np.testing.assert_allclose(at_2.per_query, [0.5, 0.0, 1.0])
    assert at_2.n_queries_excluded == 0


def test_precision_at_k_and_within_radius_by_hand():
    np.testing.assert_allclose(
        hamming_precision_at_k_reference(*EXAMPLE, k=2).per_query, [0.5, 0.0, 0.5]
    )
    # radius 1: q0 {d2, d1, d4} 1 relevant; q1 {d3} none; q2 {d0, d1, d3, d4} 2 relevant
    result = precision_within_radius_reference(*EXAMPLE, radius=1)
    np.testing.assert_allclose(result.per_query, [1 / 3, 0.0, 0.5])
    assert result.empty_fraction == 0.0
    # radius 0: q1 retrieves nothing (scores 0, counted as empty)
    result = precision_within_radius_reference(*EXAMPLE, radius=0)
    np.testing.assert_allclose(result.per_query, [0.0, 0.0, 1.0])
    assert result.empty_fraction == pytest.approx(1 / 3)


def test_precision_recall_curve_by_hand():
    # retrieved / relevant retrieved at r = 0..4:
    #   q0 1/0 3/1 4/1 5/2 5/2 (R = 2); q1 0 1 2 4 5, none relevant; q2 1/1 4/2 5/3 5/3 5/3
    radii, precision, recall = precision_recall_curve_by_radius_reference(*EXAMPLE, n_bits=4)
    np.testing.assert_array_equal(radii, [0, 1, 2, 3, 4])
    np.testing.assert_allclose(precision, [1 / 3, 5 / 18, 17 / 60, 1 / 3, 1 / 3])
    np.testing.assert_allclose(recall, [1 / 6, 7 / 12, 3 / 4, 1, 1])
    _, precision, recall = precision_recall_curve_by_radius_reference(
        *EXAMPLE, n_bits=4, average="micro", block_size=1
    )
    np.testing.assert_allclose(precision, [1 / 2, 3 / 8, 4 / 11, 5 / 14, 1 / 3])
    np.testing.assert_allclose(recall, [1 / 5, 3 / 5, 4 / 5, 1, 1])


def test_tie_aware_map_by_hand():
    # q0: the relevant item of the tie {d1, d4} is 2nd or 3rd, then d3 5th:
    #     ((1/2 + 1/3) / 2 + 2/5) / 2
    # q2: d0 1st; the relevant item of {d1, d3, d4} 2nd, 3rd or 4th; d2 5th:
    #     (1 + (2/2 + 2/3 + 2/4) / 3 + 3/5) / 3
    q0 = ((Fraction(1, 2) + Fraction(1, 3)) / 2 + Fraction(2, 5)) / 2
    q2 = (1 + (1 + Fraction(2, 3) + Fraction(1, 2)) / 3 + Fraction(3, 5)) / 3
    result = tie_aware_map_reference(*EXAMPLE)
    np.testing.assert_allclose(result.per_query, [float(q0), np.nan, float(q2)])
    assert result.n_queries_excluded == 1


def test_ranking_statistics_by_hand():
    stats = ranking_statistics_reference(*EXAMPLE, ks=[5, 2, 2], n_bits=4)
    np.testing.assert_array_equal(stats["ks"], [2, 5])
    np.testing.assert_array_equal(stats["items"][0], [1, 2, 1, 1, 0])
    np.testing.assert_array_equal(stats["relevant"][0], [0, 1, 0, 1, 0])
    np.testing.assert_array_equal(stats["relevant"][1], [0, 0, 0, 0, 0])
    # q0: relevant at positions 2 and 5 -> P@2 = 1/2, P@5 = 2/5
    assert stats["ap_all"][0] == pytest.approx(0.9)
    np.testing.assert_array_equal(stats["hits"][0], [1, 2])
    np.testing.assert_allclose(stats["ap_sums"][0], [0.5, 0.9])
    # q2: relevant at positions 1, 4 and 5
    np.testing.assert_array_equal(stats["hits"][2], [1, 3])
    np.testing.assert_allclose(stats["ap_sums"][2], [1.0, 1 + 2 / 4 + 3 / 5])


def test_references_validate_their_arguments():
    with pytest.raises(ValueError, match=r"block_size must be in \[1, inf\], got 0"):
        mean_average_precision_reference(*EXAMPLE, block_size=0)
    with pytest.raises(ValueError, match="at most n_database=5"):
        hamming_precision_at_k_reference(*EXAMPLE, k=6)
    with pytest.raises(ValueError, match="radius must be an int >= 0"):
        precision_within_radius_reference(*EXAMPLE, radius=-1)
    with pytest.raises(ValueError, match="average must be"):
        precision_recall_curve_by_radius_reference(*EXAMPLE, average="weighted")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"ks must hold ints K in \[1, n_database=5\]"):
        ranking_statistics_reference(*EXAMPLE, ks=[6])
    with pytest.raises(ValueError, match="bytes per code"):
        hamming_distances_reference(QUERIES, np.zeros((1, 2), np.uint8))

"""Hostile inputs: requests that would exhaust the machine, finite values that overflow."""

from __future__ import annotations

import numpy as np
import pytest

from hashlearn.hashers import GRH, grh, label_affinity


def test_grh_refuses_a_quadratic_label_affinity_before_allocating():
    """12,000 points of one class: 1.44 x 10^8 entries (3.5 GB at peak) are refused at once."""
    X = np.random.default_rng(0).normal(size=(12_000, 2))
    with pytest.raises(ValueError, match=r"144,000,000 entries.*subsample"):
        GRH(n_bits=4, random_state=0).fit(X, np.zeros(12_000, dtype=int))


def test_grh_affinity_budget_is_checked_in_fit(monkeypatch):
    monkeypatch.setattr(grh, "MAX_AFFINITY_ENTRIES", 1_000)
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = np.repeat([0, 1], 20)  # 800 entries: within the budget
    GRH(n_bits=4, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"1,600 entries .*max_entries=1,000"):
        GRH(n_bits=4, random_state=0).fit(X, np.zeros(40, dtype=int))


def test_label_affinity_budget_multi_label_and_opt_out():
    Y = np.zeros((50, 3), dtype=int)
    Y[:, 0] = 1  # every point shares label 0: 2,500 entries
    with pytest.raises(ValueError, match="2,500 entries"):
        label_affinity(Y, max_entries=2_499)
    assert label_affinity(Y, max_entries=2_500).nnz == 2_500
    assert label_affinity(np.zeros(60), max_entries=0).nnz == 3_600


@pytest.mark.parametrize(
    ("value", "error"), [(-1, ValueError), (1.5, TypeError), (True, TypeError)]
)
def test_label_affinity_checks_max_entries(value, error):
    with pytest.raises(error, match="max_entries must be None or an int >= 0"):
        label_affinity(np.zeros(3), max_entries=value)

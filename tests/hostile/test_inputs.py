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


def _registered_hashers():
    from hashlearn._registry import registered
    from hashlearn.hashers._base import BaseHasher

    return sorted(name for name, cls in registered().items() if issubclass(cls, BaseHasher))


@pytest.fixture
def deadline():
    """Fail a call that runs longer than a few seconds instead of hanging the suite."""
    import signal

    def expired(signum, frame):
        raise TimeoutError("ran past the hostile-input deadline")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _data(scale):
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 20)
    X = rng.normal(size=(60, 6)) + 2.0 * np.eye(6)[y]
    return X * scale, y


@pytest.mark.parametrize("scale", [1e155, 1e200])
@pytest.mark.parametrize("name", _registered_hashers())
def test_overflowing_finite_input_is_refused_by_every_hasher(name, scale, deadline):
    """Finite values whose squares overflow: one clear error, before any work."""
    import warnings

    from hashlearn._registry import registered

    X, y = _data(scale)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no silent overflow on the way
        with pytest.raises(ValueError, match=r"rescale X, e\.g\. with .*StandardScaler"):
            registered()[name](n_bits=4, random_state=0).fit(X, y)


@pytest.mark.parametrize("scale", [1e100, 1e-30])
def test_grh_says_it_is_scale_sensitive(scale, deadline):
    """GRH hung in liblinear at 1e100 and gave one code for all points at 1e-30."""
    X, y = _data(scale)
    with pytest.raises(ValueError, match=r"GraphRegularisedHashing is sensitive to the scale"):
        GRH(n_bits=4, random_state=0).fit(X, y)
    from sklearn.linear_model import SGDClassifier

    streaming = GRH(n_bits=4, classifier=SGDClassifier(random_state=0), random_state=0)
    with pytest.raises(ValueError, match="sensitive to the scale"):
        streaming.partial_fit(X, y)

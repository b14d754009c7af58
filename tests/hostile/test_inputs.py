"""Hostile inputs: requests that would exhaust the machine, finite values that overflow."""

from __future__ import annotations

import contextlib
import re
import warnings
from typing import Any

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from hashlearn.hashers import GRH, grh, label_affinity
from hashlearn.testing import hasher_input


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


# -- every hasher x scales that overflow or underflow inside methods (issue 14) --------------

#: Scales of the issue: 1e100 and 1e120 fit inside float64's arithmetic on 200 x 16 data,
#: 1e154 and 1e200 make sums of squares overflow, 1e-30 is small but harmless, 1e-300 makes
#: squares underflow.
SCALES = [1e100, 1e120, 1e154, 1e200, 1e-30, 1e-300]
REFUSED_SCALES = {1e154, 1e200, 1e-300}

#: Methods that may give other (valid) codes on ``X * scale``, and why.
NOT_SCALE_INVARIANT = {
    "CCAITQ": "its ridge `regularization` is absolute, documented as depending on the scale",
    "IsotropicHashing": (
        "lift and projection picks one of many equalising rotations, and rounding decides "
        "which: X * 1.0000001 changes a quarter of the bits too"
    ),
}

#: The periodic hash functions, whose phase is lost to rounding far from the training data.
PERIODIC = {"PStableLSH", "ShiftInvariantKernelLSH", "SpectralHashing"}

#: Networks computing in float32 (the deep hashers): far-out input is refused when encoding.
FLOAT32 = {
    "BiHalfHashing",
    "CentralSimilarityQuantization",
    "DeepPairwiseSupervisedHashing",
    "DeepSupervisedHashing",
    "GreedyHash",
    "HashNet",
    "NASH",
    "VDSH",
}

#: Constructor arguments the 200-point data need (AGH's default 300 anchors is too many;
#: a few epochs of a narrow network are enough for the deep hashers).
EXTRA_PARAMS: dict[str, dict[str, Any]] = {
    "AnchorGraphHashing": {"n_anchors": 50},
    **{name: {"epochs": 3, "width": 32, "batch_size": 32} for name in FLOAT32},
}


def _unit_data(name=None):
    """Four blobs; shifted to non-negative values for a hasher of word weights (its
    scikit-learn tag says positive only)."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 50)
    X = rng.normal(size=(200, 16)) + 2.0 * np.eye(16)[y]
    if name is not None:
        X = hasher_input(_make(name), X)
    return X, y


def _make(name):
    from hashlearn._registry import registered

    return registered()[name](n_bits=8, random_state=0, **EXTRA_PARAMS.get(name, {}))


_REFERENCE: dict[str, Any] = {}


def _reference(name):
    """The hasher fitted on the unscaled data (once per session: the cases share it)."""
    if name not in _REFERENCE:
        X, y = _unit_data(name)
        _REFERENCE[name] = _make(name).fit(X, y)
    return _REFERENCE[name]


@contextlib.contextmanager
def _strict_warnings():
    """Silent overflow (RuntimeWarning) or an iteration that never settles fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("error", ConvergenceWarning)
        yield


def _assert_clear_refusal(error, largest):
    message = str(error)
    assert f"X has values up to {largest:.3g}" in message or (
        f"the largest |X| is {largest:.3g}" in message
        or f"X has values only up to {largest:.3g}" in message
    ), message
    assert re.search(r"rescale X.*StandardScaler", message), message
    assert "NaN" not in message, message


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("name", _registered_hashers())
def test_every_hasher_fits_scaled_input_or_says_why(name, scale, deadline):
    """Valid codes (the same ones where the method is scale-invariant) or one clear error.

    Never a hang, an exception from deep inside, a claim of NaN in the input, warnings and
    garbage, or one code for every point. Refused exactly outside the method's range.
    """
    X, y = _unit_data(name)
    expected = _reference(name).transform(X)
    X = X * scale
    largest = float(np.abs(X).max())
    low, high = type(_make(name))._scale_range or (0.0, np.inf)
    with _strict_warnings():
        if scale in REFUSED_SCALES or not low <= largest <= high:
            with pytest.raises(ValueError) as error:
                _make(name).fit(X, y)
            _assert_clear_refusal(error.value, largest)
            return
        bits = _make(name).fit(X, y).transform(X)
    n_codes = len(np.unique(bits, axis=0))
    assert n_codes >= max(2, len(np.unique(expected, axis=0)) // 2), f"{n_codes} distinct codes"
    if name not in NOT_SCALE_INVARIANT:
        assert (bits == expected).mean() >= 0.99, "a scale-invariant method changed its codes"


@pytest.mark.parametrize("scale", [1e120, 1e154, 1e200])
@pytest.mark.parametrize("name", _registered_hashers())
def test_encoding_far_out_input_is_valid_or_refused(name, scale, deadline):
    """A hasher fitted on unit-scale data, asked to encode X * scale: never silent garbage.

    Sums of squares overflow at 1e154 and 1e200: refused. At 1e120 linear and kernel
    projections are still exact arithmetic (a kernel hasher giving one code to points 1e120
    away from every anchor is the right answer), but the periodic hash functions have lost
    their phase to rounding: refused too (PStableLSH gave every point the same code).
    """
    X = _unit_data(name)[0] * scale
    hasher = _reference(name)
    with _strict_warnings():
        if scale > 1e150 or name in PERIODIC or name in FLOAT32:
            with pytest.raises(ValueError) as error:
                hasher.encode(X)
            message = str(error.value)
            assert f"{np.abs(X).max():.3g}" in message and "rescale X" in message, message
        else:
            assert hasher.encode(X).shape == (200, 1)


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


# 50 sweeps do not meet ITML's strict test on these data; the metric is what is compared.
ITML_SWEEPS = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@ITML_SWEEPS
@pytest.mark.parametrize("scale", [1e-30, 1e100])
def test_itml_learns_the_same_metric_at_any_scale(scale):
    """ITML stopped after one sweep at 1e100 (its duals' norms underflowed) and dropped
    every constraint at 1e-30 (an absolute length threshold)."""
    from hashlearn.hashers import ITML

    X, y = _unit_data()
    reference = ITML(random_state=0).fit(X, y)
    scaled = ITML(random_state=0).fit(X * scale, y)
    assert (scaled.n_constraints_, scaled.n_iter_) == (reference.n_constraints_, reference.n_iter_)
    np.testing.assert_allclose(scaled.metric_, reference.metric_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(scaled.upper_bound_ / scale**2, reference.upper_bound_, rtol=1e-9)


@ITML_SWEEPS
def test_itml_refuses_overflowing_input():
    from hashlearn.hashers import ITML

    X, y = _unit_data()
    with pytest.raises(ValueError, match=r"X has values up to 4\.49e\+200.*rescale X"):
        ITML(random_state=0).fit(X * 1e200, y)
    fitted = ITML(random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"X has values up to 4\.49e\+200.*rescale X"):
        fitted.transform(X * 1e200)

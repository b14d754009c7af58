"""check_hasher: passes on a built-in hasher, and names the rule a broken one breaks."""

from __future__ import annotations

import re

import numpy as np
import pytest

from hashlearn import codes
from hashlearn.hashers import LSH, SignRandomProjection
from hashlearn.testing import HASHER_CHECKS, check_hasher, hasher_checks


class UnseededLSH(SignRandomProjection):
    """Draws its hyperplanes from fresh OS entropy instead of random_state."""

    def _fit(self, X, y, rng, **fit_params):
        super()._fit(X, y, np.random.default_rng(), **fit_params)


class StrictSignLSH(SignRandomProjection):
    """Quantises with ``> 0`` instead of the code rule ``>= 0`` (seen at exact zeros)."""

    def _project(self, X):
        projections = super()._project(X)
        projections[:, 0] = 0.0
        return projections

    def encode(self, X):
        return codes.pack_bits(self.transform(X))

    def transform(self, X):
        return (self.project(X) > 0).astype(np.uint8)


class PaddedLSH(SignRandomProjection):
    """Sets the padding bits of its last byte."""

    def encode(self, X):
        packed = super().encode(X)
        packed[:, -1] |= np.uint8(0x80)
        return packed


class NanTolerantLSH(SignRandomProjection):
    """Replaces NaN by 0 instead of refusing it."""

    def fit(self, X, y=None):
        return super().fit(np.nan_to_num(np.asarray(X, dtype=float), posinf=0.0), y)


def test_a_built_in_hasher_passes_every_check():
    check_hasher(LSH(n_bits=12, random_state=0))


def test_a_supervised_built_in_hasher_passes_with_its_labels():
    from hashlearn.hashers import CCAITQ

    check_hasher(CCAITQ(n_bits=3, n_iter=5, random_state=0), sklearn=False)


def test_checks_are_named_and_run_one_by_one():
    names = [name for name, _check in hasher_checks(LSH(13, random_state=0))]
    assert names[-len(HASHER_CHECKS) :] == list(HASHER_CHECKS)
    assert any(name.startswith("sklearn:check_") for name in names)


@pytest.mark.parametrize(
    ("hasher", "rule", "message"),
    [
        (UnseededLSH(13, random_state=0), "determinism", "same random_state gave different codes"),
        (StrictSignLSH(13, random_state=0), "code_format", "project(X)[:, j] >= 0"),
        (PaddedLSH(13, random_state=0), "code_format", "padding bits set"),
        (
            NanTolerantLSH(13, random_state=0),
            "bad_input",
            "fit on X with NaN must raise ValueError",
        ),
    ],
    ids=["unseeded", "strict-sign", "padding", "nan-tolerant"],
)
def test_a_broken_hasher_fails_naming_the_rule(hasher, rule, message):
    with pytest.raises(AssertionError, match=re.escape(f"rule '{rule}'")) as failure:
        check_hasher(hasher, sklearn=False, skip=["save_load"])
    assert message in str(failure.value)


def test_an_unsaveable_hasher_fails_the_save_load_rule():
    unsaveable = r"rule 'save_load'.*PaddedLSH objects cannot be saved"
    with pytest.raises(AssertionError, match=unsaveable):
        check_hasher(PaddedLSH(8, random_state=0), sklearn=False, skip=["code_format"])


def test_sklearn_failures_are_reported_as_the_sklearn_rule():
    class MutatingLSH(SignRandomProjection):
        def fit(self, X, y=None):
            self.n_bits = 3  # changes a constructor parameter: sklearn's checks refuse this
            return super().fit(X, y)

    with pytest.raises(AssertionError, match=r"rule 'sklearn': scikit-learn's check_\w+ failed"):
        check_hasher(MutatingLSH(8, random_state=0))


def test_unknown_skip_names_are_refused():
    with pytest.raises(ValueError, match="skip has unknown check names"):
        check_hasher(LSH(8), skip=["speed"])


def test_supervised_without_labels_is_refused():
    with pytest.raises(ValueError, match="supervised=True needs labels"):
        dict(hasher_checks(LSH(8), supervised=True, X=np.ones((5, 3))))

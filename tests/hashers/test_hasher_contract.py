"""Every hasher: scikit-learn's estimator checks, determinism, the code format, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import hashlearn
from hashlearn import codes
from hashlearn.experiments.methods import METHODS, resolve_method
from hashlearn.hashers import GRH, LSH

# GRH with alpha < 1 and two iterations exercises the anchor term and the iteration loop;
# alpha = 1 on the checks' tiny random datasets collapses bits (expected, and warned about).
HASHERS = [LSH(n_bits=12, random_state=0), GRH(n_bits=6, alpha=0.8, n_iter=2, random_state=0)]


@parametrize_with_checks(HASHERS)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("make", [lambda: LSH(13, random_state=7), lambda: GRH(13, random_state=7)])
def test_same_seed_same_codes(make, blobs):
    X, y = blobs
    first = make().fit(X, y).encode(X)
    second = make().fit(X, y).encode(X)
    assert np.array_equal(first, second)


@pytest.mark.parametrize("n_bits", [1, 7, 8, 13, 64, 100])
def test_code_format(n_bits, blobs):
    X, y = blobs
    for hasher in (LSH(n_bits, random_state=0), GRH(n_bits, n_iter=1, random_state=0)):
        hasher.fit(X, y)
        packed = hasher.encode(X)
        assert packed.dtype == np.uint8 and packed.shape == (len(X), (n_bits + 7) // 8)
        codes.check_codes(packed, n_bits)  # padding bits are zero
        bits = hasher.transform(X)
        assert bits.shape == (len(X), n_bits) and set(np.unique(bits)) <= {0, 1}
        assert np.array_equal(codes.pack_bits(bits), packed)
        assert np.array_equal(bits, (hasher.project(X) >= 0).astype(np.uint8))


def test_works_in_a_pipeline(blobs):
    X, _y = blobs
    pipeline = make_pipeline(StandardScaler(), LSH(8, random_state=0)).fit(X)
    assert pipeline.transform(X).shape == (len(X), 8)


# Parameters that fit the 200-row fixture (the defaults assume thousands of points).
SMALL_DATA = {"agh": "agh:n_anchors=50", "ksh": "ksh:n_anchors=50", "sdh": "sdh:n_anchors=50"}


@pytest.mark.parametrize("name", sorted(METHODS))
def test_bad_input_messages(name, blobs):
    """Every registered hasher: the same messages for unfitted use and bad X."""
    X, y = blobs
    hasher = resolve_method(SMALL_DATA.get(name, name)).build(8, 0)
    with pytest.raises(NotFittedError):
        hasher.encode(X)
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinity \(first at row 3, column 2\)"):
        hasher.fit(bad, y)
    bad[3, 2] = np.inf
    with pytest.raises(ValueError, match="NaN or infinity"):
        hasher.fit(bad, y)
    hasher.fit(X, y)
    with pytest.raises(ValueError, match=r"X has 5 features, but .* is expecting 16 features"):
        hasher.encode(X[:, :5])
    with pytest.raises(ValueError, match="must be 2-D"):
        hasher.encode(X[0])
    with pytest.raises(ValueError, match="at least 1 sample"):
        hasher.encode(X[:0])


@pytest.mark.parametrize("n_bits", [0, -3, 4097])
def test_n_bits_out_of_range(n_bits, blobs):
    X, _y = blobs
    with pytest.raises(ValueError, match=rf"n_bits must be in \[1, 4096\], got {n_bits}"):
        LSH(n_bits).fit(X)


def test_n_bits_wrong_type(blobs):
    X, _ = blobs
    with pytest.raises(TypeError, match="n_bits must be an int"):
        LSH(8.5).fit(X)


@pytest.mark.parametrize("make", [lambda: LSH(13, random_state=1), lambda: GRH(13, random_state=1)])
def test_save_load_round_trip(make, blobs, tmp_path):
    X, y = blobs
    hasher = make().fit(X, y)
    path = hasher.save(tmp_path / "model.hlz")
    loaded = hashlearn.load(path)
    assert type(loaded) is type(hasher)
    assert loaded.get_params()["n_bits"] == 13
    assert np.array_equal(loaded.encode(X), hasher.encode(X))
    # readable with numpy alone, without pickle
    with np.load(path, allow_pickle=False) as archive:
        assert "components_" in archive.files


def test_overflowing_projections_are_an_error_not_silent_zeros(blobs):
    X, _y = blobs
    hasher = LSH(8, random_state=0).fit(X)
    with pytest.raises(ValueError, match="overflowed to infinity or NaN"):
        hasher.encode(np.full_like(X, 1e308))

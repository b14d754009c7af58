"""The hasher contract, once, over every registered method (and HasherStack).

Each method runs scikit-learn's estimator checks and the hashlearn checks of
:mod:`hashlearn.testing._hasher` (determinism, shapes, code format, save/load, bad input);
method-specific behaviour (the papers' claims, the maths, parameters) is tested in each
method's own file.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from hashlearn import codes
from hashlearn.experiments.methods import METHODS, resolve_method
from hashlearn.hashers import GRH, LSH, HasherStack
from hashlearn.testing import HASHER_CHECKS, hasher_checks, hasher_input

# scikit-learn's checks fit on tiny datasets, some with only 2 features: the PCA-based
# hashers (at most n_features bits) run them with 2 bits, the anchor-based ones with few
# anchors, STH with 5 neighbours and 4 bits (the checks' smallest fit has 10 rows). GRH
# with alpha < 1 and two iterations exercises the anchor term and the loop
# (alpha = 1 on such tiny data collapses bits, as expected, and warns).
SKLEARN_SPECS = {
    "agh": [
        ("agh:n_anchors=8,n_nearest_anchors=3,n_layers=1", 4),
        ("agh:n_anchors=8,n_nearest_anchors=3,n_layers=2", 4),
    ],
    "bre": [
        ("bre:n_anchors=10,n_iter=2", 6),
        ("bre:kernel=linear,centre=false,n_anchors=8,n_iter=1", 5),
    ],
    "cca-itq": [("cca-itq:n_iter=5", 2)],
    "grh": [("grh:alpha=0.8,n_iter=2", 6)],
    "isoh": [("isoh", 2), ("isoh:method=gf", 2)],
    "itml-lsh": [("itml-lsh:max_iter=5", 6)],
    "itq": [("itq:n_iter=5", 2)],
    "klsh": [("klsh", 12), ("klsh:kernel=linear,n_samples=20,n_subset=5", 6)],
    "ksh": [("ksh:n_anchors=15,max_iter=50", 6)],
    "median": [("median", 12), ("median:projection=identity", 2), ("median:projection=pca", 2)],
    "pcah": [("pcah", 2)],
    "sdh": [("sdh:n_anchors=15", 6)],
    "sth": [("sth:n_neighbors=5", 4), ("sth:n_neighbors=5,metric=euclidean", 4)],
}
STACKS = [
    HasherStack([LSH(5, random_state=0), LSH(7, random_state=1)]),
    HasherStack([LSH(8), LSH(8)], random_state=0),
]


# Deep hashers: one epoch of a narrow MLP, no validation split (the checks fit many tiny
# datasets); three epochs on the blobs.
DEEP = ("bihalf", "csq", "dpsh", "dsh", "greedyhash", "hashnet")
for _name in DEEP:
    SKLEARN_SPECS[_name] = [(f"{_name}:epochs=1,batch_size=16,width=16,validation_fraction=0", 12)]
# The document hashers (VDSH, NASH): the same tiny training; their inputs are word weights
# (non-negative), which their estimator tag tells scikit-learn's checks.
TEXT = ("nash", "vdsh")
for _name in TEXT:
    SKLEARN_SPECS[_name] = [(f"{_name}:epochs=1,batch_size=16,width=16,validation_fraction=0", 12)]
SKLEARN_SPECS["greedyhash"].append(
    ("greedyhash:supervised=false,epochs=1,batch_size=16,width=16,validation_fraction=0", 12)
)
# Stacked RBMs: one narrow hidden layer, one epoch of each stage (SemanticHashing sees
# non-negative data: scikit-learn shifts it for a positive_only estimator, and so does
# hasher_checks).
RBMS = ("rbm", "srbm")
for _name in RBMS:
    SKLEARN_SPECS[_name] = [(f"{_name}:hidden=8,pretrain_epochs=1,finetune_epochs=1", 12)]
SKLEARN_SPECS["srbm"].append(
    ("srbm:bottom=constrained-poisson,hidden=8,pretrain_epochs=1,finetune_epochs=1", 12)
)


def _sklearn_cases():
    for name in sorted(METHODS):
        for spec, n_bits in SKLEARN_SPECS.get(name, [(name, 12)]):
            yield resolve_method(spec).build(n_bits, 0)
    yield from STACKS


# scikit-learn's checks fit on a few dozen rows with short iteration budgets (ITML's 5
# sweeps): convergence is not what they test.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(list(_sklearn_cases()))
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# On the 200 x 16 blobs: parameters that fit 200 rows (the defaults assume thousands), and
# variants whose code paths differ (second AGH layer, kernels, projections, solvers).
SMALL_DATA = {
    "agh": "agh:n_anchors=50",
    "ksh": "ksh:n_anchors=50",
    "sdh": "sdh:n_anchors=50",
    **{name: f"{name}:epochs=3,batch_size=32,width=32" for name in DEEP + TEXT},
    **{
        name: f"{name}:hidden=16,pretrain_epochs=2,finetune_epochs=2,batch_size=32" for name in RBMS
    },
}
VARIANTS = [
    "agh:n_anchors=50,n_layers=2",
    "bre:kernel=linear",
    "greedyhash:supervised=false,epochs=3,batch_size=32,width=32",
    "grh:kernel=rbf",
    "isoh:method=gf",
    "klsh:kernel=linear",
    "median:projection=identity",
    "median:projection=pca",
    "nash:noise=none,supervised=true,epochs=3,batch_size=32,width=32",
    "vdsh:supervised=true,epochs=3,batch_size=32,width=32",
    "sth:metric=euclidean",
]
CONTRACT_SPECS = [SMALL_DATA.get(name, name) for name in sorted(METHODS)] + VARIANTS
_AT_MOST_N_FEATURES_BITS = {
    "cca-itq",
    "isoh",
    "isoh:method=gf",
    "itq",
    "median:projection=identity",
    "median:projection=pca",
    "pcah",
}


def _data(spec, blobs):
    """The blobs, shifted to non-negative values for the document hashers (word weights)."""
    X, y = blobs
    if resolve_method(spec).name in TEXT:
        X = X - X.min()
    return X, y


@pytest.mark.parametrize("rule", HASHER_CHECKS)
@pytest.mark.parametrize("spec", CONTRACT_SPECS)
def test_hasher_contract(spec, rule, blobs):
    """13 bits: two bytes, with padding bits to keep at zero."""
    X, y = _data(spec, blobs)
    method = resolve_method(spec)
    hasher = method.build(13, 3)
    checks = dict(hasher_checks(hasher, supervised=method.info.supervised, X=X, y=y, sklearn=False))
    checks[rule]()


def _lengths():
    """One bit, one short byte, one full byte, four bytes; the hashers that take n_bits
    directions of X stop at the 16 features of the blobs."""
    for spec in CONTRACT_SPECS:
        for n_bits in (1, 7, 8, 32):
            if n_bits <= 16 or spec not in _AT_MOST_N_FEATURES_BITS:
                yield spec, n_bits


@pytest.mark.parametrize(("spec", "n_bits"), list(_lengths()))
def test_code_format_of_other_lengths(spec, n_bits, blobs):
    X, y = _data(spec, blobs)
    method = resolve_method(spec)
    hasher = method.build(n_bits, 3)
    checks = dict(hasher_checks(hasher, supervised=method.info.supervised, X=X, y=y, sklearn=False))
    checks["code_format"]()


@pytest.mark.parametrize("rule", HASHER_CHECKS)
def test_hasher_contract_of_a_stack(rule, blobs):
    X, _y = blobs
    stack = HasherStack([LSH(5, random_state=0), resolve_method("pcah").build(8, 0)])
    dict(hasher_checks(stack, X=X, sklearn=False))[rule]()


def test_every_registered_method_is_checked():
    assert {resolve_method(spec).name for spec in CONTRACT_SPECS} == set(METHODS)


@pytest.mark.parametrize("n_bits", [1, 7, 8, 13, 64, 100])
def test_code_format_at_every_length(n_bits, blobs):
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


@pytest.mark.parametrize("name", sorted(METHODS))
def test_bad_input_messages(name, blobs):
    """Every registered hasher: hashlearn's own messages for unfitted use and bad X."""
    X, y = _data(name, blobs)
    hasher = resolve_method(SMALL_DATA.get(name, name)).build(8, 0)
    X = hasher_input(hasher, X)  # word counts: non-negative
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


def test_saved_hashers_hold_their_arrays_under_their_names(blobs, tmp_path):
    X, y = blobs
    path = GRH(13, random_state=1).fit(X, y).save(tmp_path / "model.hlz")
    with np.load(path, allow_pickle=False) as archive:
        assert "components_" in archive.files


def test_overflowing_projections_are_an_error_not_silent_zeros(blobs):
    X, _y = blobs
    hasher = LSH(8, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"X has values up to 1e\+308 .* too large"):
        hasher.encode(np.full_like(X, 1e308))
    hasher.components_[:] = 1e308  # X in range, the projections out of it
    with pytest.raises(ValueError, match="overflowed to infinity or NaN"):
        hasher.encode(np.ones_like(X))

"""Kernel-Based Supervised Hashing and Supervised Discrete Hashing."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import hashlearn
from hashlearn import codes
from hashlearn.evaluation import mean_average_precision
from hashlearn.hashers.ksh import KSH, _PairwiseLabels, optimise_bit
from hashlearn.hashers.lsh import SignRandomProjection
from hashlearn.hashers.sdh import SDH, discrete_cyclic_coordinate_descent

# Small anchor sets: the estimator checks use datasets of 10-100 rows.
MAKERS = {
    "KSH": lambda n_bits, seed=0: KSH(n_bits, n_anchors=60, random_state=seed),
    "SDH": lambda n_bits, seed=0: SDH(n_bits, n_anchors=60, random_state=seed),
}


def knn_label_precision(hasher, X, y, k=10):
    """Fraction of each point's k Hamming nearest neighbours (itself excluded) sharing its label."""
    packed = hasher.encode(X)
    distances = codes.hamming_distances(packed, packed).astype(float)
    np.fill_diagonal(distances, np.inf)
    order = np.argsort(distances, axis=1, kind="stable")[:, :k]
    return float((y[order] == y[:, None]).mean())


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_same_seed_same_codes(name, blobs):
    X, y = blobs
    make = MAKERS[name]
    first = make(13, seed=7).fit(X, y).encode(X)
    assert np.array_equal(first, make(13, seed=7).fit(X, y).encode(X))
    assert not np.array_equal(first, make(13, seed=8).fit(X, y).encode(X))


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_save_load_round_trip(name, blobs, tmp_path):
    X, y = blobs
    hasher = MAKERS[name](13, seed=1).fit(X, y)
    loaded = hashlearn.load(hasher.save(tmp_path / "model.hlz"))
    assert type(loaded) is type(hasher)
    assert loaded.get_params() == hasher.get_params()
    assert np.array_equal(loaded.encode(X), hasher.encode(X))
    with np.load(tmp_path / "model.hlz", allow_pickle=False) as archive:
        assert {"anchors_", "components_"} <= set(archive.files)


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_corrupt_file_is_refused(name, blobs, tmp_path):
    X, y = blobs
    hasher = MAKERS[name](8).fit(X, y)
    hasher.components_ = hasher.components_[:, :-1]
    path = hasher.save(tmp_path / "bad.hlz")
    with pytest.raises(ValueError, match="components_ has shape"):
        hashlearn.load(path)


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_beats_lsh_on_labelled_clusters(name, blobs):
    X, y = blobs
    lsh = SignRandomProjection(8, random_state=0).fit(X)
    hasher = MAKERS[name](8).fit(X, y)
    assert knn_label_precision(hasher, X, y) > knn_label_precision(lsh, X, y) + 0.2


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_multilabel_targets(name, blobs):
    X, y = blobs
    Y = np.eye(4, dtype=int)[y]
    Y[::7, (y[::7] + 1) % 4] = 1  # a few items carry a second label
    hasher = MAKERS[name](8).fit(X, Y)
    assert hasher.encode(X).shape == (len(X), 1)
    assert knn_label_precision(hasher, X, y) > 0.8


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_labels_are_required(name, blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="requires y to be passed"):
        MAKERS[name](8).fit(X)
    with pytest.raises(ValueError, match="has 10 entries but X has 200"):
        MAKERS[name](8).fit(X, y[:10])
    with pytest.raises(NotFittedError):
        MAKERS[name](8).encode(X)


@pytest.mark.parametrize(
    ("cls", "kwargs", "error", "message"),
    [
        (KSH, {"n_anchors": 0}, ValueError, r"n_anchors must be in \[1, inf\], got 0"),
        (KSH, {"sigma": -1.0}, ValueError, "sigma must be a positive finite float or None"),
        (KSH, {"sigma": "wide"}, TypeError, "sigma must be a positive float or None"),
        (KSH, {"max_iter": -1}, ValueError, r"max_iter must be in \[0, inf\], got -1"),
        (KSH, {"tol": -0.1}, ValueError, "tol must be a non-negative finite float"),
        (SDH, {"n_anchors": 2.5}, TypeError, "n_anchors must be an int"),
        (SDH, {"nu": -1.0}, ValueError, "nu must be a non-negative finite float"),
        (SDH, {"reg_lambda": float("nan")}, ValueError, "reg_lambda must be a non-negative"),
        (SDH, {"reg_projection": None}, TypeError, "reg_projection must be a non-negative"),
        (SDH, {"n_iter": 0}, ValueError, r"n_iter must be in \[1, inf\], got 0"),
        (SDH, {"sigma": 0.0}, ValueError, "sigma must be a positive finite float or None"),
    ],
)
def test_bad_parameters(blobs, cls, kwargs, error, message):
    X, y = blobs
    with pytest.raises(error, match=message):
        cls(8, **kwargs).fit(X, y)


def test_fewer_points_than_anchors_uses_every_point(blobs):
    X, y = blobs
    ksh = KSH(4, random_state=0).fit(X[:40], y[:40])  # default 300 anchors
    assert ksh.anchors_.shape == (40, 16)
    assert {tuple(row) for row in ksh.anchors_} == {tuple(row) for row in X[:40]}


# -- KSH: hand-checkable pieces ------------------------------------------------------------
def test_pairwise_labels_operator_matches_the_dense_matrix():
    rng = np.random.default_rng(0)
    y = np.array(["a", "b", "a", "c", "b"])
    S0 = np.where(y[:, None] == y[None, :], 1.0, -1.0)
    pairs = _PairwiseLabels(y)
    v, V, K = rng.normal(size=5), rng.normal(size=(5, 3)), rng.normal(size=(5, 4))
    assert np.allclose(pairs.apply(v), S0 @ v)
    assert np.allclose(pairs.apply(V), S0 @ V)
    assert np.allclose(pairs.gram(K), K.T @ S0 @ K)
    # multi-label: 0 and 1 share label 1; 2 shares nothing; 3 has no label (still +1 on itself)
    Y = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]], dtype=bool)
    expected = np.array(
        [[1, 1, -1, -1], [1, 1, -1, -1], [-1, -1, 1, -1], [-1, -1, -1, 1]], dtype=float
    )
    assert np.allclose(_PairwiseLabels(Y).apply(np.eye(4)), expected)


def test_ksh_kernel_features_follow_the_reference(blobs):
    X, y = blobs
    ksh = KSH(5, n_anchors=30, random_state=0).fit(X, y)
    distances = ((X[:, None, :] - ksh.anchors_[None, :, :]) ** 2).sum(axis=2)
    assert np.isclose(ksh.sigma_, distances.mean())  # mean squared distance to anchors
    kernel = np.exp(-distances / (2 * ksh.sigma_))
    assert np.allclose(ksh.kernel_mean_, kernel.mean(axis=0))
    expected = (kernel - ksh.kernel_mean_) @ ksh.components_.T
    assert np.allclose(ksh.project(X), expected)


def test_ksh_one_bit_splits_two_classes_exactly():
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 30)
    X = rng.normal(scale=0.3, size=(60, 2)) + np.where(y[:, None] == 0, -2.0, 2.0)
    bits = KSH(1, n_anchors=20, random_state=0).fit(X, y).transform(X)[:, 0]
    assert len(set(bits[y == 0])) == 1 and len(set(bits[y == 1])) == 1
    assert bits[0] != bits[-1]


def test_gradient_descent_lowers_the_smoothed_cost(blobs):
    X, y = blobs
    rng = np.random.default_rng(0)
    K = np.exp(-((X[:, None, :] - X[None, ::5, :]) ** 2).sum(axis=2))
    K -= K.mean(axis=0)
    pairs = _PairwiseLabels(y)
    a0 = rng.normal(size=K.shape[1])

    def cost(a):
        smooth = 2 / (1 + np.exp(-(K @ a))) - 1
        return -smooth @ pairs.apply(smooth)

    a, n_iter = optimise_bit(K, pairs.apply, a0, max_iter=100)
    assert 1 <= n_iter <= 100
    assert cost(a) < cost(a0) - 1.0
    # the gradient used inside matches finite differences of the cost
    smooth = np.tanh(0.5 * (K @ a0))
    gradient = -(K.T @ (pairs.apply(smooth) * (1 - smooth**2)))
    step = 1e-6
    numeric = [(cost(a0 + step * e) - cost(a0 - step * e)) / (2 * step) for e in np.eye(3, len(a0))]
    assert np.allclose(gradient[:3], numeric, rtol=1e-4)


# -- SDH: hand-checkable pieces ------------------------------------------------------------
def _dcc_objective(B, W, Q):
    return np.sum((B @ W) ** 2, axis=1) - 2 * np.sum(B * Q, axis=1)


def test_discrete_cyclic_coordinate_descent_on_a_tiny_problem():
    rng = np.random.default_rng(0)
    Q, W = rng.normal(size=(30, 4)), rng.normal(size=(4, 3))
    B, n_sweeps = discrete_cyclic_coordinate_descent(Q, W)
    assert set(np.unique(B)) <= {-1.0, 1.0} and 1 <= n_sweeps <= 10
    value = _dcc_objective(B, W, Q)
    # no single bit flip lowers any row's objective (coordinate-wise optimum) ...
    for k in range(4):
        flipped = B.copy()
        flipped[:, k] *= -1
        assert np.all(_dcc_objective(flipped, W, Q) >= value - 1e-12)
    # ... and with weakly coupled bits it is almost always the global optimum (brute force)
    W = np.eye(4, 3) + 0.1 * rng.normal(size=(4, 3))
    B, _ = discrete_cyclic_coordinate_descent(Q, W)
    candidates = np.array(list(itertools.product([-1.0, 1.0], repeat=4)))
    best = np.array([_dcc_objective(candidates, W, np.tile(q, (16, 1))).min() for q in Q])
    assert np.mean(np.isclose(_dcc_objective(B, W, Q), best)) >= 0.9
    # with uncoupled bits (W W^T diagonal) it is exactly sgn(Q)
    B, _ = discrete_cyclic_coordinate_descent(Q, np.eye(4))
    assert np.array_equal(B, np.where(Q >= 0, 1.0, -1.0))


def test_sdh_codes_predict_the_training_labels(blobs):
    X, y = blobs
    sdh = SDH(8, n_anchors=60, random_state=0).fit(X, y)
    predicted = np.argmax((2.0 * sdh.transform(X) - 1) @ sdh.classifier_weights_, axis=1)
    assert np.mean(predicted == y) > 0.95
    assert 1 <= sdh.n_iter_ <= 5


def test_sdh_kernel_features_follow_the_reference(blobs):
    X, y = blobs
    sdh = SDH(5, n_anchors=30, random_state=0).fit(X, y)
    distances = ((X[:, None, :] - sdh.anchors_[None, :, :]) ** 2).sum(axis=2)
    anchor_rows = distances.argmin(axis=0)  # each anchor is the training row at distance 0
    distances_to_others = distances.copy()
    distances_to_others[anchor_rows, np.arange(30)] = np.inf  # an anchor is not its own neighbour
    assert np.isclose(sdh.sigma_, np.sqrt(distances_to_others.min(axis=1)).mean())
    features = np.exp(-distances / (2 * sdh.sigma_**2))
    assert np.allclose(sdh.project(X), features @ sdh.components_.T + sdh.intercept_)
    assert SDH(5, n_anchors=30, sigma=0.4, random_state=0).fit(X, y).sigma_ == 0.4


# -- real data -------------------------------------------------------------------------------
def _map(hasher, X, y, queries, database):
    return mean_average_precision(
        hasher.encode(X[queries]), hasher.encode(X[database]), y[queries], y[database]
    ).value


@pytest.mark.parametrize(
    "make",
    [
        # fewer gradient steps than the reference's 500 keep this test fast
        lambda: KSH(32, max_iter=50, random_state=0),
        lambda: SDH(32, random_state=0),
    ],
    ids=["KSH", "SDH"],
)
def test_real_mnist_beats_lsh(make, mnist_split):
    X, y, queries, database, train = mnist_split
    lsh = SignRandomProjection(32, random_state=0).fit(X[train])
    hasher = make().fit(X[train], y[train])
    lsh_map = _map(lsh, X, y, queries, database)
    hasher_map = _map(hasher, X, y, queries, database)
    # published (GRH paper, MNIST, T = 1,000, 32 bits): LSH 0.27, KSH 0.80
    assert hasher_map > lsh_map + 0.25, (hasher_map, lsh_map)

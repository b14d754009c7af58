"""Spectral Hashing and Anchor Graph Hashing: contract, reference transcriptions, real data."""

from __future__ import annotations

import numpy as np
import pytest

import hashlearn
from hashlearn.datasets import load_mnist
from hashlearn.evaluation import mean_average_precision
from hashlearn.hashers._linalg import fix_signs
from hashlearn.hashers.anchor_graph import AGH, anchor_affinities
from hashlearn.hashers.lsh import SignRandomProjection
from hashlearn.hashers.spectral import SH

# The estimator checks fit on 10-100 samples: AGH gets few anchors and, with s = 3, a
# connected enough anchor graph to have 4 non-trivial eigenvectors.


def makers():
    return [
        lambda n_bits: SH(n_bits),
        lambda n_bits: AGH(n_bits, n_anchors=40, n_layers=1, random_state=7),
        lambda n_bits: AGH(n_bits, n_anchors=40, n_layers=2, random_state=7),
    ]


def test_agh_seed_changes_anchors(blobs):
    X, _ = blobs
    first = AGH(8, n_anchors=40, random_state=0).fit(X)
    second = AGH(8, n_anchors=40, random_state=1).fit(X)
    assert not np.allclose(first.anchors_, second.anchors_)


@pytest.mark.parametrize("make", makers())
def test_save_load_round_trip(make, blobs, tmp_path):
    X, _ = blobs
    hasher = make(13).fit(X)
    loaded = hashlearn.load(hasher.save(tmp_path / "model.hlz"))
    assert type(loaded) is type(hasher)
    assert loaded.get_params() == hasher.get_params()
    assert np.array_equal(loaded.encode(X), hasher.encode(X))
    assert np.array_equal(loaded.encode(X[::-1] * 1.5), hasher.encode(X[::-1] * 1.5))


def test_float32_input_gives_the_same_codes(blobs):
    X, _ = blobs
    for hasher in (SH(16).fit(X), AGH(16, n_anchors=40, random_state=0).fit(X)):
        assert (hasher.transform(X.astype(np.float32)) != hasher.transform(X)).mean() < 0.01


# -- Spectral Hashing ---------------------------------------------------------------


def reference_sh(X, n_bits, pc):
    """Line-by-line transcription of trainSH.m / compressSH.m, given the PCA directions."""
    projected = X @ pc  # "no need to remove the mean"
    eps = np.finfo(float).eps
    mn, mx = projected.min(axis=0) - eps, projected.max(axis=0) + eps
    R = mx - mn
    max_mode = np.ceil((n_bits + 1) * R / R.max()).astype(int)
    n_modes = max_mode.sum() - max_mode.size + 1
    modes = np.ones((n_modes, pc.shape[1]))
    m = 1
    for i in range(pc.shape[1]):
        modes[m : m + max_mode[i] - 1, i] = np.arange(2, max_mode[i] + 1)
        m += max_mode[i] - 1
    modes -= 1
    omegas = modes * (np.pi / R)
    eig_val = -(omegas**2).sum(axis=1)
    order = np.argsort(-eig_val, kind="stable")
    modes = modes[order[1 : n_bits + 1]]
    U = np.ones((X.shape[0], n_bits))
    for j in range(n_bits):
        U[:, j] = np.prod(np.sin((projected - mn) * (modes[j] * np.pi / R) + np.pi / 2), axis=1)
    return modes, U > 0


@pytest.mark.parametrize("n_bits", [3, 12, 40])
def test_sh_matches_the_reference_code(n_bits):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 20)) * np.linspace(3, 0.5, 20) + 5.0
    sh = SH(n_bits).fit(X)
    modes, bits = reference_sh(X, n_bits, sh.components_.T)
    assert np.array_equal(sh.modes_, modes.astype(int))
    assert np.array_equal(sh.transform(X).astype(bool), bits)
    # the principal directions are the covariance's top eigenvectors, sorted, unit norm
    covariance = np.cov(X, rowvar=False)
    values = np.linalg.eigvalsh(covariance)[::-1][: min(n_bits, 20)]
    explained = np.einsum("ij,jk,ik->i", sh.components_, covariance, sh.components_)
    assert np.allclose(explained, values)


def test_sh_modes_on_a_box_by_hand():
    # Uniform in a 3.5 x 1 box: eigenvalues (k pi / R)^2 order the modes by k / R:
    # long axis k = 1, 2, 3 (k / R = .29, .57, .86), then short axis k = 1 (1.0).
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(4000, 2)) * [3.5, 1.0]
    X[:2] = [[0.0, 0.0], [3.5, 1.0]]  # pin the ranges
    sh = SH(4).fit(X)
    assert np.array_equal(sh.modes_, [[1, 0], [2, 0], [3, 0], [0, 1]])
    assert np.allclose(sh.max_ - sh.min_, [3.5, 1.0], atol=0.05)  # PCA tilts a little


def test_sh_bits_of_a_one_dimensional_line_by_hand():
    # On x in [0, 1] (one direction), bit k is cos(k pi x) >= 0.
    X = np.linspace(0.0, 1.0, 201)[:, None]
    sh = SH(3).fit(X)
    x = np.array([0.1, 0.3, 0.45, 0.55, 0.7, 0.9])
    bits = sh.transform(x[:, None] * sh.components_[0, 0] + 0.0)
    projection = (x - sh.mean_[0]) * sh.components_[0, 0] - sh.min_[0]
    expected = np.cos(np.arange(1, 4) * np.pi * projection[:, None] / (sh.max_ - sh.min_)[0]) >= 0
    assert np.array_equal(bits.astype(bool), expected)
    # and the first bit halves the line
    assert sh.transform(X)[:, 0].mean() == pytest.approx(0.5, abs=0.01)


def test_sh_ignores_random_state(blobs):
    X, _ = blobs
    assert np.array_equal(SH(16, random_state=0).fit(X).encode(X), SH(16).fit(X).encode(X))


def test_fix_signs():
    vectors = np.array([[0.1, -0.9], [-0.8, 0.2], [0.3, 0.3]])
    fixed = fix_signs(vectors)
    assert np.array_equal(fixed, [[-0.1, 0.9], [0.8, -0.2], [-0.3, -0.3]])


# -- Anchor Graph Hashing -----------------------------------------------------------


def reference_agh(X, anchors, n_bits, s, n_layers):
    """Transcription of OneLayerAGH_Train.m / TwoLayerAGH_Train.m (dense Z, dense eig)."""
    n, m = X.shape[0], anchors.shape[0]
    dis = ((X[:, None, :] - anchors[None, :, :]) ** 2).sum(axis=2)
    val, pos = np.zeros((n, s)), np.zeros((n, s), dtype=int)
    for i in range(s):
        pos[:, i] = dis.argmin(axis=1)
        val[:, i] = dis[np.arange(n), pos[:, i]]
        dis[np.arange(n), pos[:, i]] = 1e60
    sigma = np.mean(np.sqrt(val[:, s - 1]))
    val = np.exp(-val / sigma**2)
    val /= val.sum(axis=1, keepdims=True)
    Z = np.zeros((n, m))
    Z[np.arange(n)[:, None], pos] = val
    lamda = Z.sum(axis=0)
    M = np.diag(lamda**-0.5) @ Z.T @ Z @ np.diag(lamda**-0.5)
    eigenvalue, W = np.linalg.eigh(M)
    order = np.argsort(-eigenvalue, kind="stable")
    eigenvalue, W = eigenvalue[order], W[:, order]
    ind = (eigenvalue > 0) & (eigenvalue < 1 - 1e-3)
    eigenvalue, W = eigenvalue[ind], fix_signs(W[:, ind])
    r = n_bits if n_layers == 1 else n_bits // 2
    W = np.diag(lamda**-0.5) @ W[:, :r] @ np.diag(eigenvalue[:r] ** -0.5) * np.sqrt(n)
    Y = Z @ W
    if n_layers == 1:
        return Y > 0, sigma
    Y1 = Y.copy()
    thres = np.zeros((2, r))
    for k in range(r):
        positive = Y[:, k] > 0
        n1, n2 = positive.sum(), n - positive.sum()
        get = np.abs(Y[:, k])
        right = (get @ Z) / lamda
        left = Z[positive].sum(axis=0)
        s1 = (left * right).sum()
        s2 = n1 - (left * left / lamda).sum()
        s3 = Y[positive, k].sum()
        thres[0, k] = (2 * s3 + n2 * (s3 - s1) / s2) / n
        thres[1, k] = (n1 * (s3 - s1) / s2 - 2 * s3) / n
        Y1[positive, k] -= thres[0, k]
        Y1[~positive, k] = -Y1[~positive, k] + thres[1, k]
    return np.hstack([Y, Y1]) > 0, sigma


@pytest.mark.parametrize(("n_layers", "s"), [(1, 2), (2, 2), (2, 4)])
def test_agh_matches_the_reference_code(n_layers, s, blobs):
    X, _ = blobs
    agh = AGH(12, n_anchors=30, n_nearest_anchors=s, n_layers=n_layers, random_state=0).fit(X)
    bits, sigma = reference_agh(X, agh.anchors_, 12, s, n_layers)
    assert agh.sigma_ == pytest.approx(sigma)
    assert np.array_equal(agh.transform(X).astype(bool), bits)


def test_agh_affinities_by_hand():
    anchors = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0]])
    X = np.array([[0.0, 0.0], [0.5, 0.0], [10.0, 0.0]])
    indices, weights, sigma = anchor_affinities(X, anchors, 2, sigma=1.0)
    # row 1 is equidistant from anchors 0 and 1: the tie goes to the lower index first.
    assert indices.tolist() == [[0, 1], [0, 1], [1, 0]]
    e = np.exp(-1.0)
    assert np.allclose(weights[0], [1 / (1 + e), e / (1 + e)])
    assert np.allclose(weights[1], [0.5, 0.5])
    # far away: exp(-81) vs exp(-100) would underflow to nothing without the shift.
    assert np.allclose(weights[2], [1 / (1 + np.exp(-19.0)), np.exp(-19.0) / (1 + np.exp(-19.0))])
    assert np.allclose(weights.sum(axis=1), 1.0)
    # default width: mean distance to the s-th nearest anchor
    _, _, sigma = anchor_affinities(X, anchors, 2)
    assert sigma == pytest.approx(np.mean([1.0, 0.5, 10.0]))


def test_agh_eigenfunctions_are_orthonormal_on_the_training_set(blobs):
    # Y^T Y = n I: the columns of Z W are orthogonal with squared norm n.
    X, _ = blobs
    agh = AGH(10, n_anchors=40, n_layers=1, random_state=0).fit(X)
    Y = agh.project(X)
    assert np.allclose(Y.T @ Y / len(X), np.eye(10), atol=1e-8)
    assert np.all(np.diff(agh.eigenvalues_) <= 0) and np.all(agh.eigenvalues_ < 1 - 1e-3)
    # and each is orthogonal to the constant (trivial) eigenfunction
    assert np.allclose(Y.sum(axis=0), 0.0, atol=1e-8)


def test_agh_two_layers_share_the_first_layer(blobs):
    X, _ = blobs
    one = AGH(6, n_anchors=40, n_layers=1, random_state=0).fit(X)
    two = AGH(12, n_anchors=40, n_layers=2, random_state=0).fit(X)
    assert np.array_equal(two.transform(X)[:, :6], one.transform(X))
    assert two.thresholds_.shape == (2, 6)


def test_agh_separates_clusters_better_than_lsh(blobs):
    X, y = blobs
    for hasher in (AGH(8, n_anchors=40, n_layers=1), AGH(8, n_anchors=40, n_layers=2)):
        packed = hasher.fit(X).encode(X)
        lsh = SignRandomProjection(8, random_state=0).fit(X).encode(X)
        agh_map = mean_average_precision(packed, packed, y, y).value
        assert agh_map > mean_average_precision(lsh, lsh, y, y).value + 0.1


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"n_anchors": 500}, ValueError, r"n_anchors must be at most .* \(200\), got 500"),
        ({"n_anchors": 1}, ValueError, r"n_anchors must be in \[2, inf\], got 1"),
        ({"n_anchors": 2.5}, TypeError, "n_anchors must be an int"),
        ({"n_nearest_anchors": 0}, ValueError, r"n_nearest_anchors must be in \[1, 40\]"),
        ({"n_layers": 3}, ValueError, r"n_layers must be in \[1, 2\], got 3"),
        ({"sigma": -1.0}, ValueError, "sigma must be a positive finite float"),
        ({"sigma": "auto"}, TypeError, "sigma must be a positive float or None"),
        ({"n_bits": 64}, ValueError, r"n_bits=64 needs 64 non-trivial eigenvectors"),
    ],
)
def test_agh_bad_parameters(kwargs, error, message, blobs):
    X, _ = blobs
    params = {"n_bits": 8, "n_anchors": 40, "n_layers": 1, "random_state": 0, **kwargs}
    with pytest.raises(error, match=message):
        AGH(**params).fit(X)


def test_bad_input(blobs):
    X, _ = blobs
    for hasher in (SH(8), AGH(8, n_anchors=40, random_state=0)):
        with pytest.raises(ValueError, match="at least 2 sample"):
            hasher.fit(X[:1])
        bad = X.copy()
        bad[1, 2] = np.nan
        with pytest.raises(ValueError, match="NaN or infinity"):
            hasher.fit(bad)
        hasher.fit(X)
        with pytest.raises(ValueError, match="is expecting 16 features"):
            hasher.encode(X[:, :3])


# -- real data ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist_split(real_data_dir):
    data = load_mnist(real_data_dir)
    X = data.X.astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.asarray(data.y)
    rng = np.random.default_rng(0)
    queries = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), 100, replace=False) for c in range(10)]
    )
    rest = rng.permutation(np.setdiff1d(np.arange(len(y)), queries))
    database, train = rest[:10_000], rest[:2_000]
    return X, y, queries, database, train


def _map(hasher, split):
    X, y, queries, database, train = split
    hasher.fit(X[train])
    return mean_average_precision(
        hasher.encode(X[queries]), hasher.encode(X[database]), y[queries], y[database]
    ).value


@pytest.mark.realdata
def test_real_mnist_agh_beats_lsh(mnist_split):
    lsh = _map(SignRandomProjection(32, random_state=0), mnist_split)
    # published (GRH Table 2, 32 bits): AGH 0.558, LSH 0.270; measured here (2,000 training
    # points, 10,000 database): LSH 0.25, 1-AGH 0.41, 2-AGH 0.58
    assert _map(AGH(32, n_layers=2, random_state=0), mnist_split) > lsh + 0.2
    assert _map(AGH(32, n_layers=1, random_state=0), mnist_split) > lsh + 0.1


@pytest.mark.realdata
def test_real_mnist_sh_matches_lsh(mnist_split):
    lsh = _map(SignRandomProjection(32, random_state=0), mnist_split)
    sh = _map(SH(32), mnist_split)
    # published (GRH Table 2, 32 bits): SH 0.263, LSH 0.270 -- level with LSH, not above
    assert sh > lsh - 0.03

"""Self-Taught Hashing: the graph, the Laplacian eigenmap, the self-taught SVMs, sparse input."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp

import hashlearn
from hashlearn.codes import hamming_distances
from hashlearn.experiments.methods import build_method
from hashlearn.hashers import STH, SelfTaughtHashing
from hashlearn.hashers.median import balanced_thresholds
from hashlearn.hashers.sth import _knn_affinity, _laplacian_eigenmap


def _documents(n_per_topic=40, n_topics=4, n_words=300, seed=0, dtype=np.float64):
    """Sparse TF-IDF-like rows: each topic draws its words from its own vocabulary slice,
    plus a few shared words; rows are L2-normalised. Returns (X as CSR, topics)."""
    rng = np.random.default_rng(seed)
    topics = np.repeat(np.arange(n_topics), n_per_topic)
    own = np.zeros((n_topics, n_words), dtype=bool)
    for t in range(n_topics):
        own[t, rng.choice(n_words, 30, replace=False)] = True
    shared = rng.random(n_words) < 0.02
    mask = (own[topics] & (rng.random((topics.size, n_words)) < 0.4)) | (
        shared & (rng.random((topics.size, n_words)) < 0.3)
    )
    weights = np.where(mask, rng.random(mask.shape) + 0.5, 0.0)
    weights /= np.linalg.norm(weights, axis=1, keepdims=True)
    return sp.csr_matrix(weights.astype(dtype)), topics


def _laplacian_problem(affinity):
    dense = affinity.toarray()
    degrees = np.diag(dense.sum(axis=1))
    return degrees - dense, degrees


# -- the unsupervised step ---------------------------------------------------------------


def test_knn_affinity_is_the_symmetric_cosine_graph():
    X, _ = _documents(n_per_topic=10)
    affinity, sigma = _knn_affinity(X, 3, "cosine", None, None)
    dense = affinity.toarray()
    assert sigma is None
    assert np.array_equal(dense, dense.T) and not np.diag(dense).any()
    similarity = (X @ X.T).toarray()
    np.fill_diagonal(similarity, -np.inf)
    for i in range(X.shape[0]):
        nearest = np.argsort(-similarity[i], kind="stable")[:3]
        # i's own three nearest neighbours are linked with their cosine similarity
        np.testing.assert_allclose(dense[i, nearest], similarity[i, nearest], rtol=1e-6)
    linked = dense > 0
    # every edge is a neighbour relation in at least one direction
    rank = np.argsort(np.argsort(-similarity, axis=1, kind="stable"), axis=1, kind="stable")
    assert np.all((rank < 3) | (rank.T < 3) | ~linked)


def test_knn_affinity_heat_kernel_and_its_default_width():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4))
    affinity, sigma = _knn_affinity(X, 5, "euclidean", None, None)
    distances = np.linalg.norm(X[:, None] - X[None], axis=2)
    np.fill_diagonal(distances, np.inf)
    nearest = np.sort(distances, axis=1)[:, :5]
    assert sigma == pytest.approx(nearest.mean())
    i, j = affinity.nonzero()
    np.testing.assert_allclose(
        np.asarray(affinity[i, j]).ravel(), np.exp(-(distances[i, j] ** 2) / (2 * sigma**2))
    )
    _, given = _knn_affinity(X, 5, "euclidean", 0.5, None)
    assert given == 0.5


# The dense path (at most 65 rows), ARPACK's Lanczos, and every eigenvector (dense again:
# ARPACK cannot return all of them).
@pytest.mark.parametrize(("n", "n_components"), [(15, 4), (120, 4), (81, 80)])
def test_eigenmap_solves_the_generalised_problem(n, n_components):
    X, _ = _documents(n_per_topic=n // 3, n_topics=3, seed=1)
    affinity, _ = _knn_affinity(X, 6, "cosine", None, None)
    embedding, eigenvalues = _laplacian_eigenmap(affinity, n_components, np.random.default_rng(0))
    laplacian, degrees = _laplacian_problem(affinity)
    # L y = lambda D y, y^T D 1 = 0 (not the trivial solution), Y^T D Y diagonal
    residual = laplacian @ embedding - degrees @ embedding * eigenvalues
    assert np.abs(residual).max() < 1e-8
    assert np.abs(embedding.T @ degrees.sum(axis=1)).max() < 1e-8
    gram = embedding.T @ degrees @ embedding
    np.testing.assert_allclose(gram, np.eye(n_components), atol=1e-8)
    # the smallest non-trivial eigenvalues, in order
    reference = scipy.linalg.eigh(laplacian, degrees, eigvals_only=True)
    np.testing.assert_allclose(eigenvalues, reference[1 : n_components + 1], atol=1e-8)
    # signs fixed: the largest-magnitude entry of each eigenvector is positive
    assert np.all(embedding[np.abs(embedding).argmax(axis=0), range(n_components)] > 0)


def test_eigenmap_keeps_the_vectors_that_separate_components():
    """Three disconnected cliques: eigenvalue 0 twice, and those eigenvectors tell the
    cliques apart (dropping "the first eigenvector" would keep one constant-on-clique
    vector and lose the other, or keep the trivial one)."""
    blocks = [np.ones((5, 5)) - np.eye(5)] * 3
    affinity = sp.csr_matrix(scipy.linalg.block_diag(*blocks))
    embedding, eigenvalues = _laplacian_eigenmap(affinity, 2, np.random.default_rng(0))
    np.testing.assert_allclose(eigenvalues, [0.0, 0.0], atol=1e-12)
    clique_means = embedding.reshape(3, 5, 2).mean(axis=1)
    assert np.linalg.matrix_rank(clique_means, tol=1e-8) == 2  # the three cliques differ
    assert np.allclose(embedding.reshape(3, 5, 2), clique_means[:, None], atol=1e-10)


def test_isolated_points_get_zero_and_an_empty_graph_is_refused():
    X, _ = _documents(n_per_topic=8, n_topics=3)
    affinity, _ = _knn_affinity(X, 3, "cosine", None, None)
    isolated = sp.block_diag([affinity, sp.csr_matrix((1, 1))]).tocsr()
    embedding, _ = _laplacian_eigenmap(isolated, 3, np.random.default_rng(0))
    assert np.all(embedding[-1] == 0.0) and np.abs(embedding[:-1]).max() > 0
    with pytest.raises(ValueError, match="graph has no edges"):
        _laplacian_eigenmap(sp.csr_matrix((10, 10)), 2, np.random.default_rng(0))
    orthogonal = sp.identity(12, format="csr")  # no two rows share a word
    with pytest.raises(ValueError, match="graph has no edges"):
        STH(n_bits=2, n_neighbors=3, random_state=0).fit(orthogonal)


# -- the hasher ----------------------------------------------------------------------------


def test_codes_respect_the_topics_also_for_unseen_documents():
    X, topics = _documents(n_per_topic=60, seed=2)
    train = np.arange(X.shape[0]) % 3 != 0
    sth = STH(n_bits=8, n_neighbors=10, random_state=0).fit(X[train])
    database, queries = sth.encode(X[train]), sth.encode(X[~train])
    distances = hamming_distances(queries, database)
    same = topics[~train][:, None] == topics[train][None, :]
    assert distances[same].mean() + 2.0 < distances[~same].mean()
    nearest = np.argmin(distances, axis=1)
    assert (topics[train][nearest] == topics[~train]).mean() >= 0.95


def test_the_svms_reproduce_the_balanced_eigenmap_codes():
    X, _ = _documents(n_per_topic=50, seed=3)
    sth = STH(n_bits=6, n_neighbors=8, C=3.0, random_state=0).fit(X)
    affinity, _ = _knn_affinity(X, 8, "cosine", None, None)
    # the seed's first draw starts the Lanczos iteration, as in fit
    embedding, eigenvalues = _laplacian_eigenmap(affinity, 6, np.random.default_rng(0))
    assert np.array_equal(sth.eigenvalues_, eigenvalues)
    assert np.array_equal(sth.thresholds_, balanced_thresholds(embedding))
    training_bits = embedding >= sth.thresholds_
    assert np.all(np.abs(training_bits.mean(axis=0) - 0.5) <= 0.01)  # median: balanced
    agreement = (sth.transform(X) == training_bits).mean()
    assert agreement >= 0.95
    assert sth.n_constant_bits_ == 0 and sth.sigma_ is None
    # C reaches the SVMs: a strongly regularised SVM fits fewer training bits
    loose = STH(n_bits=6, n_neighbors=8, C=0.01, random_state=0).fit(X)
    assert (loose.transform(X) == training_bits).mean() < agreement - 0.05


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_input_gives_the_codes_of_the_dense_input(dtype):
    X, _ = _documents(n_per_topic=40, seed=4, dtype=dtype)
    sparse = STH(n_bits=10, n_neighbors=8, random_state=0).fit(X)
    dense = STH(n_bits=10, n_neighbors=8, random_state=0).fit(X.toarray())
    np.testing.assert_allclose(sparse.components_, dense.components_, rtol=1e-5, atol=1e-8)
    codes = sparse.encode(X)
    assert np.array_equal(codes, dense.encode(X.toarray()))
    assert np.array_equal(codes, sparse.encode(X.toarray()))
    assert np.array_equal(codes, dense.encode(X.tocoo()))


def test_same_seed_same_codes_and_threads_do_not_matter():
    X, _ = _documents(n_per_topic=40, seed=5)
    first = STH(n_bits=12, n_neighbors=8, random_state=7).fit(X)
    second = STH(n_bits=12, n_neighbors=8, random_state=7).fit(X)
    threaded = STH(n_bits=12, n_neighbors=8, n_jobs=2, random_state=7).fit(X)
    assert np.array_equal(first.components_, second.components_)
    assert np.array_equal(first.encode(X), second.encode(X))
    assert np.array_equal(first.encode(X), threaded.encode(X))


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_save_and_load_round_trip(metric, tmp_path):
    X, _ = _documents(n_per_topic=30, seed=6)
    sth = STH(n_bits=9, n_neighbors=6, metric=metric, C=0.5, random_state=0).fit(X)
    loaded = hashlearn.load(sth.save(tmp_path / "sth.hlz"))
    assert isinstance(loaded, SelfTaughtHashing)
    assert loaded.get_params() == {**sth.get_params(), "n_jobs": None}
    assert np.array_equal(loaded.encode(X), sth.encode(X))
    for name in ("components_", "intercept_", "eigenvalues_", "thresholds_"):
        assert np.array_equal(getattr(loaded, name), getattr(sth, name))
    assert loaded.sigma_ == sth.sigma_ and (metric == "cosine") == (sth.sigma_ is None)
    assert loaded.n_constant_bits_ == 0


def test_a_constant_training_bit_gets_a_constant_hash_function():
    X, topics = _documents(n_per_topic=20, seed=7)
    bits = np.column_stack([topics < 2, np.ones_like(topics, dtype=bool), topics % 2 == 0])
    sth = STH(n_bits=3, random_state=0)
    with pytest.warns(RuntimeWarning, match="1 bit.*same training code"):
        sth._learn_hash_functions(X, bits, np.random.default_rng(0))
    assert sth.n_constant_bits_ == 1
    assert not sth.components_[1].any() and sth.intercept_[1] == 1.0
    projections = np.asarray(X @ sth.components_.T) + sth.intercept_
    assert np.array_equal(projections >= 0, bits)  # the SVMs separate the two real bits
    with pytest.warns(RuntimeWarning, match="same training code"):
        sth._learn_hash_functions(X, ~bits, np.random.default_rng(0))
    assert sth.intercept_[1] == -1.0 and not sth.components_[1].any()


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"n_neighbors": 0}, ValueError, r"n_neighbors must be in \[1, inf\], got 0"),
        ({"n_neighbors": 2.5}, TypeError, "n_neighbors must be an int, got 2.5"),
        ({"metric": "manhattan"}, ValueError, "metric must be one of 'cosine', 'euclidean'"),
        ({"sigma": 1.0}, ValueError, "applies to metric='euclidean' only"),
        ({"metric": "euclidean", "sigma": -1.0}, ValueError, "sigma must be a positive"),
        ({"C": 0.0}, ValueError, "C must be a positive finite float, got 0.0"),
        ({"C": float("nan")}, ValueError, "C must be a positive finite float, got nan"),
        ({"C": "1"}, TypeError, "C must be a positive float, got '1'"),
        ({"n_jobs": "2"}, TypeError, "n_jobs must be an int"),
        ({"n_neighbors": 40}, ValueError, r"n_neighbors must be below .* \(40\)"),
        ({"n_bits": 40}, ValueError, r"more training samples than bits.*n_bits=40"),
    ],
)
def test_bad_parameters_are_named(params, error, message):
    X, _ = _documents(n_per_topic=10)  # 40 rows
    with pytest.raises(error, match=message):
        STH(**{"n_bits": 4, "random_state": 0, **params}).fit(X)


def test_the_method_spec_checks_parameters_when_built():
    sth = build_method("sth:n_neighbors=10,C=0.1", 32, 0)
    assert isinstance(sth, SelfTaughtHashing) and (sth.n_neighbors, sth.C) == (10, 0.1)
    with pytest.raises(ValueError, match="sth: metric must be one of"):
        build_method("sth:metric=l1", 8, 0)

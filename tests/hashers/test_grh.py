"""Graph Regularised Hashing: the graph, the two steps, the classifier plug-in, streaming."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.neighbors import kneighbors_graph
from sklearn.svm import SVC

import hashlearn
from hashlearn import codes
from hashlearn.hashers import GRH, LSH, label_affinity, normalise_affinity


def knn_label_precision(hasher, X, y, k=10):
    """Fraction of each point's k Hamming nearest neighbours (itself excluded) sharing its label."""
    packed = hasher.encode(X)
    distances = codes.hamming_distances(packed, packed).astype(float)
    np.fill_diagonal(distances, np.inf)
    order = np.argsort(distances, axis=1, kind="stable")[:, :k]
    return float((y[order] == y[:, None]).mean())


def test_label_affinity_by_hand():
    # items 0 and 2 share label "a"; item 1 is alone.
    S = label_affinity(np.array(["a", "b", "a"])).toarray()
    assert np.array_equal(S, [[1, 0, 1], [0, 1, 0], [1, 0, 1]])
    # multi-label: 0 and 1 share label 1; 2 shares nothing with anyone; 3 has no label.
    Y = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]])
    S = label_affinity(Y).toarray()
    assert np.array_equal(S, [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]])


def test_normalise_affinity_rows_sum_to_one_and_isolated_rows_stay_zero():
    S = sp.csr_matrix(np.array([[1.0, 3.0, 0.0], [0.0, 0.0, 0.0], [2.0, 0.0, 2.0]]))
    P = normalise_affinity(S).toarray()
    assert np.allclose(P, [[0.25, 0.75, 0.0], [0.0, 0.0, 0.0], [0.5, 0.0, 0.5]])


def test_regularisation_with_alpha_one_gives_each_class_one_code():
    grh = GRH(n_bits=4, alpha=1.0)
    y = np.array([0, 0, 0, 1, 1])
    graph = normalise_affinity(label_affinity(y))
    current = np.array(
        [[1, 1, -1, 1], [1, -1, -1, 1], [-1, 1, -1, -1], [1, 1, 1, -1], [-1, 1, 1, -1]]
    )
    target = grh._regularise(graph, current, current)
    # class 0 bit means: (1/3, 1/3, -1, 1/3) -> +,+,-,+
    # class 1 bit means: (0, 1, 1, -1) -> +,+,+,- (sgn 0 = +1)
    assert np.array_equal(target[:3], np.tile([1, 1, -1, 1], (3, 1)))
    assert np.array_equal(target[3:], np.tile([1, 1, 1, -1], (2, 1)))


def test_regularisation_with_alpha_zero_keeps_the_anchor():
    grh = GRH(n_bits=2, alpha=0.0)
    graph = normalise_affinity(label_affinity(np.array([0, 0])))
    anchor = np.array([[1, -1], [-1, 1]])
    assert np.array_equal(grh._regularise(graph, -anchor, anchor), anchor)


def test_grh_beats_lsh_on_labelled_clusters(blobs):
    X, y = blobs
    lsh = LSH(8, random_state=0).fit(X)
    grh = GRH(8, alpha=1.0, random_state=0).fit(X, y)
    assert knn_label_precision(grh, X, y) > knn_label_precision(lsh, X, y) + 0.2


def test_precomputed_sparse_affinity_for_semi_supervised_use(blobs):
    X, y = blobs
    graph = kneighbors_graph(X, n_neighbors=10, include_self=True)
    graph = graph.maximum(graph.T)
    grh = GRH(8, alpha=1.0, random_state=0).fit(X, affinity=graph)
    lsh = LSH(8, random_state=0).fit(X)
    assert knn_label_precision(grh, X, y) > knn_label_precision(lsh, X, y)


def test_multilabel_targets(blobs):
    X, y = blobs
    Y = np.eye(4, dtype=int)[y]
    Y[::7, (y[::7] + 1) % 4] = 1  # a few items carry a second label
    grh = GRH(8, alpha=1.0, random_state=0).fit(X, Y)
    assert grh.encode(X).shape == (len(X), 1)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"alpha": 1.5}, ValueError, r"alpha must be in \[0, 1\], got 1.5"),
        ({"alpha": "high"}, TypeError, "alpha must be a float"),
        ({"n_iter": 0}, ValueError, "n_iter must be >= 1, got 0"),
        ({"classifier": object()}, TypeError, "classifier must implement fit"),
        ({"init": "pca"}, ValueError, "init must be 'lsh' or a hasher"),
    ],
)
def test_bad_parameters(blobs, kwargs, error, message):
    X, y = blobs
    with pytest.raises(error, match=message):
        GRH(8, **kwargs).fit(X, y)


def test_needs_exactly_one_of_labels_or_affinity(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="requires y"):
        GRH(8).fit(X)
    with pytest.raises(ValueError, match="not both"):
        GRH(8).fit(X, y, affinity=label_affinity(y))
    with pytest.raises(ValueError, match=r"affinity must have shape \(200, 200\)"):
        GRH(8).fit(X, affinity=sp.eye(5))
    with pytest.raises(ValueError, match="has 10 entries but X has 200"):
        GRH(8).fit(X, y[:10])


def test_init_from_a_fitted_hasher_is_used_as_is(blobs):
    X, y = blobs
    lsh = LSH(8, random_state=3).fit(X)
    grh = GRH(8, alpha=0.0, n_iter=1, random_state=0, init=lsh).fit(X, y)
    # alpha = 0: the classifiers learn the initial codes themselves.
    agreement = (grh.transform(X) == lsh.transform(X)).mean()
    assert agreement > 0.95
    assert grh._init_hasher is lsh


def test_init_unfitted_hasher_is_cloned_and_fitted(blobs):
    X, y = blobs
    init = LSH(8, random_state=3)
    GRH(8, random_state=0, init=init).fit(X, y)
    assert not hasattr(init, "components_")


def test_init_with_wrong_length_is_refused(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="init hasher has n_bits=4"):
        GRH(8, init=LSH(4)).fit(X, y)


def test_degenerate_bits_get_a_balanced_random_hyperplane(blobs):
    X, _ = blobs
    one_class = np.zeros(len(X), dtype=int)
    with pytest.warns(RuntimeWarning, match="all-equal regularised codes"):
        grh = GRH(6, alpha=1.0, n_iter=2, random_state=0).fit(X, one_class)
    assert grh.n_degenerate_bits_ == 12
    balance = codes.bit_balance(grh.encode(X), 6)
    assert np.all(np.abs(balance - 0.5) <= 0.01)


def test_rbf_kernel_svm_is_compiled_exactly_and_saved(blobs, tmp_path):
    X, y = blobs
    grh = GRH(8, alpha=1.0, classifier=SVC(kernel="rbf", class_weight="balanced"), random_state=0)
    grh.fit(X, y)
    assert hasattr(grh, "support_vectors_")
    direct = np.column_stack([est.decision_function(X) for est in grh.estimators_])
    assert np.allclose(grh.project(X), direct, atol=1e-10)
    loaded = hashlearn.load(grh.save(tmp_path / "grh.hlz"))
    assert np.array_equal(loaded.encode(X), grh.encode(X))


def test_kernel_svm_with_degenerate_bits_stays_compiled_and_saveable(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 5)), np.repeat(np.arange(3), 20)  # few classes: bits collapse
    with pytest.warns(RuntimeWarning, match="all-equal"):
        grh = GRH(13, alpha=1.0, classifier=SVC(kernel="rbf"), random_state=0).fit(X, y)
    assert grh.n_degenerate_bits_ >= 1
    assert hasattr(grh, "support_vectors_")
    direct = np.column_stack([est.decision_function(X) for est in grh.estimators_])
    assert np.allclose(grh.project(X), direct, atol=1e-10)
    degenerate = [k for k, est in enumerate(grh.estimators_) if not isinstance(est, SVC)]
    balance = codes.bit_balance(grh.encode(X), 13)[degenerate]
    assert np.all(np.abs(balance - 0.5) <= 1 / 60)
    loaded = hashlearn.load(grh.save(tmp_path / "grh.hlz"))
    assert np.array_equal(loaded.encode(X), grh.encode(X))


def test_any_linear_classifier_with_decision_function(blobs):
    X, y = blobs
    grh = GRH(8, alpha=1.0, classifier=LogisticRegression(), random_state=0).fit(X, y)
    assert grh.components_.shape == (8, 16)


def test_classifier_without_portable_form_encodes_but_refuses_to_save(blobs, tmp_path):
    X, y = blobs
    grh = GRH(4, alpha=1.0, classifier=GradientBoostingClassifier(n_estimators=5), random_state=0)
    grh.fit(X, y)
    assert grh.encode(X).shape == (len(X), 1)
    with pytest.raises(TypeError, match="no portable representation"):
        grh.save(tmp_path / "grh.hlz")
    assert not (tmp_path / "grh.hlz").exists()


def test_streaming_with_passive_aggressive_updates(blobs):
    X, y = blobs
    order = np.random.default_rng(0).permutation(len(X))
    pa = SGDClassifier(loss="hinge", penalty=None, learning_rate="pa1", eta0=1.0)
    grh = GRH(8, alpha=1.0, classifier=pa, random_state=0)
    for batch in np.array_split(order, 4):
        grh.partial_fit(X[batch], y[batch])
    assert grh.components_.shape == (8, 16)
    lsh = LSH(8, random_state=0).fit(X)
    assert knn_label_precision(grh, X, y) > knn_label_precision(lsh, X, y)


def test_a_loaded_model_refuses_to_continue_streaming(blobs, tmp_path):
    X, y = blobs
    pa = SGDClassifier(loss="hinge", penalty=None, learning_rate="pa1", eta0=1.0)
    grh = GRH(8, alpha=1.0, classifier=pa, random_state=0).partial_fit(X[:100], y[:100])
    loaded = hashlearn.load(grh.save(tmp_path / "stream.hlz"))
    loaded.set_params(classifier=pa)
    with pytest.raises(ValueError, match="loaded from disk"):
        loaded.partial_fit(X[100:], y[100:])
    assert np.array_equal(loaded.encode(X), grh.encode(X))  # and it was left untouched


def test_saving_records_the_classifier_and_leaves_the_model_intact(blobs, tmp_path):
    X, y = blobs
    grh = GRH(8, classifier=SVC(kernel="rbf"), random_state=0).fit(X, y)
    loaded = hashlearn.load(grh.save(tmp_path / "grh.hlz"))
    assert loaded.classifier_repr_ == "SVC()"
    assert isinstance(grh.classifier, SVC) and len(grh.estimators_) == 8


def test_partial_fit_only_exists_for_streaming_classifiers():
    assert not hasattr(GRH(8), "partial_fit")
    assert hasattr(GRH(8, classifier=SGDClassifier()), "partial_fit")


def test_no_warning_on_a_normal_fit(blobs):
    X, y = blobs
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GRH(8, random_state=0).fit(X, y)


def test_inputs_that_used_to_fail_deep_inside_numpy(blobs):
    X, _ = blobs
    mixed = np.array([None, "a"] * 100, dtype=object)
    with pytest.raises(TypeError, match="one comparable type"):
        GRH(8).fit(X, mixed)
    with pytest.raises(TypeError, match="affinity must be an"):
        GRH(8).fit(X, affinity="knn")


def test_first_streaming_batch_needs_two_rows(blobs):
    X, y = blobs
    grh = GRH(8, classifier=SGDClassifier(), random_state=0)
    with pytest.raises(ValueError, match="at least 2 sample"):
        grh.partial_fit(X[:1], y[:1])

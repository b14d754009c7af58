"""Sparse input: methods that opt in take a scipy.sparse matrix as it is; the rest refuse it."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from hashlearn._validation import check_sparse_features
from hashlearn.hashers import ITQ, LSH


def _tfidf_like(n=120, d=60, seed=0):
    return sp.random(n, d, density=0.08, format="csr", random_state=seed, dtype=np.float32)


@pytest.mark.parametrize("to_format", ["csr", "csc", "coo"])
def test_lsh_codes_of_sparse_input_equal_the_dense_ones(to_format):
    X = _tfidf_like()
    sparse_codes = LSH(24, random_state=0).fit(X.asformat(to_format)).encode(X.asformat(to_format))
    dense_codes = LSH(24, random_state=0).fit(X.toarray()).encode(X.toarray())
    assert np.array_equal(sparse_codes, dense_codes)


def test_a_dense_only_method_refuses_sparse_input_and_says_what_to_do():
    with pytest.raises(TypeError, match=r"IterativeQuantization needs a dense array.*toarray"):
        ITQ(8).fit(_tfidf_like())


def test_integer_counts_become_float32_and_duplicates_are_summed():
    counts = sp.coo_matrix((np.array([1, 2, 3]), (np.array([0, 0, 1]), np.array([1, 1, 0]))))
    matrix = check_sparse_features(counts)
    assert matrix.dtype == np.float32 and matrix.format == "csr"
    assert matrix.toarray().tolist() == [[0.0, 3.0], [3.0, 0.0]]


def test_non_finite_sparse_values_are_located():
    X = _tfidf_like().tolil()
    X[7, 13] = np.nan
    with pytest.raises(ValueError, match="row 7, column 13"):
        LSH(8).fit(X.tocsr())


@pytest.mark.parametrize(
    ("X", "kwargs", "message"),
    [
        (sp.csr_matrix((0, 5), dtype=np.float32), {}, "at least 1 sample"),
        (sp.csr_matrix((3, 0), dtype=np.float32), {}, "0 feature"),
        (_tfidf_like(d=60), {"n_features": 50}, "expecting 50 features"),
        (np.zeros((3, 3)), {}, "scipy.sparse"),
    ],
)
def test_sparse_validation_errors(X, kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        check_sparse_features(X, **kwargs)


def test_sparse_encoding_checks_the_feature_count():
    hasher = LSH(8, random_state=0).fit(_tfidf_like(d=60))
    with pytest.raises(ValueError, match="expecting 60 features"):
        hasher.encode(_tfidf_like(d=61))

"""Hashing by principal components: PCAH, ITQ and CCA-ITQ (Gong and Lazebnik).

All three hashers are linear (``project(X) = X @ components_.T + intercept_``):

* :class:`PCAHashing` -- the signs of the top ``n_bits`` centred principal components;
* :class:`IterativeQuantization` -- the same components, rotated by the orthogonal
  matrix that minimises the quantisation loss ``||B - V R||_F^2``;
* :class:`CCAITQ` -- supervised: canonical correlation directions between the features
  and the labels instead of principal components, then the ITQ rotation.

Eigenvectors are only defined up to sign; every eigenvector is flipped so that its
largest-magnitude entry is positive (the first such entry on ties), so the codes are
reproducible.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import scipy.linalg

from hashlearn import codes
from hashlearn._registry import register
from hashlearn._validation import check_labels
from hashlearn.hashers._base import check_state_array
from hashlearn.hashers._linalg import fix_signs, principal_components
from hashlearn.hashers._linear import CentredLinearHasher, check_bits_fit_features

__all__ = [
    "CCAITQ",
    "CCA_ITQ",
    "ITQ",
    "PCAH",
    "IterativeQuantization",
    "PCAHashing",
    "cca_directions",
    "itq_rotation",
]


# --------------------------------------------------------------------------------------
# Numerical building blocks (pure functions)
# --------------------------------------------------------------------------------------


def cca_directions(
    X_centred: np.ndarray, Y: np.ndarray, n_components: int, regularization: float
) -> tuple[np.ndarray, np.ndarray]:
    """Regularised canonical correlation directions of ``X`` with respect to ``Y``.

    Solves the generalised symmetric eigenproblem

    ``Cxy (Cyy + r I)^-1 Cyx w = rho^2 (Cxx + r I) w``

    with covariances ``C`` over the training rows (``1 / (n - 1)``) and the ridge ``r``
    (``regularization``, absolute, added to both ``Cxx`` and ``Cyy`` as in Gong and
    Lazebnik's ``cca.m``). The eigenvalues ``rho^2`` are squared canonical correlations.
    The left-hand side has rank at most ``n_targets`` (``n_classes - 1`` non-zero
    eigenvalues for one-hot labels), so the problem is solved in the label space: with
    ``Cyy + r I = L L^T``, ``M = Cxy L^-T`` and ``B = Cxx + r I``, the eigenpairs
    ``(rho^2, u)`` of the small matrix ``M^T B^-1 M`` give ``w = B^-1 M u``.

    Parameters
    ----------
    X_centred : ndarray of shape (n_samples, n_features)
        Centred features.
    Y : ndarray of shape (n_samples, n_targets)
        Label indicator matrix (any real targets work; it is centred here).
    n_components : int
        Number of directions, at most ``n_features``.
    regularization : float
        The ridge ``r`` > 0.

    Returns
    -------
    directions : ndarray of shape (n_features, n_components)
        Unit 2-norm columns (as MATLAB's ``eig`` returns them), signs fixed, largest
        correlation first. Columns whose correlation is zero (beyond the rank of ``Cxy``)
        are zero: any direction of that null space solves the problem, and the reference
        code gives them a weight of zero (up to rounding) anyway.
    correlations : ndarray of shape (n_components,)
        Canonical correlations ``rho``, descending; exactly 0 beyond the rank of ``Cxy``
        (eigenvalues below ``1e-10`` of the largest count as rounding noise).
    """
    n_samples, n_features = X_centred.shape
    denominator = max(n_samples - 1, 1)
    Y_centred = Y - Y.mean(axis=0)
    cxx = (X_centred.T @ X_centred) / denominator
    cxy = (X_centred.T @ Y_centred) / denominator
    cyy = (Y_centred.T @ Y_centred) / denominator
    cxx[np.diag_indices_from(cxx)] += regularization
    cyy[np.diag_indices_from(cyy)] += regularization
    label_factor = scipy.linalg.cholesky(cyy, lower=True)
    M = scipy.linalg.solve_triangular(label_factor, cxy.T, lower=True).T  # Cxy L^-T
    B_inverse_M = scipy.linalg.cho_solve(scipy.linalg.cho_factor(cxx), M)
    small = M.T @ B_inverse_M
    values, vectors = scipy.linalg.eigh((small + small.T) / 2.0)
    order = np.argsort(-values, kind="stable")[:n_components]
    values, vectors = values[order], vectors[:, order]
    tolerance = max(float(values[0]), 0.0) * 1e-10
    keep = values > tolerance
    directions = np.zeros((n_features, n_components))
    correlations = np.zeros(n_components)
    if np.any(keep):
        found = B_inverse_M @ vectors[:, keep]
        directions[:, : found.shape[1]] = fix_signs(found / np.linalg.norm(found, axis=0))
        correlations[: found.shape[1]] = np.sqrt(values[keep])
    return directions, correlations


def itq_rotation(
    V: np.ndarray, n_iter: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Iterative quantisation: the rotation ``R`` minimising ``||B - V R||_F^2``.

    Starting from a random orthogonal ``R`` (the left singular vectors of a Gaussian
    matrix), alternate ``n_iter`` times

    1. ``B = sgn(V R)`` (``sgn(0) = +1``), the best codes for the current rotation;
    2. ``R = S_hat S^T`` where ``B^T V = S Omega S_hat^T`` is an SVD (the orthogonal
       Procrustes solution for the current codes).

    Neither step can increase the loss, so the loss history is non-increasing.

    Parameters
    ----------
    V : ndarray of shape (n_samples, n_bits)
        Projected, centred training data.
    n_iter : int
        Number of alternations (0 keeps the random rotation).
    rng : numpy.random.Generator
        Draws the initial rotation.

    Returns
    -------
    rotation : ndarray of shape (n_bits, n_bits)
        Orthogonal.
    losses : ndarray of shape (n_iter + 1,)
        ``||sgn(V R) - V R||_F^2`` for the initial rotation and after each update.
    """
    n_bits = V.shape[1]
    rotation, _, _ = np.linalg.svd(rng.standard_normal((n_bits, n_bits)))
    losses = np.empty(n_iter + 1)
    for iteration in range(n_iter + 1):
        rotated = V @ rotation
        B = codes.signs(rotated, dtype=np.float64)
        losses[iteration] = float(np.sum((B - rotated) ** 2))
        if iteration == n_iter:
            break
        left, _, right_t = np.linalg.svd(B.T @ V)
        rotation = right_t.T @ left.T
    return rotation, losses


# --------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------


def _check_n_iter(n_iter: Any) -> int:
    if isinstance(n_iter, bool) or not isinstance(n_iter, numbers.Integral):
        raise TypeError(f"n_iter must be an int >= 0, got {n_iter!r}")
    if n_iter < 0:
        raise ValueError(f"n_iter must be >= 0, got {n_iter}")
    return int(n_iter)


# --------------------------------------------------------------------------------------
# PCAH
# --------------------------------------------------------------------------------------


@register
class PCAHashing(CentredLinearHasher):
    """PCA hashing: the signs of the top ``n_bits`` principal components.

    Bit ``j`` of ``x`` is ``1`` when ``p_j . (x - mu) >= 0``, where ``mu`` is the training
    mean and ``p_j`` the ``j``-th eigenvector of the training covariance (largest
    variance first). The signs of the eigenvectors are fixed (largest-magnitude entry
    positive), so the codes are reproducible. PCAH has no randomness; its weakness, which
    ITQ corrects, is that the variance is concentrated in the first few bits, so longer
    codes add low-variance, noisy bits.

    Parameters
    ----------
    n_bits : int, default 16
        Code length, in ``[1, n_features]``.
    random_state : None, int or numpy.random.Generator, default None
        Not used (PCAH is deterministic); accepted so every hasher takes the same
        arguments.

    Attributes
    ----------
    components_ : ndarray of shape (n_bits, n_features)
        The principal directions (orthonormal rows).
    intercept_ : ndarray of shape (n_bits,)
        ``-components_ @ mean_``, so that ``project(X) = X @ components_.T + intercept_``.
    mean_ : ndarray of shape (n_features,)
        Training mean.
    explained_variance_ : ndarray of shape (n_bits,)
        Variance of the training data along each direction, descending.
    n_features_in_ : int
        Number of features seen during fit.

    References
    ----------
    J. Wang, S. Kumar and S.-F. Chang. Semi-supervised hashing for large-scale search.
    IEEE TPAMI 34(12), 2012 (PCAH as a baseline).

    Y. Gong and S. Lazebnik. Iterative quantization: a Procrustean approach to learning
    binary codes. CVPR 2011.

    Examples
    --------
    >>> import numpy as np
    >>> from hashlearn.hashers.pca import PCAH
    >>> X = np.random.default_rng(0).normal(size=(100, 20))
    >>> codes = PCAH(n_bits=12).fit(X).encode(X)
    >>> codes.shape, codes.dtype
    ((100, 2), dtype('uint8'))
    """

    def __init__(self, n_bits: int = 16, *, random_state: Any = None) -> None:
        self.n_bits = n_bits
        self.random_state = random_state

    def _fit(self, X: np.ndarray, y: Any, rng: np.random.Generator, **fit_params: Any) -> None:
        check_bits_fit_features(type(self).__name__, self.n_bits, X.shape[1])
        X64 = X.astype(np.float64, copy=False)
        mean = X64.mean(axis=0)
        directions, variances = principal_components(X64 - mean, self.n_bits)
        self._set_linear_map(mean, directions)
        self.explained_variance_ = variances

    def _check_loaded_state(self) -> None:
        super()._check_loaded_state()
        check_state_array(self, "explained_variance_", (self.n_bits,))


PCAH = PCAHashing


# --------------------------------------------------------------------------------------
# ITQ
# --------------------------------------------------------------------------------------


@register
class IterativeQuantization(CentredLinearHasher):
    """Iterative quantisation (ITQ): PCA, then the rotation that best fits the hypercube.

    The training data are centred and projected on their top ``n_bits`` principal
    directions ``W`` (``V = (X - mu) W``). ITQ then looks for the orthogonal ``R`` and the
    codes ``B`` in ``{-1, 1}`` minimising the quantisation loss ``||B - V R||_F^2`` by
    alternating ``B = sgn(V R)`` and the orthogonal Procrustes solution for ``R`` (an
    SVD of ``B^T V``), starting from a random rotation. The codes of ``x`` are
    ``sgn((x - mu) W R)``. Rotating spreads the variance evenly over the bits, so unlike
    PCAH the codes improve with length.

    Parameters
    ----------
    n_bits : int, default 16
        Code length, in ``[1, n_features]``.
    n_iter : int, default 50
        Number of alternations (the paper's 50); 0 keeps the random rotation.
    random_state : int, numpy.random.Generator or None, default None
        Seeds the initial rotation. The same int gives the same codes.

    Attributes
    ----------
    components_ : ndarray of shape (n_bits, n_features)
        ``(W R)^T``: one hyperplane normal per bit.
    intercept_ : ndarray of shape (n_bits,)
        ``-components_ @ mean_``.
    mean_ : ndarray of shape (n_features,)
        Training mean.
    pca_components_ : ndarray of shape (n_bits, n_features)
        The principal directions ``W^T`` (orthonormal rows, signs fixed).
    explained_variance_ : ndarray of shape (n_bits,)
        Training variance along each principal direction, descending.
    rotation_ : ndarray of shape (n_bits, n_bits)
        The learned orthogonal rotation ``R``.
    quantization_loss_ : ndarray of shape (n_iter + 1,)
        ``||sgn(V R) - V R||_F^2`` on the training data for the initial rotation and after
        each update; non-increasing.
    n_features_in_ : int
        Number of features seen during fit.

    References
    ----------
    Y. Gong and S. Lazebnik. Iterative quantization: a Procrustean approach to learning
    binary codes. CVPR 2011.

    Y. Gong, S. Lazebnik, A. Gordo and F. Perronnin. Iterative quantization: a Procrustean
    approach to learning binary codes for large-scale image retrieval. IEEE TPAMI 35(12),
    2013.

    Examples
    --------
    >>> import numpy as np
    >>> from hashlearn.hashers.pca import ITQ
    >>> X = np.random.default_rng(0).normal(size=(100, 20))
    >>> itq = ITQ(n_bits=8, random_state=0).fit(X)
    >>> itq.encode(X).shape
    (100, 1)
    >>> bool(np.allclose(itq.rotation_ @ itq.rotation_.T, np.eye(8)))
    True
    """

    def __init__(self, n_bits: int = 16, *, n_iter: int = 50, random_state: Any = None) -> None:
        self.n_bits = n_bits
        self.n_iter = n_iter
        self.random_state = random_state

    def _fit(self, X: np.ndarray, y: Any, rng: np.random.Generator, **fit_params: Any) -> None:
        n_iter = _check_n_iter(self.n_iter)
        check_bits_fit_features(type(self).__name__, self.n_bits, X.shape[1])
        X64 = X.astype(np.float64, copy=False)
        mean = X64.mean(axis=0)
        centred = X64 - mean
        directions, variances = principal_components(centred, self.n_bits)
        rotation, losses = itq_rotation(centred @ directions, n_iter, rng)
        self._set_linear_map(mean, directions @ rotation)
        self.pca_components_ = np.ascontiguousarray(directions.T)
        self.explained_variance_ = variances
        self.rotation_ = rotation
        self.quantization_loss_ = losses

    def _check_loaded_state(self) -> None:
        super()._check_loaded_state()
        check_state_array(self, "pca_components_", (self.n_bits, self.n_features_in_))
        check_state_array(self, "explained_variance_", (self.n_bits,))
        _check_rotation_state(self)


ITQ = IterativeQuantization


# --------------------------------------------------------------------------------------
# CCA-ITQ
# --------------------------------------------------------------------------------------


@register
class CCAITQ(CentredLinearHasher):
    """ITQ on canonical correlation directions (supervised ITQ, "ITQ+CCA").

    The training features are centred and related to the labels by regularised canonical
    correlation analysis (CCA): the directions ``w`` solve

    ``Cxy (Cyy + r I)^-1 Cyx w = rho^2 (Cxx + r I) w``

    where ``Y`` is the label indicator matrix (one-hot for single labels, the 0/1 matrix as
    is for multi-label data) and ``r`` is ``regularization``. As in the authors' code, the
    top ``n_bits`` directions (unit norm, largest correlation first) are scaled by their
    canonical correlations ``rho`` (``W = directions * rho``, the square roots of the
    eigenvalues, which the code calls its eigenvalues), the data are projected,
    ``V = (X - mu) W``, and ITQ finds the rotation ``R`` (:class:`IterativeQuantization`).
    The codes of ``x`` are ``sgn((x - mu) W R)``.

    At most ``n_classes - 1`` canonical correlations are non-zero, so longer codes (the
    papers use 64 bits on 10 classes) are ITQ-rotated views of that low-dimensional
    subspace: the directions beyond it get zero weight, but the rotation still gives
    each bit a different mixture of the informative directions.

    Parameters
    ----------
    n_bits : int, default 16
        Code length, in ``[1, n_features]``.
    regularization : float, default 1e-4
        Ridge ``r`` added to the diagonals of the feature and the label covariance, as in
        the reference code (``cca(X, Y, 0.0001)``). It is absolute, so its effect depends
        on the scale of the features: 1e-4 suits GIST descriptors and L2-normalised pixels
        (mean per-feature variance about 1e-3), where it is a strong ridge that matters
        with few training points (CIFAR-10 GIST, T = 1,000, 32 bits: mAP 0.23 with 1e-4,
        0.16 with 1e-7, the size of a trace-scaled ``1e-4 * trace(Cxx) / d``). For
        features on another scale, scale it with their variance.
    n_iter : int, default 50
        Number of ITQ alternations.
    random_state : int, numpy.random.Generator or None, default None
        Seeds the initial ITQ rotation. The same int gives the same codes.

    Attributes
    ----------
    components_ : ndarray of shape (n_bits, n_features)
        ``(W R)^T``: one hyperplane normal per bit.
    intercept_ : ndarray of shape (n_bits,)
        ``-components_ @ mean_``.
    mean_ : ndarray of shape (n_features,)
        Training mean.
    cca_components_ : ndarray of shape (n_bits, n_features)
        The scaled CCA projection ``W^T`` (unit directions times their correlations).
    canonical_correlations_ : ndarray of shape (n_bits,)
        ``rho`` of each direction, descending (zeros beyond the rank of ``Cxy``).
    rotation_ : ndarray of shape (n_bits, n_bits)
        The ITQ rotation ``R``.
    quantization_loss_ : ndarray of shape (n_iter + 1,)
        ITQ's loss history on the training data; non-increasing.
    n_features_in_ : int
        Number of features seen during fit.

    References
    ----------
    Y. Gong and S. Lazebnik. Iterative quantization: a Procrustean approach to learning
    binary codes. CVPR 2011 (Section 4, ITQ with CCA).

    Y. Gong, S. Lazebnik, A. Gordo and F. Perronnin. Iterative quantization: a Procrustean
    approach to learning binary codes for large-scale image retrieval. IEEE TPAMI 35(12),
    2013.

    Examples
    --------
    >>> import numpy as np
    >>> from hashlearn.hashers.pca import CCAITQ
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(np.arange(4), 50)
    >>> X = rng.normal(size=(200, 16)) + 3 * np.eye(16)[y]
    >>> cca = CCAITQ(n_bits=8, random_state=0).fit(X, y)
    >>> cca.encode(X).shape
    (200, 1)
    >>> int((cca.canonical_correlations_ > 0).sum())  # 4 classes: 3 informative directions
    3
    """

    def __init__(
        self,
        n_bits: int = 16,
        *,
        regularization: float = 1e-4,
        n_iter: int = 50,
        random_state: Any = None,
    ) -> None:
        self.n_bits = n_bits
        self.regularization = regularization
        self.n_iter = n_iter
        self.random_state = random_state

    def _check_regularization(self) -> float:
        value = self.regularization
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"regularization must be a float > 0, got {value!r}")
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"regularization must be a finite float > 0, got {value}")
        return float(value)

    def _fit(self, X: np.ndarray, y: Any, rng: np.random.Generator, **fit_params: Any) -> None:
        n_iter = _check_n_iter(self.n_iter)
        regularization = self._check_regularization()
        if y is None:
            raise ValueError(
                "CCAITQ requires y to be passed, but the target y is None; CCA-ITQ is "
                "supervised: give class labels (1-D) or a 0/1 label-indicator matrix (2-D)"
            )
        indicator = _label_indicator(check_labels(y, X.shape[0]))
        check_bits_fit_features(type(self).__name__, self.n_bits, X.shape[1])
        X64 = X.astype(np.float64, copy=False)
        mean = X64.mean(axis=0)
        centred = X64 - mean
        directions, correlations = cca_directions(centred, indicator, self.n_bits, regularization)
        if not np.any(correlations > 0):
            raise ValueError(
                "CCAITQ found no correlation between X and the labels (is X constant, or "
                "are the labels?); CCA-ITQ needs labels that vary with X"
            )
        projection = directions * correlations
        rotation, losses = itq_rotation(centred @ projection, n_iter, rng)
        self._set_linear_map(mean, projection @ rotation)
        self.cca_components_ = np.ascontiguousarray(projection.T)
        self.canonical_correlations_ = correlations
        self.rotation_ = rotation
        self.quantization_loss_ = losses

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags

    def _check_loaded_state(self) -> None:
        super()._check_loaded_state()
        check_state_array(self, "cca_components_", (self.n_bits, self.n_features_in_))
        check_state_array(self, "canonical_correlations_", (self.n_bits,))
        _check_rotation_state(self)


CCA_ITQ = CCAITQ


def _check_rotation_state(hasher: Any) -> None:
    """The ITQ rotation and loss history of a loaded ITQ or CCA-ITQ model."""
    check_state_array(hasher, "rotation_", (hasher.n_bits, hasher.n_bits))
    losses = getattr(hasher, "quantization_loss_", None)
    if not isinstance(losses, np.ndarray) or losses.ndim != 1 or losses.size < 1:
        raise ValueError("quantization_loss_ must be a non-empty 1-D array")


def _label_indicator(labels: np.ndarray) -> np.ndarray:
    """One-hot matrix of 1-D labels, or the multi-label 0/1 matrix as floats."""
    if labels.ndim == 2:
        return labels.astype(np.float64)
    classes, inverse = np.unique(labels, return_inverse=True)
    if classes.size < 2:
        raise ValueError(
            f"CCAITQ needs at least 2 classes in y, got {classes.size} class "
            f"({classes[0]!r}); with one class there is nothing to correlate with"
        )
    indicator = np.zeros((labels.shape[0], classes.size))
    indicator[np.arange(labels.shape[0]), inverse.ravel()] = 1.0
    return indicator

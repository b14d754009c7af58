"""Hashing for learned metrics: ITML (Davis et al., 2007) and ITML-LSH (Jain et al., 2008).

* :class:`InformationTheoreticMetricLearning` learns a Mahalanobis distance
  ``d_A(x, z) = (x - z)^T A (x - z)`` from labelled pairs and is a scikit-learn
  transformer: ``transform(X) = X @ G^T`` with ``A = G^T G``, so Euclidean distances
  after the transform are the learned distances.
* :class:`LearnedMetricLSH` hashes with sign random projections *in the learned metric*:
  bit ``j`` of ``x`` is ``r_j^T G (x - mu) >= 0`` with ``r_j ~ N(0, I)``, so two points
  collide with probability ``1 - theta_A / pi``, ``theta_A`` being their angle under
  ``A`` (Jain, Kulis and Grauman's "LSH for learned metrics").

The ITML solver (:func:`itml_bregman_projections`) is kept apart from the estimators and
works on the constraint difference vectors only, so it can be tested on problems
small enough to check by hand.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np
from scipy.linalg import blas
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from hashlearn._registry import register
from hashlearn._validation import check_features, check_int, check_labels, check_random_state
from hashlearn.hashers._base import (
    BaseHasher,
    LinearHasherMixin,
    check_magnitude,
    check_state_array,
)
from hashlearn.hashers._params import check_non_negative, missing_labels_error

__all__ = [
    "ITML",
    "InformationTheoreticMetricLearning",
    "LearnedMetricLSH",
    "itml_bregman_projections",
    "sample_constraints",
]

#: Constraint difference vectors shorter than this, relative to the largest coordinate
#: difference of the sampled pairs, are dropped (the reference code drops those shorter than
#: 1e-9 in absolute terms): a zero vector has no Mahalanobis distance to project.
_MIN_DIFFERENCE_NORM = 1e-9

#: Why the metric learners need labels (for the error when y is missing).
_NEEDS_LABELS = "it learns its metric from labelled pairs"


# --------------------------------------------------------------------------------------
# Numerical building blocks (pure functions)
# --------------------------------------------------------------------------------------


def sample_constraints(
    labels: np.ndarray, n_constraints: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n_constraints`` pairs uniformly at random and label them similar or not.

    As in the authors' reference code (``GetConstraints.m``), both ends of a pair are
    drawn independently and uniformly (with replacement), so the share of similar pairs
    follows the class frequencies (about ``1 / c`` for ``c`` balanced classes).

    Parameters
    ----------
    labels : ndarray of shape (n,) or (n, n_labels)
        Class labels (1-D) or a boolean label-indicator matrix (2-D). With 2-D labels a
        pair is similar when the two items share at least one label.
    n_constraints : int
        Number of pairs drawn.
    rng : numpy.random.Generator

    Returns
    -------
    pairs : ndarray of int64, shape (n_constraints, 2)
        Row indices of the two ends of each pair.
    signs : ndarray of float64, shape (n_constraints,)
        ``+1`` for a similar pair (distance bounded above), ``-1`` for a dissimilar pair
        (distance bounded below): the paper's ``delta``.
    """
    n = labels.shape[0]
    pairs = rng.integers(0, n, size=(n_constraints, 2))
    first, second = labels[pairs[:, 0]], labels[pairs[:, 1]]
    similar = first == second if labels.ndim == 1 else (first & second).any(axis=1)
    return pairs.astype(np.int64), np.where(similar, 1.0, -1.0)


def itml_bregman_projections(
    differences: np.ndarray,
    signs: np.ndarray,
    bounds: np.ndarray,
    prior: np.ndarray,
    *,
    gamma: float = 1.0,
    max_iter: int = 50,
    tol: float = 1e-2,
    block_size: int = 64,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, bool]:
    """ITML: cyclic Bregman projections onto distance constraints, with slack.

    Solves (Davis et al., 2007, eq. 4)::

        min_{A >= 0, xi}  D_ld(A, A0) + gamma * D_ld(diag(xi), diag(xi0))
        s.t.  tr(A v_k v_k^T) <= xi_k  for similar pairs    (delta_k = +1)
              tr(A v_k v_k^T) >= xi_k  for dissimilar pairs (delta_k = -1)

    with ``D_ld(A, A0) = tr(A A0^-1) - log det(A A0^-1) - d`` and ``xi0`` the bounds.
    Constraints are visited cyclically; constraint ``k`` with ``p = v_k^T A v_k`` gets
    (Algorithm 1, in the form of the authors' ``itml_alg.m``)::

        alpha    = min(lambda_k, delta_k * gamma / (gamma + 1) * (1/p - 1/xi_k))
        beta     = delta_k * alpha / (1 - delta_k * alpha * p)
        xi_k     = 1 / (1/xi_k + delta_k * alpha / gamma)
        lambda_k = lambda_k - alpha
        A        = A + beta * A v_k v_k^T A

    After an unclipped step ``v_k^T A v_k = xi_k`` exactly (the projection), and the dual
    variables ``lambda_k >= 0`` let later steps undo earlier ones. ``gamma = inf`` gives
    hard constraints (``gamma / (gamma + 1) = 1``, ``xi`` fixed). ``A`` stays symmetric
    positive definite: ``|alpha| p < 1`` on every step.

    Each projection costs ``O(d^2)``. They are computed in blocks of ``block_size``
    consecutive constraints with the same arithmetic as one at a time: ``A v_k`` for the
    whole block is one matrix product with the block's starting ``A``, the effect of the
    block's earlier rank-one updates on ``A v_k`` is carried in ``block_size``-dimensional
    coordinates, and the block's updates are applied together as one rank-``block_size``
    update (BLAS ``symm`` and ``syrk`` on the upper triangle), so the work runs at matrix-
    matrix speed instead of matrix-vector speed.

    Convergence is the reference code's test, after each full sweep:
    ``||lambda - lambda_prev||_1 / (||lambda||_2 + ||lambda_prev||_2) < tol``; a sweep
    that leaves every ``lambda`` at 0 (no constraint was violated) stops at once with
    ``A = A0``.

    Parameters
    ----------
    differences : ndarray of shape (m, d)
        ``v_k = x_i - x_j`` for each constrained pair; no row may be zero.
    signs : ndarray of shape (m,)
        ``delta_k``: ``+1`` similar, ``-1`` dissimilar.
    bounds : ndarray of shape (m,)
        ``xi0_k > 0``: upper bound on the squared distance of a similar pair, lower bound
        for a dissimilar pair.
    prior : ndarray of shape (d, d)
        ``A0``, symmetric positive definite.
    gamma : float, default 1.0
        Slack trade-off (> 0, may be ``inf``).
    max_iter : int, default 50
        Most sweeps over the constraints.
    tol : float, default 1e-2
        Convergence threshold (see above).
    block_size : int, default 64
        Constraints handled per block; changes the speed, not the result (up to rounding).

    Returns
    -------
    A : ndarray of shape (d, d)
        The learned Mahalanobis matrix (symmetric).
    slack_bounds : ndarray of shape (m,)
        The final ``xi``: the bounds as relaxed by the slack.
    duals : ndarray of shape (m,)
        The final ``lambda >= 0``; zero for constraints that never needed a projection.
    n_iter : int
        Sweeps run.
    converged : bool
    """
    m = differences.shape[0]
    block_size = check_int(block_size, "block_size", low=1)
    # Only the upper triangle of A is kept up to date (BLAS symm/syrk read and write it).
    A = np.array(prior, dtype=np.float64, order="F", copy=True)
    differences = np.ascontiguousarray(differences, dtype=np.float64)
    signs = np.asarray(signs, dtype=np.float64)
    slack = np.array(bounds, dtype=np.float64, copy=True)
    duals = np.zeros(m)
    previous = np.zeros(m)
    shrink = 1.0 if np.isinf(gamma) else gamma / (gamma + 1.0)
    inverse_gamma = 0.0 if np.isinf(gamma) else 1.0 / gamma
    n_iter, converged = 0, m == 0
    for _ in range(max_iter if m else 0):
        n_iter += 1
        for start in range(0, m, block_size):
            A = _project_block(
                A,
                differences[start : start + block_size],
                start,
                signs,
                duals,
                slack,
                shrink,
                inverse_gamma,
            )
        total = float(np.linalg.norm(duals) + np.linalg.norm(previous))
        if total == 0.0:
            converged = True
            break
        if float(np.abs(duals - previous).sum()) / total < tol:
            converged = True
            break
        previous[:] = duals
    upper = np.triu(A)
    A = upper + np.triu(upper, 1).T
    return A, slack, duals, n_iter, converged


def _project_block(
    A: np.ndarray,
    V: np.ndarray,
    start: int,
    signs: np.ndarray,
    duals: np.ndarray,
    slack: np.ndarray,
    shrink: float,
    inverse_gamma: float,
) -> np.ndarray:
    """One block of :func:`itml_bregman_projections`: the Bregman projections for the
    constraints ``start .. start + len(V) - 1`` (rows of ``V``), as one low-rank update of the
    upper triangle of ``A``; ``duals`` and ``slack`` are updated in place."""
    b = V.shape[0]
    # With A_s the matrix at the start of the block, A_s v_k = P[:, k] and
    # v_j^T A_s v_k = C[j, k]. After the block's earlier updates
    # A = A_s + sum_j beta_j w_j w_j^T, so w_k = A v_k = P @ t_k for a
    # b-vector t_k: t_k = e_k + sum_{j<k} beta_j (t_j . C[:, k]) t_j.
    P = blas.dsymm(1.0, A, V.T)
    C = V @ P
    T = np.zeros((b, b))
    betas = np.zeros(b)
    for k in range(b):
        column = C[:, k]
        t = (betas[:k] * (T[:k] @ column)) @ T[:k]
        t[k] += 1.0
        p = float(t @ column)
        i = start + k
        delta = signs[i]
        alpha = min(duals[i], delta * shrink * (1.0 / p - 1.0 / slack[i]))
        if alpha == 0.0:
            continue
        duals[i] -= alpha
        betas[k] = delta * alpha / (1.0 - delta * alpha * p)
        slack[i] = 1.0 / (1.0 / slack[i] + delta * alpha * inverse_gamma)
        T[k] = t
    if not betas.any():
        return A
    W = P @ T.T  # column k is w_k
    for sign, chosen in ((1.0, betas > 0), (-1.0, betas < 0)):
        if chosen.any():
            scaled = W[:, chosen] * np.sqrt(np.abs(betas[chosen]))
            A = blas.dsyrk(sign, scaled, beta=1.0, c=A, overwrite_c=True)
    return A


def _symmetric_square_root(A: np.ndarray) -> np.ndarray:
    """``G = U diag(sqrt(max(lambda, 0))) U^T`` for ``A = U diag(lambda) U^T``: ``A = G^T G``.

    The symmetric square root is unique, so it needs no sign convention to be
    reproducible.
    """
    eigenvalues, eigenvectors = np.linalg.eigh(A)
    return (eigenvectors * np.sqrt(np.maximum(eigenvalues, 0.0))) @ eigenvectors.T


# --------------------------------------------------------------------------------------
# Parameter checks
# --------------------------------------------------------------------------------------


def _check_gamma(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"gamma must be a positive float (or inf), got {value!r}")
    if np.isnan(value) or not value > 0:
        raise ValueError(f"gamma must be a positive float (or inf), got {value}")
    return float(value)


def _check_percentile(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a float in [0, 100], got {value!r}")
    if not 0.0 <= float(value) <= 100.0:
        raise ValueError(f"{name} must be in [0, 100], got {value}")
    return float(value)


def _check_prior(prior: Any, n_features: int) -> np.ndarray:
    if isinstance(prior, str):
        if prior != "identity":
            raise ValueError(
                f"prior must be 'identity' or a (d, d) positive definite matrix, got {prior!r}"
            )
        return np.eye(n_features)
    try:
        matrix = np.asarray(prior, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"prior must be 'identity' or a (d, d) positive definite matrix, got "
            f"{type(prior).__name__}"
        ) from exc
    if matrix.shape != (n_features, n_features):
        raise ValueError(
            f"prior must have shape ({n_features}, {n_features}) to match X, got {matrix.shape}"
        )
    if not np.isfinite(matrix).all():
        raise ValueError("prior contains NaN or infinity")
    if not np.allclose(matrix, matrix.T, rtol=1e-10, atol=1e-12 * np.abs(matrix).max()):
        raise ValueError("prior must be symmetric")
    try:
        np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError as exc:
        raise ValueError("prior must be positive definite") from exc
    return 0.5 * (matrix + matrix.T)


# --------------------------------------------------------------------------------------
# Estimators
# --------------------------------------------------------------------------------------


class InformationTheoreticMetricLearning(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Information-theoretic metric learning (ITML): a Mahalanobis metric from labelled pairs.

    ITML finds the Mahalanobis matrix ``A`` closest to a prior ``A0`` in LogDet divergence
    (equivalently, the Gaussian closest in relative entropy to the prior's) subject to
    ``d_A(x_i, x_j) <= u`` for similar pairs and ``d_A(x_i, x_j) >= l`` for dissimilar
    pairs, with ``d_A(x, z) = (x - z)^T A (x - z)`` (a squared distance). Slack variables,
    weighted by ``gamma``, let the bounds give way where the constraints cannot all hold.
    The problem is solved by cyclic Bregman projections, one constraint at a time, each a
    rank-one update of ``A`` (:func:`itml_bregman_projections`); no eigen-decomposition or
    semidefinite programme is needed and ``A`` stays positive definite.

    As in the authors' reference code, ``n_constraints`` pairs are drawn uniformly from
    the training set, similar when they share a label, and the bounds are percentiles of
    the squared distances under ``A0`` of those pairs: ``u`` the ``similar_percentile``
    (5th) and ``l`` the ``dissimilar_percentile`` (95th).

    Parameters
    ----------
    gamma : float, default 1.0
        Slack trade-off: the larger, the harder the constraints (``inf``: no slack).
    n_constraints : int or None, default None
        Number of pairs drawn; None means ``20 * c^2`` with ``c`` the number of classes
        (label columns for multi-label ``y``), the reference code's rule. Pairs of
        identical points (including a point with itself) are dropped: those whose
        difference is shorter than ``1e-9`` times the largest coordinate difference of
        the sampled pairs.
    similar_percentile : float, default 5.0
        ``u`` is this percentile of the sampled squared distances under the prior.
    dissimilar_percentile : float, default 95.0
        ``l`` is this percentile of the sampled squared distances under the prior.
    prior : "identity" or array-like of shape (n_features, n_features), default "identity"
        ``A0``: the identity (Euclidean distance) or a symmetric positive definite matrix.
    max_iter : int, default 50
        Most sweeps over the constraints (the reference allows ``100,000`` single
        projections, 50 sweeps of its default 2,000 constraints for 10 classes). The test
        below is strict: small problems may need a hundred sweeps or more, and on
        CIFAR-10 GIST (1,000 training points) 50 sweeps do not meet it, although the
        retrieval quality of the metric no longer changes after about 5 sweeps.
    tol : float, default 1e-2
        Stop when ``||lambda - lambda_prev||_1 / (||lambda||_2 + ||lambda_prev||_2) < tol``
        after a sweep, ``lambda`` being the dual variables (the reference's test and
        default ``10e-3``). A :class:`~sklearn.exceptions.ConvergenceWarning` is raised
        when ``max_iter`` sweeps are not enough.
    random_state : int, numpy.random.Generator or None, default None
        Seeds the choice of constrained pairs.

    Attributes
    ----------
    metric_ : ndarray of shape (n_features, n_features)
        The learned Mahalanobis matrix ``A`` (symmetric positive definite).
    components_ : ndarray of shape (n_features, n_features)
        ``G``, the symmetric square root of ``A`` (``A = G^T G``); ``transform`` applies it.
    constraint_pairs_ : ndarray of int64, shape (n_constraints_, 2)
        Training-row indices of the constrained pairs that were used.
    constraint_signs_ : ndarray of shape (n_constraints_,)
        ``+1`` for similar pairs, ``-1`` for dissimilar pairs.
    upper_bound_ : float
        ``u``, the squared-distance bound for similar pairs (0 when no pair was usable).
    lower_bound_ : float
        ``l``, the squared-distance bound for dissimilar pairs (0 when no pair was usable).
    n_constraints_ : int
        Number of constraints used.
    n_iter_ : int
        Sweeps run.
    converged_ : bool
        Whether the convergence test was met.
    n_features_in_ : int
        Number of features seen during fit.

    Notes
    -----
    Fitting costs ``O(d^2)`` per projection and ``n_iter_ * n_constraints_`` projections
    in all, plus ``O(d^3)`` once for the square root; memory is ``O(d^2 + n_constraints d)``.

    References
    ----------
    J. V. Davis, B. Kulis, P. Jain, S. Sra and I. S. Dhillon. Information-theoretic metric
    learning. ICML 2007.

    Examples
    --------
    >>> import numpy as np
    >>> from hashlearn.hashers.metric_lsh import ITML
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(np.arange(3), 40)
    >>> X = rng.normal(size=(120, 5)) + 2.0 * np.eye(5)[y]
    >>> itml = ITML(max_iter=200, random_state=0).fit(X, y)
    >>> itml.converged_
    True
    >>> itml.metric_.shape, itml.transform(X).shape
    ((5, 5), (120, 5))
    """

    def __init__(
        self,
        *,
        gamma: float = 1.0,
        n_constraints: int | None = None,
        similar_percentile: float = 5.0,
        dissimilar_percentile: float = 95.0,
        prior: Any = "identity",
        max_iter: int = 50,
        tol: float = 1e-2,
        random_state: Any = None,
    ) -> None:
        self.gamma = gamma
        self.n_constraints = n_constraints
        self.similar_percentile = similar_percentile
        self.dissimilar_percentile = dissimilar_percentile
        self.prior = prior
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> InformationTheoreticMetricLearning:
        """Learn the metric from ``X`` and the labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training vectors; must be finite.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a 0/1 label-indicator matrix (pairs sharing a label are
            similar). Required.

        Returns
        -------
        self
        """
        gamma = _check_gamma(self.gamma)
        similar_percentile = _check_percentile(self.similar_percentile, "similar_percentile")
        dissimilar_percentile = _check_percentile(
            self.dissimilar_percentile, "dissimilar_percentile"
        )
        max_iter = check_int(self.max_iter, "max_iter", low=1)
        tol = check_non_negative(self.tol, "tol")
        if self.n_constraints is not None:
            check_int(self.n_constraints, "n_constraints", low=1)
        if y is None:
            raise missing_labels_error(type(self).__name__, _NEEDS_LABELS)
        X = check_features(X, name="X", min_samples=2)
        check_magnitude(X, type(self).__name__, None)
        labels = check_labels(y, X.shape[0])
        prior = _check_prior(self.prior, X.shape[1])
        rng = check_random_state(self.random_state)

        if self.n_constraints is None:
            n_classes = len(np.unique(labels)) if labels.ndim == 1 else labels.shape[1]
            n_constraints = 20 * max(n_classes, 1) ** 2
        else:
            n_constraints = int(self.n_constraints)
        pairs, signs = sample_constraints(labels, n_constraints, rng)
        X64 = X.astype(np.float64, copy=False)
        differences = X64[pairs[:, 0]] - X64[pairs[:, 1]]
        # The metric does not change when X is scaled (the bounds are percentiles of the
        # distances), but the arithmetic does: at features of 1e100 the duals are 1e-200,
        # their norms in the convergence test underflow to 0 and it stopped after one sweep;
        # at 1e-10 every pair fell under an absolute length threshold. Divided by a power
        # of two near their largest entry (exactly), the differences are of order 1.
        largest = float(np.abs(differences).max()) if differences.size else 0.0
        unit = math.ldexp(1.0, math.frexp(largest)[1]) if largest > 0.0 else 1.0
        differences /= unit
        usable = np.linalg.norm(differences, axis=1) > _MIN_DIFFERENCE_NORM
        pairs, signs, differences = pairs[usable], signs[usable], differences[usable]

        if len(pairs):
            distances = np.einsum("ij,jk,ik->i", differences, prior, differences)
            upper, lower = np.percentile(distances, [similar_percentile, dissimilar_percentile])
            bounds = np.where(signs > 0, upper, lower)
        else:
            upper = lower = 0.0
            bounds = np.zeros(0)
        # Thousands of small (d x 64) updates: BLAS threads cost more than they give (2
        # threads were 7x slower than 1 at d = 512 on a 2-core machine).
        with threadpool_limits(limits=1, user_api="blas"):
            metric, _, _, n_iter, converged = itml_bregman_projections(
                differences, signs, bounds, prior, gamma=gamma, max_iter=max_iter, tol=tol
            )
        if not converged:
            warnings.warn(
                f"ITML did not converge in max_iter={max_iter} sweeps over "
                f"{len(pairs)} constraints (tol={tol}); increase max_iter or tol",
                ConvergenceWarning,
                stacklevel=2,
            )
        self.metric_ = metric
        self.components_ = _symmetric_square_root(metric)
        self.constraint_pairs_ = pairs
        self.constraint_signs_ = signs
        self.upper_bound_ = float(upper) * unit * unit
        self.lower_bound_ = float(lower) * unit * unit
        self.n_constraints_ = len(pairs)
        self.n_iter_ = n_iter
        self.converged_ = converged
        self.n_features_in_ = X.shape[1]
        self._n_features_out = X.shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Map ``X`` so that Euclidean distances become learned ones: ``X @ components_.T``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of float64, shape (n_samples, n_features)
        """
        check_is_fitted(self, "metric_")
        X = check_features(X, name="X", n_features=self.n_features_in_, owner=type(self).__name__)
        check_magnitude(X, type(self).__name__, None, fitting=False)
        return X.astype(np.float64, copy=False) @ self.components_.T

    def mahalanobis_distances(self, X: Any, Z: Any) -> np.ndarray:
        """Squared learned distances ``d_A(x_i, z_i)`` between matching rows of ``X`` and ``Z``.

        Returns
        -------
        ndarray of float64, shape (n_samples,)
        """
        check_is_fitted(self, "metric_")
        owner = type(self).__name__
        X = check_features(X, name="X", n_features=self.n_features_in_, owner=owner)
        Z = check_features(Z, name="Z", n_features=self.n_features_in_, owner=owner)
        if X.shape[0] != Z.shape[0]:
            raise ValueError(f"X and Z must have as many rows, got {X.shape[0]} and {Z.shape[0]}")
        differences = X.astype(np.float64) - Z.astype(np.float64)
        return np.einsum("ij,jk,ik->i", differences, self.metric_, differences)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


ITML = InformationTheoreticMetricLearning


@register
class LearnedMetricLSH(LinearHasherMixin, BaseHasher):
    """LSH for learned metrics: sign random projections under an ITML Mahalanobis metric.

    A Mahalanobis matrix ``A = G^T G`` is learned from the labels by ITML
    (:class:`InformationTheoreticMetricLearning`); then bit ``j`` of ``x`` is
    ``r_j^T G (x - mu) >= 0`` with ``r_j ~ N(0, I)`` and ``mu`` the training mean, i.e.
    sign random projections of ``G x``. Two vectors then differ in a bit with probability
    ``theta_A / pi``, their angle measured in the learned metric
    (``cos theta_A = x^T A z / sqrt(x^T A x z^T A z)``), so Hamming distances follow the
    learned similarity instead of the raw one. The hash functions are linear:
    ``components_ = R @ G``.

    Parameters
    ----------
    n_bits : int, default 16
        Code length, in ``[1, 4096]``.
    gamma : float, default 1.0
        ITML's slack trade-off (``inf``: hard constraints).
    n_constraints : int or None, default None
        ITML's number of sampled pairs; None means ``20 * c^2`` for ``c`` classes.
    similar_percentile : float, default 5.0
        ITML's bound for similar pairs, a percentile of the sampled squared distances.
    dissimilar_percentile : float, default 95.0
        ITML's bound for dissimilar pairs, a percentile of the sampled squared distances.
    max_iter : int, default 50
        ITML's most sweeps over the constraints.
    tol : float, default 1e-2
        ITML's convergence threshold on the dual variables.
    centre : bool, default True
        Subtract the training mean before projecting (balanced bits), as
        :class:`~hashlearn.hashers.SignRandomProjection` does.
    random_state : int, numpy.random.Generator or None, default None
        Seeds the constrained pairs and the hyperplanes.

    Attributes
    ----------
    components_ : ndarray of shape (n_bits, n_features)
        ``R @ G``: Gaussian hyperplanes mapped back through the learned metric's square root.
    intercept_ : ndarray of shape (n_bits,)
        ``-components_ @ mean_``.
    mean_ : ndarray of shape (n_features,)
        Training mean (zeros when ``centre=False``).
    metric_learner_ : InformationTheoreticMetricLearning
        The fitted ITML (not saved to disk; only the hash functions are).
    n_constraints_ : int
        Number of ITML constraints used.
    n_iter_ : int
        ITML sweeps run.
    n_features_in_ : int
        Number of features seen during fit.

    Notes
    -----
    Labels: 1-D class labels, or a 2-D 0/1 indicator matrix for multi-label data, where a
    pair sharing at least one label is similar. The ITML prior is the identity (the
    Euclidean distance); for another prior, fit
    :class:`InformationTheoreticMetricLearning` with ``prior=...`` and hash its
    ``transform`` with :class:`~hashlearn.hashers.SignRandomProjection`, which gives the
    same hash family. The paper also applies the method to kernelised metrics; this
    class implements the explicit (linear) form.

    Fitting time is ITML's: about 0.1 s per sweep over 2,000 constraints in 512
    dimensions on one core (0.2-0.3 s in 784), so 5-15 s at the default 50 sweeps.

    References
    ----------
    P. Jain, B. Kulis and K. Grauman. Fast image search for learned metrics. CVPR 2008.

    J. V. Davis, B. Kulis, P. Jain, S. Sra and I. S. Dhillon. Information-theoretic metric
    learning. ICML 2007.

    Examples
    --------
    >>> import numpy as np
    >>> from hashlearn.hashers.metric_lsh import LearnedMetricLSH
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(np.arange(4), 50)
    >>> X = rng.normal(size=(200, 16)) + 3 * np.eye(16)[y]
    >>> hasher = LearnedMetricLSH(n_bits=12, random_state=0).fit(X, y)
    >>> hasher.encode(X).shape
    (200, 2)
    """

    def __init__(
        self,
        n_bits: int = 16,
        *,
        gamma: float = 1.0,
        n_constraints: int | None = None,
        similar_percentile: float = 5.0,
        dissimilar_percentile: float = 95.0,
        max_iter: int = 50,
        tol: float = 1e-2,
        centre: bool = True,
        random_state: Any = None,
    ) -> None:
        self.n_bits = n_bits
        self.gamma = gamma
        self.n_constraints = n_constraints
        self.similar_percentile = similar_percentile
        self.dissimilar_percentile = dissimilar_percentile
        self.max_iter = max_iter
        self.tol = tol
        self.centre = centre
        self.random_state = random_state

    def _min_samples(self) -> int:
        return 2

    def _fit(self, X: np.ndarray, y: Any, rng: np.random.Generator, **fit_params: Any) -> None:
        if y is None:
            raise missing_labels_error(type(self).__name__, _NEEDS_LABELS)
        learner = InformationTheoreticMetricLearning(
            gamma=self.gamma,
            n_constraints=self.n_constraints,
            similar_percentile=self.similar_percentile,
            dissimilar_percentile=self.dissimilar_percentile,
            max_iter=self.max_iter,
            tol=self.tol,
            random_state=int(rng.integers(2**31 - 1)),
        )
        learner.fit(X, y)
        self.metric_learner_ = learner
        self.mean_ = X.mean(axis=0).astype(np.float64) if self.centre else np.zeros(X.shape[1])
        hyperplanes = rng.standard_normal((self.n_bits, X.shape[1]))
        self.components_ = hyperplanes @ learner.components_
        self.intercept_ = -(self.components_ @ self.mean_)
        self.n_constraints_ = learner.n_constraints_
        self.n_iter_ = learner.n_iter_

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags

    _transient_attributes = ("metric_learner_",)

    def _check_loaded_state(self) -> None:
        super()._check_loaded_state()
        check_state_array(self, "mean_", (self.n_features_in_,))

"""Supervised Discrete Hashing (Shen, Shen, Liu and Shen, CVPR 2015)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import scipy.linalg

from hashlearn import codes as codes_module
from hashlearn._registry import register
from hashlearn._validation import check_int, check_labels
from hashlearn.hashers._anchors import anchor_kernel_projection, squared_distances
from hashlearn.hashers._base import BaseHasher, check_state_array
from hashlearn.hashers._params import (
    check_non_negative,
    check_positive_or_none,
    missing_labels_error,
)

__all__ = ["SDH", "SupervisedDiscreteHashing", "discrete_cyclic_coordinate_descent"]

#: Sweeps over the bits in one B-step, and the relative change that ends them early
#: (the reference code's values).
_MAX_SWEEPS = 10
_SWEEP_TOL = 1e-6


def _ridge(gram: np.ndarray, cross: np.ndarray, reg: float) -> np.ndarray:
    """``(gram + reg I)^-1 cross``: the ridge regression ``min ||A W - T||^2 + reg ||W||^2``.

    ``gram = A^T A`` and ``cross = A^T T``. A least-squares solve is used when the system
    is singular (``reg = 0`` with rank-deficient ``A``).
    """
    system = gram + reg * np.eye(gram.shape[0])
    try:
        return scipy.linalg.solve(system, cross, assume_a="pos")
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
        return scipy.linalg.lstsq(system, cross)[0]


def discrete_cyclic_coordinate_descent(
    Q: np.ndarray, W: np.ndarray, B: np.ndarray | None = None
) -> tuple[np.ndarray, int]:
    """SDH's B-step: ``min_B ||B W||^2 - 2 tr(B^T Q)`` over ``B in {-1, +1}^(n x L)``.

    This is ``min_B ||Y - B W||^2 + nu ||B - F(X)||^2`` with ``Q = Y W^T + nu F(X)``,
    the constant terms dropped. Bit (column) ``k`` has the closed-form minimiser
    ``B[:, k] = sgn(Q[:, k] - sum_{j != k} B[:, j] (W_j . W_k))`` given the other
    columns; the columns are updated in turn, in sweeps, until a sweep changes ``B`` by
    less than ``1e-6 ||B||_F`` or after 10 sweeps (the reference code's rule).

    Parameters
    ----------
    Q : ndarray of shape (n, L)
    W : ndarray of shape (L, c)
        Row ``k`` is bit ``k``'s weight vector in the linear classifier ``Y ~ B W``.
    B : ndarray of shape (n, L) or None
        Starting codes; None starts from zeros, as the reference code does, so that the
        first sweep builds the codes bit by bit.

    Returns
    -------
    B : ndarray of float64 (+-1), shape (n, L)
    n_sweeps : int
    """
    codes = np.zeros(Q.shape) if B is None else np.array(B, dtype=np.float64)
    coupling = W @ W.T
    n_sweeps = 0
    for _ in range(_MAX_SWEEPS):
        before = codes.copy()
        for k in range(codes.shape[1]):
            others = codes @ coupling[:, k] - codes[:, k] * coupling[k, k]
            codes[:, k] = codes_module.signs(Q[:, k] - others, dtype=np.float64)
        n_sweeps += 1
        if np.linalg.norm(codes - before) < _SWEEP_TOL * np.linalg.norm(before):
            break
    return codes, n_sweeps


def _nearest_anchor_width(distances: np.ndarray, anchor_rows: np.ndarray) -> float:
    """Mean distance from each training point to its nearest anchor other than itself.

    ``distances`` are squared distances, shape (n, m); ``anchor_rows[j]`` is the training
    row of anchor ``j``. Falls back to the root-mean-square distance, then to 1, when
    that is not positive (all points coincide, or one anchor).
    """
    others = distances.copy()
    others[anchor_rows, np.arange(anchor_rows.size)] = np.inf
    nearest = others.min(axis=1)
    nearest = nearest[np.isfinite(nearest)]
    width = float(np.sqrt(nearest).mean()) if nearest.size else 0.0
    if not width > 0:
        width = float(np.sqrt(distances.mean()))
    return width if width > 0 else 1.0


@register
class SupervisedDiscreteHashing(BaseHasher):
    """Supervised Discrete Hashing: codes that a linear classifier reads the labels from.

    With RBF anchor features ``phi(x) = [exp(-||x - a_j||^2 / (2 sigma^2))]_j`` (plus a
    constant 1), SDH solves

    ``min_{B, W, P} ||Y - B W||^2 + lambda ||W||^2 + nu ||B - phi(X) P||^2``,
    ``B in {-1, +1}^(n x L)``

    (``Y``: one-hot labels or label indicators) by alternating three steps, ``n_iter``
    times, from random codes ``B``:

    * G-step: ``W = (B^T B + lambda I)^-1 B^T Y`` (ridge regression from codes to labels);
    * F-step: ``P = (phi^T phi + reg_projection I)^-1 phi^T B`` (ridge projection);
    * B-step: discrete cyclic coordinate descent on the bits
      (:func:`discrete_cyclic_coordinate_descent`) with ``Q = Y W^T + nu phi(X) P``.

    The hash function is ``sgn(phi(x) P)``. This follows the authors' reference code
    (``SDH.m``, ``demo_SDH.m``): initial ``W`` and ``P`` from the random codes, each
    iteration B-step then G-step then F-step, and the same stopping tests.

    Parameters
    ----------
    n_bits : int, default 16
        Code length, in ``[1, 4096]``.
    n_anchors : int, default 1000
        Number of anchors sampled from the training set (all training points when there
        are fewer).
    sigma : float or None, default None
        RBF width: ``exp(-||x - a||^2 / (2 sigma^2))``. None uses the rule in the
        reference code's comments (``sigma = mean(min(Dis, [], 2).^0.5)``): the mean
        distance from a training point to its nearest anchor, except that an anchor's
        distance to itself is not counted (the reference counts it as 0, which makes
        ``sigma`` 0 when every training point is an anchor). The reference demo fixes
        ``sigma = 0.4`` "for normalized data", i.e. unit-norm rows.
    nu : float, default 1e-5
        Weight of the fitting term ``||B - phi(X) P||^2`` (the paper's nu).
    reg_lambda : float, default 1.0
        Ridge penalty of the classifier ``W`` (the paper's lambda; the code's
        ``gmap.lambda``).
    reg_projection : float, default 1e-2
        Ridge penalty of the projection ``P`` (the code's ``Fmap.lambda``).
    n_iter : int, default 5
        Most outer iterations (the code's ``maxItr``).
    tol : float, default 1e-5
        Stop early when ``||B - phi(X) P||_F < tol ||B||_F`` or when ``P`` changes by
        less than ``tol`` times its spectral norm (the code's default ``tol``).
    random_state : int, numpy.random.Generator or None, default None
        Seeds the anchors and the initial codes.

    Attributes
    ----------
    anchors_ : ndarray of shape (m, n_features)
        The anchors, training rows in sampled order; ``m = min(n_anchors, n_samples)``.
    sigma_ : float
        The RBF width used.
    components_ : ndarray of shape (n_bits, m)
        ``P`` without its constant row, transposed: ``project(X) = phi(X) @ components_.T
        + intercept_``.
    intercept_ : ndarray of shape (n_bits,)
        The row of ``P`` for the constant feature.
    classifier_weights_ : ndarray of shape (n_bits, n_labels)
        ``W``: the labels are predicted from codes ``b`` (+-1) as ``b @ W``.
    n_iter_ : int
        Outer iterations run.
    n_features_in_ : int
        Number of features seen during fit.

    Notes
    -----
    Labels: 1-D ``y`` is one-hot encoded (one column per distinct label); 2-D ``y`` is a
    0/1 indicator matrix used as ``Y`` directly. ``sgn(0)`` is ``+1``; the reference's
    ``sign`` gives 0 there, which only matters at exact ties. Training costs
    ``O(n m^2 + m^3)`` for the projection (factorised once) plus ``O(n L^2)`` per sweep.

    References
    ----------
    F. Shen, C. Shen, W. Liu and H. T. Shen. Supervised Discrete Hashing. CVPR 2015.

    Examples
    --------
    >>> import numpy as np
    >>> from hashlearn.hashers.sdh import SDH
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(np.arange(4), 50)
    >>> X = rng.normal(size=(200, 16)) + 3 * np.eye(16)[y]
    >>> sdh = SDH(n_bits=8, n_anchors=100, random_state=0).fit(X, y)
    >>> sdh.encode(X).shape
    (200, 1)
    """

    def __init__(
        self,
        n_bits: int = 16,
        *,
        n_anchors: int = 1000,
        sigma: float | None = None,
        nu: float = 1e-5,
        reg_lambda: float = 1.0,
        reg_projection: float = 1e-2,
        n_iter: int = 5,
        tol: float = 1e-5,
        random_state: Any = None,
    ) -> None:
        self.n_bits = n_bits
        self.n_anchors = n_anchors
        self.sigma = sigma
        self.nu = nu
        self.reg_lambda = reg_lambda
        self.reg_projection = reg_projection
        self.n_iter = n_iter
        self.tol = tol
        self.random_state = random_state

    def _min_samples(self) -> int:
        return 2

    def _fit(self, X: np.ndarray, y: Any, rng: np.random.Generator, **fit_params: Any) -> None:
        n_anchors = check_int(self.n_anchors, "n_anchors", low=1)
        sigma = check_positive_or_none(self.sigma, "sigma")
        nu = check_non_negative(self.nu, "nu")
        reg_lambda = check_non_negative(self.reg_lambda, "reg_lambda")
        reg_projection = check_non_negative(self.reg_projection, "reg_projection")
        n_iter = check_int(self.n_iter, "n_iter", low=1)
        tol = check_non_negative(self.tol, "tol")
        if y is None:
            raise missing_labels_error(type(self).__name__)
        n = X.shape[0]
        labels = check_labels(y, n)
        if labels.ndim == 1:
            _, inverse = np.unique(labels, return_inverse=True)
            targets = np.eye(int(inverse.max()) + 1)[inverse.ravel()]
        else:
            targets = labels.astype(np.float64)

        m = min(n_anchors, n)
        anchor_rows = rng.choice(n, size=m, replace=False)
        anchors = X[anchor_rows].astype(np.float64)
        distances = squared_distances(X, anchors)
        if sigma is None:
            sigma = _nearest_anchor_width(distances, anchor_rows)
        features = np.empty((n, m + 1))
        np.exp(-distances / (2.0 * sigma**2), out=features[:, :m])
        features[:, m] = 1.0
        del distances

        codes = codes_module.signs(rng.standard_normal((n, self.n_bits)), dtype=np.float64)
        # phi is fixed: factorise (phi^T phi + reg I) once for every F-step.
        system = features.T @ features + reg_projection * np.eye(m + 1)
        try:
            factor = scipy.linalg.cho_factor(system)

            def f_step(B: np.ndarray) -> np.ndarray:
                return np.asarray(scipy.linalg.cho_solve(factor, features.T @ B))

        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):

            def f_step(B: np.ndarray) -> np.ndarray:
                return np.asarray(scipy.linalg.lstsq(system, features.T @ B)[0])

        weights = _ridge(codes.T @ codes, codes.T @ targets, reg_lambda)
        projection = f_step(codes)
        iterations = 0
        for _ in range(n_iter):
            iterations += 1
            fitted = features @ projection
            codes, _ = discrete_cyclic_coordinate_descent(
                nu * fitted + targets @ weights.T, weights
            )
            weights = _ridge(codes.T @ codes, codes.T @ targets, reg_lambda)
            previous = projection
            projection = f_step(codes)
            if np.linalg.norm(codes - features @ projection) < tol * np.linalg.norm(codes):
                break
            if np.linalg.norm(projection - previous) < tol * np.linalg.norm(previous, 2):
                break

        self.anchors_ = anchors
        self.sigma_ = float(sigma)
        self.components_ = np.ascontiguousarray(projection[:m].T)
        self.intercept_ = projection[m].copy()
        self.classifier_weights_ = weights
        self.n_iter_ = iterations

    def _project(self, X: np.ndarray) -> np.ndarray:
        return anchor_kernel_projection(
            X, self.anchors_, 2.0 * self.sigma_**2, None, self.components_.T, self.intercept_
        )

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags

    def _check_loaded_state(self) -> None:
        super()._check_loaded_state()
        anchors = getattr(self, "anchors_", None)
        if not isinstance(anchors, np.ndarray) or anchors.ndim != 2:
            raise ValueError("anchors_ is missing")
        m = anchors.shape[0]
        check_state_array(self, "anchors_", (m, self.n_features_in_))
        check_state_array(self, "components_", (self.n_bits, m))
        check_state_array(self, "intercept_", (self.n_bits,))
        sigma = getattr(self, "sigma_", None)
        if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real) or not float(sigma) > 0:
            raise ValueError(f"sigma_ must be a positive float, got {sigma!r}")


SDH = SupervisedDiscreteHashing

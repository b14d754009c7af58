"""Kernel-Based Supervised Hashing (Liu, Wang, Ji, Jiang and Chang, CVPR 2012)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import scipy.linalg
from threadpoolctl import threadpool_limits

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

__all__ = ["KSH", "KernelSupervisedHashing"]


class _PairwiseLabels:
    """The pairwise label matrix ``S0`` (``+1`` relevant, ``-1`` not) as an operator.

    Single-label input: relevant means the same label, and ``S0 = 2 L L^T - 1 1^T`` with
    ``L`` the one-hot label matrix, applied in ``O(n * n_classes)`` without forming the
    ``(n, n)`` matrix. Multi-label input (0/1 indicators): relevant means sharing at least
    one label; ``S0`` is formed densely (``O(n^2)`` memory). Every item is relevant to
    itself (diagonal ``+1``), also an item with no label.
    """

    def __init__(self, labels: np.ndarray) -> None:
        n = labels.shape[0]
        self._dense: np.ndarray | None = None
        self._classes: np.ndarray | None = None
        if labels.ndim == 1:
            _, inverse = np.unique(labels, return_inverse=True)
            self._classes = inverse.ravel()
            self._n_classes = int(self._classes.max()) + 1
        else:
            indicator = labels.astype(np.float64)
            shared = (indicator @ indicator.T) > 0
            np.fill_diagonal(shared, True)
            self._dense = np.where(shared, 1.0, -1.0)
        self._n = n

    def _class_sums(self, v: np.ndarray) -> np.ndarray:
        """``L^T v``: the sum of ``v`` over each class, shape (n_classes,) or (n_classes, k)."""
        assert self._classes is not None
        sums = np.zeros((self._n_classes, *v.shape[1:]))
        np.add.at(sums, self._classes, v)
        return sums

    def apply(self, v: np.ndarray) -> np.ndarray:
        """``S0 @ v`` for ``v`` of shape (n,) or (n, k)."""
        if self._dense is not None:
            return self._dense @ v
        assert self._classes is not None
        if v.ndim == 1:
            sums = np.bincount(self._classes, weights=v, minlength=self._n_classes)
        else:
            sums = self._class_sums(v)
        return 2.0 * sums[self._classes] - v.sum(axis=0)

    def gram(self, K: np.ndarray) -> np.ndarray:
        """``K^T S0 K`` of shape (m, m) for ``K`` of shape (n, m)."""
        if self._dense is not None:
            return K.T @ (self._dense @ K)
        per_class = self._class_sums(K)
        totals = K.sum(axis=0)
        return 2.0 * (per_class.T @ per_class) - np.outer(totals, totals)


def optimise_bit(
    K: np.ndarray,
    apply_S: Any,
    a_init: np.ndarray,
    *,
    max_iter: int = 500,
    tol: float = 1e-2,
) -> tuple[np.ndarray, int]:
    """Minimise KSH's smoothed one-bit cost by accelerated gradient descent.

    The cost is ``f(a) = -phi(K a)^T S phi(K a)`` with ``phi(x) = 2 / (1 + exp(-x)) - 1
    = tanh(x / 2)``, the sigmoid surrogate of ``sgn``; its gradient is
    ``-K^T ((S phi) * (1 - phi^2))``. The iteration is Nesterov's accelerated gradient
    with a backtracking estimate ``b`` of the Lipschitz constant, as in the authors'
    ``OptProjectionFast.m``: from the extrapolated point ``v``, the step ``z = v - grad / b``
    is accepted when ``f(z) <= f(v) + grad . (z - v) + b/2 ||z - v||^2``, ``b`` doubling
    (never halving) until it is, at most 50 times; the run stops after ``max_iter``
    accepted steps, when no ``b`` is accepted, or when ``|f_t - f_{t-1}| / n <= tol``.

    Parameters
    ----------
    K : ndarray of shape (n, m)
        Centred kernel features of the training points.
    apply_S : callable
        ``v -> S @ v`` for the (residual) pairwise label matrix ``S`` of shape (n, n).
    a_init : ndarray of shape (m,)
        Starting coefficients (the spectral relaxation's solution).
    max_iter : int, default 500
    tol : float, default 1e-2

    Returns
    -------
    a : ndarray of shape (m,)
        The coefficients reached.
    n_iter : int
        Accepted gradient steps.
    """
    n = K.shape[0]

    def smoothed_cost(projection: np.ndarray) -> float:
        smooth = np.tanh(0.5 * projection)
        return -float(smooth @ apply_S(smooth))

    # K @ a is affine along every step, so the projections are carried, not recomputed.
    previous, current = a_init.copy(), a_init.copy()
    previous_projection = current_projection = K @ a_init
    last_cost = smoothed_cost(current_projection)
    delta_previous, delta = 0.0, 1.0
    lipschitz = 1.0
    n_iter = 0
    for _ in range(max_iter):
        momentum = (delta_previous - 1.0) / delta
        point = current + momentum * (current - previous)
        point_projection = current_projection + momentum * (
            current_projection - previous_projection
        )
        smooth = np.tanh(0.5 * point_projection)
        weighted = apply_S(smooth)
        cost_point = -float(smooth @ weighted)
        gradient = -(K.T @ (weighted * (1.0 - smooth**2)))
        gradient_projection = K @ gradient
        squared_norm = float(gradient @ gradient)
        accepted = None
        for doubling in range(51):
            step = 2.0**doubling * lipschitz
            candidate_projection = point_projection - gradient_projection / step
            cost_candidate = smoothed_cost(candidate_projection)
            # f(v) + grad . (z - v) + step/2 ||z - v||^2 with z - v = -grad / step
            if cost_candidate <= cost_point - 0.5 * squared_norm / step:
                accepted = (point - gradient / step, candidate_projection, cost_candidate, step)
                break
        if accepted is None:
            break
        candidate, candidate_projection, cost_candidate, lipschitz = accepted
        previous, current = current, candidate
        previous_projection, current_projection = current_projection, candidate_projection
        delta_previous, delta = delta, (1.0 + np.sqrt(1.0 + 4.0 * delta**2)) / 2.0
        n_iter += 1
        if abs(cost_candidate - last_cost) / n <= tol:
            break
        last_cost = cost_candidate
    return current, n_iter


@register
class KernelSupervisedHashing(BaseHasher):
    """Kernel-Based Supervised Hashing: greedy kernel hash functions fitted to label pairs.

    Each bit is ``h_k(x) = sgn(a_k . kbar(x))``, with kernel features
    ``kbar(x) = k(x) - mean of k over the training set`` and
    ``k(x)_j = exp(-||x - anchor_j||^2 / (2 sigma))`` for ``m`` anchors sampled from the
    training set. Code inner products should match the pairwise label matrix
    ``r * S0`` (``S0_ij = +1`` for relevant pairs, ``-1`` otherwise, ``r = n_bits``):
    ``min ||B B^T - r S0||_F^2``. Bits are fitted one after another against the residue
    ``R_k = r S0 - sum_{t<k} b_t b_t^T``: the spectral relaxation (top generalised
    eigenvector of ``K^T R_k K a = lambda K^T K a``, scaled so that ``||K a||^2 = n``)
    initialises ``a_k``, which is then refined by accelerated gradient descent on the
    sigmoid-smoothed cost ``-phi(K a)^T R_k phi(K a)`` (:func:`optimise_bit`); the
    refined ``a_k`` is kept only if its binary codes score higher on ``b^T R_k b`` than
    the spectral ones. This follows the authors' reference code (``ksh.m``,
    ``OptProjectionFast.m``) step by step.

    Parameters
    ----------
    n_bits : int, default 16
        Code length, in ``[1, 4096]``.
    n_anchors : int, default 300
        Number of anchors ``m`` sampled from the training set (all training points when
        there are fewer; see ``anchors_``).
    sigma : float or None, default None
        Kernel width, in the reference's convention
        ``k(x, a) = exp(-||x - a||^2 / (2 sigma))`` (so ``sigma`` is in squared-distance
        units). None uses the reference's rule: the mean squared distance from the
        training points to the anchors.
    max_iter : int, default 500
        Most accelerated-gradient steps per bit (the reference's 500).
    tol : float, default 1e-2
        Gradient descent stops when the smoothed cost changes by at most ``tol * n``
        between steps (the reference's rule).
    random_state : int, numpy.random.Generator or None, default None
        Seeds the choice of anchors.

    Attributes
    ----------
    anchors_ : ndarray of shape (m, n_features)
        The anchors, training rows in sampled order; ``m = min(n_anchors, n_samples)``.
    sigma_ : float
        The kernel width used.
    kernel_mean_ : ndarray of shape (m,)
        Training mean of the kernel features, subtracted before projecting.
    components_ : ndarray of shape (n_bits, m)
        Row ``k`` is ``a_k``; ``project(X) = kbar(X) @ components_.T``.
    optimised_bits_ : ndarray of bool, shape (n_bits,)
        Whether gradient descent improved on the spectral solution of each bit.
    n_iter_per_bit_ : ndarray of int64, shape (n_bits,)
        Accepted gradient steps per bit.
    n_iter_ : int
        The most accepted gradient steps of any bit (scikit-learn's convention).
    n_features_in_ : int
        Number of features seen during fit.

    Notes
    -----
    Training time and memory: the pairwise label matrix is applied without being formed
    for single-label ``y`` (``O(n * n_classes)`` per product) but is stored densely
    (``n^2`` floats) for multi-label ``y``; the paper trains on 1,000-2,000 labelled
    points. The spectral step solves ``K^T R_k K a = lambda (K^T K + eps I) a`` with
    ``eps = 1e-6 * trace(K^T K) / m`` so that it stays well posed when anchors' kernel
    columns are nearly collinear (the reference calls MATLAB's ``eig`` without it). The
    sign of each eigenvector is fixed (largest-magnitude entry positive) so codes are
    reproducible; the cost is even in ``a``, so this changes nothing else. ``sgn(0)``
    is ``+1`` here (the reference maps 0 to ``-1``); this only matters at exact zeros.
    When every training point coincides (``sigma`` would be 0), ``sigma_`` is 1.

    The per-bit optimiser is the reference's accelerated gradient with a backtracking
    step (not L-BFGS), so the learned functions follow the published method; it runs
    with BLAS limited to one thread, which is faster for these small (m ~ 300) problems.

    References
    ----------
    W. Liu, J. Wang, R. Ji, Y.-G. Jiang and S.-F. Chang. Supervised Hashing with Kernels.
    CVPR 2012.

    Examples
    --------
    >>> import numpy as np
    >>> from hashlearn.hashers.ksh import KSH
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(np.arange(4), 50)
    >>> X = rng.normal(size=(200, 16)) + 3 * np.eye(16)[y]
    >>> ksh = KSH(n_bits=8, n_anchors=50, random_state=0).fit(X, y)
    >>> ksh.encode(X).shape
    (200, 1)
    """

    def __init__(
        self,
        n_bits: int = 16,
        *,
        n_anchors: int = 300,
        sigma: float | None = None,
        max_iter: int = 500,
        tol: float = 1e-2,
        random_state: Any = None,
    ) -> None:
        self.n_bits = n_bits
        self.n_anchors = n_anchors
        self.sigma = sigma
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def _min_samples(self) -> int:
        return 2

    def _fit(self, X: np.ndarray, y: Any, rng: np.random.Generator, **fit_params: Any) -> None:
        n_anchors = check_int(self.n_anchors, "n_anchors", low=1)
        sigma = check_positive_or_none(self.sigma, "sigma")
        max_iter = check_int(self.max_iter, "max_iter", low=0)
        tol = check_non_negative(self.tol, "tol")
        if y is None:
            raise missing_labels_error(type(self).__name__)
        n = X.shape[0]
        pairs = _PairwiseLabels(check_labels(y, n))

        m = min(n_anchors, n)
        anchors = X[rng.choice(n, size=m, replace=False)].astype(np.float64)
        distances = squared_distances(X, anchors)
        if sigma is None:
            sigma = float(distances.mean())
            if not sigma > 0:
                sigma = 1.0
        K = np.exp(-distances / (2.0 * sigma))
        kernel_mean = K.mean(axis=0)
        K -= kernel_mean
        del distances

        r = self.n_bits
        gram = K.T @ K
        ridge = 1e-6 * max(float(np.trace(gram)) / m, np.finfo(float).tiny)
        cholesky = np.linalg.cholesky(gram + ridge * np.eye(m))
        base_gram = r * pairs.gram(K)
        components = np.zeros((r, m))
        codes = np.zeros((n, r))
        projected_codes = np.zeros((m, r))  # K^T codes, for the residue's Gram matrix
        optimised = np.zeros(r, dtype=bool)
        n_iter = np.zeros(r, dtype=np.int64)
        # Every step below works on (n, m) and (m, m) arrays with m ~ 300: BLAS threads only
        # add synchronisation overhead there (several times slower on a busy machine).
        with threadpool_limits(limits=1, user_api="blas"):
            for k in range(r):
                previous = codes[:, :k]

                def apply_residue(v: np.ndarray, previous: np.ndarray = previous) -> np.ndarray:
                    return r * pairs.apply(v) - previous @ (previous.T @ v)

                residue_gram = base_gram - projected_codes[:, :k] @ projected_codes[:, :k].T
                # K^T R K a = lambda C C^T a, with C the Cholesky factor: the top eigenvector u
                # of C^-1 (K^T R K) C^-T gives a = C^-T u.
                whitened = scipy.linalg.solve_triangular(cholesky, residue_gram, lower=True)
                whitened = scipy.linalg.solve_triangular(cholesky, whitened.T, lower=True)
                _, vectors = np.linalg.eigh(0.5 * (whitened + whitened.T))
                a_spectral = scipy.linalg.solve_triangular(
                    cholesky, vectors[:, -1], lower=True, trans="T"
                )
                a_spectral = a_spectral * np.sign(a_spectral[np.argmax(np.abs(a_spectral))] or 1.0)
                norm = float(a_spectral @ gram @ a_spectral)
                if norm > 0:
                    a_spectral = a_spectral * np.sqrt(n / norm)
                a_descent, n_iter[k] = optimise_bit(
                    K, apply_residue, a_spectral, max_iter=max_iter, tol=tol
                )
                bits_spectral = codes_module.signs(K @ a_spectral, dtype=np.float64)
                bits_descent = codes_module.signs(K @ a_descent, dtype=np.float64)
                score_spectral = bits_spectral @ apply_residue(bits_spectral)
                score_descent = bits_descent @ apply_residue(bits_descent)
                if score_descent > score_spectral:
                    optimised[k] = True
                    components[k], codes[:, k] = a_descent, bits_descent
                else:
                    components[k], codes[:, k] = a_spectral, bits_spectral
                projected_codes[:, k] = K.T @ codes[:, k]

        self.anchors_ = anchors
        self.sigma_ = float(sigma)
        self.kernel_mean_ = kernel_mean
        self.components_ = components
        self.optimised_bits_ = optimised
        self.n_iter_per_bit_ = n_iter
        self.n_iter_ = int(n_iter.max())

    def _project(self, X: np.ndarray) -> np.ndarray:
        return anchor_kernel_projection(
            X, self.anchors_, 2.0 * self.sigma_, self.kernel_mean_, self.components_.T
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
        check_state_array(self, "kernel_mean_", (m,))
        check_state_array(self, "components_", (self.n_bits, m))
        sigma = getattr(self, "sigma_", None)
        if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real) or not float(sigma) > 0:
            raise ValueError(f"sigma_ must be a positive float, got {sigma!r}")


KSH = KernelSupervisedHashing

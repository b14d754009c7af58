"""Binary Reconstructive Embedding (Kulis and Darrell, NIPS 2009).

Kernel hash functions whose normalised Hamming distances are fitted, by exact coordinate
descent, to target distances over all pairs of training points: Euclidean distances of
unit-normalised vectors (unsupervised) or 0/1 label disagreements (supervised).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from hashlearn import codes as codes_module
from hashlearn._numba import CACHE
from hashlearn._registry import register
from hashlearn._validation import check_int, check_labels
from hashlearn.hashers._base import BaseHasher, check_state_array

__all__ = [
    "BRE",
    "BinaryReconstructiveEmbedding",
    "OneBitObjective",
    "flip_profile",
    "reconstruction_loss",
]

KERNELS = ("linear", "rbf")

#: Rows of ``X`` turned into kernel values at a time when encoding (bounds memory).
_BLOCK_BYTES = 64 * 2**20


# -- kernels -----------------------------------------------------------------------------------
def _unit_rows(X: np.ndarray) -> np.ndarray:
    """``X`` in float64 with every row scaled to unit L2 norm (all-zero rows stay zero)."""
    X = np.array(X, dtype=np.float64)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    X /= np.where(norms > 0, norms, 1.0)
    return X


def _squared_distances(X: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """``||x_i - a_j||^2`` in float64, clipped at 0 (rounding)."""
    squared = (
        np.einsum("ij,ij->i", X, X)[:, None] + np.einsum("ij,ij->i", anchors, anchors)[None, :]
    )
    squared -= 2.0 * (X @ anchors.T)
    return np.maximum(squared, 0.0, out=squared)


def _kernel(X: np.ndarray, anchors: np.ndarray, kernel: str, gamma: float | None) -> np.ndarray:
    """``k(x_i, a_j)``: ``x . a`` (linear) or ``exp(-gamma ||x - a||^2)`` (rbf), float64."""
    if kernel == "linear":
        return X @ anchors.T
    assert gamma is not None
    squared = _squared_distances(X, anchors)
    return np.exp(-gamma * squared, out=squared)


# -- the objective ------------------------------------------------------------------------------
class _Targets:
    """Target distances ``D`` over all training pairs, ``D = left @ right.T`` (zero diagonal).

    ``dense`` holds ``D`` itself when it has no small factorisation (multi-label targets);
    then ``left = D`` and ``right = I``.
    """

    def __init__(
        self, left: np.ndarray, right: np.ndarray, dense: np.ndarray | None = None
    ) -> None:
        self.left, self.right, self.dense = left, right, dense

    @classmethod
    def from_labels(cls, labels: np.ndarray) -> _Targets:
        """``d_ij = 0`` when ``i`` and ``j`` share a label, else 1 (an item matches itself)."""
        n = labels.shape[0]
        if labels.ndim == 2 and np.all(labels.sum(axis=1) == 1):
            labels = np.argmax(labels, axis=1)  # one label per row: the cheap factorisation
        if labels.ndim == 1:
            _, classes = np.unique(labels, return_inverse=True)
            one_hot = np.eye(int(classes.max()) + 1)[classes.ravel()]
            ones = np.ones((n, 1))
            # D = 1 1^T - Y Y^T with Y the one-hot label matrix
            return cls(np.hstack([ones, -one_hot]), np.hstack([ones, one_hot]))
        indicator = labels.astype(np.float64)
        dense = np.where(indicator @ indicator.T > 0, 0.0, 1.0)
        np.fill_diagonal(dense, 0.0)
        return cls(dense, np.eye(n), dense)

    @classmethod
    def from_vectors(cls, X: np.ndarray) -> _Targets:
        """``d_ij = ||x_i - x_j||^2 / 2`` for the rows of ``X`` (unit-normalised by the caller)."""
        n, d = X.shape
        half_norms = 0.5 * np.einsum("ij,ij->i", X, X)[:, None]
        Z = X
        if d > n:  # same Gram matrix X X^T from n columns instead of d
            U, singular, _ = np.linalg.svd(X, full_matrices=False)
            Z = U * singular
        ones = np.ones((n, 1))
        # D = (s/2) 1^T + 1 (s/2)^T - X X^T with s the squared norms
        return cls(np.hstack([half_norms, ones, -Z]), np.hstack([ones, half_norms, Z]))

    def loss(self, signs: np.ndarray) -> float:
        """``sum_{i<j} (d_ij - hamming_ij / b)^2`` for codes ``signs`` (+-1) of shape (n, b)."""
        return reconstruction_loss(self, signs)


def reconstruction_loss(targets: Any, signs: np.ndarray) -> float:
    """BRE's objective ``sum_{i<j} (d_ij - ||h_i - h_j||^2 / b)^2`` over all pairs ``i < j``.

    Parameters
    ----------
    targets : ndarray of shape (n, n) or the fitted target factors
        The target distances ``d_ij`` (symmetric, zero diagonal).
    signs : ndarray of shape (n, b)
        Codes as +-1; ``||h_i - h_j||^2`` for 0/1 bits is the Hamming distance
        ``(b - signs_i . signs_j) / 2``.

    Returns
    -------
    float
    """
    signs = np.asarray(signs, dtype=np.float64)
    n_bits = signs.shape[1]
    if isinstance(targets, np.ndarray):
        targets = _Targets(targets, np.eye(targets.shape[0]), targets)
    if targets.dense is not None:
        residual = targets.dense - 0.5 + (signs @ signs.T) / (2.0 * n_bits)
        np.fill_diagonal(residual, 0.0)
        return 0.5 * float(np.sum(residual**2))
    # residual A = D - 1/2 1 1^T + S S^T / (2b) = F G^T; ||A||_F^2 = sum((F^T F) * (G^T G))
    ones = np.ones((signs.shape[0], 1))
    left = np.hstack([targets.left, -0.5 * ones, signs / (2.0 * n_bits)])
    right = np.hstack([targets.right, ones, signs])
    diagonal = np.einsum("ij,ij->i", left, right)
    total = float(np.sum((left.T @ left) * (right.T @ right))) - float(diagonal @ diagonal)
    return 0.5 * max(total, 0.0)


@numba.njit(nogil=True, cache=CACHE, boundscheck=False, fastmath=True)
def flip_profile(
    left: np.ndarray,
    right: np.ndarray,
    gain: np.ndarray,
    order: np.ndarray,
    directions: np.ndarray,
) -> np.ndarray:
    """The change of ``g`` after flipping the first ``k`` points of ``order``, for every ``k``.

    With ``M`` the off-diagonal part of ``left @ right.T``, flipping point ``i`` by
    ``t_i = +-1`` (``0 -> 1`` or ``1 -> 0``) after points ``j`` were flipped changes
    ``g(h) = h . m - h^T M h`` by ``t_i gain_i - 2 t_i sum_j t_j M_ij``, where
    ``gain = m - 2 M h0`` is taken at the starting bits ``h0``. So

        ``out[k] = sum_{k' < k} t_k' (gain_k' - 2 left_k' . sum_{j < k'} t_j right_j)``

    (points indexed in ``order``; ``out[0] = 0``), in one pass: ``O(n r)`` time, ``O(r)``
    extra memory. Its numpy reference is in the tests.
    """
    n_columns = left.shape[1]
    running = np.zeros(n_columns)
    out = np.empty(order.size + 1)
    out[0] = 0.0
    for k in range(order.size):
        row = order[k]
        coupling = 0.0
        for c in range(n_columns):
            coupling += left[row, c] * running[c]
        direction = directions[k]
        out[k + 1] = out[k] + direction * (gain[row] - 2.0 * coupling)
        for c in range(n_columns):
            running[c] += direction * right[row, c]
    return out


class OneBitObjective:
    """The BRE objective as a function of one bit, all other bits fixed.

    For 0/1 bits ``h`` of the training points under one hash function, the objective is
    ``const + g(h)`` with ``g(h) = sum_{i<j} M_ij [h_i != h_j] = h . m - h^T M h``, where
    ``M`` is symmetric with zero diagonal and ``m = M 1``. Writing ``A = D - H' / b`` for
    the residual left by the other bits (``H'`` their Hamming distances, ``b`` the code
    length), ``(A_ij - [h_i != h_j] / b)^2 = A_ij^2 + [h_i != h_j] (1/b^2 - 2 A_ij / b)``,
    so ``M_ij = 1/b^2 - 2 A_ij / b``. ``M`` is given in factored form: it is
    ``left @ right.T`` off its diagonal.

    Parameters
    ----------
    left, right : ndarray of shape (n, r)
        Factors of ``M`` (its diagonal is ignored).
    """

    def __init__(self, left: np.ndarray, right: np.ndarray) -> None:
        self.left = np.ascontiguousarray(left, dtype=np.float64)
        self.right = np.ascontiguousarray(right, dtype=np.float64)
        left, right = self.left, self.right
        self.diagonal = np.einsum("ij,ij->i", left, right)
        self.row_sums = left @ right.sum(axis=0) - self.diagonal

    def apply(self, v: np.ndarray) -> np.ndarray:
        """``M @ v``."""
        return self.left @ (self.right.T @ v) - self.diagonal * v

    def value(self, bits: np.ndarray) -> float:
        """``g(h) = sum_{i<j} M_ij [h_i != h_j]`` for 0/1 bits ``h``."""
        bits = np.asarray(bits, dtype=np.float64)
        return float(bits @ self.row_sums - bits @ self.apply(bits))

    def line_search(
        self, column: np.ndarray, projection: np.ndarray, tol: float = 0.0
    ) -> tuple[float, float, np.ndarray]:
        """Exact minimisation over one weight: ``min_delta g([projection + delta column >= 0])``.

        Moving the weight ``W_pq`` by ``delta`` moves the projections of the training points
        to ``projection + delta * column`` (``column`` = kernel values against anchor ``q``),
        so point ``i`` changes bit exactly once, at ``delta_i = -projection_i / column_i``
        (never when ``column_i = 0``). Between consecutive breakpoints the bits, hence the
        objective, are constant: sweeping ``delta`` from ``-inf`` flips the points in
        breakpoint order, and the objective after the first ``k`` flips is, with
        ``t_i = +-1`` the direction of each flip and ``h0`` the bits at ``-inf``,
        ``g(h0) + sum_{k' <= k} t_k' (m_k' - 2 (M h0)_k') - 2 sum_{j < k' <= k} t_j t_k' M_jk'``.
        The last sum is a prefix sum in breakpoint order, ``O(n r)`` for all ``k`` at once
        with the factors of ``M``. The best interval's midpoint is returned (or a point past
        the outermost breakpoint).

        Parameters
        ----------
        column : ndarray of shape (n,)
        projection : ndarray of shape (n,)
            Current projections; the current bits are ``projection >= 0``.
        tol : float, default 0
            Smallest decrease of ``g`` that counts as an improvement.

        Returns
        -------
        delta : float
            The step, 0.0 when no interval is better than the current one by more than ``tol``.
        change : float
            ``g`` after the step minus ``g`` now (``<= -tol``, or 0.0).
        new_projection : ndarray of shape (n,)
            ``projection + delta * column`` (``projection`` itself when ``delta`` is 0).
        """
        moving = np.flatnonzero(column)
        if moving.size == 0:
            return 0.0, 0.0, projection
        slopes = column[moving]
        breakpoints = -projection[moving] / slopes
        current = codes_module.signs_to_bits(projection).astype(np.float64)
        start = current.copy()
        start[moving] = slopes < 0  # the bits at delta -> -inf
        gain = self.row_sums - 2.0 * self.apply(start)
        order = np.argsort(breakpoints)
        ordered = breakpoints[order]
        flipped = moving[order]
        directions = np.where(slopes[order] > 0, 1.0, -1.0)
        profile = flip_profile(self.left, self.right, gain, flipped, directions)

        # Now (delta = 0) exactly the points with breakpoint < 0 have flipped, unless some
        # breakpoint is exactly 0 (then those with slope > 0 have flipped, the others not).
        n_before = int(np.searchsorted(ordered, 0.0, side="left"))
        if n_before < ordered.size and ordered[n_before] == 0.0:
            offset = current - start
            value_now = float(offset @ gain - offset @ self.apply(offset))
        else:
            value_now = float(profile[n_before])
        valid = np.ones(profile.size, dtype=bool)
        valid[1:-1] = ordered[1:] > ordered[:-1]  # equal breakpoints flip together
        best = int(np.argmin(np.where(valid, profile, np.inf)))
        if not profile[best] < value_now - tol:
            return 0.0, 0.0, projection

        count = ordered.size
        if 0 < best < count:
            delta = 0.5 * (ordered[best - 1] + ordered[best])
        else:
            spread = ordered[-1] - ordered[0]
            scale = max(abs(ordered[0]), abs(ordered[-1]))
            margin = max(spread / count, 1e-3 * scale, np.finfo(float).tiny)
            delta = ordered[0] - margin if best == 0 else ordered[-1] + margin
        new_projection = projection + delta * column
        new_bits = codes_module.signs_to_bits(new_projection).astype(np.float64)
        expected = start
        expected[flipped[:best]] = 1.0 - expected[flipped[:best]]
        value_new = float(profile[best])
        if not np.array_equal(new_bits, expected):  # an interval too narrow for float64
            offset = new_bits - current
            change = float(
                offset @ (self.row_sums - 2.0 * self.apply(current)) - offset @ self.apply(offset)
            )
            if not change < -tol:
                return 0.0, 0.0, projection
            return float(delta), change, new_projection
        return float(delta), value_new - value_now, new_projection


def _bit_objective(targets: _Targets, other_signs: np.ndarray, n_bits: int) -> OneBitObjective:
    """``M = (1/b) 1 1^T - (2/b) D - (1/b^2) S' S'^T`` off the diagonal, for the other bits ``S'``.

    From ``M_ij = 1/b^2 - 2 A_ij / b`` with ``A = D - H'/b`` and the Hamming distances of
    the other ``b - 1`` bits ``H' = ((b - 1) 1 1^T - S' S'^T) / 2``.
    """
    c = 1.0 / n_bits
    ones = np.ones((other_signs.shape[0], 1))
    left = np.hstack([c * ones, -2.0 * c * targets.left, -c * c * other_signs])
    right = np.hstack([ones, targets.right, other_signs])
    return OneBitObjective(left, right)


def _coordinate_descent(
    kernels: np.ndarray,
    anchor_index: np.ndarray,
    weights: np.ndarray,
    targets: _Targets,
    n_iter: int,
    on_update: Callable[[np.ndarray], None] | None = None,
) -> tuple[np.ndarray, list[float], int]:
    """BRE's coordinate descent: every weight ``W_pq`` in turn, each minimised exactly.

    Parameters
    ----------
    kernels : ndarray of shape (n, m)
        Kernel values between the training points and all anchors.
    anchor_index : ndarray of int, shape (b, s)
        The anchors (columns of ``kernels``) of each hash function.
    weights : ndarray of shape (b, s)
        Initial weights, updated in place.
    targets : _Targets
    n_iter : int
        Most sweeps over all ``b * s`` weights; stops early after a sweep with no change.
    on_update : callable, optional
        Called with the projections ``(n, b)`` after every coordinate update (for tests).

    Returns
    -------
    weights, loss_history (initial loss, then after each sweep), sweeps run
    """
    n = kernels.shape[0]
    n_bits, n_per_bit = weights.shape
    projections = np.empty((n, n_bits))
    for p in range(n_bits):
        projections[:, p] = kernels[:, anchor_index[p]] @ weights[p]
    signs = codes_module.signs(projections, dtype=np.float64)
    history = [targets.loss(signs)]
    # g's profile sums O(n) terms of size O(n / b): round-off stays far below the smallest
    # genuine change (1 / b^2 for label targets)
    tol = 16.0 * np.finfo(float).eps * n * n / n_bits
    sweeps = 0
    for _ in range(n_iter):
        moved = 0
        for p in range(n_bits):
            objective = _bit_objective(targets, np.delete(signs, p, axis=1), n_bits)
            block = kernels[:, anchor_index[p]]
            for q in range(n_per_bit):
                delta, _, new_projection = objective.line_search(
                    block[:, q], projections[:, p], tol
                )
                if delta != 0.0:
                    weights[p, q] += delta
                    projections[:, p] = new_projection
                    moved += 1
                if on_update is not None:
                    on_update(projections)
            signs[:, p] = codes_module.signs(projections[:, p], dtype=np.float64)
        sweeps += 1
        history.append(targets.loss(signs))
        if moved == 0:
            break
    return weights, history, sweeps


# -- the estimator --------------------------------------------------------------------------
def _check_gamma(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"gamma must be a positive float or None, got {value!r}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"gamma must be a positive finite float or None, got {value}")
    return float(value)


@register
class BinaryReconstructiveEmbedding(BaseHasher):
    """Binary Reconstructive Embedding: kernel hash functions fitted to reconstruct distances.

    Bit ``p`` of ``x`` is ``h_p(x) = [sum_q W_pq kbar(x_pq, x) >= 0]`` over ``s`` anchor
    points ``x_pq`` sampled from the training set for each hash function, with a linear or
    RBF kernel ``k`` on unit-normalised vectors, centred by default:
    ``kbar(a, x) = k(a, x) - mean_i k(a, x_i)`` over the training points (``centre=False``
    gives the paper's uncentred ``k``). The weights minimise the reconstruction error over
    all pairs of training points

        ``sum_{i<j} (d(x_i, x_j) - ||h(x_i) - h(x_j)||^2 / b)^2``

    (``||.||^2`` of 0/1 codes is their Hamming distance, ``b = n_bits``), with
    ``d = ||x_i - x_j||^2 / 2`` (unsupervised, ``y=None``) or, given labels,
    ``d = 0`` for pairs that share a label and 1 otherwise (the supervised variant used as
    a baseline by the KSH and GRH papers). As in the paper, training is coordinate
    descent on single weights ``W_pq``, each minimised exactly: the objective is piecewise
    constant in ``W_pq``, with a breakpoint wherever a training point changes bit; all
    breakpoints are sorted and every interval is scored at once
    (:meth:`OneBitObjective.line_search`), and the weight moves to the middle of the best
    interval. The objective never increases.

    Parameters
    ----------
    n_bits : int, default 16
        Code length ``b``, in ``[1, 4096]``.
    kernel : {"rbf", "linear"}, default "rbf"
        ``exp(-gamma ||x - a||^2)`` or ``x . a``, on unit-normalised rows.
    gamma : float or None, default None
        RBF width; None uses ``1 / mean squared distance`` between the training points and
        the anchors. Ignored by the linear kernel.
    centre : bool, default True
        Subtract each anchor's mean kernel value over the training points, as KSH does.
        Each hash function then starts balanced and, since a change of ``W_pq`` moves the
        threshold with it, coordinate descent reaches much lower objectives: on CIFAR-10
        GIST (T = 1,000, 32 bits) the training objective ends about 6% lower and mAP is
        about 0.03 higher than with the paper's uncentred kernel (``False``).
    n_anchors : int, default 50
        Anchors ``s`` per hash function (the paper's points ``x_pq``), sampled without
        replacement from the training points, independently for each bit (all training
        points when there are fewer).
    n_iter : int, default 3
        Most sweeps of coordinate descent over all ``n_bits * n_anchors`` weights; it stops
        early after a sweep that changes nothing. 0 keeps the random initial weights.
    max_samples : int or None, default 2000
        At most this many training points (sampled without replacement) define the pairs
        and the anchors; None uses them all. See Notes for the cost.
    random_state : int, numpy.random.Generator or None, default None
        Seeds the training subset, the anchors and the initial weights (standard normal).

    Attributes
    ----------
    anchors_ : ndarray of shape (m, n_features)
        Every anchor used by some hash function (unit-normalised training rows).
    anchor_index_ : ndarray of int64, shape (n_bits, n_anchors)
        Row ``p``: the anchors (rows of ``anchors_``) of hash function ``p``.
    components_ : ndarray of shape (n_bits, m)
        ``W`` scattered onto all anchors: row ``p`` is zero outside ``anchor_index_[p]``;
        ``project(X) = (k(X, anchors_) - kernel_mean_) @ components_.T``.
    kernel_mean_ : ndarray of shape (m,)
        Training mean of each anchor's kernel values (zeros when ``centre=False``).
    gamma_ : float or None
        The RBF width used (None for the linear kernel).
    loss_history_ : ndarray of shape (n_iter_ + 1,)
        The objective at the initial weights and after each sweep (non-increasing).
    n_iter_ : int
        Sweeps run.
    n_features_in_ : int
        Number of features seen during fit.

    Notes
    -----
    Cost: the target distances are kept in factored form (``D = 1 1^T - Y Y^T`` for single
    labels, ``1 - X X^T`` for unit vectors), and so are the Hamming distances of the other
    bits, so scoring all breakpoints of one weight takes ``O(n (b + r) + n log n)`` time
    for ``n`` training points and a target of rank ``r`` (classes + 1, or the feature
    count + 2), and training ``O(n_iter * b * s * n (b + r))`` without any ``n x n``
    matrix. Multi-label targets (share at least one label) have no such factorisation
    and cost ``O(n^2)`` time per weight and memory: lower ``max_samples`` for them.
    Bits are ``projection >= 0`` (the paper thresholds at ``> 0``; this only matters at
    exact zeros). Weights are set to the midpoint of the best interval, the point
    farthest from both training points that bound it.

    References
    ----------
    B. Kulis and T. Darrell. Learning to hash with binary reconstructive embeddings.
    Advances in Neural Information Processing Systems 22 (NIPS 2009), 1042-1050.

    Examples
    --------
    >>> import numpy as np
    >>> from hashlearn.hashers.bre import BRE
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(np.arange(4), 50)
    >>> X = rng.normal(size=(200, 16)) + 3 * np.eye(16)[y]
    >>> bre = BRE(n_bits=8, n_anchors=20, random_state=0).fit(X, y)
    >>> bre.encode(X).shape
    (200, 1)
    >>> bool(np.all(np.diff(bre.loss_history_) <= 0))
    True
    """

    def __init__(
        self,
        n_bits: int = 16,
        *,
        kernel: str = "rbf",
        gamma: float | None = None,
        centre: bool = True,
        n_anchors: int = 50,
        n_iter: int = 3,
        max_samples: int | None = 2000,
        random_state: Any = None,
    ) -> None:
        self.n_bits = n_bits
        self.kernel = kernel
        self.gamma = gamma
        self.centre = centre
        self.n_anchors = n_anchors
        self.n_iter = n_iter
        self.max_samples = max_samples
        self.random_state = random_state

    def _min_samples(self) -> int:
        return 2

    def _fit(self, X: np.ndarray, y: Any, rng: np.random.Generator, **fit_params: Any) -> None:
        if not isinstance(self.kernel, str) or self.kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {self.kernel!r}")
        gamma = _check_gamma(self.gamma)
        if not isinstance(self.centre, (bool, np.bool_)):
            raise TypeError(f"centre must be True or False, got {self.centre!r}")
        n_anchors = check_int(self.n_anchors, "n_anchors", low=1)
        n_iter = check_int(self.n_iter, "n_iter", low=0)
        max_samples = None
        if self.max_samples is not None:
            max_samples = check_int(self.max_samples, "max_samples", low=2)
        labels = None if y is None else check_labels(y, X.shape[0])

        n = X.shape[0]
        if max_samples is not None and n > max_samples:
            rows = np.sort(rng.choice(n, size=max_samples, replace=False))
            X = X[rows]
            labels = None if labels is None else labels[rows]
            n = max_samples
        X = _unit_rows(X)
        targets = _Targets.from_vectors(X) if labels is None else _Targets.from_labels(labels)

        s = min(n_anchors, n)
        chosen = np.stack([rng.choice(n, size=s, replace=False) for _ in range(self.n_bits)])
        anchor_rows, anchor_index = np.unique(chosen, return_inverse=True)
        anchor_index = anchor_index.reshape(chosen.shape).astype(np.int64)
        anchors = X[anchor_rows]
        if self.kernel == "rbf" and gamma is None:
            mean_squared = float(np.mean(_squared_distances(X, anchors)))
            gamma = 1.0 / mean_squared if mean_squared > 0 else 1.0
        kernels = _kernel(X, anchors, self.kernel, gamma)
        kernel_mean = kernels.mean(axis=0) if self.centre else np.zeros(anchors.shape[0])
        kernels -= kernel_mean
        weights = rng.standard_normal((self.n_bits, s))
        # small dense products: BLAS threads only add synchronisation overhead here
        with threadpool_limits(limits=1, user_api="blas"):
            weights, history, sweeps = _coordinate_descent(
                kernels, anchor_index, weights, targets, n_iter
            )

        components = np.zeros((self.n_bits, anchors.shape[0]))
        np.put_along_axis(components, anchor_index, weights, axis=1)
        self.anchors_ = anchors
        self.anchor_index_ = anchor_index
        self.kernel_mean_ = kernel_mean
        self.components_ = components
        self.gamma_: float | None = gamma if self.kernel == "rbf" else None
        self.loss_history_ = np.asarray(history)
        self.n_iter_ = sweeps

    def _project(self, X: np.ndarray) -> np.ndarray:
        X = _unit_rows(X)
        out = np.empty((X.shape[0], self.n_bits))
        block = max(1, _BLOCK_BYTES // (8 * max(1, self.anchors_.shape[0])))
        for start in range(0, X.shape[0], block):
            features = _kernel(X[start : start + block], self.anchors_, self.kernel, self.gamma_)
            features -= self.kernel_mean_
            out[start : start + block] = features @ self.components_.T
        return out

    def _check_loaded_state(self) -> None:
        super()._check_loaded_state()
        if not isinstance(self.kernel, str) or self.kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {self.kernel!r}")
        anchors = getattr(self, "anchors_", None)
        if not isinstance(anchors, np.ndarray) or anchors.ndim != 2:
            raise ValueError("anchors_ is missing")
        m = anchors.shape[0]
        check_state_array(self, "anchors_", (m, self.n_features_in_))
        check_state_array(self, "components_", (self.n_bits, m))
        check_state_array(self, "kernel_mean_", (m,))
        index = getattr(self, "anchor_index_", None)
        if (
            not isinstance(index, np.ndarray)
            or index.ndim != 2
            or index.shape[0] != self.n_bits
            or index.dtype.kind not in "iu"
            or (index.size and (index.min() < 0 or index.max() >= m))
        ):
            raise ValueError(f"anchor_index_ must be ints in [0, {m}) of shape ({self.n_bits}, s)")
        gamma = getattr(self, "gamma_", None)
        if self.kernel == "rbf" and (
            isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) or not float(gamma) > 0
        ):
            raise ValueError(f"gamma_ must be a positive float for the rbf kernel, got {gamma!r}")


BRE = BinaryReconstructiveEmbedding

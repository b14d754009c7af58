"""Median thresholding: projections cut at their training medians, so every bit is balanced.

The simplest learned binarisation taught in learning-to-hash courses: take ``n_bits``
linear projections of the data and threshold each one at its median over the training
set instead of at zero (or at the mean). Each bit then splits the training data in half,
which maximises its entropy (one full bit of information) and fills the hash buckets
evenly; a bit thresholded at the mean of a skewed projection can be 1 for almost every
point and then tells the points apart hardly at all. This "balanced bits" criterion is one
of the two classic requirements on good codes (balanced and uncorrelated bits; Weiss,
Torralba and Fergus, 2008; Wang, Kumar and Chang, 2012).

:class:`MedianThresholding` offers three projections: Gaussian random directions
(balanced sign random projections), the raw features themselves (the ``n_bits`` features of
highest training variance) and the top principal components (PCAH with median instead of
mean thresholds).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hashlearn._registry import register
from hashlearn.hashers._base import BaseHasher, LinearHasherMixin
from hashlearn.hashers._linalg import principal_components

__all__ = ["MedianThresholding", "balanced_thresholds", "highest_variance_features"]

_PROJECTIONS = ("random", "identity", "pca")


# --------------------------------------------------------------------------------------
# Numerical building blocks (pure functions)
# --------------------------------------------------------------------------------------


def balanced_thresholds(projections: np.ndarray) -> np.ndarray:
    """Per-column thresholds that split the rows of ``projections`` as evenly as possible.

    The threshold of column ``j`` is its median ``m_j``, and the bit is
    ``projections[:, j] >= m_j``. Without ties at the median this puts exactly
    ``ceil(n / 2)`` rows on the 1 side (``n / 2`` for even ``n``, where the median is the
    midpoint of the two middle values). When values tie at the median (discrete features,
    e.g. many zero pixels), ``>= m_j`` may put far more than half of the rows on the 1 side;
    the threshold then moves to the midpoint between ``m_j`` and the next larger value of
    the column whenever that split is closer to ``n / 2`` (strictly closer; on equal
    distance the median is kept). A column with a single distinct value keeps its median:
    every row gets bit 1 and no threshold can do better.

    Parameters
    ----------
    projections : ndarray of shape (n_samples, n_columns)
        Finite training projections.

    Returns
    -------
    thresholds : ndarray of shape (n_columns,)
    """
    values = np.sort(np.asarray(projections, dtype=np.float64), axis=0)
    n_samples = values.shape[0]
    medians = np.median(values, axis=0)
    thresholds = medians.copy()
    half = n_samples / 2.0
    for j in range(values.shape[1]):
        column = values[:, j]
        n_at_or_above = n_samples - int(np.searchsorted(column, medians[j], side="left"))
        first_above = int(np.searchsorted(column, medians[j], side="right"))
        n_above = n_samples - first_above
        if n_above == n_at_or_above or n_above == 0:
            continue  # no tie at the median, or nothing above it to split off
        if abs(n_above - half) < abs(n_at_or_above - half):
            thresholds[j] = 0.5 * (medians[j] + column[first_above])
    return thresholds


def highest_variance_features(X: np.ndarray, n_features: int) -> np.ndarray:
    """Indices of the ``n_features`` columns of ``X`` with the largest variance.

    Ordered by decreasing variance; ties go to the lower column index (a stable sort), so
    the choice is deterministic.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_columns)
    n_features : int
        How many columns, at most ``n_columns``.

    Returns
    -------
    indices : ndarray of int64, shape (n_features,)
    """
    variances = np.asarray(X, dtype=np.float64).var(axis=0)
    return np.argsort(-variances, kind="stable")[:n_features].astype(np.int64)


# --------------------------------------------------------------------------------------
# The hasher
# --------------------------------------------------------------------------------------


@register
class MedianThresholding(LinearHasherMixin, BaseHasher):
    """Linear projections thresholded at their training medians (balanced bits).

    Bit ``j`` of ``x`` is ``1`` when ``w_j . x >= t_j``, where ``w_j`` is a projection
    direction and ``t_j`` the median of ``w_j . x`` over the training set (see
    :func:`balanced_thresholds` for ties). Every bit is therefore 1 on half of the training
    points, whatever the skew of the projection; thresholds at zero or at the mean give no
    such guarantee. The directions come from ``projection``:

    * ``"random"``: ``w_j ~ N(0, I)``, i.e. sign random projections (:class:`~hashlearn.hashers.
      lsh.SignRandomProjection`) with median instead of mean offsets;
    * ``"identity"``: the raw features themselves, ``w_j = e_{f_j}`` for the ``n_bits``
      features ``f_j`` of highest training variance (decreasing variance, ties to the lower
      feature index), so each bit says whether one feature is above its median;
    * ``"pca"``: the top ``n_bits`` principal directions of the training data (signs fixed,
      as in :class:`~hashlearn.hashers.pca.PCAHashing`), i.e. PCAH with median thresholds.

    Parameters
    ----------
    n_bits : int, default 16
        Code length, in ``[1, 4096]``; at most ``n_features`` for ``"identity"`` and
        ``"pca"``.
    projection : {"random", "identity", "pca"}, default "random"
        Where the directions come from (see above).
    random_state : int, numpy.random.Generator or None, default None
        Seeds the Gaussian directions of ``"random"``; the other projections are
        deterministic and ignore it. The same int gives the same codes.

    Attributes
    ----------
    components_ : ndarray of shape (n_bits, n_features)
        One direction per bit (unit vectors for ``"identity"`` and ``"pca"``).
    intercept_ : ndarray of shape (n_bits,)
        ``-thresholds_``, so that ``project(X) = X @ components_.T + intercept_``.
    thresholds_ : ndarray of shape (n_bits,)
        The training medians of the projections (tie-adjusted).
    feature_indices_ : ndarray of int64, shape (n_bits,)
        For ``"identity"``: the feature each bit thresholds. Empty otherwise.
    n_features_in_ : int
        Number of features seen during fit.

    References
    ----------
    Y. Weiss, A. Torralba and R. Fergus. Spectral hashing. NIPS 2008 (balanced and
    uncorrelated bits as the criteria for good codes).

    J. Wang, S. Kumar and S.-F. Chang. Semi-supervised hashing for large-scale search.
    IEEE TPAMI 34(12), 2012 (bit balance; PCAH).

    M. S. Charikar. Similarity estimation techniques from rounding algorithms. STOC 2002
    (sign random projections).

    Examples
    --------
    >>> import numpy as np
    >>> from hashlearn.hashers.median import MedianThresholding
    >>> X = np.random.default_rng(0).exponential(size=(100, 20))  # skewed features
    >>> hasher = MedianThresholding(12, random_state=0).fit(X)
    >>> hasher.encode(X).shape
    (100, 2)
    >>> hasher.transform(X).mean(axis=0)  # every bit is 1 on half the training rows
    array([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
    >>> scaled = X * 2.0 ** np.arange(20)  # feature j has 4**j times the variance of 0
    >>> MedianThresholding(3, projection="identity").fit(scaled).feature_indices_
    array([19, 18, 17])
    """

    def __init__(
        self, n_bits: int = 16, *, projection: str = "random", random_state: Any = None
    ) -> None:
        self.n_bits = n_bits
        self.projection = projection
        self.random_state = random_state

    def _check_projection(self) -> str:
        if not isinstance(self.projection, str) or self.projection not in _PROJECTIONS:
            raise ValueError(
                f"projection must be one of {', '.join(map(repr, _PROJECTIONS))}, "
                f"got {self.projection!r}"
            )
        return self.projection

    def _min_samples(self) -> int:
        return 2 if self.projection == "pca" else 1

    def _fit(self, X: np.ndarray, y: Any, rng: np.random.Generator, **fit_params: Any) -> None:
        projection = self._check_projection()
        n_features = X.shape[1]
        if projection != "random" and self.n_bits > n_features:
            raise ValueError(
                f"MedianThresholding with projection={projection!r} needs n_bits <= "
                f"n_features: it takes n_bits of the {n_features} feature directions, but "
                f"X has {n_features} feature(s) (n_features={n_features}) and "
                f"n_bits={self.n_bits}; lower n_bits or use projection='random'"
            )
        X64 = X.astype(np.float64, copy=False)
        indices = np.empty(0, dtype=np.int64)
        if projection == "random":
            components = rng.standard_normal((self.n_bits, n_features))
        elif projection == "identity":
            indices = highest_variance_features(X64, self.n_bits)
            components = np.zeros((self.n_bits, n_features))
            components[np.arange(self.n_bits), indices] = 1.0
        else:
            directions, _ = principal_components(X64 - X64.mean(axis=0), self.n_bits)
            components = np.ascontiguousarray(directions.T)
        # For "identity" the features themselves: exactly what project() computes.
        projections = X64[:, indices] if projection == "identity" else X64 @ components.T
        self.components_ = components
        self.thresholds_ = balanced_thresholds(projections)
        self.intercept_ = -self.thresholds_
        self.feature_indices_ = indices

    def _check_loaded_state(self) -> None:
        super()._check_loaded_state()
        projection = self._check_projection()
        thresholds = getattr(self, "thresholds_", None)
        if not isinstance(thresholds, np.ndarray) or thresholds.shape != (self.n_bits,):
            raise ValueError(f"thresholds_ must be an array of shape ({self.n_bits},)")
        if not np.array_equal(thresholds, -self.intercept_):
            raise ValueError("thresholds_ and intercept_ disagree (intercept_ = -thresholds_)")
        indices = getattr(self, "feature_indices_", None)
        expected = (self.n_bits,) if projection == "identity" else (0,)
        if (
            not isinstance(indices, np.ndarray)
            or indices.shape != expected
            or indices.dtype.kind not in "iu"
        ):
            raise ValueError(f"feature_indices_ must be an int array of shape {expected}")
        if indices.size and (indices.min() < 0 or indices.max() >= self.n_features_in_):
            raise ValueError(f"feature_indices_ must lie in [0, {self.n_features_in_ - 1}]")

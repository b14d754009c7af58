"""Sign random projections (locality-sensitive hashing for cosine similarity)."""

from __future__ import annotations

from typing import Any

import numpy as np

from hashlearn._registry import register
from hashlearn.hashers._base import BaseHasher, LinearHasherMixin, check_state_array

__all__ = ["LSH", "SignRandomProjection"]


@register
class SignRandomProjection(LinearHasherMixin, BaseHasher):
    """Sign random projections: one random Gaussian hyperplane per bit.

    Bit ``j`` of ``x`` is ``1`` when ``w_j . (x - mu) >= 0``, with ``w_j ~ N(0, I)`` and
    ``mu`` the training mean (or 0 without centring). For two vectors at angle
    ``theta`` the bits differ with probability ``theta / pi``, so the expected Hamming
    distance grows with the angle (Charikar, 2002).

    Parameters
    ----------
    n_bits : int, default 16
        Code length, in ``[1, 4096]``.
    centre : bool, default True
        Subtract the training mean before projecting. Without centring, hyperplanes
        through the origin split data far from the origin unevenly (unbalanced bits).
    random_state : int, numpy.random.Generator or None, default None
        Seeds the hyperplanes. The same int gives the same codes.

    Attributes
    ----------
    components_ : ndarray of shape (n_bits, n_features)
        The Gaussian hyperplane normals.
    intercept_ : ndarray of shape (n_bits,)
        ``-components_ @ mean_``, so that ``project(X) = X @ components_.T + intercept_``.
    mean_ : ndarray of shape (n_features,)
        Training mean (zeros when ``centre=False``).
    n_features_in_ : int
        Number of features seen during fit.

    References
    ----------
    M. S. Charikar. Similarity estimation techniques from rounding algorithms. STOC 2002.

    Examples
    --------
    >>> import numpy as np
    >>> from hashlearn.hashers import LSH
    >>> X = np.random.default_rng(0).normal(size=(100, 20))
    >>> codes = LSH(n_bits=12, random_state=0).fit(X).encode(X)
    >>> codes.shape, codes.dtype
    ((100, 2), dtype('uint8'))
    """

    # Sparse X (TF-IDF, word counts) is projected as it is: the centring is folded into
    # the intercept, so nothing is densified.
    _accepts_sparse = True

    def __init__(self, n_bits: int = 16, *, centre: bool = True, random_state: Any = None) -> None:
        self.n_bits = n_bits
        self.centre = centre
        self.random_state = random_state

    def _fit(self, X: np.ndarray, y: Any, rng: np.random.Generator, **fit_params: Any) -> None:
        self.mean_ = np.asarray(X.mean(axis=0)).ravel() if self.centre else np.zeros(X.shape[1])
        self.components_ = rng.standard_normal((self.n_bits, X.shape[1]))
        self.intercept_ = -(self.components_ @ self.mean_)

    def _check_loaded_state(self) -> None:
        super()._check_loaded_state()
        check_state_array(self, "mean_", (self.n_features_in_,))


LSH = SignRandomProjection

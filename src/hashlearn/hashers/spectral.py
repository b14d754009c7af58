"""Spectral Hashing (Weiss, Torralba and Fergus, NIPS 2008)."""

from __future__ import annotations

from typing import Any

import numpy as np

from hashlearn._registry import register
from hashlearn.hashers._base import BaseHasher, check_phase, check_state_array
from hashlearn.hashers._linalg import principal_components

__all__ = ["SH", "SpectralHashing"]


@register
class SpectralHashing(BaseHasher):
    """Spectral Hashing: thresholded analytical eigenfunctions of a 1-D Laplacian on PCA axes.

    Following the authors' reference code (``trainSH.m`` / ``compressSH.m``):

    1. PCA: project the training mean-centred data on the top ``min(n_bits, n_features)``
       principal directions (eigenvectors of the covariance).
    2. Fit a uniform distribution per direction ``i``: ``[mn_i, mx_i] = [min - eps,
       max + eps]`` of the training projections, ``R_i = mx_i - mn_i`` (``eps`` is machine
       epsilon times the largest ``|projection|``, so that the codes do not depend on the
       scale of ``X``; the reference's absolute ``eps`` when that projection is 1).
    3. Enumerate the 1-D eigenfunctions ``Phi_ik(x) = sin(pi/2 + k * pi * (x_i - mn_i) / R_i)``
       for ``k = 1 .. maxMode_i - 1``, ``maxMode_i = ceil((n_bits + 1) * R_i / max(R))``,
       whose Laplacian eigenvalue is ``(k * pi / R_i) ** 2``, and keep the ``n_bits``
       smallest (a stable sort: ties go to the earlier direction, then the smaller ``k``,
       as MATLAB's ``sort`` does). The constant mode ``k = 0`` is skipped.
    4. Bit ``j`` of ``x`` is ``Phi_{i_j k_j}(x) >= 0``.

    Centring before the projection (which the reference skips, "no need to remove the
    mean") only shifts ``mn`` and ``mx`` by the same amount, so the codes are the same.
    There is no randomness.

    Parameters
    ----------
    n_bits : int, default 16
        Code length, in ``[1, 4096]``. It may exceed ``n_features``: the long directions
        then carry several modes (the reference allows this too).
    random_state : int, numpy.random.Generator or None, default None
        Unused (Spectral Hashing is deterministic); accepted for a uniform API.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Training mean.
    components_ : ndarray of shape (n_components, n_features)
        Principal directions, by decreasing variance, each with its largest-magnitude
        entry positive (``n_components = min(n_bits, n_features)``, fewer when there are
        fewer training samples than that: directions without variance have no modes).
    min_ : ndarray of shape (n_components,)
        ``mn``: smallest training projection on each direction, minus ``eps``
        (machine epsilon times the largest ``|projection|``).
    max_ : ndarray of shape (n_components,)
        ``mx``: largest training projection on each direction, plus ``eps``.
    modes_ : ndarray of int64, shape (n_bits, n_components)
        The reference's ``modes``: row ``j`` is zero except for ``k_j`` at direction
        ``i_j``.
    eigenvalues_ : ndarray of shape (n_bits,)
        ``(k_j * pi / R_{i_j}) ** 2`` of each bit's eigenfunction, non-decreasing.
    n_features_in_ : int
        Number of features seen during fit.

    References
    ----------
    Y. Weiss, A. Torralba and R. Fergus. Spectral Hashing. NIPS 2008.

    Examples
    --------
    >>> import numpy as np
    >>> from hashlearn.hashers.spectral import SH
    >>> X = np.random.default_rng(0).normal(size=(200, 10))
    >>> sh = SH(n_bits=12).fit(X)
    >>> sh.encode(X).shape
    (200, 2)
    >>> sh.modes_.shape
    (12, 10)
    """

    def __init__(self, n_bits: int = 16, *, random_state: Any = None) -> None:
        self.n_bits = n_bits
        self.random_state = random_state

    def _min_samples(self) -> int:
        return 2

    def _fit(self, X: np.ndarray, y: Any, rng: np.random.Generator, **fit_params: Any) -> None:
        X = X.astype(np.float64, copy=False)
        n_components = min(self.n_bits, X.shape[1])
        self.mean_ = X.mean(axis=0)
        centred = X - self.mean_
        self.components_ = principal_components(centred, n_components)[0].T
        projections = centred @ self.components_.T
        # The reference's margin is MATLAB's eps, absolute: on features of 1e-30 it is
        # wider than the data and every code changes. Relative to the data's largest
        # projection it scales with X (and is the reference's when that projection is 1).
        largest = float(np.abs(projections).max()) if projections.size else 0.0
        eps = np.finfo(np.float64).eps * (largest if largest > 0.0 else 1.0)
        self.min_ = projections.min(axis=0) - eps
        self.max_ = projections.max(axis=0) + eps
        self.modes_, self.eigenvalues_ = _select_modes(self.max_ - self.min_, self.n_bits)

    def _project(self, X: np.ndarray) -> np.ndarray:
        projections = (X.astype(np.float64, copy=False) - self.mean_) @ self.components_.T
        shifted = projections - self.min_
        omega0 = np.pi / (self.max_ - self.min_)
        # Each row of modes_ has one non-zero entry; the other factors of the reference's
        # product are sin(0 + pi/2) = 1 exactly, so one sine per bit is the same number.
        directions = np.argmax(self.modes_ != 0, axis=1)
        omegas = self.modes_[np.arange(self.n_bits), directions] * omega0[directions]
        angles = shifted[:, directions] * omegas + np.pi / 2
        check_phase(angles, 2.0 * np.pi, X, type(self).__name__, "eigenfunction arguments")
        return np.sin(angles)

    def _check_loaded_state(self) -> None:
        super()._check_loaded_state()
        modes = getattr(self, "modes_", None)
        if not isinstance(modes, np.ndarray) or modes.ndim != 2 or modes.shape[0] != self.n_bits:
            raise ValueError(f"modes_ must be an int array with {self.n_bits} rows")
        n_components = modes.shape[1]
        if modes.dtype.kind not in "iu" or (np.count_nonzero(modes, axis=1) != 1).any():
            raise ValueError("modes_ must hold one positive integer mode per row")
        if (modes < 0).any():
            raise ValueError("modes_ must be non-negative")
        check_state_array(self, "mean_", (self.n_features_in_,))
        check_state_array(self, "components_", (n_components, self.n_features_in_))
        check_state_array(self, "min_", (n_components,))
        check_state_array(self, "max_", (n_components,))
        check_state_array(self, "eigenvalues_", (self.n_bits,))
        if not (self.max_ > self.min_).all():
            raise ValueError("max_ must exceed min_ on every direction")


SH = SpectralHashing


def _select_modes(ranges: np.ndarray, n_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n_bits`` eigenfunctions with the smallest eigenvalues (reference step 3).

    Parameters
    ----------
    ranges : ndarray of shape (n_components,)
        ``R = mx - mn`` per direction.
    n_bits : int

    Returns
    -------
    modes : ndarray of int64, shape (n_bits, n_components)
    eigenvalues : ndarray of shape (n_bits,)
        ``(k * pi / R_i) ** 2`` of the chosen modes.
    """
    max_mode = np.ceil((n_bits + 1) * ranges / ranges.max()).astype(np.int64)
    omega0 = np.pi / ranges
    directions = np.repeat(np.arange(ranges.size), max_mode - 1)
    ks = np.concatenate([np.arange(1, top, dtype=np.int64) for top in max_mode])
    eigenvalues = (ks * omega0[directions]) ** 2
    # The reference sorts [constant mode; these] stably and drops the first (eigenvalue 0).
    order = np.argsort(eigenvalues, kind="stable")[:n_bits]
    modes = np.zeros((n_bits, ranges.size), dtype=np.int64)
    modes[np.arange(n_bits), directions[order]] = ks[order]
    return modes, eigenvalues[order]

"""Linear hashers through the training mean, shared by :mod:`~hashlearn.hashers.pca` and
:mod:`~hashlearn.hashers.isotropic`."""

from __future__ import annotations

import numpy as np

from hashlearn.hashers._base import BaseHasher, LinearHasherMixin, check_state_array

__all__ = ["CentredLinearHasher", "check_bits_fit_features"]


def check_bits_fit_features(owner: str, n_bits: int, n_features: int) -> None:
    """Raise unless ``n_bits <= n_features`` (for hashers that take n_bits directions of X)."""
    if n_bits > n_features:
        raise ValueError(
            f"{owner} needs n_bits <= n_features: it takes n_bits directions of the "
            f"{n_features}-dimensional feature space, but X has {n_features} feature(s) "
            f"(n_features={n_features}) and n_bits={n_bits}; lower n_bits"
        )


class CentredLinearHasher(LinearHasherMixin, BaseHasher):
    """Hashers whose bits are directions through the training mean (PCAH, ITQ, CCA-ITQ, IsoHash).

    State: ``components_``, ``intercept_`` and ``mean_`` (``intercept_ = -components_ @ mean_``).
    """

    mean_: np.ndarray

    def _min_samples(self) -> int:
        return 2

    def _set_linear_map(self, mean: np.ndarray, directions: np.ndarray) -> None:
        """Bit ``j`` of ``x`` is ``(x - mean) . directions[:, j]`` (``directions``: d x n_bits)."""
        self.mean_ = mean
        self.components_ = np.ascontiguousarray(directions.T)
        self.intercept_ = -(self.components_ @ mean)

    def _check_loaded_state(self) -> None:
        super()._check_loaded_state()
        check_state_array(self, "mean_", (self.n_features_in_,))

"""Kernel features against anchor points, shared by the kernel hashers (KSH, SDH)."""

from __future__ import annotations

import numpy as np

__all__ = ["anchor_kernel_projection", "squared_distances"]

#: Rows of ``X`` turned into kernel features at a time when encoding (bounds memory).
_BLOCK_BYTES = 64 * 2**20


def squared_distances(X: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """``D[i, j] = ||X[i] - anchors[j]||^2`` in float64, clipped at 0 (rounding)."""
    X = X.astype(np.float64, copy=False)
    distances = (
        np.einsum("ij,ij->i", X, X)[:, None]
        + np.einsum("ij,ij->i", anchors, anchors)[None, :]
        - 2.0 * (X @ anchors.T)
    )
    return np.maximum(distances, 0.0, out=distances)


def anchor_kernel_projection(
    X: np.ndarray,
    anchors: np.ndarray,
    denominator: float,
    offset: np.ndarray | None,
    weights: np.ndarray,
    intercept: np.ndarray | None = None,
) -> np.ndarray:
    """``(exp(-||x - a_j||^2 / denominator) - offset_j) @ weights + intercept``, row blocks.

    Parameters
    ----------
    X : ndarray of shape (n, n_features)
    anchors : ndarray of shape (m, n_features)
    denominator : float
        The RBF kernel is ``exp(-squared distance / denominator)``.
    offset : ndarray of shape (m,) or None
        Subtracted from every row of kernel features (centring), or nothing.
    weights : ndarray of shape (m, n_out)
    intercept : ndarray of shape (n_out,) or None

    Returns
    -------
    ndarray of float64, shape (n, n_out)
    """
    out = np.empty((X.shape[0], weights.shape[1]))
    block = max(1, _BLOCK_BYTES // (8 * max(1, anchors.shape[0])))
    for start in range(0, X.shape[0], block):
        features = np.exp(-squared_distances(X[start : start + block], anchors) / denominator)
        if offset is not None:
            features -= offset
        out[start : start + block] = features @ weights
    if intercept is not None:
        out += intercept
    return out

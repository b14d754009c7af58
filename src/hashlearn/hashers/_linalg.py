"""Shared linear algebra of the hashers: deterministic eigenvector signs, principal directions."""

from __future__ import annotations

import numpy as np
import scipy.linalg

__all__ = ["fix_signs", "principal_components"]


def fix_signs(vectors: np.ndarray) -> np.ndarray:
    """Flip each column so that its largest-magnitude entry is positive.

    Eigen and singular vectors are defined up to sign; this makes them unique (on ties of
    magnitude, the first such entry decides). An all-zero column is left as it is.

    Parameters
    ----------
    vectors : ndarray of shape (n_features, n_vectors)

    Returns
    -------
    ndarray of shape (n_features, n_vectors)
        A copy with the signs fixed.
    """
    vectors = np.array(vectors, dtype=np.float64, copy=True)
    if vectors.size == 0:
        return vectors
    rows = np.argmax(np.abs(vectors), axis=0)
    signs = np.sign(vectors[rows, np.arange(vectors.shape[1])])
    signs[signs == 0] = 1.0
    return vectors * signs


def principal_components(X_centred: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    """Top principal directions of centred data, largest variance first, signs fixed.

    Parameters
    ----------
    X_centred : ndarray of shape (n_samples, n_features)
        Data with the (training) mean already subtracted.
    n_components : int
        How many directions, at most ``n_features``.

    Returns
    -------
    components : ndarray of shape (n_features, n_components)
        Orthonormal columns, the eigenvectors of the covariance ``X^T X / (n - 1)``.
    variances : ndarray of shape (n_components,)
        The matching eigenvalues (variance along each direction), descending, clipped at 0.
    """
    n_samples, n_features = X_centred.shape
    denominator = max(n_samples - 1, 1)
    if n_samples >= n_features:
        covariance = (X_centred.T @ X_centred) / denominator
        values, vectors = scipy.linalg.eigh(
            covariance, subset_by_index=[n_features - n_components, n_features - 1]
        )
        values, vectors = values[::-1], vectors[:, ::-1]
    else:
        # Fewer samples than features: the thin SVD is cheaper than the d x d covariance.
        _, singular, vt = scipy.linalg.svd(X_centred, full_matrices=False)
        values = singular**2 / denominator
        vectors = vt.T
        if n_components > vectors.shape[1]:
            # The data span fewer directions than asked for: complete the basis with
            # orthonormal directions of zero variance (deterministically, from the identity).
            q, _ = scipy.linalg.qr(np.hstack([vectors, np.eye(n_features)]), mode="economic")
            extra = q[:, vectors.shape[1] : n_components]
            vectors = np.hstack([vectors, extra])
            values = np.concatenate([values, np.zeros(extra.shape[1])])
        values, vectors = values[:n_components], vectors[:, :n_components]
    return fix_signs(vectors), np.clip(values, 0.0, None)

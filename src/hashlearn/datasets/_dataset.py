"""The small container every loader returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Dataset"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded dataset: features, labels and where they came from.

    Parameters
    ----------
    name : str
        Short name (``"cifar10"``, ``"cifar10-gist"``, ``"digits"``, ...).
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
        Sparse for text (TF-IDF, word counts), which stays sparse through the protocols.
        Features, one row per item (for raw images, the flattened pixels).
    y : ndarray of int64, shape (n_samples,), or of uint8, shape (n_samples, n_labels)
        Class labels ``0 .. n_classes - 1``; for a multi-label dataset (MIRFlickr-25K), a
        0/1 indicator matrix, where two items are relevant when they share a label.
    class_names : tuple of str
        ``class_names[k]`` is the name of label ``k``.
    source : str
        Human-readable description of the files (or cache) the data came from.
    images : ndarray, optional
        The images, e.g. uint8 of shape (n_samples, 32, 32, 3) for CIFAR-10, when loaded.
    n_train : int, optional
        When the rows follow an official train/test split: the first ``n_train`` rows are
        the official training set and the rest the test set (50,000 for CIFAR-10).

    Attributes
    ----------
    n_samples : int
    split : ndarray of str, shape (n_samples,) or None
        ``"train"`` / ``"test"`` per row, derived from ``n_train``.

    Examples
    --------
    >>> import numpy as np
    >>> d = Dataset("toy", np.zeros((3, 2)), np.array([0, 1, 0]), ("a", "b"), "made up", n_train=2)
    >>> d.split.tolist()
    ['train', 'train', 'test']
    """

    name: str
    X: Any
    y: np.ndarray
    class_names: tuple[str, ...]
    source: str
    images: np.ndarray | None = None
    n_train: int | None = None

    @property
    def n_samples(self) -> int:
        """Number of rows of ``X``."""
        return int(self.X.shape[0])

    @property
    def split(self) -> np.ndarray | None:
        """``"train"`` for the first ``n_train`` rows and ``"test"`` after; None without a split."""
        if self.n_train is None:
            return None
        split = np.full(self.n_samples, "test", dtype="<U5")
        split[: self.n_train] = "train"
        return split

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, X={self.X.dtype}{self.X.shape}, "
            f"y={self.y.dtype}{self.y.shape}, n_classes={len(self.class_names)}, "
            f"n_train={self.n_train}, source={self.source!r})"
        )

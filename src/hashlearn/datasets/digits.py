"""scikit-learn's bundled 8x8 handwritten digits: the dataset that needs no files at all."""

from __future__ import annotations

import numpy as np

from hashlearn.datasets._dataset import Dataset

__all__ = ["load_digits_dataset"]


def load_digits_dataset() -> Dataset:
    """Load scikit-learn's embedded copy of the UCI 8x8 digits (1797 images, 10 classes).

    It ships inside scikit-learn, so it works offline with no data directory; the CLI
    falls back to it when CIFAR-10 is not available.

    Returns
    -------
    Dataset
        ``X`` float64 (1797, 64) pixel intensities 0..16; ``y`` int64 (1797,) digits 0..9;
        ``class_names`` ``("0", ..., "9")``; ``images`` float64 (1797, 8, 8); no official
        train/test split (``n_train`` None).

    References
    ----------
    .. [1] E. Alpaydin and C. Kaynak, "Optical Recognition of Handwritten Digits", UCI
       Machine Learning Repository, 1998.

    Examples
    --------
    >>> digits = load_digits_dataset()
    >>> digits.X.shape, digits.y.shape
    ((1797, 64), (1797,))
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return Dataset(
        name="digits",
        X=np.ascontiguousarray(bunch.data, dtype=np.float64),
        y=np.asarray(bunch.target, dtype=np.int64),
        class_names=tuple(str(name) for name in bunch.target_names),
        source="scikit-learn's bundled 8x8 digits (sklearn.datasets.load_digits)",
        images=np.asarray(bunch.images, dtype=np.float64),
    )

"""Training inputs for deep hashers: images as uint8 NCHW or feature vectors as float32.

Images stay ``uint8`` in host and device memory (a quarter of float32) and become float
in ``[0, 1]`` one batch at a time, on the training device, where they are also augmented
(:func:`augment`): no per-sample Python in the hot loop. Sparse vectors (TF-IDF, word
counts) stay a CSR matrix on the host and become dense one batch at a time
(:meth:`Inputs.dense`): a corpus is never dense all at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from hashlearn._validation import check_features, check_sparse_features

__all__ = ["Inputs", "as_inputs", "augment", "label_matrix"]

#: Flattened images whose layout is known without ``image_shape``: CIFAR-10 and MNIST rows.
_KNOWN_FLAT = {3072: (32, 32, 3), 784: (28, 28, 1)}


@dataclass(frozen=True)
class Inputs:
    """Validated inputs: ``array`` is ``uint8 (n, C, H, W)`` images, ``float32 (n, d)``
    vectors, or a ``float32`` CSR matrix of sparse vectors."""

    array: Any
    images: bool

    @property
    def sparse(self) -> bool:
        """Whether the vectors are a sparse matrix."""
        return sp.issparse(self.array)

    def take(self, rows: Any) -> Inputs:
        """The inputs of ``rows`` (an index array or a slice), still sparse when sparse."""
        return Inputs(self.array[rows], self.images)

    def dense(self, rows: Any) -> np.ndarray:
        """The inputs of ``rows`` as a dense array (the one place sparse rows densify)."""
        part = self.array[rows]
        return part.toarray() if sp.issparse(part) else np.ascontiguousarray(part)

    @property
    def shape(self) -> tuple[int, ...]:
        """One input's shape: ``(C, H, W)`` or ``(d,)``."""
        return tuple(self.array.shape[1:])

    def __len__(self) -> int:
        return int(self.array.shape[0])


def _check_image_shape(image_shape: Any) -> tuple[int, int, int]:
    if (
        not isinstance(image_shape, tuple | list)
        or len(image_shape) != 3
        or not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in image_shape)
        or min(image_shape) < 1
    ):
        raise ValueError(
            f"image_shape must be (height, width, channels) of positive ints, got {image_shape!r}"
        )
    return int(image_shape[0]), int(image_shape[1]), int(image_shape[2])


def _images(array: np.ndarray, image_shape: Any) -> np.ndarray:
    """``uint8 (n, C, H, W)`` from NHWC, NCHW, (n, H, W) or flattened HWC rows."""
    if array.dtype != np.uint8:
        raise TypeError(
            f"images must be uint8 pixels (0-255), got dtype {array.dtype}; convert them with "
            "np.clip(x, 0, 255).astype(np.uint8), or pass feature vectors with backbone='mlp'"
        )
    if array.ndim == 2:
        shape = image_shape if image_shape is not None else _KNOWN_FLAT.get(array.shape[1])
        if shape is None:
            raise ValueError(
                f"X has {array.shape[1]} columns: pass image_shape=(height, width, channels) "
                "to read its rows as images (flattened in height, width, channel order), or "
                "use backbone='mlp' for feature vectors"
            )
        height, width, channels = _check_image_shape(shape)
        if height * width * channels != array.shape[1]:
            raise ValueError(
                f"image_shape={tuple(shape)} holds {height * width * channels} values, but X "
                f"rows have {array.shape[1]}"
            )
        array = array.reshape(-1, height, width, channels)
    if array.ndim == 3:
        array = array[:, None]
    elif array.ndim == 4:
        if array.shape[-1] in (1, 3) and array.shape[1] not in (1, 3):
            array = array.transpose(0, 3, 1, 2)
        elif array.shape[1] not in (1, 3):
            raise ValueError(
                f"cannot tell the channel axis of images of shape {array.shape}: expected "
                "(n, height, width, 1 or 3) or (n, 1 or 3, height, width)"
            )
    else:
        raise ValueError(
            f"images must be (n, H, W, C), (n, C, H, W), (n, H, W) or flattened rows, got "
            f"{array.ndim}-D shape {array.shape}"
        )
    if array.shape[0] == 0:
        raise ValueError("X holds no images (0 samples)")
    return np.ascontiguousarray(array)


def as_inputs(
    X: Any,
    *,
    images: bool,
    image_shape: Any = None,
    n_features: Any = None,
    owner: str | None = None,
    check: Callable[[np.ndarray], None] | None = None,
) -> Inputs:
    """Validate ``X`` as images (for an image backbone) or as feature vectors.

    Parameters
    ----------
    X : array-like
        Images: ``uint8`` of shape ``(n, H, W, C)``, ``(n, C, H, W)`` (``C`` 1 or 3),
        ``(n, H, W)`` (grayscale) or ``(n, H * W * C)`` rows flattened in ``H, W, C``
        order (CIFAR-10's 3,072 and MNIST's 784 columns are recognised). Vectors: any
        finite real ``(n, d)``.
    images : bool
        Whether the backbone takes images.
    image_shape : (height, width, channels), optional
        How to read flattened rows as images.
    n_features : int, optional
        The feature count seen at fit, for vectors.
    owner : str, optional
        The estimator's name, for messages.
    check : callable, optional
        Called with validated vectors (float64) before they are cast to float32, to refuse
        values outside the network's range.
    """
    if sp.issparse(X):
        if images:
            raise TypeError(
                "X is a sparse matrix, which an image backbone cannot take: use "
                "backbone='mlp' for sparse feature vectors (TF-IDF, word counts)"
            )
        matrix = check_sparse_features(
            X, name="X", n_features=n_features, owner=owner or "the model"
        )
        if check is not None:
            check(matrix)
        return Inputs(sp.csr_matrix(matrix, dtype=np.float32), images=False)
    if images:
        return Inputs(_images(np.asarray(X), image_shape), images=True)
    array = check_features(X, name="X", n_features=n_features, owner=owner or "the model")
    if check is not None:
        check(array)
    return Inputs(np.ascontiguousarray(array, dtype=np.float32), images=False)


def label_matrix(y: Any, n_samples: int) -> tuple[np.ndarray, tuple[Any, ...] | None]:
    """``float32 (n, n_labels)`` 0/1 labels and the classes (None for a multi-label matrix).

    ``y`` is a vector of class labels (one-hot encoded here, classes in sorted order) or a
    0/1 indicator matrix (kept as it is).
    """
    labels = np.asarray(y)
    if labels.shape[0] != n_samples:
        raise ValueError(f"y has {labels.shape[0]} labels for {n_samples} samples")
    if labels.ndim == 2:
        if not np.isin(labels, (0, 1)).all():
            raise ValueError("a 2-D y must be a 0/1 indicator matrix (one column per label)")
        return labels.astype(np.float32), None
    if labels.ndim != 1:
        raise ValueError(
            f"y must be 1-D class labels or a 2-D 0/1 matrix, got shape {labels.shape}"
        )
    classes, codes = np.unique(labels, return_inverse=True)
    if classes.shape[0] < 2:
        raise ValueError(
            f"y holds one class ({classes[0]!r}); supervised hashing needs two or more"
        )
    onehot = np.zeros((n_samples, classes.shape[0]), dtype=np.float32)
    onehot[np.arange(n_samples), codes] = 1
    return onehot, tuple(classes.tolist())


def augment(batch: Any, generator: Any, padding: int = 4) -> Any:
    """Random crop (zero padding of ``padding`` pixels) and horizontal flip, per image.

    ``batch`` is float ``(n, C, H, W)`` on any device; ``generator`` a torch generator on
    the same device. One gather builds every crop: no loop over images.
    """
    import torch

    n, _, height, width = batch.shape
    device = batch.device
    padded = torch.nn.functional.pad(batch, (padding, padding, padding, padding))
    offset_y = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=device)
    offset_x = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=device)
    flip = torch.rand((n,), generator=generator, device=device) < 0.5
    rows = offset_y[:, None] + torch.arange(height, device=device)[None, :]
    columns = torch.arange(width, device=device)[None, :].expand(n, width)
    columns = torch.where(flip[:, None], columns.flip(1), columns) + offset_x[:, None]
    index_rows = rows[:, None, :, None].expand(n, batch.shape[1], height, padded.shape[3])
    cropped = padded.gather(2, index_rows)
    index_columns = columns[:, None, None, :].expand(n, batch.shape[1], height, width)
    return cropped.gather(3, index_columns)

"""Reference GIST: a slow, literal float64 transcription of ``LMgist.m``, one image at a time.

:func:`hashlearn.features.gist.gist_features` (batched, float32, cropped FFTs) must agree
with it; the test suite and ``benchmarks/bench_gist.py`` compare the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hashlearn.features.gist import (
    _PREFILTER_PAD,
    _block_edges,
    _check_dtype,
    _check_image_size,
    _check_params,
    gabor_filters,
)

__all__ = ["gist_features_reference"]


def _rescale_reference(image: np.ndarray) -> np.ndarray:
    image = image - image.min()
    peak = image.max()
    return 255 * image / peak if peak > 0 else image


def _prefilter_reference(image: np.ndarray, fc: float) -> np.ndarray:
    w = _PREFILTER_PAD
    s1 = fc / np.sqrt(np.log(2))
    image = np.log(image + 1)
    image = np.pad(image, w, mode="symmetric")
    sn, sm = image.shape
    n = max(sn, sm)
    n = n + n % 2
    image = np.pad(image, ((0, n - sn), (0, n - sm)), mode="symmetric")
    grid = np.arange(n, dtype=np.float64) - n / 2
    fx, fy = np.meshgrid(grid, grid)
    gf = np.fft.fftshift(np.exp(-(fx**2 + fy**2) / s1**2))
    output = image - np.real(np.fft.ifft2(np.fft.fft2(image) * gf))
    localstd = np.sqrt(np.abs(np.fft.ifft2(np.fft.fft2(output**2) * gf)))
    output = output / (0.2 + localstd)
    return output[w : sn - w, w : sm - w]


def gist_features_reference(
    image: Any,
    *,
    orientations_per_scale: Sequence[int] = (8, 8, 8, 8),
    n_blocks: int = 4,
    fc_prefilter: float = 4.0,
    boundary_extension: int = 32,
) -> np.ndarray:
    """GIST of one image, a slow float64 transcription of ``LMgist.m`` (the test oracle).

    Every step is written as in the reference MATLAB code, with full-size FFTs and no
    shortcut; :func:`gist_features` must agree with it. See the module docstring for the
    steps.

    Parameters
    ----------
    image : array-like, shape (H, H) or (H, H, 3)
        One grayscale or RGB (channels last) square image, any real dtype.
    orientations_per_scale, n_blocks, fc_prefilter, boundary_extension
        As in :func:`gist_features`.

    Returns
    -------
    numpy.ndarray of float64, shape (n_blocks ** 2 * sum(orientations_per_scale),)

    References
    ----------
    .. [1] A. Oliva and A. Torralba, IJCV 42(3):145-175, 2001; ``LMgist.m``.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.random.default_rng(0).integers(0, 256, (32, 32, 3))
    >>> gist_features_reference(image).shape
    (512,)
    """
    params = _check_params(orientations_per_scale, n_blocks, fc_prefilter, boundary_extension)
    array = np.asarray(image)
    _check_dtype(array, "image")
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise ValueError(
            f"image must be one image of shape (H, W) or (H, W, 3), got shape {array.shape}"
        )
    _check_image_size(array.shape[0], array.shape[1], params.n_blocks, "image")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError("image contains NaN or infinity; GIST needs finite pixel values")

    gray = array.mean(axis=2) if array.ndim == 3 else array
    output = _prefilter_reference(_rescale_reference(gray), params.fc)

    be = params.boundary
    size = output.shape[0]
    filters = gabor_filters(params.orientations, size + 2 * be)
    spectrum = np.fft.fft2(np.pad(output, be, mode="symmetric"))
    edges = _block_edges(size, params.n_blocks)
    features = []
    for transfer in filters:
        response = np.abs(np.fft.ifft2(spectrum * transfer))[be : be + size, be : be + size]
        blocks = np.empty((params.n_blocks, params.n_blocks))
        for row in range(params.n_blocks):
            for col in range(params.n_blocks):
                blocks[row, col] = response[
                    edges[row] : edges[row + 1], edges[col] : edges[col + 1]
                ].mean()
        features.append(blocks.ravel(order="F"))  # MATLAB's column-major reshape
    return np.concatenate(features)

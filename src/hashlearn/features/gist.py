"""GIST scene descriptor (Oliva & Torralba), fast and batched.

The computation follows the reference MATLAB code ``LMgist.m`` (with its helpers
``prefilt.m``, ``createGabor.m``, ``gistGabor.m`` and ``downN``) step by step:

1. grayscale = mean of the RGB channels;
2. intensities rescaled to ``[0, 255]``: ``img - min``, then ``255 * img / max``
   (a constant image stays all zeros);
3. prefilter (``prefilt``, ``w = 5``, ``s1 = fc / sqrt(log 2)``): ``log(img + 1)``, symmetric
   padding by ``w`` (then at the end to an even square size ``n``), whitening
   ``out = img - blur(img)`` and local contrast normalisation
   ``out / (0.2 + sqrt(|blur(out ** 2)|))``, cropped back to the image;
   ``blur`` multiplies the spectrum by ``exp(-(fx^2 + fy^2) / s1^2)``;
4. Gabor bank (``createGabor``) on the ``N x N`` grid, ``N = size + 2 * boundary_extension``:
   filter ``l`` = (scale ``i``, orientation ``j``), scale-major, with transfer function
   ``exp(-3.5 * (fr / N / f_i - 1) ** 2 - 2 * pi * b_i * tr ** 2)``,
   ``f_i = 0.3 / 1.85 ** (i - 1)``, ``b_i = 16 * n_i ** 2 / 32 ** 2``, ``tr`` the angle
   ``angle(fx + 1j * fy)`` shifted by ``pi * (j - 1) / n_i`` and wrapped to ``[-pi, pi]``;
5. ``gistGabor``: symmetric padding by ``boundary_extension``, ``|ifft2(fft2(img) * G_l)|``
   cropped back to the image, averaged over ``n_blocks x n_blocks`` blocks (block row index
   fastest, MATLAB's column-major order), filter after filter.

With the reference parameters (32 x 32 CIFAR-10 images, ``[8 8 8 8]`` orientations, 4 x 4
blocks, ``fc = 4``, boundary extension 32) this gives the 512-dimensional "GIST-512" feature.

How the fast path works
-----------------------
:func:`gist_features` computes the same numbers with dense matrix products instead of
FFTs; at these small sizes BLAS products beat FFTs by far (for the 32 Gabor filters of
60,000 CIFAR-10 images on 2 cores: batched full ``ifft2`` about 85 s, separable partial
inverse FFTs about 80 s, the scheme below about 20 s):

* symmetric padding is a selection matrix ``S``, so the padded spectrum is
  ``F = A x A^T`` with ``A = DFT @ S`` (``N x size``); no padded image is ever built;
* only the central ``size x size`` crop of each inverse transform is kept, so the inverse
  is a *partial* inverse DFT ``P (G_l * F) P^T`` with ``P`` the ``size x N`` rows of the
  inverse DFT matrix that land in the crop;
* the Gabor transfer functions are negligible over most of the frequency plane (coarse
  scales are low-pass, every filter covers a wedge of angles), so entries below
  ``1e-10`` of the peak are dropped and each filter keeps only the bounding box of its
  support (about 40 % of the full work). The error this adds to any response, before the
  modulus, is at most ``1e-10 * ||padded prefiltered image||_2`` (a few ``1e-8``), far
  below float32 rounding;
* the filter is folded into the first product: for each column frequency ``v`` of the box,
  ``(P * G_l[:, v]) @ F[:, v, batch]`` is one stacked complex matrix product over the
  whole batch;
* the prefilter's Gaussian blur is separable and circulant, ``blur(y) = K y K^T`` with a
  real ``n x n`` matrix ``K``; it runs in float64 (cheap, and float32 there would cost
  about 1e-4 of relative accuracy); the Gabor stage runs in float32 / complex64.

Differences from the MATLAB code
--------------------------------
* A constant image divides 0 by 0 in ``LMgist.m`` and gives NaN features; here it stays
  the zero image and gives all-zero features. (Some later copies of ``LMgist.m`` divide by
  ``max(1, max(img(:)))`` instead, which changes the features of images whose range is
  below 1; this module follows the original.)
* MATLAB runs the Gabor stage in single precision too; differences are float32 rounding.
* Block edges ``fix(linspace(0, size, n_blocks + 1))`` are computed in exact integer
  arithmetic.

References
----------
.. [1] A. Oliva and A. Torralba, "Modeling the shape of the scene: a holistic
   representation of the spatial envelope", International Journal of Computer Vision,
   42(3):145-175, 2001.
.. [2] A. Torralba, "LMgist.m", the reference MATLAB implementation of GIST
   (https://people.csail.mit.edu/torralba/code/spatialenvelope/).
"""

from __future__ import annotations

import functools
import math
import numbers
import os
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

__all__ = ["GIST", "check_n_jobs", "gabor_filters", "gist_features", "thread_limits"]

#: Bumped whenever the numbers computed by :func:`gist_features` change; caches of
#: derived features include it in their file names so stale features are never served.
GIST_VERSION = 1

# Width of the symmetric padding in the prefilter (``w`` in prefilt.m).
_PREFILTER_PAD = 5
# Gabor transfer-function values below this fraction of the filter's peak are treated as
# zero by the fast path (see the module docstring for the error bound).
_GABOR_CUTOFF = 1e-10
# Elements of each batch checked at a time for NaN/inf, so validation never copies the input.
_FINITE_CHECK_CHUNK = 2**22


# --------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------


def _check_positive_int(value: Any, name: str, *, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int >= {low}, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value}")
    return int(value)


def _check_orientations(orientations_per_scale: Any) -> tuple[int, ...]:
    name = "orientations_per_scale"
    if isinstance(orientations_per_scale, numbers.Integral) or not isinstance(
        orientations_per_scale, (Sequence, np.ndarray)
    ):
        raise TypeError(
            f"{name} must be a sequence of positive ints (one per scale, e.g. (8, 8, 8, 8)), "
            f"got {orientations_per_scale!r}"
        )
    values = list(orientations_per_scale)
    if not values:
        raise ValueError(f"{name} must hold at least one scale, got {orientations_per_scale!r}")
    for value in values:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must hold ints, got {orientations_per_scale!r}")
        if value < 1:
            raise ValueError(
                f"{name} must hold positive ints (orientations per scale), "
                f"got {orientations_per_scale!r}"
            )
    return tuple(int(value) for value in values)


def _check_fc(fc_prefilter: Any) -> float:
    if isinstance(fc_prefilter, bool) or not isinstance(fc_prefilter, numbers.Real):
        raise TypeError(f"fc_prefilter must be a positive number, got {fc_prefilter!r}")
    value = float(fc_prefilter)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"fc_prefilter must be a positive finite number, got {fc_prefilter!r}")
    return value


@dataclass(frozen=True)
class _Params:
    orientations: tuple[int, ...]
    n_blocks: int
    fc: float
    boundary: int


def _check_params(
    orientations_per_scale: Any, n_blocks: Any, fc_prefilter: Any, boundary_extension: Any
) -> _Params:
    return _Params(
        orientations=_check_orientations(orientations_per_scale),
        n_blocks=_check_positive_int(n_blocks, "n_blocks"),
        fc=_check_fc(fc_prefilter),
        boundary=_check_positive_int(boundary_extension, "boundary_extension", low=0),
    )


def _check_dtype(array: np.ndarray, name: str) -> None:
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_
    ):
        raise TypeError(f"{name} must hold numbers, got dtype {array.dtype}")
    if np.iscomplexobj(array):
        raise TypeError(f"{name} must be real-valued, got complex dtype {array.dtype}")


def _check_finite(array: np.ndarray, name: str) -> None:
    """Raise if a float array holds NaN or inf, scanning it in chunks (no full-size copy)."""
    if array.dtype.kind != "f":
        return
    flat = array.reshape(array.shape[0], -1)
    rows = max(1, _FINITE_CHECK_CHUNK // max(1, flat.shape[1]))
    for start in range(0, flat.shape[0], rows):
        chunk = flat[start : start + rows]
        if not np.isfinite(chunk).all():
            bad = start + int(np.argwhere(~np.isfinite(chunk))[0][0])
            raise ValueError(
                f"{name} contains NaN or infinity (first in image {bad}); "
                "GIST needs finite pixel values"
            )


def _check_image_size(height: int, width: int, n_blocks: int, name: str) -> None:
    if height != width:
        raise ValueError(
            f"{name} must be square (the GIST reference parameters use no resizing), got "
            f"{height} x {width}; crop or resize the images to a square first"
        )
    if height < n_blocks:
        raise ValueError(
            f"{name} must be at least n_blocks x n_blocks = {n_blocks} x {n_blocks} pixels so "
            f"that every block holds a pixel, got {height} x {width}"
        )


def _check_images(images: Any, n_blocks: int) -> np.ndarray:
    """Validate a batch of images, shape (n, H, W) or (n, H, W, 3), without copying it."""
    try:
        array = np.asarray(images)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"images could not be converted to an array: {exc}") from exc
    _check_dtype(array, "images")
    if array.ndim not in (3, 4):
        hint = ""
        if array.ndim == 2:
            hint = "; to pass one grayscale image use images[None]"
        raise ValueError(
            "images must be 3-D (n_images, height, width) or 4-D (n_images, height, width, 3), "
            f"got {array.ndim}-D shape {array.shape}{hint}"
        )
    if array.shape[0] == 0:
        raise ValueError(f"images must hold at least one image, got shape {array.shape}")
    if array.ndim == 4 and array.shape[3] != 3:
        raise ValueError(
            "4-D images must be RGB with the channels last, shape (n_images, height, width, 3), "
            f"got shape {array.shape}; for channel-first arrays use images.transpose(0, 2, 3, 1)"
        )
    height, width = array.shape[1], array.shape[2]
    if height != width and array.ndim == 3 and width == 3:
        raise ValueError(
            f"images must be square, got shape {array.shape}; a single RGB image of shape "
            f"{array.shape} must be passed as images[None] (shape (1, H, W, 3))"
        )
    _check_image_size(height, width, n_blocks, "images")
    _check_finite(array, "images")
    return array


def thread_limits(n_jobs: Any) -> AbstractContextManager[Any]:
    """Context limiting the BLAS and OpenMP thread pools to ``n_jobs`` threads.

    Parameters
    ----------
    n_jobs : int or None
        Threads per pool: an int >= 1, -1 for every CPU, None to leave the pools as they
        are (as configured by the environment or an enclosing limit).

    Returns
    -------
    context manager
        threadpoolctl's ``threadpool_limits`` (or a no-op for None); the pools are
        restored on exit.

    Raises
    ------
    TypeError, ValueError
        For an ``n_jobs`` that is not None, -1 or an int >= 1.

    Notes
    -----
    BLAS starts one thread per core. Two processes doing so on two cores run each other's
    threads in turn: GIST went from 1,219 images/s on one BLAS thread to 335 with two
    while another job ran (issue 14), so CPU-heavy steps default to one thread.
    """
    count = check_n_jobs(n_jobs)
    if count is None:
        return nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=count)


def check_n_jobs(n_jobs: Any) -> int | None:
    """Validate an ``n_jobs`` parameter (None, -1 or an int >= 1); -1 becomes the CPU count."""
    if n_jobs is None:
        return None
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral):
        raise TypeError(f"n_jobs must be None, -1 or an int >= 1, got {n_jobs!r}")
    if n_jobs == -1:
        return os.cpu_count() or 1
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be None, -1 or an int >= 1, got {n_jobs}")
    return int(n_jobs)


# --------------------------------------------------------------------------------------
# building blocks shared by the fast path and the reference
# --------------------------------------------------------------------------------------


def gabor_filters(orientations_per_scale: Sequence[int], size: int) -> np.ndarray:
    """Transfer functions of the GIST Gabor bank, as ``createGabor.m`` builds them.

    Filter ``l`` is scale ``i`` (``i = 1..len(orientations_per_scale)``, finest first) and
    orientation ``j = 1..n_i``, numbered scale-major. With the frequency grid
    ``fx, fy = meshgrid(-size/2 .. size/2 - 1)``, ``fr = fftshift(sqrt(fx^2 + fy^2))`` and
    ``t = fftshift(angle(fx + 1j * fy))``::

        tr = t + pi * (j - 1) / n_i, wrapped into [-pi, pi]
        G_l = exp(-3.5 * (fr / size / f_i - 1) ** 2 - 2 * pi * b_i * tr ** 2)

    with centre frequency ``f_i = 0.3 / 1.85 ** (i - 1)`` cycles per pixel and angular
    sharpness ``b_i = 16 * n_i ** 2 / 32 ** 2``. Orientation ``j`` responds most to the
    frequencies of angle ``-pi * (j - 1) / n_i`` (``fx`` along image columns, ``fy`` along
    rows, both signs of ``fx`` and ``fy`` being the same grating), i.e. for ``n_i = 8``:
    ``j = 1`` to gratings that vary along the columns (vertical stripes), ``j = 5`` to
    gratings that vary along the rows (horizontal stripes).

    Parameters
    ----------
    orientations_per_scale : sequence of int
        Number of orientations at each scale, finest scale first (``(8, 8, 8, 8)`` in GIST).
    size : int
        Side of the square frequency grid: the padded image size
        ``image_size + 2 * boundary_extension`` (96 for 32 x 32 images).

    Returns
    -------
    numpy.ndarray of float64, shape (sum(orientations_per_scale), size, size)
        ``G[l]`` multiplies ``numpy.fft.fft2`` of a ``size x size`` image: zero frequency at
        ``[0, 0]`` (the unshifted FFT layout).

    References
    ----------
    .. [1] A. Oliva and A. Torralba, IJCV 42(3):145-175, 2001; ``createGabor.m``.

    Examples
    --------
    >>> gabor_filters((8, 8, 8, 8), 96).shape
    (32, 96, 96)
    """
    orientations = _check_orientations(orientations_per_scale)
    size = _check_positive_int(size, "size")
    # MATLAB's -n/2:n/2-1 (half-integers when n is odd, exactly as the reference).
    grid = np.arange(size, dtype=np.float64) - size / 2
    fx, fy = np.meshgrid(grid, grid)
    radius = np.fft.fftshift(np.sqrt(fx**2 + fy**2))
    angle = np.fft.fftshift(np.angle(fx + 1j * fy))
    filters = np.empty((sum(orientations), size, size))
    index = 0
    for scale, n_orient in enumerate(orientations):
        centre = 0.3 / 1.85**scale
        sharpness = 16 * n_orient**2 / 32**2
        for j in range(n_orient):
            turned = angle + np.pi / n_orient * j
            turned = turned + 2 * np.pi * (turned < -np.pi) - 2 * np.pi * (turned > np.pi)
            filters[index] = np.exp(
                -10 * 0.35 * (radius / size / centre - 1) ** 2 - 2 * sharpness * np.pi * turned**2
            )
            index += 1
    return filters


def _symmetric_index(length: int, before: int, after: int) -> np.ndarray:
    """Source index of each sample of a MATLAB/numpy 'symmetric' padding of ``length``."""
    position = np.arange(-before, length + after)
    folded = np.mod(position, 2 * length)
    return np.where(folded < length, folded, 2 * length - 1 - folded)


def _block_edges(size: int, n_blocks: int) -> np.ndarray:
    """``fix(linspace(0, size, n_blocks + 1))`` of ``downN``, in exact integer arithmetic."""
    return (np.arange(n_blocks + 1) * size) // n_blocks


def _prefilter_size(size: int) -> int:
    n = size + 2 * _PREFILTER_PAD
    return n + n % 2


def _prefilter_gain(n: int, fc: float) -> np.ndarray:
    """1-D factor of the prefilter's Gaussian ``fftshift(exp(-f^2 / s1^2))`` (separable)."""
    s1 = fc / np.sqrt(np.log(2))
    grid = np.arange(n, dtype=np.float64) - n / 2
    return np.fft.fftshift(np.exp(-(grid**2) / s1**2))


# --------------------------------------------------------------------------------------
# fast batched implementation
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _GaborBox:
    rows: slice  # row-frequency range (shifted order) of the filter's support
    cols: slice  # column-frequency range
    folded: np.ndarray  # (n_cols, size, n_rows) complex64: P[r, u] * G[u, v], stacked over v
    inverse_cols: np.ndarray  # (size, n_cols) complex64: P[s, v]


@dataclass(frozen=True, eq=False)
class _Plan:
    size: int
    n_blocks: int
    n_filters: int
    # prefilter (float64)
    prefilter_index: np.ndarray  # (n,) symmetric padding of the image to n x n
    blur_padded: np.ndarray  # (n, size): K @ S, blur applied to the padded image
    blur_centre: np.ndarray  # (size, n): rows of K that land in the crop
    # Gabor stage (float32 / complex64)
    forward_ri: np.ndarray  # (2N, size) float32: [Re A; Im A], A = DFT @ S (shifted order)
    forward: np.ndarray  # (N, size) complex64: A
    boxes: tuple[_GaborBox, ...]
    block_means: np.ndarray  # (n_blocks, size) float32 averaging matrix of downN


@functools.lru_cache(maxsize=4)
def _plan(size: int, params: _Params) -> _Plan:
    """Precompute every matrix of the fast path for ``size x size`` images (cached)."""
    # Prefilter: padding by w then 'post' padding to an even square n, as prefilt.m does.
    w = _PREFILTER_PAD
    n = _prefilter_size(size)
    padded = _symmetric_index(size, w, w)
    index = padded[_symmetric_index(size + 2 * w, 0, n - size - 2 * w)]
    gain = _prefilter_gain(n, params.fc)
    blur = np.real(np.fft.ifft(gain[:, None] * np.fft.fft(np.eye(n), axis=0), axis=0))
    selection = np.zeros((n, size))
    selection[np.arange(n), index] = 1.0
    blur_padded = blur @ selection
    blur_centre = np.ascontiguousarray(blur[w : w + size])

    # Gabor stage on the N x N grid, frequencies in fftshift order so that the support of
    # each filter is a contiguous box.
    be = params.boundary
    big = size + 2 * be
    order = np.fft.fftshift(np.arange(big))
    filters = gabor_filters(params.orientations, big)[:, order][:, :, order]
    pad_index = _symmetric_index(size, be, be)
    dft = np.exp(-2j * np.pi * np.outer(order, np.arange(big)) / big)
    forward = np.zeros((big, size), dtype=np.complex128)
    for column, source in enumerate(pad_index):
        forward[:, source] += dft[:, column]
    crop = np.arange(be, be + size)
    inverse = np.exp(2j * np.pi * np.outer(crop, order) / big) / big  # (size, N)

    boxes = []
    for transfer in filters:
        support = transfer >= _GABOR_CUTOFF * transfer.max()
        rows = np.flatnonzero(support.any(axis=1))
        cols = np.flatnonzero(support.any(axis=0))
        row_box = slice(int(rows[0]), int(rows[-1]) + 1)
        col_box = slice(int(cols[0]), int(cols[-1]) + 1)
        # Exact zeros below the cutoff: also keeps float32 denormals (slow) out of BLAS.
        kept = np.where(support, transfer, 0.0)[row_box, col_box]
        folded = inverse[None, :, row_box] * kept.T[:, None, :]
        boxes.append(
            _GaborBox(
                rows=row_box,
                cols=col_box,
                folded=np.ascontiguousarray(folded, dtype=np.complex64),
                inverse_cols=np.ascontiguousarray(inverse[:, col_box], dtype=np.complex64),
            )
        )

    edges = _block_edges(size, params.n_blocks)
    block_means = np.zeros((params.n_blocks, size), dtype=np.float32)
    for block in range(params.n_blocks):
        block_means[block, edges[block] : edges[block + 1]] = 1.0 / (
            edges[block + 1] - edges[block]
        )
    return _Plan(
        size=size,
        n_blocks=params.n_blocks,
        n_filters=len(filters),
        prefilter_index=index,
        blur_padded=blur_padded,
        blur_centre=blur_centre,
        forward_ri=np.concatenate([forward.real, forward.imag]).astype(np.float32),
        forward=forward.astype(np.complex64),
        boxes=tuple(boxes),
        block_means=block_means,
    )


def _gray_rescaled(batch: np.ndarray) -> np.ndarray:
    """Grayscale (mean of RGB) rescaled to [0, 255] per image, float64 (B, H, H)."""
    gray = batch.mean(axis=3, dtype=np.float64) if batch.ndim == 4 else batch.astype(np.float64)
    gray = gray - gray.min(axis=(1, 2), keepdims=True)
    peak = gray.max(axis=(1, 2), keepdims=True)
    # A constant image is all zeros after the shift and stays so (no division by zero).
    scale = np.divide(255.0, peak, out=np.zeros_like(peak), where=peak > 0)
    return gray * scale


def _prefilter(gray: np.ndarray, plan: _Plan) -> np.ndarray:
    """Batched ``prefilt``: (B, H, H) float64 in [0, 255] -> (B, H, H) float64."""
    size = plan.size
    w = _PREFILTER_PAD
    image = np.log1p(gray)
    # low-pass of the padded image: (K S) x (K S)^T, never building the padded image first
    low = np.matmul(plan.blur_padded, image @ plan.blur_padded.T)
    index = plan.prefilter_index
    whitened = image[:, index[:, None], index[None, :]] - low
    energy = np.matmul(plan.blur_centre, (whitened * whitened) @ plan.blur_centre.T)
    centre = image - low[:, w : w + size, w : w + size]
    return centre / (0.2 + np.sqrt(np.abs(energy)))


def _gabor_energies(prefiltered: np.ndarray, plan: _Plan) -> np.ndarray:
    """Batched ``gistGabor``: (B, H, H) -> (B, n_filters * n_blocks**2) float32."""
    n_images, size = prefiltered.shape[0], plan.size
    big = plan.forward.shape[0]
    # Spectrum of the symmetric-padded images in (v, u, image) layout:
    # F[v, u, b] = sum_ij A[u, i] x_b[i, j] A[v, j].
    columns = np.ascontiguousarray(prefiltered.transpose(2, 1, 0), dtype=np.float32)
    half = plan.forward_ri @ columns.reshape(size, size * n_images)  # real x real
    half_c = np.empty((big, size * n_images), dtype=np.complex64)
    half_c.real = half[:big]
    half_c.imag = half[big:]
    spectrum = np.matmul(plan.forward, half_c.reshape(big, size, n_images))

    n_blocks = plan.n_blocks
    out = np.empty((plan.n_filters, n_blocks, n_blocks, n_images), dtype=np.float32)
    for index, box in enumerate(plan.boxes):
        # rows: sum_u P[r, u] G[u, v] F[v, u, b] for every column frequency v of the box
        partial = np.matmul(box.folded, spectrum[box.cols, box.rows])  # (v, r, b)
        n_cols = partial.shape[0]
        response = box.inverse_cols @ partial.reshape(n_cols, size * n_images)  # (s, r*b)
        magnitude = np.abs(response)
        by_col = (plan.block_means @ magnitude).reshape(n_blocks, size, n_images)
        # (col block, row block, image): row block fastest in the output, as downN + reshape
        out[index] = np.matmul(plan.block_means, by_col)
    return out.transpose(3, 0, 1, 2).reshape(n_images, -1)


def _batches(n_images: int, batch_size: int) -> Iterator[slice]:
    for start in range(0, n_images, batch_size):
        yield slice(start, min(start + batch_size, n_images))


def gist_features(
    images: Any,
    *,
    orientations_per_scale: Sequence[int] = (8, 8, 8, 8),
    n_blocks: int = 4,
    fc_prefilter: float = 4.0,
    boundary_extension: int = 32,
    batch_size: int = 500,
    n_jobs: int | None = 1,
    progress: bool = False,
) -> np.ndarray:
    """GIST descriptors of a stack of square images (Oliva & Torralba's ``LMgist``).

    Same numbers as the reference MATLAB code with ``imageSize`` equal to the image size
    (no resizing), computed in batches with dense matrix products (see the module
    docstring). With the defaults and 32 x 32 images (CIFAR-10) the result is GIST-512.
    Agreement with :func:`hashlearn.testing.gist_features_reference` (float64): float32
    rounding only, a relative error of about ``1e-7`` typically and below ``1e-5`` on
    every feature of CIFAR-10 and random images.

    Parameters
    ----------
    images : array-like, shape (n_images, H, H) or (n_images, H, H, 3)
        Grayscale or RGB (channels last) square images of any real dtype (uint8 or float);
        RGB is turned into gray by the mean of the channels. Each image is rescaled to
        ``[0, 255]`` by its own minimum and maximum, so the features do not depend on the
        intensity range (a constant image gives the features of a zero image).
    orientations_per_scale : sequence of int, default (8, 8, 8, 8)
        Gabor orientations at each scale, finest scale first.
    n_blocks : int, default 4
        The response of each filter is averaged over an ``n_blocks x n_blocks`` grid.
    fc_prefilter : float, default 4.0
        Cut-off frequency (cycles per image) of the whitening / contrast prefilter.
    boundary_extension : int, default 32
        Pixels of symmetric padding on each side before the Gabor filtering.
    batch_size : int, default 500
        Images processed together. Working memory grows linearly with it (about 100 MB at
        500 for 32 x 32 images, mostly the batch spectrum, plus a 30 MB cached set of
        matrices); speed hardly changes from 256 up.
    n_jobs : int or None, default 1
        BLAS / OpenMP threads to use (-1: all CPUs); None leaves the thread pools as
        configured (BLAS's own default is all cores). One thread is the default because
        the batched products are small: 1,000 CIFAR-sized images on two busy cores took
        584 images/s on one thread against 143 on two and 54 left to BLAS (every core),
        so two processes never oversubscribe the cores (see :func:`thread_limits`).
    progress : bool, default False
        Show a tqdm progress bar over the images.

    Returns
    -------
    numpy.ndarray of float32, shape (n_images, n_blocks ** 2 * sum(orientations_per_scale))
        Feature ``l * n_blocks**2 + col * n_blocks + row`` is the mean response of filter
        ``l`` (scale-major, then orientation, see :func:`gabor_filters`) over block
        (``row``, ``col``) of the image.

    Raises
    ------
    ValueError
        Empty input, wrong number of dimensions, non-square or too small images (less than
        ``n_blocks`` pixels a side), NaN or infinite pixels, bad parameter values.
    TypeError
        Non-numeric or complex images, parameters of the wrong type.

    References
    ----------
    .. [1] A. Oliva and A. Torralba, "Modeling the shape of the scene: a holistic
       representation of the spatial envelope", IJCV 42(3):145-175, 2001.

    Examples
    --------
    >>> import numpy as np
    >>> images = np.random.default_rng(0).integers(0, 256, (10, 32, 32, 3), dtype=np.uint8)
    >>> gist_features(images).shape
    (10, 512)
    """
    params = _check_params(orientations_per_scale, n_blocks, fc_prefilter, boundary_extension)
    batch_size = _check_positive_int(batch_size, "batch_size")
    array = _check_images(images, params.n_blocks)
    plan = _plan(int(array.shape[1]), params)
    n_images = array.shape[0]
    result = np.empty((n_images, plan.n_filters * params.n_blocks**2), dtype=np.float32)

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_images, desc="GIST", unit="img")
    try:
        with thread_limits(n_jobs):
            for batch in _batches(n_images, batch_size):
                prefiltered = _prefilter(_gray_rescaled(array[batch]), plan)
                result[batch] = _gabor_energies(prefiltered, plan)
                if bar is not None:
                    bar.update(batch.stop - batch.start)
    finally:
        if bar is not None:
            bar.close()
    return result


# --------------------------------------------------------------------------------------
# scikit-learn transformer
# --------------------------------------------------------------------------------------


def _infer_image_shape(n_features: int) -> tuple[int, ...]:
    side = math.isqrt(n_features)
    if side * side == n_features:
        return (side, side)
    if n_features % 3 == 0:
        side = math.isqrt(n_features // 3)
        if 3 * side * side == n_features:
            return (side, side, 3)
    raise ValueError(
        f"cannot infer a square image shape from {n_features} features (neither H*H gray "
        "nor H*H*3 RGB); pass image_shape"
    )


class GIST(TransformerMixin, BaseEstimator):
    """GIST descriptor as a scikit-learn transformer over flattened images.

    Each row of ``X`` is one image flattened in C order: ``H * H`` gray values or
    ``H * H * 3`` RGB values with the channels last (``image.reshape(-1)`` of an
    ``(H, H, 3)`` array). Channel-first data such as the raw CIFAR-10 batches
    (``(3, H, H)`` per row) must be passed with ``image_shape=(3, H, H)``. The work is done
    by :func:`gist_features`; ``fit`` learns nothing but the input shape.

    Parameters
    ----------
    orientations_per_scale : sequence of int, default (8, 8, 8, 8)
    n_blocks : int, default 4
    fc_prefilter : float, default 4.0
    boundary_extension : int, default 32
        See :func:`gist_features`.
    image_shape : tuple of int, optional
        ``(H, H)``, ``(H, H, 3)`` or ``(3, H, H)``; None infers ``(H, H)`` or ``(H, H, 3)``
        from the number of features (the two cannot be confused).
    batch_size : int, default 500
    n_jobs : int or None, default 1
    progress : bool, default False
        See :func:`gist_features`.

    Attributes
    ----------
    n_features_in_ : int
        Number of values per input row.
    image_shape_ : tuple of int
        The image shape used to unflatten the rows.
    n_features_out_ : int
        Length of the GIST vector, ``n_blocks ** 2 * sum(orientations_per_scale)``.

    References
    ----------
    .. [1] A. Oliva and A. Torralba, IJCV 42(3):145-175, 2001.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).integers(0, 256, (5, 32 * 32 * 3), dtype=np.uint8)
    >>> GIST().fit_transform(X).shape
    (5, 512)
    """

    def __init__(
        self,
        orientations_per_scale: Sequence[int] = (8, 8, 8, 8),
        n_blocks: int = 4,
        fc_prefilter: float = 4.0,
        boundary_extension: int = 32,
        image_shape: tuple[int, ...] | None = None,
        batch_size: int = 500,
        n_jobs: int | None = 1,
        progress: bool = False,
    ) -> None:
        self.orientations_per_scale = orientations_per_scale
        self.n_blocks = n_blocks
        self.fc_prefilter = fc_prefilter
        self.boundary_extension = boundary_extension
        self.image_shape = image_shape
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.progress = progress

    def _check_rows(self, X: Any) -> np.ndarray:
        array = np.asarray(X)
        _check_dtype(array, "X")
        if array.ndim != 2:
            raise ValueError(
                f"X must be 2-D (n_samples, n_pixels) of flattened images, got {array.ndim}-D "
                f"shape {array.shape}"
            )
        if array.shape[0] == 0:
            raise ValueError(f"X must hold at least one image, got shape {array.shape}")
        return array

    def fit(self, X: Any, y: Any = None) -> GIST:
        """Check the parameters and learn the image shape; returns ``self``."""
        params = _check_params(
            self.orientations_per_scale,
            self.n_blocks,
            self.fc_prefilter,
            self.boundary_extension,
        )
        array = self._check_rows(X)
        n_features = int(array.shape[1])
        if self.image_shape is None:
            shape = _infer_image_shape(n_features)
        else:
            shape = tuple(int(v) for v in self.image_shape)
            valid = len(shape) == 2 or (len(shape) == 3 and 3 in (shape[0], shape[2]))
            if not valid or math.prod(shape) != n_features:
                raise ValueError(
                    "image_shape must be (H, H), (H, H, 3) or (3, H, H) with as many values "
                    f"as X has features ({n_features}), got {self.image_shape!r}"
                )
        self.n_features_in_ = n_features
        self.image_shape_ = shape
        self.n_features_out_ = params.n_blocks**2 * sum(params.orientations)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """GIST features of the flattened images in ``X``, float32 (n_samples, n_features_out_)."""
        check_is_fitted(self, "image_shape_")
        array = self._check_rows(X)
        if array.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {array.shape[1]} features, but GIST was fitted with "
                f"{self.n_features_in_} features"
            )
        images = array.reshape((array.shape[0], *self.image_shape_))
        if len(self.image_shape_) == 3 and self.image_shape_[2] != 3:
            images = images.transpose(0, 2, 3, 1)  # channel-first rows
        return gist_features(
            images,
            orientations_per_scale=self.orientations_per_scale,
            n_blocks=self.n_blocks,
            fc_prefilter=self.fc_prefilter,
            boundary_extension=self.boundary_extension,
            batch_size=self.batch_size,
            n_jobs=self.n_jobs,
            progress=self.progress,
        )

"""Data-independent locality-sensitive hashing beyond random hyperplanes.

Three families whose hash functions are drawn at random, each with a known collision law:

* :class:`PStableLSH` -- p-stable LSH for the Euclidean distance (Datar et al., 2004): the
  bucket index ``floor((a . x + b) / w)`` of a random Gaussian projection, binarised by
  its parity;
* :class:`ShiftInvariantKernelLSH` (``SKLSH``) -- binary codes from random Fourier
  features of a Gaussian kernel (Raginsky and Lazebnik, 2009);
* :class:`KernelizedLSH` (``KLSH``) -- random hyperplanes in the feature space of a
  kernel, built from kernel values with a sample of the data (Kulis and Grauman, 2009).

Only the scale of the kernel or of the buckets (``gamma="auto"``, ``w="auto"``) and, for
KLSH, the sampled items and the kernel statistics come from the training data; the hash
functions themselves are random.

Kernel convention: every Gaussian (RBF) kernel here is scikit-learn's
``k(x, y) = exp(-gamma ||x - y||^2)``. ``gamma="auto"`` is ``1 / D^2`` with ``D`` the
median distance between training points (:func:`median_pairwise_distance`), so that the
kernel of two points at the median distance is ``exp(-1)``.

The expected fraction of differing bits of the first two families has a closed form
(:func:`pstable_bit_disagreement`, :func:`sklsh_bit_disagreement`), increasing with the
distance; the tests check the hashers against it.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from hashlearn._registry import register
from hashlearn._validation import check_features
from hashlearn.hashers._base import BaseHasher, check_phase, check_state_array

__all__ = [
    "KLSH",
    "SKLSH",
    "KernelizedLSH",
    "PStableLSH",
    "ShiftInvariantKernelLSH",
    "median_pairwise_distance",
    "pstable_bit_disagreement",
    "sklsh_bit_disagreement",
]

#: Training rows used to estimate the median pairwise distance (all pairs among them).
_MEDIAN_ROWS = 1000
#: Bytes of kernel values computed at a time when encoding (bounds memory).
_BLOCK_BYTES = 64 * 2**20


# --------------------------------------------------------------------------------------
# Numerical building blocks (pure functions)
# --------------------------------------------------------------------------------------


def median_pairwise_distance(
    X: np.ndarray, rng: np.random.Generator, max_rows: int = _MEDIAN_ROWS
) -> float:
    """Median Euclidean distance over the pairs of distinct rows of ``X``.

    When ``X`` has more than ``max_rows`` rows, the pairs are those among ``max_rows``
    rows drawn without replacement with ``rng`` (``rng`` is not used otherwise). Pairs at
    distance 0 (duplicate rows) are left out, so duplicates do not shrink the scale.

    Returns
    -------
    float
        The median, or 1.0 when there is no pair at a positive distance (fewer than two
        distinct rows): any scale then gives the same codes up to the random draw.
    """
    if X.shape[0] > max_rows:
        X = X[np.sort(rng.choice(X.shape[0], size=max_rows, replace=False))]
    X = X.astype(np.float64, copy=False)
    squared = _squared_distances(X, X)
    upper = squared[np.triu_indices(X.shape[0], k=1)]
    positive = upper[upper > 0]
    if positive.size == 0:
        return 1.0
    return float(np.sqrt(np.median(positive)))


def pstable_bit_disagreement(distance: Any, w: float) -> np.ndarray:
    """Probability that a :class:`PStableLSH` bit differs between points at ``distance``.

    With ``u = (a . x + b) / w``, ``a ~ N(0, I)``, ``b ~ U[0, w)``, the bits of ``x`` and
    ``y`` (parities of ``floor(u)``) differ when an odd number of bucket boundaries lies
    between ``u(x)`` and ``u(y)``. Given ``delta = |a . (x - y)| / w`` that happens with
    probability ``tri(delta)``, the triangle wave of period 2 (``delta`` on ``[0, 1]``,
    ``2 - delta`` on ``[1, 2]``). Since ``a . (x - y)`` is ``c Z`` with ``c = ||x - y||`` and
    ``Z ~ N(0, 1)``, the probability is ``E tri(s |Z|)`` with ``s = c / w``, which is

    ``1/2 - (4 / pi^2) sum_{k odd} exp(-k^2 pi^2 s^2 / 2) / k^2``

    (the Fourier series of ``tri``), or equivalently, writing ``tri(x) = x + 2 sum_{j >= 1}
    (-1)^j (x - j)_+``,

    ``s sqrt(2 / pi) + 4 s sum_{j >= 1} (-1)^j (phi(j / s) - (j / s) Q(j / s))``

    with ``phi`` the standard normal density and ``Q`` its upper tail. The first series is
    used for ``s >= 1`` and the second below, where each converges after a few terms. The
    probability is 0 at ``c = 0``, increases with ``c`` (about ``0.8 s`` for small ``s``;
    0.20 at ``s = 1/4``, 0.38 at ``s = 1/2``) and tends to 1/2.

    Parameters
    ----------
    distance : float or array-like
        Euclidean distances ``c >= 0``.
    w : float
        Bucket width, > 0.

    Returns
    -------
    ndarray of float, the shape of ``distance``
    """
    w = _check_positive(w, "w")
    s = np.asarray(distance, dtype=np.float64) / w
    return _chunked(_pstable_disagreement, s)


def _pstable_disagreement(s: np.ndarray) -> np.ndarray:
    """:func:`pstable_bit_disagreement` of 1-D ``s = c / w`` (the two series)."""
    from scipy.special import ndtr

    out = np.empty(s.shape)
    large = s >= 1.0
    # s >= 1: exp(-k^2 pi^2 s^2 / 2) < e^-400 from k = 9 on.
    k = np.arange(1, 33, 2, dtype=np.float64)
    fourier = np.exp(-np.multiply.outer(s[large] ** 2, (np.pi * k) ** 2 / 2.0)) / k**2
    out[large] = 0.5 - 4.0 / np.pi**2 * fourier.sum(axis=-1)
    # s < 1: phi(j / s) < e^-800 from j = 40 on.
    small = s[~large]
    j = np.arange(1, 65, dtype=np.float64)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        a = np.where(small[:, None] > 0, j / small[:, None], np.inf)
        density = np.exp(-(a**2) / 2.0) / np.sqrt(2.0 * np.pi)
        terms = np.where(np.isfinite(a), density - a * ndtr(-a), 0.0)
    signs = np.where(j % 2 == 1, -1.0, 1.0)
    out[~large] = small * np.sqrt(2.0 / np.pi) + 4.0 * small * (terms @ signs)
    return out


def _chunked(function: Any, values: np.ndarray, size: int = 4096) -> np.ndarray:
    """``function`` applied to the flattened ``values`` in chunks, reshaped back."""
    if np.any(~np.isfinite(values)) or np.any(values < 0):
        raise ValueError("distance must hold finite non-negative values")
    flat = values.ravel()
    out = np.empty(flat.shape)
    for start in range(0, flat.size, size):
        out[start : start + size] = function(flat[start : start + size])
    return out.reshape(values.shape)


def sklsh_bit_disagreement(distance: Any, gamma: float) -> np.ndarray:
    """Probability that a :class:`ShiftInvariantKernelLSH` bit differs at ``distance``.

    Raginsky and Lazebnik (2009, Lemma 2.1): for a bit ``sgn(cos(w . x + b) + t)`` with
    ``w`` drawn from the kernel's spectral density, ``b ~ U[0, 2 pi]`` and
    ``t ~ U[-1, 1]``,

    ``P(differ) = (8 / pi^2) sum_{m >= 1} (1 - K(m (x - y))) / (4 m^2 - 1)``,

    here with the Gaussian kernel ``K(z) = exp(-gamma ||z||^2)``, so with
    ``s = c sqrt(gamma)``, ``c = ||x - y||``, the terms are
    ``(1 - exp(-s^2 m^2)) / (4 m^2 - 1)``. (Equivalently ``P = (2 / pi) E |sin(s Z / sqrt 2)|``
    with ``Z ~ N(0, 1)``; for ``s < 0.01`` its Taylor expansion is used, as the series
    then needs too many terms.) It is 0 at ``c = 0``, increases with ``c`` and tends to
    ``(8 / pi^2) sum 1 / (4 m^2 - 1) = 4 / pi^2`` (about 0.405) for far points. Since
    ``K(m z) <= K(z)``, it is at least ``(4 / pi^2) (1 - K(x - y))``.

    Parameters
    ----------
    distance : float or array-like
        Euclidean distances ``c >= 0``.
    gamma : float
        Kernel parameter, > 0.

    Returns
    -------
    ndarray of float, the shape of ``distance``
    """
    gamma = _check_positive(gamma, "gamma")
    s = np.asarray(distance, dtype=np.float64) * np.sqrt(gamma)
    return _chunked(_sklsh_disagreement, s)


def _sklsh_disagreement(s: np.ndarray) -> np.ndarray:
    """:func:`sklsh_bit_disagreement` of 1-D ``s = c sqrt(gamma)``."""
    out = np.empty(s.shape)
    tiny = s < 0.01
    rest = s[~tiny]
    if rest.size:
        # sum (1 - e^{-s^2 m^2}) / (4 m^2 - 1) = 1/2 - sum e^{-s^2 m^2} / (4 m^2 - 1): the
        # terms are below e^-50 once s m >= sqrt(50), so the remainder is negligible.
        n_terms = int(np.ceil(np.sqrt(50.0) / rest.min())) + 1
        m = np.arange(1, n_terms + 1, dtype=np.float64)
        decaying = np.exp(-np.multiply.outer(rest**2, m**2)) / (4.0 * m**2 - 1.0)
        out[~tiny] = 8.0 / np.pi**2 * (0.5 - decaying.sum(axis=-1))
    # E|sin(sigma Z)| = sigma sqrt(2/pi) (1 - sigma^2/3 + sigma^4/15 - ...), error O(s^7).
    sigma = s[tiny] / np.sqrt(2.0)
    out[tiny] = 2.0 / np.pi * sigma * np.sqrt(2.0 / np.pi) * (1 - sigma**2 / 3 + sigma**4 / 15)
    return out


def _squared_distances(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """``D[i, j] = ||X[i] - Y[j]||^2`` in float64, clipped at 0 (rounding)."""
    X = X.astype(np.float64, copy=False)
    Y = Y.astype(np.float64, copy=False)
    distances = (
        np.einsum("ij,ij->i", X, X)[:, None]
        + np.einsum("ij,ij->i", Y, Y)[None, :]
        - 2.0 * (X @ Y.T)
    )
    return np.maximum(distances, 0.0, out=distances)


def _kernel(X: np.ndarray, Y: np.ndarray, kernel: str, gamma: float | None) -> np.ndarray:
    """The kernel matrix ``k(X[i], Y[j])``: ``"linear"`` (``x . y``) or ``"rbf"``."""
    if kernel == "linear":
        return X.astype(np.float64, copy=False) @ Y.astype(np.float64, copy=False).T
    assert gamma is not None
    return np.exp(-gamma * _squared_distances(X, Y))


def _inverse_square_root(matrix: np.ndarray, rcond: float) -> tuple[np.ndarray, int]:
    """Pseudo-inverse square root of a symmetric positive semi-definite matrix.

    Eigenvalues at most ``rcond`` times the largest count as zero (their directions are
    dropped, as in a pseudo-inverse); returns the matrix and the number of directions kept.
    """
    values, vectors = np.linalg.eigh(0.5 * (matrix + matrix.T))
    largest = float(values[-1]) if values.size else 0.0
    keep = values > rcond * largest if largest > 0 else np.zeros(values.shape, dtype=bool)
    kept = vectors[:, keep]
    return (kept / np.sqrt(values[keep])) @ kept.T, int(keep.sum())


# --------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------


def _check_auto_or_positive(value: Any, name: str) -> float | None:
    """``"auto"`` -> None; a positive finite real -> float; anything else raises."""
    if isinstance(value, str):
        if value == "auto":
            return None
        raise ValueError(f"{name} must be 'auto' or a positive float, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be 'auto' or a positive float, got {value!r}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be 'auto' or a positive finite float, got {value}")
    return float(value)


def _check_positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive float, got {value!r}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite float, got {value}")
    return float(value)


def _check_int(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int >= {low}, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value}")
    return int(value)


def _check_positive_scalar(owner: Any, name: str) -> None:
    value = getattr(owner, name, None)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a positive float, got {value!r}")
    if not (np.isfinite(float(value)) and float(value) > 0):
        raise ValueError(f"{name} must be a positive finite float, got {value!r}")


# --------------------------------------------------------------------------------------
# p-stable LSH
# --------------------------------------------------------------------------------------

#: ``w="auto"`` is this multiple of the median pairwise distance of the training data.
PSTABLE_AUTO_FACTOR = 2.0


@register
class PStableLSH(BaseHasher):
    """p-stable LSH for the Euclidean distance, one bit per projection (bucket parity).

    Datar et al.'s hash function is the bucket index ``h(x) = floor((a . x + b) / w)`` of
    a random projection: ``a ~ N(0, I)`` (the Gaussian is 2-stable, so ``a . (x - y)`` is
    distributed as ``||x - y|| N(0, 1)``) and ``b ~ U[0, w)``; nearby points fall in the
    same bucket with high probability. A bucket index is an integer, not a bit; this
    hasher keeps its parity: bit ``j`` is 1 when ``h_j(x)`` is even. Points in the same
    bucket always share the bit, and two points' bits differ with probability
    :func:`pstable_bit_disagreement` of their distance: 0 for identical points,
    increasing with the distance, 1/2 for points many buckets apart. (This is the
    random-phase square wave ``sgn(sin(pi (a . x + b) / w))``, a relative of SKLSH's
    codes.)

    ``project(X)`` returns, per bit, the distance from ``(a . x + b) / w`` to the nearest
    bucket boundary (in units of ``w``, at most 1/2), non-negative in even buckets and
    negative in odd ones (buckets are half-open, ``[k, k + 1)``), so ``project(X) >= 0``
    is exactly the parity bit (see :meth:`bucket_indices`).

    Parameters
    ----------
    n_bits : int, default 16
        Code length (number of projections), in ``[1, 4096]``.
    w : float or "auto", default "auto"
        Bucket width ``w`` (the paper's ``r``), in the units of ``X``. The bits carry
        information about distances up to about ``w / 2`` (the probability of a
        differing bit is 0.20 at ``w / 4``, 0.38 at ``w / 2`` and 0.497 at ``w``). "auto"
        uses ``PSTABLE_AUTO_FACTOR`` (2) times the median distance between training
        points (:func:`median_pairwise_distance`), so ``w`` follows the scale of the
        data: the factor 2 gave the best mAP among 0.5, 1, 1.5, 2, 2.5, 3, 4 and 8 on
        CIFAR-10 GIST and MNIST (1,000 training points, 16-256 bits).
    random_state : int, numpy.random.Generator or None, default None
        Seeds the projections, the offsets and the rows used for the median distance.

    Attributes
    ----------
    components_ : ndarray of shape (n_bits, n_features)
        The Gaussian projections ``a_j``.
    offsets_ : ndarray of shape (n_bits,)
        The offsets ``b_j``, uniform in ``[0, w_)``.
    w_ : float
        The bucket width used.
    n_features_in_ : int
        Number of features seen during fit.

    References
    ----------
    M. Datar, N. Immorlica, P. Indyk and V. S. Mirrokni. Locality-sensitive hashing
    scheme based on p-stable distributions. Proceedings of the 20th ACM Symposium on
    Computational Geometry (SoCG), 2004.

    Examples
    --------
    >>> import numpy as np
    >>> from hashlearn.hashers.random_lsh import PStableLSH
    >>> X = np.random.default_rng(0).normal(size=(100, 20))
    >>> hasher = PStableLSH(n_bits=12, random_state=0).fit(X)
    >>> hasher.encode(X).shape
    (100, 2)
    >>> bits = hasher.transform(X)
    >>> bool(np.array_equal(bits, (hasher.bucket_indices(X) % 2 == 0).astype(np.uint8)))
    True
    """

    def __init__(self, n_bits: int = 16, *, w: float | str = "auto", random_state: Any = None):
        self.n_bits = n_bits
        self.w = w
        self.random_state = random_state

    def _fit(self, X: np.ndarray, y: Any, rng: np.random.Generator, **fit_params: Any) -> None:
        w = _check_auto_or_positive(self.w, "w")
        if w is None:
            w = PSTABLE_AUTO_FACTOR * median_pairwise_distance(X, rng)
        self.components_ = rng.standard_normal((self.n_bits, X.shape[1]))
        self.offsets_ = rng.uniform(0.0, w, size=self.n_bits)
        self.w_ = float(w)

    def _scaled_projections(self, X: np.ndarray) -> np.ndarray:
        """``(a . x + b) / w`` for every row and bit, float64 (n, n_bits)."""
        return (X.astype(np.float64, copy=False) @ self.components_.T + self.offsets_) / self.w_

    def _project(self, X: np.ndarray) -> np.ndarray:
        u = self._scaled_projections(X)
        check_phase(u, 1.0, X, type(self).__name__, "bucket positions (a . x + b) / w")
        # r = u mod 2 in [0, 2) (exact: u - 2 floor(u / 2)); the bucket is even iff r < 1.
        r = np.floor(u * 0.5)
        r *= -2.0
        r += u
        odd = r >= 1.0
        r -= odd  # position inside the bucket, in [0, 1)
        np.minimum(r, 1.0 - r, out=r)  # distance to the nearest boundary
        # Odd buckets strictly negative, also on their left boundary, so the bit is exactly
        # the parity of the bucket index.
        np.maximum(r, np.finfo(np.float64).tiny, out=r, where=odd)
        np.negative(r, out=r, where=odd)
        return r

    def bucket_indices(self, X: Any) -> np.ndarray:
        """The p-stable hash values ``floor((a_j . x + b_j) / w)``: ``int64 (n, n_bits)``.

        Bit ``j`` of :meth:`encode` is 1 exactly where column ``j`` is even.
        """
        check_is_fitted(self, "n_features_in_")
        X = check_features(X, name="X", n_features=self.n_features_in_, owner=type(self).__name__)
        with np.errstate(over="ignore", invalid="ignore"):
            u = self._scaled_projections(X)
        if not np.isfinite(u).all() or np.abs(u).max() >= 2.0**62:
            raise ValueError(
                "bucket indices of X overflow int64 (largest |X| value: "
                f"{np.abs(X).max():.3g}); rescale X or use a larger w"
            )
        return np.floor(u).astype(np.int64)

    def _check_loaded_state(self) -> None:
        super()._check_loaded_state()
        check_state_array(self, "components_", (self.n_bits, self.n_features_in_))
        check_state_array(self, "offsets_", (self.n_bits,))
        _check_positive_scalar(self, "w_")


# --------------------------------------------------------------------------------------
# SKLSH
# --------------------------------------------------------------------------------------


@register
class ShiftInvariantKernelLSH(BaseHasher):
    """Locality-sensitive binary codes from a shift-invariant (Gaussian) kernel (SKLSH).

    Each bit is a thresholded random Fourier feature:
    ``h_j(x) = sgn(cos(w_j . x + b_j) + t_j)``, with ``w_j`` drawn from the Fourier
    transform of the kernel, ``b_j ~ U[0, 2 pi]`` and ``t_j ~ U[-1, 1]``. For the
    Gaussian kernel ``K(x, y) = exp(-gamma ||x - y||^2)`` the frequencies are
    ``w_j ~ N(0, 2 gamma I)``. (The paper writes the kernel ``exp(-gamma' ||x - y||^2 / 2)``
    with ``w ~ N(0, gamma' I)``: its ``gamma'`` is ``2 gamma`` here; this module uses
    scikit-learn's convention throughout.) The expected fraction of differing bits is a
    function of the kernel alone (:func:`sklsh_bit_disagreement`): it increases with the
    distance, from 0 for identical points to ``4 / pi^2`` (about 0.405) for far ones, so
    with many bits the normalised Hamming distance approximates a monotone function of
    the kernel distance (the paper's Theorem on the embedding's distortion).

    The bits are unbalanced by design (``t`` shifts each threshold) and far points still
    agree on about 60% of their bits, so short codes are weak; the method is meant for
    long codes, whose retrieval keeps improving with the length where spectral hashing
    saturates (the paper's comparison). On L2-normalised MNIST (500 queries, 10,000
    database, Euclidean 50-NN ground truth) its mAP goes from 0.07 at 32 bits to 0.81
    at 1,024 bits, against 0.33 for spectral hashing and 0.83 for centred sign random
    projections at 1,024 bits.

    Parameters
    ----------
    n_bits : int, default 16
        Code length, in ``[1, 4096]``.
    gamma : float or "auto", default "auto"
        Gaussian kernel parameter, ``K(x, y) = exp(-gamma ||x - y||^2)``. "auto" is
        ``1 / D^2`` with ``D`` the median distance between training points
        (:func:`median_pairwise_distance`); ``gamma D^2`` between 0.3 and 1.6 worked about
        equally well on CIFAR-10 GIST and MNIST, 0.1 or 3 worse.
    random_state : int, numpy.random.Generator or None, default None
        Seeds the frequencies, phases and thresholds (and the rows used for "auto").

    Attributes
    ----------
    components_ : ndarray of shape (n_bits, n_features)
        The random frequencies ``w_j``.
    phases_ : ndarray of shape (n_bits,)
        The phases ``b_j`` in ``[0, 2 pi)``.
    thresholds_ : ndarray of shape (n_bits,)
        The thresholds ``t_j`` in ``[-1, 1)``.
    gamma_ : float
        The kernel parameter used.
    n_features_in_ : int
        Number of features seen during fit.

    References
    ----------
    M. Raginsky and S. Lazebnik. Locality-sensitive binary codes from shift-invariant
    kernels. Advances in Neural Information Processing Systems 22 (NIPS), 2009.

    Examples
    --------
    >>> import numpy as np
    >>> from hashlearn.hashers.random_lsh import SKLSH
    >>> X = np.random.default_rng(0).normal(size=(100, 20))
    >>> hasher = SKLSH(n_bits=64, gamma=0.05, random_state=0).fit(X)
    >>> hasher.encode(X).shape
    (100, 8)
    """

    def __init__(
        self, n_bits: int = 16, *, gamma: float | str = "auto", random_state: Any = None
    ) -> None:
        self.n_bits = n_bits
        self.gamma = gamma
        self.random_state = random_state

    def _fit(self, X: np.ndarray, y: Any, rng: np.random.Generator, **fit_params: Any) -> None:
        gamma = _check_auto_or_positive(self.gamma, "gamma")
        if gamma is None:
            gamma = 1.0 / median_pairwise_distance(X, rng) ** 2
        scale = np.sqrt(2.0 * gamma)
        self.components_ = scale * rng.standard_normal((self.n_bits, X.shape[1]))
        self.phases_ = rng.uniform(0.0, 2.0 * np.pi, size=self.n_bits)
        self.thresholds_ = rng.uniform(-1.0, 1.0, size=self.n_bits)
        self.gamma_ = float(gamma)

    def _project(self, X: np.ndarray) -> np.ndarray:
        angles = X.astype(np.float64, copy=False) @ self.components_.T + self.phases_
        check_phase(angles, 2.0 * np.pi, X, type(self).__name__, "cosine arguments w . x + b")
        return np.cos(angles) + self.thresholds_

    def _check_loaded_state(self) -> None:
        super()._check_loaded_state()
        check_state_array(self, "components_", (self.n_bits, self.n_features_in_))
        check_state_array(self, "phases_", (self.n_bits,))
        check_state_array(self, "thresholds_", (self.n_bits,))
        _check_positive_scalar(self, "gamma_")


SKLSH = ShiftInvariantKernelLSH


# --------------------------------------------------------------------------------------
# KLSH
# --------------------------------------------------------------------------------------

_KLSH_KERNELS = ("rbf", "linear")
#: Eigenvalues of the centred kernel matrix at most this times the largest are dropped.
KLSH_RCOND = 1e-10


@register
class KernelizedLSH(BaseHasher):
    """Kernelized LSH: random hyperplanes in a kernel's feature space (KLSH).

    Sign random projections need Gaussian hyperplanes ``r ~ N(0, I)`` in the space of the
    data; KLSH builds approximately Gaussian hyperplanes in the (implicit) feature space
    ``phi`` of a kernel ``k``. It samples ``p`` training items and centres their kernel
    matrix (``K_c = H K H``, ``H = I - 1 1^T / p``). For each bit it averages the
    (centred) features of a random subset ``S`` of ``t`` of them, whose distribution is
    approximately Gaussian by the central limit theorem, and whitens it with the sample
    covariance; in kernel form the hash function is

    ``h(x) = sgn(sum_i w_i k_c(x, x_i))``, ``w = K_c^(-1/2) e_S``,

    where ``e_S`` is the 0/1 indicator of ``S`` (here ``e_S - t / p``, the same vector
    after ``K_c^(-1/2)``) and ``k_c(x, x_i)`` is ``k(x, x_i)`` centred with the statistics
    of the ``p`` sampled items. With the linear kernel the hyperplane normals are
    ``Sigma^(-1/2) (mean of the subset - mean)``, approximately isotropic Gaussian
    vectors: KLSH then behaves like sign random projections of the centred data.

    ``K_c`` has rank at most ``p - 1`` (the centring removes the constant direction) and
    is often numerically rank deficient (the linear kernel when ``n_features < p``, an RBF
    kernel whose spectrum decays fast). Its inverse square root is taken on its
    eigen-decomposition with a floor: eigenvalues at most ``KLSH_RCOND`` (1e-10) times the
    largest count as zero and their directions are dropped (a pseudo-inverse), so the
    whitening never divides by rounding noise. The number of directions kept is
    ``n_components_``.

    Parameters
    ----------
    n_bits : int, default 16
        Code length, in ``[1, 4096]``.
    n_samples : int, default 300
        Number ``p`` of training items sampled to represent the feature space (the
        paper's default). With fewer training rows, all of them are used.
    n_subset : int, default 30
        Size ``t`` of the random subset behind each hyperplane (the paper's 30), in
        ``[1, n_samples - 1]``. When fewer than ``n_samples`` rows are available, ``t``
        is scaled by the same ratio (``round(t * n / p)``, at least 1 and at most
        ``n - 1``); ``n_subset_`` holds the value used.
    kernel : {"rbf", "linear"}, default "rbf"
        ``"rbf"``: ``exp(-gamma ||x - y||^2)``; ``"linear"``: ``x . y``.
    gamma : float or "auto", default "auto"
        RBF kernel parameter; "auto" is ``1 / D^2`` with ``D`` the median distance between
        the sampled items (:func:`median_pairwise_distance`); ``gamma D^2`` from 1 to 3
        did best on CIFAR-10 GIST and MNIST, 10 or more much worse. Not used by the
        linear kernel.
    random_state : int, numpy.random.Generator or None, default None
        Seeds the sampled items and the subsets.

    Attributes
    ----------
    samples_ : ndarray of shape (p, n_features)
        The sampled training items, in sampled order.
    components_ : ndarray of shape (n_bits, p)
        Row ``j`` is ``w_j`` (``K_c^(-1/2) (e_S - t / p)``).
    kernel_column_mean_ : ndarray of shape (p,)
        Mean of each column of the uncentred kernel matrix of the samples.
    kernel_mean_ : float
        Mean of all its entries.
    gamma_ : float or None
        The RBF parameter used (None for the linear kernel).
    n_subset_ : int
        The subset size ``t`` used.
    n_components_ : int
        Number of eigen-directions of ``K_c`` kept by the floor.
    n_features_in_ : int
        Number of features seen during fit.

    References
    ----------
    B. Kulis and K. Grauman. Kernelized locality-sensitive hashing for scalable image
    search. Proceedings of the IEEE 12th International Conference on Computer Vision
    (ICCV), 2009.

    Examples
    --------
    >>> import numpy as np
    >>> from hashlearn.hashers.random_lsh import KLSH
    >>> X = np.random.default_rng(0).normal(size=(500, 20))
    >>> hasher = KLSH(n_bits=16, random_state=0).fit(X)
    >>> hasher.encode(X).shape, hasher.samples_.shape
    ((500, 2), (300, 20))
    """

    def __init__(
        self,
        n_bits: int = 16,
        *,
        n_samples: int = 300,
        n_subset: int = 30,
        kernel: str = "rbf",
        gamma: float | str = "auto",
        random_state: Any = None,
    ) -> None:
        self.n_bits = n_bits
        self.n_samples = n_samples
        self.n_subset = n_subset
        self.kernel = kernel
        self.gamma = gamma
        self.random_state = random_state

    def _min_samples(self) -> int:
        return 2

    def _check_kernel(self) -> str:
        if not isinstance(self.kernel, str) or self.kernel not in _KLSH_KERNELS:
            raise ValueError(
                f"kernel must be one of {', '.join(map(repr, _KLSH_KERNELS))}, got {self.kernel!r}"
            )
        return self.kernel

    def _fit(self, X: np.ndarray, y: Any, rng: np.random.Generator, **fit_params: Any) -> None:
        n_samples = _check_int(self.n_samples, "n_samples", 2)
        n_subset = _check_int(self.n_subset, "n_subset", 1)
        if n_subset >= n_samples:
            raise ValueError(
                f"n_subset must be smaller than n_samples (a subset of all p items gives a "
                f"zero hyperplane), got n_subset={n_subset} and n_samples={n_samples}"
            )
        kernel = self._check_kernel()
        gamma = _check_auto_or_positive(self.gamma, "gamma")

        n = X.shape[0]
        p = min(n_samples, n)
        t = n_subset if p == n_samples else min(max(1, round(n_subset * p / n_samples)), p - 1)
        samples = X[rng.choice(n, size=p, replace=False)].astype(np.float64)
        if kernel == "rbf" and gamma is None:
            gamma = 1.0 / median_pairwise_distance(samples, rng) ** 2
        if kernel == "linear":
            gamma = None

        K = _kernel(samples, samples, kernel, gamma)
        column_mean = K.mean(axis=0)
        total_mean = float(column_mean.mean())
        centred = K - column_mean[:, None] - column_mean[None, :] + total_mean
        inverse_root, rank = _inverse_square_root(centred, KLSH_RCOND)
        if rank == 0:
            raise ValueError(
                f"KernelizedLSH: the centred kernel matrix of the {p} sampled training "
                "items is zero (all sampled items coincide in the kernel's feature space); "
                "KLSH needs training data that vary"
            )
        # One random t-subset per bit: the first t entries of a random permutation.
        subsets = np.argsort(rng.random((self.n_bits, p)), axis=1)[:, :t]
        indicators = np.zeros((self.n_bits, p))
        np.put_along_axis(indicators, subsets, 1.0, axis=1)
        indicators -= t / p

        self.samples_ = samples
        self.components_ = indicators @ inverse_root  # inverse_root is symmetric
        self.kernel_column_mean_ = column_mean
        self.kernel_mean_ = total_mean
        self.gamma_ = None if gamma is None else float(gamma)
        self.n_subset_ = int(t)
        self.n_components_ = rank

    def _project(self, X: np.ndarray) -> np.ndarray:
        p = self.samples_.shape[0]
        out = np.empty((X.shape[0], self.n_bits))
        block = max(1, _BLOCK_BYTES // (8 * p))
        for start in range(0, X.shape[0], block):
            values = _kernel(X[start : start + block], self.samples_, self.kernel, self.gamma_)
            values -= values.mean(axis=1, keepdims=True)
            values -= self.kernel_column_mean_ - self.kernel_mean_
            out[start : start + block] = values @ self.components_.T
        return out

    def _check_loaded_state(self) -> None:
        super()._check_loaded_state()
        self._check_kernel()
        samples = getattr(self, "samples_", None)
        if not isinstance(samples, np.ndarray) or samples.ndim != 2:
            raise ValueError("samples_ is missing")
        p = samples.shape[0]
        check_state_array(self, "samples_", (p, self.n_features_in_))
        check_state_array(self, "components_", (self.n_bits, p))
        check_state_array(self, "kernel_column_mean_", (p,))
        mean = getattr(self, "kernel_mean_", None)
        if (
            isinstance(mean, bool)
            or not isinstance(mean, numbers.Real)
            or not np.isfinite(float(mean))
        ):
            raise ValueError(f"kernel_mean_ must be a finite float, got {mean!r}")
        if self.kernel == "rbf":
            _check_positive_scalar(self, "gamma_")


KLSH = KernelizedLSH

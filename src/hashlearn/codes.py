"""The one binary code format of hashlearn, and the kernels that read it.

Format
------
A set of ``n`` codes of ``n_bits`` bits is a C-contiguous ``uint8`` array of shape
``(n, ceil(n_bits / 8))``. Bit ``j`` of a code is the output of hash function ``j`` and
is stored least-significant-bit first: bit ``j`` lives in byte ``j // 8`` at position
``j % 8`` (the order faiss uses). A projection ``p`` becomes bit 1 when ``p >= 0``.
Padding bits (positions ``n_bits .. 8 * n_bytes - 1``) are always zero, so byte-wise
Hamming distances never count them.

Only this module converts between the three views of a code:

* packed: ``uint8 (n, n_bytes)``, the storage and search format;
* bits: ``uint8 (n, n_bits)`` of 0/1, what ``transform`` returns;
* signs: ``int8 (n, n_bits)`` of -1/+1, what learning algorithms manipulate.

For codes of at most 64 bits, :func:`bucket_keys` maps each code to the unsigned
integer ``sum_j bit_j * 2**j``, the key of its hash-table bucket.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hashlearn._validation import check_n_bits

__all__ = [
    "as_words",
    "binarize",
    "bit_balance",
    "bit_correlation",
    "bits_to_signs",
    "bucket_keys",
    "check_codes",
    "code_statistics",
    "hamming_distances",
    "keys_to_codes",
    "n_bytes",
    "pack_bits",
    "popcount",
    "signs",
    "signs_to_bits",
    "unpack_bits",
]

# Bytes of query x database x word XOR scratch allowed per block in hamming_distances.
_BLOCK_BYTES = 32 * 2**20
_POPCOUNT_TABLE = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def n_bytes(n_bits: int) -> int:
    """Bytes per packed code: ``ceil(n_bits / 8)``."""
    return (check_n_bits(n_bits) + 7) // 8


def _popcount_bytes(array: np.ndarray) -> np.ndarray:
    """Per-element popcount of an unsigned integer array (hardware popcount on numpy >= 2)."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(array)
    return _POPCOUNT_TABLE[array.view(np.uint8)].reshape(*array.shape, -1).sum(axis=-1)


def _padding_mask(n_bits: int) -> int:
    """Mask of the valid bits in the last byte of a code of ``n_bits`` bits."""
    rest = n_bits % 8
    return 0xFF if rest == 0 else (1 << rest) - 1


def check_codes(codes: Any, n_bits: int | None = None, *, name: str = "codes") -> np.ndarray:
    """Validate packed codes and return them as a C-contiguous ``uint8`` array.

    Parameters
    ----------
    codes : array-like of uint8, shape (n, n_bytes)
        Packed codes (see the module docstring for the format).
    n_bits : int, optional
        The code length the caller expects; the width must then be ``ceil(n_bits / 8)``
        and padding bits must be zero.
    name : str
        The parameter name used in error messages.

    Raises
    ------
    TypeError
        When ``codes`` is not an unsigned 8-bit integer array.
    ValueError
        When it is not 2-D, has the wrong width, or has padding bits set.
    """
    array = np.asarray(codes)
    if array.dtype != np.uint8:
        raise TypeError(
            f"{name} must be packed uint8 codes, got dtype {array.dtype}; "
            "use hashlearn.codes.pack_bits to pack 0/1 bits"
        )
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D of shape (n, n_bytes), got shape {array.shape}; "
            "reshape a single code with codes.reshape(1, -1)"
        )
    if n_bits is not None:
        width = n_bytes(n_bits)
        if array.shape[1] != width:
            raise ValueError(
                f"{name} must have {width} bytes per code for n_bits={n_bits}, got {array.shape[1]}"
            )
        mask = _padding_mask(n_bits)
        if mask != 0xFF and array.shape[0] and np.any(array[:, -1] & ~np.uint8(mask)):
            raise ValueError(
                f"{name} has padding bits set beyond bit {n_bits - 1}; codes of "
                f"{n_bits} bits must keep bits {n_bits}..{8 * width - 1} at zero"
            )
    return np.ascontiguousarray(array)


def pack_bits(bits: Any) -> np.ndarray:
    """Pack 0/1 (or boolean) bits into codes, least-significant bit first.

    Parameters
    ----------
    bits : array-like of shape (n, n_bits)
        Zeros and ones (or booleans); column ``j`` is hash function ``j``.

    Returns
    -------
    codes : ndarray of uint8, shape (n, ceil(n_bits / 8))

    Examples
    --------
    >>> pack_bits([[1, 0, 0, 0, 0, 0, 0, 0, 1]])
    array([[1, 1]], dtype=uint8)
    """
    array = np.asarray(bits)
    if array.ndim != 2:
        raise ValueError(f"bits must be 2-D of shape (n, n_bits), got shape {array.shape}")
    check_n_bits(array.shape[1], name="bits.shape[1]")
    if array.dtype != np.bool_:
        if not np.isin(array, (0, 1)).all():
            raise ValueError("bits must contain only 0 and 1; use signs_to_bits for -1/+1 signs")
        array = array.astype(bool)
    return np.ascontiguousarray(np.packbits(array, axis=1, bitorder="little"))


def unpack_bits(codes: Any, n_bits: int) -> np.ndarray:
    """Unpack codes into a ``uint8`` 0/1 array of shape ``(n, n_bits)``."""
    array = check_codes(codes, n_bits)
    return np.unpackbits(array, axis=1, count=n_bits, bitorder="little")


def signs_to_bits(signs: Any) -> np.ndarray:
    """Map real values or -1/+1 signs to 0/1 bits: ``x >= 0 -> 1``, else 0."""
    return (np.asarray(signs) >= 0).astype(np.uint8)


def bits_to_signs(bits: Any) -> np.ndarray:
    """Map 0/1 bits to ``int8`` signs: 0 -> -1, 1 -> +1."""
    array = np.asarray(bits)
    return (2 * array.astype(np.int8) - 1).astype(np.int8)


def binarize(projections: Any) -> np.ndarray:
    """Quantise real projections to packed codes: bit ``j`` is 1 where ``projections[:, j] >= 0``.

    Parameters
    ----------
    projections : array-like of shape (n, n_bits)

    Returns
    -------
    codes : ndarray of uint8, shape (n, ceil(n_bits / 8))
    """
    array = np.asarray(projections)
    if array.ndim != 2:
        raise ValueError(f"projections must be 2-D, got shape {array.shape}")
    return np.ascontiguousarray(np.packbits(array >= 0, axis=1, bitorder="little"))


def popcount(codes: Any) -> np.ndarray:
    """Number of set bits of each code, as ``int32`` of shape ``(n,)``."""
    array = check_codes(codes)
    return _popcount_bytes(array).sum(axis=1, dtype=np.int32)


def as_words(codes: np.ndarray) -> np.ndarray:
    """Packed ``uint8`` codes as ``uint64 (n, ceil(n_bytes / 8))`` words, the layout every
    compiled kernel reads.

    Zero-pads the byte width to a multiple of 8 (a copy only when it is not one already,
    or when ``codes`` is not C-contiguous). Padding bits are zero in queries and database
    alike, so they never count in a distance. Byte ``b`` of a code is byte ``b % 8`` of word
    ``b // 8`` on the little-endian machines numpy and numba target.
    """
    n, width = codes.shape
    padded_width = 8 * ((width + 7) // 8)
    if width != padded_width or not codes.flags.c_contiguous:
        padded = np.zeros((n, padded_width), dtype=np.uint8)
        padded[:, :width] = codes
        codes = padded
    return codes.view(np.uint64).reshape(n, padded_width // 8)


def hamming_distances(queries: Any, database: Any) -> np.ndarray:
    """Hamming distances between every query code and every database code.

    ``D[i, j] = popcount(queries[i] XOR database[j])``, computed on 64-bit words with
    hardware popcount (numpy >= 2) in blocks of queries, so scratch memory stays bounded
    whatever the sizes; only the ``(n_queries, n_database)`` int32 result is allocated.

    Parameters
    ----------
    queries : ndarray of uint8, shape (n_queries, n_bytes)
    database : ndarray of uint8, shape (n_database, n_bytes)

    Returns
    -------
    distances : ndarray of int32, shape (n_queries, n_database)
    """
    q = check_codes(queries, name="queries")
    db = check_codes(database, name="database")
    if q.shape[1] != db.shape[1]:
        raise ValueError(
            f"queries have {q.shape[1]} bytes per code but database codes have {db.shape[1]}"
        )
    out = np.empty((q.shape[0], db.shape[0]), dtype=np.int32)
    if out.size == 0:
        return out
    qw, dw = as_words(q), as_words(db)
    n_words = qw.shape[1]
    block = max(1, _BLOCK_BYTES // max(1, db.shape[0] * n_words * 8))
    for start in range(0, q.shape[0], block):
        stop = min(start + block, q.shape[0])
        xor = qw[start:stop, None, :] ^ dw[None, :, :]
        out[start:stop] = _popcount_bytes(xor).sum(axis=2, dtype=np.int32)
    return out


def bucket_keys(codes: Any, n_bits: int) -> np.ndarray:
    """Integer bucket key of each code: ``key = sum_j bit_j * 2**j`` as ``uint64``.

    Only defined for ``n_bits <= 64``. Two codes share a key exactly when they are equal,
    and ``popcount(key_a ^ key_b)`` is their Hamming distance.
    """
    if check_n_bits(n_bits) > 64:
        raise ValueError(f"bucket keys need n_bits <= 64, got {n_bits}")
    array = check_codes(codes, n_bits)
    return as_words(array)[:, 0].copy()


def keys_to_codes(keys: Any, n_bits: int) -> np.ndarray:
    """Inverse of :func:`bucket_keys`: packed codes of ``n_bits`` bits from ``uint64`` keys."""
    if check_n_bits(n_bits) > 64:
        raise ValueError(f"bucket keys need n_bits <= 64, got {n_bits}")
    given = np.asarray(keys)
    if given.dtype.kind not in "iu":
        raise TypeError(f"keys must be integers, got dtype {given.dtype}")
    if given.dtype.kind == "i" and np.any(given < 0):
        raise ValueError("keys must be non-negative")
    array = np.ascontiguousarray(given.astype("<u8").reshape(-1))
    if n_bits < 64 and np.any(array >> np.uint64(n_bits)):
        raise ValueError(f"keys have bits set beyond bit {n_bits - 1}")
    return np.ascontiguousarray(array.view(np.uint8).reshape(-1, 8)[:, : n_bytes(n_bits)])


def bit_balance(codes: Any, n_bits: int) -> np.ndarray:
    """Fraction of codes whose bit ``j`` is 1, for each bit: ``float64 (n_bits,)``.

    A well-balanced bit splits the data in half (0.5); a bit at 0 or 1 carries no
    information.
    """
    bits = unpack_bits(codes, n_bits)
    if bits.shape[0] == 0:
        raise ValueError("bit_balance needs at least one code")
    return bits.mean(axis=0, dtype=np.float64)


def bit_correlation(codes: Any, n_bits: int) -> np.ndarray:
    """Pearson correlation between every pair of bits: ``float64 (n_bits, n_bits)``.

    Independent bits have correlation near 0; duplicated bits have 1. Entries involving
    a constant bit (all 0 or all 1) are undefined and returned as NaN.
    """
    bits = unpack_bits(codes, n_bits).astype(np.float64)
    if bits.shape[0] < 2:
        raise ValueError("bit_correlation needs at least two codes")
    centred = bits - bits.mean(axis=0)
    std = np.sqrt((centred**2).mean(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (centred.T @ centred) / bits.shape[0] / np.outer(std, std)
    constant = std == 0
    corr[constant, :] = np.nan
    corr[:, constant] = np.nan
    return corr


def code_statistics(codes: Any, n_bits: int) -> dict[str, float]:
    """Summary statistics of a code set, for reports and records.

    Returns
    -------
    dict with keys
        ``n_codes``; ``n_unique_codes``; ``mean_bit_balance`` (mean fraction of ones);
        ``max_balance_deviation`` (max over bits of ``|balance - 0.5|``);
        ``n_constant_bits``; ``mean_abs_correlation`` (mean of ``|corr|`` over pairs of
        distinct non-constant bits, NaN when fewer than two such bits).
    """
    array = check_codes(codes, n_bits)
    balance = bit_balance(array, n_bits)
    constant = (balance == 0) | (balance == 1)
    result: dict[str, float] = {
        "n_codes": float(array.shape[0]),
        "n_unique_codes": float(np.unique(array, axis=0).shape[0]),
        "mean_bit_balance": float(balance.mean()),
        "max_balance_deviation": float(np.abs(balance - 0.5).max()),
        "n_constant_bits": float(constant.sum()),
        "mean_abs_correlation": float("nan"),
    }
    if array.shape[0] >= 2 and (~constant).sum() >= 2:
        corr = bit_correlation(array, n_bits)[np.ix_(~constant, ~constant)]
        off_diagonal = ~np.eye(corr.shape[0], dtype=bool)
        result["mean_abs_correlation"] = float(np.abs(corr[off_diagonal]).mean())
    return result


def signs(projections: Any, dtype: Any = np.int8) -> np.ndarray:
    """Quantise real projections to -1/+1 signs with the code rule: ``x >= 0 -> +1``, else -1.

    The signed view of :func:`binarize`, for learning algorithms that optimise over
    ``B in {-1, +1}^(n, n_bits)`` and must agree with the codes ``encode`` writes (a
    projection of exactly 0 is +1 here and bit 1 there).

    Parameters
    ----------
    projections : array-like
        Real values, any shape.
    dtype : numpy dtype, default int8
        The dtype of the result (``float64`` for algorithms that do algebra on the signs).

    Returns
    -------
    signs : ndarray of ``dtype``, same shape as ``projections``

    Examples
    --------
    >>> signs([[-0.5, 0.0, 2.0]])
    array([[-1,  1,  1]], dtype=int8)
    """
    return np.where(np.asarray(projections) >= 0, 1, -1).astype(dtype)

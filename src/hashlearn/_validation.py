"""Input validation and randomness helpers shared by every subpackage.

Every check raises ``ValueError`` or ``TypeError`` with a message that names the
parameter, the value received and what is allowed, so that bad input never surfaces
as a crash deep inside numpy or scikit-learn.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

MAX_BITS = 4096

RandomStateLike = int | np.random.Generator | np.random.RandomState | None


def check_random_state(random_state: RandomStateLike) -> np.random.Generator:
    """Resolve ``random_state`` into a :class:`numpy.random.Generator`.

    Parameters
    ----------
    random_state : int, numpy.random.Generator, numpy.random.RandomState or None
        An int seeds a new generator (same int, same stream); a Generator is used as is
        (so successive calls draw successive numbers); a legacy RandomState is turned
        into a Generator seeded from it; None draws fresh entropy from the OS.

    Returns
    -------
    numpy.random.Generator
    """
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be a non-negative int, got {random_state}")
        return np.random.default_rng(int(random_state))
    raise TypeError(
        "random_state must be an int, a numpy Generator, a RandomState or None, "
        f"got {type(random_state).__name__}"
    )


def check_n_bits(n_bits: Any, *, name: str = "n_bits", max_bits: int = MAX_BITS) -> int:
    """Return ``n_bits`` as an int after checking it lies in ``[1, max_bits]``."""
    if isinstance(n_bits, bool) or not isinstance(n_bits, numbers.Integral):
        raise TypeError(f"{name} must be an int in [1, {max_bits}], got {n_bits!r}")
    if not 1 <= n_bits <= max_bits:
        raise ValueError(f"{name} must be in [1, {max_bits}], got {n_bits}")
    return int(n_bits)


def check_int(value: Any, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int after checking its type and the closed range [low, high]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value}")
    return value


def check_k(k: Any, *, name: str = "k", meaning: str = "the number of neighbours") -> int:
    """Return ``k`` as an int after checking it is an integer ``>= 1``.

    Callers add their own upper bound (an index caps ``k`` at its size; a metric refuses
    more than the database holds) and their own meaning for ``None``.
    """
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"{name} must be an int >= 1 ({meaning}), got {k!r}")
    if k < 1:
        raise ValueError(f"{name} must be an int >= 1 ({meaning}), got {int(k)}")
    return int(k)


def check_radius(radius: Any, *, name: str = "radius") -> int:
    """Return ``radius`` as an int after checking it is an integer ``>= 0`` (a Hamming
    distance). Callers clip it to the code length where a larger radius means "all"."""
    if isinstance(radius, bool) or not isinstance(radius, numbers.Integral):
        raise TypeError(f"{name} must be an int >= 0 (a Hamming distance), got {radius!r}")
    if radius < 0:
        raise ValueError(f"{name} must be an int >= 0 (a Hamming distance), got {int(radius)}")
    return int(radius)


def _check_size(
    name: str, shape: tuple[int, ...], min_samples: int, n_features: int | None, owner: str
) -> None:
    """The row count, a non-zero feature count and the fitted feature count of a 2-D X."""
    if shape[0] < min_samples:
        raise ValueError(
            f"{name} must have at least {min_samples} sample(s), got n_samples={shape[0]}"
        )
    if shape[1] == 0:
        raise ValueError(
            f"{name} has 0 feature(s) (shape={shape}) while a minimum of 1 is required."
        )
    if n_features is not None and shape[1] != n_features:
        raise ValueError(
            f"{name} has {shape[1]} features, but {owner} is expecting "
            f"{n_features} features as input (the number seen at fit)"
        )


def check_features(
    X: Any,
    *,
    name: str = "X",
    n_features: int | None = None,
    dtype: type = np.float64,
    min_samples: int = 1,
    owner: str = "the model",
) -> np.ndarray:
    """Validate a 2-D float feature matrix and return it as a C-contiguous array.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    name : str
        The parameter name used in error messages.
    n_features : int, optional
        When given, the number of columns ``X`` must have (the count seen at fit time).
    dtype : numpy dtype, default float64
        The floating dtype to convert to; float32 input is kept as float32.
    min_samples : int, default 1
        The smallest number of rows accepted.
    owner : str
        What was fitted (a class name), for the feature-count message.
    """
    if hasattr(X, "toarray") and not isinstance(X, np.ndarray):
        raise TypeError(
            f"{name} is a sparse matrix, and {owner} needs a dense array: pass "
            f"{name}.toarray() when it fits in memory, or use a method that takes sparse "
            "input (LSH, SelfTaughtHashing, SemanticHashing, VDSH, NASH and the other deep "
            "hashers with the mlp backbone)"
        )
    try:
        array = np.asarray(X)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} could not be converted to an array: {exc}") from exc
    if array.dtype == object:
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must hold numbers: {exc}") from exc
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise TypeError(f"{name} must hold numbers, got dtype {array.dtype}")
    if np.iscomplexobj(array):
        raise ValueError(f"{name} must be real-valued. Complex data not supported")
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D of shape (n_samples, n_features), got {array.ndim}-D "
            f"shape {array.shape}. Reshape your data, e.g. X.reshape(1, -1) for one sample"
        )
    _check_size(name, array.shape, min_samples, n_features, owner)
    out_dtype = array.dtype if array.dtype in (np.float32, np.float64) else dtype
    array = np.ascontiguousarray(array, dtype=out_dtype)
    if not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[0]
        raise ValueError(
            f"{name} contains NaN or infinity (first at row {bad[0]}, column {bad[1]}); "
            "impute or drop those values first"
        )
    return array


def check_sparse_features(
    X: Any,
    *,
    name: str = "X",
    n_features: int | None = None,
    min_samples: int = 1,
    owner: str = "the model",
) -> Any:
    """Validate a 2-D sparse matrix of floats and return it as CSR (float32 or float64).

    The sparse counterpart of :func:`check_features`, for methods that take sparse input
    (word counts, TF-IDF) without densifying it: the same shape, feature-count and
    finiteness rules, checked on the stored values only. Integer counts become float32;
    duplicate entries are summed (CSR's canonical form).
    """
    import scipy.sparse as sp

    if not sp.issparse(X):
        raise TypeError(f"{name} must be a scipy.sparse matrix, got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D of shape (n_samples, n_features), got {X.shape}")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_) or np.iscomplexobj(X):
        raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}")
    _check_size(name, X.shape, min_samples, n_features, owner)
    out_dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float32
    matrix = sp.csr_matrix(X, dtype=out_dtype)
    matrix.sum_duplicates()
    if not np.isfinite(matrix.data).all():
        position = int(np.flatnonzero(~np.isfinite(matrix.data))[0])
        row = int(np.searchsorted(matrix.indptr, position, side="right") - 1)
        raise ValueError(
            f"{name} contains NaN or infinity (first at row {row}, column "
            f"{int(matrix.indices[position])}); impute or drop those values first"
        )
    return matrix


def check_word_weights(X: Any, owner: str) -> None:
    """Refuse negative values in ``X`` (dense or sparse): word counts or TF-IDF weights.

    The message starts as scikit-learn's estimator checks expect ("Negative values in data
    passed to ...") and names the first negative entry.
    """
    import scipy.sparse as sp

    values = X.data if sp.issparse(X) else np.asarray(X)
    if not values.size or float(values.min()) >= 0:
        return
    if sp.issparse(X):
        coo = X.tocoo()
        first = int(np.flatnonzero(coo.data < 0)[0])
        row, column = int(coo.row[first]), int(coo.col[first])
    else:
        row, column = (int(v) for v in np.argwhere(values < 0)[0])
    raise ValueError(
        f"Negative values in data passed to {owner}: it models documents' words, so X must "
        f"hold non-negative word counts or TF-IDF weights; got {float(values.min()):.3g} "
        f"(first negative value at row {row}, column {column}; do not centre or standardise "
        "bag-of-words inputs)"
    )


def check_labels(y: Any, n_samples: int, *, name: str = "y") -> np.ndarray:
    """Validate class labels: 1-D (single label) or 2-D 0/1 indicator (multi-label)."""
    labels = np.asarray(y)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels.ravel()
    if labels.ndim not in (1, 2):
        raise ValueError(
            f"{name} must be 1-D labels or a 2-D indicator matrix, got {labels.ndim}-D"
        )
    if labels.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {labels.shape[0]} entries but X has {n_samples} samples; they must match"
        )
    if labels.dtype.kind == "f" and not np.isfinite(labels).all():
        raise ValueError(f"{name} contains NaN or infinity")
    if labels.dtype == object:
        try:
            np.unique(labels)
        except TypeError as exc:
            raise TypeError(
                f"{name} must hold labels of one comparable type (all numbers or all "
                f"strings): {exc}"
            ) from exc
    if labels.ndim == 2:
        if not np.isin(labels, (0, 1)).all():
            raise ValueError(f"a 2-D {name} must be a 0/1 label-indicator matrix")
        labels = labels.astype(bool)
    return labels

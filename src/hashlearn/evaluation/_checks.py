"""Argument checks shared by the metric modules: code pairs, cut-offs, radii, rankings.

The type-and-sign check of one ``k`` or one radius is :func:`hashlearn._validation.check_k`
/ :func:`~hashlearn._validation.check_radius`; these add the metrics' own upper bounds and
their meaning of ``None`` ("all").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from hashlearn._validation import check_k, check_radius
from hashlearn.codes import check_codes

# The meaning of k where None is allowed: a negative k is a common way to say "all"
# elsewhere, so the message says it is not one here.
_CUTOFF_OR_ALL = "a ranking cut-off, or None for all; a negative value never means 'all'"


def check_code_pair(query_codes: Any, database_codes: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate query and database codes: same width, at least one byte and one code each."""
    queries = check_codes(query_codes, name="query_codes")
    database = check_codes(database_codes, name="database_codes")
    if queries.shape[1] != database.shape[1]:
        raise ValueError(
            f"query_codes have {queries.shape[1]} bytes per code but database_codes have "
            f"{database.shape[1]}; both must come from the same hasher (same n_bits)"
        )
    if queries.shape[1] == 0:
        raise ValueError("codes must have at least one byte per code, got shape (n, 0)")
    if queries.shape[0] == 0:
        raise ValueError(f"query_codes must hold at least one code, got shape {queries.shape}")
    if database.shape[0] == 0:
        raise ValueError(f"database_codes must hold at least one code, got shape {database.shape}")
    return queries, database


def resolve_n_bits(n_bits: Any, queries: np.ndarray, database: np.ndarray) -> int:
    """``8 * n_bytes`` for None; otherwise ``n_bits`` after checking both code sets with it."""
    if n_bits is None:
        return 8 * queries.shape[1]
    check_codes(queries, n_bits, name="query_codes")
    check_codes(database, n_bits, name="database_codes")
    return int(n_bits)


def check_cutoff(
    k: Any, n_available: int, *, what: str = "n_database", none_means_all: bool = False
) -> int:
    """Return ``k`` as an int in ``[1, n_available]``.

    ``None`` is the caller's to handle (it means "all" where ``none_means_all``); the
    message says so, and that a negative value is not "all".
    """
    meaning = _CUTOFF_OR_ALL if none_means_all else "a ranking cut-off"
    k = check_k(k, meaning=meaning)
    if k > n_available:
        hint = "; use k=None for all" if none_means_all else ""
        raise ValueError(f"k must be at most {what}={n_available}, got {k}{hint}")
    return k


def _as_list(values: Any, name: str, allowed: str) -> list[Any]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a sequence of {allowed}, got {values!r}")
    return list(values)


def check_ks(ks: Any, n_database: int, name: str, *, nonempty: bool = False) -> np.ndarray:
    """Cut-offs as a sorted unique int64 array, each in ``[1, n_database]``."""
    values = _as_list(ks, name, "ints in [1, n_database]")
    for i, k in enumerate(values):
        k = check_k(k, name=f"{name}[{i}]", meaning="a cut-off K")
        if k > n_database:
            raise ValueError(
                f"{name} must hold ints K in [1, n_database={n_database}], got K={k}; "
                f"pass {name}=... without cut-offs larger than the database"
            )
    if nonempty and not values:
        raise ValueError(f"{name} must hold at least one cut-off, got an empty sequence")
    return np.unique(np.asarray(values, dtype=np.int64))


def check_radii(radii: Any) -> np.ndarray:
    """Radii as a sorted unique int64 array, each ``>= 0``."""
    values = _as_list(radii, "radii", "ints >= 0")
    for i, radius in enumerate(values):
        check_radius(radius, name=f"radii[{i}]")
    return np.unique(np.asarray(values, dtype=np.int64))


def check_ranked(relevant_ranked: Any) -> np.ndarray:
    """A ranked relevance matrix as bool ``(n_queries, n_ranked)``, both at least 1."""
    array = np.asarray(relevant_ranked)
    if array.ndim != 2:
        raise ValueError(
            f"relevant_ranked must be 2-D of shape (n_queries, n_ranked), got shape {array.shape}"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(
            f"relevant_ranked must have at least one query and one ranked item, got shape "
            f"{array.shape}"
        )
    if array.dtype != np.bool_:
        if not (np.issubdtype(array.dtype, np.number) and np.isin(array, (0, 1)).all()):
            raise TypeError(
                f"relevant_ranked must be boolean (or 0/1), got dtype {array.dtype} with "
                "values other than 0 and 1"
            )
        array = array.astype(bool)
    return array

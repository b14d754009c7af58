"""Labels of queries and database prepared once for fast relevance look-ups.

Relevance is the same everywhere in :mod:`hashlearn.evaluation`: single label (1-D
labels) = same class label; multi-label (2-D 0/1 indicator) = at least one shared label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Labels:
    """Labels of queries and database prepared for fast relevance look-ups.

    Single label: both sides as small integer ids (same id = same label). Multi-label: each
    label set packed into 64-bit words (relevant = any common bit).
    """

    multi: bool
    query: np.ndarray  # int64 (n_q,) or uint64 (n_q, n_words)
    database: np.ndarray  # int64 (n_db,) or uint64 (n_db, n_words)

    def block(self, start: int, stop: int) -> np.ndarray:
        """Relevance of queries ``start:stop`` to the whole database: bool (stop-start, n_db)."""
        if not self.multi:
            return self.query[start:stop, None] == self.database[None, :]
        query = self.query[start:stop]
        shared = query[:, None, 0] & self.database[None, :, 0]
        out = shared != 0
        for word in range(1, query.shape[1]):
            out |= (query[:, None, word] & self.database[None, :, word]) != 0
        return out

    def lookup(self, indices: np.ndarray, start: int = 0) -> np.ndarray:
        """Relevance of ``database[indices[i, j]]`` to query ``start + i``; -1 is False."""
        query = self.query[start : start + indices.shape[0]]
        valid = indices >= 0
        safe = np.where(valid, indices, 0)
        if not self.multi:
            out = self.database[safe] == query[:, None]
        else:
            out = ((self.database[safe] & query[:, None, :]) != 0).any(axis=2)
        return out & valid


def _as_label_array(labels: Any, name: str) -> np.ndarray:
    try:
        array = np.asarray(labels)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} could not be converted to an array: {exc}") from exc
    if array.ndim == 2 and array.shape[1] == 1:
        array = array.ravel()
    if array.ndim not in (1, 2):
        raise ValueError(
            f"{name} must be 1-D class labels or a 2-D 0/1 label-indicator matrix, got "
            f"{array.ndim}-D shape {array.shape}"
        )
    if array.dtype.kind == "c":
        raise TypeError(f"{name} must not be complex, got dtype {array.dtype}")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinity")
    if array.ndim == 2:
        if array.dtype != np.bool_ and not (
            np.issubdtype(array.dtype, np.number) and np.isin(array, (0, 1)).all()
        ):
            raise ValueError(
                f"a 2-D {name} must be a 0/1 label-indicator matrix (multi-label), got "
                "values other than 0 and 1"
            )
        array = array.astype(bool)
    return array


def _pack_label_sets(indicator: np.ndarray) -> np.ndarray:
    packed = np.packbits(indicator, axis=1, bitorder="little")
    n_words = max(1, (packed.shape[1] + 7) // 8)
    padded = np.zeros((packed.shape[0], 8 * n_words), dtype=np.uint8)
    padded[:, : packed.shape[1]] = packed
    return padded.view("<u8")


def prepare_labels(
    query_labels: Any,
    database_labels: Any,
    n_queries: int | None = None,
    n_database: int | None = None,
) -> Labels:
    """Validate both label arrays and return them as :class:`Labels`.

    ``n_queries`` / ``n_database``: the row counts the labels must have (None: unchecked).
    Single labels of any comparable type become small integer ids (``np.unique`` of both
    sides together); 2-D indicators become packed label sets.
    """
    query = _as_label_array(query_labels, "query_labels")
    database = _as_label_array(database_labels, "database_labels")
    if query.ndim != database.ndim:
        raise ValueError(
            f"query_labels is {query.ndim}-D but database_labels is {database.ndim}-D; use "
            "1-D class labels for both (single label) or 2-D indicators for both (multi-label)"
        )
    for array, name, expected, what in (
        (query, "query_labels", n_queries, "query codes"),
        (database, "database_labels", n_database, "database codes"),
    ):
        if expected is not None and array.shape[0] != expected:
            raise ValueError(
                f"{name} has {array.shape[0]} entries but there are {expected} {what}; "
                "they must match"
            )
    if query.ndim == 2:
        if query.shape[1] != database.shape[1]:
            raise ValueError(
                f"query_labels has {query.shape[1]} label columns but database_labels has "
                f"{database.shape[1]}; both indicators must use the same label set"
            )
        return Labels(True, _pack_label_sets(query), _pack_label_sets(database))
    if (query.dtype.kind in "biuf") != (database.dtype.kind in "biuf"):
        raise TypeError(
            f"query_labels (dtype {query.dtype}) and database_labels (dtype "
            f"{database.dtype}) must both be numeric or both be non-numeric"
        )
    _, ids = np.unique(np.concatenate([query, database]), return_inverse=True)
    ids = ids.astype(np.int64).ravel()
    return Labels(False, ids[: query.shape[0]], ids[query.shape[0] :])


def label_words(labels: Labels) -> tuple[np.ndarray, np.ndarray]:
    """Labels as the kernel reads them: uint64 ``(n, n_label_words)`` on both sides."""
    if labels.multi:
        return (
            np.ascontiguousarray(labels.query, dtype=np.uint64),
            np.ascontiguousarray(labels.database, dtype=np.uint64),
        )
    # single-label ids are non-negative (np.unique inverse), so uint64 is exact
    return (
        labels.query.astype(np.uint64).reshape(-1, 1),
        labels.database.astype(np.uint64).reshape(-1, 1),
    )

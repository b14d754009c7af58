"""Ground truth for ANN-style evaluation: exact k-NN on the original vectors and recall@R.

:func:`exact_neighbors` finds the exact ``k`` nearest database vectors of each query
(Euclidean, cosine or inner product) by blocked matrix products, so memory stays bounded
whatever the sizes; :func:`recall_at` scores any retrieval list against it, and
:func:`hamming_recall_at` scores the Hamming ranking of binary codes (the usual "recall of
the true Euclidean neighbours among the top R by Hamming distance").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from hashlearn import _numba
from hashlearn._validation import check_features, check_int, check_k
from hashlearn.evaluation._checks import check_code_pair, resolve_n_bits
from hashlearn.evaluation._counting import hamming_positions

__all__ = ["exact_neighbors", "hamming_recall_at", "recall_at"]

Metric = Literal["euclidean", "cosine", "inner_product"]

# Float64 distances computed per block (queries x database rows): 2**22 * 8 bytes = 32 MiB.
_BLOCK_ELEMENTS = 2**22


def _squared_norms(array: np.ndarray) -> np.ndarray:
    """Squared Euclidean norms of the rows, in float64 (einsum: no (n, n_features) temporary)."""
    as64 = array.astype(np.float64, copy=False)
    return np.einsum("ij,ij->i", as64, as64)


def _block_scores(
    queries: np.ndarray,
    database: np.ndarray,
    query_norms: np.ndarray,
    database_norms: np.ndarray,
    metric: str,
) -> np.ndarray:
    """Distances of a block by one BLAS product, float64 (smaller is closer).

    ``query_norms`` / ``database_norms``: squared norms for Euclidean (the squared distance
    is returned: same order, no square root), norms for cosine, unused for inner product.
    """
    products = queries @ database.T
    if metric == "euclidean":
        squared = query_norms[:, None] + database_norms[None, :] - 2.0 * products
        return np.maximum(squared, 0.0)
    if metric == "cosine":
        return 1.0 - products / (query_norms[:, None] * database_norms[None, :])
    return -products


def _exact_distances(
    queries: np.ndarray,
    database: np.ndarray,
    indices: np.ndarray,
    query_norms: np.ndarray,
    database_norms: np.ndarray,
    metric: str,
) -> np.ndarray:
    """The reported distances of the selected pairs, computed directly per pair in float64.

    Euclidean: ``sqrt(sum((x - q)**2))`` (no cancellation, unlike the expansion used to
    select); per pair, so equal vectors get bit-identical distances wherever they sit.
    """
    out = np.empty(indices.shape, dtype=np.float64)
    rows = max(1, _BLOCK_ELEMENTS // max(1, indices.shape[1] * queries.shape[1]))
    for start in range(0, queries.shape[0], rows):
        stop = min(start + rows, queries.shape[0])
        q = queries[start:stop, None, :].astype(np.float64)
        x = database[indices[start:stop]].astype(np.float64)
        if metric == "euclidean":
            out[start:stop] = np.sqrt(np.einsum("ijk,ijk->ij", x - q, x - q))
        elif metric == "cosine":
            dots = np.einsum("ijk,ijk->ij", x, np.broadcast_to(q, x.shape))
            norms = query_norms[start:stop, None] * database_norms[indices[start:stop]]
            out[start:stop] = 1.0 - dots / norms
        else:
            out[start:stop] = -np.einsum("ijk,ijk->ij", x, np.broadcast_to(q, x.shape))
    return out


def _stable_top_k(scores: np.ndarray, columns: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` smallest ``(score, column)`` of each row, kept in increasing column order.

    ``columns`` are increasing along each row. ``np.argpartition`` finds the ``k``-th
    smallest score ``t`` of each row; every entry below ``t`` is kept and, of those equal
    to ``t``, the ones with the smallest columns (the tie rule). No full sort.
    """
    n_rows, n_cols = scores.shape
    if n_cols <= k:
        return scores, columns
    kth = np.take_along_axis(scores, np.argpartition(scores, k - 1, axis=1)[:, k - 1 : k], 1)
    below = scores < kth
    at = scores == kth
    room = k - below.sum(axis=1, keepdims=True)
    keep = below | (at & (np.cumsum(at, axis=1) <= room))
    return scores[keep].reshape(n_rows, k), columns[keep].reshape(n_rows, k)


def exact_neighbors(
    queries: Any,
    database: Any,
    k: int,
    *,
    metric: Metric = "euclidean",
    block_size: int | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Exact ``k`` nearest database vectors of each query, sorted by (distance, index).

    Distances: ``"euclidean"`` ``||q - x||``; ``"cosine"`` ``1 - <q, x> / (||q|| ||x||)``;
    ``"inner_product"`` ``-<q, x>`` (negated, so that smaller is closer under every metric).
    Ties (equal computed distances) break by the smaller database index, as everywhere in
    hashlearn.

    Computation: the database is scanned in blocks of ``block_size`` rows for blocks of
    queries; each block's distances come from one BLAS matrix product in float64 (float32
    input is converted per block; Euclidean uses ``||q||^2 + ||x||^2 - 2 <q, x>``). A running
    top ``k`` per query is kept with ``np.argpartition`` and the tie rule above, so memory is
    about ``block_size * query_block`` float64 (32 MiB) plus the output, never
    ``n_queries x n_database``. The reported distances of the ``k`` selected neighbours are
    then recomputed directly per pair in float64 (for Euclidean, without the cancellation of
    the expansion), and the rows ordered by ``(distance, index)``. Precision: the selection
    uses the expansion, whose error is about ``1e-16 * (||q||^2 + ||x||^2)``; candidates whose
    distances differ by less than that at the ``k``-th place may be decided by rounding.

    Parameters
    ----------
    queries : array-like of float, shape (n_queries, n_features)
    database : array-like of float, shape (n_database, n_features)
        Finite values (NaN or infinity raise ``ValueError``).
    k : int
        Neighbours per query, ``1 <= k <= n_database``.
    metric : {"euclidean", "cosine", "inner_product"}, default "euclidean"
        Cosine needs non-zero vectors (a zero row raises ``ValueError``).
    block_size : int or None, default None
        Database rows per block; None picks ``max(k, 4096)`` capped at ``n_database``. The
        result does not depend on it.

    Returns
    -------
    distances : ndarray of float64, shape (n_queries, k)
    indices : ndarray of int64, shape (n_queries, k)
        Sorted by ``(distance, index)``.

    Examples
    --------
    >>> database = [[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [1.0, 0.0]]
    >>> distances, indices = exact_neighbors([[1.0, 0.1]], database, k=3)
    >>> indices  # items 1 and 3 are equal: the tie goes to the smaller index
    array([[1, 3, 0]])
    >>> distances.round(3).tolist()
    [[0.1, 0.1, 1.005]]
    """
    query_array = check_features(queries, name="queries")
    database_array = check_features(database, name="database")
    if query_array.shape[1] != database_array.shape[1]:
        raise ValueError(
            f"queries have {query_array.shape[1]} features but database has "
            f"{database_array.shape[1]}; they must match"
        )
    n_queries, n_database = query_array.shape[0], database_array.shape[0]
    k = check_k(k, meaning="neighbours per query")
    if k > n_database:
        raise ValueError(f"k must be in [1, n_database={n_database}], got {k}")
    if metric not in ("euclidean", "cosine", "inner_product"):
        raise ValueError(f"metric must be 'euclidean', 'cosine' or 'inner_product', got {metric!r}")
    block = (
        min(max(k, 4096), n_database)
        if block_size is None
        else min(check_int(block_size, "block_size", low=1), n_database)
    )
    query_norms = _squared_norms(query_array)
    database_norms = _squared_norms(database_array)
    if metric == "cosine":
        query_norms, database_norms = np.sqrt(query_norms), np.sqrt(database_norms)
        for norms, name in ((query_norms, "queries"), (database_norms, "database")):
            if not np.all(norms > 0):
                raise ValueError(
                    f"{name} row {int(np.argmin(norms > 0))} has zero norm; the cosine "
                    "distance is undefined for it (drop it or use metric='euclidean')"
                )
    query_block = max(1, _BLOCK_ELEMENTS // (block + k))
    out_indices = np.empty((n_queries, k), dtype=np.int64)
    for q_start in range(0, n_queries, query_block):
        q_stop = min(q_start + query_block, n_queries)
        q = query_array[q_start:q_stop].astype(np.float64, copy=False)
        q_norms = query_norms[q_start:q_stop]
        best_scores = np.empty((q_stop - q_start, 0))
        best_indices = np.empty((q_stop - q_start, 0), dtype=np.int64)
        for d_start in range(0, n_database, block):
            d_stop = min(d_start + block, n_database)
            x = database_array[d_start:d_stop].astype(np.float64, copy=False)
            scores = _block_scores(q, x, q_norms, database_norms[d_start:d_stop], metric)
            columns = np.broadcast_to(np.arange(d_start, d_stop), scores.shape)
            # earlier blocks hold smaller indices, so the concatenation keeps columns sorted
            best_scores, best_indices = _stable_top_k(
                np.concatenate([best_scores, scores], axis=1),
                np.concatenate([best_indices, columns], axis=1),
                k,
            )
        out_indices[q_start:q_stop] = best_indices
    distances = _exact_distances(
        query_array, database_array, out_indices, query_norms, database_norms, metric
    )
    # final order: by distance, ties by index (lexsort's last key is the primary one)
    order = np.lexsort((out_indices, distances), axis=1)
    return (
        np.take_along_axis(distances, order, axis=1),
        np.take_along_axis(out_indices, order, axis=1),
    )


def _check_rs(rs: Any, n_columns: int, what: str) -> list[int]:
    if isinstance(rs, (str, bytes)) or not isinstance(rs, Iterable):
        raise TypeError(f"rs must be a sequence of positive ints, got {rs!r}")
    values = []
    for i, r in enumerate(rs):
        r = check_k(r, name=f"rs[{i}]", meaning="a cut-off R")
        if r > n_columns:
            raise ValueError(f"rs must hold ints R in [1, {what}={n_columns}], got R={r}")
        values.append(r)
    if not values:
        raise ValueError("rs must hold at least one cut-off R, got an empty sequence")
    return sorted(set(values))


def _check_index_matrix(array: Any, name: str, *, allow_padding: bool) -> np.ndarray:
    matrix = np.asarray(array)
    if matrix.ndim != 2 or not (np.issubdtype(matrix.dtype, np.integer) or matrix.size == 0):
        raise ValueError(
            f"{name} must be a 2-D integer array of shape (n_queries, n), got shape "
            f"{matrix.shape} and dtype {matrix.dtype}"
        )
    if matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise ValueError(f"{name} must have at least one row and one column, got {matrix.shape}")
    matrix = matrix.astype(np.int64, copy=False)
    low = -1 if allow_padding else 0
    if matrix.min() < low:
        allowed = "non-negative database indices"
        if allow_padding:
            allowed += " or -1 for padding"
        raise ValueError(f"{name} must hold {allowed}, got {int(matrix.min())}")
    ordered = np.sort(matrix, axis=1)
    duplicated = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)
    if duplicated.any():
        row = int(np.argmax(duplicated.any(axis=1)))
        raise ValueError(f"{name} row {row} lists a database index twice")
    return matrix


def recall_at(
    true_neighbors: Any,
    retrieved: Any,
    rs: Iterable[int] = (1, 10, 100, 1000),
) -> dict[int, float]:
    """recall@R: the fraction of each query's true neighbours found in its first R retrieved.

    ``recall@R(q) = |T_q ∩ {first R entries of retrieved_q}| / |T_q|``, where ``T_q`` is row
    ``q`` of ``true_neighbors`` (``n_true`` distinct indices, e.g. the exact ``k``-NN of
    :func:`exact_neighbors`); the result is the mean over all queries. With ``n_true = 1``
    this is the "recall@R" of Jégou et al. (fraction of queries whose nearest neighbour is
    ranked within the top R); with ``n_true = R`` it is the usual "k-NN recall". Padding
    entries (``-1``) of ``retrieved`` never match, so a shorter retrieval list simply finds
    fewer neighbours; no query is skipped.

    Parameters
    ----------
    true_neighbors : array-like of int, shape (n_queries, n_true)
        Non-negative database indices, distinct within a row.
    retrieved : array-like of int, shape (n_queries, n_retrieved)
        Database indices in ranked order, best first, ``-1`` for padding; distinct within a
        row.
    rs : iterable of int, default (1, 10, 100, 1000)
        Cut-offs, each in ``[1, n_retrieved]``.

    Returns
    -------
    dict of int to float
        ``{R: mean recall@R}``, in increasing R.

    Examples
    --------
    >>> recall_at([[3, 5], [0, 1]], [[5, 2, 3], [2, 4, -1]], rs=[1, 3])
    {1: 0.25, 3: 0.5}
    """
    truth = _check_index_matrix(true_neighbors, "true_neighbors", allow_padding=False)
    found = _check_index_matrix(retrieved, "retrieved", allow_padding=True)
    if truth.shape[0] != found.shape[0]:
        raise ValueError(
            f"true_neighbors has {truth.shape[0]} rows but retrieved has {found.shape[0]}; "
            "they must match (one row per query)"
        )
    cutoffs = _check_rs(rs, found.shape[1], "n_retrieved")
    # membership of each retrieved entry in its row's true set, via (row, index) keys
    width = int(max(truth.max(), found.max())) + 2
    rows = np.arange(truth.shape[0], dtype=np.int64)[:, None] * width
    is_true = np.isin(found + 1 + rows, truth + 1 + rows)
    found_within = np.cumsum(is_true, axis=1)
    n_true = truth.shape[1]
    return {r: float((found_within[:, r - 1] / n_true).mean()) for r in cutoffs}


def hamming_recall_at(
    query_codes: Any,
    database_codes: Any,
    true_neighbors: Any,
    rs: Iterable[int] = (1, 10, 100, 1000),
    *,
    n_bits: int | None = None,
    n_threads: int | None = None,
) -> dict[int, float]:
    """recall@R of the Hamming ranking against true neighbours (e.g. exact Euclidean k-NN).

    The database codes are ranked for each query by (Hamming distance, database index) --
    ties by the smaller index, the contract of :class:`hashlearn.index.LinearScanIndex` --
    and ``recall@R(q) = |T_q ∩ top R| / |T_q|`` is averaged over all queries, as
    :func:`recall_at` scores a retrieval list. No search is run: a compiled counting pass
    per query (histogram of the distances, then one scan in index order) gives the exact
    rank of each true neighbour, which is in the top R exactly when its rank is ``<= R``.

    Parameters
    ----------
    query_codes : ndarray of uint8, shape (n_queries, n_bytes)
    database_codes : ndarray of uint8, shape (n_database, n_bytes)
    true_neighbors : array-like of int, shape (n_queries, n_true)
        Database indices (as from :func:`exact_neighbors` on the original vectors).
    rs : iterable of int, default (1, 10, 100, 1000)
        Cut-offs, each in ``[1, n_database]``.
    n_bits : int or None, default None
        Code length; None means ``8 * n_bytes``.
    n_threads : int or None, default None
        Threads of the counting pass (None or -1: numba's pool). Small problems run on one
        thread.

    Returns
    -------
    dict of int to float
        ``{R: mean recall@R}``, in increasing R.

    Examples
    --------
    >>> from hashlearn.codes import pack_bits
    >>> database = pack_bits([[0, 0, 0], [1, 1, 1], [1, 0, 0]])
    >>> # Hamming ranking of the query 000: item 0, item 2, item 1
    >>> hamming_recall_at(pack_bits([[0, 0, 0]]), database, [[2]], rs=[1, 2], n_bits=3)
    {1: 0.0, 2: 1.0}
    """
    queries, database = check_code_pair(query_codes, database_codes)
    n_bits = resolve_n_bits(n_bits, queries, database)
    n_threads = _numba.check_n_threads(n_threads)
    cutoffs = _check_rs(rs, database.shape[0], "n_database")
    truth = _check_index_matrix(true_neighbors, "true_neighbors", allow_padding=False)
    if truth.shape[0] != queries.shape[0]:
        raise ValueError(
            f"true_neighbors has {truth.shape[0]} rows but there are {queries.shape[0]} "
            "query codes; they must match"
        )
    if truth.max() >= database.shape[0]:
        raise ValueError(
            f"true_neighbors must hold indices in [0, {database.shape[0] - 1}], got "
            f"{int(truth.max())}"
        )
    # rank of each true neighbour in the Hamming ranking: it is within the top R (the
    # ranking's first R entries) exactly when its rank is <= R
    positions = hamming_positions(queries, database, truth, n_bits + 1, n_threads=n_threads)
    n_true = truth.shape[1]
    return {r: float(((positions <= r).sum(axis=1) / n_true).mean()) for r in cutoffs}

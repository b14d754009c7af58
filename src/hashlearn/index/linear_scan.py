"""Exact Hamming search by linear scan: the oracle every other index is tested against.

:class:`LinearScanIndex` runs the compiled kernels of :mod:`hashlearn._kernels`: codes as
64-bit words, hardware popcount, blocks of queries sharing cache-sized database blocks,
threads over queries, and top-k selection by counting over the small integer distances
(no sort). Memory is the output plus a few KiB per thread, whatever the sizes.

This module also keeps the numpy implementation of the same search,
:func:`knn_reference` and :func:`range_reference`: blocked
:func:`hashlearn.codes.hamming_distances` followed by the two pure selection functions
:func:`topk_by_counting` and :func:`range_select`. It is slower (it materialises a block
of the queries x database distance matrix) and exists so the kernels are tested against an
independent implementation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from hashlearn import _kernels
from hashlearn._registry import register
from hashlearn.codes import hamming_distances
from hashlearn.index._base import BinaryIndex

__all__ = [
    "LinearScanIndex",
    "knn_reference",
    "range_reference",
    "range_select",
    "topk_by_counting",
    "topk_reference",
]

# Distances (int32) computed per block of queries: 2**21 * 4 bytes = 8 MiB, plus a few
# temporaries of the same shape.
_BLOCK_ELEMENTS = 2**21
# Bytes of query x code x word XOR scratch allowed for one query against one chunk.
_XOR_BYTES = 32 * 2**20


def topk_by_counting(
    distances: np.ndarray, k: int, max_distance: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` smallest ``(distance, column)`` pairs of each row, by counting.

    Distances are small integers in ``[0, max_distance]``, so the ``k``-th smallest
    distance of row ``i`` is found from a histogram without sorting:

    ``t_i = min{ d : #{j : D[i, j] <= d} >= k }``;

    the selection is every column with ``D[i, j] < t_i`` plus the
    ``k - #{j : D[i, j] < t_i}`` *smallest columns* with ``D[i, j] = t_i`` (this is
    where ties at the ``k``-th distance resolve by smallest index). The ``k`` selected
    entries, already in column order, are then stably sorted by distance. Cost:
    ``O(n_rows * n_cols)`` with no ``log`` factor.

    Parameters
    ----------
    distances : ndarray of int, shape (n_rows, n_cols)
        Values in ``[0, max_distance]``.
    k : int
        ``>= 1``; rows return ``min(k, n_cols)`` results.
    max_distance : int
        Upper bound on the values (``n_bits`` for Hamming distances).

    Returns
    -------
    top_distances : ndarray of int32, shape (n_rows, min(k, n_cols))
    top_columns : ndarray of int64, shape (n_rows, min(k, n_cols))
        Sorted by ``(distance, column)``.

    Examples
    --------
    >>> D = np.array([[3, 1, 2, 1, 0]])
    >>> topk_by_counting(D, 3, max_distance=3)
    (array([[0, 1, 1]], dtype=int32), array([[4, 1, 3]]))
    """
    n_rows, n_cols = distances.shape
    kk = min(k, n_cols)
    if n_rows == 0 or kk == 0:
        return np.empty((n_rows, kk), dtype=np.int32), np.empty((n_rows, kk), dtype=np.int64)
    n_values = max_distance + 1
    rows = np.arange(n_rows)
    histogram = np.bincount(
        (distances + (rows * n_values)[:, None]).ravel(), minlength=n_rows * n_values
    ).reshape(n_rows, n_values)
    cumulative = np.cumsum(histogram, axis=1)
    threshold = (cumulative < kk).sum(axis=1)  # t_i, the k-th smallest distance of row i
    below = np.where(threshold > 0, cumulative[rows, np.maximum(threshold - 1, 0)], 0)
    need = kk - below  # how many of the ties at t_i are taken (>= 1)
    at_threshold = distances == threshold[:, None]
    tie_rank = np.cumsum(at_threshold, axis=1, dtype=np.int32)
    selected = (distances < threshold[:, None]) | (at_threshold & (tie_rank <= need[:, None]))
    sel_rows, sel_cols = np.nonzero(selected)
    columns = sel_cols.reshape(n_rows, kk)
    values = distances[sel_rows, sel_cols].reshape(n_rows, kk)
    order = np.argsort(values, axis=1, kind="stable")
    top_distances = np.take_along_axis(values, order, axis=1).astype(np.int32, copy=False)
    top_columns = np.take_along_axis(columns, order, axis=1).astype(np.int64, copy=False)
    return top_distances, top_columns


def topk_reference(distances: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Reference for :func:`topk_by_counting`: a full ``(distance, column)`` sort per row."""
    n_rows, n_cols = distances.shape
    kk = min(k, n_cols)
    top_d = np.empty((n_rows, kk), dtype=np.int32)
    top_c = np.empty((n_rows, kk), dtype=np.int64)
    columns = np.arange(n_cols)
    for i in range(n_rows):
        order = np.lexsort((columns, distances[i]))[:kk]
        top_d[i], top_c[i] = distances[i, order], order
    return top_d, top_c


def range_select(distances: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every ``(row, column)`` with ``D[row, column] <= radius``, in CSR layout.

    Row ``i``'s entries are ``[lims[i]:lims[i + 1]]``, sorted by ``(distance, column)``.

    Returns
    -------
    lims : ndarray of int64, shape (n_rows + 1,)
    values : ndarray of int32
    columns : ndarray of int64

    Examples
    --------
    >>> range_select(np.array([[2, 0, 1], [3, 3, 0]]), 1)
    (array([0, 2, 3]), array([0, 1, 0], dtype=int32), array([1, 2, 2]))
    """
    n_rows = distances.shape[0]
    rows, columns = np.nonzero(distances <= radius)  # row-major: columns ascending per row
    values = distances[rows, columns].astype(np.int32, copy=False)
    # Rows are already grouped and columns ascending, so a stable sort on
    # (row, distance) yields the (row, distance, column) order.
    order = np.argsort(rows * np.int64(radius + 1) + values, kind="stable")
    lims = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=lims[1:])
    return lims, values[order], columns[order].astype(np.int64, copy=False)


def _chunk_size(n: int, width: int) -> int:
    """Codes per database chunk: bounded by the distance and the XOR scratch budgets."""
    return max(1, min(n, _BLOCK_ELEMENTS, _XOR_BYTES // width))


def _distance_blocks(
    queries: np.ndarray, database: np.ndarray
) -> Iterator[tuple[int, int, int, np.ndarray]]:
    """Yield ``(query_start, query_stop, code_start, distances)`` over the whole scan.

    For each block of queries, every chunk of the database in order; ``distances``
    is ``int32 (query_stop - query_start, chunk_size)``.
    """
    n = database.shape[0]
    chunk = _chunk_size(n, database.shape[1])
    block = max(1, _BLOCK_ELEMENTS // chunk)
    for q_start in range(0, queries.shape[0], block):
        q_stop = min(q_start + block, queries.shape[0])
        for c_start in range(0, n, chunk):
            distances = hamming_distances(
                queries[q_start:q_stop], database[c_start : c_start + chunk]
            )
            yield q_start, q_stop, c_start, distances


def knn_reference(
    queries: np.ndarray, database: np.ndarray, k: int, n_bits: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k-NN in numpy: the reference for :func:`hashlearn._kernels.knn_scan`.

    Distances of a block of queries against a chunk of the database
    (:func:`hashlearn.codes.hamming_distances`, at most ``_BLOCK_ELEMENTS`` of them at a
    time), selected by :func:`topk_by_counting`; the top-k of successive chunks are
    merged, which keeps the ``(distance, id)`` order because later chunks hold larger ids.

    Parameters
    ----------
    queries, database : uint8 packed codes of the same width, ``database`` non-empty
    k : int, ``>= 1``
    n_bits : int

    Returns
    -------
    distances : int32 (n_queries, min(k, n))
    indices : int64 (n_queries, min(k, n))
    """
    n = database.shape[0]
    kk = min(k, n)
    top_d = np.empty((queries.shape[0], kk), dtype=np.int32)
    top_i = np.empty((queries.shape[0], kk), dtype=np.int64)
    kept_d = kept_i = np.empty((0, 0), dtype=np.int64)
    for q_start, q_stop, c_start, distances in _distance_blocks(queries, database):
        chunk_d, chunk_i = topk_by_counting(distances, kk, n_bits)
        chunk_i += c_start
        if c_start == 0:
            kept_d, kept_i = chunk_d, chunk_i
        else:
            # Both parts are sorted by (distance, id) and the chunk's ids are all larger,
            # so a stable sort of [kept, chunk] by distance is the (distance, id) order.
            merged_d = np.concatenate([kept_d, chunk_d], axis=1)
            merged_i = np.concatenate([kept_i, chunk_i], axis=1)
            order = np.argsort(merged_d, axis=1, kind="stable")[:, :kk]
            kept_d = np.take_along_axis(merged_d, order, axis=1)
            kept_i = np.take_along_axis(merged_i, order, axis=1)
        if c_start + distances.shape[1] == n:
            top_d[q_start:q_stop], top_i[q_start:q_stop] = kept_d, kept_i
    return top_d, top_i


def range_reference(
    queries: np.ndarray, database: np.ndarray, radius: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact range search in numpy: the reference for :func:`hashlearn._kernels.range_scan`.

    Returns ``(lims, distances, indices)`` in CSR layout sorted by ``(distance, id)``.
    """
    n_queries = queries.shape[0]
    rows, all_d, all_i = [], [], []
    for q_start, _, c_start, distances in _distance_blocks(queries, database):
        lims, values, columns = range_select(distances, radius)
        rows.append(np.repeat(np.arange(q_start, q_start + lims.shape[0] - 1), np.diff(lims)))
        all_d.append(values)
        all_i.append(columns + c_start)
    row = np.concatenate(rows)
    distances_out = np.concatenate(all_d)
    indices = np.concatenate(all_i)
    if _chunk_size(database.shape[0], database.shape[1]) < database.shape[0]:
        # Several chunks: put each query's pieces back into (distance, id) order.
        order = np.lexsort((indices, distances_out, row))
        row, distances_out, indices = row[order], distances_out[order], indices[order]
    lims_out = np.zeros(n_queries + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=n_queries), out=lims_out[1:])
    return lims_out, distances_out, indices


@register
class LinearScanIndex(BinaryIndex):
    """Exact Hamming k-NN and range search by scanning every stored code.

    Every query is compared with every code: XOR and hardware popcount on 64-bit words,
    in compiled, multithreaded kernels (:func:`hashlearn._kernels.knn_scan`,
    :func:`hashlearn._kernels.range_scan`). Blocks of queries share cache-sized blocks of
    the database, and the ``k`` best are selected by counting over the small integer
    distances, never by sorting. Memory is bounded by the output: no queries x database
    matrix is formed. Results are exact and sorted by ``(distance, database id)``: ties
    break by the smaller database id, also at the ``k``-th position (see
    :mod:`hashlearn.index._base` for the contract). This is the oracle every approximate
    index is tested against.

    Parameters
    ----------
    n_bits : int
        Code length in bits, in ``[1, 4096]``.
    hasher : hasher, optional
        The hasher that produced the codes; enables :meth:`add_vectors` /
        :meth:`search_vectors` and is saved with the index.
    n_threads : int or None, default=None
        Threads used by a search; ``None`` or ``-1`` use numba's whole pool
        (``NUMBA_NUM_THREADS``, by default one per core).

    Attributes
    ----------
    ntotal : int
        Number of stored codes.
    codes : ndarray of uint8, shape (ntotal, ceil(n_bits / 8))
        The stored codes (read-only view).

    Notes
    -----
    Codes are stored zero-padded to a multiple of 8 bytes so the kernels read them as
    64-bit words without copying the database on every call. The kernels are compiled on
    first use (a few seconds, cached on disk by numba afterwards). Measured speed against
    faiss's ``IndexBinaryFlat``: ``docs/benchmarks.md``.

    Examples
    --------
    >>> import numpy as np
    >>> from hashlearn.codes import pack_bits
    >>> database = pack_bits([[0, 0, 0, 0], [1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]])
    >>> index = LinearScanIndex(n_bits=4).add(database)
    >>> distances, indices = index.search(pack_bits([[1, 0, 0, 0]]), k=3)
    >>> distances, indices
    (array([[0, 1, 1]], dtype=int32), array([[2, 0, 1]]))
    >>> lims, distances, indices = index.range_search(pack_bits([[0, 0, 0, 0]]), radius=1)
    >>> lims, indices
    (array([0, 3]), array([0, 2, 3]))
    """

    def __init__(self, n_bits: int, *, hasher: Any = None, n_threads: int | None = None) -> None:
        super().__init__(n_bits, hasher=hasher)
        self.n_threads = _kernels.check_n_threads(n_threads)

    def _storage_width(self) -> int:
        return 8 * ((self._n_bytes + 7) // 8)

    def _words(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Queries and database as ``uint64`` words (the database without a copy)."""
        database = self._store.view()
        return _kernels.as_words(queries), database.view(np.uint64)

    def _add(self, codes: np.ndarray, first_id: int) -> None:
        pass  # the code store is the whole index

    def _search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        query_words, database = self._words(queries)
        with _kernels.threads(self.n_threads):
            return _kernels.knn_scan(query_words, database, min(k, self.ntotal), self._n_bits)

    def _range_search(
        self, queries: np.ndarray, radius: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        query_words, database = self._words(queries)
        with _kernels.threads(self.n_threads):
            return _kernels.range_scan(query_words, database, radius)

    def _get_state(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, np.ndarray]]:
        params, attributes, arrays = super()._get_state()
        params["n_threads"] = self.n_threads
        return params, attributes, arrays

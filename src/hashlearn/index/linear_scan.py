"""Exact Hamming search by linear scan: the oracle every other index is tested against.

:class:`LinearScanIndex` runs the compiled kernels of :mod:`hashlearn.index._kernels.scan`:
codes as 64-bit words, hardware popcount, blocks of queries sharing cache-sized database
blocks, threads over queries, and top-k selection by counting over the small integer
distances (no sort). Memory is the output plus a few KiB per thread, whatever the sizes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hashlearn._numba import check_n_threads, threads
from hashlearn._registry import register
from hashlearn.codes import as_words
from hashlearn.index._base import BinaryIndex
from hashlearn.index._kernels.scan import ResultBudgetExceeded, knn_scan, range_scan

__all__ = ["LinearScanIndex"]


@register
class LinearScanIndex(BinaryIndex):
    """Exact Hamming k-NN and range search by scanning every stored code.

    Every query is compared with every code: XOR and hardware popcount on 64-bit words,
    in compiled, multithreaded kernels (:func:`hashlearn.index._kernels.scan.knn_scan`,
    :func:`~hashlearn.index._kernels.scan.range_scan`). Blocks of queries share
    cache-sized blocks of the database, and the ``k`` best are selected by counting over
    the small integer distances, never by sorting. Memory is bounded by the output: no
    queries x database matrix is formed. Results are exact and sorted by ``(distance,
    database id)``: ties break by the smaller database id, also at the ``k``-th position (see
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

    _folder_support = True

    def __init__(self, n_bits: int, *, hasher: Any = None, n_threads: int | None = None) -> None:
        super().__init__(n_bits, hasher=hasher)
        self.n_threads = check_n_threads(n_threads)

    def _storage_width(self) -> int:
        return 8 * ((self._n_bytes + 7) // 8)

    def _words(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Queries and database as ``uint64`` words (the database without a copy)."""
        database = self._store.view()
        return as_words(queries), database.view(np.uint64)

    def _add(self, codes: np.ndarray, first_id: int) -> None:
        pass  # the code store is the whole index

    def _search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        query_words, database = self._words(queries)
        with threads(self.n_threads):
            return knn_scan(query_words, database, min(k, self.ntotal), self._n_bits)

    def _range_search(
        self, queries: np.ndarray, radius: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        query_words, database = self._words(queries)
        with threads(self.n_threads):
            return range_scan(query_words, database, radius)

    def _budgeted_range_search(
        self, queries: np.ndarray, radius: int, budget: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # The scan counts its results before it allocates them: one pass over the codes
        # for every query, where splitting the queries to bound the output would make one
        # pass per budget // ntotal queries (one per query from 10^8 codes).
        query_words, database = self._words(queries)
        try:
            with threads(self.n_threads):
                return range_scan(query_words, database, radius, max_results=budget)
        except ResultBudgetExceeded as exc:
            raise self._counted_past_budget(radius, budget, exc.lims) from None

    def _folder_params(self) -> dict[str, Any]:
        return {**super()._folder_params(), "n_threads": self.n_threads}

    def _get_state(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, np.ndarray]]:
        params, attributes, arrays = super()._get_state()
        params["n_threads"] = self.n_threads
        return params, attributes, arrays

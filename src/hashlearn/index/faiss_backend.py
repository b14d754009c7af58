"""Optional FAISS backend: faiss's binary indexes behind hashlearn's search contract.

Three wrappers, each a :class:`~hashlearn.index.BinaryIndex`:

* :class:`FaissBinaryFlat` wraps ``faiss.IndexBinaryFlat`` (exhaustive, exact);
* :class:`FaissBinaryHash` wraps ``faiss.IndexBinaryHash(d, b)`` (one hash table keyed
  by the first ``bits_per_table`` bits, keys within ``probe_radius`` bit flips probed);
* :class:`FaissBinaryMultiHash` wraps ``faiss.IndexBinaryMultiHash(d, nhash, b)``
  (``n_tables`` tables keyed by consecutive ``bits_per_table``-bit substrings, keys within
  ``probe_radius`` flips probed in each).

Parameter names follow hashlearn's other indexes, one name per concept: faiss's ``nhash``
is ``n_tables``, its ``b`` is ``bits_per_table`` and its ``nflip`` is ``probe_radius``.

They need the optional dependency faiss (``pip install 'hashlearn[faiss]'``). This module
imports it only when an index is created, so ``import hashlearn`` and importing this
module work without it; creating (or loading) an index without faiss raises an
``ImportError`` that names the extra to install.

What the wrappers add to faiss
------------------------------
* **Any** ``n_bits``. faiss needs a dimension that is a multiple of 8; hashlearn codes of
  ``n_bits`` bits are ``ceil(n_bits / 8)`` bytes with zero padding bits
  (:mod:`hashlearn.codes`), so they are handed to faiss as they are, with
  ``d = 8 * ceil(n_bits / 8)``: the padding bits are zero in every code and query, and
  Hamming distances are unchanged.
* **hashlearn's output types.** ``int32`` distances, ``int64`` ids, ``-1`` in *both* arrays
  where a row has fewer than ``k`` results (faiss puts ``INT32_MAX`` in the distances);
  ``range_search`` returns ``int64`` lims and ``int32`` distances (faiss returns
  ``uint64`` lims and ``float32`` distances).
* **hashlearn's radius.** ``range_search(queries, radius)`` returns distances
  ``<= radius``; faiss's binary ``range_search`` returns distances ``< radius``, so the
  wrappers ask faiss for ``radius + 1``.
* **The** ``(distance, id)`` **order.** faiss returns range results unsorted; the wrappers
  sort every list by ``(distance, database id)``. In k-NN, ``IndexBinaryFlat`` already
  keeps the ``k`` smallest ``(distance, id)`` pairs in that order (it scans the codes in id
  order and replaces its heap's top only on a strictly smaller pair), so
  :class:`FaissBinaryFlat` hands faiss's k-NN through unchanged: checked against the
  exhaustive reference in 336 configurations (faiss 1.15.1: 8 to 64 bits, 50 to 200,000
  codes, many ties, k from 1 to 40,000, 1 and 2 threads, heap and counting search), and
  by the contract tests on every run. The hash indexes visit candidates in bucket order
  and keep the first of tied candidates they meet (42 and 105 of 192 configurations
  differed from the ``(distance, id)`` order at the ``k``-th position), so for them
  faiss is asked for ``k' = k + max(k, 16)`` neighbours; a query whose tie at the
  ``k``-th distance ``t`` may run past the ``k'`` returned ones (the ``k'``-th distance is
  still ``t``) is completed with one range search of radius ``t`` over the same
  candidates, from which the ``k`` smallest ``(distance, id)`` pairs are kept. Results
  therefore do not depend on faiss's heap or on the number of threads.
* **Threads.** ``n_threads`` sets ``faiss.omp_set_num_threads`` around each call to faiss
  and restores the previous value afterwards (``None``: faiss's current setting). faiss's
  OpenMP threads spin-wait for a while after each call; on a machine with few cores that
  also runs other threaded code (numba, BLAS, other processes) this can slow every call
  considerably, and ``n_threads=1`` (or ``OMP_WAIT_POLICY=PASSIVE`` in the environment)
  avoids it.
* **Persistence** without pickle: ``index.save(path)`` stores the codes in hashlearn's
  format (:mod:`hashlearn.persistence`) and :func:`hashlearn.load` rebuilds the faiss
  index from them; no ``faiss.write_index`` file is involved.

What each index guarantees
--------------------------
Every returned distance is the true Hamming distance, no id appears twice in a row, and
every list is sorted by ``(distance, id)``.

``FaissBinaryFlat`` is exact: ``search`` and ``range_search`` return the same arrays as
:class:`~hashlearn.index.LinearScanIndex`.

``FaissBinaryHash(n_bits, bits_per_table=b, probe_radius=f)`` keys each code by its first
``b`` bits (bits ``0 .. b - 1``) and visits every bucket whose key is within Hamming distance ``f``
of the query's key, ``f`` included (``sum_{i <= f} C(b, i)`` probes per query). The
*candidates* of a query are the members of those buckets; their full distances are
computed. ``range_search`` returns exactly the candidates within ``radius`` and
``search`` the ``k`` smallest ``(distance, id)`` pairs among the candidates (fewer, padded
with ``-1``, when there are fewer than ``k`` candidates). Since the distance between two
keys never exceeds the distance between the codes:

* ``range_search`` is exact when ``f >= min(radius, b)``; otherwise it returns a subset of
  the exact results (those found), growing with ``f``;
* ``search`` is exact (equal to :class:`~hashlearn.index.LinearScanIndex`) when
  ``f >= min(D_k, b)``, ``D_k`` being the true distance of the query's ``k``-th nearest
  code (of the farthest code when ``ntotal < k``); ``f >= b``: always exact.

``FaissBinaryMultiHash(n_bits, n_tables=m, bits_per_table=b, probe_radius=f)`` keys table
``h`` by bits
``h * b .. (h + 1) * b - 1`` and takes as candidates the union, over the ``m`` tables,
of the buckets within ``f`` flips of the query's substring. A code within distance
``r`` of the query has, by the pigeonhole principle, a substring within
``floor(r / m)`` of the query's, so:

* ``range_search`` is exact when ``f >= min(floor(radius / m), b)``; otherwise it returns
  a subset of the exact results;
* ``search`` is exact when ``f >= min(floor(D_k / m), b)``.

These are sufficient conditions; below them results are exact for the codes that
happen to share a close enough key. (faiss's wiki describes the probe set as buckets
"at a Hamming distance < nflip"; faiss's code, and the tests of this module, visit
distances ``<= nflip``, i.e. ``<= probe_radius``.)
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import numpy as np

from hashlearn._registry import register
from hashlearn._validation import check_int, check_n_bits
from hashlearn.index._base import BinaryIndex

__all__ = [
    "FAISS_INSTALL_HINT",
    "FaissBinaryFlat",
    "FaissBinaryHash",
    "FaissBinaryMultiHash",
    "import_faiss",
    "sort_knn_rows",
    "sort_range_rows",
]

FAISS_INSTALL_HINT = "pip install 'hashlearn[faiss]'"

# faiss keys are uint64 and its mask is computed as (1 << b) - 1, undefined for b = 64.
_MAX_KEY_BITS = 63
# Default key length: 2**16 buckets, a sensible table for 10**4 .. 10**7 codes.
_DEFAULT_KEY_BITS = 16
# k-NN asks faiss for k + max(k, _EXTRA_NEIGHBOURS) results to see past ties at the k-th.
_EXTRA_NEIGHBOURS = 16
# Query x code pairs per range search that completes ties (bounds its result memory).
_COMPLETION_BLOCK = 2**22
# Bytes read past a code by faiss's hash indexes (they load keys as unaligned uint64).
_SLACK_BYTES = 8


def import_faiss() -> ModuleType:
    """Import and return faiss, or raise ``ImportError`` naming the extra to install."""
    try:
        import faiss
    except ImportError as exc:
        raise ImportError(
            "the FAISS backend of hashlearn needs the optional dependency faiss, which is "
            f"not installed; install it with: {FAISS_INSTALL_HINT}"
        ) from exc
    return faiss


def _check_n_threads(n_threads: Any) -> int | None:
    if n_threads is None:
        return None
    return check_int(n_threads, "n_threads", low=1)


@contextmanager
def _omp_threads(faiss: ModuleType, n_threads: int | None) -> Iterator[None]:
    """Run the block with faiss's OpenMP thread count set to ``n_threads``, then restore it."""
    if n_threads is None:
        yield
        return
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n_threads)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def _with_slack(codes: np.ndarray) -> np.ndarray:
    """``codes`` copied into a buffer with ``_SLACK_BYTES`` zero bytes after the last row.

    faiss's hash indexes read each key as an unaligned ``uint64`` starting inside the
    code (``*(uint64_t*)(code + offset)``), which runs past the end of the last code when
    codes are shorter than 8 bytes; the slack keeps those reads inside memory we own.
    Only the bits of the code itself are kept by faiss's mask.
    """
    n, width = codes.shape
    buffer = np.zeros(n * width + _SLACK_BYTES, dtype=np.uint8)
    view = buffer[: n * width].reshape(n, width)
    view[...] = codes
    return view


def sort_knn_rows(distances: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort each row of faiss k-NN output by ``(distance, id)``, missing entries last.

    Missing entries (``id == -1``) become ``-1`` in both arrays.

    Returns
    -------
    distances : ndarray of int32, shape (n, k)
    ids : ndarray of int64, shape (n, k)
    """
    found = ids >= 0
    sort_distances = np.where(found, distances, np.iinfo(np.int32).max).astype(np.int64)
    order = np.lexsort((ids, sort_distances), axis=-1)
    out_d = np.take_along_axis(sort_distances, order, axis=1)
    out_i = np.take_along_axis(ids, order, axis=1).astype(np.int64, copy=False)
    out_d[out_i < 0] = -1
    return out_d.astype(np.int32), out_i


def sort_range_rows(
    lims: np.ndarray, distances: np.ndarray, ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort each query's slice of a CSR range result by ``(distance, id)``.

    Returns ``int64`` lims, ``int32`` distances and ``int64`` ids.
    """
    lims = np.asarray(lims).astype(np.int64)
    distances = np.asarray(distances).astype(np.int32)
    ids = np.asarray(ids).astype(np.int64, copy=False)
    rows = np.repeat(np.arange(lims.shape[0] - 1), np.diff(lims))
    order = np.lexsort((ids, distances, rows))
    return lims, distances[order], ids[order]


class _FaissBinaryIndex(BinaryIndex):
    """What the three wrappers share: conversion, tie completion, threads, persistence."""

    # Whether faiss's own k-NN already returns the k smallest (distance, id) pairs in order.
    _keeps_smallest_pairs = False

    _needs_slack = False

    def __init__(self, n_bits: int, *, n_threads: int | None = None, hasher: Any = None) -> None:
        self._n_threads = _check_n_threads(n_threads)
        self._faiss = import_faiss()
        super().__init__(n_bits, hasher=hasher)
        self._index = self._new_faiss_index()

    # -- to be provided by each wrapper ----------------------------------------------------
    def _new_faiss_index(self) -> Any:
        raise NotImplementedError

    def _params(self) -> dict[str, Any]:
        """Constructor parameters besides ``n_bits`` (saved with the index)."""
        return {"n_threads": self._n_threads}

    # -- properties --------------------------------------------------------------------------
    @property
    def n_threads(self) -> int | None:
        """OpenMP threads faiss uses during this index's calls (None: faiss's setting)."""
        return self._n_threads

    @n_threads.setter
    def n_threads(self, n_threads: int | None) -> None:
        self._n_threads = _check_n_threads(n_threads)

    @property
    def faiss_index(self) -> Any:
        """The wrapped faiss index (read from it; adding to it directly desynchronises)."""
        return self._index

    @property
    def faiss_d(self) -> int:
        """The dimension given to faiss: ``8 * ceil(n_bits / 8)`` (padding bits are zero)."""
        return 8 * self._n_bytes

    def _repr_fields(self) -> dict[str, str]:
        return {name: repr(value) for name, value in self._params().items()}

    # -- calls into faiss ----------------------------------------------------------------------
    def _prepared(self, codes: np.ndarray) -> np.ndarray:
        return _with_slack(codes) if self._needs_slack else np.ascontiguousarray(codes)

    def _faiss_search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        with _omp_threads(self._faiss, self._n_threads):
            distances, ids = self._index.search(self._prepared(queries), k)
        return distances, ids

    def _faiss_range(
        self, queries: np.ndarray, radius: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every candidate within distance ``radius`` (inclusive), sorted by (distance, id)."""
        with _omp_threads(self._faiss, self._n_threads):
            lims, distances, ids = self._index.range_search(self._prepared(queries), radius + 1)
        return sort_range_rows(lims, distances, ids)

    # -- BinaryIndex hooks ---------------------------------------------------------------------
    def _add(self, codes: np.ndarray, first_id: int) -> None:
        with _omp_threads(self._faiss, self._n_threads):
            self._index.add(self._prepared(codes))

    def _reset(self) -> None:
        # A fresh index rather than faiss's reset(): IndexBinaryMultiHash::reset clears
        # copies of its hash maps and leaves the old ids in place.
        self._index = self._new_faiss_index()

    def _range_search(
        self, queries: np.ndarray, radius: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self._faiss_range(queries, radius)

    def _search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        ntotal = self.ntotal
        kk = min(k, ntotal)
        if self._keeps_smallest_pairs:
            distances, ids = self._faiss_search(queries, kk)
            return np.where(ids < 0, -1, distances).astype(np.int32, copy=False), ids
        asked = min(ntotal, kk + max(kk, _EXTRA_NEIGHBOURS))
        distances, ids = sort_knn_rows(*self._faiss_search(queries, asked))
        top_d = np.ascontiguousarray(distances[:, :kk])
        top_i = np.ascontiguousarray(ids[:, :kk])
        if asked < ntotal:
            # faiss keeps *some* `asked` smallest candidates. When the asked-th distance
            # is larger than the k-th, every candidate at the k-th distance is among them;
            # when it is equal, the tie may continue past them and is completed below.
            # (A row with fewer than `asked` results holds every candidate.)
            open_tie = (ids[:, asked - 1] >= 0) & (distances[:, asked - 1] == distances[:, kk - 1])
            rows = np.flatnonzero(open_tie)
            if rows.size:
                self._complete_ties(queries, rows, distances[rows, kk - 1], kk, top_d, top_i)
        return top_d, top_i

    def _complete_ties(
        self,
        queries: np.ndarray,
        rows: np.ndarray,
        thresholds: np.ndarray,
        kk: int,
        top_d: np.ndarray,
        top_i: np.ndarray,
    ) -> None:
        """Fill ``top_*[rows]`` with the ``kk`` smallest ``(distance, id)`` candidates.

        Row ``rows[j]``'s ``kk``-th distance is ``thresholds[j]``: a range search of that
        radius over the same candidates returns all of them that can be selected.
        """
        block = max(1, _COMPLETION_BLOCK // self.ntotal)
        for threshold in np.unique(thresholds):
            same = rows[thresholds == threshold]
            for start in range(0, same.shape[0], block):
                part = same[start : start + block]
                lims, distances, ids = self._faiss_range(queries[part], int(threshold))
                counts = np.diff(lims)
                assert np.all(counts >= kk), "a tie completion found fewer candidates than k"
                rank = np.arange(lims[-1]) - np.repeat(lims[:-1], counts)
                keep = rank < kk
                top_d[part] = distances[keep].reshape(-1, kk)
                top_i[part] = ids[keep].reshape(-1, kk)

    # -- persistence -----------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, np.ndarray]]:
        params, attributes, arrays = super()._get_state()
        params.update(self._params())
        return params, attributes, arrays


@register
class FaissBinaryFlat(_FaissBinaryIndex):
    """Exact Hamming search with faiss's ``IndexBinaryFlat`` (exhaustive scan).

    Returns exactly what :class:`~hashlearn.index.LinearScanIndex` returns: every list is
    sorted by ``(distance, database id)``, also at the ``k``-th position (faiss's
    ``IndexBinaryFlat`` keeps that order itself; see :mod:`hashlearn.index.faiss_backend`).
    Requires faiss (``pip install 'hashlearn[faiss]'``).

    Parameters
    ----------
    n_bits : int
        Code length in bits, in ``[1, 4096]``; any value (faiss receives
        ``d = 8 * ceil(n_bits / 8)``, the padding bits being zero).
    n_threads : int, optional
        OpenMP threads faiss uses during this index's calls (restored afterwards);
        None (default) keeps faiss's current setting.
    hasher : hasher, optional
        The hasher that produced the codes; enables :meth:`add_vectors` /
        :meth:`search_vectors` and is saved with the index.

    Attributes
    ----------
    ntotal : int
        Number of stored codes.
    codes : ndarray of uint8, shape (ntotal, ceil(n_bits / 8))
        The stored codes (read-only view).
    faiss_index : faiss.IndexBinaryFlat
        The wrapped index.

    Notes
    -----
    The codes are held twice, by hashlearn (for :attr:`codes` and :meth:`save`) and by
    faiss. A k-NN search is one call to faiss for ``k`` neighbours.

    Examples
    --------
    >>> import numpy as np
    >>> from hashlearn.codes import pack_bits
    >>> database = pack_bits([[0, 0, 0, 0], [1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]])
    >>> index = FaissBinaryFlat(n_bits=4).add(database)
    >>> index.search(pack_bits([[1, 0, 0, 0]]), k=3)
    (array([[0, 1, 1]], dtype=int32), array([[2, 0, 1]]))
    >>> lims, distances, indices = index.range_search(pack_bits([[0, 0, 0, 0]]), radius=1)
    >>> lims, indices
    (array([0, 3]), array([0, 2, 3]))
    """

    _keeps_smallest_pairs = True

    def __init__(self, n_bits: int, *, n_threads: int | None = None, hasher: Any = None) -> None:
        super().__init__(n_bits, n_threads=n_threads, hasher=hasher)

    def _new_faiss_index(self) -> Any:
        return self._faiss.IndexBinaryFlat(self.faiss_d)


def _check_probe_radius(probe_radius: Any) -> int:
    return check_int(probe_radius, "probe_radius", low=0)


def _check_bits_per_table(bits_per_table: Any, n_bits: int) -> int:
    name = "bits_per_table"
    high = min(n_bits, _MAX_KEY_BITS)
    value = (
        check_int(bits_per_table, name)
        if bits_per_table is not None
        else min(n_bits, _DEFAULT_KEY_BITS)
    )
    if not 1 <= value <= high:
        raise ValueError(
            f"{name} (bits per hash key) must be in [1, {high}] for n_bits={n_bits}, got "
            f"{value}; a key is made of bits of the code, and faiss keys hold at most "
            f"{_MAX_KEY_BITS} bits"
        )
    return value


def _n_probes(bits_per_table: int, probe_radius: int) -> int:
    return sum(math.comb(bits_per_table, i) for i in range(min(probe_radius, bits_per_table) + 1))


class _FaissProbingIndex(_FaissBinaryIndex):
    """A faiss hash index: keys of ``bits_per_table`` bits probed within ``probe_radius`` flips."""

    _bits_per_table: int
    _probe_radius: int

    @property
    def bits_per_table(self) -> int:
        """Bits in each hash key (per table for the multi-hash index)."""
        return self._bits_per_table

    @property
    def probe_radius(self) -> int:
        """Largest number of key bits flipped when probing a table (settable)."""
        return self._probe_radius

    @probe_radius.setter
    def probe_radius(self, probe_radius: int) -> None:
        self._probe_radius = _check_probe_radius(probe_radius)
        self._index.nflip = min(self._probe_radius, self._bits_per_table)


@register
class FaissBinaryHash(_FaissProbingIndex):
    """One hash table on the first ``bits_per_table`` bits, probed with flips (faiss).

    Wraps ``faiss.IndexBinaryHash(d, b)`` with ``b = bits_per_table``: each code goes to
    the bucket keyed by its bits ``0 .. b - 1``; a query visits every bucket whose key is
    within Hamming distance ``probe_radius`` of its own (``probe_radius`` included; faiss's
    ``nflip``) and computes the full distance of their members, its *candidates*. Requires
    faiss (``pip install 'hashlearn[faiss]'``).

    Guarantees: ``range_search`` returns exactly the candidates within ``radius``, which
    is every code within ``radius`` when ``probe_radius >= min(radius, bits_per_table)``
    (otherwise a subset); ``search`` returns the ``k`` smallest ``(distance, id)`` pairs
    among the candidates, which is the exact answer of
    :class:`~hashlearn.index.LinearScanIndex` when
    ``probe_radius >= min(D_k, bits_per_table)`` (``D_k``: the true distance of the
    ``k``-th nearest code, or of the farthest when ``ntotal < k``), and fewer than ``k``
    results (padded with ``-1``) when fewer candidates exist. Lists are sorted by
    ``(distance, database id)``.

    Parameters
    ----------
    n_bits : int
        Code length in bits, in ``[1, 4096]``.
    bits_per_table : int, optional
        Bits in the hash key (the first ``bits_per_table`` bits of the code), in
        ``[1, min(n_bits, 63)]``; default ``min(n_bits, 16)``. Pick it near
        ``log2(ntotal)`` so buckets hold a few codes each.
    probe_radius : int, default 0
        Largest number of key bits flipped when probing (faiss's default, 0, probes
        only the query's own bucket). Values above ``bits_per_table`` act as
        ``bits_per_table`` (every bucket). Can be changed between searches
        (``index.probe_radius = 2``).
    n_threads : int, optional
        OpenMP threads faiss uses during this index's calls (restored afterwards);
        faiss parallelises over queries when there are more than 100.
    hasher : hasher, optional
        The hasher that produced the codes; saved with the index.

    Attributes
    ----------
    n_probes : int
        Buckets visited per query, ``sum_{i <= probe_radius} C(bits_per_table, i)``.
    faiss_index : faiss.IndexBinaryHash
        The wrapped index.

    Notes
    -----
    A query costs ``n_probes`` hash-table lookups plus one distance per candidate; with
    ``bits_per_table`` and ``probe_radius`` both large the number of probes explodes
    (``bits_per_table=32, probe_radius=6``: about a million per query).

    Examples
    --------
    >>> import numpy as np
    >>> from hashlearn.codes import pack_bits
    >>> database = pack_bits([[0, 0, 0, 0], [1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]])
    >>> index = FaissBinaryHash(n_bits=4, bits_per_table=4, probe_radius=1).add(database)
    >>> lims, distances, indices = index.range_search(pack_bits([[0, 0, 0, 0]]), radius=1)
    >>> distances, indices
    (array([0, 1, 1], dtype=int32), array([0, 2, 3]))
    >>> index.probe_radius = 0  # only the query's own bucket, which holds code 1 alone
    >>> index.search(pack_bits([[1, 1, 0, 0]]), k=2)
    (array([[ 0, -1]], dtype=int32), array([[ 1, -1]]))
    """

    _needs_slack = True

    def __init__(
        self,
        n_bits: int,
        *,
        bits_per_table: int | None = None,
        probe_radius: int = 0,
        n_threads: int | None = None,
        hasher: Any = None,
    ) -> None:
        checked_bits = check_n_bits(n_bits)
        self._bits_per_table = _check_bits_per_table(bits_per_table, checked_bits)
        self._probe_radius = _check_probe_radius(probe_radius)
        super().__init__(checked_bits, n_threads=n_threads, hasher=hasher)

    @property
    def n_probes(self) -> int:
        """Buckets visited per query: ``sum_{i <= min(f, b)} C(b, i)``.

        ``f = probe_radius``, ``b = bits_per_table``.
        """
        return _n_probes(self._bits_per_table, self._probe_radius)

    @property
    def n_buckets(self) -> int:
        """Number of non-empty buckets."""
        return int(self._index.hashtable_size())

    def _params(self) -> dict[str, Any]:
        return {
            "bits_per_table": self._bits_per_table,
            "probe_radius": self._probe_radius,
            **super()._params(),
        }

    def _new_faiss_index(self) -> Any:
        index = self._faiss.IndexBinaryHash(self.faiss_d, self._bits_per_table)
        # faiss enumerates flips of up to nflip bits of a b-bit key: beyond b it shifts by a
        # negative amount, so nflip is clipped (b flips already reach every key).
        index.nflip = min(self._probe_radius, self._bits_per_table)
        return index


@register
class FaissBinaryMultiHash(_FaissProbingIndex):
    """``n_tables`` hash tables on consecutive substrings of the code, probed with flips (faiss).

    Wraps ``faiss.IndexBinaryMultiHash(d, nhash, b)`` with ``nhash = n_tables`` and
    ``b = bits_per_table``: table ``h`` keys each code by its bits
    ``h * b .. (h + 1) * b - 1``; a query's candidates are the union over tables of the
    buckets within ``probe_radius`` flips (included; faiss's ``nflip``) of its own
    substring, de-duplicated, whose full distances are then computed (the multi-index
    hashing idea of Norouzi et al., without its radius-growing search). Requires faiss
    (``pip install 'hashlearn[faiss]'``).

    Guarantees: ``range_search`` returns exactly the candidates within ``radius``, which
    is every code within ``radius`` when
    ``probe_radius >= min(floor(radius / n_tables), bits_per_table)`` (pigeonhole: some
    substring is that close); otherwise a subset. ``search`` returns the ``k`` smallest
    ``(distance, id)`` pairs among the candidates, exact when
    ``probe_radius >= min(floor(D_k / n_tables), bits_per_table)``, padded with ``-1``
    when fewer than ``k`` candidates exist. Lists are sorted by ``(distance, database id)``.

    Parameters
    ----------
    n_bits : int
        Code length in bits, in ``[1, 4096]``.
    n_tables : int, optional
        Number of tables, with ``n_tables * bits_per_table <= n_bits``. Default:
        ``n_bits // bits_per_table``, so the substrings cover the code (up to
        ``n_bits % bits_per_table`` bits left over).
    bits_per_table : int, optional
        Bits per substring key, in ``[1, min(n_bits, 63)]``. Default
        ``min(n_bits, 16)`` when ``n_tables`` is not given either, else
        ``min(n_bits // n_tables, 63)``.
    probe_radius : int, default 0
        Largest number of key bits flipped per table (settable between searches; values
        above ``bits_per_table`` act as ``bits_per_table``).
    n_threads : int, optional
        OpenMP threads faiss uses during this index's calls (restored afterwards).
    hasher : hasher, optional
        The hasher that produced the codes; saved with the index.

    Attributes
    ----------
    n_probes : int
        Buckets visited per query,
        ``n_tables * sum_{i <= probe_radius} C(bits_per_table, i)``.
    faiss_index : faiss.IndexBinaryMultiHash
        The wrapped index.

    References
    ----------
    Norouzi, Punjani and Fleet, "Fast Search in Hamming Space with Multi-Index
    Hashing", CVPR 2012.

    Examples
    --------
    >>> import numpy as np
    >>> from hashlearn.codes import pack_bits
    >>> database = pack_bits([[0, 0, 0, 0], [1, 1, 0, 0], [1, 0, 0, 0], [1, 0, 1, 0]])
    >>> index = FaissBinaryMultiHash(n_bits=4, n_tables=2, bits_per_table=2).add(database)
    >>> index.n_tables, index.bits_per_table, index.probe_radius
    (2, 2, 0)
    >>> lims, distances, indices = index.range_search(pack_bits([[0, 0, 0, 0]]), radius=3)
    >>> distances, indices  # probe_radius=0 is exact up to radius 1: code 3, at 2, is missed
    (array([0, 1, 2], dtype=int32), array([0, 2, 1]))
    """

    _needs_slack = True

    def __init__(
        self,
        n_bits: int,
        *,
        n_tables: int | None = None,
        bits_per_table: int | None = None,
        probe_radius: int = 0,
        n_threads: int | None = None,
        hasher: Any = None,
    ) -> None:
        checked_bits = check_n_bits(n_bits)
        if n_tables is not None:
            n_tables = check_int(n_tables, "n_tables", low=1, high=checked_bits)
            if bits_per_table is None:
                bits_per_table = min(checked_bits // n_tables, _MAX_KEY_BITS)
        self._bits_per_table = _check_bits_per_table(bits_per_table, checked_bits)
        if n_tables is None:
            n_tables = checked_bits // self._bits_per_table
        if n_tables * self._bits_per_table > checked_bits:
            raise ValueError(
                "n_tables * bits_per_table must be <= n_bits (the substrings lie inside the "
                f"code), got n_tables={n_tables}, bits_per_table={self._bits_per_table}, "
                f"n_bits={checked_bits}"
            )
        self._n_tables = n_tables
        self._probe_radius = _check_probe_radius(probe_radius)
        super().__init__(checked_bits, n_threads=n_threads, hasher=hasher)

    @property
    def n_tables(self) -> int:
        """Number of hash tables."""
        return self._n_tables

    @property
    def n_probes(self) -> int:
        """Buckets visited per query: ``n_tables * sum_{i <= min(f, b)} C(b, i)``.

        ``f = probe_radius``, ``b = bits_per_table``.
        """
        return self._n_tables * _n_probes(self._bits_per_table, self._probe_radius)

    def _params(self) -> dict[str, Any]:
        return {
            "n_tables": self._n_tables,
            "bits_per_table": self._bits_per_table,
            "probe_radius": self._probe_radius,
            **super()._params(),
        }

    def _new_faiss_index(self) -> Any:
        index = self._faiss.IndexBinaryMultiHash(self.faiss_d, self._n_tables, self._bits_per_table)
        index.nflip = min(self._probe_radius, self._bits_per_table)
        return index

"""numpy references of the metrics of :mod:`hashlearn.evaluation` (and of Hamming distances).

Each compiled or counting path of :mod:`hashlearn.evaluation` has a slow, straightforward
numpy version here: the full distance matrix (or blocks of it), a stable argsort (ties by
database index), relevance gathered along the ranking. Sums run left to right in rank
order, as in the kernels, so the two agree exactly, not just to rounding. Use them to test
the library against an independent path, or your own metric implementation against these.
They are slow (``O(n_database log n_database)`` per query) and meant for small problems.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from hashlearn._validation import check_int, check_radius
from hashlearn.codes import check_codes, hamming_distances
from hashlearn.evaluation._checks import check_code_pair, check_cutoff, check_ks, resolve_n_bits
from hashlearn.evaluation._counting import (
    harmonic_numbers,
    precision_sums,
    query_blocks,
    sequential_sums,
    small_distances,
    tie_aware_per_query,
)
from hashlearn.evaluation._labels import Labels, prepare_labels
from hashlearn.evaluation.results import (
    MAPResult,
    PrecisionResult,
    RadiusPrecisionResult,
    _frozen,
    _map_result,
)

__all__ = [
    "hamming_distances_reference",
    "hamming_precision_at_k_reference",
    "mean_average_precision_reference",
    "precision_recall_curve_by_radius_reference",
    "precision_within_radius_reference",
    "ranking_statistics_reference",
    "tie_aware_map_reference",
]


def hamming_distances_reference(queries: Any, database: Any) -> np.ndarray:
    """Slow reference for :func:`hashlearn.codes.hamming_distances`.

    Unpacks every bit and counts the positions where query and database code differ.

    Parameters
    ----------
    queries : ndarray of uint8, shape (n_queries, n_bytes)
    database : ndarray of uint8, shape (n_database, n_bytes)

    Returns
    -------
    distances : ndarray of int32, shape (n_queries, n_database)

    Examples
    --------
    >>> import numpy as np
    >>> hamming_distances_reference(np.array([[0b0101]], np.uint8), np.array([[0b0011]], np.uint8))
    array([[2]], dtype=int32)
    """
    query_codes = check_codes(queries, name="queries")
    database_codes = check_codes(database, name="database")
    if query_codes.shape[1] != database_codes.shape[1]:
        raise ValueError(
            f"queries have {query_codes.shape[1]} bytes per code but database codes have "
            f"{database_codes.shape[1]}"
        )
    out = np.empty((query_codes.shape[0], database_codes.shape[0]), dtype=np.int32)
    for i, query in enumerate(query_codes):  # one query at a time: bounded scratch memory
        out[i] = np.unpackbits(query ^ database_codes, axis=1).sum(axis=1)
    return out


def _block_size(block_size: Any) -> int | None:
    return None if block_size is None else check_int(block_size, "block_size", low=1)


def mean_average_precision_reference(
    query_codes: Any,
    database_codes: Any,
    query_labels: Any,
    database_labels: Any,
    k: int | None = None,
    *,
    block_size: int | None = None,
) -> MAPResult:
    """numpy reference of :func:`hashlearn.evaluation.mean_average_precision`.

    Blocks of queries: the distance matrix of a block, a stable argsort of each row (ties
    by database index), the relevance gathered along it and ``AP`` summed left to right in
    rank order, as the compiled kernel does, so the two agree exactly.

    Parameters
    ----------
    query_codes, database_codes, query_labels, database_labels, k
        As in :func:`hashlearn.evaluation.mean_average_precision`.
    block_size : int or None, default None
        Queries per block; None picks one from ``n_database`` (about 1M pairs per block).
        The result does not depend on it.

    Returns
    -------
    MAPResult
    """
    queries, database = check_code_pair(query_codes, database_codes)
    labels = prepare_labels(query_labels, database_labels, queries.shape[0], database.shape[0])
    n_database = database.shape[0]
    size = None if k is None else check_cutoff(k, n_database, none_means_all=True)
    block_size = _block_size(block_size)
    per_query = np.empty(queries.shape[0], dtype=np.float64)
    for start, stop in query_blocks(queries.shape[0], n_database, block_size):
        distances = small_distances(queries[start:stop], database)
        order = np.argsort(distances, axis=1, kind="stable")
        del distances
        if size is not None:
            order = order[:, :size]
        ranked = np.take_along_axis(labels.block(start, stop), order, axis=1)
        del order
        sums, counts = precision_sums(ranked)
        with np.errstate(invalid="ignore", divide="ignore"):
            fill = np.nan if size is None else 0.0
            per_query[start:stop] = np.where(counts > 0, sums / counts, fill)
    n_excluded = int(np.isnan(per_query).sum())
    return _map_result(per_query, n_excluded)


def hamming_precision_at_k_reference(
    query_codes: Any,
    database_codes: Any,
    query_labels: Any,
    database_labels: Any,
    k: int,
    *,
    block_size: int | None = None,
) -> PrecisionResult:
    """numpy reference of :func:`hashlearn.evaluation.hamming_precision_at_k`.

    Blocks of queries, a stable argsort of each row of distances, the top ``k`` counted.

    Parameters
    ----------
    query_codes, database_codes, query_labels, database_labels, k
        As in :func:`hashlearn.evaluation.hamming_precision_at_k`.
    block_size : int or None, default None
        Queries per block (see :func:`mean_average_precision_reference`).

    Returns
    -------
    PrecisionResult
    """
    queries, database = check_code_pair(query_codes, database_codes)
    labels = prepare_labels(query_labels, database_labels, queries.shape[0], database.shape[0])
    k = check_cutoff(k, database.shape[0])
    block_size = _block_size(block_size)
    per_query = np.empty(queries.shape[0], dtype=np.float64)
    for start, stop in query_blocks(queries.shape[0], database.shape[0], block_size):
        distances = small_distances(queries[start:stop], database)
        order = np.argsort(distances, axis=1, kind="stable")[:, :k]
        ranked = np.take_along_axis(labels.block(start, stop), order, axis=1)
        per_query[start:stop] = ranked.sum(axis=1) / float(k)
    return PrecisionResult(float(per_query.mean()), _frozen(per_query))


def precision_within_radius_reference(
    query_codes: Any,
    database_codes: Any,
    query_labels: Any,
    database_labels: Any,
    radius: int = 2,
    *,
    block_size: int | None = None,
) -> RadiusPrecisionResult:
    """numpy reference of :func:`hashlearn.evaluation.precision_within_radius`.

    Blocks of the distance matrix, thresholded at ``radius`` and counted.

    Parameters
    ----------
    query_codes, database_codes, query_labels, database_labels, radius
        As in :func:`hashlearn.evaluation.precision_within_radius`.
    block_size : int or None, default None
        Queries per block (see :func:`mean_average_precision_reference`).

    Returns
    -------
    RadiusPrecisionResult
    """
    queries, database = check_code_pair(query_codes, database_codes)
    labels = prepare_labels(query_labels, database_labels, queries.shape[0], database.shape[0])
    radius = check_radius(radius)
    block_size = _block_size(block_size)
    retrieved = np.empty(queries.shape[0], dtype=np.int64)
    relevant_retrieved = np.empty(queries.shape[0], dtype=np.int64)
    for start, stop in query_blocks(queries.shape[0], database.shape[0], block_size):
        within = hamming_distances(queries[start:stop], database) <= radius
        retrieved[start:stop] = within.sum(axis=1)
        within &= labels.block(start, stop)
        relevant_retrieved[start:stop] = within.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_query = np.where(retrieved > 0, relevant_retrieved / retrieved, 0.0)
    return RadiusPrecisionResult(
        float(per_query.mean()), _frozen(per_query), float((retrieved == 0).mean())
    )


def _distance_histograms(
    queries: np.ndarray,
    database: np.ndarray,
    labels: Labels,
    n_bins: int,
    block_size: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per query: number of items, and of relevant items, at each distance ``0..n_bins-1``.

    The numpy reference of the kernel's pass 1 (blocks of the distance matrix, bincount).
    """
    n_queries = queries.shape[0]
    items = np.empty((n_queries, n_bins), dtype=np.int64)
    relevant = np.empty((n_queries, n_bins), dtype=np.int64)
    for start, stop in query_blocks(n_queries, database.shape[0], block_size):
        distances = hamming_distances(queries[start:stop], database)
        if distances.size and distances.max() >= n_bins:
            raise ValueError(
                f"a Hamming distance of {distances.max()} exceeds n_bits={n_bins - 1}; "
                "n_bits does not match the codes"
            )
        keys = distances + (np.arange(stop - start, dtype=np.int64) * n_bins)[:, None]
        size = (stop - start) * n_bins
        items[start:stop] = np.bincount(keys.ravel(), minlength=size).reshape(-1, n_bins)
        is_relevant = labels.block(start, stop)
        relevant[start:stop] = np.bincount(keys[is_relevant], minlength=size).reshape(-1, n_bins)
    return items, relevant


def precision_recall_curve_by_radius_reference(
    query_codes: Any,
    database_codes: Any,
    query_labels: Any,
    database_labels: Any,
    *,
    n_bits: int | None = None,
    average: Literal["macro", "micro"] = "macro",
    block_size: int | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """numpy reference of :func:`hashlearn.evaluation.precision_recall_curve_by_radius`.

    Per-query histograms of the distances (blocks of the distance matrix, ``bincount``),
    then cumulative sums over the radius.

    Parameters
    ----------
    query_codes, database_codes, query_labels, database_labels, n_bits, average
        As in :func:`hashlearn.evaluation.precision_recall_curve_by_radius`.
    block_size : int or None, default None
        Queries per block (see :func:`mean_average_precision_reference`).

    Returns
    -------
    radii, precision, recall : ndarray, each of shape (n_bits + 1,)
    """
    queries, database = check_code_pair(query_codes, database_codes)
    labels = prepare_labels(query_labels, database_labels, queries.shape[0], database.shape[0])
    if average not in ("macro", "micro"):
        raise ValueError(f"average must be 'macro' or 'micro', got {average!r}")
    n_bits = resolve_n_bits(n_bits, queries, database)
    block_size = _block_size(block_size)
    items, relevant = _distance_histograms(queries, database, labels, n_bits + 1, block_size)
    retrieved = np.cumsum(items, axis=1)
    hits = np.cumsum(relevant, axis=1)
    n_relevant = hits[:, -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        if average == "macro":
            precision = np.where(retrieved > 0, hits / retrieved, 0.0).mean(axis=0)
            has_relevant = n_relevant > 0
            if has_relevant.any():
                recall = (hits[has_relevant] / n_relevant[has_relevant, None]).mean(axis=0)
            else:
                recall = np.full(n_bits + 1, np.nan)
        else:
            total_retrieved = retrieved.sum(axis=0)
            total_hits = hits.sum(axis=0)
            precision = np.where(total_retrieved > 0, total_hits / total_retrieved, 0.0)
            total_relevant = n_relevant.sum()
            recall = total_hits / total_relevant if total_relevant else np.full(n_bits + 1, np.nan)
    return np.arange(n_bits + 1, dtype=np.int64), precision, recall


def tie_aware_map_reference(
    query_codes: Any,
    database_codes: Any,
    query_labels: Any,
    database_labels: Any,
    *,
    block_size: int | None = None,
) -> MAPResult:
    """numpy reference of :func:`hashlearn.evaluation.tie_aware_map`.

    Per-query histograms of the distances (blocks of the distance matrix, ``bincount``) and
    the closed form of He et al. (2018) given in :func:`~hashlearn.evaluation.tie_aware_map`.

    Parameters
    ----------
    query_codes, database_codes, query_labels, database_labels
        As in :func:`hashlearn.evaluation.tie_aware_map`.
    block_size : int or None, default None
        Queries per block (see :func:`mean_average_precision_reference`).

    Returns
    -------
    MAPResult
    """
    queries, database = check_code_pair(query_codes, database_codes)
    labels = prepare_labels(query_labels, database_labels, queries.shape[0], database.shape[0])
    block_size = _block_size(block_size)
    n_bins = 8 * queries.shape[1] + 1
    items, relevant = _distance_histograms(queries, database, labels, n_bins, block_size)
    per_query = tie_aware_per_query(items, relevant, harmonic_numbers(database.shape[0]))
    return _map_result(per_query, int(np.isnan(per_query).sum()))


def ranking_statistics_reference(
    query_codes: Any,
    database_codes: Any,
    query_labels: Any,
    database_labels: Any,
    ks: Iterable[int] = (),
    *,
    n_bits: int | None = None,
) -> dict[str, np.ndarray]:
    """The numpy reference of the ranking kernel: a full stable sort per query.

    Computes, from :func:`hashlearn.codes.hamming_distances` and a stable argsort of each
    query's distances (ties by database index), the statistics the compiled kernel
    produces by counting: ``items`` and ``relevant`` histograms over distances
    ``0..n_bits``, ``ap_all`` (sum over relevant items of the precision at their position),
    and for each cut-off in ``sorted(set(ks))``: ``hits`` (relevant items within the top K)
    and ``ap_sums`` (sum of the precision at the relevant positions ``<= K``). Sums run
    left to right in rank order, as in the kernel, so the two agree exactly. Slow
    (``O(n_database log n_database)`` per query, one dense row at a time); for tests.

    Parameters
    ----------
    query_codes, database_codes : ndarray of uint8
    query_labels, database_labels : array-like
        As in :func:`hashlearn.evaluation.mean_average_precision`.
    ks : iterable of int, default ()
        Cut-offs in ``[1, n_database]``.
    n_bits : int or None, default None
        None means ``8 * n_bytes``.

    Returns
    -------
    dict with keys ``"ks", "items", "relevant", "ap_all", "hits", "ap_sums"``.

    Examples
    --------
    >>> from hashlearn.codes import pack_bits
    >>> stats = ranking_statistics_reference(
    ...     pack_bits([[0, 0]]), pack_bits([[1, 1], [0, 0], [1, 0]]), [1], [1, 0, 1],
    ...     ks=[2], n_bits=2)
    >>> stats["items"].tolist(), stats["hits"].tolist()
    ([[1, 1, 1]], [[1]])
    """
    queries, database = check_code_pair(query_codes, database_codes)
    labels = prepare_labels(query_labels, database_labels, queries.shape[0], database.shape[0])
    n_bits = resolve_n_bits(n_bits, queries, database)
    n_database = database.shape[0]
    cutoffs = check_ks(ks, n_database, "ks")
    n_queries, n_bins = queries.shape[0], n_bits + 1
    out = {
        "ks": cutoffs,
        "items": np.zeros((n_queries, n_bins), dtype=np.int64),
        "relevant": np.zeros((n_queries, n_bins), dtype=np.int64),
        "ap_all": np.zeros(n_queries),
        "hits": np.zeros((n_queries, cutoffs.shape[0]), dtype=np.int64),
        "ap_sums": np.zeros((n_queries, cutoffs.shape[0])),
    }
    for i in range(n_queries):
        distances = hamming_distances(queries[i : i + 1], database)[0]
        is_relevant = labels.block(i, i + 1)[0]
        out["items"][i] = np.bincount(distances, minlength=n_bins)
        out["relevant"][i] = np.bincount(distances[is_relevant], minlength=n_bins)
        ranked = is_relevant[np.argsort(distances, kind="stable")]
        positions = np.flatnonzero(ranked) + 1
        precisions = np.arange(1, positions.shape[0] + 1) / positions
        out["ap_all"][i] = sequential_sums(
            precisions, np.zeros(1, np.int64), np.array([precisions.shape[0]])
        )[0]
        for s, k in enumerate(cutoffs):
            within = int(np.searchsorted(positions, k, side="right"))
            out["hits"][i, s] = within
            out["ap_sums"][i, s] = sequential_sums(
                precisions, np.zeros(1, np.int64), np.array([within])
            )[0]
    return out

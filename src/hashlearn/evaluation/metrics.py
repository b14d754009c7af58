"""Retrieval metrics for binary codes: pure functions, exactly defined.

Every metric in this module follows the definitions of ``PROTOCOLS.md``:

=====================  ==================================================================
relevance              single label (1-D labels): same class label; multi-label (2-D 0/1
                       indicator): shares at least one label.
Hamming ranking        the database ordered by (Hamming distance, database index): ties
                       break by database index, always (a stable order).
mAP@all                rank the whole database; AP = mean of the precision at each relevant
                       position; mAP = mean over queries; a query with no relevant item in
                       the database is excluded from the mean and counted.
mAP@K                  the same ranking truncated to the top K; AP normalised by the number
                       of relevant items within the top K; a query with none in the top K
                       scores 0 (it is not excluded).
P@K                    fraction of the top K of the Hamming ranking that is relevant.
P@r                    relevant items at distance <= r / all items at distance <= r; a query
                       that retrieves nothing scores 0; the fraction of empty queries is
                       reported beside it.
tie-aware mAP          expected AP@all over uniformly random orders within groups of equal
                       distance (He et al., CVPR 2018), in closed form.
tutorial P@k           candidates re-ranked by exact cosine (or Euclidean) distance on the
                       original vectors, ties by database index, top k, number relevant / k.
=====================  ==================================================================

``k=None`` always means "all"; a negative ``k`` is an error, never "all".

Nothing here materialises a dense ``(n_queries, n_database)`` matrix. The functions that take
codes (:func:`mean_average_precision`, :func:`hamming_precision_at_k`,
:func:`precision_within_radius`, :func:`precision_recall_curve_by_radius`,
:func:`tie_aware_map`) run the compiled counting kernel of :mod:`hashlearn.evaluation.ranking`:
per query, histograms of the small integer Hamming distances, then the exact rank of every
item under the (distance, index) order by counting -- no sort at all, ``O(n_database)`` scratch
per thread. Their previous numpy implementations (blocks of queries, a stable argsort, which
numpy runs as a radix sort on 8/16-bit keys) are kept as ``*_reference`` functions here, and the
tests compare the two. :func:`hamming_ranking` still materialises the ranking it returns.
Average precisions are sums of ``P@p`` taken left to right in rank order, in every function,
so the code-level and the ranked-matrix paths give identical numbers.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from hashlearn._validation import check_features
from hashlearn.codes import check_codes, hamming_distances
from hashlearn.index import Reranker

__all__ = [
    "MAPResult",
    "PrecisionResult",
    "RadiusPrecisionResult",
    "TutorialPrecisionResult",
    "hamming_precision_at_k",
    "hamming_ranking",
    "map_at_all",
    "map_at_k",
    "mean_average_precision",
    "precision_at_k",
    "precision_recall_curve_by_radius",
    "precision_within_radius",
    "ranked_relevance",
    "relevance",
    "tie_aware_map",
    "tutorial_precision_at_k",
]

# Query x database pairs handled per block: the scratch memory of one block is a few bytes
# per pair (distances, sort order, relevance), so about 25 MB at this setting; small blocks
# stay in cache, which measured faster than large ones.
_BLOCK_PAIRS = 1 << 20


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------


def _frozen(array: NDArray[Any]) -> NDArray[Any]:
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class MAPResult:
    """Mean average precision of a set of queries.

    Attributes
    ----------
    value : float
        Mean of ``per_query`` over the queries that were not excluded (NaN when every query
        was excluded).
    per_query : ndarray of float64, shape (n_queries,)
        Average precision of each query; NaN for an excluded query.
    n_queries_excluded : int
        Queries excluded from the mean (mAP@all: queries with no relevant item in the
        database; always 0 for mAP@K, where such a query scores 0).
    """

    value: float
    per_query: NDArray[np.float64]
    n_queries_excluded: int


@dataclass(frozen=True, eq=False)
class PrecisionResult:
    """Precision at K of a set of queries.

    Attributes
    ----------
    value : float
        Mean of ``per_query`` over all queries.
    per_query : ndarray of float64, shape (n_queries,)
    """

    value: float
    per_query: NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class RadiusPrecisionResult:
    """Precision within a Hamming radius.

    Attributes
    ----------
    value : float
        Mean of ``per_query`` over all queries, empty retrievals counted as 0.
    per_query : ndarray of float64, shape (n_queries,)
    empty_fraction : float
        Fraction of queries with no database item within the radius.
    """

    value: float
    per_query: NDArray[np.float64]
    empty_fraction: float


@dataclass(frozen=True, eq=False)
class TutorialPrecisionResult:
    """The tutorial's precision at k after re-ranking, under both empty-set conventions.

    Attributes
    ----------
    skip_empty : float
        Mean over queries with at least one candidate (the tutorial's convention); NaN when
        every candidate set is empty.
    empty_as_zero : float
        Mean over all queries, an empty candidate set scoring 0.
    per_query : ndarray of float64, shape (n_queries,)
        Precision of each query; NaN for a query with an empty candidate set.
    empty_fraction : float
        Fraction of queries with an empty candidate set.
    """

    skip_empty: float
    empty_as_zero: float
    per_query: NDArray[np.float64]
    empty_fraction: float


# --------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------


def _check_code_pair(query_codes: Any, database_codes: Any) -> tuple[np.ndarray, np.ndarray]:
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


def _check_k(k: Any, n_available: int, *, name: str = "k", what: str = "n_database") -> int:
    """Return ``k`` as an int in ``[1, n_available]``; ``None`` is handled by callers."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"{name} must be a positive int or None (meaning all), got {k!r}")
    k = int(k)
    if k < 1:
        raise ValueError(
            f"{name} must be a positive int or None (meaning all), got {k}; "
            "a negative value never means 'all' here"
        )
    if k > n_available:
        raise ValueError(
            f"{name} must be at most {what}={n_available}, got {k}; use {name}=None for all"
        )
    return k


def _check_block_size(block_size: Any) -> int | None:
    if block_size is None:
        return None
    if isinstance(block_size, bool) or not isinstance(block_size, numbers.Integral):
        raise TypeError(f"block_size must be a positive int or None, got {block_size!r}")
    if block_size < 1:
        raise ValueError(f"block_size must be a positive int or None, got {block_size}")
    return int(block_size)


def _blocks(n_queries: int, n_database: int, block_size: int | None) -> list[tuple[int, int]]:
    size = block_size if block_size is not None else max(1, _BLOCK_PAIRS // n_database)
    return [(start, min(start + size, n_queries)) for start in range(0, n_queries, size)]


def _small_distances(query_block: np.ndarray, database: np.ndarray) -> np.ndarray:
    """Hamming distances of a block as the narrowest unsigned dtype that holds them.

    8- and 16-bit keys make numpy's stable sort a radix (counting) sort.
    """
    distances = hamming_distances(query_block, database)
    max_distance = 8 * database.shape[1]
    return distances.astype(np.uint8 if max_distance <= 255 else np.uint16)


def _check_ranked(relevant_ranked: Any) -> np.ndarray:
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


# --------------------------------------------------------------------------------------
# Relevance
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Labels:
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


def _prepare_labels(
    query_labels: Any,
    database_labels: Any,
    n_queries: int | None = None,
    n_database: int | None = None,
) -> _Labels:
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
        return _Labels(True, _pack_label_sets(query), _pack_label_sets(database))
    if (query.dtype.kind in "biuf") != (database.dtype.kind in "biuf"):
        raise TypeError(
            f"query_labels (dtype {query.dtype}) and database_labels (dtype "
            f"{database.dtype}) must both be numeric or both be non-numeric"
        )
    _, ids = np.unique(np.concatenate([query, database]), return_inverse=True)
    ids = ids.astype(np.int64).ravel()
    return _Labels(False, ids[: query.shape[0]], ids[query.shape[0] :])


def relevance(query_labels: Any, database_labels: Any) -> NDArray[np.bool_]:
    """Ground-truth relevance of every database item to every query.

    Single label (1-D labels, or 2-D with one column): relevant = same class label.
    Multi-label (2-D 0/1 indicator matrices): relevant = shares at least one label (an item
    or query with no label is relevant to nothing).

    The result is dense ``(n_queries, n_database)``; for large sets call it on slices of
    ``query_labels`` (the rows are independent), or use :func:`ranked_relevance` on the
    output of :func:`hamming_ranking`. The code-level metrics below never build it whole.

    Parameters
    ----------
    query_labels : array-like, shape (n_queries,) or (n_queries, n_labels)
    database_labels : array-like, shape (n_database,) or (n_database, n_labels)

    Returns
    -------
    relevant : ndarray of bool, shape (n_queries, n_database)

    Examples
    --------
    >>> relevance([0, 1], [1, 0, 0]).astype(int)
    array([[0, 1, 1],
           [1, 0, 0]])
    >>> relevance([[1, 0], [0, 0]], [[1, 1], [0, 1]]).astype(int)
    array([[1, 0],
           [0, 0]])
    """
    labels = _prepare_labels(query_labels, database_labels)
    return labels.block(0, labels.query.shape[0])


def ranked_relevance(query_labels: Any, database_labels: Any, indices: Any) -> NDArray[np.bool_]:
    """Relevance looked up along a ranking: ``out[i, j] = relevant(query i, indices[i, j])``.

    Turns the ``indices`` of :func:`hamming_ranking` (or of any index's ``search``) into the
    ranked relevance matrix that :func:`precision_at_k`, :func:`map_at_all` and
    :func:`map_at_k` take. Padding entries (``-1``) are not relevant.

    Parameters
    ----------
    query_labels : array-like, shape (n_queries,) or (n_queries, n_labels)
    database_labels : array-like, shape (n_database,) or (n_database, n_labels)
    indices : array-like of int, shape (n_queries, n_ranked)
        Database indices in ranked order, ``-1`` for padding.

    Returns
    -------
    relevant_ranked : ndarray of bool, shape (n_queries, n_ranked)
    """
    array = np.asarray(indices)
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            "indices must be a 2-D integer array of shape (n_queries, n_ranked), got "
            f"shape {array.shape} and dtype {array.dtype}"
        )
    labels = _prepare_labels(query_labels, database_labels, n_queries=array.shape[0])
    n_database = labels.database.shape[0]
    if array.size and (array.min() < -1 or array.max() >= n_database):
        raise ValueError(
            f"indices must lie in [0, {n_database - 1}] (or be -1 for padding), got values in "
            f"[{array.min()}, {array.max()}]"
        )
    return labels.lookup(array.astype(np.int64, copy=False))


# --------------------------------------------------------------------------------------
# Hamming ranking
# --------------------------------------------------------------------------------------


def hamming_ranking(
    query_codes: Any,
    database_codes: Any,
    k: int | None = None,
    *,
    block_size: int | None = None,
) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
    """Rank the database for each query by (Hamming distance, database index).

    Tie rule: items at equal distance are ordered by increasing database index, always. The
    order is a counting sort over the integer distances (numpy's stable sort of 8/16-bit keys),
    never a float argsort, computed in blocks of queries so scratch memory stays bounded.

    Parameters
    ----------
    query_codes : ndarray of uint8, shape (n_queries, n_bytes)
    database_codes : ndarray of uint8, shape (n_database, n_bytes)
    k : int or None, default None
        Length of the ranking: ``None`` means the whole database; otherwise ``1 <= k <=
        n_database`` and the k-th item is included.
    block_size : int or None, default None
        Queries per block; None picks one from ``n_database`` (about 1M pairs per block).
        The result does not depend on it.

    Returns
    -------
    distances : ndarray of int32, shape (n_queries, K)
    indices : ndarray of int64, shape (n_queries, K)
        ``K = n_database`` when ``k`` is None, else ``k``.

    Examples
    --------
    >>> import numpy as np
    >>> q = np.array([[0b0000]], dtype=np.uint8)
    >>> db = np.array([[0b0011], [0b0001], [0b0010], [0b0000]], dtype=np.uint8)
    >>> hamming_ranking(q, db)
    (array([[0, 1, 1, 2]], dtype=int32), array([[3, 1, 2, 0]]))
    """
    queries, database = _check_code_pair(query_codes, database_codes)
    n_database = database.shape[0]
    size = n_database if k is None else _check_k(k, n_database)
    block_size = _check_block_size(block_size)
    out_distances = np.empty((queries.shape[0], size), dtype=np.int32)
    out_indices = np.empty((queries.shape[0], size), dtype=np.int64)
    for start, stop in _blocks(queries.shape[0], n_database, block_size):
        distances = _small_distances(queries[start:stop], database)
        order = np.argsort(distances, axis=1, kind="stable")[:, :size]
        out_indices[start:stop] = order
        out_distances[start:stop] = np.take_along_axis(distances, order, axis=1)
    return out_distances, out_indices


# --------------------------------------------------------------------------------------
# Metrics on a ranked relevance matrix
# --------------------------------------------------------------------------------------


def _precision_sums(relevant_ranked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: ``sum over relevant positions p of (relevant in 1..p) / p`` and the count.

    Only the relevant positions are visited: the m-th relevant item of a row at (1-based)
    position p contributes m / p.
    """
    n_rows, n_cols = relevant_ranked.shape
    flat = np.flatnonzero(relevant_ranked)  # row-major, so sorted by (row, position)
    bounds = np.searchsorted(flat, np.arange(n_rows + 1, dtype=np.int64) * n_cols)
    counts = np.diff(bounds)
    starts = bounds[:-1]
    rank_among_relevant = np.arange(1, flat.shape[0] + 1, dtype=np.float64)
    rank_among_relevant -= np.repeat(starts, counts)
    position = flat - np.repeat(np.arange(n_rows, dtype=np.int64) * n_cols - 1, counts)
    contributions = rank_among_relevant / position
    return _sequential_sums(contributions, starts, counts), counts


def _sequential_sums(values: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``sums[i] = values[starts[i]] + ... + values[starts[i] + counts[i] - 1]``, left to right.

    A plain sequential sum (numpy's own sums are pairwise), the order the compiled kernel of
    :mod:`hashlearn.evaluation.ranking` uses, so both give the same bits. Vectorised over rows:
    step ``m`` adds the m-th value of every row that has one.
    """
    sums = np.zeros(starts.shape[0], dtype=np.float64)
    for m in range(int(counts.max()) if counts.size else 0):
        active = counts > m
        sums[active] += values[starts[active] + m]
    return sums


def _map_result(per_query: np.ndarray, n_excluded: int) -> MAPResult:
    included = ~np.isnan(per_query)
    value = float(per_query[included].mean()) if included.any() else float("nan")
    return MAPResult(value, _frozen(per_query), int(n_excluded))


def precision_at_k(relevant_ranked: Any, k: int) -> PrecisionResult:
    """P@K: fraction of the top ``k`` ranked items that is relevant.

    ``P@K(q) = (number of relevant items among ranked positions 1..k) / k``. The denominator
    is always ``k``. A query with no relevant item scores 0; there is no empty retrieval
    (``k`` must not exceed the ranking length). Ties are whatever order the ranking has; with
    :func:`hamming_ranking` they break by database index.

    Parameters
    ----------
    relevant_ranked : array-like of bool, shape (n_queries, n_ranked)
        Relevance of each query's ranked items, best first (see :func:`ranked_relevance`).
    k : int
        ``1 <= k <= n_ranked``; position k is included.

    Returns
    -------
    PrecisionResult
        ``value`` is the mean over all queries.

    Examples
    --------
    >>> precision_at_k([[True, False, True, True]], k=3).value
    0.6666666666666666
    """
    ranked = _check_ranked(relevant_ranked)
    k = _check_k(k, ranked.shape[1], what="n_ranked")
    per_query = ranked[:, :k].sum(axis=1) / float(k)
    return PrecisionResult(float(per_query.mean()), _frozen(per_query))


def map_at_all(relevant_ranked: Any) -> MAPResult:
    """mAP@all of a ranking of the whole database.

    ``AP(q) = (1 / R) * sum over relevant positions p of P@p``, where ``R`` is the number of
    relevant items in the row (the whole database, so every relevant item is in the row) and
    ``P@p`` is the fraction relevant among positions 1..p. mAP is the mean of AP over the
    queries with ``R >= 1``; a query with no relevant item is excluded (NaN in ``per_query``)
    and counted in ``n_queries_excluded``. Every row ranks the whole database, so no query
    has an empty retrieval. Ties: the order given (stable by database index from
    :func:`hamming_ranking`).

    Parameters
    ----------
    relevant_ranked : array-like of bool, shape (n_queries, n_database)
        Relevance along the full ranking of the database.

    Returns
    -------
    MAPResult

    Examples
    --------
    >>> # relevant at positions 1 and 3: AP = (1/1 + 2/3) / 2
    >>> map_at_all([[True, False, True, False]]).value
    0.8333333333333333
    """
    ranked = _check_ranked(relevant_ranked)
    sums, counts = _precision_sums(ranked)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_query = np.where(counts > 0, sums / counts, np.nan)
    return _map_result(per_query, int((counts == 0).sum()))


def map_at_k(relevant_ranked: Any, k: int) -> MAPResult:
    """mAP@K: average precision over the top ``k`` of the ranking.

    ``AP@K(q) = (1 / R_K) * sum over relevant positions p <= k of P@p``, where ``R_K`` is the
    number of relevant items within the top ``k`` (not in the whole database). A query with
    ``R_K = 0`` scores 0 and is not excluded (``n_queries_excluded`` is 0). mAP@K is the mean
    over all queries. Ties: the order given (stable by database index from
    :func:`hamming_ranking`).

    Parameters
    ----------
    relevant_ranked : array-like of bool, shape (n_queries, n_ranked)
    k : int
        ``1 <= k <= n_ranked``; position k is included.

    Returns
    -------
    MAPResult

    Examples
    --------
    >>> # top 2 = [rel, non]: AP@2 = (1/1) / 1; the relevant item at position 3 is cut
    >>> map_at_k([[True, False, True]], k=2).value
    1.0
    """
    ranked = _check_ranked(relevant_ranked)
    k = _check_k(k, ranked.shape[1], what="n_ranked")
    sums, counts = _precision_sums(ranked[:, :k])
    with np.errstate(invalid="ignore", divide="ignore"):
        per_query = np.where(counts > 0, sums / counts, 0.0)
    return _map_result(per_query, 0)


# --------------------------------------------------------------------------------------
# Metrics on codes (the counting kernel of hashlearn.evaluation.ranking)
# --------------------------------------------------------------------------------------


def _check_code_inputs(
    query_codes: Any,
    database_codes: Any,
    query_labels: Any,
    database_labels: Any,
    block_size: Any,
) -> tuple[np.ndarray, np.ndarray, _Labels]:
    queries, database = _check_code_pair(query_codes, database_codes)
    labels = _prepare_labels(query_labels, database_labels, queries.shape[0], database.shape[0])
    _check_block_size(block_size)
    return queries, database, labels


def mean_average_precision(
    query_codes: Any,
    database_codes: Any,
    query_labels: Any,
    database_labels: Any,
    k: int | None = None,
    *,
    block_size: int | None = None,
) -> MAPResult:
    """mAP@all (``k=None``) or mAP@K of the Hamming ranking, computed by counting.

    Ranking: the whole database by (Hamming distance, database index), ties by database index
    (stable). Relevance: same class label (1-D labels) or at least one shared label (2-D 0/1
    indicators).

    * ``k=None`` (mAP@all): ``AP = (1/R) * sum over relevant positions p of P@p`` with ``R``
      the number of relevant items in the database; a query with ``R = 0`` is excluded from
      the mean (NaN in ``per_query``) and counted in ``n_queries_excluded``.
    * ``k`` int (mAP@K): the ranking truncated to positions 1..k (the k-th included); AP is
      normalised by ``R_K``, the number of relevant items within the top k; a query with
      ``R_K = 0`` scores 0 (not excluded).

    No query has an empty retrieval (the ranking covers the database). Nothing is sorted and
    no ``(n_queries, n_database)`` matrix is built: the position of every item follows from
    histograms of the distances (:mod:`hashlearn.evaluation.ranking`). To get several
    metrics from one pass use :func:`~hashlearn.evaluation.evaluate_hamming_ranking`.

    Parameters
    ----------
    query_codes : ndarray of uint8, shape (n_queries, n_bytes)
    database_codes : ndarray of uint8, shape (n_database, n_bytes)
    query_labels : array-like, shape (n_queries,) or (n_queries, n_labels)
    database_labels : array-like, shape (n_database,) or (n_database, n_labels)
    k : int or None, default None
        None for mAP@all, else ``1 <= k <= n_database``.
    block_size : int or None, default None
        Accepted for compatibility and validated, but ignored: the counting kernel needs no
        blocks of queries (:func:`_mean_average_precision_reference` still uses it).

    Returns
    -------
    MAPResult

    Examples
    --------
    >>> from hashlearn.codes import pack_bits
    >>> queries = pack_bits([[0, 0, 0, 0]])
    >>> database = pack_bits([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 0]])
    >>> # ranking d2 d1 d0 d3; label 1 at d1, d3 = positions 2 and 4: (1/2 + 2/4) / 2
    >>> mean_average_precision(queries, database, [1], [0, 1, 0, 1]).value
    0.5
    >>> mean_average_precision(queries, database, [1], [0, 1, 0, 1], k=2).value
    0.5
    """
    from hashlearn.evaluation import ranking

    queries, database, labels = _check_code_inputs(
        query_codes, database_codes, query_labels, database_labels, block_size
    )
    size = None if k is None else _check_k(k, database.shape[0])
    ks = np.array([] if size is None else [size], dtype=np.int64)
    per_query = np.empty(queries.shape[0], dtype=np.float64)
    for start, stop, stats in ranking._iter_statistics(
        queries, database, labels, 8 * queries.shape[1] + 1, ks, ranks=True
    ):
        per_query[start:stop] = ranking._ap_all(stats) if size is None else ranking._ap_at(stats, 0)
    return _map_result(per_query, int(np.isnan(per_query).sum()))


def _mean_average_precision_reference(
    query_codes: Any,
    database_codes: Any,
    query_labels: Any,
    database_labels: Any,
    k: int | None = None,
    *,
    block_size: int | None = None,
) -> MAPResult:
    """numpy reference of :func:`mean_average_precision`: blocks of queries, stable argsort."""
    queries, database = _check_code_pair(query_codes, database_codes)
    labels = _prepare_labels(query_labels, database_labels, queries.shape[0], database.shape[0])
    n_database = database.shape[0]
    size = None if k is None else _check_k(k, n_database)
    block_size = _check_block_size(block_size)
    per_query = np.empty(queries.shape[0], dtype=np.float64)
    for start, stop in _blocks(queries.shape[0], n_database, block_size):
        distances = _small_distances(queries[start:stop], database)
        order = np.argsort(distances, axis=1, kind="stable")
        del distances
        if size is not None:
            order = order[:, :size]
        ranked = np.take_along_axis(labels.block(start, stop), order, axis=1)
        del order
        sums, counts = _precision_sums(ranked)
        with np.errstate(invalid="ignore", divide="ignore"):
            fill = np.nan if size is None else 0.0
            per_query[start:stop] = np.where(counts > 0, sums / counts, fill)
    n_excluded = int(np.isnan(per_query).sum())
    return _map_result(per_query, n_excluded)


def hamming_precision_at_k(
    query_codes: Any,
    database_codes: Any,
    query_labels: Any,
    database_labels: Any,
    k: int,
    *,
    block_size: int | None = None,
) -> PrecisionResult:
    """P@K of the Hamming ranking, computed by counting.

    ``P@K(q) = (relevant items among the top k) / k`` with the ranking ordered by (Hamming
    distance, database index); the k-th item is included and the denominator is always ``k``.
    A query with no relevant item scores 0; no retrieval is empty (``k <= n_database``).

    Parameters
    ----------
    query_codes, database_codes, query_labels, database_labels
        As in :func:`mean_average_precision`.
    k : int
        ``1 <= k <= n_database``.
    block_size : int or None, default None
        Accepted for compatibility and validated, but ignored (see
        :func:`mean_average_precision`).

    Returns
    -------
    PrecisionResult

    Examples
    --------
    >>> from hashlearn.codes import pack_bits
    >>> queries = pack_bits([[0, 0, 0, 0]])
    >>> database = pack_bits([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 0]])
    >>> hamming_precision_at_k(queries, database, [1], [0, 1, 0, 1], k=2).value
    0.5
    """
    from hashlearn.evaluation import ranking

    queries, database, labels = _check_code_inputs(
        query_codes, database_codes, query_labels, database_labels, block_size
    )
    k = _check_k(k, database.shape[0])
    per_query = np.empty(queries.shape[0], dtype=np.float64)
    for start, stop, stats in ranking._iter_statistics(
        queries, database, labels, 8 * queries.shape[1] + 1, np.array([k]), ranks=True
    ):
        per_query[start:stop] = stats.hits[:, 0] / float(k)
    return PrecisionResult(float(per_query.mean()), _frozen(per_query))


def _hamming_precision_at_k_reference(
    query_codes: Any,
    database_codes: Any,
    query_labels: Any,
    database_labels: Any,
    k: int,
    *,
    block_size: int | None = None,
) -> PrecisionResult:
    """numpy reference of :func:`hamming_precision_at_k`: blocks of queries, stable argsort."""
    queries, database = _check_code_pair(query_codes, database_codes)
    labels = _prepare_labels(query_labels, database_labels, queries.shape[0], database.shape[0])
    k = _check_k(k, database.shape[0])
    block_size = _check_block_size(block_size)
    per_query = np.empty(queries.shape[0], dtype=np.float64)
    for start, stop in _blocks(queries.shape[0], database.shape[0], block_size):
        distances = _small_distances(queries[start:stop], database)
        order = np.argsort(distances, axis=1, kind="stable")[:, :k]
        ranked = np.take_along_axis(labels.block(start, stop), order, axis=1)
        per_query[start:stop] = ranked.sum(axis=1) / float(k)
    return PrecisionResult(float(per_query.mean()), _frozen(per_query))


def _check_radius(radius: Any) -> int:
    if isinstance(radius, bool) or not isinstance(radius, numbers.Integral):
        raise TypeError(f"radius must be a non-negative int, got {radius!r}")
    if radius < 0:
        raise ValueError(f"radius must be a non-negative int, got {radius}")
    return int(radius)


def precision_within_radius(
    query_codes: Any,
    database_codes: Any,
    query_labels: Any,
    database_labels: Any,
    radius: int = 2,
    *,
    block_size: int | None = None,
) -> RadiusPrecisionResult:
    """P@r: precision of the items within Hamming radius ``r`` (the KSH/GRH convention).

    ``P@r(q) = (relevant items at distance <= r) / (all items at distance <= r)``. A query
    that retrieves nothing (no item within the radius) scores 0 and is counted in
    ``empty_fraction``; the mean is over all queries. A query with no relevant item in the
    database scores 0 whether or not it retrieves anything. There is no ranking, so no tie
    rule is needed: every item within the radius counts. Computed from per-query histograms
    of the distances (no matrix, no sort).

    Parameters
    ----------
    query_codes : ndarray of uint8, shape (n_queries, n_bytes)
    database_codes : ndarray of uint8, shape (n_database, n_bytes)
    query_labels, database_labels
        As in :func:`mean_average_precision`.
    radius : int, default 2
        ``radius >= 0``; distance ``radius`` itself is included.
    block_size : int or None, default None
        Accepted for compatibility and validated, but ignored (see
        :func:`mean_average_precision`).

    Returns
    -------
    RadiusPrecisionResult

    Examples
    --------
    >>> from hashlearn.codes import pack_bits
    >>> queries = pack_bits([[0, 0, 0, 0]])
    >>> database = pack_bits([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 0]])
    >>> # within radius 1: d1 (relevant), d2
    >>> precision_within_radius(queries, database, [1], [0, 1, 0, 1], radius=1).value
    0.5
    """
    from hashlearn.evaluation import ranking

    queries, database, labels = _check_code_inputs(
        query_codes, database_codes, query_labels, database_labels, block_size
    )
    radius = _check_radius(radius)
    per_query = np.empty(queries.shape[0], dtype=np.float64)
    empty = np.empty(queries.shape[0], dtype=bool)
    no_cutoffs = np.zeros(0, dtype=np.int64)
    for start, stop, stats in ranking._iter_statistics(
        queries, database, labels, 8 * queries.shape[1] + 1, no_cutoffs, ranks=False
    ):
        per_query[start:stop], empty[start:stop] = ranking._radius_precision(stats, radius)
    return RadiusPrecisionResult(float(per_query.mean()), _frozen(per_query), float(empty.mean()))


def _precision_within_radius_reference(
    query_codes: Any,
    database_codes: Any,
    query_labels: Any,
    database_labels: Any,
    radius: int = 2,
    *,
    block_size: int | None = None,
) -> RadiusPrecisionResult:
    """numpy reference of :func:`precision_within_radius`: blocks of the distance matrix."""
    queries, database = _check_code_pair(query_codes, database_codes)
    labels = _prepare_labels(query_labels, database_labels, queries.shape[0], database.shape[0])
    radius = _check_radius(radius)
    block_size = _check_block_size(block_size)
    retrieved = np.empty(queries.shape[0], dtype=np.int64)
    relevant_retrieved = np.empty(queries.shape[0], dtype=np.int64)
    for start, stop in _blocks(queries.shape[0], database.shape[0], block_size):
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
    labels: _Labels,
    n_bins: int,
    block_size: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per query: number of items, and of relevant items, at each distance ``0..n_bins-1``.

    The numpy reference of the kernel's pass 1 (blocks of the distance matrix, bincount).
    """
    n_queries = queries.shape[0]
    items = np.empty((n_queries, n_bins), dtype=np.int64)
    relevant = np.empty((n_queries, n_bins), dtype=np.int64)
    for start, stop in _blocks(n_queries, database.shape[0], block_size):
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


def _resolve_n_bits(n_bits: Any, queries: np.ndarray, database: np.ndarray) -> int:
    if n_bits is None:
        return 8 * queries.shape[1]
    check_codes(queries, n_bits, name="query_codes")
    check_codes(database, n_bits, name="database_codes")
    return int(n_bits)


def precision_recall_curve_by_radius(
    query_codes: Any,
    database_codes: Any,
    query_labels: Any,
    database_labels: Any,
    *,
    n_bits: int | None = None,
    average: Literal["macro", "micro"] = "macro",
    block_size: int | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Precision and recall of Hamming-radius retrieval for every radius ``0..n_bits``.

    At radius ``r`` query ``q`` retrieves ``ret_q(r)`` items at distance ``<= r``, of which
    ``hit_q(r)`` are relevant; ``R_q`` items of the database are relevant to it.

    * ``average="macro"`` (default): ``precision(r) = mean over all queries of hit_q / ret_q``
      with an empty retrieval (``ret_q = 0``) scoring 0 -- so ``precision[r]`` equals
      :func:`precision_within_radius` at radius ``r``; ``recall(r) = mean over the queries
      with R_q >= 1 of hit_q / R_q`` (queries with no relevant item have no recall and are
      left out of the recall mean; NaN if there is none).
    * ``average="micro"`` (the classic MATLAB ``recall_precision.m`` of the SH/ITQ code,
      which accumulates over queries): ``precision(r) = sum_q hit_q / sum_q ret_q`` (0 when
      nothing at all is retrieved) and ``recall(r) = sum_q hit_q / sum_q R_q`` (NaN when no
      pair is relevant).

    No ranking is involved, so no tie rule is needed. At ``r = n_bits`` every item is
    retrieved and the recall is 1. Computed from per-query histograms of the distances.

    Parameters
    ----------
    query_codes : ndarray of uint8, shape (n_queries, n_bytes)
    database_codes : ndarray of uint8, shape (n_database, n_bytes)
    query_labels, database_labels
        As in :func:`mean_average_precision`.
    n_bits : int or None, default None
        Code length; the radii are ``0..n_bits``. None means ``8 * n_bytes`` (give it
        explicitly for lengths that are not a multiple of 8).
    average : {"macro", "micro"}, default "macro"
    block_size : int or None, default None
        Accepted for compatibility and validated, but ignored (see
        :func:`mean_average_precision`).

    Returns
    -------
    radii : ndarray of int64, shape (n_bits + 1,)
    precision : ndarray of float64, shape (n_bits + 1,)
    recall : ndarray of float64, shape (n_bits + 1,)

    Examples
    --------
    >>> from hashlearn.codes import pack_bits
    >>> queries = pack_bits([[0, 0]])
    >>> database = pack_bits([[1, 1], [1, 0], [0, 0]])
    >>> radii, precision, recall = precision_recall_curve_by_radius(
    ...     queries, database, [1], [0, 1, 0], n_bits=2)
    >>> precision.tolist(), recall.tolist()
    ([0.0, 0.5, 0.3333333333333333], [0.0, 1.0, 1.0])
    """
    from hashlearn.evaluation import ranking

    queries, database, labels = _check_code_inputs(
        query_codes, database_codes, query_labels, database_labels, block_size
    )
    if average not in ("macro", "micro"):
        raise ValueError(f"average must be 'macro' or 'micro', got {average!r}")
    n_bits = _resolve_n_bits(n_bits, queries, database)
    curve = ranking._CurveSums(n_bits + 1)
    no_cutoffs = np.zeros(0, dtype=np.int64)
    for _, _, stats in ranking._iter_statistics(
        queries, database, labels, n_bits + 1, no_cutoffs, ranks=False
    ):
        curve.add(stats)
    precision, recall = curve.macro() if average == "macro" else curve.micro()
    return np.arange(n_bits + 1, dtype=np.int64), precision, recall


def _precision_recall_curve_by_radius_reference(
    query_codes: Any,
    database_codes: Any,
    query_labels: Any,
    database_labels: Any,
    *,
    n_bits: int | None = None,
    average: Literal["macro", "micro"] = "macro",
    block_size: int | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """numpy reference of :func:`precision_recall_curve_by_radius` (blocked histograms)."""
    queries, database = _check_code_pair(query_codes, database_codes)
    labels = _prepare_labels(query_labels, database_labels, queries.shape[0], database.shape[0])
    if average not in ("macro", "micro"):
        raise ValueError(f"average must be 'macro' or 'micro', got {average!r}")
    n_bits = _resolve_n_bits(n_bits, queries, database)
    block_size = _check_block_size(block_size)
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


def _harmonic_numbers(n: int) -> np.ndarray:
    """``H[t] = sum_{i=1}^{t} 1/i`` for ``t = 0..n`` (float64)."""
    return np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, n + 1))])


def _tie_aware_per_query(
    items: np.ndarray, relevant: np.ndarray, harmonic: np.ndarray
) -> NDArray[np.float64]:
    """Tie-aware AP of each query from its distance histograms (closed form, no sort).

    ``items[q, d]`` / ``relevant[q, d]``: items / relevant items of query ``q`` at distance
    ``d``; ``harmonic``: :func:`_harmonic_numbers` up to ``n_database``. NaN where ``R = 0``.
    The formula is in :func:`tie_aware_map`.
    """
    before = np.cumsum(items, axis=1) - items
    relevant_before = np.cumsum(relevant, axis=1) - relevant
    # sum_{t=N+1}^{N+n} 1/t and sum_{t=N+1}^{N+n} (t - N - 1)/t = n - (N + 1) * that
    inverse_sum = harmonic[before + items] - harmonic[before]
    offset_sum = items - (before + 1) * inverse_sum
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(items > 1, (relevant - 1) / (items - 1), 0.0)
        group = np.where(
            relevant > 0,
            relevant / items * ((relevant_before + 1) * inverse_sum + slope * offset_sum),
            0.0,
        )
        n_relevant = relevant.sum(axis=1)
        per_query: NDArray[np.float64] = np.where(
            n_relevant > 0, group.sum(axis=1) / n_relevant, np.nan
        )
    return per_query


def tie_aware_map(
    query_codes: Any,
    database_codes: Any,
    query_labels: Any,
    database_labels: Any,
    *,
    block_size: int | None = None,
) -> MAPResult:
    """Tie-aware mAP@all: expected AP over uniformly random orders within distance ties.

    Items at equal Hamming distance form a tie group; instead of breaking ties by database
    index, AP is averaged over all orders within groups. With, for group ``d`` (groups in
    increasing distance), ``n_d`` items of which ``r_d`` relevant, ``N_d`` items and ``R_d``
    relevant items in the groups before it, and ``R`` relevant items in all, the expectation
    has the closed form (He et al., 2018)

    ``AP_tie = (1/R) * sum_d (r_d / n_d) * sum_{t=N_d+1}^{N_d+n_d}
    (R_d + 1 + (t - N_d - 1) * (r_d - 1) / (n_d - 1)) / t``

    (the fraction is 0 when ``n_d = 1``), evaluated with harmonic numbers, so no sort is
    needed. A query with ``R = 0`` is excluded (NaN in ``per_query``) and counted, as for
    mAP@all; no retrieval is empty. Report it beside :func:`mean_average_precision`.

    Parameters
    ----------
    query_codes, database_codes, query_labels, database_labels
        As in :func:`mean_average_precision`.
    block_size : int or None, default None
        Accepted for compatibility and validated, but ignored (see
        :func:`mean_average_precision`).

    Returns
    -------
    MAPResult

    References
    ----------
    K. He, F. Cakir, S. A. Bargal, S. Sclaroff. Hashing as Tie-Aware Learning to Rank.
    CVPR 2018.

    Examples
    --------
    >>> from hashlearn.codes import pack_bits
    >>> # both items at distance 1, one relevant: AP is 1 or 1/2 with equal chance
    >>> tie_aware_map(pack_bits([[0, 0]]), pack_bits([[1, 0], [0, 1]]), [1], [1, 0]).value
    0.75
    """
    from hashlearn.evaluation import ranking

    queries, database, labels = _check_code_inputs(
        query_codes, database_codes, query_labels, database_labels, block_size
    )
    harmonic = _harmonic_numbers(database.shape[0])
    per_query = np.empty(queries.shape[0], dtype=np.float64)
    no_cutoffs = np.zeros(0, dtype=np.int64)
    for start, stop, stats in ranking._iter_statistics(
        queries, database, labels, 8 * queries.shape[1] + 1, no_cutoffs, ranks=False
    ):
        per_query[start:stop] = _tie_aware_per_query(stats.items, stats.relevant, harmonic)
    return _map_result(per_query, int(np.isnan(per_query).sum()))


def _tie_aware_map_reference(
    query_codes: Any,
    database_codes: Any,
    query_labels: Any,
    database_labels: Any,
    *,
    block_size: int | None = None,
) -> MAPResult:
    """numpy reference of :func:`tie_aware_map`: blocked histograms, the same closed form."""
    queries, database = _check_code_pair(query_codes, database_codes)
    labels = _prepare_labels(query_labels, database_labels, queries.shape[0], database.shape[0])
    block_size = _check_block_size(block_size)
    n_bins = 8 * queries.shape[1] + 1
    items, relevant = _distance_histograms(queries, database, labels, n_bins, block_size)
    per_query = _tie_aware_per_query(items, relevant, _harmonic_numbers(database.shape[0]))
    return _map_result(per_query, int(np.isnan(per_query).sum()))


# --------------------------------------------------------------------------------------
# The tutorial's measure
# --------------------------------------------------------------------------------------


def _check_csr(
    candidate_lims: Any, candidate_indices: Any, n_queries: int, n_database: int
) -> tuple[np.ndarray, np.ndarray]:
    lims = np.asarray(candidate_lims)
    indices = np.asarray(candidate_indices)
    if lims.ndim != 1 or not np.issubdtype(lims.dtype, np.integer):
        raise ValueError(
            f"candidate_lims must be a 1-D integer array, got shape {lims.shape} and dtype "
            f"{lims.dtype}"
        )
    if indices.ndim != 1 or not (np.issubdtype(indices.dtype, np.integer) or indices.size == 0):
        raise ValueError(
            f"candidate_indices must be a 1-D integer array, got shape {indices.shape} and "
            f"dtype {indices.dtype}"
        )
    if lims.shape[0] != n_queries + 1:
        raise ValueError(
            f"candidate_lims must have n_queries + 1 = {n_queries + 1} entries, got {lims.shape[0]}"
        )
    if lims[0] != 0 or lims[-1] != indices.shape[0] or np.any(np.diff(lims) < 0):
        raise ValueError(
            "candidate_lims must start at 0, be non-decreasing and end at "
            f"len(candidate_indices) = {indices.shape[0]}; got first {lims[0]}, last "
            f"{lims[-1]}"
        )
    indices = indices.astype(np.int64, copy=False)
    if indices.size and (indices.min() < 0 or indices.max() >= n_database):
        raise ValueError(
            f"candidate_indices must lie in [0, {n_database - 1}], got values in "
            f"[{indices.min()}, {indices.max()}]"
        )
    return lims.astype(np.int64), indices


def tutorial_precision_at_k(
    candidate_lims: Any,
    candidate_indices: Any,
    query_vectors: Any,
    database_vectors: Any,
    query_labels: Any,
    database_labels: Any,
    k: int = 10,
    metric: Literal["cosine", "euclidean"] = "cosine",
) -> TutorialPrecisionResult:
    """The learning-to-hash tutorial's precision at ``k`` of re-ranked candidates.

    The candidates of query ``i`` are ``candidate_indices[candidate_lims[i]:
    candidate_lims[i + 1]]`` (CSR layout, as returned by an index's ``range_search``; for the
    tutorial, all items in buckets within Hamming radius r). They are re-ranked by exact
    distance between the original vectors -- cosine distance ``1 - <q, x> / (|q| |x|)`` or
    Euclidean distance, computed in float64 by :class:`hashlearn.index.Reranker` (the search
    path's own re-ranker) -- items whose computed distances are equal are ordered by
    database index, and the top ``k`` kept.

    ``P(q) = (number of the top min(k, n_candidates) with the query's class) / k``: the
    denominator is ``k`` even when fewer than ``k`` candidates exist (as the tutorial does).
    A query with no relevant candidate scores 0. A query with an empty candidate set is NaN in
    ``per_query`` and is reported under two conventions: skipped (``skip_empty``, the
    tutorial's) and counted as 0 (``empty_as_zero``). "The query's class" is relevance as in
    :func:`relevance` (multi-label: shares a label).

    Parameters
    ----------
    candidate_lims : array-like of int, shape (n_queries + 1,)
    candidate_indices : array-like of int, shape (n_candidates_total,)
        Database indices; no duplicates within a query.
    query_vectors : array-like of float, shape (n_queries, n_features)
    database_vectors : array-like of float, shape (n_database, n_features)
    query_labels : array-like, shape (n_queries,) or (n_queries, n_labels)
    database_labels : array-like, shape (n_database,) or (n_database, n_labels)
    k : int, default 10
        ``k >= 1``.
    metric : {"cosine", "euclidean"}, default "cosine"
        Cosine needs non-zero vectors.

    Returns
    -------
    TutorialPrecisionResult
    """
    # float64 throughout, so that which distances tie does not depend on the input dtype
    queries = check_features(query_vectors, name="query_vectors").astype(np.float64)
    database = check_features(database_vectors, name="database_vectors").astype(np.float64)
    if queries.shape[1] != database.shape[1]:
        raise ValueError(
            f"query_vectors have {queries.shape[1]} features but database_vectors have "
            f"{database.shape[1]}; they must match"
        )
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k must be a positive int, got {k!r}")
    if k < 1:
        raise ValueError(f"k must be a positive int, got {k}")
    if metric not in ("cosine", "euclidean"):
        raise ValueError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")
    n_queries, n_database = queries.shape[0], database.shape[0]
    labels = _prepare_labels(query_labels, database_labels, n_queries, n_database)
    lims, indices = _check_csr(candidate_lims, candidate_indices, n_queries, n_database)
    if metric == "cosine":
        # einsum: row norms without an (n, n_features) temporary
        query_norms = np.sqrt(np.einsum("ij,ij->i", queries, queries))
        database_norms = np.sqrt(np.einsum("ij,ij->i", database, database))
        for norms, name in ((query_norms, "query_vectors"), (database_norms, "database_vectors")):
            if not np.all(norms > 0):
                raise ValueError(
                    f"{name} row {int(np.argmin(norms > 0))} has zero norm; the cosine "
                    "distance is undefined for it (use metric='euclidean')"
                )
    for i in range(n_queries):
        candidates = indices[lims[i] : lims[i + 1]]
        if candidates.size and np.bincount(candidates, minlength=n_database).max() > 1:
            raise ValueError(f"candidate_indices of query {i} contain duplicates")
    # The same re-ranking as the search path (hashlearn.index.Reranker), here in float64.
    _, top = Reranker(database, metric).rerank(queries, lims, indices, k)
    per_query = np.full(n_queries, np.nan)
    for i in np.flatnonzero(np.diff(lims) > 0):
        found = top[i][top[i] >= 0]
        per_query[i] = labels.lookup(found.reshape(1, -1), start=int(i)).sum() / k
    empty = np.isnan(per_query)
    skip_empty = float(per_query[~empty].mean()) if (~empty).any() else float("nan")
    return TutorialPrecisionResult(
        skip_empty=skip_empty,
        empty_as_zero=float(np.where(empty, 0.0, per_query).mean()),
        per_query=_frozen(per_query),
        empty_fraction=float(empty.mean()),
    )

"""Retrieval metrics for binary codes: pure functions, exactly defined.

Every metric in this module follows the definitions of ``docs/protocols.md``:

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
tie-aware mAP@K        expected AP@K (the mAP@K above, denominator: relevant items within
                       the top K) over the same random orders; a sum over the hypergeometric
                       count of relevant items that the group at the K-th distance puts in
                       the top K.
tutorial P@k           of candidates already re-ranked by exact distance on the original
                       vectors (ties by database index): relevant among the top k / k.
=====================  ==================================================================

``k=None`` always means "all"; a negative ``k`` is an error, never "all".

Nothing here materialises a dense ``(n_queries, n_database)`` matrix. The functions that take
codes (:func:`mean_average_precision`, :func:`hamming_precision_at_k`,
:func:`precision_within_radius`, :func:`precision_recall_curve_by_radius`,
:func:`tie_aware_map`, :func:`tie_aware_map_at_k`) run the compiled counting kernel of
:mod:`hashlearn.evaluation._counting`: per query, histograms of the small integer Hamming
distances, then the exact rank of every item under the (distance, index) order by counting --
no sort at all, ``O(n_database)`` scratch per thread. Their numpy references (blocks of
queries, a stable argsort, which numpy runs as a radix sort on 8/16-bit keys) are in
:mod:`hashlearn.testing`, and the tests compare the two. :func:`hamming_ranking` still
materialises the ranking it returns. Average precisions are sums of ``P@p`` taken left to
right in rank order, in every function, so the code-level and the ranked-matrix paths give
identical numbers. Metrics never search: :func:`tutorial_precision_at_k` scores ids that a
re-ranker (:class:`hashlearn.index.Reranker`) has already ordered.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from hashlearn._validation import check_int, check_k, check_radius
from hashlearn.evaluation._checks import (
    check_code_pair,
    check_cutoff,
    check_ranked,
    resolve_n_bits,
)
from hashlearn.evaluation._counting import (
    CurveSums,
    ap_all,
    ap_at,
    harmonic_numbers,
    iter_statistics,
    precision_sums,
    query_blocks,
    radius_precision,
    small_distances,
    tie_aware_ap_at,
    tie_aware_per_query,
)
from hashlearn.evaluation._labels import Labels, prepare_labels
from hashlearn.evaluation.results import (
    MAPResult,
    PrecisionResult,
    RadiusPrecisionResult,
    TutorialPrecisionResult,
    _frozen,
    _map_result,
)

__all__ = [
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
    "tie_aware_map_at_k",
    "tutorial_precision_at_k",
]


# --------------------------------------------------------------------------------------
# Relevance
# --------------------------------------------------------------------------------------


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
    labels = prepare_labels(query_labels, database_labels)
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
    labels = prepare_labels(query_labels, database_labels, n_queries=array.shape[0])
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
    queries, database = check_code_pair(query_codes, database_codes)
    n_database = database.shape[0]
    size = n_database if k is None else check_cutoff(k, n_database, none_means_all=True)
    if block_size is not None:
        block_size = check_int(block_size, "block_size", low=1)
    out_distances = np.empty((queries.shape[0], size), dtype=np.int32)
    out_indices = np.empty((queries.shape[0], size), dtype=np.int64)
    for start, stop in query_blocks(queries.shape[0], n_database, block_size):
        distances = small_distances(queries[start:stop], database)
        order = np.argsort(distances, axis=1, kind="stable")[:, :size]
        out_indices[start:stop] = order
        out_distances[start:stop] = np.take_along_axis(distances, order, axis=1)
    return out_distances, out_indices


# --------------------------------------------------------------------------------------
# Metrics on a ranked relevance matrix
# --------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------
# Metrics on a ranked relevance matrix
# --------------------------------------------------------------------------------------


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
    ranked = check_ranked(relevant_ranked)
    k = check_cutoff(k, ranked.shape[1], what="n_ranked")
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
    ranked = check_ranked(relevant_ranked)
    sums, counts = precision_sums(ranked)
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
    ranked = check_ranked(relevant_ranked)
    k = check_cutoff(k, ranked.shape[1], what="n_ranked")
    sums, counts = precision_sums(ranked[:, :k])
    with np.errstate(invalid="ignore", divide="ignore"):
        per_query = np.where(counts > 0, sums / counts, 0.0)
    return _map_result(per_query, 0)


# --------------------------------------------------------------------------------------
# Metrics on codes (the counting kernel of hashlearn.evaluation._counting)
# --------------------------------------------------------------------------------------


def _check_code_inputs(
    query_codes: Any, database_codes: Any, query_labels: Any, database_labels: Any
) -> tuple[np.ndarray, np.ndarray, Labels]:
    queries, database = check_code_pair(query_codes, database_codes)
    labels = prepare_labels(query_labels, database_labels, queries.shape[0], database.shape[0])
    return queries, database, labels


def mean_average_precision(
    query_codes: Any,
    database_codes: Any,
    query_labels: Any,
    database_labels: Any,
    k: int | None = None,
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
    histograms of the distances (:mod:`hashlearn.evaluation._counting`). To get several
    metrics from one pass use :func:`~hashlearn.evaluation.evaluate_hamming_ranking`.

    Parameters
    ----------
    query_codes : ndarray of uint8, shape (n_queries, n_bytes)
    database_codes : ndarray of uint8, shape (n_database, n_bytes)
    query_labels : array-like, shape (n_queries,) or (n_queries, n_labels)
    database_labels : array-like, shape (n_database,) or (n_database, n_labels)
    k : int or None, default None
        None for mAP@all, else ``1 <= k <= n_database``.

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
    queries, database, labels = _check_code_inputs(
        query_codes, database_codes, query_labels, database_labels
    )
    size = None if k is None else check_cutoff(k, database.shape[0], none_means_all=True)
    ks = np.array([] if size is None else [size], dtype=np.int64)
    per_query = np.empty(queries.shape[0], dtype=np.float64)
    for start, stop, stats in iter_statistics(
        queries, database, labels, 8 * queries.shape[1] + 1, ks, ranks=True
    ):
        per_query[start:stop] = ap_all(stats) if size is None else ap_at(stats, 0)
    return _map_result(per_query, int(np.isnan(per_query).sum()))


def hamming_precision_at_k(
    query_codes: Any,
    database_codes: Any,
    query_labels: Any,
    database_labels: Any,
    k: int,
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
    queries, database, labels = _check_code_inputs(
        query_codes, database_codes, query_labels, database_labels
    )
    k = check_cutoff(k, database.shape[0])
    per_query = np.empty(queries.shape[0], dtype=np.float64)
    for start, stop, stats in iter_statistics(
        queries, database, labels, 8 * queries.shape[1] + 1, np.array([k]), ranks=True
    ):
        per_query[start:stop] = stats.hits[:, 0] / float(k)
    return PrecisionResult(float(per_query.mean()), _frozen(per_query))


def precision_within_radius(
    query_codes: Any,
    database_codes: Any,
    query_labels: Any,
    database_labels: Any,
    radius: int = 2,
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
    queries, database, labels = _check_code_inputs(
        query_codes, database_codes, query_labels, database_labels
    )
    radius = check_radius(radius)
    per_query = np.empty(queries.shape[0], dtype=np.float64)
    empty = np.empty(queries.shape[0], dtype=bool)
    no_cutoffs = np.zeros(0, dtype=np.int64)
    for start, stop, stats in iter_statistics(
        queries, database, labels, 8 * queries.shape[1] + 1, no_cutoffs, ranks=False
    ):
        per_query[start:stop], empty[start:stop] = radius_precision(stats, radius)
    return RadiusPrecisionResult(float(per_query.mean()), _frozen(per_query), float(empty.mean()))


def precision_recall_curve_by_radius(
    query_codes: Any,
    database_codes: Any,
    query_labels: Any,
    database_labels: Any,
    *,
    n_bits: int | None = None,
    average: Literal["macro", "micro"] = "macro",
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
    queries, database, labels = _check_code_inputs(
        query_codes, database_codes, query_labels, database_labels
    )
    if average not in ("macro", "micro"):
        raise ValueError(f"average must be 'macro' or 'micro', got {average!r}")
    n_bits = resolve_n_bits(n_bits, queries, database)
    curve = CurveSums(n_bits + 1)
    no_cutoffs = np.zeros(0, dtype=np.int64)
    for _, _, stats in iter_statistics(
        queries, database, labels, n_bits + 1, no_cutoffs, ranks=False
    ):
        curve.add(stats)
    precision, recall = curve.macro() if average == "macro" else curve.micro()
    return np.arange(n_bits + 1, dtype=np.int64), precision, recall


def tie_aware_map(
    query_codes: Any,
    database_codes: Any,
    query_labels: Any,
    database_labels: Any,
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
    queries, database, labels = _check_code_inputs(
        query_codes, database_codes, query_labels, database_labels
    )
    harmonic = harmonic_numbers(database.shape[0])
    per_query = np.empty(queries.shape[0], dtype=np.float64)
    no_cutoffs = np.zeros(0, dtype=np.int64)
    for start, stop, stats in iter_statistics(
        queries, database, labels, 8 * queries.shape[1] + 1, no_cutoffs, ranks=False
    ):
        per_query[start:stop] = tie_aware_per_query(stats.items, stats.relevant, harmonic)
    return _map_result(per_query, int(np.isnan(per_query).sum()))


def tie_aware_map_at_k(
    query_codes: Any,
    database_codes: Any,
    query_labels: Any,
    database_labels: Any,
    k: int,
) -> MAPResult:
    """Tie-aware mAP@K: the expected AP@K over uniformly random orders within distance ties.

    ``AP@K`` is that of :func:`map_at_k` and ``mean_average_precision(k=...)``:
    ``(1 / R_K) * sum over relevant positions p <= K of P@p``, with ``R_K`` the relevant
    items within the top K, and 0 when ``R_K = 0`` (such a query is not excluded). Instead
    of breaking ties by database index, the ranking orders the items of each group of equal
    distance uniformly at random, independently per group, and this function returns the
    expectation of ``AP@K`` itself (not a ratio of expectations), so it is the mean of the
    stable ``AP@K`` over every order of the tied items and does not depend on the
    database's row order.

    Groups ``d`` in increasing distance: ``n_d`` items, ``r_d`` relevant, ``N_d`` items and
    ``R_d`` relevant items before them. Let ``D`` be the group holding rank K, cut after its
    first ``m = K - N_D`` items (``1 <= m <= n_D``). Only the order inside ``D`` changes
    ``R_K``: ``R_K = R_D + X``, where ``X``, the relevant items among the first ``m`` of
    ``D``, is hypergeometric (``m`` drawn from ``n_D`` holding ``r_D``). With
    ``G(N, R, n, r) = (r/n) * sum_{t=N+1}^{N+n} (R + 1 + (t - N - 1)(r - 1)/(n - 1)) / t``
    (the fraction is 0 when ``n = 1``), the expected sum of ``P@p`` over the relevant items
    of ``n`` tied items at ranks ``N+1..N+n`` holding ``r`` relevant after ``R`` relevant
    ones (He et al., 2018), and since the groups are ordered independently,

    ``AP_tie@K = sum_x P(X = x) * (sum_{d<D} G(N_d, R_d, n_d, r_d) + G(N_D, R_D, m, x))
    / (R_D + x)``

    (a term with ``R_D + x = 0`` is 0). It is evaluated with harmonic numbers and a sum
    over the at most ``min(r_D, m) + 1`` values of ``x``, from the distance histograms: no
    sort.

    At ``K = n_database`` it is :func:`tie_aware_map` for every query with a relevant
    item: ``D`` is then the last non-empty group and ``m = n_D``, so ``X = r_D`` surely,
    ``R_D + r_D = R`` and the sum is ``(1/R) * sum_d G(N_d, R_d, n_d, r_d)``, the tie-aware
    AP@all. A query with ``R = 0`` scores 0 here (the mAP@K rule) where
    :func:`tie_aware_map` excludes it, as :func:`map_at_k` differs from :func:`map_at_all`.

    Parameters
    ----------
    query_codes, database_codes, query_labels, database_labels
        As in :func:`mean_average_precision`.
    k : int
        ``1 <= k <= n_database``; rank k is included.

    Returns
    -------
    MAPResult
        ``n_queries_excluded`` is 0.

    References
    ----------
    K. He, F. Cakir, S. A. Bargal, S. Sclaroff. Hashing as Tie-Aware Learning to Rank.
    CVPR 2018. F. McSherry, M. Najork. Computing Information Retrieval Performance Measures
    Efficiently in the Presence of Tied Scores. ECIR 2008.

    Examples
    --------
    >>> from hashlearn.codes import pack_bits
    >>> # both items at distance 1, one relevant; the top 1 holds it half of the time
    >>> tie_aware_map_at_k(pack_bits([[0, 0]]), pack_bits([[1, 0], [0, 1]]), [1], [1, 0],
    ...                    k=1).value
    0.5
    """
    queries, database, labels = _check_code_inputs(
        query_codes, database_codes, query_labels, database_labels
    )
    k = check_cutoff(k, database.shape[0])
    harmonic = harmonic_numbers(database.shape[0])
    per_query = np.empty(queries.shape[0], dtype=np.float64)
    no_cutoffs = np.zeros(0, dtype=np.int64)
    for start, stop, stats in iter_statistics(
        queries, database, labels, 8 * queries.shape[1] + 1, no_cutoffs, ranks=False
    ):
        per_query[start:stop] = tie_aware_ap_at(stats.items, stats.relevant, harmonic, k)
    return _map_result(per_query, 0)


# --------------------------------------------------------------------------------------
# The tutorial's measure
# --------------------------------------------------------------------------------------


def _check_ranked_ids(ranked_indices: Any, k: int) -> np.ndarray:
    """Re-ranked ids as int64 ``(n_queries, k)``: ids first, then ``-1`` padding, distinct."""
    ids = np.asarray(ranked_indices)
    if ids.ndim != 2 or not (np.issubdtype(ids.dtype, np.integer) or ids.size == 0):
        raise ValueError(
            "ranked_indices must be a 2-D integer array of shape (n_queries, k), got shape "
            f"{ids.shape} and dtype {ids.dtype}"
        )
    if ids.shape[0] == 0:
        raise ValueError(f"ranked_indices must hold at least one query, got shape {ids.shape}")
    if ids.shape[1] != k:
        raise ValueError(
            f"ranked_indices must have k={k} columns (the top k of each query, padded with "
            f"-1), got {ids.shape[1]}"
        )
    ids = ids.astype(np.int64, copy=False)
    valid = ids >= 0
    if ids.min() < -1:
        raise ValueError(f"ranked_indices must hold database indices or -1, got {ids.min()}")
    if (valid[:, 1:] & ~valid[:, :-1]).any():
        row = int(np.argmax((valid[:, 1:] & ~valid[:, :-1]).any(axis=1)))
        raise ValueError(
            f"ranked_indices row {row} has a database index after a -1; the padding must come last"
        )
    ordered = np.sort(ids, axis=1)
    duplicated = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)
    if duplicated.any():
        row = int(np.argmax(duplicated.any(axis=1)))
        raise ValueError(f"ranked_indices row {row} lists a database index twice")
    return ids


def tutorial_precision_at_k(
    ranked_indices: Any,
    query_labels: Any,
    database_labels: Any,
    k: int = 10,
) -> TutorialPrecisionResult:
    """The learning-to-hash tutorial's precision at ``k`` of re-ranked candidates.

    Row ``i`` of ``ranked_indices`` holds the best ``min(k, n_candidates)`` candidates of
    query ``i`` after re-ranking, padded with ``-1``; for the tutorial, the candidates are
    all items in buckets within Hamming radius r (an index's ``range_search``), re-ranked by
    exact cosine distance on the original vectors with ties by database index, which is what
    :meth:`hashlearn.index.Reranker.rerank` returns. The metric only scores these ids; it
    never searches or re-ranks.

    ``P(q) = (number of ids in row q with the query's class) / k``: the denominator is
    ``k`` even when fewer than ``k`` candidates exist (as the tutorial does). A query with no
    relevant candidate scores 0. A row of ``-1`` only is an empty candidate set: NaN in
    ``per_query``, reported under two conventions: skipped (``skip_empty``, the tutorial's)
    and counted as 0 (``empty_as_zero``). "The query's class" is relevance as in
    :func:`relevance` (multi-label: shares a label).

    Parameters
    ----------
    ranked_indices : array-like of int, shape (n_queries, k)
        Database indices, best first, distinct within a row, padded with ``-1`` at the end.
    query_labels : array-like, shape (n_queries,) or (n_queries, n_labels)
    database_labels : array-like, shape (n_database,) or (n_database, n_labels)
    k : int, default 10
        ``k >= 1``; the number of columns of ``ranked_indices``.

    Returns
    -------
    TutorialPrecisionResult

    Examples
    --------
    >>> # query 0: candidates d2, d0 (classes 1, 0); query 1: no candidate
    >>> result = tutorial_precision_at_k([[2, 0, -1], [-1, -1, -1]], [1, 0], [0, 1, 1], k=3)
    >>> result.per_query.tolist(), result.skip_empty, result.empty_as_zero
    ([0.3333333333333333, nan], 0.3333333333333333, 0.16666666666666666)
    """
    k = check_k(k, meaning="the number of re-ranked items scored")
    ids = _check_ranked_ids(ranked_indices, k)
    n_queries = ids.shape[0]
    labels = prepare_labels(query_labels, database_labels, n_queries=n_queries)
    n_database = labels.database.shape[0]
    if ids.max() >= n_database:
        raise ValueError(
            f"ranked_indices must lie in [0, {n_database - 1}] (or be -1 for padding), got "
            f"{ids.max()}"
        )
    per_query = labels.lookup(ids).sum(axis=1) / k
    per_query[ids[:, 0] < 0] = np.nan
    empty = np.isnan(per_query)
    skip_empty = float(per_query[~empty].mean()) if (~empty).any() else float("nan")
    return TutorialPrecisionResult(
        skip_empty=skip_empty,
        empty_as_zero=float(np.where(empty, 0.0, per_query).mean()),
        per_query=_frozen(per_query),
        empty_fraction=float(empty.mean()),
    )

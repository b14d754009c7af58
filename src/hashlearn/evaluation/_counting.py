"""The counting machinery behind every Hamming-ranking metric: one pass per query, no sort.

The whole database is ranked for every query by (Hamming distance, database index) -- ties
break by database index, always -- without sorting anything and without a dense
``(n_queries, n_database)`` matrix. Hamming distances are small integers in ``[0, n_bits]``,
so ranks follow from counting:

**Pass 1** (per query): the distance ``d_j`` of every database item ``j`` and whether it is
relevant, and the histograms ``items[d]`` and ``relevant[d]`` for ``d = 0..n_bits``.

**Pass 2** (database-index order): with ``N_<(d) = sum_{e<d} items[e]`` and a running counter
per distance, the exact rank of item ``j`` under the (distance, index) order is

``pos_j = N_<(d_j) + #{i <= j : d_i = d_j}``,

and for a relevant item its rank among the relevant ones is
``m_j = R_<(d_j) + #{i <= j relevant : d_i = d_j}`` (``R_<`` the prefix sums of
``relevant``), so ``P@pos_j = m_j / pos_j``. These precisions are stored at index ``m_j``
(rank order) and, for the list of cut-offs ``K``, the relevant items are counted into
``K`` slots (the smallest ``K >= pos_j``).

**Pass 3**: the precisions are summed in rank order (a plain sequential sum, so results do
not depend on threads or blocks and equal the ranked-matrix functions of
:mod:`~hashlearn.evaluation.metrics` bit for bit), reading the running sum at the number of
relevant items within each ``K``.

From these per-query statistics: ``AP@all = (1/R) * sum_j P@pos_j`` over relevant ``j``;
``AP@K`` and ``P@K`` from the running sums at ``K``; P@r, the precision-recall curve by radius
and the tie-aware AP from the histograms alone. Work is ``O(n_queries * n_database)`` with no
``log`` factor; memory is about 24 bytes per database item per thread plus the per-query
outputs. Queries are split across numba's threads; small problems run on one thread.

:func:`hamming_positions` runs passes 1 and 2 alone to give the rank of chosen items (the
true neighbours of :func:`~hashlearn.evaluation.hamming_recall_at`). The numpy helpers at the
end (blocks of queries, a stable argsort of 8/16-bit keys) serve :func:`~hashlearn.evaluation.
hamming_ranking` and the references of :mod:`hashlearn.testing`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numba
import numpy as np
from numba import prange
from numpy.typing import NDArray

from hashlearn import _numba
from hashlearn.codes import as_words, hamming_distances
from hashlearn.evaluation._labels import Labels, label_words

# Queries handed to one thread at a time (each thread allocates its scratch once per block).
_QUERY_BLOCK = 8
# Interleaved copies of the counters in the kernel (breaks store-to-load dependencies).
_LANES = 4
# Bytes of per-query statistics (histograms, sums at each K) held at once: queries are
# processed in blocks of about this size, so memory stays bounded whatever n_queries.
_STATISTICS_BYTES = 32 * 2**20


@numba.njit(inline="always", nogil=True, cache=_numba.CACHE)
def _fill_keys(queries, database, query_labels, database_labels, multi, q, key):
    """``key[j] = 2 * distance(q, j) + relevant(q, j)`` for every database item ``j``."""
    n_words = queries.shape[1]
    n_database = database.shape[0]
    if n_words == 1:
        word = queries[q, 0]
        for j in range(n_database):
            key[j] = 2 * _numba.popcount64(word ^ database[j, 0])
    else:
        for j in range(n_database):
            total_bits = 0
            for w in range(n_words):
                total_bits += _numba.popcount64(queries[q, w] ^ database[j, w])
            key[j] = 2 * total_bits
    if multi:
        n_label_words = query_labels.shape[1]
        for j in range(n_database):
            shared = np.uint64(0)
            for w in range(n_label_words):
                shared |= query_labels[q, w] & database_labels[j, w]
            key[j] += shared != 0
    else:
        label = query_labels[q, 0]
        for j in range(n_database):
            key[j] += database_labels[j, 0] == label


def _rank_scan_py(
    queries,
    database,
    query_labels,
    database_labels,
    multi,
    k_slot,
    ranks,
    items,
    relevant,
    ap_all,
    hits,
    ap_sums,
):
    """Histograms and rank statistics of each query's Hamming ranking (see module doc).

    ``queries`` / ``database``: uint64 words. Labels: uint64 ``(n, n_label_words)``;
    ``multi=False``: one word, equal ids are relevant; ``multi=True``: packed label sets,
    relevant when ``AND != 0``. ``k_slot[p]`` (``p = 0..n_database``): index of the smallest
    cut-off ``K >= p`` (``n_ks`` when none). ``ranks=False`` stops after pass 1.

    Outputs (written): ``items``, ``relevant`` int64 ``(n_queries, n_bins)``; ``ap_all``
    float64 ``(n_queries,)`` = sum of ``P@pos`` over relevant items; ``hits`` int64
    ``(n_queries, n_ks)`` = relevant items within the top ``K``; ``ap_sums`` float64
    ``(n_queries, n_ks)`` = sum of ``P@pos`` over relevant items within the top ``K``.
    """
    n_queries = queries.shape[0]
    n_database = database.shape[0]
    n_bins = items.shape[1]
    n_ks = hits.shape[1]
    n_blocks = (n_queries + _QUERY_BLOCK - 1) // _QUERY_BLOCK
    for block in prange(n_blocks):
        # key[j] = 2 * distance + relevant: one array read by both passes
        key = np.empty(n_database, dtype=np.int32)
        # _LANES interleaved histograms (item j counts in copy j % _LANES), so that runs of
        # equal keys do not serialise on one memory location
        histogram = np.empty((_LANES, 2 * n_bins), dtype=np.int64)
        # seen[d]: rank of the last item met at distance d; starts at N_<(d)
        seen = np.empty(n_bins, dtype=np.int64)
        relevant_before = np.empty(n_bins, dtype=np.int64)
        seen_relevant = np.empty(n_bins, dtype=np.int64)
        precision_at = np.empty(n_database, dtype=np.float64)
        found_position = np.empty(n_database + 1, dtype=np.int64)
        found_distance = np.empty(n_database + 1, dtype=np.int32)
        slot_hits = np.empty(n_ks + 1, dtype=np.int64)
        stop = min((block + 1) * _QUERY_BLOCK, n_queries)
        for q in range(block * _QUERY_BLOCK, stop):
            # pass 1: distances and relevance -> keys -> histograms
            _fill_keys(queries, database, query_labels, database_labels, multi, q, key)
            histogram[:] = 0
            for j in range(n_database):
                histogram[j & (_LANES - 1), key[j]] += 1
            for d in range(n_bins):
                n_irrelevant = 0
                n_relevant_d = 0
                for lane in range(_LANES):
                    n_irrelevant += histogram[lane, 2 * d]
                    n_relevant_d += histogram[lane, 2 * d + 1]
                items[q, d] = n_irrelevant + n_relevant_d
                relevant[q, d] = n_relevant_d
            if not ranks:
                continue
            # pass 2: rank of item j = N_<(d_j) + #{i <= j : d_i = d_j}
            before = 0
            before_relevant = 0
            for d in range(n_bins):
                seen[d] = before
                relevant_before[d] = before_relevant
                seen_relevant[d] = 0
                before += items[q, d]
                before_relevant += relevant[q, d]
            n_relevant = before_relevant
            # 2a, branch-free: every item advances its distance's counter; its rank is
            # written at slot n_found, which advances only for relevant items
            n_found = 0
            for j in range(n_database):
                d = key[j] >> 1
                position = seen[d] + 1
                seen[d] = position
                found_position[n_found] = position
                found_distance[n_found] = d
                n_found += key[j] & 1
            # 2b, relevant items only (in index order): their rank among the relevant
            slot_hits[:] = 0
            for i in range(n_found):
                d = found_distance[i]
                position = found_position[i]
                seen_relevant[d] += 1
                m = relevant_before[d] + seen_relevant[d]
                precision_at[m - 1] = m / position
                slot_hits[k_slot[position]] += 1
            # pass 3: sequential sums in rank order, read at each cut-off
            running = 0.0
            i = 0
            cumulative = 0
            for s in range(n_ks):
                cumulative += slot_hits[s]
                hits[q, s] = cumulative
                while i < cumulative:
                    running += precision_at[i]
                    i += 1
                ap_sums[q, s] = running
            while i < n_relevant:
                running += precision_at[i]
                i += 1
            ap_all[q] = running


_rank_scan = _numba.compile_both(_rank_scan_py)


@dataclass(frozen=True)
class Statistics:
    """Per-query statistics of a block of queries (the kernel's outputs)."""

    items: np.ndarray  # int64 (n, n_bins)
    relevant: np.ndarray  # int64 (n, n_bins)
    ap_all: np.ndarray  # float64 (n,)
    hits: np.ndarray  # int64 (n, n_ks)
    ap_sums: np.ndarray  # float64 (n, n_ks)


def _k_slots(ks: np.ndarray, n_database: int) -> np.ndarray:
    """``slot[p]`` = index of the smallest cut-off ``K >= p`` (``len(ks)`` when none)."""
    return np.searchsorted(ks, np.arange(n_database + 1), side="left").astype(np.int64)


def iter_statistics(
    queries: np.ndarray,
    database: np.ndarray,
    labels: Labels,
    n_bins: int,
    ks: np.ndarray,
    *,
    ranks: bool,
    n_threads: int | None = None,
) -> Iterator[tuple[int, int, Statistics]]:
    """Run the kernel over blocks of queries; yield ``(start, stop, statistics)``.

    ``ks``: sorted unique cut-offs in ``[1, n_database]``. ``n_bins`` must exceed every
    possible distance (``n_bits + 1``; padding bits zero). Scratch memory is bounded by
    ``_STATISTICS_BYTES`` of per-query statistics plus ``O(n_database)`` per thread.
    """
    query_words = as_words(queries)
    database_words = as_words(database)
    query_labels, database_labels = label_words(labels)
    n_queries, n_database = queries.shape[0], database.shape[0]
    n_ks = ks.shape[0]
    k_slot = _k_slots(ks, n_database)
    per_query = 16 * (n_bins + n_ks) + 8
    block = max(1, min(n_queries, _STATISTICS_BYTES // per_query))
    with _numba.threads(n_threads):
        for start in range(0, n_queries, block):
            stop = min(start + block, n_queries)
            size = stop - start
            stats = Statistics(
                items=np.empty((size, n_bins), dtype=np.int64),
                relevant=np.empty((size, n_bins), dtype=np.int64),
                ap_all=np.zeros(size, dtype=np.float64),
                hits=np.zeros((size, n_ks), dtype=np.int64),
                ap_sums=np.zeros((size, n_ks), dtype=np.float64),
            )
            work = size * n_database * (query_words.shape[1] + 1)
            _numba.pick(_rank_scan, work)(
                query_words[start:stop],
                database_words,
                query_labels[start:stop],
                database_labels,
                labels.multi,
                k_slot,
                ranks,
                stats.items,
                stats.relevant,
                stats.ap_all,
                stats.hits,
                stats.ap_sums,
            )
            yield start, stop, stats


def _positions_scan_py(queries, database, targets, n_bins, positions):
    """Rank of chosen database items in each query's Hamming ranking (passes 1 and 2).

    ``queries`` / ``database``: uint64 words; ``targets`` int64 ``(n_queries, n_targets)``:
    database indices. Writes ``positions[q, t]`` = 1-based rank of item ``targets[q, t]``
    under the (distance, index) order: ``N_<(d_j) + #{i <= j : d_i = d_j}``.
    """
    n_queries, n_words = queries.shape
    n_database = database.shape[0]
    n_targets = targets.shape[1]
    n_blocks = (n_queries + _QUERY_BLOCK - 1) // _QUERY_BLOCK
    for block in prange(n_blocks):
        distance = np.empty(n_database, dtype=np.int32)
        position = np.empty(n_database, dtype=np.int64)
        # seen[d]: first the histogram, then the rank of the last item met at distance d
        seen = np.empty(n_bins, dtype=np.int64)
        stop = min((block + 1) * _QUERY_BLOCK, n_queries)
        for q in range(block * _QUERY_BLOCK, stop):
            seen[:] = 0
            for j in range(n_database):
                total_bits = 0
                for w in range(n_words):
                    total_bits += _numba.popcount64(queries[q, w] ^ database[j, w])
                distance[j] = total_bits
                seen[total_bits] += 1
            before = 0
            for d in range(n_bins):
                count = seen[d]
                seen[d] = before
                before += count
            for j in range(n_database):
                d = distance[j]
                seen[d] += 1
                position[j] = seen[d]
            for t in range(n_targets):
                positions[q, t] = position[targets[q, t]]


_positions_scan = _numba.compile_both(_positions_scan_py)


def hamming_positions(
    queries: np.ndarray,
    database: np.ndarray,
    targets: np.ndarray,
    n_bins: int,
    *,
    n_threads: int | None = None,
) -> np.ndarray:
    """1-based rank of ``database[targets[q, t]]`` in the Hamming ranking of query ``q``.

    The ranking is the whole database by (Hamming distance, database index), as the first
    ``k`` of :class:`hashlearn.index.LinearScanIndex`'s search; so the item is within its
    top ``R`` exactly when its position is ``<= R``. ``targets``: valid database indices;
    ``n_bins`` must exceed every possible distance. Returns int64 ``targets.shape``.
    """
    query_words = as_words(queries)
    database_words = as_words(database)
    targets = np.ascontiguousarray(targets, dtype=np.int64)
    positions = np.empty(targets.shape, dtype=np.int64)
    work = queries.shape[0] * database.shape[0] * (query_words.shape[1] + 1)
    with _numba.threads(n_threads):
        _numba.pick(_positions_scan, work)(query_words, database_words, targets, n_bins, positions)
    return positions


def ap_all(stats: Statistics) -> np.ndarray:
    n_relevant = stats.relevant.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_relevant > 0, stats.ap_all / n_relevant, np.nan)


def ap_at(stats: Statistics, slot: int) -> np.ndarray:
    hits = stats.hits[:, slot]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(hits > 0, stats.ap_sums[:, slot] / hits, 0.0)


def tie_aware_precision_at(items: np.ndarray, relevant: np.ndarray, k: int) -> np.ndarray:
    """Per query: the expected P@k over uniformly random orders within equal distances.

    With ``D`` the distance whose group holds rank ``k``, ``N_<`` and ``R_<`` the items and
    relevant items at distances below ``D``: ``(R_< + (k - N_<) * relevant[D] / items[D]) / k``.
    Unlike P@k under the (distance, index) order it does not depend on the database's row
    order.
    """
    cum_items = np.cumsum(items, axis=1)
    cum_relevant = np.cumsum(relevant, axis=1)
    rows = np.arange(items.shape[0])
    group = np.minimum((cum_items < k).sum(axis=1), items.shape[1] - 1)
    before = cum_items[rows, group] - items[rows, group]
    relevant_before = cum_relevant[rows, group] - relevant[rows, group]
    size = np.maximum(items[rows, group], 1)
    partial = np.clip(k - before, 0, None) * relevant[rows, group] / size
    return (relevant_before + partial) / float(k)


def radius_counts(stats: Statistics, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Per query: items, and relevant items, at distance ``<= radius``."""
    stop = min(radius, stats.items.shape[1] - 1) + 1
    return stats.items[:, :stop].sum(axis=1), stats.relevant[:, :stop].sum(axis=1)


def radius_precision(stats: Statistics, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Per query: P@r (0 when nothing is retrieved) and whether nothing is retrieved."""
    retrieved, hits = radius_counts(stats, radius)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(retrieved > 0, hits / retrieved, 0.0), retrieved == 0


def add_rows(total: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``total + rows[0] + rows[1] + ...`` added one row at a time (``cumsum`` is sequential),
    so sums over blocks of queries do not depend on where the blocks split."""
    if rows.shape[0] == 0:
        return total
    return np.cumsum(np.concatenate([total[None, :], rows]), axis=0)[-1]


class CurveSums:
    """Running sums over query blocks of the precision-recall curve by radius."""

    def __init__(self, n_bins: int) -> None:
        self.precision = np.zeros(n_bins)  # macro: sum of hit / ret (empty -> 0)
        self.recall = np.zeros(n_bins)  # macro: sum over R >= 1 of hit / R
        self.n_queries = 0
        self.n_with_relevant = 0
        self.retrieved = np.zeros(n_bins, dtype=np.int64)  # micro sums
        self.hits = np.zeros(n_bins, dtype=np.int64)
        self.total_relevant = 0

    def add(self, stats: Statistics) -> None:
        retrieved = np.cumsum(stats.items, axis=1)
        hits = np.cumsum(stats.relevant, axis=1)
        n_relevant = hits[:, -1]
        has_relevant = n_relevant > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            self.precision = add_rows(
                self.precision, np.where(retrieved > 0, hits / retrieved, 0.0)
            )
            self.recall = add_rows(self.recall, hits[has_relevant] / n_relevant[has_relevant, None])
        self.n_queries += stats.items.shape[0]
        self.n_with_relevant += int(has_relevant.sum())
        self.retrieved += retrieved.sum(axis=0)
        self.hits += hits.sum(axis=0)
        self.total_relevant += int(n_relevant.sum())

    def macro(self) -> tuple[np.ndarray, np.ndarray]:
        precision = self.precision / self.n_queries
        if self.n_with_relevant:
            recall = self.recall / self.n_with_relevant
        else:
            recall = np.full(self.recall.shape[0], np.nan)
        return precision, recall

    def micro(self) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(self.retrieved > 0, self.hits / self.retrieved, 0.0)
        if self.total_relevant:
            recall = self.hits / self.total_relevant
        else:
            recall = np.full(self.hits.shape[0], np.nan)
        return precision, recall


def sequential_sums(values: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
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


def precision_sums(relevant_ranked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
    return sequential_sums(contributions, starts, counts), counts


def harmonic_numbers(n: int) -> np.ndarray:
    """``H[t] = sum_{i=1}^{t} 1/i`` for ``t = 0..n`` (float64)."""
    return np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, n + 1))])


def tie_aware_per_query(
    items: np.ndarray, relevant: np.ndarray, harmonic: np.ndarray
) -> NDArray[np.float64]:
    """Tie-aware AP of each query from its distance histograms (closed form, no sort).

    ``items[q, d]`` / ``relevant[q, d]``: items / relevant items of query ``q`` at distance
    ``d``; ``harmonic``: :func:`harmonic_numbers` up to ``n_database``. NaN where ``R = 0``.
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


@numba.njit(nogil=True, cache=_numba.CACHE)
def _hypergeometric_log_pmf(n: int, r: int, m: int, x: int) -> float:
    """``log P(X = x)`` for ``X`` the relevant items among ``m`` drawn from ``n`` holding ``r``."""
    return (
        math.lgamma(r + 1)
        - math.lgamma(x + 1)
        - math.lgamma(r - x + 1)
        + math.lgamma(n - r + 1)
        - math.lgamma(m - x + 1)
        - math.lgamma(n - r - m + x + 1)
        - math.lgamma(n + 1)
        + math.lgamma(m + 1)
        + math.lgamma(n - m + 1)
    )


@numba.njit(nogil=True, cache=_numba.CACHE)
def _group_sum(before: int, relevant_before: int, n: int, r: int, harmonic: np.ndarray) -> float:
    """Expected sum of ``P@p`` over the relevant items among ``n`` tied items at ranks
    ``before + 1 .. before + n``, ``r`` of them relevant, after ``relevant_before`` relevant
    items: ``(r/n) * sum_t (relevant_before + 1 + (t - before - 1)(r - 1)/(n - 1)) / t``."""
    if r == 0:
        return 0.0
    inverse_sum = harmonic[before + n] - harmonic[before]
    offset_sum = n - (before + 1) * inverse_sum
    slope = (r - 1) / (n - 1) if n > 1 else 0.0
    return r / n * ((relevant_before + 1) * inverse_sum + slope * offset_sum)


def _tie_aware_ap_at_py(items, relevant, harmonic, k, out):
    """Expected AP@k over random orders within distance ties, per query (see
    :func:`~hashlearn.evaluation.tie_aware_map_at_k` for the derivation).

    ``items`` / ``relevant`` int64 ``(n_queries, n_bins)``: the distance histograms;
    ``harmonic``: :func:`harmonic_numbers` up to ``n_database``; ``1 <= k <= n_database``.
    Writes ``out[q]``.
    """
    n_queries, n_bins = items.shape
    for q in range(n_queries):
        # the groups wholly inside the top k: their expected sum of P@p
        before = 0
        relevant_before = 0
        inside = 0.0
        group = 0
        while group < n_bins - 1 and before + items[q, group] < k:
            n = items[q, group]
            r = relevant[q, group]
            inside += _group_sum(before, relevant_before, n, r, harmonic)
            before += n
            relevant_before += r
            group += 1
        # the group at the k-th rank, cut after its first m items, X ~ hypergeometric
        n = items[q, group]
        r = relevant[q, group]
        m = k - before
        if m == n or r == 0 or r == n:
            x = r if m == n else (0 if r == 0 else m)
            total = inside + _group_sum(before, relevant_before, m, x, harmonic)
            hits = relevant_before + x
            out[q] = total / hits if hits > 0 else 0.0
            continue
        low = max(0, m - (n - r))
        high = min(r, m)
        mode = min(max((m + 1) * (r + 1) // (n + 2), low), high)
        inverse_sum = harmonic[before + m] - harmonic[before]
        offset_sum = m - (before + 1) * inverse_sum
        # outward from the mode, so the probabilities only shrink (no overflow)
        weight_sum = 0.0
        value_sum = 0.0
        for direction in range(2):
            x = mode if direction == 0 else mode - 1
            if x < low:
                continue
            p = math.exp(_hypergeometric_log_pmf(n, r, m, x))
            while x >= low and x <= high:
                hits = relevant_before + x
                if hits > 0:
                    slope = (x - 1) / (m - 1) if m > 1 else 0.0
                    partial = x / m * ((relevant_before + 1) * inverse_sum + slope * offset_sum)
                    value_sum += p * (inside + partial) / hits
                weight_sum += p
                if direction == 0:
                    p *= (r - x) * (m - x) / ((x + 1) * (n - r - m + x + 1))
                    x += 1
                else:
                    p *= x * (n - r - m + x) / ((r - x + 1) * (m - x + 1))
                    x -= 1
        out[q] = value_sum / weight_sum


_tie_aware_ap_at = _numba.serial(_tie_aware_ap_at_py)


def tie_aware_ap_at(
    items: np.ndarray, relevant: np.ndarray, harmonic: np.ndarray, k: int
) -> NDArray[np.float64]:
    """Tie-aware AP@k of each query from its distance histograms (0 where none of the top
    k can be relevant). The formula is in :func:`~hashlearn.evaluation.tie_aware_map_at_k`."""
    out = np.empty(items.shape[0], dtype=np.float64)
    _tie_aware_ap_at(
        np.ascontiguousarray(items, dtype=np.int64),
        np.ascontiguousarray(relevant, dtype=np.int64),
        harmonic,
        int(k),
        out,
    )
    return out


# Query x database pairs handled per block: the scratch memory of one block is a few bytes
# per pair (distances, sort order, relevance), so about 25 MB at this setting; small blocks
# stay in cache, which measured faster than large ones.
_BLOCK_PAIRS = 1 << 20


def query_blocks(n_queries: int, n_database: int, block_size: int | None) -> list[tuple[int, int]]:
    size = block_size if block_size is not None else max(1, _BLOCK_PAIRS // n_database)
    return [(start, min(start + size, n_queries)) for start in range(0, n_queries, size)]


def small_distances(query_block: np.ndarray, database: np.ndarray) -> np.ndarray:
    """Hamming distances of a block as the narrowest unsigned dtype that holds them.

    8- and 16-bit keys make numpy's stable sort a radix (counting) sort.
    """
    distances = hamming_distances(query_block, database)
    max_distance = 8 * database.shape[1]
    return distances.astype(np.uint8 if max_distance <= 255 else np.uint16)

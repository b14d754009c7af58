"""Multi-table kernels: sub-code keys, and the probe / verify pass of ``L`` OR-ed tables.

Table ``t`` is keyed by bit positions ``P_t = (p_0, ..., p_{K_t - 1})`` of the code:

    ``key_t(x) = sum_j bit(x, p_j) * 2**j``        (:func:`table_keys`)

and is CSR: it owns buckets ``table_offsets[t] .. table_offsets[t + 1] - 1`` of the flat
arrays, whose keys ``bucket_keys`` ascend within the table; bucket ``b`` holds the ids
``bucket_ids[bucket_offsets[b]:bucket_offsets[b + 1]]`` (a :class:`Tables` record).

At probe radius ``r`` a query ``q`` reads, in every table, each bucket whose key lies
within ``popcount(key_t(q) XOR key) <= r``: by looking up ``key_t(q) XOR mask`` for the
masks of at most ``r`` bits (binary search), or, past the table's mask limit, by comparing
every bucket key (a :class:`Plan` record says which). Its candidates are the union over
tables, deduplicated with a bitset; each is verified with the full distance
``d(q, x) = sum_w popcount(q[w] XOR x[w])``, and the ``keep`` smallest pairs
``(d, id)`` with ``d <= limit`` are kept, sorted (:func:`probe_pass`). Per-table work
goes to a :class:`Stats` record. Pure functions: arrays in, arrays out.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
from numba import prange

from hashlearn._numba import CACHE, popcount64

__all__ = ["Gather", "Plan", "Queries", "Stats", "Tables", "probe_pass", "table_keys"]


class Tables(NamedTuple):
    """The ``L`` CSR tables in four flat arrays (see the module docstring)."""

    table_offsets: np.ndarray
    bucket_keys: np.ndarray
    bucket_offsets: np.ndarray
    bucket_ids: np.ndarray


class Plan(NamedTuple):
    """How each table is probed: table ``t``'s masks, ordered by popcount, start at
    ``masks[mask_offsets[t]]``; ``ball[t, r]`` masks make a radius-``r`` probe, which
    scans the bucket keys instead when that exceeds ``mask_limit[t]``."""

    masks: np.ndarray
    mask_offsets: np.ndarray
    ball: np.ndarray
    mask_limit: np.ndarray


class Queries(NamedTuple):
    """The query rows: their table keys ``uint64 (n, L)`` and code words ``uint64 (n, W)``."""

    keys: np.ndarray
    words: np.ndarray


class Stats(NamedTuple):
    """Per ``(row, table)`` work, ``(n, L)`` each: keys looked up or compared, buckets
    hit, members read (collisions), and whether the table scanned its bucket keys."""

    probed: np.ndarray
    hit: np.ndarray
    collisions: np.ndarray
    scanned: np.ndarray


class Gather(NamedTuple):
    """Where a filling pass puts its results: the stored codes as words; row ``i``'s
    candidates go to ``buffer[starts[i]:]`` (ids) and ``distances`` alongside;
    ``found[i]`` counts its distinct candidates and ``kept[i]`` those kept."""

    database: np.ndarray
    starts: np.ndarray
    buffer: np.ndarray
    distances: np.ndarray
    found: np.ndarray
    kept: np.ndarray


@numba.njit(nogil=True, cache=CACHE, boundscheck=False)
def table_keys(words, positions, group_offsets):
    """``keys[i, t] = sum_j bit(words[i], positions[group_offsets[t] + j]) << j``, ``(n, L)``.

    Serial: a few bit operations per key bit, far cheaper than the merge that follows
    in ``add`` (and a parallel loop would triple the compile time).
    """
    n = words.shape[0]
    n_tables = group_offsets.shape[0] - 1
    keys = np.zeros((n, n_tables), dtype=np.uint64)
    for i in range(n):
        for t in range(n_tables):
            key = np.uint64(0)
            start = group_offsets[t]
            for j in range(group_offsets[t + 1] - start):
                p = positions[start + j]
                bit = (words[i, p >> 6] >> np.uint64(p & 63)) & np.uint64(1)
                key |= bit << np.uint64(j)
            keys[i, t] = key
    return keys


@numba.njit(inline="always", nogil=True, cache=CACHE, boundscheck=False)
def _find_key(keys, lo, hi, target):
    """Position of ``target`` in the ascending ``keys[lo:hi]``, or -1."""
    end = hi
    while lo < hi:
        middle = (lo + hi) >> 1
        if keys[middle] < target:
            lo = middle + 1
        else:
            hi = middle
    if lo < end and keys[lo] == target:
        return lo
    return -1


@numba.njit(nogil=True, cache=CACHE, boundscheck=False)
def _take_bucket(bucket, bucket_offsets, bucket_ids, seen, buffer, position, count):
    """Append the members of ``bucket`` not yet in the bitset ``seen`` to the buffer."""
    for p in range(bucket_offsets[bucket], bucket_offsets[bucket + 1]):
        item = bucket_ids[p]
        bit = np.uint64(1) << np.uint64(item & 63)
        if (seen[item >> 6] & bit) == 0:
            seen[item >> 6] |= bit
            buffer[position + count] = item
            count += 1
    return count


@numba.njit(nogil=True, cache=CACHE, boundscheck=False)
def _probe_row(keys, row, radius, tables, plan, stats, fill, seen, buffer, position):
    """Probe every table for query ``row``; with ``fill``, collect its distinct candidates.

    Table ``t`` is probed with the first ``plan.ball[t, radius]`` masks of
    ``plan.masks[plan.mask_offsets[t]:]`` (ordered by popcount) when they are at most
    ``plan.mask_limit[t]``, else by comparing every bucket key with the query's. Records
    the row's work per table in ``stats``. With ``fill``, appends the members not in
    ``seen`` to ``buffer[position:]`` (marking them) and returns how many; else returns 0.
    """
    bucket_keys = tables.bucket_keys
    bucket_offsets = tables.bucket_offsets
    masks = plan.masks
    count = 0
    for t in range(keys.shape[1]):
        lo = tables.table_offsets[t]
        hi = tables.table_offsets[t + 1]
        key = keys[row, t]
        n_masks = plan.ball[t, radius]
        scan = n_masks > plan.mask_limit[t]
        n_probes = hi - lo if scan else n_masks
        first_mask = plan.mask_offsets[t]
        n_hit = 0
        n_read = 0
        for j in range(n_probes):
            if scan:
                bucket = lo + j
                if popcount64(bucket_keys[bucket] ^ key) > radius:
                    continue
            else:
                bucket = _find_key(bucket_keys, lo, hi, key ^ masks[first_mask + j])
                if bucket < 0:
                    continue
            n_hit += 1
            n_read += bucket_offsets[bucket + 1] - bucket_offsets[bucket]
            if fill:
                count = _take_bucket(
                    bucket, bucket_offsets, tables.bucket_ids, seen, buffer, position, count
                )
        stats.probed[row, t] = n_probes
        stats.hit[row, t] = n_hit
        stats.collisions[row, t] = n_read
        stats.scanned[row, t] = scan
    return count


@numba.njit(inline="always", nogil=True, cache=CACHE, boundscheck=False)
def _sift_down(heap, base, root, size):
    """Restore the max-heap ``heap[base:base + size]`` below ``root``."""
    while True:
        child = 2 * root + 1
        if child >= size:
            return
        if child + 1 < size and heap[base + child + 1] > heap[base + child]:
            child += 1
        if heap[base + root] >= heap[base + child]:
            return
        heap[base + root], heap[base + child] = heap[base + child], heap[base + root]
        root = child


@numba.njit(nogil=True, cache=CACHE, boundscheck=False)
def _smallest_sorted(values, base, n, keep):
    """Move the ``min(keep, n)`` smallest of ``values[base:base + n]`` to its start, ascending.

    A max-heap of the best ``keep`` values so far grows in place at the start of the
    segment (a value is read before its slot is overwritten), then is heap-sorted:
    ``O(n log keep)``. Returns ``min(keep, n)``.
    """
    size = 0
    for j in range(n):
        value = values[base + j]
        if size < keep:
            child = size
            values[base + child] = value
            size += 1
            while child > 0:
                parent = (child - 1) // 2
                if values[base + parent] >= values[base + child]:
                    break
                values[base + parent], values[base + child] = (
                    values[base + child],
                    values[base + parent],
                )
                child = parent
        elif value < values[base]:
            values[base] = value
            _sift_down(values, base, 0, size)
    for end in range(size - 1, 0, -1):
        values[base], values[base + end] = values[base + end], values[base]
        _sift_down(values, base, 0, end)
    return size


@numba.njit(nogil=True, cache=CACHE, boundscheck=False)
def _verify_row(query_words, row, database, buffer, distances, start, n, limit, keep):
    """Verify the candidates ``buffer[start:start + n]`` of query ``row``; keep the best.

    Computes ``d = sum_w popcount(query_words[row, w] XOR database[id, w])`` for each
    candidate; of those with ``d <= limit``, the ``keep`` smallest pairs ``(d, id)``,
    sorted, overwrite the start of the segment (ids in ``buffer``, distances in
    ``distances``). Returns their number.
    """
    n_items = database.shape[0]
    n_within = 0
    for j in range(start, start + n):
        item = buffer[j]
        d = 0
        for w in range(query_words.shape[1]):
            d += popcount64(query_words[row, w] ^ database[item, w])
        if d <= limit:
            # (distance, id) as one integer: ids are < n_items, distances <= 4096.
            buffer[start + n_within] = d * n_items + item
            n_within += 1
    n_kept = _smallest_sorted(buffer, start, n_within, keep)
    for j in range(start, start + n_kept):
        distances[j] = buffer[j] // n_items
        buffer[j] = buffer[j] % n_items
    return n_kept


@numba.njit(parallel=True, nogil=True, cache=CACHE, boundscheck=False)
def probe_pass(queries, radii, tables, plan, n_chunks, fill, limit, keep, gather, stats):
    """Probe, and with ``fill`` collect, verify and select, every query row.

    ``queries``: a :class:`Queries` record; ``radii[i]``: row ``i``'s probe radius.
    ``stats`` (:class:`Stats`) is always filled; summed over tables, ``collisions``
    bounds the row's distinct candidates. With ``fill``, ``gather`` (:class:`Gather`)
    receives row ``i``'s distinct candidates at ``buffer[starts[i]:]`` (room for
    ``collisions[i].sum()`` of them), ``found[i]`` counts them, and :func:`_verify_row`
    keeps at the start of that segment the ``keep`` best within ``limit``, ``kept[i]``
    of them. Rows are split into ``n_chunks`` chunks, one per parallel task, each with
    its own bitset of seen ids.
    """
    # Record fields are bound to local names before the parallel loop: numba's parfor pass
    # drops writes made as ``record.field[i] = ...`` inside it (numba 0.68).
    keys = queries.keys
    buffer = gather.buffer
    found = gather.found
    kept = gather.kept
    starts = gather.starts
    n_rows = keys.shape[0]
    seen_words = (gather.database.shape[0] + 63) // 64 if fill else 1
    per_chunk = (n_rows + n_chunks - 1) // n_chunks
    for chunk in prange(n_chunks):
        seen = np.zeros(seen_words, dtype=np.uint64)
        for row in range(chunk * per_chunk, min((chunk + 1) * per_chunk, n_rows)):
            position = starts[row] if fill else 0
            count = _probe_row(
                keys, row, radii[row], tables, plan, stats, fill, seen, buffer, position
            )
            if fill:
                found[row] = count
                for j in range(position, position + count):
                    item = buffer[j]
                    seen[item >> 6] &= ~(np.uint64(1) << np.uint64(item & 63))
                kept[row] = _verify_row(
                    queries.words,
                    row,
                    gather.database,
                    buffer,
                    gather.distances,
                    position,
                    count,
                    limit,
                    keep,
                )

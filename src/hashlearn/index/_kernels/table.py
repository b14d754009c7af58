"""Bucket probing of a hash table keyed by whole codes (at most 64 bits).

A table's buckets are CSR: bucket ``b`` holds ``ids[offsets[b]:offsets[b + 1]]``, and the
distinct bucket keys are found in O(1) through an open-addressing table
(:func:`build_key_table`; Fibonacci hashing ``slot(key) = (key * phi) >> shift``, linear
probing). :func:`probe_table` returns, for each query key ``q`` and every mask ``m`` of a
ball (ordered by popcount), the members of the bucket keyed ``q XOR m``: every stored item
``x`` with ``popcount(key(x) XOR q) <= r``, at distance ``popcount(m)``, sorted by
``(distance, id)``. Pure functions: arrays in, arrays out; the tests compare them with
brute force.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from hashlearn._numba import CACHE, compile_both

__all__ = ["SERIAL_PROBES", "build_key_table", "probe_table"]

_FIBONACCI = np.uint64(0x9E3779B97F4A7C15)


@numba.njit(inline="always", nogil=True, cache=CACHE)
def _slot_of(key, shift):
    """Home slot of ``key``: Fibonacci (multiply-shift) hashing, ``(key * phi) >> shift``."""
    return np.int64((key * _FIBONACCI) >> np.uint64(shift))


@numba.njit(nogil=True, cache=CACHE)
def build_key_table(keys):
    """An open-addressing table (linear probing) mapping each key to its position in ``keys``.

    ``keys`` are distinct ``uint64``. The table is one ``uint64 (capacity, 2)`` array of
    ``(key, position + 1)`` slots, so a lookup touches one cache line; ``position + 1 = 0``
    marks an empty slot. The capacity is a power of two of at least twice ``len(keys)``
    (load factor <= 1/2), so a lookup reads one or two adjacent slots on average. Returns
    ``(slots, shift)``.
    """
    n = keys.shape[0]
    bits = 1
    while (1 << bits) < 2 * max(n, 1):
        bits += 1
    capacity = 1 << bits
    shift = 64 - bits
    slots = np.zeros((capacity, 2), dtype=np.uint64)
    mask = capacity - 1
    for position in range(n):
        slot = _slot_of(keys[position], shift)
        while slots[slot, 1] != 0:
            slot = (slot + 1) & mask
        slots[slot, 0] = keys[position]
        slots[slot, 1] = position + 1
    return slots, shift


@numba.njit(inline="always", nogil=True, cache=CACHE)
def _lookup(slots, shift, key):
    """Position of ``key`` in the table built by :func:`build_key_table`, or -1."""
    mask = slots.shape[0] - 1
    slot = _slot_of(key, shift)
    while True:
        value = slots[slot, 1]
        if value == 0:
            return np.int64(-1)
        if slots[slot, 0] == key:
            return np.int64(value) - 1
        slot = (slot + 1) & mask


def _probe_lookup_py(query_keys, masks, slots, shift, offsets, buckets, counts, hits):
    """Pass 1 of :func:`probe_table`: ``buckets[q, m]`` = bucket of ``key_q XOR mask_m`` or -1."""
    for q in prange(query_keys.shape[0]):
        found = 0
        hit = 0
        for m in range(masks.shape[0]):
            bucket = _lookup(slots, shift, query_keys[q] ^ masks[m])
            buckets[q, m] = bucket
            if bucket >= 0:
                hit += 1
                found += offsets[bucket + 1] - offsets[bucket]
        counts[q] = found
        hits[q] = hit


def _probe_fill_py(buckets, mask_distances, offsets, ids, lims, out_d, out_i):
    """Pass 2 of :func:`probe_table`: copy the members out, ring by ring, ids sorted per ring."""
    for q in prange(buckets.shape[0]):
        position = lims[q]
        ring_start = position
        for m in range(buckets.shape[1]):
            if m > 0 and mask_distances[m] != mask_distances[m - 1]:
                # A ring is complete: its ids come from several buckets, order them.
                out_i[ring_start:position].sort()
                ring_start = position
            bucket = buckets[q, m]
            if bucket < 0:
                continue
            for p in range(offsets[bucket], offsets[bucket + 1]):
                out_d[position] = mask_distances[m]
                out_i[position] = ids[p]
                position += 1
        out_i[ring_start:position].sort()


# Two compilations of each pass: threads for large batches, one thread for small ones, where
# waking the thread pool (tens of microseconds, more under OMP_WAIT_POLICY=PASSIVE) would
# cost more than the lookups themselves.
_probe_lookup = compile_both(_probe_lookup_py)
_probe_fill = compile_both(_probe_fill_py)
# Lookups (queries x masks) below which a probe runs on one thread.
SERIAL_PROBES = 2**15
# Found buckets (queries x masks, int64) kept between the two passes per block of queries.
_PROBE_SCRATCH = 2**21


def probe_table(
    query_keys: np.ndarray,
    masks: np.ndarray,
    mask_distances: np.ndarray,
    key_table: tuple[np.ndarray, int],
    offsets: np.ndarray,
    ids: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Members of every bucket whose key is ``query_key XOR mask``, in CSR layout.

    ``masks`` are ordered by ``mask_distances`` (the popcount of each mask), so results come
    ring by ring; within a ring the ids (from several buckets) are sorted, which gives the
    ``(distance, id)`` order. Buckets are found in the open-addressing ``key_table``
    (:func:`build_key_table`) in O(1); bucket ``b`` holds ``ids[offsets[b]:offsets[b + 1]]``.
    Per block of queries, a first pass looks every key up and counts the members, a second
    copies them to their final place, so the output is allocated once at its exact size.

    Returns
    -------
    lims : int64 (n_queries + 1,)
    distances : int32 (lims[-1],)
    indices : int64 (lims[-1],)
    buckets_hit : int64 (n_queries,)
    """
    slots, shift = key_table
    n_queries, n_masks = query_keys.shape[0], masks.shape[0]
    block = max(1, _PROBE_SCRATCH // n_masks)
    counts = np.zeros(n_queries, dtype=np.int64)
    hits = np.zeros(n_queries, dtype=np.int64)
    pieces = []
    for start in range(0, n_queries, block):
        stop = min(start + block, n_queries)
        threaded = int((stop - start) * n_masks >= SERIAL_PROBES)
        buckets = np.empty((stop - start, n_masks), dtype=np.int64)
        _probe_lookup[threaded](
            query_keys[start:stop],
            masks,
            slots,
            shift,
            offsets,
            buckets,
            counts[start:stop],
            hits[start:stop],
        )
        block_lims = np.zeros(stop - start + 1, dtype=np.int64)
        np.cumsum(counts[start:stop], out=block_lims[1:])
        out_d = np.empty(int(block_lims[-1]), dtype=np.int32)
        out_i = np.empty(int(block_lims[-1]), dtype=np.int64)
        _probe_fill[threaded](buckets, mask_distances, offsets, ids, block_lims, out_d, out_i)
        pieces.append((out_d, out_i))
    lims = np.zeros(n_queries + 1, dtype=np.int64)
    np.cumsum(counts, out=lims[1:])
    if len(pieces) == 1:
        return lims, pieces[0][0], pieces[0][1], hits
    distances = np.concatenate([piece[0] for piece in pieces])
    indices = np.concatenate([piece[1] for piece in pieces])
    return lims, distances, indices, hits

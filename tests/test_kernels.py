"""The compiled kernels against their numpy references, across block boundaries."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashlearn import _kernels, _numba
from hashlearn.codes import pack_bits
from hashlearn.index.linear_scan import knn_reference, range_reference

# 1, 2 and 4 words take specialised paths; 3 and 8 words (and 13 bits) the general one.
N_BITS = [13, 64, 128, 192, 256, 512]


def clustered_codes(rng, n, n_bits, n_centres, flip):
    """Codes near a few centres: many ties, and neighbours scattered over the ids."""
    centres = rng.integers(0, 2, size=(n_centres, n_bits))
    bits = centres[rng.integers(0, n_centres, n)]
    bits ^= rng.random(bits.shape) < flip
    return pack_bits(bits)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_bits=st.sampled_from(N_BITS),
    n=st.integers(1, 2500),
    n_queries=st.integers(1, 40),
    k=st.sampled_from([1, 2, 10, 64, 100, 700]),
    flip=st.sampled_from([0.0, 0.02, 0.2, 0.5]),
)
def test_knn_scan_matches_reference(seed, n_bits, n, n_queries, k, flip):
    rng = np.random.default_rng(seed)
    database = clustered_codes(rng, n, n_bits, n_centres=5, flip=flip)
    queries = clustered_codes(rng, n_queries, n_bits, n_centres=5, flip=flip)
    kk = min(k, n)
    want = knn_reference(queries, database, kk, n_bits)
    got = _kernels.knn_scan(_kernels.as_words(queries), _kernels.as_words(database), kk, n_bits)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_bits=st.sampled_from(N_BITS),
    n=st.integers(1, 2500),
    n_queries=st.integers(1, 40),
    radius_fraction=st.floats(0, 0.6),
    flip=st.sampled_from([0.0, 0.05, 0.5]),
)
def test_range_scan_matches_reference(seed, n_bits, n, n_queries, radius_fraction, flip):
    rng = np.random.default_rng(seed)
    database = clustered_codes(rng, n, n_bits, n_centres=4, flip=flip)
    queries = clustered_codes(rng, n_queries, n_bits, n_centres=4, flip=flip)
    radius = int(radius_fraction * n_bits)
    want = range_reference(queries, database, radius)
    got = _kernels.range_scan(_kernels.as_words(queries), _kernels.as_words(database), radius)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)


def test_knn_ties_at_kth_position_break_by_smallest_id():
    # 3,000 identical codes: every distance ties, so the k best are the k smallest ids,
    # including after the candidate buffer has been compacted many times.
    database = np.zeros((3000, 8), dtype=np.uint8)
    queries = np.zeros((5, 8), dtype=np.uint8)
    queries[1, 0] = 1
    distances, indices = _kernels.knn_scan(
        _kernels.as_words(queries), _kernels.as_words(database), 50, 64
    )
    np.testing.assert_array_equal(indices, np.tile(np.arange(50), (5, 1)))
    np.testing.assert_array_equal(distances[1], np.ones(50))


def test_knn_scan_finds_late_better_codes():
    # The best codes sit at the end: the limit must keep dropping until the last block.
    rng = np.random.default_rng(0)
    database = rng.integers(0, 256, size=(5000, 8), dtype=np.uint8)
    queries = database[-3:].copy()
    distances, indices = _kernels.knn_scan(
        _kernels.as_words(queries), _kernels.as_words(database), 1, 64
    )
    np.testing.assert_array_equal(indices[:, 0], [4997, 4998, 4999])
    np.testing.assert_array_equal(distances[:, 0], 0)


@numba.njit
def _popcounts(values):
    out = np.empty(values.shape[0], dtype=np.int64)
    for i in range(values.shape[0]):
        out[i] = _kernels.popcount64(values[i])
    return out


def test_popcount64_is_exact():
    values = np.array([0, 1, 2**63, 2**64 - 1, 0x5555555555555555, 12345], dtype=np.uint64)
    assert _popcounts(values).tolist() == [bin(int(v)).count("1") for v in values]


def test_as_words_pads_without_changing_bits():
    codes = np.array([[1, 2, 3], [255, 0, 7]], dtype=np.uint8)
    words = _kernels.as_words(codes)
    assert words.dtype == np.uint64 and words.shape == (2, 1)
    assert words[1, 0] == 255 + (7 << 16)


def test_threads_context_restores_the_thread_count():
    before = numba.get_num_threads()
    with _kernels.threads(1) as count:
        assert count == 1 and numba.get_num_threads() == 1
    assert numba.get_num_threads() == before
    assert _kernels.thread_count(10**6) == numba.config.NUMBA_NUM_THREADS
    assert _kernels.thread_count(None) == numba.config.NUMBA_NUM_THREADS


@pytest.mark.parametrize("bad", [0, -3, 2.0, "1", False])
def test_check_n_threads_refuses(bad):
    with pytest.raises((TypeError, ValueError), match="n_threads"):
        _kernels.check_n_threads(bad)


def test_key_table_finds_every_key_and_only_those():
    rng = np.random.default_rng(2)
    keys = np.unique(rng.integers(0, 2**63, 5000, dtype=np.int64).astype(np.uint64))
    keys = np.concatenate([[np.uint64(0)], keys, [np.uint64(2**64 - 1)]])
    slots, _ = _kernels.build_key_table(keys)
    assert slots.shape[0] >= 2 * keys.shape[0]
    used = slots[:, 1] > 0
    positions = slots[used, 1].astype(np.int64) - 1
    assert sorted(positions.tolist()) == list(range(keys.shape[0]))
    np.testing.assert_array_equal(slots[used, 0], keys[positions])
    empty, _ = _kernels.build_key_table(np.empty(0, dtype=np.uint64))
    assert (empty == 0).all()


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_bits=st.sampled_from([4, 12, 20, 64]),
    n=st.integers(1, 400),
    radius=st.integers(0, 3),
)
def test_probe_table_returns_every_member_within_the_radius_in_order(seed, n_bits, n, radius):
    from hashlearn.codes import bucket_keys
    from hashlearn.index import HashTableIndex, hash_table

    rng = np.random.default_rng(seed)
    database = clustered_codes(rng, n, n_bits, n_centres=3, flip=0.1)
    queries = clustered_codes(rng, 9, n_bits, n_centres=3, flip=0.1)
    table = HashTableIndex(n_bits).add(database)
    masks, mask_distances = hash_table._masks_up_to(n_bits, radius)
    lims, distances, indices, hits = _kernels.probe_table(
        bucket_keys(queries, n_bits),
        masks,
        mask_distances,
        _kernels.build_key_table(table.bucket_keys_),
        table.bucket_offsets_,
        table.bucket_ids_,
    )
    want = range_reference(queries, database, radius)
    for a, b in zip((lims, distances, indices), want, strict=True):
        np.testing.assert_array_equal(a, b)
    keys = bucket_keys(queries, n_bits)
    for q in range(9):
        near = [bin(int(keys[q]) ^ int(key)).count("1") for key in table.bucket_keys_]
        assert hits[q] == sum(d <= radius for d in near)


@pytest.mark.parametrize("n_bits", [64, 192])
def test_serial_and_threaded_compilations_agree(monkeypatch, n_bits):
    rng = np.random.default_rng(n_bits)
    database = _kernels.as_words(clustered_codes(rng, 3000, n_bits, n_centres=4, flip=0.1))
    queries = _kernels.as_words(clustered_codes(rng, 23, n_bits, n_centres=4, flip=0.1))
    results = []
    for threshold in (0, 2**62):  # always threaded, then always serial
        monkeypatch.setattr(_numba, "SERIAL_WORK", threshold)
        monkeypatch.setattr(_kernels, "SERIAL_PROBES", threshold)
        results.append(
            (
                *_kernels.knn_scan(queries, database, 17, n_bits),
                *_kernels.range_scan(queries, database, n_bits // 4),
            )
        )
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


def test_serial_and_threaded_compilations_have_their_own_cache_entries():
    # numba's disk cache keys entries by function name, not by the parallel flag: sharing
    # one name once made the threaded scans load the serial code (half the speed).
    for pair in (_kernels._knn_scan, _kernels._range_pass):
        serial, threaded = pair
        assert threaded.targetoptions.get("parallel") and not serial.targetoptions.get("parallel")
        assert serial._cache._cache_file._index_name != threaded._cache._cache_file._index_name

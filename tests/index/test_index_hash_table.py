"""HashTableIndex against the LinearScanIndex oracle, its kernels, and bucket statistics."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashlearn.codes import bucket_keys, keys_to_codes, pack_bits
from hashlearn.index import BucketStatistics, HashTableIndex, LinearScanIndex, hash_table
from hashlearn.index.hash_table import (
    ProbeCostWarning,
    flip_masks,
    gather_buckets,
    n_masks,
    probe_by_masks,
)


def random_codes(rng, n, n_bits):
    return pack_bits(rng.integers(0, 2, size=(n, n_bits)))


def popcount64(keys):
    """Set bits of each uint64 key (portable: no np.bitwise_count on numpy 1.x)."""
    keys = np.asarray(keys, dtype=np.uint64)
    return np.unpackbits(keys.reshape(-1, 1).view(np.uint8), axis=1).sum(axis=1).reshape(keys.shape)


def clustered_codes(rng, n, n_bits, n_centres=5, flip=0.05):
    centres = rng.integers(0, 2, size=(n_centres, n_bits))
    bits = centres[rng.integers(0, n_centres, n)]
    bits ^= (rng.random(bits.shape) < flip).astype(bits.dtype)
    return pack_bits(bits)


def assert_same(a, b):
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


# -- kernels --------------------------------------------------------------------------------
@pytest.mark.parametrize("n_bits", [1, 5, 12, 64])
def test_flip_masks_are_every_mask_with_d_bits_once(n_bits):
    for distance in range(min(n_bits, 4) + 1):
        masks = flip_masks(n_bits, distance)
        assert masks.dtype == np.uint64 and not masks.flags.writeable
        assert masks.shape == (math.comb(n_bits, distance),)
        assert np.unique(masks).shape == masks.shape
        assert (popcount64(masks) == distance).all()
        if n_bits < 64:
            assert (masks < np.uint64(1 << n_bits)).all()
    assert flip_masks(12, 3) is flip_masks(12, 3)  # cached
    full = np.concatenate([flip_masks(5, d) for d in range(6)])
    np.testing.assert_array_equal(np.sort(full), np.arange(32, dtype=np.uint64))
    assert n_masks(5, 2) == 1 + 5 + 10 and n_masks(5, 9) == 32


def test_probe_kernel_matches_brute_force():
    rng = np.random.default_rng(0)
    n_bits = 10
    keys = np.unique(rng.integers(0, 1 << n_bits, 200).astype(np.uint64))
    queries = rng.integers(0, 1 << n_bits, 7).astype(np.uint64)
    distance = popcount64(queries[:, None] ^ keys[None, :])
    for radius in range(4):
        masks = np.concatenate([flip_masks(n_bits, d) for d in range(radius + 1)])
        q, m, b = probe_by_masks(keys, queries, masks)
        np.testing.assert_array_equal(keys[b], queries[q] ^ masks[m])
        found = set(zip(q.tolist(), b.tolist(), strict=True))
        expected = set(zip(*np.nonzero(distance <= radius), strict=True))
        assert found == {(int(i), int(j)) for i, j in expected}


def test_gather_buckets():
    offsets = np.array([0, 2, 2, 5, 6])
    positions, owner = gather_buckets(offsets, np.array([3, 0, 2, 1]))
    np.testing.assert_array_equal(positions, [5, 0, 1, 2, 3, 4])
    np.testing.assert_array_equal(owner, [0, 1, 1, 2, 2, 2])
    positions, owner = gather_buckets(offsets, np.array([], dtype=np.int64))
    assert positions.size == owner.size == 0


# -- exactness against the oracle ------------------------------------------------------------
@pytest.mark.parametrize("n_bits", [3, 8, 13, 16, 24, 64])
@pytest.mark.parametrize("kind", ["random", "clustered"])
def test_probe_range_and_search_equal_linear_scan(n_bits, kind):
    rng = np.random.default_rng(n_bits)
    make = random_codes if kind == "random" else clustered_codes
    database = make(rng, 700, n_bits)
    queries = np.concatenate([make(rng, 25, n_bits), database[:5]])
    oracle = LinearScanIndex(n_bits).add(database)
    table = HashTableIndex(n_bits).add(database)
    table.lookup_cost = 1  # masks while they are fewer than the buckets, then the scan
    strategies = set()
    for radius in sorted({0, 1, 2, 3, 4, n_bits // 2, n_bits}):
        expected = oracle.range_search(queries, radius)
        assert_same(table.probe(queries, radius), expected)
        strategies.add(bool(table.last_stats_.scanned[0]))
        assert_same(table.range_search(queries, radius), expected)
    if n_bits > 3:  # with 3 bits every bucket exists: the masks never outnumber them
        assert strategies == {False, True}  # both the masks and the bucket scan were used
    for k in (1, 2, 10, 100, 699, 700, 800):
        assert_same(table.search(queries, k), oracle.search(queries, k))


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_bits=st.integers(1, 64),
    n=st.integers(1, 150),
    n_distinct=st.integers(1, 60),
    k=st.integers(1, 160),
    radius=st.integers(0, 64),
    lookup_cost=st.sampled_from([1, 200]),
)
def test_hash_table_equals_linear_scan_property(
    seed, n_bits, n, n_distinct, k, radius, lookup_cost
):
    rng = np.random.default_rng(seed)
    pool = random_codes(rng, n_distinct, n_bits)
    database = pool[rng.integers(0, n_distinct, n)]
    queries = np.concatenate([random_codes(rng, 3, n_bits), pool[:2]])
    oracle = LinearScanIndex(n_bits).add(database)
    table = HashTableIndex(n_bits).add(database[: n // 2]).add(database[n // 2 :])
    table.lookup_cost = lookup_cost  # 1: probe whenever the ball is smaller than N
    assert_same(table.probe(queries, radius), oracle.range_search(queries, radius))
    assert_same(table.search(queries, k), oracle.search(queries, k))


def test_blocks_do_not_change_results(monkeypatch):
    rng = np.random.default_rng(11)
    database = clustered_codes(rng, 400, 20)
    queries = clustered_codes(rng, 33, 20)
    table = HashTableIndex(20).add(database)
    probe = [table.probe(queries, r) for r in (1, 3, 20)]
    search = table.search(queries, 15)
    monkeypatch.setattr(hash_table, "_PROBE_BLOCK", 50)
    for r, expected in zip((1, 3, 20), probe, strict=True):
        assert_same(table.probe(queries, r), expected)
    assert_same(table.search(queries, 15), search)


def test_probe_scans_and_warns_when_the_ball_costs_more_than_a_scan():
    rng = np.random.default_rng(3)
    database = clustered_codes(rng, 300, 32, n_centres=2, flip=0.02)
    table = HashTableIndex(32).add(database)
    table.lookup_cost = 1
    assert n_masks(32, 1) <= table.n_buckets < n_masks(32, 2)  # 33 <= buckets < 529
    queries = database[:4]
    oracle = LinearScanIndex(32).add(database)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_same(table.probe(queries, 1), oracle.range_search(queries, 1))
    stats = table.last_stats_
    assert not stats.scanned.any()
    np.testing.assert_array_equal(stats.buckets_probed, [33] * 4)
    with pytest.warns(ProbeCostWarning, match="radius 2 on 32-bit codes means probing 529 keys"):
        assert_same(table.probe(queries, 2), oracle.range_search(queries, 2))
    lims = table.probe(queries, 2)[0]
    stats = table.last_stats_
    assert stats.scanned.all()
    np.testing.assert_array_equal(stats.buckets_probed, [table.n_buckets] * 4)
    np.testing.assert_array_equal(stats.candidates, np.diff(lims))
    assert stats.n_queries == 4 and set(stats.summary()) >= {"candidates", "buckets_hit"}


def test_search_does_not_warn_when_it_finishes_with_the_scan():
    rng = np.random.default_rng(8)
    database = random_codes(rng, 200, 64)
    table = HashTableIndex(64).add(database)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_same(
            table.search(database[:3], 5), LinearScanIndex(64).add(database).search(database[:3], 5)
        )
    assert table.last_stats_.scanned.all()
    np.testing.assert_array_equal(table.last_stats_.candidates, [200] * 3)


def test_probe_statistics_by_hand():
    # 6 buckets {0: [0, 1], 1: [2], 3: [3], 8: [4], 12: [5], 15: [6]}; query key 0,
    # radius 1: 1 + 4 masks (<= 6 buckets) looked up, buckets 0, 1, 8 hit, 4 candidates.
    table = HashTableIndex(4).add(keys_to_codes([0, 0, 1, 3, 8, 12, 15], 4))
    table.lookup_cost = 1
    lims, dist, ids = table.probe(keys_to_codes([0], 4), 1)
    np.testing.assert_array_equal(lims, [0, 4])
    np.testing.assert_array_equal(ids, [0, 1, 2, 4])
    np.testing.assert_array_equal(dist, [0, 0, 1, 1])
    stats = table.last_stats_
    assert stats.buckets_probed.tolist() == [5]
    assert stats.buckets_hit.tolist() == [3]
    assert stats.candidates.tolist() == [4]
    assert stats.radius.tolist() == [1] and not stats.scanned[0]
    # radius 2: 1 + 4 + 6 = 11 keys cost more than comparing the 6 bucket keys.
    with pytest.warns(ProbeCostWarning):
        _, dist, ids = table.probe(keys_to_codes([0], 4), 2)
    np.testing.assert_array_equal(ids, [0, 1, 2, 4, 3, 5])
    stats = table.last_stats_
    assert stats.scanned[0] and stats.buckets_probed.tolist() == [6]
    assert stats.buckets_hit.tolist() == [5] and stats.candidates.tolist() == [6]


def test_search_grows_the_radius_until_k_are_certain():
    # Items at distances 0, 1, 1, 3 from the query (key 0b0000 of 8 bits).
    table = HashTableIndex(8).add(keys_to_codes([0, 1, 2, 7], 8))
    table.lookup_cost = 1
    distances, indices = table.search(keys_to_codes([0], 8), 3)
    np.testing.assert_array_equal(distances, [[0, 1, 1]])
    np.testing.assert_array_equal(indices, [[0, 1, 2]])
    assert table.last_stats_.radius.tolist() == [1]
    distances, indices = table.search(keys_to_codes([0], 8), 4)
    np.testing.assert_array_equal(distances, [[0, 1, 1, 3]])
    assert table.last_stats_.radius.tolist() == [3]


def test_csr_layout_is_sorted_by_key_then_id():
    rng = np.random.default_rng(4)
    database = random_codes(rng, 500, 6)
    table = HashTableIndex(6)
    for chunk in np.array_split(database, 4):
        table.add(chunk)
    keys = bucket_keys(database, 6)
    assert (np.diff(table.bucket_keys_.astype(np.int64)) > 0).all()
    sizes = np.diff(table.bucket_offsets_)
    assert (sizes > 0).all() and sizes.sum() == 500
    expected = np.lexsort((np.arange(500), keys))
    np.testing.assert_array_equal(table.bucket_ids_, expected)
    np.testing.assert_array_equal(np.repeat(table.bucket_keys_, sizes), keys[expected])


# -- bucket statistics ------------------------------------------------------------------------
def test_bucket_statistics_by_hand():
    # Buckets: key 3 -> ids {0, 1, 2} labels a, a, b; key 5 -> ids {3, 4} labels c, c;
    # key 7 -> id {5} label c.
    codes = keys_to_codes([3, 5, 3, 5, 3, 7], 4)
    labels = np.array(["a", "c", "a", "c", "b", "c"])
    table = HashTableIndex(4).add(codes)
    stats = table.bucket_statistics(labels=labels, n_largest=2)
    assert isinstance(stats, BucketStatistics)
    assert stats.n_items == 6 and stats.n_buckets == 3
    assert stats.occupancy_histogram == {1: 1, 2: 1, 3: 1}
    assert stats.largest_bucket == 3
    assert stats.mean_occupancy == pytest.approx(2.0)
    assert stats.collision_fraction == pytest.approx(5 / 6)  # all but the item of key 7
    assert stats.label_purity == pytest.approx((2 + 2 + 1) / 6)
    first, second = stats.largest_buckets
    assert first.key == 3 and first.size == 3
    np.testing.assert_array_equal(first.code, keys_to_codes([3], 4)[0])
    np.testing.assert_array_equal(first.members, [0, 2, 4])
    np.testing.assert_array_equal(first.labels, ["a", "a", "b"])
    assert first.majority_label == "a" and first.purity == pytest.approx(2 / 3)
    assert second.key == 5 and second.purity == 1.0
    np.testing.assert_array_equal(second.members, [1, 3])
    assert stats.as_dict()["occupancy_histogram"] == {"1": 1, "2": 1, "3": 1}
    no_labels = table.bucket_statistics()
    assert no_labels.label_purity is None and no_labels.largest_buckets[0].labels is None
    np.testing.assert_array_equal(table.bucket_members(keys_to_codes([5], 4)), [1, 3])
    np.testing.assert_array_equal(table.bucket_members(keys_to_codes([5], 4)[0]), [1, 3])
    assert table.bucket_members(keys_to_codes([0], 4)).size == 0


def test_bucket_statistics_majority_ties_and_edge_cases():
    table = HashTableIndex(4).add(keys_to_codes([1, 1, 2, 2], 4))
    stats = table.bucket_statistics(labels=[2, 1, 0, 0], n_largest=5)
    assert stats.largest_buckets[0].majority_label == 1  # tie 1 vs 2: the smaller label
    assert stats.label_purity == pytest.approx(3 / 4)
    assert stats.collision_fraction == 1.0 and len(stats.largest_buckets) == 2
    empty = HashTableIndex(4).bucket_statistics(labels=[])
    assert empty.n_buckets == 0 and empty.largest_bucket == 0 and empty.occupancy_histogram == {}
    assert np.isnan(empty.label_purity)
    with pytest.raises(ValueError, match="one label per stored item"):
        table.bucket_statistics(labels=[0, 1])


@pytest.mark.parametrize("n_threads", [None, -1, 1, 2])
def test_n_threads_does_not_change_results(n_threads):
    rng = np.random.default_rng(3)
    database = random_codes(rng, 2000, 20)
    queries = random_codes(rng, 40, 20)
    want = HashTableIndex(20).add(database)
    got = HashTableIndex(20, n_threads=n_threads).add(database)
    for a, b in zip(want.search(queries, 9), got.search(queries, 9), strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(want.range_search(queries, 2), got.range_search(queries, 2), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_n_threads_is_validated(bad):
    with pytest.raises((TypeError, ValueError), match="n_threads"):
        HashTableIndex(8, n_threads=bad)


def test_n_threads_is_saved(tmp_path):
    from hashlearn import load

    index = HashTableIndex(8, n_threads=1).add(random_codes(np.random.default_rng(0), 5, 8))
    assert load(index.save(tmp_path / "index.hashlearn")).n_threads == 1

"""MultiTableIndex: candidates against their definition, the LinearScanIndex oracle, guarantees."""

from __future__ import annotations

import doctest
import itertools
import json
import math
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hashlearn
from hashlearn.codes import hamming_distances, keys_to_codes, pack_bits, unpack_bits
from hashlearn.hashers import LSH
from hashlearn.hashers.stack import HasherStack
from hashlearn.index import LinearScanIndex, multi_table
from hashlearn.index.multi_table import MultiTableIndex, MultiTableStatistics, table_keys


def random_codes(rng, n, n_bits):
    return pack_bits(rng.integers(0, 2, size=(n, n_bits)))


def clustered_codes(rng, n, n_bits, n_centres=5, flip=0.05):
    centres = rng.integers(0, 2, size=(n_centres, n_bits))
    bits = centres[rng.integers(0, n_centres, n)]
    bits ^= (rng.random(bits.shape) < flip).astype(bits.dtype)
    return pack_bits(bits)


def reference_keys(codes, n_bits, groups):
    """Numpy reference for table_keys: unpack the bits, shift bit j of each group by j."""
    bits = unpack_bits(codes, n_bits).astype(np.uint64)
    columns = []
    for group in groups:
        shifted = bits[:, np.asarray(group)] << np.arange(len(group), dtype=np.uint64)
        columns.append(np.bitwise_or.reduce(shifted, axis=1))
    return np.stack(columns, axis=1).astype(np.uint64)


def reference_candidates(index, database, queries, radius):
    """Candidates by definition: some table's key within ``radius`` of the query's."""
    q = reference_keys(queries, index.n_bits, index.table_bits)
    d = reference_keys(database, index.n_bits, index.table_bits)
    sub = np.bitwise_count(q[:, None, :] ^ d[None, :, :])  # (n_queries, n, L)
    return sub.min(axis=2) <= radius


def expected_range(candidates, distances, radius):
    """CSR results of the candidates within ``radius``, sorted by (distance, id)."""
    lims, dist, ids = [0], [], []
    for row in range(distances.shape[0]):
        hit = np.flatnonzero(candidates[row] & (distances[row] <= radius))
        order = hit[np.lexsort((hit, distances[row, hit]))]
        dist.append(distances[row, order])
        ids.append(order)
        lims.append(lims[-1] + order.shape[0])
    return (
        np.array(lims, dtype=np.int64),
        np.concatenate(dist).astype(np.int32),
        np.concatenate(ids).astype(np.int64),
    )


def candidate_sets(index, queries):
    """The candidate ids of each query (range search at the largest radius)."""
    lims, _, ids = index.range_search(queries, index.n_bits)
    return [set(ids[lims[i] : lims[i + 1]].tolist()) for i in range(queries.shape[0])]


def assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype, (x.dtype, y.dtype)
        np.testing.assert_array_equal(x, y)


# -- the key kernel ---------------------------------------------------------------------------
@pytest.mark.parametrize("n_bits", [1, 7, 64, 100, 200])
def test_table_keys_match_numpy_reference(n_bits):
    rng = np.random.default_rng(n_bits)
    codes = random_codes(rng, 50, n_bits)
    groups = [rng.choice(n_bits, size=rng.integers(1, min(n_bits, 64) + 1), replace=False)]
    groups += [np.arange(min(n_bits, 64)), [n_bits - 1]]
    np.testing.assert_array_equal(
        table_keys(codes, n_bits, groups), reference_keys(codes, n_bits, groups)
    )
    index = MultiTableIndex(n_bits, tables=groups).add(codes)
    np.testing.assert_array_equal(index._keys(codes), reference_keys(codes, n_bits, groups))


# -- configuration ------------------------------------------------------------------------------
def test_default_and_derived_groups():
    assert MultiTableIndex(64).table_bits[3].tolist() == list(range(48, 64))
    assert (MultiTableIndex(64).n_tables, MultiTableIndex(64).bits_per_table) == (4, 16)
    assert (MultiTableIndex(20).n_tables, MultiTableIndex(20).bits_per_table) == (1, 16)
    assert (MultiTableIndex(5).n_tables, MultiTableIndex(5).bits_per_table) == (1, 5)
    assert (
        MultiTableIndex(20, n_tables=3).bits_per_table,
        MultiTableIndex(20, n_tables=3).n_tables,
    ) == (
        6,
        3,
    )
    assert MultiTableIndex(20, bits_per_table=5).n_tables == 4
    assert MultiTableIndex(200, n_tables=2).bits_per_table == 64
    index = MultiTableIndex(32, n_tables=4, bits_per_table=8)
    assert [g.tolist() for g in index.table_bits] == [
        list(range(8 * t, 8 * t + 8)) for t in range(4)
    ]
    assert index.bit_multiplicity == 1 and index.table_kind == "disjoint"
    with pytest.raises(ValueError, match="read-only"):
        index.table_bits[0][0] = 5


def test_random_groups_are_seeded_distinct_and_nested():
    small = MultiTableIndex(40, n_tables=3, bits_per_table=12, tables="random", random_state=7)
    large = MultiTableIndex(40, n_tables=6, bits_per_table=12, tables="random", random_state=7)
    again = MultiTableIndex(40, n_tables=3, bits_per_table=12, tables="random", random_state=7)
    other = MultiTableIndex(40, n_tables=3, bits_per_table=12, tables="random", random_state=8)
    for group in large.table_bits:
        assert group.shape == (12,) and np.all(np.diff(group) > 0)  # sorted, distinct
        assert group.min() >= 0 and group.max() < 40
    for a, b, c in zip(small.table_bits, large.table_bits, again.table_bits, strict=False):
        np.testing.assert_array_equal(a, b)  # the first 3 of 6 tables are the same
        np.testing.assert_array_equal(a, c)
    assert any(
        not np.array_equal(a, b) for a, b in zip(small.table_bits, other.table_bits, strict=True)
    )
    counts = np.bincount(np.concatenate(large.table_bits), minlength=40)
    assert large.bit_multiplicity == counts.max() > 1
    assert large.table_kind == "random"


def test_explicit_groups():
    index = MultiTableIndex(10, tables=[[9, 0, 3], np.array([1, 2]), (4, 5, 6, 7, 8)])
    assert index.n_tables == 3 and index.bits_per_table is None
    assert index.table_bits[0].tolist() == [9, 0, 3] and index.table_kind == "explicit"
    assert MultiTableIndex(10, tables=np.array([[0, 1], [0, 2]])).bit_multiplicity == 2
    assert "tables=[...]" in repr(index)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"n_tables": 0}, ValueError, r"n_tables must be in \[1, inf\], got 0"),
        ({"n_tables": 2.0}, TypeError, "n_tables must be an int"),
        ({"bits_per_table": 65}, ValueError, r"bits_per_table must be in \[1, 64\], got 65"),
        ({"bits_per_table": 40}, ValueError, "bits_per_table must be <= n_bits=32, got 40"),
        ({"n_tables": 40}, ValueError, "n_tables=40 exceeds n_bits=32"),
        ({"n_tables": 3, "bits_per_table": 16}, ValueError, r"3 \* 16 = 48 > 32.*'random'"),
        ({"tables": "overlapping"}, ValueError, "tables must be 'disjoint', 'random' or"),
        ({"tables": 3}, TypeError, "tables must be .* got int"),
        ({"tables": np.arange(4)}, TypeError, r"got a 1-D array; wrap a single group"),
        ({"tables": []}, ValueError, "at least one group"),
        ({"tables": [[]]}, ValueError, r"tables\[0\] has 0 bit positions"),
        ({"tables": [list(range(65))]}, ValueError, r"tables\[0\] has 65 .* 1 to 64 bits"),
        ({"tables": [[0], [0, 32]]}, ValueError, r"tables\[1\] holds bit position 32, outside"),
        ({"tables": [[-1]]}, ValueError, "bit position -1, outside"),
        ({"tables": [[3, 1, 3]]}, ValueError, r"tables\[0\] repeats bit position 3"),
        ({"tables": [[0.5]]}, TypeError, r"tables\[0\] must be a 1-D sequence of integer"),
        ({"tables": [[[0, 1]]]}, TypeError, r"tables\[0\] must be a 1-D"),
        ({"tables": [[0], [1]], "n_tables": 3}, ValueError, "n_tables=3 but tables lists 2"),
        ({"tables": [[0], [1, 2]], "bits_per_table": 1}, ValueError, "bits_per_table=1 but"),
        ({"probe_radius": -1}, ValueError, r"probe_radius must be in \[0, inf\], got -1"),
        ({"probe_radius": 1.5}, TypeError, "probe_radius must be an int"),
        ({"grow": "always"}, ValueError, "grow must be None, 'candidates' or 'exact', got"),
        ({"random_state": "seed", "tables": "random"}, TypeError, "random_state must be"),
        ({"n_threads": 0}, ValueError, "n_threads must be None, -1 or an int >= 1"),
    ],
)
def test_invalid_parameters_are_refused_with_clear_messages(kwargs, error, message):
    with pytest.raises(error, match=message):
        MultiTableIndex(32, **kwargs)


def test_setters_validate_and_n_bits_is_checked():
    index = MultiTableIndex(16)
    index.probe_radius = 3
    index.grow = "candidates"
    assert (index.probe_radius, index.grow) == (3, "candidates")
    with pytest.raises(ValueError, match="probe_radius"):
        index.probe_radius = -2
    with pytest.raises(ValueError, match="grow must be"):
        index.grow = True
    with pytest.raises(ValueError, match=r"n_bits must be in \[1, 4096\], got 0"):
        MultiTableIndex(0)
    with pytest.raises(TypeError, match="n_bits"):
        MultiTableIndex(16.0)


# -- candidates against their definition, results against the oracle -------------------------
table_configs = st.one_of(
    st.tuples(st.just("disjoint"), st.integers(1, 6), st.integers(1, 20)),
    st.tuples(st.just("random"), st.integers(1, 6), st.integers(1, 20)),
    st.tuples(st.just("explicit"), st.integers(1, 5), st.integers(1, 64)),
)


def build(n_bits, config, seed, **kwargs):
    kind, n_tables, bits = config
    rng = np.random.default_rng(seed)
    if kind == "explicit":
        groups = [
            rng.choice(n_bits, size=int(rng.integers(1, min(bits, n_bits) + 1)), replace=False)
            for _ in range(n_tables)
        ]
        return MultiTableIndex(n_bits, tables=groups, **kwargs)
    bits = min(bits, n_bits)
    n_tables = min(n_tables, n_bits // bits) if kind == "disjoint" else n_tables
    return MultiTableIndex(
        n_bits, n_tables=n_tables, bits_per_table=bits, tables=kind, random_state=seed, **kwargs
    )


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_bits=st.integers(1, 96),
    n=st.integers(1, 120),
    n_distinct=st.integers(1, 60),
    config=table_configs,
    probe_radius=st.integers(0, 4),
    k=st.integers(1, 130),
    radius=st.integers(0, 96),
)
def test_results_are_the_candidates_with_exact_distances(
    seed, n_bits, n, n_distinct, config, probe_radius, k, radius
):
    rng = np.random.default_rng(seed)
    pool = random_codes(rng, n_distinct, n_bits)
    database = pool[rng.integers(0, n_distinct, n)]
    queries = np.concatenate([random_codes(rng, 4, n_bits), pool[:3] ^ pool[-1:]])
    index = build(n_bits, config, seed, probe_radius=probe_radius)
    index.add(database[: n // 3]).add(database[n // 3 :])
    candidates = reference_candidates(index, database, queries, probe_radius)
    distances = hamming_distances(queries, database)
    radius = min(radius, n_bits)

    # range_search: exactly the candidates within the radius, a subset of the oracle's.
    lims, dist, ids = index.range_search(queries, radius)
    assert_same((lims, dist, ids), expected_range(candidates, distances, radius))
    oracle = LinearScanIndex(n_bits).add(database)
    o_lims, _, o_ids = oracle.range_search(queries, radius)
    for row in range(queries.shape[0]):
        found = ids[lims[row] : lims[row + 1]]
        assert np.unique(found).shape == found.shape  # no duplicates
        assert set(found.tolist()) <= set(o_ids[o_lims[row] : o_lims[row + 1]].tolist())
    stats = index.last_stats_
    np.testing.assert_array_equal(stats.candidates, candidates.sum(axis=1))
    assert (stats.collisions.sum(axis=1) >= stats.candidates).all()

    # search: the k smallest (distance, id) pairs among the candidates, padded with -1
    # (k capped at the number of stored codes).
    all_lims, all_dist, all_ids = expected_range(candidates, distances, n_bits)
    top_d, top_i = index.search(queries, k)
    k = min(k, n)
    assert top_d.shape == top_i.shape == (queries.shape[0], k)
    for row in range(queries.shape[0]):
        best = slice(all_lims[row], min(all_lims[row] + k, all_lims[row + 1]))
        m = best.stop - best.start
        np.testing.assert_array_equal(top_d[row, :m], all_dist[best])
        np.testing.assert_array_equal(top_i[row, :m], all_ids[best])
        assert (top_d[row, m:] == -1).all() and (top_i[row, m:] == -1).all()

    # The guarantee: every code within the certified radius was a candidate.
    certified = index.certified_radius()
    assert (candidates | (distances > certified)).all()
    exact_d, exact_i = oracle.search(queries, k)
    within = (exact_d >= 0) & (exact_d <= certified)
    np.testing.assert_array_equal(top_d[within], exact_d[within])
    np.testing.assert_array_equal(top_i[within], exact_i[within])


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_bits=st.integers(1, 80),
    n=st.integers(1, 150),
    config=table_configs,
    k=st.integers(1, 40),
    radius=st.integers(0, 80),
)
def test_grow_exact_equals_linear_scan(seed, n_bits, n, config, k, radius):
    rng = np.random.default_rng(seed)
    database = clustered_codes(rng, n, n_bits)
    queries = np.concatenate([clustered_codes(rng, 5, n_bits), random_codes(rng, 3, n_bits)])
    index = build(n_bits, config, seed, grow="exact").add(database)
    oracle = LinearScanIndex(n_bits).add(database)
    assert_same(index.search(queries, k), oracle.search(queries, k))
    stats = index.last_stats_
    assert (stats.verified >= stats.candidates).all()
    kth = oracle.search(queries, min(k, n))[0][:, -1]
    assert (kth <= stats.certified_radius).all()  # each row is certified
    assert_same(index.range_search(queries, radius), oracle.range_search(queries, radius))
    # Without growth, probing at probe_radius_for(radius) is exact too.
    index.grow = None
    index.probe_radius = index.probe_radius_for(radius)
    assert_same(index.range_search(queries, radius), oracle.range_search(queries, radius))


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_bits=st.integers(2, 64),
    n=st.integers(1, 150),
    kind=st.sampled_from(["disjoint", "random"]),
    bits=st.integers(1, 16),
)
def test_candidates_never_shrink_with_probe_radius_or_tables(seed, n_bits, n, kind, bits):
    rng = np.random.default_rng(seed)
    database = clustered_codes(rng, n, n_bits)
    queries = clustered_codes(rng, 6, n_bits)
    bits = min(bits, n_bits)
    most = n_bits // bits if kind == "disjoint" else 5
    previous = None
    for n_tables in range(1, most + 1):
        index = MultiTableIndex(
            n_bits, n_tables=n_tables, bits_per_table=bits, tables=kind, random_state=seed
        )
        index.add(database)
        by_radius = []
        for probe_radius in range(bits + 1):
            index.probe_radius = probe_radius
            by_radius.append(candidate_sets(index, queries))
        for smaller, larger in itertools.pairwise(by_radius):
            assert all(a <= b for a, b in zip(smaller, larger, strict=True))
        assert all(len(s) == n for s in by_radius[-1])  # radius K: every item
        if previous is not None:
            assert all(a <= b for a, b in zip(previous, by_radius[0], strict=True))
        previous = by_radius[0]


# -- the pigeonhole bound, by hand ----------------------------------------------------------
def test_certified_radius_and_probe_radius_for_by_hand():
    index = MultiTableIndex(64, n_tables=4, bits_per_table=16)
    assert [index.certified_radius(r) for r in range(4)] == [3, 7, 11, 15]
    assert [index.probe_radius_for(d) for d in (0, 3, 4, 7, 8, 64, 100)] == [0, 0, 1, 1, 2, 16, 16]
    assert index.certified_radius(16) == 64 and index.certified_radius(99) == 64
    # Two tables sharing every bit (m = 2): R(r) = floor((2 (r + 1) - 1) / 2) = r.
    same = MultiTableIndex(8, tables=[np.arange(8), np.arange(8)])
    assert same.bit_multiplicity == 2 and [same.certified_radius(r) for r in range(3)] == [0, 1, 2]
    # Three disjoint 2-bit groups of a 10-bit code (bits 6..9 in no table): R(0) = 2.
    partial = MultiTableIndex(10, tables=[[0, 1], [2, 3], [4, 5]])
    assert partial.certified_radius(0) == 2 and partial.certified_radius(2) == 10
    with pytest.raises(ValueError, match=r"radius must be (an int )?>= 0"):
        index.probe_radius_for(-1)


def test_pigeonhole_is_tight_for_disjoint_groups():
    # Two groups of 4 bits; the code differs from the query in 2 bits of each group:
    # d = 4 needs probe_radius >= floor(4 / 2) = 2, and radius 1 misses it.
    query = pack_bits([[0] * 8])
    database = pack_bits([[1, 1, 0, 0, 1, 1, 0, 0], [1, 0, 0, 0, 0, 0, 0, 0]])
    index = MultiTableIndex(8, n_tables=2, bits_per_table=4, probe_radius=1).add(database)
    assert index.probe_radius_for(4) == 2 and index.certified_radius() == 3
    _, dist, ids = index.range_search(query, 4)
    assert ids.tolist() == [1] and dist.tolist() == [1]
    index.probe_radius = 2
    _, dist, ids = index.range_search(query, 4)
    assert ids.tolist() == [1, 0] and dist.tolist() == [1, 4]
    index.probe_radius = 0
    index.grow = "exact"
    assert index.range_search(query, 4)[2].tolist() == [1, 0]
    assert index.last_stats_.radius.tolist() == [2]


def test_grow_candidates_fills_rows_with_the_smallest_radius():
    rng = np.random.default_rng(5)
    database = clustered_codes(rng, 300, 32, n_centres=30, flip=0.1)
    queries = random_codes(rng, 20, 32)
    index = MultiTableIndex(32, n_tables=4, bits_per_table=8, grow="candidates").add(database)
    _, indices = index.search(queries, 25)
    assert (indices >= 0).all()
    radii = index.last_stats_.radius
    assert (index.last_stats_.candidates >= 25).all()
    assert (index.last_stats_.verified >= index.last_stats_.candidates).all()
    index.grow = None
    for row, radius in enumerate(radii.tolist()):
        if radius > 0:
            index.probe_radius = radius - 1
            assert len(candidate_sets(index, queries[row : row + 1])[0]) < 25
    index.grow, index.probe_radius = "candidates", 0
    _, indices = index.search(queries, 400)  # k > ntotal: every item, then -1
    assert (np.sort(indices[:, :300], axis=1) == np.arange(300)).all()
    assert (indices[:, 300:] == -1).all()


# -- contract details --------------------------------------------------------------------------
@pytest.mark.parametrize("n_bits", [7, 16, 40])
def test_distances_invariant_under_xor_with_a_mask(n_bits):
    rng = np.random.default_rng(n_bits)
    database = clustered_codes(rng, 200, n_bits)
    queries = clustered_codes(rng, 15, n_bits)
    mask = random_codes(rng, 1, n_bits)
    for tables in ("disjoint", "random"):
        plain = MultiTableIndex(
            n_bits, n_tables=3, bits_per_table=n_bits // 3, tables=tables, random_state=0
        )
        flipped = MultiTableIndex(
            n_bits, n_tables=3, bits_per_table=n_bits // 3, tables=tables, random_state=0
        )
        plain.add(database).probe_radius = 1
        flipped.add(database ^ mask).probe_radius = 1
        assert_same(plain.search(queries, 12), flipped.search(queries ^ mask, 12))
        assert_same(plain.range_search(queries, 5), flipped.range_search(queries ^ mask, 5))


def test_empty_index_and_no_queries():
    index = MultiTableIndex(16, n_tables=2, bits_per_table=8)
    queries = random_codes(np.random.default_rng(0), 3, 16)
    distances, indices = index.search(queries, 4)
    assert distances.shape == (3, 0) and distances.dtype == np.int32 and indices.dtype == np.int64
    assert index.last_stats_.buckets_probed.shape == (3, 2)
    lims, distances, indices = index.range_search(queries, 16)
    np.testing.assert_array_equal(lims, [0, 0, 0, 0])
    assert distances.size == indices.size == 0 and index.n_buckets.tolist() == [0, 0]
    index.add(random_codes(np.random.default_rng(1), 5, 16))
    distances, indices = index.search(np.zeros((0, 2), dtype=np.uint8), 3)
    assert distances.shape == (0, 3)
    assert index.range_search(np.zeros((0, 2), dtype=np.uint8), 2)[0].tolist() == [0]
    assert index.last_stats_.summary()["candidates"] == 0.0


def test_k_larger_than_database_is_capped():
    rng = np.random.default_rng(1)
    database = random_codes(rng, 5, 12)
    index = MultiTableIndex(12, n_tables=2, bits_per_table=6, probe_radius=6).add(
        database
    )  # radius K: all items
    distances, indices = index.search(random_codes(rng, 4, 12), 9)
    assert indices.shape == distances.shape == (4, 5) and (indices >= 0).all()
    assert all(sorted(row[:5]) == list(range(5)) for row in indices)


def test_wrong_width_dtype_and_arguments_are_refused():
    index = MultiTableIndex(16, n_tables=2, bits_per_table=8).add(
        random_codes(np.random.default_rng(0), 10, 16)
    )
    with pytest.raises(ValueError, match=r"3 bytes per code.*n_bits=16.*queries of the wrong"):
        index.search(np.zeros((2, 3), dtype=np.uint8), 1)
    with pytest.raises(ValueError, match="codes of the wrong width"):
        index.add(np.zeros((2, 1), dtype=np.uint8))
    with pytest.raises(TypeError, match="uint8"):
        index.range_search(np.zeros((2, 2), dtype=np.int64), 1)
    with pytest.raises(ValueError, match=r"k must be (an int )?>= 1.*got 0"):
        index.search(np.zeros((1, 2), dtype=np.uint8), 0)
    with pytest.raises(ValueError, match=r"radius must be (an int )?>= 0.*got -1"):
        index.range_search(np.zeros((1, 2), dtype=np.uint8), -1)
    with pytest.raises(ValueError, match="padding bits"):
        MultiTableIndex(13).add(np.array([[0, 0xFF]], dtype=np.uint8))
    with pytest.raises(ValueError, match="padding bits"):
        table_keys(np.array([[0, 0xFF]], dtype=np.uint8), 13, [[0]])


def test_all_identical_codes():
    database = np.repeat(np.array([[0b1010_1010, 0b0101]], dtype=np.uint8), 30, axis=0)
    index = MultiTableIndex(12, n_tables=3, bits_per_table=4).add(database)
    query = np.array([[0b1010_1011, 0b0101]], dtype=np.uint8)  # differs in bit 0
    distances, indices = index.search(query, 5)
    np.testing.assert_array_equal(indices, [[0, 1, 2, 3, 4]])
    np.testing.assert_array_equal(distances, [[1] * 5])
    assert index.n_buckets.tolist() == [1, 1, 1]
    stats = index.last_stats_
    assert stats.buckets_hit.tolist() == [[0, 1, 1]] and stats.collisions.tolist() == [[0, 30, 30]]
    assert stats.candidates.tolist() == [30]
    assert index.range_search(query, 0)[0][-1] == 0
    np.testing.assert_array_equal(index.range_search(query, 1)[2], np.arange(30))


def test_statistics_by_hand():
    # One 4-bit table, keys {0: [0, 1], 1: [2], 3: [3], 8: [4], 12: [5], 15: [6]}.
    index = MultiTableIndex(4, n_tables=1, bits_per_table=4).add(
        keys_to_codes([0, 0, 1, 3, 8, 12, 15], 4)
    )
    _, dist, ids = index.range_search(keys_to_codes([0], 4), 4)  # radius 0: key 0 looked up
    assert ids.tolist() == [0, 1] and dist.tolist() == [0, 0]
    stats = index.last_stats_
    assert isinstance(stats, MultiTableStatistics) and stats.n_queries == 1
    assert stats.buckets_probed.tolist() == [[1]] and stats.buckets_hit.tolist() == [[1]]
    assert stats.collisions.tolist() == [[2]] and stats.candidates.tolist() == [2]
    assert not stats.scanned.any() and stats.radius.tolist() == [0]
    assert stats.certified_radius.tolist() == [0]
    # Radius 1: 5 masks cost more than comparing the 6 bucket keys, which the table does.
    index.probe_radius = 1
    _, dist, ids = index.range_search(keys_to_codes([0], 4), 4)
    assert ids.tolist() == [0, 1, 2, 4] and dist.tolist() == [0, 0, 1, 1]
    stats = index.last_stats_
    assert stats.scanned.all() and stats.buckets_probed.tolist() == [[6]]
    assert stats.buckets_hit.tolist() == [[3]] and stats.collisions.tolist() == [[4]]
    index.probe_radius = 2
    _, _, ids = index.range_search(keys_to_codes([0], 4), 4)
    assert ids.tolist() == [0, 1, 2, 4, 3, 5]
    stats = index.last_stats_
    assert stats.buckets_hit.tolist() == [[5]] and stats.candidates.tolist() == [6]
    summary = stats.summary()
    assert summary["buckets_probed"] == 6.0 and summary["scanned"] == 1.0
    assert set(summary) >= {"radius", "buckets_hit", "candidates", "collisions", "verified"}


def test_mask_lookups_and_bucket_scans_find_the_same_buckets():
    rng = np.random.default_rng(8)
    database = random_codes(rng, 3000, 36)
    queries = np.concatenate([random_codes(rng, 10, 36), database[:5]])
    index = MultiTableIndex(36, n_tables=3, bits_per_table=12).add(database)
    strategies = set()
    for probe_radius in range(5):
        index.probe_radius = probe_radius
        lims, dist, ids = index.range_search(queries, 36)
        candidates = reference_candidates(index, database, queries, probe_radius)
        expected = expected_range(candidates, hamming_distances(queries, database), 36)
        assert_same((lims, dist, ids), expected)
        stats = index.last_stats_
        strategies.add(bool(stats.scanned[0, 0]))
        ball = sum(math.comb(12, d) for d in range(probe_radius + 1))
        probed = np.where(stats.scanned, index.n_buckets, ball)
        np.testing.assert_array_equal(stats.buckets_probed, probed)
    assert strategies == {False, True}


def test_blocks_chunks_and_threads_do_not_change_results(monkeypatch):
    rng = np.random.default_rng(11)
    database = clustered_codes(rng, 500, 24, flip=0.1)
    queries = clustered_codes(rng, 37, 24)
    index = MultiTableIndex(24, n_tables=4, bits_per_table=6, probe_radius=1).add(database)
    search, ranged = index.search(queries, 15), index.range_search(queries, 6)
    monkeypatch.setattr(multi_table, "_BUFFER_ITEMS", 50)
    monkeypatch.setattr(multi_table, "_SEEN_BITS", 600)
    monkeypatch.setattr(multi_table, "_CHUNKS_PER_THREAD", 3)
    assert_same(index.search(queries, 15), search)
    assert_same(index.range_search(queries, 6), ranged)
    monkeypatch.undo()
    index.n_threads = 1
    assert_same(index.search(queries, 15), search)


def test_successive_adds_equal_one_add_and_reset():
    rng = np.random.default_rng(3)
    database = clustered_codes(rng, 300, 20, flip=0.1)
    queries = random_codes(rng, 10, 20)
    whole = MultiTableIndex(
        20, n_tables=3, bits_per_table=6, tables="random", random_state=1, probe_radius=1
    )
    whole.add(database)
    parts = MultiTableIndex(
        20, n_tables=3, bits_per_table=6, tables="random", random_state=1, probe_radius=1
    )
    for chunk in np.array_split(database, [1, 2, 50, 50, 170]):
        parts.add(chunk)
    for name in ("table_offsets_", "bucket_keys_", "bucket_offsets_", "bucket_ids_"):
        np.testing.assert_array_equal(getattr(parts, name), getattr(whole, name))
    assert_same(parts.search(queries, 20), whole.search(queries, 20))
    parts.reset()
    assert parts.ntotal == 0 and parts.bucket_ids_.size == 0
    assert (parts.search(queries, 3)[1] == -1).all()
    parts.add(database)
    assert_same(parts.range_search(queries, 5), whole.range_search(queries, 5))


def test_csr_tables_are_sorted_by_key_then_id():
    rng = np.random.default_rng(4)
    database = random_codes(rng, 400, 12)
    index = (
        MultiTableIndex(12, n_tables=2, bits_per_table=6).add(database[:150]).add(database[150:])
    )
    keys = reference_keys(database, 12, index.table_bits)
    for t in range(2):
        lo, hi = index.table_offsets_[t], index.table_offsets_[t + 1]
        table_keys_t = index.bucket_keys_[lo:hi]
        assert (np.diff(table_keys_t.astype(np.int64)) > 0).all()
        sizes = np.diff(index.bucket_offsets_[lo : hi + 1])
        ids = index.bucket_ids_[t * 400 : (t + 1) * 400]
        np.testing.assert_array_equal(ids, np.lexsort((np.arange(400), keys[:, t])))
        np.testing.assert_array_equal(np.repeat(table_keys_t, sizes), keys[ids, t])


# -- persistence -------------------------------------------------------------------------------
@pytest.mark.parametrize("tables", ["disjoint", "random", "explicit"])
def test_save_load_round_trip_gives_identical_results(tmp_path, tables):
    rng = np.random.default_rng(9)
    database = clustered_codes(rng, 400, 40, flip=0.1)
    queries = clustered_codes(rng, 20, 40)
    if tables == "explicit":
        index = MultiTableIndex(40, tables=[[0, 5, 9], list(range(10, 30)), [39, 1]])
    else:  # random_state=None: only the saved groups can reproduce the tables
        index = MultiTableIndex(40, n_tables=3, bits_per_table=12, tables=tables, random_state=None)
    index.probe_radius, index.grow, index.n_threads = 1, "candidates", 1
    index.add(database)
    path = index.save(tmp_path / "index.hlz")
    loaded = hashlearn.load(path)
    assert isinstance(loaded, MultiTableIndex) and loaded.table_kind == index.table_kind
    assert (loaded.probe_radius, loaded.grow, loaded.n_threads) == (1, "candidates", 1)
    for a, b in zip(loaded.table_bits, index.table_bits, strict=True):
        np.testing.assert_array_equal(a, b)
    assert_same(loaded.search(queries, 10), index.search(queries, 10))
    assert_same(loaded.range_search(queries, 8), index.range_search(queries, 8))
    np.testing.assert_array_equal(loaded.bucket_ids_, index.bucket_ids_)
    with np.load(path, allow_pickle=False) as archive:  # readable without pickle
        assert {"codes", "table_bits", "table_sizes"} <= set(archive.files)


def test_save_load_with_a_hasher_stack(tmp_path):
    X = np.random.default_rng(0).normal(size=(300, 12))
    stack = HasherStack([LSH(10) for _ in range(3)], random_state=4).fit(X)
    index = MultiTableIndex.from_hasher_stack(stack, probe_radius=1, grow="exact")
    assert [g.tolist() for g in index.table_bits] == [
        list(range(10 * t, 10 * t + 10)) for t in range(3)
    ]
    assert index.hasher is stack and index.n_bits == 30
    index.add_vectors(X)
    loaded = hashlearn.load(index.save(tmp_path / "stack_index.hlz"))
    assert isinstance(loaded.hasher, HasherStack)
    assert_same(loaded.search_vectors(X[:15], 7), index.search_vectors(X[:15], 7))
    oracle = LinearScanIndex(30).add(stack.encode(X))
    assert_same(index.search_vectors(X[:15], 7), oracle.search(stack.encode(X[:15]), 7))
    with pytest.raises(TypeError, match="from_hasher_stack needs a HasherStack"):
        MultiTableIndex.from_hasher_stack(LSH(8))


def test_corrupt_files_are_refused(tmp_path):
    index = MultiTableIndex(16, n_tables=2, bits_per_table=8).add(
        random_codes(np.random.default_rng(0), 20, 16)
    )
    path = index.save(tmp_path / "index.hlz")
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}

    def write(name, drop=(), meta_edit=None):
        target = tmp_path / name
        meta = json.loads(members["hashlearn.json"])
        if meta_edit:
            meta_edit(meta)
        meta["arrays"] = [a for a in meta["arrays"] if a not in drop]
        with zipfile.ZipFile(target, "w") as archive:
            archive.writestr("hashlearn.json", json.dumps(meta))
            for member, data in members.items():
                if member.endswith(".npy") and member[:-4] not in drop:
                    archive.writestr(member, data)
        return target

    with pytest.raises(ValueError, match="corrupt MultiTableIndex file: the tables' bit"):
        hashlearn.load(write("missing.hlz", drop=("table_bits",)))

    def bad_count(meta):
        meta["params"]["n_tables"] = 3

    with pytest.raises(ValueError, match="corrupt MultiTableIndex file: n_tables=3 but"):
        hashlearn.load(write("bad.hlz", meta_edit=bad_count))


def test_docstring_examples():
    result = doctest.testmod(multi_table, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0

"""MultiIndexHashing against the LinearScanIndex oracle, its kernels and its rules."""

from __future__ import annotations

import doctest
import itertools
import math
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hashlearn
from hashlearn.codes import as_words, pack_bits
from hashlearn.index import LinearScanIndex, multi_index
from hashlearn.index._kernels import mih as mih_kernels
from hashlearn.index._kernels.mih import next_combination, substring_keys
from hashlearn.index.hash_table import ProbeStatistics, flip_masks
from hashlearn.index.multi_index import (
    MIH,
    MultiIndexHashing,
    recommended_n_tables,
    substring_layout,
    substring_radii,
)


def random_codes(rng, n, n_bits):
    return pack_bits(rng.integers(0, 2, size=(n, n_bits)))


def clustered_codes(rng, n, n_bits, n_centres=4, flip=0.08):
    centres = rng.integers(0, 2, size=(n_centres, n_bits))
    bits = centres[rng.integers(0, n_centres, n)]
    bits ^= (rng.random(bits.shape) < flip).astype(bits.dtype)
    return pack_bits(bits)


def substring_keys_reference(codes, starts, lengths):
    """Reference for ``substring_keys`` from packed ``uint8`` codes, via unpacked bits."""
    n_bits = 8 * codes.shape[1]
    if lengths.size and (lengths.min() < 1 or lengths.max() > 64):
        raise ValueError(f"substring lengths must be in [1, 64], got {lengths.tolist()}")
    if starts.size and (starts.min() < 0 or (starts + lengths).max() > n_bits):
        raise ValueError(f"substrings must lie within the {n_bits} bits of the codes")
    bits = np.unpackbits(codes, axis=1, bitorder="little").astype(np.uint64)
    keys = np.zeros((codes.shape[0], starts.shape[0]), dtype=np.uint64)
    for i, (start, length) in enumerate(zip(starts.tolist(), lengths.tolist(), strict=True)):
        for j in range(length):
            keys[:, i] |= bits[:, start + j] << np.uint64(j)
    return keys


def candidate_counts_reference(query_codes, codes, starts, lengths, radii):
    """Brute-force count of the codes the tables return for each query.

    ``sum_i #{c : d_i(q, c) <= radii[i]}`` (a code counts once per table that returns
    it): the ``candidates`` that a probe of the substring radii ``radii`` verifies.
    ``radii`` is ``(m,)`` (the same for every query) or ``(n_queries, m)``.
    """
    query_keys = substring_keys_reference(query_codes, starts, lengths)
    keys = substring_keys_reference(codes, starts, lengths)
    per_query = np.broadcast_to(radii, (query_codes.shape[0], starts.shape[0]))
    distances = np.bitwise_count(query_keys[:, None, :] ^ keys[None, :, :])
    return (distances <= per_query[:, None, :]).sum(axis=(1, 2)).astype(np.int64)


def mih(n_bits, **params):
    """A MultiIndexHashing on the calling thread: waking a thread pool for a handful of
    queries costs more than the search (and much more on a busy machine)."""
    params.setdefault("n_threads", 1)
    return MultiIndexHashing(n_bits, **params)


def scan(n_bits):
    return LinearScanIndex(n_bits, n_threads=1)


def assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype, (x.dtype, y.dtype)
        assert x.shape == y.shape, (x.shape, y.shape)
        np.testing.assert_array_equal(x, y)


@contextmanager
def fallback(mode):
    """``never``: every query is answered by the tables; ``always``: by the scan."""
    with pytest.MonkeyPatch.context() as patch:
        if mode == "never":
            patch.setattr(multi_index, "_FALLBACK_MIN_WORK", 2**62)
        elif mode == "always":
            patch.setattr(multi_index, "_FALLBACK_MIN_WORK", -1)
            patch.setattr(multi_index, "_FALLBACK_WORK_PER_CODE", 0.0)
        yield


def check_against_oracle(index, oracle, queries, ks, radii):
    for k in ks:
        assert_same(index.search(queries, k), oracle.search(queries, k))
    for radius in radii:
        assert_same(index.range_search(queries, radius), oracle.range_search(queries, radius))


# -- layout, radii, choice of m -----------------------------------------------------------
def test_substring_layout_by_hand_and_in_general():
    starts, lengths = substring_layout(13, 3)
    assert starts.tolist() == [0, 5, 9] and lengths.tolist() == [5, 4, 4]
    assert substring_layout(64, 4)[1].tolist() == [16] * 4
    for n_bits in (1, 7, 13, 64, 70, 129, 4096):
        for m in {1, 2, 3, 7, n_bits // 2 or 1, n_bits}:
            if n_bits / m > 64:
                continue
            starts, lengths = substring_layout(n_bits, m)
            assert lengths.sum() == n_bits and lengths.max() - lengths.min() <= 1
            assert (np.diff(lengths) <= 0).all()  # the longer ones first
            assert starts[0] == 0 and (starts[1:] == np.cumsum(lengths)[:-1]).all()


def test_substring_radii_follow_the_paper():
    # r = 4 = 1 * 3 + 1 with m = 3: b + 1 = 2 substrings at radius 1, one at radius 0.
    assert substring_radii(np.array([5, 4, 4]), 4).tolist() == [1, 1, 0]
    assert substring_radii(np.array([4, 4, 4]), 0).tolist() == [0, -1, -1]
    assert substring_radii(np.array([4, 4, 4]), 2).tolist() == [0, 0, 0]
    for n_bits, m in [(13, 3), (64, 4), (70, 6), (9, 9), (5, 1)]:
        lengths = substring_layout(n_bits, m)[1]
        for radius in range(n_bits + 1):
            radii = substring_radii(lengths, radius)
            assert (radii + 1).sum() == radius + 1
            assert (radii <= lengths).all() and (radii >= -1).all()
            assert (np.diff(radii) <= 0).all()  # larger radii on the longer substrings


@pytest.mark.parametrize(("n_bits", "m"), [(7, 3), (8, 2), (6, 6), (5, 1)])
def test_pigeonhole_every_code_within_radius_is_a_candidate(n_bits, m):
    """Exhaustively: d(q, c) <= r implies d_i(q, c) <= a_i for some substring i."""
    starts, lengths = substring_layout(n_bits, m)
    every = pack_bits(np.array(list(itertools.product([0, 1], repeat=n_bits))))
    keys = substring_keys_reference(every, starts, lengths)
    full = np.bitwise_count(as_words(every)[:, 0])  # distance to the all-zero query
    parts = np.bitwise_count(keys)
    for radius in range(n_bits + 1):
        radii = substring_radii(lengths, radius)
        found = (parts <= radii).any(axis=1)
        assert found[full <= radius].all()


def test_recommended_n_tables():
    assert recommended_n_tables(64, 10**6) == 4  # ceil(64 / 19.93)
    assert recommended_n_tables(128, 10**6) == 7
    assert recommended_n_tables(64, 2**16) == 4 and recommended_n_tables(64, 2**16 + 1) == 4
    assert recommended_n_tables(32, 2**16) == 2
    assert recommended_n_tables(13, 2**13) == 1
    assert recommended_n_tables(13, 10**9) == 1
    assert recommended_n_tables(64, 1) == 64 and recommended_n_tables(64, 0) == 64
    assert recommended_n_tables(4096, 2**32) == 128 and recommended_n_tables(4096, 10**9) == 138
    assert recommended_n_tables(256, 2**300) == 4  # never above 64 bits per substring


# -- kernels against references -----------------------------------------------------------
@pytest.mark.parametrize("n_bits", [1, 13, 63, 64, 70, 130, 4096])
def test_substring_keys_match_reference(n_bits):
    rng = np.random.default_rng(n_bits)
    codes = random_codes(rng, 30, n_bits)
    low = -(-n_bits // 64)  # substrings of at most 64 bits
    for m in sorted({low, min(low + 1, n_bits), max(low, min(n_bits, 7)), n_bits}):
        starts, lengths = substring_layout(n_bits, m)
        assert lengths.max() <= 64
        expected = substring_keys_reference(codes, starts, lengths)
        np.testing.assert_array_equal(substring_keys(as_words(codes), starts, lengths), expected)


def enumerate_masks(s, count):
    masks = [np.uint64((1 << s) - 1)]
    for _ in range(count - 1):
        masks.append(np.uint64(next_combination(masks[-1])))  # numba returns a Python int
    return np.array(masks, dtype=np.uint64)


def test_substring_keys_refuse_substrings_that_do_not_fit():
    codes = random_codes(np.random.default_rng(0), 3, 130)
    starts, lengths = substring_layout(130, 2)  # 65 bits each
    with pytest.raises(ValueError, match=r"lengths must be in \[1, 64\]"):
        substring_keys(as_words(codes), starts, lengths)
    with pytest.raises(ValueError, match=r"lengths must be in \[1, 64\]"):
        substring_keys_reference(codes, starts, lengths)
    with pytest.raises(ValueError, match="within the 136 bits"):
        substring_keys_reference(codes, np.array([100]), np.array([40]))


@pytest.mark.parametrize(
    ("length", "s"), [(1, 1), (5, 2), (9, 8), (16, 3), (22, 4), (63, 2), (64, 1), (64, 2)]
)
def test_next_combination_enumerates_flip_masks(length, s):
    expected = flip_masks(length, s)
    np.testing.assert_array_equal(enumerate_masks(s, expected.shape[0]), expected)


def test_next_combination_near_the_top_bit():
    # 63 of 64 bits: every mask but one bit, in increasing order.
    expected = [(2**64 - 1) ^ (1 << j) for j in range(63, -1, -1)]
    np.testing.assert_array_equal(enumerate_masks(63, 64), np.array(expected, dtype=np.uint64))


def test_candidate_counts_match_the_reported_work():
    """Stats: ``candidates`` = sum_i #{c : d_i(q, c) <= a_i}, for range and k-NN search."""
    rng = np.random.default_rng(5)
    n_bits = 24
    database = clustered_codes(rng, 300, n_bits)
    queries = np.concatenate([clustered_codes(rng, 6, n_bits), database[:3]])
    with fallback("never"):
        index = mih(n_bits, n_tables=3).add(database)
        starts, lengths = substring_layout(n_bits, 3)
        for radius in (0, 2, 5, 9):
            index.range_search(queries, radius)
            radii = substring_radii(lengths, radius)
            expected = candidate_counts_reference(queries, database, starts, lengths, radii)
            np.testing.assert_array_equal(index.last_stats_.candidates, expected)
            assert (index.last_stats_.radius == radius).all()
        for k in (1, 10, 300):
            index.search(queries, k)
            stats = index.last_stats_
            # After step t = R, table i has been probed to radius floor((R - i) / m).
            tables = np.arange(3)
            radii = np.minimum((stats.radius[:, None] - tables) // 3, lengths)
            expected = candidate_counts_reference(queries, database, starts, lengths, radii)
            np.testing.assert_array_equal(stats.candidates, expected)
            assert not stats.scanned.any()
            assert (stats.buckets_hit <= stats.buckets_probed).all()


# -- exactness ------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["never", "default"])
@pytest.mark.parametrize("n_bits", [1, 5, 13, 16, 64, 70, 130])
@pytest.mark.parametrize("kind", ["random", "clustered"])
def test_equals_linear_scan(n_bits, kind, mode):
    rng = np.random.default_rng(n_bits)
    make = random_codes if kind == "random" else clustered_codes
    database = make(rng, 400, n_bits)
    queries = np.concatenate([make(rng, 15, n_bits), database[:5]])
    oracle = scan(n_bits).add(database)
    low = -(-n_bits // 64)
    with fallback(mode):
        for m in sorted({None, low, min(low + 2, n_bits), n_bits}, key=str):
            index = mih(n_bits, n_tables=m).add(database)
            check_against_oracle(
                index,
                oracle,
                queries,
                ks=(1, 7, 50, 400, 450),
                radii=sorted({0, 1, 3, n_bits // 3, n_bits // 2, n_bits, n_bits + 5}),
            )


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_bits=st.one_of(st.integers(1, 80), st.sampled_from([128, 130, 255, 256])),
    n=st.integers(1, 120),
    n_distinct=st.integers(1, 60),
    m_choice=st.one_of(st.none(), st.floats(0, 1)),
    k=st.integers(1, 130),
    radius=st.integers(0, 260),
    mode=st.sampled_from(["never", "always", "default"]),
)
def test_equals_linear_scan_property(seed, n_bits, n, n_distinct, m_choice, k, radius, mode):
    rng = np.random.default_rng(seed)
    pool = random_codes(rng, n_distinct, n_bits)
    database = pool[rng.integers(0, n_distinct, n)]
    queries = np.concatenate([random_codes(rng, 3, n_bits), pool[:2]])
    low = -(-n_bits // 64)
    m = None if m_choice is None else low + round(m_choice * (n_bits - low))
    oracle = scan(n_bits).add(database)
    with fallback(mode):
        index = mih(n_bits, n_tables=m)
        index.add(database[: n // 3]).add(database[n // 3 :])
        assert_same(index.search(queries, k), oracle.search(queries, k))
        assert_same(index.range_search(queries, radius), oracle.range_search(queries, radius))
        if mode != "default":
            assert (index.last_stats_.scanned == (mode == "always")).all()


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_bits=st.integers(1, 140),
    k=st.integers(1, 40),
    radius=st.integers(0, 20),
)
def test_xor_invariance(seed, n_bits, k, radius):
    """XOR-ing every code and query with one mask changes no distance, so no result."""
    rng = np.random.default_rng(seed)
    database = clustered_codes(rng, 80, n_bits)
    queries = clustered_codes(rng, 6, n_bits)
    mask = random_codes(rng, 1, n_bits)
    plain = mih(n_bits).add(database)
    flipped = mih(n_bits).add(database ^ mask)
    assert_same(plain.search(queries, k), flipped.search(queries ^ mask, k))
    assert_same(plain.range_search(queries, radius), flipped.range_search(queries ^ mask, radius))


def test_long_codes_up_to_4096_bits():
    rng = np.random.default_rng(4096)
    database = random_codes(rng, 40, 4096)
    database[20:25] = database[3]  # duplicates: ties broken by id
    queries = np.concatenate([random_codes(rng, 3, 4096), database[[3, 7]]])
    oracle = scan(4096).add(database)
    with fallback("never"):
        for m in (None, 64, 100):
            index = mih(4096, n_tables=m).add(database)
            check_against_oracle(index, oracle, queries, ks=(1, 6, 40, 41), radii=(0, 1900, 2048))
        assert index.n_tables_ == 100
    assert mih(4096).add(database).n_tables_ == math.ceil(4096 / math.log2(40))


@pytest.mark.parametrize("mode", ["never", "always"])
def test_table_layouts_give_identical_results(monkeypatch, mode):
    """Direct-address or binary-searched keys, copied or gathered codes, masks or key scans."""
    rng = np.random.default_rng(2)
    database = clustered_codes(rng, 250, 40, n_centres=3)
    queries = np.concatenate([clustered_codes(rng, 10, 40, n_centres=3), database[:4]])
    oracle = scan(40).add(database)
    with fallback(mode):
        for direct, copy in itertools.product((True, False), repeat=2):
            monkeypatch.setattr(mih_kernels, "DIRECT_MAX_BITS", 64 if direct else 0)
            monkeypatch.setattr(mih_kernels, "DIRECT_SLOTS_PER_CODE", 2**40)
            monkeypatch.setattr(mih_kernels, "COPY_MAX_FACTOR", 8 if copy else 0)
            # m = 2: 20-bit substrings, 2**20 possible keys for about 250 distinct
            # ones, so rings of radius >= 1 are found by scanning the keys.
            for m in (2, 5):
                index = mih(40, n_tables=m).add(database)
                check_against_oracle(index, oracle, queries, ks=(1, 10, 250), radii=(0, 3, 8))
                tables = index._tables
                assert tables is not None
                assert (tables.direct, tables.copy) == (direct, copy)


# -- edge cases -------------------------------------------------------------------------------
def test_empty_index_and_empty_queries():
    index = MultiIndexHashing(13)
    queries = random_codes(np.random.default_rng(0), 3, 13)
    distances, indices = index.search(queries, 4)
    assert distances.shape == indices.shape == (3, 0)  # k capped at ntotal = 0
    assert distances.dtype == np.int32 and indices.dtype == np.int64
    lims, distances, indices = index.range_search(queries, 5)
    assert lims.tolist() == [0, 0, 0, 0] and distances.size == indices.size == 0
    assert isinstance(index.last_stats_, ProbeStatistics)
    assert index.last_stats_.n_queries == 3 and not index.last_stats_.candidates.any()
    index.add(queries)
    distances, indices = index.search(queries[:0], 2)
    assert distances.shape == (0, 2)
    lims, _, _ = index.range_search(queries[:0], 2)
    assert lims.tolist() == [0]


def test_k_larger_than_the_database_is_capped():
    rng = np.random.default_rng(1)
    database = random_codes(rng, 5, 70)
    queries = random_codes(rng, 4, 70)
    distances, indices = mih(70).add(database).search(queries, 9)
    assert indices.shape == distances.shape == (4, 5) and (indices >= 0).all()
    assert_same((distances, indices), scan(70).add(database).search(queries, 9))


@pytest.mark.parametrize("mode", ["never", "always"])
def test_all_identical_codes_break_ties_by_id(mode):
    code = random_codes(np.random.default_rng(3), 1, 21)
    database = np.repeat(code, 60, axis=0)
    one_off = code.copy()
    one_off[0, 0] ^= 1
    queries = np.concatenate([code, one_off])
    oracle = scan(21).add(database)
    with fallback(mode):
        index = mih(21, n_tables=3).add(database)
        distances, indices = index.search(queries, 10)
        assert indices.tolist() == [list(range(10))] * 2
        assert distances.tolist() == [[0] * 10, [1] * 10]
        check_against_oracle(index, oracle, queries, ks=(1, 59, 60, 61), radii=(0, 1, 21))


def test_wrong_queries_and_codes_are_refused():
    index = mih(13).add(random_codes(np.random.default_rng(0), 10, 13))
    with pytest.raises(ValueError, match=r"3 bytes per code.*n_bits=13"):
        index.search(np.zeros((2, 3), dtype=np.uint8), 1)
    with pytest.raises(ValueError, match="3 bytes per code"):
        index.range_search(np.zeros((2, 3), dtype=np.uint8), 1)
    with pytest.raises(TypeError, match="uint8"):
        index.search(np.zeros((2, 2), dtype=np.int64), 1)
    with pytest.raises(ValueError, match="padding bits"):
        index.add(np.full((1, 2), 255, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"k must be (an int )?>= 1"):
        index.search(np.zeros((1, 2), dtype=np.uint8), 0)
    with pytest.raises(ValueError, match=r"radius must be (an int )?>= 0"):
        index.range_search(np.zeros((1, 2), dtype=np.uint8), -1)
    with pytest.raises(ValueError, match=r"radius must be (an int )?>= 0"):
        index.probe_radii(-2)


@pytest.mark.parametrize(
    ("n_bits", "value", "error", "message"),
    [
        (64, 0, ValueError, r"n_tables must be in \[1, 64\] for n_bits=64 .* got 0"),
        (64, 65, ValueError, r"n_tables must be in \[1, 64\] .* got 65"),
        (130, 2, ValueError, r"n_tables must be in \[3, 130\] for n_bits=130 .*64 bits"),
        (16, -3, ValueError, r"got -3"),
        (16, 2.0, TypeError, r"n_tables must be None or an int in \[1, 16\], got 2.0"),
        (16, True, TypeError, r"got True"),
        (16, "4", TypeError, r"got '4'"),
    ],
)
def test_bad_parameters_are_refused_with_a_message(n_bits, value, error, message):
    with pytest.raises(error, match=message):
        MultiIndexHashing(n_bits, n_tables=value)


def test_bad_n_bits_and_n_threads_are_refused():
    with pytest.raises(ValueError, match=r"n_bits must be in \[1, 4096\], got 0"):
        MultiIndexHashing(0)
    with pytest.raises(ValueError, match=r"n_bits must be in \[1, 4096\], got 4097"):
        MultiIndexHashing(4097)
    with pytest.raises(ValueError, match="n_threads must be None, -1 or an int >= 1, got 0"):
        MultiIndexHashing(8, n_threads=0)
    with pytest.raises(TypeError, match="n_threads"):
        MultiIndexHashing(8, n_threads=1.5)


def test_adds_in_several_calls_rebuild_the_tables_and_choose_m_again():
    rng = np.random.default_rng(4)
    database = clustered_codes(rng, 600, 48)
    queries = clustered_codes(rng, 12, 48)
    index = mih(48).add(database[:0])
    seen = []
    for stop in (3, 40, 41, 600):
        index.add(database[index.ntotal : stop])
        assert index._tables is None  # built lazily, at the next search
        assert index.n_tables_ == recommended_n_tables(48, stop)
        oracle = scan(48).add(database[:stop])
        check_against_oracle(index, oracle, queries, ks=(1, 5, 45), radii=(2, 9))
        assert index._tables is not None and index._tables.starts.shape[0] == index.n_tables_
        seen.append(index.n_tables_)
    assert seen == [31, 10, 9, 6]  # ceil(48 / log2(N))
    built = index._tables
    index.search(queries, 3)
    assert index._tables is built  # no rebuild without adds


def test_reset_then_reuse():
    rng = np.random.default_rng(6)
    database = random_codes(rng, 50, 30)
    index = mih(30, n_tables=3).add(database)
    index.search(database[:2], 4)
    assert index.reset() is index and index.ntotal == 0 and index.last_stats_ is None
    distances, indices = index.search(database[:2], 4)
    assert (indices == -1).all() and (distances == -1).all()
    index.add(database[:20])
    oracle = scan(30).add(database[:20])
    check_against_oracle(index, oracle, database[30:35], ks=(1, 20, 21), radii=(0, 10, 30))


@pytest.mark.parametrize("n_tables", [None, 5])
def test_save_load_round_trip(tmp_path, n_tables):
    rng = np.random.default_rng(7)
    database = clustered_codes(rng, 200, 45)
    queries = clustered_codes(rng, 9, 45)
    index = mih(45, n_tables=n_tables, n_threads=1).add(database)
    expected_knn = index.search(queries, 12)
    expected_range = index.range_search(queries, 6)
    path = index.save(tmp_path / "mih.hashlearn")
    loaded = hashlearn.load(path)
    assert type(loaded) is MultiIndexHashing
    assert loaded.n_bits == 45 and loaded.ntotal == 200
    assert loaded.n_tables == n_tables and loaded.n_threads == 1
    assert loaded.n_tables_ == index.n_tables_
    np.testing.assert_array_equal(loaded.codes, database)
    assert_same(loaded.search(queries, 12), expected_knn)
    assert_same(loaded.range_search(queries, 6), expected_range)
    empty = hashlearn.load(MultiIndexHashing(9).save(tmp_path / "empty.hashlearn"))
    assert empty.ntotal == 0 and empty.n_tables is None


def test_results_do_not_depend_on_threads_or_the_pilot(monkeypatch):
    rng = np.random.default_rng(8)
    database = clustered_codes(rng, 300, 64, n_centres=6)
    queries = clustered_codes(rng, 70, 64, n_centres=6)
    oracle = scan(64).add(database)
    expected = oracle.search(queries, 8), oracle.range_search(queries, 7)
    for n_threads in (1, 2, None):
        index = mih(64, n_threads=n_threads).add(database)
        assert_same(index.search(queries, 8), expected[0])
        assert_same(index.range_search(queries, 7), expected[1])
    # A pilot of 8 queries that all run out of budget sends the other 62 to the scan
    # without probing them.
    monkeypatch.setattr(multi_index, "_PILOT_QUERIES", 8)
    with fallback("always"):
        index = mih(64).add(database)
        assert_same(index.search(queries, 8), expected[0])
        stats = index.last_stats_
        assert stats.scanned.all() and (stats.candidates == 300).sum() >= 62
        assert (stats.radius == 64).all()
        assert_same(index.range_search(queries, 7), expected[1])
    with fallback("never"):
        assert_same(index.search(queries, 8), expected[0])
        assert not index.last_stats_.scanned.any()


def around_centres(rng, n, n_queries, n_centres=2000, flip=0.03):
    """Database codes and queries near the same random 64-bit centres."""
    centres = rng.integers(0, 2, size=(n_centres, 64))
    bits = centres[rng.integers(0, n_centres, n + n_queries)]
    bits ^= (rng.random(bits.shape) < flip).astype(bits.dtype)
    codes = pack_bits(bits)
    return codes[:n], codes[n:]


def test_the_cost_model_picks_the_scan_for_uniform_codes_and_probes_clustered_ones():
    # 50,000 codes: budgets come from the cost model, not from _FALLBACK_MIN_WORK.
    rng = np.random.default_rng(10)
    n, n_queries = 50_000, 200
    index = mih(64)
    assert index.add(random_codes(rng, n, 64))._budget(10) > multi_index._FALLBACK_MIN_WORK
    uniform_queries = random_codes(rng, n_queries, 64)
    oracle = scan(64).add(index.codes)
    # k-NN: the k-th neighbour is about 18 bits away, a ball holding a quarter of the
    # codes of every table: the first pilot step runs out of budget and the whole batch is
    # scanned, the other queries without being probed.
    assert_same(index.search(uniform_queries, 10), oracle.search(uniform_queries, 10))
    stats = index.last_stats_
    assert stats.scanned.all()
    assert (stats.candidates == n).sum() >= n_queries - multi_index._PILOT_STEP
    # A large radius: the rings' key lookups alone cost more than the scan, known from
    # the table sizes, so nothing is probed at all.
    assert_same(index.range_search(uniform_queries, 16), oracle.range_search(uniform_queries, 16))
    assert index.last_stats_.scanned.all() and (index.last_stats_.candidates == n).all()
    # Clustered codes (2,000 centres, 3% of bits flipped): the neighbours are a few bits
    # away, the probes are cheap and no query is scanned.
    database, near = around_centres(rng, n, n_queries)
    index = mih(64).add(database)
    oracle = scan(64).add(database)
    assert_same(index.search(near, 10), oracle.search(near, 10))
    assert not index.last_stats_.scanned.any()
    assert index.last_stats_.candidates.mean() < n / 50
    assert_same(index.range_search(near, 4), oracle.range_search(near, 4))
    assert not index.last_stats_.scanned.any()


def test_a_pilot_that_pays_sends_the_batch_to_the_tables(monkeypatch):
    # Most queries are cheap, a few are far from everything: the pilot's mean stays below
    # the scan's cost, so the batch is probed and only the expensive queries fall back.
    rng = np.random.default_rng(11)
    database, queries = around_centres(rng, 50_000, 200)
    queries[::25] = random_codes(rng, 8, 64)  # 8 of 200: one in the pilot's every 4 steps
    index = mih(64).add(database)
    assert_same(index.search(queries, 10), scan(64).add(database).search(queries, 10))
    scanned = index.last_stats_.scanned
    assert 0 < scanned.sum() <= 8 and scanned[::25].sum() == scanned.sum()


def test_statistics_and_accessors():
    rng = np.random.default_rng(9)
    database = clustered_codes(rng, 500, 32)
    queries = clustered_codes(rng, 5, 32)
    index = MIH(32).add(database)
    assert "n_tables=None" in repr(index) and "ntotal=500" in repr(index)
    assert index.n_tables_ == 4 and index.bits_per_table_.tolist() == [8] * 4
    assert index.probe_radii(5).tolist() == [1, 1, 0, 0] and index.probe_radii(99).max() == 8
    distances, _ = index.search(queries, 5)
    stats = index.last_stats_
    assert stats.n_queries == 5
    assert (stats.radius >= distances[:, -1]).all()  # the k-th neighbour is certain
    assert set(stats.summary()) == {
        "radius",
        "buckets_probed",
        "buckets_hit",
        "candidates",
        "scanned",
    }
    assert (stats.candidates >= 5).all()


def test_doctests():
    result = doctest.testmod(multi_index, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 5 and result.failed == 0


@pytest.mark.parametrize("radius", [3, 40])  # probed, and sent to the scan (rings too costly)
def test_budgeted_range_search_counts_everything_in_one_call(monkeypatch, radius):
    from hashlearn.index import MultiIndexHashing, RangeResultLimitError

    rng = np.random.default_rng(radius)
    database = clustered_codes(rng, 2000, 64)
    queries = np.concatenate([database[:40], clustered_codes(rng, 60, 64)])
    index = MultiIndexHashing(64).add(database)
    whole = LinearScanIndex(64).add(database).range_search(queries, radius, max_results=None)
    calls = []
    real = index._range_search
    monkeypatch.setattr(index, "_range_search", lambda *a: calls.append(len(a[0])) or real(*a))
    total = int(whole[0][-1])
    within = index.range_search(queries, radius, max_results=total)  # < 100 x 2,000 codes
    assert calls == [100]
    for got, want in zip(within, whole, strict=True):
        np.testing.assert_array_equal(got, want)
    budget = int(whole[0][30]) + 1  # the first 30 queries fit, the 31st passes the budget
    fill = monkeypatch.setattr  # nothing is written once the budget is known to be passed
    fill(index, "_range_fill", lambda *a: pytest.fail("results written past the budget"))
    with pytest.raises(RangeResultLimitError) as caught:
        index.range_search(queries, radius, max_results=budget)
    done = int(np.argmax(whole[0][1:] > budget)) + 1  # the first query past the budget
    assert done > 30
    assert (caught.value.n_queries_done, caught.value.n_found) == (done, int(whole[0][done]))

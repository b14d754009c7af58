"""The search contract shared by every index (DESIGN.md 3), checked on each index class."""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest

from hashlearn.codes import hamming_distances_reference, n_bytes, pack_bits
from hashlearn.index import (
    BinaryIndex,
    HashTableIndex,
    LinearScanIndex,
    MultiIndexHashing,
    _base,
    hash_table,
    linear_scan,
)

INDEXES = [LinearScanIndex, HashTableIndex, MultiIndexHashing]


def random_codes(rng: np.random.Generator, n: int, n_bits: int) -> np.ndarray:
    return pack_bits(rng.integers(0, 2, size=(n, n_bits)))


def clustered_codes(rng: np.random.Generator, n: int, n_bits: int) -> np.ndarray:
    """Codes around three centres with 10% of bits flipped: crowded buckets, like real codes."""
    centres = rng.integers(0, 2, size=(3, n_bits))
    bits = centres[rng.integers(0, 3, n)]
    bits ^= (rng.random(bits.shape) < 0.1).astype(bits.dtype)
    return pack_bits(bits)


def brute_force_search(queries, database, k):
    """Reference k-NN: full (distance, id) sort of every row, padded with -1."""
    D = hamming_distances_reference(queries, database)
    kk = min(k, database.shape[0])
    dist = np.full((queries.shape[0], k), -1, dtype=np.int32)
    ids = np.full((queries.shape[0], k), -1, dtype=np.int64)
    for i in range(queries.shape[0]):
        order = np.lexsort((np.arange(database.shape[0]), D[i]))[:kk]
        dist[i, :kk], ids[i, :kk] = D[i, order], order
    return dist, ids


def brute_force_range(queries, database, radius):
    D = hamming_distances_reference(queries, database)
    lims, dist, ids = [0], [], []
    for i in range(queries.shape[0]):
        hit = np.flatnonzero(D[i] <= radius)
        order = hit[np.lexsort((hit, D[i, hit]))]
        dist.append(D[i, order])
        ids.append(order)
        lims.append(lims[-1] + order.shape[0])
    return (
        np.array(lims, dtype=np.int64),
        np.concatenate(dist).astype(np.int32),
        np.concatenate(ids).astype(np.int64),
    )


def assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype, (x.dtype, y.dtype)
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("cls", INDEXES)
@pytest.mark.parametrize("n_bits", [1, 5, 8, 13, 16, 32, 64])
def test_search_and_range_match_brute_force(cls, n_bits):
    rng = np.random.default_rng(n_bits)
    database = random_codes(rng, 400, n_bits)
    queries = np.concatenate([random_codes(rng, 20, n_bits), database[:5]])
    index = cls(n_bits).add(database)
    for k in (1, 7, 50, 399, 400, 450):
        assert_same(index.search(queries, k), brute_force_search(queries, database, k))
    for radius in (0, 1, 3, n_bits // 2, n_bits, n_bits + 3):
        assert_same(
            index.range_search(queries, radius), brute_force_range(queries, database, radius)
        )


@pytest.mark.parametrize("cls", INDEXES)
def test_empty_index_returns_padding(cls):
    index = cls(16)
    queries = random_codes(np.random.default_rng(0), 3, 16)
    distances, indices = index.search(queries, 4)
    assert distances.shape == indices.shape == (3, 4)
    assert distances.dtype == np.int32 and indices.dtype == np.int64
    assert (distances == -1).all() and (indices == -1).all()
    lims, distances, indices = index.range_search(queries, 16)
    np.testing.assert_array_equal(lims, [0, 0, 0, 0])
    assert lims.dtype == np.int64 and distances.size == indices.size == 0
    assert index.ntotal == 0 and len(index) == 0


@pytest.mark.parametrize("cls", INDEXES)
def test_no_queries(cls):
    index = cls(8).add(random_codes(np.random.default_rng(0), 10, 8))
    distances, indices = index.search(np.zeros((0, 1), dtype=np.uint8), 3)
    assert distances.shape == indices.shape == (0, 3)
    lims, distances, indices = index.range_search(np.zeros((0, 1), dtype=np.uint8), 2)
    np.testing.assert_array_equal(lims, [0])


@pytest.mark.parametrize("cls", INDEXES)
def test_k_larger_than_database_is_padded(cls):
    rng = np.random.default_rng(1)
    database = random_codes(rng, 5, 12)
    index = cls(12).add(database)
    distances, indices = index.search(random_codes(rng, 4, 12), 9)
    assert (indices[:, :5] >= 0).all() and (indices[:, 5:] == -1).all()
    assert (distances[:, 5:] == -1).all()
    assert all(sorted(row[:5]) == list(range(5)) for row in indices)


@pytest.mark.parametrize("cls", INDEXES)
def test_wrong_width_dtype_and_parameters_are_refused(cls):
    index = cls(16).add(random_codes(np.random.default_rng(0), 10, 16))
    with pytest.raises(ValueError, match=r"3 bytes per code.*n_bits=16.*queries of the wrong"):
        index.search(np.zeros((2, 3), dtype=np.uint8), 1)
    with pytest.raises(ValueError, match="codes of the wrong width"):
        index.add(np.zeros((2, 1), dtype=np.uint8))
    with pytest.raises(TypeError, match="uint8"):
        index.search(np.zeros((2, 2), dtype=np.int64), 1)
    with pytest.raises(ValueError, match="2-D"):
        index.search(np.zeros(2, dtype=np.uint8), 1)
    with pytest.raises(ValueError, match=r"k must be an int >= 1.*got 0"):
        index.search(np.zeros((1, 2), dtype=np.uint8), 0)
    with pytest.raises(TypeError, match="k must be an int"):
        index.search(np.zeros((1, 2), dtype=np.uint8), 2.5)
    with pytest.raises(ValueError, match=r"radius must be an int >= 0.*got -1"):
        index.range_search(np.zeros((1, 2), dtype=np.uint8), -1)
    with pytest.raises(ValueError, match="n_bits must be in"):
        cls(0)
    with pytest.raises(TypeError, match="n_bits"):
        cls(8.0)
    # Padding bits of a 13-bit code must stay zero.
    index13 = cls(13)
    with pytest.raises(ValueError, match="padding bits"):
        index13.add(np.array([[0, 0xFF]], dtype=np.uint8))


def test_hash_table_refuses_long_codes():
    with pytest.raises(ValueError, match=r"n_bits must be in \[1, 64\].*got 65.*LinearScanIndex"):
        HashTableIndex(65)
    LinearScanIndex(4096)


@pytest.mark.parametrize("cls", INDEXES)
def test_all_identical_codes(cls):
    database = np.repeat(np.array([[0b1010_1010, 0b0101]], dtype=np.uint8), 30, axis=0)
    index = cls(12).add(database)
    query = np.array([[0b1010_1011, 0b0101]], dtype=np.uint8)
    distances, indices = index.search(query, 5)
    np.testing.assert_array_equal(indices, [[0, 1, 2, 3, 4]])
    np.testing.assert_array_equal(distances, [[1] * 5])
    lims, distances, indices = index.range_search(query, 0)
    assert lims[-1] == 0
    lims, distances, indices = index.range_search(query, 1)
    np.testing.assert_array_equal(indices, np.arange(30))


@pytest.mark.parametrize("cls", INDEXES)
def test_successive_adds_equal_one_add(cls):
    rng = np.random.default_rng(3)
    database = random_codes(rng, 300, 13)
    queries = random_codes(rng, 10, 13)
    whole = cls(13).add(database)
    parts = cls(13)
    for chunk in np.array_split(database, [1, 2, 50, 50, 170]):
        parts.add(chunk)
    assert parts.ntotal == 300
    np.testing.assert_array_equal(parts.codes, database)
    assert_same(parts.search(queries, 20), whole.search(queries, 20))
    assert_same(parts.range_search(queries, 4), whole.range_search(queries, 4))


@pytest.mark.parametrize("cls", INDEXES)
def test_reset_empties_the_index(cls):
    rng = np.random.default_rng(4)
    index = cls(16).add(random_codes(rng, 50, 16))
    index.reset()
    assert index.ntotal == 0
    assert (index.search(random_codes(rng, 2, 16), 3)[1] == -1).all()
    database = random_codes(rng, 20, 16)
    index.add(database)
    np.testing.assert_array_equal(index.codes, database)
    assert_same(index.search(database, 20), brute_force_search(database, database, 20))


@pytest.mark.parametrize("cls", INDEXES)
@pytest.mark.parametrize("n_bits", [7, 16, 40])
def test_distances_invariant_under_xor_with_a_mask(cls, n_bits):
    rng = np.random.default_rng(n_bits)
    database = random_codes(rng, 200, n_bits)
    queries = random_codes(rng, 15, n_bits)
    mask = random_codes(rng, 1, n_bits)
    plain = cls(n_bits).add(database)
    flipped = cls(n_bits).add(database ^ mask)
    assert_same(plain.search(queries, 25), flipped.search(queries ^ mask, 25))
    assert_same(plain.range_search(queries, 5), flipped.range_search(queries ^ mask, 5))


@pytest.mark.parametrize("cls", INDEXES)
def test_codes_view_is_read_only(cls):
    database = random_codes(np.random.default_rng(0), 4, 10)
    index = cls(10).add(database)
    assert index.codes.shape == (4, n_bytes(10))
    with pytest.raises(ValueError):
        index.codes[0, 0] = 1


class _ThresholdHasher:
    """A minimal hasher: bit j = (x_j >= 0)."""

    n_bits = 4

    def encode(self, X):
        return pack_bits(np.asarray(X) >= 0)


@pytest.mark.parametrize("cls", INDEXES)
def test_vector_methods_use_the_hasher(cls):
    index = cls(4, hasher=_ThresholdHasher())
    X = np.array([[1.0, -1, -1, -1], [1, 1, -1, -1], [-1, -1, -1, -1]])
    index.add_vectors(X)
    distances, indices = index.search_vectors(np.array([[1.0, 1, 1, -1]]), 2)
    np.testing.assert_array_equal(indices, [[1, 0]])
    np.testing.assert_array_equal(distances, [[1, 2]])
    _, _, indices = index.range_search_vectors(np.array([[-1.0, -1, -1, -1]]), 1)
    np.testing.assert_array_equal(indices, [2, 0])
    with pytest.raises(ValueError, match="needs a hasher"):
        cls(4).search_vectors(X, 1)
    with pytest.raises(ValueError, match="n_bits=4 but this index holds n_bits=8"):
        cls(8, hasher=_ThresholdHasher())
    with pytest.raises(TypeError, match="encode"):
        cls(4, hasher=object())


# hashlearn.index.rerank is the function; the module is reached through importlib.
RERANK_MODULE = importlib.import_module("hashlearn.index.rerank")


@pytest.mark.parametrize("module", [_base, linear_scan, hash_table, RERANK_MODULE])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_base_class_is_abstract():
    with pytest.raises(TypeError):
        BinaryIndex(8)  # type: ignore[abstract]


@pytest.mark.parametrize("cls", INDEXES)
@pytest.mark.parametrize("make_codes", [random_codes, clustered_codes])
def test_range_results_sorted_distinct_and_monotone_in_radius(cls, make_codes):
    rng = np.random.default_rng(5)
    n_bits, n = 12, 600
    index = cls(n_bits).add(make_codes(rng, n, n_bits))
    queries = random_codes(rng, 8, n_bits)
    previous = None
    for radius in range(n_bits + 1):
        lims, dist, ids = index.range_search(queries, radius)
        current = []
        for i in range(queries.shape[0]):
            d, j = dist[lims[i] : lims[i + 1]], ids[lims[i] : lims[i + 1]]
            assert (d <= radius).all()
            assert np.all((d[1:] > d[:-1]) | ((d[1:] == d[:-1]) & (j[1:] > j[:-1])))
            assert np.unique(j).shape == j.shape
            current.append(set(j.tolist()))
        if previous is not None:
            assert all(p <= c for p, c in zip(previous, current, strict=True))
        previous = current
    assert all(c == set(range(n)) for c in previous)  # the full radius returns everything

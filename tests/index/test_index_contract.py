"""The search contract shared by every index (DESIGN.md 3), checked on each index class.

Every index runs through :func:`hashlearn.testing._index.check_index` (types, CSR layout,
(distance, id) order and tie rule, padding, empty index, successive adds, argument errors,
save/load), exact ones against the brute-force references on random, clustered and tied
codes; property tests add random shapes. Approximate indexes are checked for what they
promise: results that are true, ordered and a subset of the exact ones, growing with
``probe_radius``.
"""

from __future__ import annotations

import doctest
import functools
import importlib
import importlib.util

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashlearn.codes import n_bytes, pack_bits
from hashlearn.index import (
    BinaryIndex,
    FaissBinaryFlat,
    FaissBinaryHash,
    FaissBinaryMultiHash,
    HashTableIndex,
    LinearScanIndex,
    MultiIndexHashing,
    MultiTableIndex,
    _base,
    hash_table,
    linear_scan,
)
from hashlearn.testing import _index as index_checks
from hashlearn.testing import (
    check_index,
    clustered_codes,
    knn_reference,
    random_codes,
    range_reference,
)

HAS_FAISS = importlib.util.find_spec("faiss") is not None
HAS_DASK = all(importlib.util.find_spec(m) is not None for m in ("dask", "distributed"))
needs_faiss = pytest.mark.skipif(not HAS_FAISS, reason="faiss is not installed")


def exact_multi_table(n_bits: int) -> MultiTableIndex:
    return MultiTableIndex(n_bits, grow="exact")


def exact_faiss_hash(n_bits: int) -> FaissBinaryHash:
    # Flipping every key bit probes every bucket: exact (faiss's probing, faiss's tables).
    bits = min(n_bits, 8)
    return FaissBinaryHash(n_bits, bits_per_table=bits, probe_radius=bits, n_threads=1)


def exact_faiss_multihash(n_bits: int) -> FaissBinaryMultiHash:
    # Short keys, every key bit flipped: each table probes all its buckets (cheap, exact).
    bits = max(1, min(n_bits // 2, 6))
    return FaissBinaryMultiHash(
        n_bits, n_tables=2 if n_bits > 1 else 1, bits_per_table=bits, probe_radius=bits, n_threads=1
    )


# (id, factory, needs faiss): every index that promises exact results.
EXACT = [
    ("LinearScanIndex", LinearScanIndex, False),
    ("HashTableIndex", HashTableIndex, False),
    ("MultiIndexHashing", MultiIndexHashing, False),
    ("MultiTableIndex-exact", exact_multi_table, False),
    ("FaissBinaryFlat", functools.partial(FaissBinaryFlat, n_threads=1), True),
    ("FaissBinaryHash-all-flips", exact_faiss_hash, True),
    ("FaissBinaryMultiHash-all-flips", exact_faiss_multihash, True),
]
APPROXIMATE = [
    ("MultiTableIndex", MultiTableIndex, False),
    ("MultiTableIndex-2-tables", lambda n: MultiTableIndex(n, n_tables=2, probe_radius=1), False),
    ("FaissBinaryHash", functools.partial(FaissBinaryHash, n_threads=1), True),
    ("FaissBinaryMultiHash", functools.partial(FaissBinaryMultiHash, n_threads=1), True),
]
# The local indexes whose error messages are checked word for word.
LOCAL = [LinearScanIndex, HashTableIndex, MultiIndexHashing, MultiTableIndex]


def params(rows):
    return [
        pytest.param(factory, id=name, marks=[needs_faiss] if faiss else [])
        for name, factory, faiss in rows
    ]


def assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype, (x.dtype, y.dtype)
        np.testing.assert_array_equal(x, y)


# -- the whole contract, index by index -----------------------------------------------------
@pytest.mark.filterwarnings("ignore::hashlearn.index.ProbeCostWarning")
@pytest.mark.parametrize("factory", params(EXACT))
def test_exact_indexes_follow_the_contract(factory):
    check_index(factory, n_bits=(5, 13, 64))


@pytest.mark.parametrize("factory", params(APPROXIMATE))
def test_approximate_indexes_follow_the_contract(factory):
    check_index(factory, n_bits=(8, 13, 32), exact=False)


@pytest.fixture(scope="module")
def dask_client():
    if not HAS_DASK:
        pytest.skip("dask and distributed are not installed")
    import distributed

    # In-process workers: quick to start, and the shards still sit behind futures.
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    )
    client = distributed.Client(cluster, timeout=30)
    try:
        yield client
    finally:
        client.close(timeout=30)
        cluster.close(timeout=30)


@pytest.mark.filterwarnings("ignore:Port .* is already in use")
@pytest.mark.parametrize("index_cls", [LinearScanIndex, HashTableIndex])
def test_sharded_index_follows_the_contract(dask_client, index_cls):
    from hashlearn.index import ShardedIndex

    def sharded(n_bits: int) -> ShardedIndex:
        return ShardedIndex(n_bits, client=dask_client, index_cls=index_cls, n_shards=3, timeout=30)

    check_index(sharded, n_bits=(13,), n_database=60, n_queries=5)


# -- exactness on random shapes ---------------------------------------------------------------
@st.composite
def code_sets(draw, max_bits=64):
    """(n_bits, database, queries): random or clustered codes, often crowded with ties."""
    n_bits = draw(st.integers(1, max_bits))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(0, 80))
    make = clustered_codes if draw(st.booleans()) else random_codes
    database = make(rng, n, n_bits)
    queries = np.concatenate([database[: draw(st.integers(0, 2))], make(rng, 4, n_bits)])
    return n_bits, database, queries


@pytest.mark.filterwarnings("ignore::hashlearn.index.ProbeCostWarning")
@pytest.mark.parametrize("factory", params(EXACT))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=code_sets(), k=st.integers(1, 90), radius_fraction=st.floats(0, 1.2))
def test_exact_on_random_shapes(factory, data, k, radius_fraction):
    n_bits, database, queries = data
    index = factory(n_bits).add(database)
    assert_same(index.search(queries, k), knn_reference(queries, database, k))
    radius = int(radius_fraction * n_bits)
    assert_same(index.range_search(queries, radius), range_reference(queries, database, radius))


# -- the documented guarantees of approximate MultiTableIndex --------------------------------------
@pytest.mark.parametrize("make_codes", [random_codes, clustered_codes])
def test_multi_table_range_is_a_subset_growing_with_probe_radius(make_codes):
    rng = np.random.default_rng(7)
    n_bits = 24
    database = make_codes(rng, 400, n_bits)
    queries = np.concatenate([make_codes(rng, 10, n_bits), database[:3]])
    index = MultiTableIndex(n_bits, n_tables=4).add(database)
    for radius in (2, 6, 12):
        lims_x, _, ids_x = range_reference(queries, database, radius)
        exact = [set(ids_x[lims_x[i] : lims_x[i + 1]].tolist()) for i in range(len(queries))]
        previous = [set() for _ in exact]
        for probe_radius in range(0, 7):
            index.probe_radius = probe_radius
            lims, _, ids = index.range_search(queries, radius)
            found = [set(ids[lims[i] : lims[i + 1]].tolist()) for i in range(len(queries))]
            assert all(p <= f <= e for p, f, e in zip(previous, found, exact, strict=True))
            previous = found
        index.probe_radius = index.probe_radius_for(radius)  # pigeonhole: exact from here
        assert_same(index.range_search(queries, radius), range_reference(queries, database, radius))


# -- what check_index does not cover ----------------------------------------------------------
@pytest.mark.parametrize("cls", LOCAL)
def test_argument_errors_name_the_parameter_and_value(cls):
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
    with pytest.raises(ValueError, match="padding bits"):
        cls(13).add(np.array([[0, 0xFF]], dtype=np.uint8))


def test_hash_table_refuses_long_codes():
    with pytest.raises(ValueError, match=r"n_bits must be in \[1, 64\].*got 65.*LinearScanIndex"):
        HashTableIndex(65)
    LinearScanIndex(4096)


@pytest.mark.parametrize("cls", LOCAL)
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


@pytest.mark.parametrize("cls", LOCAL)
def test_codes_view_is_read_only(cls):
    database = random_codes(np.random.default_rng(0), 4, 10)
    index = cls(10).add(database)
    assert index.codes.shape == (4, n_bytes(10))
    np.testing.assert_array_equal(index.codes, database)
    with pytest.raises(ValueError):
        index.codes[0, 0] = 1


class _ThresholdHasher:
    """A minimal hasher: bit j = (x_j >= 0)."""

    n_bits = 4

    def encode(self, X):
        return pack_bits(np.asarray(X) >= 0)


@pytest.mark.parametrize("cls", [LinearScanIndex, HashTableIndex, MultiIndexHashing])
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


def test_base_class_is_abstract():
    with pytest.raises(TypeError):
        BinaryIndex(8)  # type: ignore[abstract]


# hashlearn.index.rerank is the function; the module is reached through importlib.
RERANK_MODULE = importlib.import_module("hashlearn.index.rerank")


@pytest.mark.parametrize("module", [_base, linear_scan, hash_table, RERANK_MODULE, index_checks])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0

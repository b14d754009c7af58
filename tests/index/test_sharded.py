"""Dask scale-out: encode_dask and ShardedIndex against one local index holding everything."""

from __future__ import annotations

import doctest
import functools
import subprocess
import sys

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")


import hashlearn  # noqa: E402
import hashlearn.index._shards as shards_module  # noqa: E402
import hashlearn.index.sharded as sharded_module  # noqa: E402
from hashlearn.hashers import LSH  # noqa: E402
from hashlearn.index import (  # noqa: E402
    BinaryIndex,
    HashTableIndex,
    LinearScanIndex,
    ShardedIndex,
    encode_dask,
)
from hashlearn.testing import clustered_codes, random_codes  # noqa: E402

# Every wait on the cluster is bounded, so a broken cluster fails the test instead of hanging.
TIMEOUT = 30


@pytest.fixture(scope="module")
def client(local_cluster):
    with local_cluster(TIMEOUT) as client:
        yield client


def assert_same(got, expected):
    assert len(got) == len(expected)
    for x, y in zip(got, expected, strict=True):
        assert x.dtype == y.dtype, (x.dtype, y.dtype)
        np.testing.assert_array_equal(x, y)


def assert_same_results(sharded, single, queries, ks, radii):
    for k in ks:
        assert_same(sharded.search(queries, k), single.search(queries, k))
    for radius in radii:
        assert_same(sharded.range_search(queries, radius), single.range_search(queries, radius))


# -- ShardedIndex == one index -----------------------------------------------------------------
@pytest.mark.parametrize("n_bits", [13, 64])
def test_numpy_and_dask_adds_match_one_linear_scan(client, n_bits):
    rng = np.random.default_rng(n_bits)
    database = clustered_codes(rng, 300, n_bits)
    queries = np.concatenate([clustered_codes(rng, 12, n_bits), database[:4]])
    sharded = ShardedIndex(n_bits, client=client, n_shards=3, timeout=TIMEOUT)
    # Uneven pieces, a single code, and a dask array with uneven (and empty) row chunks.
    sharded.add(database[:101]).add(database[101:102])
    sharded.add(da.from_array(database[102:], chunks=((90, 0, 57, 51), (database.shape[1],))))
    assert sharded.ntotal == len(sharded) == 300
    assert sharded.shard_sizes == (34, 34, 33, 1, 90, 57, 51)
    assert sharded.n_shards == 7
    single = LinearScanIndex(n_bits).add(database)
    assert_same_results(
        sharded,
        single,
        queries,
        ks=(1, 34, 35, 300, 450),
        radii=(0, n_bits // 2, n_bits + 5),
    )
    np.testing.assert_array_equal(sharded.gather().codes, database)


@pytest.mark.filterwarnings("ignore:radius .* means probing")
def test_same_index_type_hash_table_and_callable_factory(client):
    rng = np.random.default_rng(1)
    database = clustered_codes(rng, 200, 16)
    queries = clustered_codes(rng, 10, 16)
    single = HashTableIndex(16).add(database)
    for factory in (HashTableIndex, functools.partial(HashTableIndex)):
        sharded = ShardedIndex(16, client=client, index_cls=factory, n_shards=4, timeout=TIMEOUT)
        sharded.add(database[:77]).add(da.from_array(database[77:], chunks=(50, 2)))
        assert_same_results(sharded, single, queries, ks=(1, 10, 250), radii=(0, 2, 16))
        gathered = sharded.gather()
        assert isinstance(gathered, HashTableIndex)
        assert_same(gathered.search(queries, 20), single.search(queries, 20))


def test_many_shards_any_grouping_and_merge_tree(client, monkeypatch):
    rng = np.random.default_rng(2)
    database = clustered_codes(rng, 100, 10)
    queries = clustered_codes(rng, 6, 10)
    single = LinearScanIndex(10).add(database)
    sharded = ShardedIndex(10, client=client, n_shards=20, timeout=TIMEOUT).add(database)
    assert sharded.n_shards == 20
    # Grouped by worker: one search task per worker thread, whatever the number of shards.
    assert len(sharded._store.groups()) == 2
    assert_same_results(sharded, single, queries, ks=(7, 120), radii=(4,))
    # The merge does not depend on which shards are searched together, nor in what order,
    # and merges of merges (more groups than the fan-in) give the same result.
    shuffled = [[shard] for shard in sharded._store.shards[::-1]]
    shuffled = [shuffled[0] + shuffled[5], *shuffled[1:5], *shuffled[6:]]
    monkeypatch.setattr(shards_module._ShardStore, "groups", lambda self: shuffled)
    monkeypatch.setattr(shards_module, "_MERGE_FAN_IN", 3)
    monkeypatch.setattr(shards_module, "_SCATTER_BYTES", 0)  # queries scattered once
    assert_same_results(sharded, single, queries, ks=(1, 7, 120), radii=(0, 4, 10))


@pytest.mark.parametrize("seed", range(8))
def test_random_adds_match_linear_scan(client, seed):
    # Cases drawn with numpy rather than hypothesis: the cluster's threads use the random
    # module while a test runs, which hypothesis reports as a strategy touching it.
    rng = np.random.default_rng(seed)
    sizes = rng.integers(0, 26, size=rng.integers(1, 5))
    n_shards, k, radius = (
        int(rng.integers(1, 6)),
        int(rng.integers(1, 41)),
        int(rng.integers(0, 10)),
    )
    sharded = ShardedIndex(9, client=client, n_shards=n_shards, timeout=TIMEOUT)
    single = LinearScanIndex(9)
    for i, size in enumerate(sizes):
        codes = clustered_codes(rng, int(size), 9)
        single.add(codes)
        sharded.add(da.from_array(codes, chunks=(7, 2)) if i % 2 else codes)
    queries = clustered_codes(rng, 5, 9)
    assert sharded.ntotal == single.ntotal
    assert_same_results(sharded, single, queries, ks=(k,), radii=(radius,))


def test_empty_adds_and_reset(client):
    sharded = ShardedIndex(16, client=client, timeout=TIMEOUT)
    queries = random_codes(np.random.default_rng(0), 3, 16)
    sharded.add(np.zeros((0, 2), dtype=np.uint8))
    sharded.add(da.zeros((0, 2), dtype=np.uint8, chunks=1))
    assert sharded.ntotal == 0 and sharded.n_shards == 0
    sharded.add(queries)
    assert sharded.gather().ntotal == 3
    sharded.reset()
    assert sharded.ntotal == 0 and sharded.n_shards == 0
    assert (sharded.search(queries, 2)[1] == -1).all()
    assert isinstance(sharded.gather(), LinearScanIndex)


def test_default_n_shards_is_the_worker_threads(client):
    database = random_codes(np.random.default_rng(3), 10, 8)
    sharded = ShardedIndex(8, client=client, timeout=TIMEOUT).add(database)
    assert sharded.n_shards == 2
    # Never more shards than codes.
    assert (
        ShardedIndex(8, client=client, n_shards=5, timeout=TIMEOUT).add(database[:2]).n_shards == 2
    )


def test_dask_chunks_are_built_on_the_workers(client):
    def on_a_worker(block):
        distributed.get_worker()  # raises ValueError if the chunk were computed on the client
        return block

    database = random_codes(np.random.default_rng(4), 60, 16)
    codes = da.from_array(database, chunks=(20, 2)).map_blocks(on_a_worker, dtype=np.uint8)
    sharded = ShardedIndex(16, client=client, timeout=TIMEOUT).add(codes)
    assert sharded.shard_sizes == (20, 20, 20)
    held = client.who_has([shard.future for shard in sharded._store.shards])
    assert all(held.values())  # every shard is held in a worker's memory
    np.testing.assert_array_equal(sharded.gather().codes, database)


def test_shards_never_travel_to_the_client(client, monkeypatch):
    gathered_types = []
    original_gather = client.gather

    def recording_gather(futures, *args, **kwargs):
        results = original_gather(futures, *args, **kwargs)
        gathered_types.extend(type(r).__name__ for r in results)
        return results

    monkeypatch.setattr(client, "gather", recording_gather)
    rng = np.random.default_rng(8)
    database = random_codes(rng, 90, 16)
    sharded = ShardedIndex(16, client=client, n_shards=3, timeout=TIMEOUT).add(database[:40])
    sharded.add(da.from_array(database[40:], chunks=(25, 2))).rebalance(2)
    sharded.search(database[:3], 4)
    sharded.range_search(database[:3], 5)
    np.testing.assert_array_equal(sharded.gather().codes, database)
    assert gathered_types  # sizes, per-group results and codes came back ...
    assert not [name for name in gathered_types if name.endswith("Index")]  # ... no shard


def test_rebalance_regroups_without_changing_results(client):
    rng = np.random.default_rng(5)
    database = clustered_codes(rng, 120, 12)
    queries = clustered_codes(rng, 8, 12)
    sharded = ShardedIndex(12, client=client, n_shards=2, timeout=TIMEOUT)
    for piece in np.array_split(database, 9):
        sharded.add(piece)
    assert sharded.n_shards == 18
    before = sharded.search(queries, 30)
    assert sharded.rebalance(5) is sharded
    assert sharded.shard_sizes == (24, 24, 24, 24, 24)
    assert_same(sharded.search(queries, 30), before)
    assert_same_results(
        sharded, LinearScanIndex(12).add(database), queries, ks=(1, 121), radii=(3,)
    )
    assert sharded.rebalance().shard_sizes == (60, 60)  # the constructor's n_shards
    np.testing.assert_array_equal(sharded.gather().codes, database)


def test_repr_and_properties(client):
    sharded = ShardedIndex(24, client=client, n_shards=2, timeout=TIMEOUT)
    sharded.add(random_codes(np.random.default_rng(6), 5, 24))
    assert repr(sharded) == (
        "ShardedIndex(n_bits=24, n_shards=2, index_cls=LinearScanIndex, ntotal=5)"
    )
    assert sharded.n_bits == 24 and sharded.client is client
    assert sharded.index_cls is LinearScanIndex
    assert isinstance(sharded, BinaryIndex)  # one contract: the base's checks and layout
    np.testing.assert_array_equal(sharded.codes, sharded.gather().codes)  # gathered
    sharded.timeout = 20
    assert sharded.timeout == 20.0
    with pytest.raises(ValueError, match="timeout must be > 0"):
        sharded.timeout = -1


# -- hasher, persistence -----------------------------------------------------------------------
def test_vectors_and_save_load_round_trip(client, tmp_path, blobs):
    X, _ = blobs
    hasher = LSH(n_bits=20, random_state=0).fit(X)
    single = LinearScanIndex(20, hasher=hasher).add_vectors(X)
    sharded = ShardedIndex(20, client=client, hasher=hasher, n_shards=3, timeout=TIMEOUT)
    sharded.add_vectors(X[:50]).add_vectors(da.from_array(X[50:], chunks=(60, 16)))
    assert sharded.ntotal == 200
    assert_same(sharded.search_vectors(X[:7], 9), single.search_vectors(X[:7], 9))
    assert_same(
        sharded.search_vectors(da.from_array(X[:7], chunks=3), 9), single.search_vectors(X[:7], 9)
    )
    assert_same(sharded.range_search_vectors(X[:7], 4), single.range_search_vectors(X[:7], 4))

    path = sharded.save(tmp_path / "sharded.hl")
    local = hashlearn.load(path)  # an ordinary index file: no dask needed to read it
    assert isinstance(local, LinearScanIndex)
    np.testing.assert_array_equal(local.codes, single.codes)
    np.testing.assert_array_equal(local.hasher.components_, hasher.components_)

    loaded = ShardedIndex.load(path, client, n_shards=4, timeout=TIMEOUT)
    assert loaded.shard_sizes == (50, 50, 50, 50)
    assert loaded.index_cls is LinearScanIndex
    assert_same(loaded.search_vectors(X[:7], 9), single.search_vectors(X[:7], 9))
    assert_same(loaded.range_search(single.codes[:5], 3), single.range_search(single.codes[:5], 3))

    table_path = HashTableIndex(20).add(single.codes).save(tmp_path / "table.hl")
    from_table = ShardedIndex.load(table_path, client, timeout=TIMEOUT)
    assert from_table.index_cls is HashTableIndex and from_table.hasher is None
    assert_same(from_table.search(single.codes[:5], 3), single.search(single.codes[:5], 3))
    hasher.save(tmp_path / "hasher.hl")
    with pytest.raises(TypeError, match="not an index"):
        ShardedIndex.load(tmp_path / "hasher.hl", client)


# -- encode_dask -------------------------------------------------------------------------------
@pytest.mark.parametrize("n_bits", [5, 13, 16])
def test_encode_dask_equals_encode(client, blobs, n_bits):
    X, _ = blobs
    hasher = LSH(n_bits=n_bits, random_state=1).fit(X)
    expected = hasher.encode(X)
    # Uneven and empty row chunks, several column chunks.
    dask_X = da.from_array(X, chunks=((70, 0, 100, 30), (10, 6)))
    codes = encode_dask(hasher, dask_X)
    assert codes.dtype == np.uint8
    assert codes.chunks == ((70, 0, 100, 30), ((n_bits + 7) // 8,))
    np.testing.assert_array_equal(client.compute(codes).result(timeout=TIMEOUT), expected)
    from_numpy = encode_dask(hasher, X)
    assert len(from_numpy.chunks[1]) == 1
    np.testing.assert_array_equal(from_numpy.compute(scheduler="sync"), expected)
    np.testing.assert_array_equal(
        encode_dask(hasher, X.astype(np.float32)).compute(scheduler="sync"),
        hasher.encode(X.astype(np.float32)),
    )
    empty = encode_dask(hasher, np.zeros((0, X.shape[1])))
    assert empty.compute(scheduler="sync").shape == (0, (n_bits + 7) // 8)


def test_encode_dask_errors(blobs):
    X, _ = blobs
    hasher = LSH(n_bits=8, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"X must be 2-D.*got 1-D"):
        encode_dask(hasher, da.from_array(X[0]))
    with pytest.raises(ValueError, match=r"X must be 2-D.*got 1-D"):
        encode_dask(hasher, X[0])
    with pytest.raises(ValueError, match=r"X has 3 features.*expecting 16 features"):
        encode_dask(hasher, da.zeros((10, 3), chunks=5))
    with pytest.raises(ValueError, match=r"encode_dask needs a fitted hasher.*not fitted"):
        encode_dask(LSH(n_bits=8), X)
    with pytest.raises(TypeError, match="encode"):
        encode_dask(object(), X)
    with pytest.raises(TypeError, match="real numbers"):
        encode_dask(hasher, da.from_array(np.array([["a"] * 16])))
    with pytest.raises(TypeError, match="real numbers"):
        encode_dask(hasher, da.zeros((2, 16), dtype=complex))
    # Values are checked when the block is encoded.
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        encode_dask(hasher, bad).compute(scheduler="sync")


# -- ShardedIndex errors -----------------------------------------------------------------------
def test_sharded_index_refuses_bad_input(client):
    with pytest.raises(TypeError, match=r"client must be a distributed.Client"):
        ShardedIndex(16, client="tcp://127.0.0.1:8786")
    with pytest.raises(ValueError, match=r"n_bits must be in \[1, 4096\], got 0"):
        ShardedIndex(0, client=client)
    with pytest.raises(ValueError, match=r"n_bits must be in \[1, 64\].*got 65"):
        ShardedIndex(65, client=client, index_cls=HashTableIndex)
    with pytest.raises(TypeError, match="index_cls must build a hashlearn BinaryIndex"):
        ShardedIndex(16, client=client, index_cls=str)
    with pytest.raises(TypeError, match="index_cls must be"):
        ShardedIndex(16, client=client, index_cls="LinearScanIndex")
    with pytest.raises(ValueError, match=r"n_shards must be in \[1, inf\], got 0"):
        ShardedIndex(16, client=client, n_shards=0)
    with pytest.raises(ValueError, match="timeout must be > 0"):
        ShardedIndex(16, client=client, timeout=0)
    with pytest.raises(ValueError, match="n_bits=8 but this index holds n_bits=16"):
        ShardedIndex(16, client=client, hasher=LSH(n_bits=8))

    # The generic argument checks are in the contract suite; these are about dask arrays.
    sharded = ShardedIndex(13, client=client, timeout=TIMEOUT)
    sharded.add(random_codes(np.random.default_rng(7), 10, 13))
    with pytest.raises(ValueError, match="codes of the wrong width"):
        sharded.add(da.zeros((4, 3), dtype=np.uint8, chunks=2))
    with pytest.raises(TypeError, match="uint8"):
        sharded.add(da.zeros((4, 2), dtype=np.int64, chunks=2))
    with pytest.raises(ValueError, match="2-D"):
        sharded.add(da.zeros(4, dtype=np.uint8, chunks=2))
    # Padding bits inside a dask array are found by the shard on its worker.
    with pytest.raises(ValueError, match="padding bits"):
        sharded.add(da.from_array(np.array([[0, 0], [0, 0xFF]], dtype=np.uint8), chunks=1))
    with pytest.raises(ValueError, match="add_vectors needs a hasher"):
        sharded.add_vectors(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"n_shards must be in \[1, inf\], got 0"):
        sharded.rebalance(0)
    assert sharded.ntotal == 10  # failed adds left the index unchanged


# -- the optional dependency ---------------------------------------------------------------------
def test_missing_dask_names_the_extra(monkeypatch, blobs):
    X, _ = blobs
    hasher = LSH(n_bits=8, random_state=0).fit(X)
    for name in ("dask", "dask.array", "distributed"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"pip install 'hashlearn\[dask\]'"):
        encode_dask(hasher, X)
    with pytest.raises(ImportError, match=r"ShardedIndex needs dask.*hashlearn\[dask\]"):
        ShardedIndex(8)


@pytest.mark.filterwarnings("ignore:Port .* is already in use")
def test_doctests():
    result = doctest.testmod(sharded_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted and not result.failed


def test_importing_hashlearn_index_does_not_import_dask():
    code = (
        "import sys, hashlearn, hashlearn.index, hashlearn.index.sharded; "
        "loaded = [m for m in ('dask', 'distributed') if m in sys.modules]; "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=TIMEOUT)


def test_budgeted_range_search_is_one_fan_out(client, monkeypatch):
    from hashlearn.index import RangeResultLimitError

    rng = np.random.default_rng(21)
    database = random_codes(rng, 600, 32)
    queries = random_codes(rng, 50, 32)
    sharded = ShardedIndex(32, client=client, n_shards=3, timeout=TIMEOUT).add(database)
    whole = LinearScanIndex(32).add(database).range_search(queries, 12, max_results=None)
    total = int(whole[0][-1])
    assert total < 50 * 600  # so the budget applies
    calls = []
    real = sharded._store.range_search
    monkeypatch.setattr(
        sharded._store, "range_search", lambda *a: calls.append(len(a[0])) or real(*a)
    )
    assert_same(sharded.range_search(queries, 12, max_results=total), whole)
    assert calls == [50]  # every query in one fan-out, not blocks of budget // ntotal
    with pytest.raises(RangeResultLimitError) as caught:
        sharded.range_search(queries, 12, max_results=total - 1)
    assert caught.value.n_found == total and caught.value.n_queries_done == 50
    with pytest.raises(RangeResultLimitError):  # one shard alone passes the budget
        sharded.range_search(queries, 32, max_results=150)

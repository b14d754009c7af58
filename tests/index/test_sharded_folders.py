"""ShardedIndex on shared storage: shards saved and mapped where they live, and a worker
that dies under a search (on a LocalCluster of processes)."""

from __future__ import annotations

import json
import os
import pickle
import signal
import threading
import time

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

import hashlearn.index._shard_folders as folders_module  # noqa: E402
from hashlearn.index import (  # noqa: E402
    HashTableIndex,
    LinearScanIndex,
    ShardedIndex,
    ShardLostError,
    load_index_folder,
)
from hashlearn.index._base import _MappedStore  # noqa: E402
from hashlearn.index._shards import _ShardStore  # noqa: E402
from hashlearn.persistence import FileFormatError  # noqa: E402
from hashlearn.testing import clustered_codes, random_codes  # noqa: E402

TIMEOUT = 30
# Building shards compiles the counting-sort kernels in each fresh worker process on a
# clean checkout (no numba cache yet): a bound against hangs, not a speed test.
BUILD_TIMEOUT = 120


@pytest.fixture(scope="module")
def client(local_cluster):
    with local_cluster(TIMEOUT) as client:
        yield client


def assert_same(got, expected):
    for x, y in zip(got, expected, strict=True):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("index_cls", [LinearScanIndex, HashTableIndex])
@pytest.mark.filterwarnings("ignore:radius .* means probing")
def test_save_folder_open_folder_round_trip(client, tmp_path, monkeypatch, index_cls):
    rng = np.random.default_rng(0)
    database = clustered_codes(rng, 400, 16)
    queries = np.concatenate([clustered_codes(rng, 8, 16), database[:3]])
    sharded = ShardedIndex(16, client=client, index_cls=index_cls, n_shards=3, timeout=TIMEOUT)
    sharded.add(database[:250]).add(database[250:])
    # The client never gathers the codes: neither on save nor on open.
    monkeypatch.setattr(
        _ShardStore, "view", lambda self: pytest.fail("codes gathered through the client")
    )
    sharded.save_folder(tmp_path / "index")
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    assert manifest["shard_class"] == index_cls.__name__ and manifest["ntotal"] == 400
    assert [(s["folder"], s["first_id"], s["size"]) for s in manifest["shards"]] == [
        ("shard-00000", 0, 84),
        ("shard-00001", 84, 83),
        ("shard-00002", 167, 83),
        ("shard-00003", 250, 50),
        ("shard-00004", 300, 50),
        ("shard-00005", 350, 50),
    ]
    opened = ShardedIndex.open_folder(tmp_path / "index", client, timeout=TIMEOUT)
    assert opened.index_cls is index_cls and opened.shard_sizes == sharded.shard_sizes
    # Every shard is mapped on a worker, and the shards are spread over both workers.
    kinds = client.gather(
        [
            client.submit(lambda shard: type(shard._store).__name__, s.future, pure=False)
            for s in opened._store.shards
        ]
    )
    assert set(kinds) == {"_MappedStore"}
    holders = client.who_has([s.future for s in opened._store.shards])
    assert len({where[0] for where in holders.values()}) == 2
    single = index_cls(16).add(database)
    for k in (1, 10, 500):
        assert_same(opened.search(queries, k), single.search(queries, k))
    for radius in (0, 3, 16):
        assert_same(opened.range_search(queries, radius), single.range_search(queries, radius))
    # New codes become in-memory shards beside the mapped ones; ids continue.
    opened.add(database[:5])
    assert opened.ntotal == 405
    assert opened.search(database[:1], 2)[1].tolist() == [[0, 400]]


def test_hasher_and_errors_name_what_is_wrong(client, tmp_path, blobs):
    from hashlearn.hashers import LSH

    X, _ = blobs
    hasher = LSH(n_bits=16, random_state=0).fit(X)
    sharded = ShardedIndex(16, client=client, n_shards=2, timeout=TIMEOUT, hasher=hasher)
    sharded.add_vectors(X)
    sharded.save_folder(tmp_path / "index")
    opened = ShardedIndex.open_folder(tmp_path / "index", client, timeout=TIMEOUT)
    assert_same(opened.search_vectors(X[:4], 5), sharded.search_vectors(X[:4], 5))

    # A shard type without folder support: the error names those that have it.
    class NoFolders(LinearScanIndex):
        _folder_support = False

    other = ShardedIndex(16, client=client, index_cls=NoFolders, timeout=TIMEOUT)
    with pytest.raises(TypeError, match=r"NoFolders cannot be saved.*can: .*LinearScanIndex"):
        other.save_folder(tmp_path / "other")
    assert not (tmp_path / "other").exists()
    (tmp_path / "plain").mkdir()
    with pytest.raises(FileExistsError, match="not a hashlearn sharded index folder"):
        sharded.save_folder(tmp_path / "plain")
    # Nor is an ordinary index folder replaced by a sharded one.
    LinearScanIndex(16).save_folder(tmp_path / "single")
    with pytest.raises(FileExistsError, match="not a hashlearn sharded index folder"):
        sharded.save_folder(tmp_path / "single")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ShardedIndex.open_folder(tmp_path / "nowhere", client)
    with pytest.raises(FileFormatError, match=r"manifest\.json is missing"):
        ShardedIndex.open_folder(tmp_path / "plain", client)

    # A missing shard folder is named before anything is submitted ...
    os.rename(tmp_path / "index" / "shard-00001", tmp_path / "moved")
    with pytest.raises(FileFormatError, match=r"folder of shard 1 \(shard-00001\) is missing"):
        ShardedIndex.open_folder(tmp_path / "index", client, timeout=TIMEOUT)
    os.rename(tmp_path / "moved", tmp_path / "index" / "shard-00001")
    # ... and a corrupt one by the worker that tries to map it.
    (tmp_path / "index" / "shard-00001" / "codes.npy").write_bytes(b"garbage")
    with pytest.raises(FileFormatError, match=r"shard-00001.*codes\.npy cannot be read"):
        ShardedIndex.open_folder(tmp_path / "index", client, timeout=TIMEOUT)


def test_a_failed_save_leaves_the_previous_folder(client, tmp_path, monkeypatch):
    codes = random_codes(np.random.default_rng(1), 200, 32)
    ShardedIndex(32, client=client, n_shards=2, timeout=TIMEOUT).add(codes).save_folder(
        tmp_path / "index"
    )
    before = sorted(p.name for p in (tmp_path / "index").iterdir())
    newer = ShardedIndex(32, client=client, n_shards=3, timeout=TIMEOUT).add(codes[:50])

    def failing_save(shard, path):
        if path.endswith("shard-00002"):
            raise OSError("disk full")
        return shard.save_folder(path) and shard.ntotal

    monkeypatch.setattr(folders_module, "save_shard", failing_save)
    with pytest.raises(OSError, match="disk full"):
        newer.save_folder(tmp_path / "index")
    assert sorted(p.name for p in (tmp_path / "index").iterdir()) == before
    assert [p.name for p in tmp_path.iterdir()] == ["index"]  # no staging left behind
    opened = ShardedIndex.open_folder(tmp_path / "index", client, timeout=TIMEOUT)
    assert opened.ntotal == 200


def test_a_mapped_index_pickles_as_its_folder(tmp_path):
    codes = random_codes(np.random.default_rng(2), 5_000, 64)
    LinearScanIndex(64).add(codes).save_folder(tmp_path / "index")
    mapped = load_index_folder(tmp_path / "index")
    data = pickle.dumps(mapped, protocol=5)
    assert len(data) < 1_000  # not the 40 kB of codes
    again = pickle.loads(data)
    assert isinstance(again._store, _MappedStore)
    assert_same(again.search(codes[:3], 4), mapped.search(codes[:3], 4))
    # A folder saved again since then is not silently taken for the pickled index.
    LinearScanIndex(64).add(codes[:10]).save_folder(tmp_path / "index")
    with pytest.raises(FileFormatError, match="now holds 10 codes"):
        pickle.loads(data)
    # In-memory indexes still pickle their codes.
    assert pickle.loads(pickle.dumps(LinearScanIndex(64).add(codes))).ntotal == 5_000


# -- a worker dies ---------------------------------------------------------------------------
def _kill(client, address):
    os.kill(client.run(os.getpid, workers=[address])[address], signal.SIGKILL)


def test_worker_killed_during_and_between_searches(local_cluster, tmp_path):
    rng = np.random.default_rng(3)
    database = random_codes(rng, 200_000, 64)
    queries = random_codes(rng, 3_000, 64)
    single = LinearScanIndex(64).add(database)
    expected = single.search(queries, 10)
    with local_cluster(TIMEOUT) as client:
        sharded = ShardedIndex(64, client=client, n_shards=4, timeout=TIMEOUT).add(database)
        sharded.save_folder(tmp_path / "index")
        index = ShardedIndex.open_folder(tmp_path / "index", client, timeout=TIMEOUT)
        del sharded
        index.search(queries[:2], 1)  # compile the kernels for mapped arrays on both workers

        # Killed while it searches: the shards are reopened elsewhere and the search rerun.
        outcome: dict[str, object] = {}

        def search():
            try:
                outcome["result"] = index.search(queries, 10)
            except Exception as exc:
                outcome["error"] = exc

        started = time.monotonic()
        searcher = threading.Thread(target=search)
        searcher.start()
        victim = None
        while victim is None and searcher.is_alive() and time.monotonic() - started < TIMEOUT:
            busy = [worker for worker, tasks in client.processing().items() if tasks]
            victim = busy[0] if busy else None
        assert victim is not None, "the search ended before a worker could be killed"
        _kill(client, victim)
        searcher.join(TIMEOUT + 5)
        assert not searcher.is_alive(), "the search hangs"
        assert time.monotonic() - started < TIMEOUT + 5
        if "error" in outcome:
            error = outcome["error"]
            assert isinstance(error, ShardLostError) and error.lost, error
        else:
            assert_same(outcome["result"], expected)

        # Killed between searches: the next search is right.
        client.wait_for_workers(2, timeout=TIMEOUT)
        holders = client.who_has([s.future for s in index._store.shards])
        _kill(client, next(iter(holders.values()))[0])
        assert not index.degraded
        assert_same(index.search(queries[:200], 10), single.search(queries[:200], 10))
        assert_same(index.range_search(queries[:50], 20), single.range_search(queries[:50], 20))

        # The folder is gone when the shard must be reopened: a clear error naming it.
        client.wait_for_workers(2, timeout=TIMEOUT)
        holders = client.who_has([s.future for s in index._store.shards])
        victim = next(iter(holders.values()))[0]
        on_victim = [
            n for n, s in enumerate(index._store.shards) if holders[s.future.key][0] == victim
        ]
        os.rename(tmp_path / "index", tmp_path / "gone")
        _kill(client, victim)
        with pytest.raises(ShardLostError, match="could not be reopened from its folder") as info:
            index.search(queries[:5], 3)
        # Named as soon as one reopen fails (the others may still be on their way).
        lost = [number for number, _, _ in info.value.lost]
        assert lost and set(lost) <= set(on_victim)
        assert f"folder {tmp_path / 'index'}" in str(info.value)


class _FakeFuture:
    def __init__(self, status):
        self.status = status
        self.key = status


def _store_with(statuses, folder=None):
    store = _ShardStore(None, distributed, LinearScanIndex, 8, None, 5.0)
    futures = [_FakeFuture(status) for status in statuses]
    folders = None if folder is None else [f"{folder}/shard-{i}" for i in range(len(statuses))]
    store.append_shards(futures, [10] * len(statuses), folders=folders)
    return store


def test_a_search_is_submitted_again_after_a_cancellation_and_not_forever():
    from concurrent.futures import CancelledError

    from distributed.scheduler import KilledWorker

    store = _store_with(["finished", "lost"], folder="/shared/index")
    # A shard with lineage that is being rebuilt ("lost") is neither lost nor missing.
    assert not store.lost() and store.size == 20
    calls = []

    def cancelled_once(timeout):
        calls.append(timeout)
        if len(calls) == 1:
            raise CancelledError("the scattered queries died with their worker")
        return "answer"

    assert store.retrying(cancelled_once) == "answer" and len(calls) == 2
    assert all(0 < timeout <= 5.0 for timeout in calls)

    def always_killed(timeout):
        raise KilledWorker("search", "tcp://w", 3)

    # Out of attempts while shard 1 is not back: a TimeoutError naming it and its folder.
    with pytest.raises(TimeoutError, match=r"1 of 2 shards .*shard 1 \(ids 10..19, folder /sh"):
        store.retrying(always_killed)
    # The same shard without lineage is lost for good: ShardLostError, at the first failure.
    scattered = _store_with(["finished", "lost"])
    with pytest.raises(ShardLostError, match="cannot search: 1 of 2 shards") as info:
        scattered.retrying(always_killed)
    assert info.value.lost == ((1, 10, 10),)


@pytest.mark.parametrize("index_cls", [None, LinearScanIndex])
def test_build_folder_builds_each_shard_on_a_worker_from_a_codes_file(
    client, tmp_path, monkeypatch, index_cls
):
    from hashlearn.hashers import LSH

    rng = np.random.default_rng(11)
    hasher = LSH(n_bits=64, random_state=0).fit(rng.standard_normal((50, 6)))
    database = hasher.encode(rng.standard_normal((700, 6)))
    np.save(tmp_path / "codes.npy", database)
    monkeypatch.setattr(
        _ShardStore, "view", lambda self: pytest.fail("codes gathered through the client")
    )
    ShardedIndex.build_folder(
        tmp_path / "index",
        tmp_path / "codes.npy",
        64,
        client,
        n_shards=3,
        index_cls=index_cls,
        hasher=hasher,
        timeout=BUILD_TIMEOUT,
    )
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    assert [(s["first_id"], s["size"]) for s in manifest["shards"]] == [
        (0, 233),
        (233, 233),
        (466, 234),
    ]
    opened = ShardedIndex.open_folder(tmp_path / "index", client, timeout=BUILD_TIMEOUT)
    assert (
        opened.index_cls.__name__
        == (index_cls or folders_module.resolve("MultiIndexHashing")).__name__
    )
    assert opened.hasher is not None
    queries = database[::50]
    single = LinearScanIndex(64).add(database)
    assert_same(opened.search(queries, 5), single.search(queries, 5))
    assert_same(opened.range_search(queries, 6), single.range_search(queries, 6))
    # A shard that fails to build fails the whole folder, which is never half-written.
    np.save(tmp_path / "bad.npy", database[:, :4])
    with pytest.raises(ValueError):
        ShardedIndex.build_folder(
            tmp_path / "index", tmp_path / "bad.npy", 64, client, timeout=BUILD_TIMEOUT
        )
    assert load_index_folder(tmp_path / "index" / "shard-00000").ntotal == 233

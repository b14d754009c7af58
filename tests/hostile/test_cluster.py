"""A Dask worker dies under a ShardedIndex: a hashlearn error naming the lost shards.

Before, the search raised Dask's ``FuturesCancelledError`` ("2 Futures cancelled ...
already forgotten") and the index kept claiming its old ``ntotal``.
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from hashlearn.index import ShardedIndex, ShardLostError  # noqa: E402
from hashlearn.testing import random_codes  # noqa: E402

TIMEOUT = 30


@pytest.fixture
def client(local_cluster):
    # A cluster of its own: the test kills one of its workers.
    with local_cluster(TIMEOUT) as client:
        yield client


def _wait_for(condition, seconds=TIMEOUT):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("the cluster did not report the lost shards in time")
        time.sleep(0.05)


def test_worker_death_names_the_lost_shards_and_degrades_the_index(client):
    codes = random_codes(np.random.default_rng(0), 1_000, 32)
    index = ShardedIndex(32, client=client, n_shards=4, timeout=TIMEOUT).add(codes)
    assert not index.degraded and index.ntotal == 1_000
    holders = client.who_has([shard.future for shard in index._store.shards])
    victim = next(iter(holders.values()))[0]
    on_victim = [
        number
        for number, shard in enumerate(index._store.shards)
        if holders[shard.future.key][0] == victim
    ]
    os.kill(client.run(os.getpid, workers=[victim])[victim], signal.SIGKILL)
    _wait_for(lambda: index.degraded)

    assert [number for number, _, _ in index.lost_shards] == on_victim
    lost_codes = sum(size for _, _, size in index.lost_shards)
    assert index.ntotal == 1_000 - lost_codes  # no longer claims the lost codes
    assert "DEGRADED" in repr(index)
    with pytest.raises(ShardLostError, match=r"cannot search: \d of 4 shards .* were lost") as e:
        index.search(codes[:3], 5)
    first_lost = index.lost_shards[0]
    assert f"shard {first_lost[0]} (ids {first_lost[1]}..{first_lost[1] + first_lost[2] - 1})" in (
        str(e.value)
    )
    assert "index.reset() and add the codes again" in str(e.value)
    assert e.value.lost == index.lost_shards
    with pytest.raises(ShardLostError, match="cannot search"):
        index.range_search(codes[:3], 4)
    with pytest.raises(ShardLostError, match="cannot add codes"):
        index.add(codes[:10])
    with pytest.raises(ShardLostError, match="cannot gather the codes"):
        index.codes  # noqa: B018 (the property gathers)
    with pytest.raises(ShardLostError, match="cannot rebalance"):
        index.rebalance()

    # A worker that dies during a call: the cancelled tasks surface as the same error.
    lost_future = index._store.shards[first_lost[0]].future
    with pytest.raises(ShardLostError, match="cannot finish the operation"):
        index._store.wait([lost_future])

    # The way back the message gives: reset and add the codes again.
    index.reset().add(codes)
    assert not index.degraded and index.ntotal == 1_000
    assert index.search(codes[:3], 1)[1][:, 0].tolist() == [0, 1, 2]

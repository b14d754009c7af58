"""Shared fixtures: the real data directory, when present, and small synthetic data."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _real_data_dir() -> Path | None:
    candidates = [os.environ.get("HASHLEARN_DATA"), str(REPO_ROOT.parent / "shared" / "data")]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The real data directory (``HASHLEARN_DATA`` or ``../shared/data``); skip when absent."""
    path = _real_data_dir()
    if path is None:
        pytest.skip("real data directory not found (set HASHLEARN_DATA)")
    return path


@pytest.fixture(scope="session", autouse=True)
def _one_blas_thread():
    """One BLAS thread per test process: pytest-xdist already runs a worker per core, and
    OpenBLAS threads on top of that oversubscribe the cores (small eigen-decompositions
    were seen 30-60x slower on a loaded 2-core machine)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(autouse=True)
def _one_torch_thread() -> None:
    """One torch thread per test process once a test has imported torch (deep hashers
    import it lazily): its own threads on top of pytest-xdist's workers oversubscribe."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never download."""
    monkeypatch.setenv("HASHLEARN_OFFLINE", "1")


@pytest.fixture
def blobs() -> tuple[np.ndarray, np.ndarray]:
    """Four well-separated classes of 50 points in 16-d, L2-normalised and centred."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 50)
    X = rng.normal(size=(200, 16)) + 4.0 * np.eye(16)[y]
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X - X.mean(axis=0), y


@contextlib.contextmanager
def _local_cluster(timeout: float = 30):
    """A Dask cluster of two one-thread worker processes on localhost and its client."""
    import distributed

    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        host="127.0.0.1",
        # The scheduler serves HTTP routes even without a dashboard: on localhost, on a free
        # port (never the shared default 8787, which a concurrent test run may hold).
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
    )
    client = distributed.Client(cluster, timeout=timeout)
    try:
        yield client
    finally:
        client.close(timeout=timeout)
        cluster.close(timeout=timeout)


@pytest.fixture(scope="session")
def local_cluster():
    """``with local_cluster() as client:``, a fresh two-worker Dask cluster (the tests
    that use it import distributed with ``pytest.importorskip`` first)."""
    return _local_cluster


#: Topic words of the generated text corpora; every document also draws shared words.
_TOPIC_WORDS = {
    topic: words.split()
    for topic, words in (
        ("food", "recipe bread cheese sauce oven flavour spice butter dinner garlic"),
        ("space", "rocket orbit launch moon nasa shuttle planet galaxy telescope comet"),
        ("sport", "goal match team player score league coach season ball referee"),
    )
}
_SHARED_WORDS = [
    "people",
    "time",
    "year",
    "work",
    "place",
    "thing",
    "today",
    "really",
    "think",
    "good",
]


@pytest.fixture(scope="session")
def topic_documents():
    """``topic_documents(n_per_class, seed=0)``: deterministic (topic, text) pairs, a few
    hundred generated documents over three topics (food, space, sport), each 12 topic words
    and 8 shared words (and a stop word) in random order, topics interleaved."""

    def make(n_per_class: int, seed: int = 0) -> list[tuple[str, str]]:
        rng = np.random.default_rng(seed)
        documents = []
        for _ in range(n_per_class):
            for topic, words in _TOPIC_WORDS.items():
                drawn = [*rng.choice(words, 12), *rng.choice(_SHARED_WORDS, 8), "the"]
                documents.append((topic, " ".join(rng.permutation(drawn))))
        return documents

    return make

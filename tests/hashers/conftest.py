"""Fixtures shared by the hasher tests."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def mnist_split(real_data_dir):
    """L2-normalised MNIST (all 70,000 rows) and a split of it: 1,000 class-balanced query
    rows, 10,000 database rows drawn from the rest and 1,000 training rows drawn from the
    database, as ``(X, y, queries, database, train)`` (row indices into ``X``).

    A test file may define its own ``mnist_split`` (another split) instead.
    """
    from hashlearn.datasets import load_mnist

    data = load_mnist(real_data_dir)
    X = data.X.astype(np.float64)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.asarray(data.y)
    rng = np.random.default_rng(0)
    queries = np.concatenate(
        [rng.choice(np.flatnonzero(y == label), 100, replace=False) for label in range(10)]
    )
    rest = np.setdiff1d(np.arange(len(y)), queries)
    database = rng.choice(rest, 10_000, replace=False)
    train = rng.choice(database, 1_000, replace=False)
    return X, y, queries, database, train

"""Shared fixtures: the real data directory, when present, and small synthetic data."""

from __future__ import annotations

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

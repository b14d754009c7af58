"""Deep hashing tests: skipped without torch; one torch thread per test process."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """pytest-xdist runs a worker per core; torch's own threads on top would oversubscribe."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

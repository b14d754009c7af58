"""Fixtures of the service tests: small bundles, an in-process client, a live server."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the service tests need the [web] extra")

from hashlearn.serve.build import BuildConfig, build_bundle
from hashlearn.serve.server import BackgroundServer, start_background_server


def _quiet(message: str) -> None:
    del message


@pytest.fixture(scope="session")
def digits_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ITQ, 16 bits, over scikit-learn's 1,797 digits: images, labels, vectors."""
    out = tmp_path_factory.mktemp("bundles") / "digits-itq-16"
    return build_bundle(BuildConfig(dataset="digits", method="itq", n_bits=16, out=out), say=_quiet)


@pytest.fixture(scope="session")
def digits_lsh_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LSH, 16 bits, over the same digits: the second method of a side-by-side view."""
    out = tmp_path_factory.mktemp("bundles") / "digits-lsh-16"
    return build_bundle(BuildConfig(dataset="digits", method="lsh", n_bits=16, out=out), say=_quiet)


@pytest.fixture()
def client(digits_bundle: Path):
    """A TestClient over the digits bundle (in process, read-only)."""
    from fastapi.testclient import TestClient

    from hashlearn.serve.app import create_app
    from hashlearn.serve.server import load_services

    with TestClient(create_app(load_services([digits_bundle]))) as test_client:
        yield test_client


def start_server(
    bundles: list[Path], *extra: str, env: dict[str, str] | None = None, timeout: float = 60.0
) -> BackgroundServer:
    """``hashlearn serve`` in a subprocess on a free port, once /health answers."""
    return start_background_server(
        bundles, *extra, env={"OMP_NUM_THREADS": "1", **(env or {})}, timeout=timeout
    )


@pytest.fixture(scope="session")
def live_server(digits_bundle: Path, digits_lsh_bundle: Path) -> Iterator[str]:
    """A read-only ``hashlearn serve`` of both digits bundles; yields its base URL."""
    with start_server([digits_bundle, digits_lsh_bundle]) as server:
        yield server.url


class ServerControl:
    """Start and stop ``hashlearn serve`` subprocesses; whatever is left runs is stopped at
    teardown. (Test modules cannot import conftest under --import-mode=importlib.)"""

    def __init__(self) -> None:
        self.servers: list[BackgroundServer] = []

    def start(
        self, bundles: list[Path], *extra: str, env: dict[str, str] | None = None
    ) -> tuple[subprocess.Popen[bytes], str]:
        server = start_server(bundles, *extra, env=env)
        self.servers.append(server)
        return server.process, server.url

    def close(self) -> None:
        for server in self.servers:
            server.stop()


@pytest.fixture()
def servers() -> Iterator[ServerControl]:
    """A :class:`ServerControl`: ``servers.start(bundles, *args, env=...) -> (process, url)``."""
    control = ServerControl()
    try:
        yield control
    finally:
        control.close()

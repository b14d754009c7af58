"""Fixtures of the service tests: small bundles, an in-process client, a live server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the service tests need the [web] extra")

from hashlearn.serve.build import BuildConfig, build_bundle


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    bundles: list[Path], *extra: str, env: dict[str, str] | None = None, timeout: float = 60.0
) -> tuple[subprocess.Popen[bytes], str]:
    """``hashlearn serve`` in a subprocess on a free port; returns it once /health answers."""
    import urllib.request

    port = free_port()
    command = [
        sys.executable, "-m", "hashlearn", "serve", *map(str, bundles),
        "--port", str(port), *extra,
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"hashlearn serve exited with {process.returncode}: {stderr}")
        try:
            with urllib.request.urlopen(f"{url}/api/v1/health", timeout=2) as answer:
                if answer.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"hashlearn serve did not answer within {timeout} s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stderr is not None:
        process.stderr.close()


@pytest.fixture(scope="session")
def live_server(digits_bundle: Path, digits_lsh_bundle: Path) -> Iterator[str]:
    """A read-only ``hashlearn serve`` of both digits bundles; yields its base URL."""
    process, url = start_server([digits_bundle, digits_lsh_bundle])
    try:
        yield url
    finally:
        stop_server(process)


class ServerControl:
    """Start and stop ``hashlearn serve`` subprocesses; whatever is left runs is stopped at
    teardown. (Test modules cannot import conftest under --import-mode=importlib.)"""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(
        self, bundles: list[Path], *extra: str, env: dict[str, str] | None = None
    ) -> tuple[subprocess.Popen[bytes], str]:
        process, url = start_server(bundles, *extra, env=env)
        self.processes.append(process)
        return process, url

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        stop_server(process)

    def close(self) -> None:
        for process in self.processes:
            stop_server(process)


@pytest.fixture()
def servers() -> Iterator[ServerControl]:
    """A :class:`ServerControl`: ``servers.start(bundles, *args, env=...) -> (process, url)``."""
    control = ServerControl()
    try:
        yield control
    finally:
        control.close()

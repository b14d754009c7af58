"""``hashlearn serve``: load bundles and run the app under uvicorn."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from hashlearn.serve.bundle import load_bundle
from hashlearn.serve.engine import BundleService, Limits

__all__ = [
    "TOKEN_ENV",
    "BackgroundServer",
    "free_port",
    "load_services",
    "run_server",
    "start_background_server",
]

#: Environment variable holding the write token (rather than the command line, where
#: other users of the machine can read it).
TOKEN_ENV = "HASHLEARN_SERVE_TOKEN"
LOG_NAME = "adds.log"


def load_services(
    paths: Sequence[str | os.PathLike[str]],
    *,
    limits: Limits | None = None,
    writable: bool = False,
    verify: bool = True,
) -> dict[str, BundleService]:
    """One service per bundle folder, keyed by bundle name (names must differ).

    With ``writable``, each bundle's ``log/adds.log`` is opened (created when missing,
    locked against a second server) and replayed into its index.
    """
    services: dict[str, BundleService] = {}
    for path in paths:
        bundle = load_bundle(path, verify=verify)
        if bundle.name in services:
            raise ValueError(
                f"two bundles are named {bundle.name!r} ({services[bundle.name].bundle.path} "
                f"and {bundle.path}); bundle names must differ"
            )
        log = None
        if writable:
            from hashlearn.serve._log import AppendLog

            folder = Path(bundle.path) / "log"
            folder.mkdir(exist_ok=True)
            log = AppendLog(folder / LOG_NAME)
        services[bundle.name] = BundleService(bundle, limits, log=log)
    return services


def run_server(
    paths: Sequence[str | os.PathLike[str]],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    limits: Limits | None = None,
    writable: bool = False,
    token: str | None = None,
    verify: bool = True,
    log_level: str = "info",
) -> None:
    """Serve the bundles until interrupted (see ``hashlearn serve --help``)."""
    try:
        import uvicorn
    except ImportError as exc:
        raise ImportError(
            "the search service needs FastAPI and uvicorn: pip install 'hashlearn[web]'"
        ) from exc
    from hashlearn.serve.app import create_app

    if writable and not token:
        token = os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(24)
        if not os.environ.get(TOKEN_ENV):
            print(f"hashlearn serve: write token: {token}", file=sys.stderr, flush=True)
    services = load_services(paths, limits=limits, writable=writable, verify=verify)
    for name, service in services.items():
        summary = service.summary()
        print(
            f"hashlearn serve: {name}: {summary['label']}, {summary['n_bits']} bits, "
            f"{summary['n_items']:,} items{' (writable)' if writable else ''}",
            file=sys.stderr,
            flush=True,
        )
    app: Any = create_app(services, limits=limits, token=token if writable else None)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)


def free_port() -> int:
    """A TCP port of 127.0.0.1 that is free now (the system's choice)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class BackgroundServer:
    """A server running in a subprocess on 127.0.0.1 (:func:`start_background_server`).

    Attributes
    ----------
    process : subprocess.Popen
    url : str
        Its base URL, ``http://127.0.0.1:PORT``.
    port : int
    command : list of str
        The command that started it.
    log : file
        Its standard error: a file, not a pipe, so a server that logs a lot never stalls
        on a full pipe.
    """

    process: subprocess.Popen[bytes]
    url: str
    port: int
    command: list[str]
    log: IO[bytes]

    def stop(self) -> str:
        """Stop it (SIGTERM, SIGKILL after 10 s); returns the end of its standard error."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log.closed:
            return ""
        self.log.seek(0)
        text = self.log.read().decode(errors="replace")[-4000:]
        self.log.close()
        return text

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_background_server(
    bundles: Sequence[str | os.PathLike[str]],
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    command: Sequence[str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> BackgroundServer:
    """Start ``hashlearn serve BUNDLE... ARGS --port PORT`` on a free local port.

    Returns once ``GET /api/v1/health`` answers 200, for tests, notebooks, benchmarks and
    scripts that need a live server. Use it as a context manager (or call ``stop()``).

    Parameters
    ----------
    bundles : sequence of path
    *args : str
        More options of ``hashlearn serve`` (``"--writable"``, ``"--max-k", "50"``, ...).
    env : mapping, optional
        Added to this process's environment (``HASHLEARN_SERVE_TOKEN``, say).
    timeout : float, default 60
        Seconds to wait for the server to answer.
    command : sequence of str, optional
        What runs instead of ``python -m hashlearn serve`` (a program taking the same
        bundle arguments and ``--port``).
    cwd : path, optional
        The server's working folder.

    Raises
    ------
    RuntimeError
        The server exited, or did not answer within ``timeout``; the message ends with its
        standard error.
    """
    port = free_port()
    prefix = list(command) if command else [sys.executable, "-m", "hashlearn", "serve"]
    full = [*prefix, *map(str, bundles), *args, "--port", str(port)]
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by BackgroundServer.stop
    process = subprocess.Popen(
        full, cwd=cwd, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=log
    )
    server = BackgroundServer(process, f"http://127.0.0.1:{port}", port, full, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"hashlearn serve exited with status {process.returncode}: {server.stop()}"
            )
        try:
            with urllib.request.urlopen(f"{server.url}/api/v1/health", timeout=5) as answer:
                if answer.status == 200:
                    return server
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"hashlearn serve did not answer within {timeout:g} s: {server.stop()}")

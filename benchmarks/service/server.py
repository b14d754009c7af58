"""The bundle a load run serves, and the server subprocess that serves it.

The default bundle is built once with ``hashlearn build`` (ITQ, 32 bits, seed 0) into
``<cache>/bundles/<dataset>-itq-32`` (``<cache>``: :func:`hashlearn.datasets.get_cache_dir`)
and reused by later runs: CIFAR-10 GIST-512 when the data directory has CIFAR-10, else
scikit-learn's digits. The server is ``python -m hashlearn serve BUNDLE`` on a free port
of 127.0.0.1 (uvicorn, one worker, its default HTTP parser and event loop), or, to
compare uvicorn's options, :mod:`benchmarks.service.uvicorn_app`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ServerProcess", "cpu_seconds", "default_bundle", "start_server", "stop_server"]

ROOT = Path(__file__).resolve().parents[2]
METHOD = "itq"
BITS = 32
SEED = 0


def _env() -> dict[str, str]:
    """This process's environment with the checkout's ``src`` first on ``PYTHONPATH``, so
    the subprocesses run the code under test even when another copy is installed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    return env


def default_bundle(
    dataset: str,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    data_dir: str | None = None,
    rebuild: bool = False,
    say: bool = True,
) -> Path:
    """The bundle folder of ``dataset`` (``"auto"``, ``"cifar10-gist"`` or ``"digits"``),
    built with ``hashlearn build`` unless the cache already holds it.

    Raises
    ------
    RuntimeError
        When ``hashlearn build`` fails (its error output is in the message).
    """
    from hashlearn.datasets import get_cache_dir
    from hashlearn.datasets.catalog import choose_dataset

    if dataset == "auto":
        dataset, notice = choose_dataset(data_dir)
        if notice and say:
            print(f"service benchmark: {notice}", file=sys.stderr, flush=True)
    folder = Path(cache_dir) if cache_dir is not None else get_cache_dir() / "bundles"
    path = folder / f"{dataset}-{METHOD}-{BITS}"
    if (path / "manifest.json").is_file() and not rebuild:
        return path
    command = [
        sys.executable, "-m", "hashlearn", "build", "--dataset", dataset, "--method", METHOD,
        "--bits", str(BITS), "--seed", str(SEED), "--out", str(path), "--force",
    ]  # fmt: skip
    if data_dir is not None:
        command += ["--data-dir", data_dir]
    if say:
        print(f"service benchmark: building {path}", file=sys.stderr, flush=True)
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(command, env=_env(), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"hashlearn build failed ({done.returncode}): {done.stderr[-2000:]}")
    return path


@dataclass
class ServerProcess:
    """A running server: its process, base URL, port, the command that started it, and
    the file its stderr goes to (a file, not a pipe: a full pipe would stall a server
    that logs many errors)."""

    process: subprocess.Popen[bytes]
    url: str
    port: int
    command: list[str]
    stderr: Any


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    bundle: str | os.PathLike[str],
    *,
    http: str = "auto",
    loop: str = "auto",
    env: dict[str, str] | None = None,
    timeout: float = 180.0,
) -> ServerProcess:
    """Start a server of ``bundle`` and return once ``/api/v1/health`` answers 200.

    ``http`` and ``loop`` other than ``"auto"`` run :mod:`benchmarks.service.uvicorn_app`
    (the same app, uvicorn with those options) instead of ``hashlearn serve``. ``env``
    adds to (or overrides) the environment the server inherits.

    Raises
    ------
    RuntimeError
        When the server exits or does not answer within ``timeout`` seconds.
    """
    port = _free_port()
    if http == "auto" and loop == "auto":
        command = [sys.executable, "-m", "hashlearn", "serve", str(bundle), "--port", str(port)]
    else:
        command = [
            sys.executable, "-m", "benchmarks.service.uvicorn_app", str(bundle),
            "--port", str(port), "--http", http, "--loop", loop,
        ]  # fmt: skip
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop_server
    process = subprocess.Popen(
        command, cwd=ROOT, env={**_env(), **(env or {})}, stdout=subprocess.DEVNULL, stderr=log
    )
    server = ServerProcess(process, f"http://127.0.0.1:{port}", port, command, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = stop_server(server)
            raise RuntimeError(f"the server exited with status {process.returncode}: {stderr}")
        try:
            with urllib.request.urlopen(f"{server.url}/api/v1/health", timeout=5) as answer:
                if answer.status == 200:
                    return server
        except OSError:
            time.sleep(0.1)
    stop_server(server)
    raise RuntimeError(f"the server did not answer within {timeout:g} s: {' '.join(command)}")


def stop_server(server: ServerProcess) -> str:
    """Stop the server (SIGTERM, then SIGKILL after 10 s); returns the end of its stderr."""
    process = server.process
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if server.stderr.closed:  # stopped before
        return ""
    server.stderr.seek(0)
    stderr = server.stderr.read().decode(errors="replace")[-4000:]
    server.stderr.close()
    return str(stderr)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``; else None)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the command name: state is field 3 of stat(5), utime 14 and stime 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

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
import subprocess
import sys
from pathlib import Path

from hashlearn.serve.server import BackgroundServer, start_background_server

__all__ = ["cpu_seconds", "default_bundle", "start_server", "stop_server"]

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


def start_server(
    bundle: str | os.PathLike[str],
    *,
    http: str = "auto",
    loop: str = "auto",
    env: dict[str, str] | None = None,
    timeout: float = 180.0,
) -> BackgroundServer:
    """Start a server of ``bundle`` and return once ``/api/v1/health`` answers 200.

    ``http`` and ``loop`` other than ``"auto"`` run :mod:`benchmarks.service.uvicorn_app`
    (the same app, uvicorn with those options) instead of ``hashlearn serve``. ``env``
    adds to (or overrides) the environment the server inherits.

    Raises
    ------
    RuntimeError
        When the server exits or does not answer within ``timeout`` seconds.
    """
    command = None
    args: list[str] = []
    if http != "auto" or loop != "auto":
        command = [sys.executable, "-m", "benchmarks.service.uvicorn_app"]
        args = ["--http", http, "--loop", loop]
    return start_background_server(
        [bundle], *args, env={**_env(), **(env or {})}, timeout=timeout, command=command, cwd=ROOT
    )


def stop_server(server: BackgroundServer) -> str:
    """Stop the server (SIGTERM, then SIGKILL after 10 s); returns the end of its stderr."""
    return server.stop()


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``; else None)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the command name: state is field 3 of stat(5), utime 14 and stime 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

"""The run-folder lock: one run writes to a folder at a time.

Two runs appending to one ``records.jsonl`` interleave their records and leave a
``run.json`` that describes only one of them. A run therefore creates ``RUN_DIR/.lock``
atomically (``O_CREAT | O_EXCL``) holding its process id and host, and removes it when it
ends. A second run finds the file and stops with :class:`RunFolderLockedError` naming the
folder and the process. A lock left by a process that no longer runs (a run killed with
``kill -9``) is taken over with a warning.
"""

from __future__ import annotations

import json
import os
import socket
import warnings
from pathlib import Path

__all__ = ["LOCK_NAME", "RunFolderLockedError", "StaleLockWarning", "acquire", "release"]

LOCK_NAME = ".lock"


class RunFolderLockedError(RuntimeError):
    """Another live process holds the run folder's lock."""


class StaleLockWarning(UserWarning):
    """A lock left by a process that no longer runs was taken over."""


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    except OSError:
        return False
    return True


def _holder(path: Path) -> tuple[int | None, str | None]:
    """The process id and host written in a lock file (None when unreadable)."""
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
        pid, host = values["pid"], values["host"]
    except (OSError, ValueError, KeyError, TypeError):
        return None, None
    if isinstance(pid, bool) or not isinstance(pid, int) or not isinstance(host, str):
        return None, None
    return pid, host


def _create(path: Path) -> bool:
    """Create the lock file with this process's id; False when it exists already."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"pid": os.getpid(), "host": socket.gethostname()}, handle)
    return True


def acquire(folder: Path, *, stacklevel: int = 2) -> Path:
    """Take the lock of ``folder`` (which must exist); returns the lock file's path.

    ``stacklevel`` is passed to the stale-lock warning, counted as in :func:`warnings.warn`
    from this function.

    Raises
    ------
    RunFolderLockedError
        When a live process (or one on another host, which cannot be checked) holds it.
    """
    path = folder / LOCK_NAME
    for _ in range(3):  # a takeover may race with another run's takeover: try again
        if _create(path):
            return path
        pid, host = _holder(path)
        if pid is not None and (host != socket.gethostname() or _pid_alive(pid)):
            where = "" if host == socket.gethostname() else f" on host {host}"
            raise RunFolderLockedError(
                f"run folder {str(folder)!r} is in use by process {pid}{where} (lock file "
                f"{path}); wait for that run to finish or use another --out folder. If no "
                "such run exists, delete the lock file."
            )
        what = "an unreadable lock file" if pid is None else f"process {pid}, which no longer runs"
        warnings.warn(
            f"run folder {str(folder)!r} was locked by {what}; taking the lock over",
            StaleLockWarning,
            stacklevel=stacklevel,
        )
        path.unlink(missing_ok=True)
    raise RunFolderLockedError(f"could not take the lock of run folder {str(folder)!r}")


def release(path: Path) -> None:
    """Remove a lock file this process holds (a lock taken over by another run is kept)."""
    if _holder(path)[0] == os.getpid():
        path.unlink(missing_ok=True)

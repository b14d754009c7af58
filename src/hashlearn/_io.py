"""Atomic file writes and strict JSON: the one place results reach the disk.

Everything hashlearn writes (models, indexes, records, reports, caches) goes through
:func:`atomic_write`: the bytes go to a temporary file in the target's folder, are flushed
to disk, and the file is renamed into place, so a reader never sees a half-written file
and an interrupted write leaves the old file untouched. :func:`to_json` turns results
(numpy scalars and arrays, paths, NaN) into strict JSON values.
"""

from __future__ import annotations

import glob
import json
import math
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "append_jsonl",
    "atomic_folder",
    "atomic_write",
    "atomic_write_text",
    "dumps_json",
    "fsync_path",
    "to_json",
    "write_json",
    "write_jsonl",
]


#: A temporary file of an earlier save untouched for this long is from a killed save.
STALE_TEMPORARY_SECONDS = 60.0


def atomic_write(path: str | os.PathLike[str], write: Callable[[Any], None]) -> Path:
    """Call ``write(file_object)`` on a temporary file beside ``path``, then rename it into place.

    The temporary file (``.<name>.<random>.tmp`` in the target's folder) is removed if
    ``write`` raises (including KeyboardInterrupt), so the target is either the complete
    new file or untouched. When ``path`` is a symbolic link, the file it points to is
    replaced and the link kept. An existing target keeps its permissions; a new file gets
    the permissions a plain ``open()`` would give it. Temporary files of earlier saves of
    the same target that were killed (untouched for :data:`STALE_TEMPORARY_SECONDS`) are
    removed after a successful write. Returns ``path`` as given.
    """
    given = Path(path)
    target = Path(os.path.realpath(given)) if given.is_symlink() else given
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_current_umask()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates the file 0600; give it the target's or a plain open()'s permissions.
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, target)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
    _remove_stale_temporaries(target)
    return given


def fsync_path(path: str | os.PathLike[str]) -> None:
    """Flush a file, or a folder's entries, to disk, so a rename after it cannot overtake it.

    A file system that refuses to open or flush a folder is let be: the rename that
    follows is atomic all the same.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_folder(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Build a folder beside ``path`` and rename it into place when the block succeeds.

    Yields an empty staging folder (``.<name>.building-<random>`` in ``path``'s parent).
    When the block ends without an error, every file in it and the folder itself are
    fsynced and it replaces ``path``: an existing ``path`` is moved aside first, removed
    only after the rename, and put back if the rename fails, so ``path`` is always either
    the old folder or the complete new one. When the block raises (KeyboardInterrupt
    included), the staging folder is removed and ``path`` is untouched. Deciding whether an
    existing ``path`` may be replaced is the caller's business.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
    try:
        yield staging
        for item in staging.rglob("*"):
            if item.is_file():
                fsync_path(item)
        fsync_path(staging)
        _replace_folder(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _replace_folder(staging: Path, target: Path) -> None:
    retired = None
    if target.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.rmdir(retired)
        os.replace(target, retired)
    try:
        os.replace(staging, target)
    except BaseException:
        if retired is not None:
            os.replace(retired, target)
        raise
    fsync_path(target.parent)
    if retired is not None:
        # A process that mapped the old files keeps reading them: unlinking does not unmap.
        shutil.rmtree(retired, ignore_errors=True)


def _remove_stale_temporaries(target: Path) -> None:
    """Remove ``.<name>.*.tmp`` files beside ``target`` left by killed saves."""
    now = time.time()
    for candidate in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        try:
            if now - candidate.lstat().st_mtime >= STALE_TEMPORARY_SECONDS:
                candidate.unlink()
        except OSError:
            pass  # gone already, or not ours to remove: it is only clean-up


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    data = text.encode("utf-8")
    return atomic_write(path, lambda handle: handle.write(data))


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def to_json(value: Any, *, strict: bool = False) -> Any:
    """``value`` as strict JSON values, recursively.

    Mappings become dicts with string keys; tuples, lists and arrays become lists; numpy
    scalars become Python numbers; NaN and infinities become ``None``; paths become
    strings. Any other object becomes its ``repr`` (records keep a readable trace of
    estimator parameters), or raises ``TypeError`` when ``strict``.
    """
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, Mapping):
        return {str(key): to_json(item, strict=strict) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(item, strict=strict) for item in value]
    if isinstance(value, np.ndarray):
        return to_json(value.tolist(), strict=strict)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if strict:
        raise TypeError(f"not JSON-serialisable: {type(value).__name__}")
    return repr(value)


def dumps_json(value: Any, *, indent: int | None = 2, strict: bool = False) -> str:
    """Strict JSON text of :func:`to_json` ``(value)`` (never NaN or Infinity)."""
    return json.dumps(to_json(value, strict=strict), indent=indent, allow_nan=False)


def write_json(path: str | os.PathLike[str], value: Any, *, strict: bool = False) -> Path:
    """Write ``value`` as indented strict JSON (with a final newline), atomically."""
    return atomic_write_text(path, dumps_json(value, strict=strict) + "\n")


def write_jsonl(path: str | os.PathLike[str], rows: Iterable[Any]) -> Path:
    """Write one strict-JSON object per line, atomically."""
    return atomic_write_text(path, "".join(dumps_json(row, indent=None) + "\n" for row in rows))


def append_jsonl(path: str | os.PathLike[str], row: Any) -> None:
    """Append one strict-JSON line to ``path`` and flush it to disk before returning.

    A crash can at worst leave a partial last line, which the records readers skip.
    """
    line = dumps_json(row, indent=None) + "\n"
    with Path(path).open("a", encoding="utf-8") as handle:
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())

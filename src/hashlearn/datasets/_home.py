"""Where hashlearn reads data from and keeps what it derives, and file checksums.

Two folders matter:

* the **data directory** holds real datasets the user placed there (read only). It is
  the explicit ``data_dir`` argument (the CLI's ``--data-dir``), else the
  ``HASHLEARN_DATA`` environment variable, else there is none;
* the **cache directory** holds what hashlearn downloads or computes (decoded images,
  GIST features, downloaded archives, remembered checksums). It is the explicit
  ``cache_dir`` argument, else ``HASHLEARN_CACHE``, else ``$XDG_CACHE_HOME/hashlearn``,
  else ``~/.cache/hashlearn``.

Hashing a 20 MB archive on every load would be wasteful, so the SHA-256 (and MD5) of each
file read is remembered in ``<cache>/checksums.json``, keyed by the file's absolute path,
size and modification time: a file is hashed again only when one of those changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from hashlearn._io import atomic_write

__all__ = [
    "ENV_CACHE",
    "ENV_DATA",
    "ENV_OFFLINE",
    "FileDigests",
    "expected_sha256",
    "file_digests",
    "get_cache_dir",
    "get_data_dir",
    "is_offline",
    "read_sha256sums",
    "verify_against_sha256sums",
]

ENV_DATA = "HASHLEARN_DATA"
ENV_CACHE = "HASHLEARN_CACHE"
ENV_OFFLINE = "HASHLEARN_OFFLINE"

CHECKSUM_CACHE_NAME = "checksums.json"
SHA256SUMS_NAME = "SHA256SUMS"
_CHUNK = 1 << 20
_FALSE_WORDS = ("", "0", "false", "no", "off")


def get_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """Resolve the data directory: ``data_dir`` > ``$HASHLEARN_DATA`` > None.

    Parameters
    ----------
    data_dir : str or path-like, optional
        An explicit folder (the CLI's ``--data-dir``); ``~`` is expanded.

    Returns
    -------
    pathlib.Path or None
        The folder, or None when neither the argument nor the environment names one
        (an empty ``HASHLEARN_DATA`` counts as unset).

    Raises
    ------
    FileNotFoundError
        When the folder named does not exist.
    NotADirectoryError
        When it names a file.

    Examples
    --------
    >>> get_data_dir(None) is None or isinstance(get_data_dir(None), Path)
    True
    """
    if data_dir is not None:
        origin = "the data_dir argument (--data-dir)"
        path = Path(data_dir).expanduser()
    else:
        value = os.environ.get(ENV_DATA, "")
        if not value:
            return None
        origin = f"the {ENV_DATA} environment variable"
        path = Path(value).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"data directory {path} (from {origin}) does not exist; point --data-dir or "
            f"{ENV_DATA} at the folder holding the datasets (e.g. one containing "
            "cifar10/cifar10-jpeg.tar.gz), or leave both unset to use downloads and the cache"
        )
    if not path.is_dir():
        raise NotADirectoryError(
            f"data directory {path} (from {origin}) is a file, not a folder; point it at the "
            "folder holding the datasets"
        )
    return path


def get_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Resolve the cache directory (it is created only when something is written there).

    Order: ``cache_dir`` > ``$HASHLEARN_CACHE`` > ``$XDG_CACHE_HOME/hashlearn`` >
    ``~/.cache/hashlearn``.

    Parameters
    ----------
    cache_dir : str or path-like, optional
        An explicit folder; ``~`` is expanded.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    NotADirectoryError
        When the resolved path exists and is a file.
    """
    if cache_dir is not None:
        path = Path(cache_dir).expanduser()
    elif os.environ.get(ENV_CACHE):
        path = Path(os.environ[ENV_CACHE]).expanduser()
    elif os.environ.get("XDG_CACHE_HOME"):
        path = Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "hashlearn"
    else:
        path = Path.home() / ".cache" / "hashlearn"
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(
            f"cache directory {path} is a file, not a folder; set {ENV_CACHE} to a folder"
        )
    return path


def is_offline() -> bool:
    """Whether downloads are disabled: ``HASHLEARN_OFFLINE`` set to anything but 0/false/no/off.

    Loaders then behave as if ``download=False`` and the test suite never touches the
    network.
    """
    return os.environ.get(ENV_OFFLINE, "").strip().lower() not in _FALSE_WORDS


class FileDigests(NamedTuple):
    """Hex digests of one file."""

    sha256: str
    md5: str


def _hash_file(path: Path) -> FileDigests:
    sha256 = hashlib.sha256()
    md5 = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha256.update(chunk)
            md5.update(chunk)
    return FileDigests(sha256.hexdigest(), md5.hexdigest())


def _read_checksum_cache(cache_file: Path) -> dict[str, Any]:
    try:
        with open(cache_file, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        # Missing or damaged: it is only a memo, so start afresh.
        return {}
    return data if isinstance(data, dict) else {}


def file_digests(
    path: str | os.PathLike[str], *, cache_dir: str | os.PathLike[str] | None = None
) -> FileDigests:
    """SHA-256 and MD5 of a file, remembered in the cache by path, size and mtime.

    Parameters
    ----------
    path : str or path-like
        The file to hash.
    cache_dir : str or path-like, optional
        The cache directory (see :func:`get_cache_dir`); the memo lives in
        ``<cache>/checksums.json``. An unwritable cache only costs a re-hash next time.

    Returns
    -------
    FileDigests
        ``(sha256, md5)`` as lowercase hex strings.
    """
    source = Path(path).resolve()
    stat = source.stat()
    cache_file = get_cache_dir(cache_dir) / CHECKSUM_CACHE_NAME
    memo = _read_checksum_cache(cache_file)
    entry = memo.get(str(source))
    if (
        isinstance(entry, dict)
        and entry.get("size") == stat.st_size
        and entry.get("mtime_ns") == stat.st_mtime_ns
        and isinstance(entry.get("sha256"), str)
        and isinstance(entry.get("md5"), str)
    ):
        return FileDigests(entry["sha256"], entry["md5"])
    digests = _hash_file(source)
    # Re-read just before writing so entries added meanwhile by another process survive.
    memo = _read_checksum_cache(cache_file)
    memo[str(source)] = {
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "sha256": digests.sha256,
        "md5": digests.md5,
    }
    payload = json.dumps(memo, indent=1, sort_keys=True).encode()
    try:
        atomic_write(cache_file, lambda handle: handle.write(payload))
    except OSError as exc:
        warnings.warn(
            f"could not remember checksums in {cache_file} ({exc}); files will be hashed "
            f"again next time (set {ENV_CACHE} to a writable folder)",
            RuntimeWarning,
            stacklevel=2,
        )
    return digests


def read_sha256sums(data_dir: str | os.PathLike[str]) -> dict[str, str]:
    """Parse ``<data_dir>/SHA256SUMS`` (``sha256sum`` output) into ``{relative path: hex}``.

    Returns an empty dict when the file is absent.

    Raises
    ------
    ValueError
        When a line is not ``<64 hex digits> <space> [*]<relative path>``.
    """
    sums_path = Path(data_dir) / SHA256SUMS_NAME
    if not sums_path.is_file():
        return {}
    sums: dict[str, str] = {}
    with open(sums_path, encoding="utf-8", errors="replace") as handle:
        for line_number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if not line.strip() or line.startswith("#"):
                continue
            digest, _, name = line.partition(" ")
            name = name.lstrip(" *")
            if (
                len(digest) != 64
                or not name
                or any(c not in "0123456789abcdefABCDEF" for c in digest)
            ):
                raise ValueError(
                    f"{sums_path} line {line_number} is not '<sha256>  <path>': {line[:80]!r}; "
                    "restore the file from the data source or delete it to skip verification"
                )
            sums[name.removeprefix("./")] = digest.lower()
    return sums


def expected_sha256(
    path: str | os.PathLike[str], data_dir: str | os.PathLike[str] | None
) -> str | None:
    """The SHA-256 that ``<data_dir>/SHA256SUMS`` lists for ``path``, or None (nothing hashed)."""
    if data_dir is None:
        return None
    root = Path(data_dir)
    try:
        relative = Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None
    return read_sha256sums(root).get(relative)


def verify_against_sha256sums(
    path: str | os.PathLike[str],
    data_dir: str | os.PathLike[str] | None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
) -> FileDigests:
    """Hash ``path`` (once, see :func:`file_digests`) and check it against ``SHA256SUMS``.

    The check applies when ``data_dir`` holds a ``SHA256SUMS`` file listing ``path``
    relative to ``data_dir``; otherwise the digests are returned unchecked.

    Raises
    ------
    ValueError
        On a mismatch, naming the file, both hashes and what to do.
    """
    file_path = Path(path)
    digests = file_digests(file_path, cache_dir=cache_dir)
    expected = expected_sha256(file_path, data_dir)
    if expected is not None and expected != digests.sha256:
        assert data_dir is not None  # expected_sha256 returns None without a data dir
        sums = Path(data_dir) / SHA256SUMS_NAME
        raise ValueError(
            f"{file_path} is corrupt or not the expected file: its SHA-256 is {digests.sha256} "
            f"but {sums} lists {expected}; copy the file again from the data source (an "
            "interrupted copy or download is the usual cause)"
        )
    return digests


def save_cache(path: Path, write: Callable[[Any], None]) -> None:
    """Write a cache file atomically; a failure (disk full, read-only) only warns."""
    try:
        atomic_write(path, write)
    except OSError as exc:
        warnings.warn(
            f"could not write the cache file {path} ({exc}); the result will be recomputed "
            f"next time (set {ENV_CACHE} to a writable folder with free space)",
            RuntimeWarning,
            stacklevel=3,
        )


def warn_damaged_cache(path: Path, exc: BaseException) -> None:
    """Warn that an unreadable cache file is ignored (the caller rebuilds it)."""
    warnings.warn(
        f"ignoring the damaged cache file {path} ({exc}); it will be rebuilt",
        RuntimeWarning,
        stacklevel=3,
    )

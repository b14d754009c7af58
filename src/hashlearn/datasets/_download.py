"""Checksummed downloads: stream to a temporary file beside the target, verify, rename.

Nothing here runs unless a loader is allowed to download (``download=True`` and
``HASHLEARN_OFFLINE`` unset); :func:`fetch` itself refuses when ``HASHLEARN_OFFLINE`` is set.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO

from tqdm.auto import tqdm

from hashlearn._io import atomic_write
from hashlearn.datasets._home import ENV_DATA, ENV_OFFLINE, is_offline

__all__ = ["DownloadError", "fetch"]

_CHUNK = 1 << 20
_TIMEOUT_S = 60.0


class DownloadError(OSError):
    """A download was refused (offline mode) or failed (no network, HTTP error)."""


def fetch(
    url: str,
    dest: str | os.PathLike[str],
    sha256: str | None,
    *,
    md5: str | None = None,
    size: int | None = None,
    progress: bool = True,
) -> Path:
    """Download ``url`` to ``dest``, verifying its checksum before it appears there.

    The body is streamed to a temporary file in ``dest``'s folder while being hashed; only
    when every given check passes is it renamed to ``dest``, so ``dest`` is never a partial
    or unverified file (an interrupted download leaves nothing behind).

    Parameters
    ----------
    url : str
        ``http(s)://`` or ``file://`` URL.
    dest : str or path-like
        Where the file goes; its folder is created if needed. An existing file is replaced.
    sha256 : str or None
        Expected SHA-256 (hex). None skips the check; pass ``md5`` or ``size`` instead
        when the publisher gives only those, or validate the content after the call when
        no checksum is published at all.
    md5 : str, optional
        Expected MD5 (hex), for publishers that give only an MD5.
    size : int, optional
        Expected size in bytes.
    progress : bool, default True
        Show a tqdm progress bar.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    DownloadError
        When ``HASHLEARN_OFFLINE`` is set, or the URL cannot be reached; the message says
        which file to place where instead.
    ValueError
        When the download does not match ``sha256``, ``md5`` or ``size``; the temporary
        file is deleted and the message names both hashes.
    """
    target = Path(dest)
    place_hint = (
        f"download {url} on a machine with internet access and place it at {target} "
        f"(or in the folder {ENV_DATA} / --data-dir points at)"
    )
    if is_offline():
        raise DownloadError(f"downloads are disabled ({ENV_OFFLINE} is set); {place_hint}")

    def download(out: BinaryIO) -> None:
        # Runs inside atomic_write: any exception (a failed check, a broken connection,
        # KeyboardInterrupt) deletes the temporary file and leaves ``target`` untouched.
        sha = hashlib.sha256()
        digest_md5 = hashlib.md5(usedforsecurity=False)
        n_bytes = 0
        try:
            response = urllib.request.urlopen(url, timeout=_TIMEOUT_S)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DownloadError(f"could not download {url} ({reason}); {place_hint}") from exc
        with response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            with tqdm(
                total=total, unit="B", unit_scale=True, desc=target.name, disable=not progress
            ) as bar:
                while True:
                    try:
                        chunk = response.read(_CHUNK)
                    except OSError as exc:
                        raise DownloadError(
                            f"download of {url} broke off after {n_bytes} bytes ({exc}); "
                            f"{place_hint}"
                        ) from exc
                    if not chunk:
                        break
                    out.write(chunk)
                    sha.update(chunk)
                    digest_md5.update(chunk)
                    n_bytes += len(chunk)
                    bar.update(len(chunk))
        problems = []
        if size is not None and n_bytes != size:
            problems.append(f"size {n_bytes} bytes, expected {size}")
        if sha256 is not None and sha.hexdigest() != sha256.lower():
            problems.append(f"SHA-256 {sha.hexdigest()}, expected {sha256.lower()}")
        if md5 is not None and digest_md5.hexdigest() != md5.lower():
            problems.append(f"MD5 {digest_md5.hexdigest()}, expected {md5.lower()}")
        if problems:
            raise ValueError(
                f"the download of {url} for {target} is corrupt or not the expected file "
                f"({'; '.join(problems)}); it was deleted. Try again, or {place_hint}"
            )

    atomic_write(target, download)
    return target

"""Index folders: an index as plain ``.npy`` arrays that a process maps instead of reading.

Layout (format version 1)
-------------------------
A folder holds ``manifest.json`` and one ``<name>.npy`` per array:

* ``manifest.json``: ``format`` (``"hashlearn-index-folder"``), ``format_version``,
  ``library_version``, ``class``, ``params`` (constructor arguments), ``n_bits``,
  ``ntotal``, ``arrays`` (for each array its file, dtype and shape) and ``hasher`` (the
  file of the hasher saved beside the index by :func:`hashlearn.persistence.save`, or
  null);
* ``codes.npy``: the stored codes as the index keeps them in memory, ``uint8 (ntotal,
  width)`` with rows zero-padded to whole 64-bit words, so the kernels read the mapped
  file in place;
* the index's own structures (``bucket_keys.npy``, ``bucket_offsets.npy`` and
  ``bucket_ids.npy`` for :class:`~hashlearn.index.HashTableIndex`).

Every file is readable with numpy alone (``np.load``; no pickle). Writing is atomic: the
arrays go to a staging folder beside the target, are flushed to disk, the manifest is
written last, and only then is the staging folder renamed into place (an existing index
folder is moved aside first and removed after). A failed or interrupted write leaves the
previous folder as it was.

Opening with ``mmap=True`` maps the arrays read-only (``np.load(mmap_mode="r")``): it
costs milliseconds whatever the size, and the page cache serves the searches. Only the
shapes, dtypes and sizes are checked when a folder is opened, never the content (that
would read the whole index); :func:`hashlearn.load` of a saved file checks both.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from hashlearn._io import atomic_folder, dumps_json
from hashlearn._registry import resolve
from hashlearn.persistence import FileFormatError, load, save

__all__ = [
    "FOLDER_FORMAT",
    "FOLDER_FORMAT_VERSION",
    "MANIFEST",
    "check_target",
    "read_folder",
    "write_folder",
    "write_manifest",
]

FOLDER_FORMAT = "hashlearn-index-folder"
FOLDER_FORMAT_VERSION = 1
MANIFEST = "manifest.json"
HASHER_FILE = "hasher.hlz"


def _library_version() -> str:
    from hashlearn._version import __version__

    return __version__


def _write_array(path: Path, array: np.ndarray) -> None:
    with path.open("wb") as handle:
        np.save(handle, array, allow_pickle=False)


def _is_index_folder(path: Path) -> bool:
    return path.is_dir() and (path / MANIFEST).is_file()


def check_target(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path, if an index folder may be written there.

    Raises
    ------
    FileExistsError
        ``path`` exists and is not an index folder (nothing else is ever replaced).
    """
    target = Path(path)
    if target.exists() and not _is_index_folder(target):
        raise FileExistsError(
            f"{target} exists and is not a hashlearn index folder (no {MANIFEST}); "
            "choose another path or remove it yourself"
        )
    return target


def write_manifest(
    staging: Path,
    *,
    class_name: str,
    params: dict[str, Any],
    n_bits: int,
    ntotal: int,
    arrays: dict[str, np.ndarray],
    hasher: Any = None,
) -> None:
    """Write the hasher (when set) and, last, the manifest of the arrays already in ``staging``.

    A folder without a manifest is incomplete, whatever else it holds, so the manifest
    is the last file written.
    """
    if hasher is not None:
        save(hasher, staging / HASHER_FILE)
    entries = {
        name: {"file": f"{name}.npy", "dtype": array.dtype.str, "shape": list(array.shape)}
        for name, array in arrays.items()
    }
    manifest = {
        "format": FOLDER_FORMAT,
        "format_version": FOLDER_FORMAT_VERSION,
        "library_version": _library_version(),
        "class": class_name,
        "params": params,
        "n_bits": n_bits,
        "ntotal": ntotal,
        "arrays": entries,
        "hasher": HASHER_FILE if hasher is not None else None,
    }
    (staging / MANIFEST).write_text(dumps_json(manifest, strict=True) + "\n", encoding="utf-8")


def write_folder(
    path: str | os.PathLike[str],
    *,
    class_name: str,
    params: dict[str, Any],
    n_bits: int,
    ntotal: int,
    arrays: dict[str, np.ndarray],
    hasher: Any = None,
) -> Path:
    """Write an index folder atomically (see the module docstring); returns its path.

    Raises
    ------
    FileExistsError
        ``path`` exists and is not an index folder (nothing else is ever replaced).
    """
    target = check_target(path)
    with atomic_folder(target) as staging:
        for name, array in arrays.items():
            _write_array(staging / f"{name}.npy", array)
        write_manifest(
            staging,
            class_name=class_name,
            params=params,
            n_bits=n_bits,
            ntotal=ntotal,
            arrays=arrays,
            hasher=hasher,
        )
    return target


def _corrupt(folder: Path, problem: str) -> FileFormatError:
    return FileFormatError(
        f"{folder} is not a complete hashlearn index folder: {problem}; save the index again"
    )


def _read_manifest(folder: Path) -> dict[str, Any]:
    if not folder.is_dir():
        raise FileNotFoundError(f"index folder {folder} does not exist")
    try:
        text = (folder / MANIFEST).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _corrupt(folder, f"{MANIFEST} is missing") from None
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _corrupt(folder, f"{MANIFEST} is not JSON ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FOLDER_FORMAT:
        raise _corrupt(folder, f"{MANIFEST} does not say format {FOLDER_FORMAT!r}")
    version = manifest.get("format_version")
    if version != FOLDER_FORMAT_VERSION:
        raise FileFormatError(
            f"{folder} is an index folder of format_version={version!r}; this hashlearn "
            f"reads format_version={FOLDER_FORMAT_VERSION} (upgrade hashlearn, or save the "
            "index again with this version)"
        )
    for key, kind in (("class", str), ("params", dict), ("arrays", dict), ("ntotal", int)):
        if not isinstance(manifest.get(key), kind) or isinstance(manifest.get(key), bool):
            raise _corrupt(folder, f"{MANIFEST} has no valid {key!r}")
    return manifest


def _open_array(folder: Path, name: str, entry: Any, mmap: bool) -> np.ndarray:
    if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
        raise _corrupt(folder, f"the manifest entry of array {name!r} is malformed")
    file = folder / entry["file"]
    if file.parent != folder:
        raise _corrupt(folder, f"array {name!r} names a file outside the folder")
    try:
        array = np.load(file, mmap_mode="r" if mmap else None, allow_pickle=False)
    except FileNotFoundError:
        raise _corrupt(folder, f"{entry['file']} is missing") from None
    except (ValueError, OSError, EOFError) as exc:
        # A truncated file: numpy cannot map or read the length its header promises.
        raise _corrupt(folder, f"{entry['file']} cannot be read ({exc})") from exc
    if array.dtype.str != entry.get("dtype") or list(array.shape) != entry.get("shape"):
        raise _corrupt(
            folder,
            f"{entry['file']} holds {array.dtype.str} {list(array.shape)} but the manifest "
            f"says {entry.get('dtype')} {entry.get('shape')}",
        )
    return array


def read_folder(
    path: str | os.PathLike[str], *, mmap: bool = True
) -> tuple[type, dict[str, Any], dict[str, np.ndarray], Any]:
    """``(class, manifest, arrays, hasher)`` of an index folder, the arrays mapped when ``mmap``.

    Raises
    ------
    FileNotFoundError
        No folder at ``path``.
    FileFormatError
        The folder is incomplete (no manifest, a missing or truncated array), of another
        format version, or its arrays disagree with the manifest.
    """
    folder = Path(path)
    manifest = _read_manifest(folder)
    cls = resolve(manifest["class"])
    if cls is None or not getattr(cls, "_folder_support", False):
        raise _corrupt(folder, f"class {manifest['class']!r} cannot be opened from a folder")
    arrays = {
        name: _open_array(folder, name, entry, mmap) for name, entry in manifest["arrays"].items()
    }
    if "codes" not in arrays:
        raise _corrupt(folder, "the manifest lists no 'codes' array")
    codes = arrays["codes"]
    if codes.ndim != 2 or codes.shape[0] != manifest["ntotal"]:
        raise _corrupt(folder, f"ntotal={manifest['ntotal']} but codes.npy has shape {codes.shape}")
    return cls, manifest, arrays, read_hasher(folder, manifest, _corrupt)


def read_hasher(folder: Path, manifest: dict[str, Any], corrupt: Any) -> Any:
    """The hasher a folder's manifest names (None when it names none); ``corrupt(folder,
    problem)`` makes the error for a missing or misplaced hasher file."""
    if manifest.get("hasher") is None:
        return None
    hasher_file = folder / str(manifest["hasher"])
    if hasher_file.parent != folder or not hasher_file.is_file():
        raise corrupt(folder, f"the hasher file {manifest['hasher']!r} is missing")
    return load(hasher_file)

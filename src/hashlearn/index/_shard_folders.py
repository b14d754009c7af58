"""A :class:`~hashlearn.index.ShardedIndex` as a folder of index folders on shared storage.

Layout (format version 1)
-------------------------
A sharded folder holds ``manifest.json`` and one index folder per shard
(``shard-00000``, ``shard-00001``, ...; each the layout of :mod:`hashlearn.index._folder`):

* ``manifest.json``: ``format`` (``"hashlearn-sharded-index-folder"``),
  ``format_version``, ``library_version``, ``n_bits``, ``ntotal``, ``shard_class``,
  ``shards`` (for each shard, in global id order, its sub-folder, ``first_id`` and
  ``size``) and ``hasher`` (the file of the hasher saved beside them, or null).

Each shard folder is written by the worker that holds the shard (a task calling the shard's
:meth:`~hashlearn.index.BinaryIndex.save_folder`) and opened by a task that maps it on a
worker (:func:`~hashlearn.index.load_index_folder` with ``mmap=True``): no code passes
through the client either way. The client writes only the manifest, last. The whole
folder is built beside the target and renamed into place (:func:`hashlearn._io.atomic_folder`),
so a failed save leaves the previous folder as it was.

A shard opened from a folder is the result of a task with a path as its only input, so Dask
can recompute it: when the worker holding it dies, the scheduler reopens it on another
worker and the tasks that need it run again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hashlearn._io import atomic_folder, dumps_json
from hashlearn._registry import resolve
from hashlearn.index._base import BinaryIndex, load_index_folder
from hashlearn.index._folder import MANIFEST, read_hasher
from hashlearn.persistence import FileFormatError, save

if TYPE_CHECKING:
    from hashlearn.index._shards import _ShardStore

__all__ = [
    "SHARDED_FORMAT",
    "SHARDED_FORMAT_VERSION",
    "build_sharded_folder",
    "read_manifest",
    "write_sharded_folder",
]

SHARDED_FORMAT = "hashlearn-sharded-index-folder"
SHARDED_FORMAT_VERSION = 1
HASHER_FILE = "hasher.hlz"


def folder_classes() -> str:
    """The registered index classes that can be saved as folders, for error messages."""
    from hashlearn._registry import registered

    names = sorted(
        name
        for name, cls in registered().items()
        if isinstance(cls, type) and issubclass(cls, BinaryIndex) and cls._folder_support
    )
    return ", ".join(names) or "none"


# -- what runs on the workers --------------------------------------------------------------
def save_shard(shard: BinaryIndex, path: str) -> int:
    """Write one shard's index folder (on the worker holding it); returns its size."""
    shard.save_folder(path)
    return shard.ntotal


def open_shard(path: str, n_bits: int, size: int) -> BinaryIndex:
    """Map one shard's index folder on a worker, after checking it is the one expected."""
    shard = load_index_folder(path, mmap=True)
    if shard.n_bits != n_bits or shard.ntotal != size:
        raise FileFormatError(
            f"shard folder {path} holds {shard.ntotal} codes of {shard.n_bits} bits, but the "
            f"sharded index manifest says {size} codes of {n_bits} bits; save the index again"
        )
    return shard


# -- the client side -------------------------------------------------------------------------
def _library_version() -> str:
    from hashlearn._version import __version__

    return __version__


def _is_sharded_folder(path: Path) -> bool:
    """Whether ``path`` holds a sharded folder's manifest (only such a folder is replaced)."""
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("format") == SHARDED_FORMAT


def write_sharded_folder(
    store: _ShardStore, path: str | os.PathLike[str], shard_class: type, hasher: Any
) -> Path:
    """Save every shard where it lives and the manifest last, atomically; returns ``path``."""
    if not getattr(shard_class, "_folder_support", False):
        raise TypeError(
            f"shards of type {shard_class.__name__} cannot be saved as index folders; shard "
            f"types that can: {folder_classes()}. Use save(path) for a single file"
        )
    if hasher is not None and not callable(getattr(hasher, "_get_state", None)):
        raise TypeError(
            f"cannot save this ShardedIndex: its hasher {type(hasher).__name__} cannot be "
            "saved by hashlearn; set index.hasher = None to save the codes alone"
        )
    store.require_intact("save the shards")
    target = _check_sharded_target(path)
    with atomic_folder(target) as staging:
        entries = []
        futures = []
        for number, shard in enumerate(store.shards):
            name = f"shard-{number:05d}"
            entries.append({"folder": name, "first_id": shard.offset, "size": shard.size})
            futures.append(
                store.client.submit(save_shard, shard.future, str(staging / name), pure=False)
            )
        sizes = store.wait(futures)
        if list(sizes) != [shard.size for shard in store.shards]:
            raise RuntimeError(f"the shards wrote {sizes} codes, the index holds other sizes")
        _write_manifest(staging, store.n_bits, entries, shard_class, hasher)
    return Path(path)


def _write_manifest(
    staging: Path, n_bits: int, entries: list[dict[str, Any]], shard_class: type, hasher: Any
) -> None:
    if hasher is not None:
        save(hasher, staging / HASHER_FILE)
    manifest = {
        "format": SHARDED_FORMAT,
        "format_version": SHARDED_FORMAT_VERSION,
        "library_version": _library_version(),
        "n_bits": n_bits,
        "ntotal": sum(entry["size"] for entry in entries),
        "shard_class": shard_class.__name__,
        "shards": entries,
        "hasher": HASHER_FILE if hasher is not None else None,
    }
    # The manifest last: a folder without one is incomplete, whatever else it holds.
    (staging / MANIFEST).write_text(dumps_json(manifest, strict=True) + "\n", encoding="utf-8")


def _check_sharded_target(path: str | os.PathLike[str]) -> Path:
    # Workers resolve the path on their own: make it absolute so they all mean one place.
    target = Path(path).absolute()
    if target.exists() and not _is_sharded_folder(target):
        raise FileExistsError(
            f"{target} exists and is not a hashlearn sharded index folder (no {MANIFEST}); "
            "choose another path or remove it yourself"
        )
    return target


def build_shard(
    codes_path: str, start: int, stop: int, folder: str, n_bits: int, options: dict[str, Any]
) -> int:
    """Build one shard's index folder from rows ``start .. stop - 1`` of a mapped codes file
    (on a worker, a chunk at a time); returns its size."""
    from hashlearn.index.building import build_index_folder

    codes = np.load(codes_path, mmap_mode="r", allow_pickle=False)
    build_index_folder(folder, codes[start:stop], n_bits, **options)
    return stop - start


def build_sharded_folder(
    client: Any,
    wait: Any,
    path: str | os.PathLike[str],
    codes_path: str | os.PathLike[str],
    n_bits: int,
    n_shards: int,
    options: dict[str, Any],
    hasher: Any = None,
) -> Path:
    """Build a sharded folder from a codes file every worker can read, one task per shard
    (:func:`build_shard`), the manifest last, atomically; returns ``path``."""
    source = Path(codes_path).absolute()
    codes = np.load(source, mmap_mode="r", allow_pickle=False)
    if codes.dtype != np.uint8 or codes.ndim != 2:
        raise ValueError(f"{source} holds {codes.dtype} {codes.shape}, not packed uint8 codes")
    n = int(codes.shape[0])
    n_shards = max(1, min(n_shards, n))
    bounds = np.linspace(0, n, n_shards + 1).astype(np.int64)
    target = _check_sharded_target(path)
    workers = sorted(client.nthreads())
    with atomic_folder(target) as staging:
        entries, futures = [], []
        for number in range(n_shards):
            name = f"shard-{number:05d}"
            start, stop = int(bounds[number]), int(bounds[number + 1])
            entries.append({"folder": name, "first_id": start, "size": stop - start})
            placement = {"workers": [workers[number % len(workers)]]} if workers else {}
            futures.append(
                client.submit(
                    build_shard,
                    str(source),
                    start,
                    stop,
                    str(staging / name),
                    n_bits,
                    options,
                    pure=False,
                    allow_other_workers=True,
                    **placement,
                )
            )
        wait(futures)
        shard_class: type = options["index_cls"]
        _write_manifest(staging, n_bits, entries, shard_class, hasher)
    return Path(path)


def _corrupt(folder: Path, problem: str) -> FileFormatError:
    return FileFormatError(
        f"{folder} is not a complete hashlearn sharded index folder: {problem}; save the "
        "index again"
    )


def _check_entries(folder: Path, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    entries = manifest["shards"]
    expected_first = 0
    for number, entry in enumerate(entries):
        valid = (
            isinstance(entry, dict)
            and isinstance(entry.get("folder"), str)
            and all(
                isinstance(entry.get(key), int) and not isinstance(entry.get(key), bool)
                for key in ("first_id", "size")
            )
        )
        if not valid or entry["size"] < 1 or entry["first_id"] != expected_first:
            raise _corrupt(folder, f"the manifest entry of shard {number} is malformed: {entry!r}")
        if (folder / entry["folder"]).parent != folder:
            raise _corrupt(folder, f"shard {number} names a folder outside {folder}")
        if not (folder / entry["folder"] / MANIFEST).is_file():
            raise _corrupt(
                folder,
                f"the folder of shard {number} ({entry['folder']}) is missing or incomplete",
            )
        expected_first += entry["size"]
    if expected_first != manifest["ntotal"]:
        raise _corrupt(folder, f"ntotal={manifest['ntotal']} but the shards hold {expected_first}")
    return entries


def read_manifest(path: str | os.PathLike[str]) -> tuple[dict[str, Any], type, Any]:
    """``(manifest, shard class, hasher)`` of a sharded folder; reads no shard.

    Raises
    ------
    FileNotFoundError
        No folder at ``path``.
    FileFormatError
        No or a malformed manifest, another format version, a missing shard folder, or
        a shard class that cannot be opened from folders.
    """
    folder = Path(path).absolute()
    if not folder.is_dir():
        raise FileNotFoundError(f"sharded index folder {folder} does not exist")
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _corrupt(folder, f"{MANIFEST} is missing") from None
    except json.JSONDecodeError as exc:
        raise _corrupt(folder, f"{MANIFEST} is not JSON ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != SHARDED_FORMAT:
        raise _corrupt(folder, f"{MANIFEST} does not say format {SHARDED_FORMAT!r}")
    if manifest.get("format_version") != SHARDED_FORMAT_VERSION:
        raise FileFormatError(
            f"{folder} is a sharded index folder of format_version="
            f"{manifest.get('format_version')!r}; this hashlearn reads format_version="
            f"{SHARDED_FORMAT_VERSION} (upgrade hashlearn, or save the index again)"
        )
    for key, kind in (("n_bits", int), ("ntotal", int), ("shard_class", str), ("shards", list)):
        if not isinstance(manifest.get(key), kind) or isinstance(manifest.get(key), bool):
            raise _corrupt(folder, f"{MANIFEST} has no valid {key!r}")
    cls = resolve(manifest["shard_class"])
    if cls is None or not getattr(cls, "_folder_support", False):
        raise _corrupt(
            folder,
            f"shard class {manifest['shard_class']!r} cannot be opened from folders "
            f"(those that can: {folder_classes()})",
        )
    _check_entries(folder, manifest)
    return manifest, cls, read_hasher(folder, manifest, _corrupt)


def open_shards(store: _ShardStore, path: str | os.PathLike[str], manifest: dict[str, Any]) -> None:
    """One task per shard maps its folder on a worker (spread round-robin); waits for them."""
    folder = Path(path).absolute()
    workers = sorted(store.client.nthreads())
    futures = []
    for number, entry in enumerate(manifest["shards"]):
        placement = {"workers": [workers[number % len(workers)]]} if workers else {}
        futures.append(
            store.client.submit(
                open_shard,
                str(folder / entry["folder"]),
                store.n_bits,
                entry["size"],
                pure=False,
                allow_other_workers=True,
                **placement,
            )
        )
    # Wait before keeping them: a shard folder that cannot be opened fails the whole open.
    store.wait(futures, gather=False)
    entries = manifest["shards"]
    store.append_shards(
        futures,
        [entry["size"] for entry in entries],
        folders=[str(folder / entry["folder"]) for entry in entries],
    )

"""Saving and loading fitted hashers and indexes without pickle.

File format (version 1)
-----------------------
A hashlearn file is a ZIP archive (stored, not compressed) holding:

* ``hashlearn.json``: UTF-8 JSON with ``format`` (always ``"hashlearn"``),
  ``format_version`` (int), ``library_version``, ``kind`` (``"hasher"`` or ``"index"``),
  ``class`` (the class name), ``params`` (constructor arguments, JSON values only) and
  ``attributes`` (other JSON-serialisable fitted state);
* one ``<name>.npy`` member per array (numpy's ``.npy`` format, no object arrays).

It can be read with nothing but the standard library and numpy: ``np.load(path)``
returns the arrays (``allow_pickle`` stays False) and
``json.loads(zipfile.ZipFile(path).read("hashlearn.json"))`` the metadata. Nested
objects (the hasher stored beside an index) are saved under a name prefix, with their
own metadata in ``attributes``.

Files are written to a temporary file in the target folder and renamed into place, so
an interrupted save never leaves a half-written file.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from hashlearn._io import atomic_write
from hashlearn._registry import registered, resolve

FORMAT_NAME = "hashlearn"
FORMAT_VERSION = 1
META_NAME = "hashlearn.json"

__all__ = ["FORMAT_VERSION", "load", "read_file", "save", "write_file"]


class Persistable(Protocol):
    """What an object implements to be saved: its state as JSON values plus arrays."""

    def _get_state(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, np.ndarray]]: ...

    @classmethod
    def _from_state(
        cls, params: dict[str, Any], attributes: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> Any: ...


def _library_version() -> str:
    from hashlearn._version import __version__

    return __version__


def write_file(
    path: str | os.PathLike[str],
    *,
    kind: str,
    class_name: str,
    params: dict[str, Any],
    attributes: dict[str, Any],
    arrays: dict[str, np.ndarray],
) -> Path:
    """Write one hashlearn file (see the module docstring for the layout)."""
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "library_version": _library_version(),
        "kind": kind,
        "class": class_name,
        "params": params,
        "attributes": attributes,
        "arrays": sorted(arrays),
    }
    try:
        meta_bytes = json.dumps(meta, indent=2, sort_keys=True, allow_nan=True).encode()
    except TypeError as exc:
        raise TypeError(
            f"cannot save {class_name}: a parameter is not JSON-serialisable ({exc})"
        ) from exc

    def write(handle: Any) -> None:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr(META_NAME, meta_bytes)
            for name, value in arrays.items():
                array = np.asarray(value)
                if array.dtype == object:
                    raise TypeError(f"cannot save array {name!r}: object arrays need pickle")
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, array, allow_pickle=False)
                archive.writestr(f"{name}.npy", buffer.getvalue())

    return atomic_write(path, write)


def read_file(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a hashlearn file: ``(metadata, arrays)``.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        When the file is not a hashlearn file, is corrupt, or was written by an
        incompatible (newer) format version.
    """
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"no hashlearn file at {source}")
    try:
        with zipfile.ZipFile(source) as archive:
            names = archive.namelist()
            if META_NAME not in names:
                raise ValueError(f"{source} is not a hashlearn file (no {META_NAME} inside)")
            meta = json.loads(archive.read(META_NAME))
            arrays = {}
            for member in names:
                if member.endswith(".npy"):
                    with archive.open(member) as handle:
                        data = io.BytesIO(handle.read())
                    arrays[member[: -len(".npy")]] = np.lib.format.read_array(
                        data, allow_pickle=False
                    )
    except zipfile.BadZipFile as exc:
        raise ValueError(
            f"{source} is corrupt or not a hashlearn file ({exc}); save the model again"
        ) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{source} has unreadable metadata ({exc}); save the model again") from exc
    if meta.get("format") != FORMAT_NAME:
        raise ValueError(f"{source} is not a hashlearn file (format={meta.get('format')!r})")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{source} uses hashlearn file format version {version}, but this hashlearn "
            f"({_library_version()}) reads versions <= {FORMAT_VERSION}; upgrade hashlearn "
            f"(it was written by hashlearn {meta.get('library_version')})"
        )
    missing = set(meta.get("arrays", [])) - set(arrays)
    if missing:
        raise ValueError(f"{source} is incomplete: arrays {sorted(missing)} are missing")
    return meta, arrays


def save(obj: Persistable, path: str | os.PathLike[str]) -> Path:
    """Save a fitted hasher or a filled index to ``path`` (no pickle; see module docs)."""
    if registered().get(type(obj).__name__) is not type(obj):
        raise TypeError(f"{type(obj).__name__} objects cannot be saved by hashlearn")
    params, attributes, arrays = obj._get_state()
    kind = getattr(obj, "_persistence_kind", "object")
    return write_file(
        path,
        kind=kind,
        class_name=type(obj).__name__,
        params=params,
        attributes=attributes,
        arrays=arrays,
    )


def load(path: str | os.PathLike[str]) -> Any:
    """Load an object written by :func:`save`; its class is read from the file."""
    meta, arrays = read_file(path)
    return from_state(meta, arrays, source=str(path))


def from_state(meta: dict[str, Any], arrays: dict[str, np.ndarray], *, source: str = "") -> Any:
    """Rebuild an object from its metadata and arrays (used for nested objects too)."""
    class_name = meta.get("class")
    cls = resolve(str(class_name))
    if cls is None:
        raise ValueError(f"{source or 'file'} holds an unknown class {class_name!r}")
    return cls._from_state(meta.get("params", {}), meta.get("attributes", {}), arrays)  # type: ignore[attr-defined]


def nest_state(prefix: str, obj: Persistable) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """State of a nested object: its metadata and its arrays renamed under ``prefix``."""
    params, attributes, arrays = obj._get_state()
    meta = {"class": type(obj).__name__, "params": params, "attributes": attributes}
    return meta, {f"{prefix}/{name}": value for name, value in arrays.items()}


def unnest_state(prefix: str, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    """Inverse of :func:`nest_state`."""
    start = f"{prefix}/"
    own = {name[len(start) :]: value for name, value in arrays.items() if name.startswith(start)}
    return from_state(meta, own)

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

Loading is safe on crafted files: only the listed members are read, each ``.npy`` header
is checked against its member's size before allocating, JSON nesting and metadata size
are capped, every member's CRC-32 is verified, and every refusal is a
:class:`FileFormatError` naming the file (docs/file-format.md, "Loading untrusted files").
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import struct
import zipfile
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from hashlearn._io import atomic_write
from hashlearn._registry import registered, resolve

FORMAT_NAME = "hashlearn"
FORMAT_VERSION = 1
META_NAME = "hashlearn.json"

__all__ = ["FORMAT_VERSION", "FileFormatError", "load", "read_file", "save", "write_file"]


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


class FileFormatError(ValueError):
    """A file that is damaged, crafted or not a hashlearn file; the message names the file.

    Every refusal of :func:`load` other than a missing file (``FileNotFoundError``) is this
    error, whatever part of the file is wrong: the ZIP container, a member, the metadata or
    the saved state.
    """


#: Largest ``hashlearn.json`` member read (bytes); real metadata is a few kilobytes.
MAX_METADATA_BYTES = 4 * 1024 * 1024
#: Deepest nesting of JSON lists and objects accepted in the metadata.
MAX_JSON_DEPTH = 32
#: Array dtypes a file may hold: booleans, integers and floats, native or byte-swapped.
_ARRAY_KINDS = "biuf"
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    EOFError,
    NotImplementedError,
    RuntimeError,
    struct.error,
    OverflowError,
    UnicodeDecodeError,
    KeyError,
    ValueError,
)


def _json_depth(text: str) -> int:
    """Deepest nesting of lists and objects in ``text`` (strings skipped), without recursion."""
    depth = deepest = 0
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth -= 1
    return deepest


def _read_metadata(archive: zipfile.ZipFile, source: Path) -> dict[str, Any]:
    info = archive.getinfo(META_NAME)
    if info.file_size > MAX_METADATA_BYTES:
        raise FileFormatError(
            f"{source}: metadata {META_NAME} is {info.file_size} bytes, more than the "
            f"{MAX_METADATA_BYTES} allowed"
        )
    raw = archive.read(info)
    if len(raw) > MAX_METADATA_BYTES:
        raise FileFormatError(f"{source}: metadata {META_NAME} is larger than declared")
    try:
        text = raw.decode("utf-8")
        depth = _json_depth(text)
        if depth > MAX_JSON_DEPTH:
            raise FileFormatError(
                f"{source}: metadata nests {depth} levels deep, more than the "
                f"{MAX_JSON_DEPTH} allowed"
            )
        meta = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise FileFormatError(
            f"{source} has unreadable metadata ({exc}); save the model again"
        ) from exc
    if not isinstance(meta, dict):
        raise FileFormatError(
            f"{source}: metadata must be a JSON object, got {type(meta).__name__}"
        )
    return meta


def _check_header(meta: dict[str, Any], source: Path) -> list[str]:
    """Check format, version and the list of arrays; return the array names."""
    if meta.get("format") != FORMAT_NAME:
        raise FileFormatError(f"{source} is not a hashlearn file (format={meta.get('format')!r})")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise FileFormatError(
            f"{source}: format_version must be an int in 1..{FORMAT_VERSION}, got {version!r}"
        )
    if version > FORMAT_VERSION:
        raise FileFormatError(
            f"{source} uses hashlearn file format version {version}, but this hashlearn "
            f"({_library_version()}) reads versions <= {FORMAT_VERSION}; upgrade hashlearn "
            f"(it was written by hashlearn {meta.get('library_version')})"
        )
    if meta.get("kind") not in ("hasher", "index"):
        raise FileFormatError(
            f"{source}: kind must be 'hasher' or 'index', got {meta.get('kind')!r}"
        )
    if not isinstance(meta.get("class"), str):
        raise FileFormatError(f"{source}: class must be a string, got {meta.get('class')!r}")
    for key in ("params", "attributes"):
        if not isinstance(meta.get(key, {}), dict):
            raise FileFormatError(f"{source}: {key} must be a JSON object")
    names = meta.get("arrays", [])
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise FileFormatError(f"{source}: arrays must be a list of names, got {names!r}")
    if len(set(names)) != len(names):
        raise FileFormatError(f"{source}: arrays lists a name twice")
    return names


def _check_member(info: zipfile.ZipInfo, file_size: int, source: Path) -> None:
    """Refuse compressed, encrypted or out-of-file members before reading them."""
    if info.compress_type != zipfile.ZIP_STORED:
        raise FileFormatError(
            f"{source}: member {info.filename} is compressed (method {info.compress_type}); "
            "hashlearn files store members uncompressed"
        )
    if info.flag_bits & 0x1:
        raise FileFormatError(f"{source}: member {info.filename} is encrypted")
    if info.compress_size != info.file_size or info.header_offset + info.file_size > file_size:
        raise FileFormatError(
            f"{source}: member {info.filename} declares {info.file_size} bytes, more than "
            "the file holds"
        )


def _read_array(archive: zipfile.ZipFile, info: zipfile.ZipInfo, source: Path) -> np.ndarray:
    """Read one ``.npy`` member, checking its header against the member size first."""
    member = info.filename
    with archive.open(info) as handle:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
        else:
            raise FileFormatError(f"{source}: member {member} has .npy version {version}")
        if dtype.kind not in _ARRAY_KINDS or dtype.fields is not None or dtype.subdtype:
            raise FileFormatError(
                f"{source}: member {member} has dtype {dtype}; only booleans, integers "
                "and floats are allowed"
            )
        count = math.prod(shape)
        header_size = handle.tell()
        if header_size + count * dtype.itemsize != info.file_size:
            raise FileFormatError(
                f"{source}: member {member} declares shape {shape} of {dtype} "
                f"({count * dtype.itemsize} bytes) but holds "
                f"{info.file_size - header_size} bytes of data"
            )
        data = handle.read(count * dtype.itemsize)
        handle.read()  # reach the end so that zipfile checks the CRC-32
    if len(data) != count * dtype.itemsize:
        raise FileFormatError(f"{source}: member {member} is truncated")
    array = np.frombuffer(data, dtype=dtype).copy()
    return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)


def read_file(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a hashlearn file: ``(metadata, arrays)``.

    Only the members that the metadata lists are read. Each ``.npy`` header is checked
    (dtype, and shape against the member's size, which is bounded by the file's size)
    before anything is allocated, and every member's CRC-32 is verified.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    FileFormatError
        When the file is not a hashlearn file, is damaged or crafted, or was written by
        an incompatible (newer) format version; the message names the file.
    """
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"no hashlearn file at {source}")
    try:
        file_size = source.stat().st_size
        with zipfile.ZipFile(source) as archive:
            infos = {info.filename: info for info in archive.infolist()}
            if META_NAME not in infos:
                raise FileFormatError(f"{source} is not a hashlearn file (no {META_NAME} inside)")
            _check_member(infos[META_NAME], file_size, source)
            meta = _read_metadata(archive, source)
            names = _check_header(meta, source)
            missing = sorted(name for name in names if f"{name}.npy" not in infos)
            if missing:
                raise FileFormatError(f"{source} is incomplete: arrays {missing} are missing")
            arrays = {}
            for name in names:
                info = infos[f"{name}.npy"]
                _check_member(info, file_size, source)
                arrays[name] = _read_array(archive, info, source)
    except FileFormatError:
        raise
    except _ZIP_ERRORS as exc:
        raise FileFormatError(
            f"{source} is corrupt or not a hashlearn file ({type(exc).__name__}: {exc}); "
            "save the model again"
        ) from exc
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
    """Load an object written by :func:`save`; its class is read from the file.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    FileFormatError
        When the file is damaged, crafted, of a newer format or holds state its class
        refuses; the message names the file.
    """
    meta, arrays = read_file(path)
    return from_state(meta, arrays, source=str(path), kind=meta["kind"])


#: What a damaged state can raise inside a class's ``_from_state`` and its checks.
_STATE_ERRORS = (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError)


def from_state(
    meta: dict[str, Any],
    arrays: dict[str, np.ndarray],
    *,
    source: str = "",
    kind: str | None = None,
) -> Any:
    """Rebuild an object from its metadata and arrays (used for nested objects too).

    ``kind`` (``"hasher"`` or ``"index"``), when given, must be the class's kind. Any
    refusal is a :class:`FileFormatError` naming ``source``.
    """
    where = source or "file"
    if not isinstance(meta, dict):
        raise FileFormatError(f"{where}: nested metadata must be a JSON object")
    class_name = meta.get("class")
    cls = resolve(class_name) if isinstance(class_name, str) else None
    if cls is None:
        raise FileFormatError(f"{where} holds an unknown class {class_name!r}")
    class_kind = getattr(cls, "_persistence_kind", None)
    if kind is not None and class_kind != kind:
        raise FileFormatError(
            f"{where}: kind {kind!r} does not match class {class_name} (a {class_kind})"
        )
    params, attributes = meta.get("params", {}), meta.get("attributes", {})
    if not isinstance(params, dict) or not isinstance(attributes, dict):
        raise FileFormatError(f"{where}: params and attributes must be JSON objects")
    try:
        return cls._from_state(params, attributes, arrays)  # type: ignore[attr-defined]
    except _STATE_ERRORS as exc:  # FileFormatError of a nested object included
        raise FileFormatError(f"{where}: {exc}") from exc


def nest_state(prefix: str, obj: Persistable) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """State of a nested object: its metadata and its arrays renamed under ``prefix``."""
    params, attributes, arrays = obj._get_state()
    meta = {"class": type(obj).__name__, "params": params, "attributes": attributes}
    return meta, {f"{prefix}/{name}": value for name, value in arrays.items()}


def unnest_state(
    prefix: str, meta: dict[str, Any], arrays: dict[str, np.ndarray], *, kind: str | None = None
) -> Any:
    """Inverse of :func:`nest_state`; ``kind``, when given, must be the nested class's kind."""
    start = f"{prefix}/"
    own = {name[len(start) :]: value for name, value in arrays.items() if name.startswith(start)}
    return from_state(meta, own, source=f"nested {prefix!r}", kind=kind)

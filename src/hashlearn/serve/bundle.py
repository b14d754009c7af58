"""Bundles: a folder holding everything a search service needs for one fitted hasher.

A bundle is what ``hashlearn build`` writes and ``hashlearn serve`` reads::

    BUNDLE/
      manifest.json   format name and version, method, n_bits, sizes, the files' SHA-256
      index.hlz       the index of the database codes, with its fitted hasher inside
                      (hashlearn's file format: JSON and .npy in a ZIP, no pickle)
      vectors.npy     optional: the original float32 vectors, for exact re-ranking
      labels.npy      optional: int64 (n_items,) class labels, or uint8 (n_items, n_labels)
      images.npy      optional: uint8 (n_items, H, W) or (n_items, H, W, 3), what shows an image
      texts.json      optional: one snippet per item, what shows a document
      log/            created by ``hashlearn serve --writable``: the durable log of added items

The manifest is written last, so a folder without one is an interrupted build; the whole
bundle is first written to a hidden sibling folder and renamed into place, so a reader
never sees half a bundle. :func:`load_bundle` checks the format version, that every
listed file is present with its size and checksum, and that the arrays agree with each
other, and names what is wrong otherwise.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hashlearn._io import atomic_folder, dumps_json

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "Bundle",
    "BundleError",
    "load_bundle",
    "write_bundle",
]

BUNDLE_FORMAT = "hashlearn.bundle"
BUNDLE_VERSION = 1
MANIFEST = "manifest.json"
#: Largest manifest read (bytes): a real one is a few kilobytes.
MAX_MANIFEST_BYTES = 1024 * 1024
#: Longest snippet kept per text item (characters).
SNIPPET_CHARS = 600
_OPTIONAL_ARRAYS = ("vectors", "labels", "images")


class BundleError(ValueError):
    """A bundle folder that is missing, incomplete, corrupt or of another format version.

    The message names the folder, what is wrong and how to get a good one (rebuild it).
    """


@dataclass(eq=False)
class Bundle:
    """A loaded bundle: the index (with its hasher) and what shows each item.

    Attributes
    ----------
    path : Path
    name : str
        The bundle's name (its folder's name unless the manifest says otherwise).
    manifest : dict
        The manifest as read.
    index : BinaryIndex
        The database codes; ``index.hasher`` is the fitted hasher.
    vectors : ndarray of float32, shape (n_items, n_features), or None
        Memory-mapped; enables exact re-ranking.
    labels : ndarray or None
        int64 ``(n_items,)`` or uint8 ``(n_items, n_labels)`` (multi-label).
    class_names : tuple of str
    images : ndarray of uint8 or None
        Memory-mapped thumbnails, one per item.
    texts : list of str or None
        One snippet per item.
    featurizer : dict or None
        How a raw query (an uploaded image) becomes the hasher's input: ``{"kind": "gist" |
        "pixels", "image_shape": [H, W] or [H, W, 3]}``; None when the hasher takes vectors
        only.
    """

    path: Path
    name: str
    manifest: dict[str, Any]
    index: Any
    vectors: np.ndarray | None = None
    labels: np.ndarray | None = None
    class_names: tuple[str, ...] = ()
    images: np.ndarray | None = None
    texts: list[str] | None = None
    featurizer: dict[str, Any] | None = None

    @property
    def hasher(self) -> Any:
        """The fitted hasher that made the codes."""
        return self.index.hasher

    @property
    def n_bits(self) -> int:
        """Code length in bits."""
        return int(self.index.n_bits)

    @property
    def n_items(self) -> int:
        """Items stored when the bundle was built (the index may hold more after adds)."""
        return int(self.manifest["n_items"])

    @property
    def multilabel(self) -> bool:
        """Whether ``labels`` is a 0/1 indicator matrix."""
        return self.labels is not None and self.labels.ndim == 2


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_rows(name: str, value: Any, n_items: int) -> np.ndarray:
    array = np.asarray(value)
    if array.ndim == 0 or array.shape[0] != n_items:
        raise ValueError(f"{name} must have one row per item ({n_items}), got shape {array.shape}")
    return array


def _check_labels(labels: Any, n_items: int) -> np.ndarray:
    array = _check_rows("labels", labels, n_items)
    if array.ndim == 1 and array.dtype.kind in "iu":
        return array.astype(np.int64, copy=False)
    if array.ndim == 2 and array.dtype.kind in "biu" and np.isin(array, (0, 1)).all():
        return array.astype(np.uint8, copy=False)
    raise ValueError(
        "labels must be integer class labels of shape (n_items,) or a 0/1 indicator matrix "
        f"of shape (n_items, n_labels), got {array.dtype}{array.shape}"
    )


def _check_images(images: Any, n_items: int) -> np.ndarray:
    array = _check_rows("images", images, n_items)
    if (
        array.dtype != np.uint8
        or array.ndim not in (3, 4)
        or (array.ndim == 4 and array.shape[3] != 3)
    ):
        raise ValueError(
            "images must be uint8 of shape (n_items, H, W) or (n_items, H, W, 3), got "
            f"{array.dtype}{array.shape}"
        )
    return np.ascontiguousarray(array)


def _check_vectors(vectors: Any, n_items: int) -> np.ndarray:
    array = _check_rows("vectors", vectors, n_items)
    if array.ndim != 2 or array.dtype.kind not in "iuf":
        raise ValueError(f"vectors must be a 2-D numeric array, got {array.dtype}{array.shape}")
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        raise ValueError("vectors must be finite (no NaN or infinity)")
    return array


def _snippets(texts: Sequence[str], n_items: int) -> list[str]:
    if len(texts) != n_items:
        raise ValueError(f"texts must have one entry per item ({n_items}), got {len(texts)}")
    out = []
    for text in texts:
        text = " ".join(str(text).split())
        out.append(text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "\u2026")
    return out


def write_bundle(
    path: str | os.PathLike[str],
    index: Any,
    *,
    vectors: Any = None,
    labels: Any = None,
    class_names: Sequence[str] = (),
    images: Any = None,
    texts: Sequence[str] | None = None,
    featurizer: Mapping[str, Any] | None = None,
    description: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a bundle folder atomically; returns its path.

    Parameters
    ----------
    path : str or path-like
        The bundle folder to create.
    index : BinaryIndex
        Holding the database codes (ids ``0 .. n_items - 1``) and the fitted hasher
        (``index.hasher``, required: the service encodes queries with it).
    vectors : array-like of shape (n_items, n_features), optional
        The original (dense) vectors, stored as float32 for re-ranking.
    labels : array-like, optional
        Class labels ``(n_items,)`` or a 0/1 indicator matrix ``(n_items, n_labels)``.
    class_names : sequence of str, default ()
        Name of each class (or label).
    images : array-like of uint8, optional
        ``(n_items, H, W)`` or ``(n_items, H, W, 3)``: what the page shows for each item.
    texts : sequence of str, optional
        One text per item; whitespace is collapsed and each is cut to
        :data:`SNIPPET_CHARS` characters.
    featurizer : mapping, optional
        How an uploaded image becomes the hasher's input (see :class:`Bundle`).
    description : mapping, optional
        JSON-serialisable facts to keep in the manifest (method spec and label, dataset,
        seed, fit time, ...).
    overwrite : bool, default False
        Replace an existing bundle at ``path`` (it stays intact until the new one is
        complete). Without it, an existing ``path`` is an error.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is False.
    ValueError
        Arrays that do not match the index (one row per item) or have the wrong type.
    """
    target = Path(path)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; pass overwrite=True (--force) to replace it")
    if index.hasher is None:
        raise ValueError("the index must hold its fitted hasher (index.hasher) to be served")
    n_items = int(index.ntotal)
    if n_items == 0:
        raise ValueError("the index is empty: a bundle needs at least one item")
    arrays: dict[str, np.ndarray] = {}
    if vectors is not None:
        arrays["vectors"] = _check_vectors(vectors, n_items)
    if labels is not None:
        arrays["labels"] = _check_labels(labels, n_items)
    if images is not None:
        arrays["images"] = _check_images(images, n_items)
    snippets = None if texts is None else _snippets(texts, n_items)
    names = [str(name) for name in class_names]
    if "labels" in arrays and names:
        n_classes = (
            arrays["labels"].shape[1]
            if arrays["labels"].ndim == 2
            else int(arrays["labels"].max(initial=-1)) + 1
        )
        if len(names) < n_classes:
            raise ValueError(f"class_names has {len(names)} names but the labels need {n_classes}")
    with atomic_folder(target) as staging:
        index.save(staging / "index.hlz")
        for name, array in arrays.items():
            with (staging / f"{name}.npy").open("wb") as handle:
                np.save(handle, array, allow_pickle=False)
        if snippets is not None:
            (staging / "texts.json").write_text(json.dumps(snippets), encoding="utf-8")
        files = {
            item.name: {"bytes": item.stat().st_size, "sha256": _sha256(item)}
            for item in sorted(staging.iterdir())
        }
        manifest = {
            "format": BUNDLE_FORMAT,
            "format_version": BUNDLE_VERSION,
            "name": target.name,
            "n_items": n_items,
            "n_bits": int(index.n_bits),
            "index": type(index).__name__,
            "hasher": type(index.hasher).__name__,
            "class_names": names,
            "multilabel": "labels" in arrays and arrays["labels"].ndim == 2,
            "featurizer": None if featurizer is None else dict(featurizer),
            "description": dict(description or {}),
            "files": files,
        }
        (staging / MANIFEST).write_text(dumps_json(manifest, strict=True), encoding="utf-8")
    return target


def _fail(path: Path, what: str) -> BundleError:
    return BundleError(
        f"{path} is not a usable hashlearn bundle: {what}; rebuild it with hashlearn build"
    )


def _read_manifest(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise FileNotFoundError(f"no bundle at {path}")
    if not path.is_dir():
        raise _fail(path, "it is not a folder")
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise _fail(path, f"{MANIFEST} is missing (an interrupted build?)")
    if manifest_path.stat().st_size > MAX_MANIFEST_BYTES:
        raise _fail(path, f"{MANIFEST} is larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise _fail(path, f"{MANIFEST} is not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise _fail(path, f"{MANIFEST} does not describe a {BUNDLE_FORMAT}")
    version = manifest.get("format_version")
    if version != BUNDLE_VERSION:
        raise _fail(
            path,
            f"format version {version!r}, this hashlearn reads version {BUNDLE_VERSION}",
        )
    for key, kind in (("n_items", int), ("n_bits", int), ("files", dict)):
        if not isinstance(manifest.get(key), kind) or isinstance(manifest.get(key), bool):
            raise _fail(path, f"{MANIFEST} has no valid {key!r}")
    if manifest["n_items"] < 1 or manifest["n_bits"] < 1:
        raise _fail(path, "n_items and n_bits must be positive")
    return manifest


def _check_files(path: Path, files: dict[str, Any], verify: bool) -> None:
    if "index.hlz" not in files:
        raise _fail(path, f"{MANIFEST} lists no index.hlz")
    allowed = {"index.hlz", "texts.json", *(f"{name}.npy" for name in _OPTIONAL_ARRAYS)}
    for name, facts in files.items():
        if name not in allowed or not isinstance(facts, dict):
            raise _fail(path, f"{MANIFEST} lists an unexpected file {name!r}")
        member = path / name
        if not member.is_file():
            raise _fail(path, f"{name} is missing")
        size = member.stat().st_size
        if size != facts.get("bytes"):
            raise _fail(path, f"{name} has {size} bytes, the manifest says {facts.get('bytes')}")
        if verify and _sha256(member) != facts.get("sha256"):
            raise _fail(path, f"{name} does not match its SHA-256 in {MANIFEST} (corrupt)")


def _load_array(path: Path, name: str) -> np.ndarray:
    try:
        return np.load(path / f"{name}.npy", mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise _fail(path, f"{name}.npy cannot be read ({exc})") from exc


def load_bundle(path: str | os.PathLike[str], *, verify: bool = True) -> Bundle:
    """Open a bundle written by :func:`write_bundle` (or ``hashlearn build``).

    Parameters
    ----------
    path : str or path-like
    verify : bool, default True
        Check every file's SHA-256 against the manifest (reads each file once; sizes are
        always checked).

    Raises
    ------
    FileNotFoundError
        No such folder.
    BundleError
        Anything else wrong: no manifest (an interrupted build), another format version,
        a missing, truncated or altered file, arrays that disagree with the index.
    """
    from hashlearn.index import BinaryIndex
    from hashlearn.persistence import FileFormatError, load

    folder = Path(path)
    manifest = _read_manifest(folder)
    files = manifest["files"]
    _check_files(folder, files, verify)
    try:
        index = load(folder / "index.hlz")
    except FileFormatError as exc:
        raise _fail(folder, f"index.hlz: {exc}") from exc
    if not isinstance(index, BinaryIndex) or index.hasher is None:
        raise _fail(folder, "index.hlz does not hold an index with its hasher")
    n_items = manifest["n_items"]
    if index.ntotal != n_items or index.n_bits != manifest["n_bits"]:
        raise _fail(
            folder,
            f"index.hlz holds {index.ntotal} codes of {index.n_bits} bits, the manifest "
            f"says {n_items} of {manifest['n_bits']}",
        )
    loaded: dict[str, np.ndarray] = {}
    for name in _OPTIONAL_ARRAYS:
        if f"{name}.npy" in files:
            loaded[name] = _load_array(folder, name)
            try:
                _check_rows(name, loaded[name], n_items)
            except ValueError as exc:
                raise _fail(folder, str(exc)) from exc
    texts = None
    if "texts.json" in files:
        try:
            texts = json.loads((folder / "texts.json").read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _fail(folder, f"texts.json is not valid JSON ({exc})") from exc
        if not isinstance(texts, list) or len(texts) != n_items:
            raise _fail(folder, f"texts.json must be a list of {n_items} strings")
        texts = [str(text) for text in texts]
    class_names = manifest.get("class_names") or []
    featurizer = manifest.get("featurizer")
    return Bundle(
        path=folder,
        name=str(manifest.get("name") or folder.name),
        manifest=manifest,
        index=index,
        vectors=loaded.get("vectors"),
        labels=loaded.get("labels"),
        class_names=tuple(str(name) for name in class_names),
        images=loaded.get("images"),
        texts=texts,
        featurizer=featurizer if isinstance(featurizer, dict) else None,
    )

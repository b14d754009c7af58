"""CIFAR-10 (Krizhevsky, 2009) in the official order, and its GIST-512 features.

Where the images come from, in this order:

1. the **JPEG layout** of the data directory: ``cifar10/cifar10-jpeg.tar.gz`` (members
   ``{train,test}/<class>/NNNN.jpg``) plus ``cifar10/cifar10_order.csv`` (columns
   ``split,orig_index,label,label_name,jpeg_path``), which maps every official index to
   its JPEG. The JPEGs are decoded straight from the archive, never extracted. They were
   re-encoded by their publisher (about 30.5 dB PSNR), so the pixels are close to, not
   equal to, the official ones;
2. the **official python archive** ``cifar-10-python.tar.gz``, in the data directory
   (``cifar10/`` or its root) or in the cache (``<cache>/cifar10/``);
3. a **download** of that archive from the official site into the cache, when allowed.

The official order is ``data_batch_1 .. data_batch_5`` (the 50,000 training images) then
``test_batch`` (10,000 test images); row ``i`` of every array returned here is official
index ``i``.

Cache layout (``<cache>`` from :func:`hashlearn.datasets.get_cache_dir`; ``<key>`` is the
first 16 hex digits of a SHA-256 over the kind of source and the SHA-256 of its files, so
different sources, e.g. JPEG versus official pixels, never share a cache entry)::

    <cache>/checksums.json                    remembered file hashes (path+size+mtime)
    <cache>/cifar10/cifar-10-python.tar.gz    the downloaded official archive
    <cache>/cifar10-images-<key>.npy          uint8 (n, 32, 32, 3) decoded images
    <cache>/cifar10-labels-<key>.npz          ``labels`` int64 (n,), ``n_train`` int64
    <cache>/cifar10-gist512-v<V>-<key>.npy    float32 (n, 512) GIST features (V: GIST_VERSION)

Every cache file is written to a temporary file in the same folder and renamed, so an
interrupted computation never leaves a half-written file. Delete any of them to rebuild it.
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import io
import os
import pickle
import posixpath
import tarfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np
from tqdm.auto import tqdm

from hashlearn.datasets._dataset import Dataset
from hashlearn.datasets._download import DownloadError, fetch
from hashlearn.datasets._home import (
    ENV_DATA,
    ENV_OFFLINE,
    get_cache_dir,
    get_data_dir,
    is_offline,
    save_cache,
    verify_against_sha256sums,
    warn_damaged_cache,
)

__all__ = [
    "CIFAR10_CLASSES",
    "CIFAR10_MD5",
    "CIFAR10_SHA256",
    "CIFAR10_URL",
    "Cifar10Arrays",
    "Cifar10Order",
    "find_cifar10_source",
    "load_cifar10",
    "load_cifar10_gist",
    "read_cifar10_jpeg",
    "read_cifar10_order",
    "read_cifar10_python",
]

CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
# The MD5 is the checksum the CIFAR-10 page publishes. The site publishes no SHA-256;
# this one is the value Keras and torchvision verify the same archive against.
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
CIFAR10_SIZE = 170498071

JPEG_ARCHIVE = "cifar10/cifar10-jpeg.tar.gz"
ORDER_CSV = "cifar10/cifar10_order.csv"
PYTHON_ARCHIVE = "cifar-10-python.tar.gz"
ORDER_COLUMNS = ("split", "orig_index", "label", "label_name", "jpeg_path")
IMAGE_SHAPE = (32, 32, 3)
GIST_DIM = 512
_PYTHON_BATCHES = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")


class Cifar10Order(NamedTuple):
    """The parsed order CSV: row ``i`` describes official index ``i``.

    Attributes
    ----------
    jpeg_paths : tuple of str, length n
        Archive member of each image.
    labels : ndarray of int64, shape (n,)
    n_train : int
        Number of training images (the first ``n_train`` official indices).
    """

    jpeg_paths: tuple[str, ...]
    labels: np.ndarray
    n_train: int


class Cifar10Arrays(NamedTuple):
    """Images and labels as read from a source file.

    Attributes
    ----------
    images : ndarray of uint8, shape (n, 32, 32, 3)
    labels : ndarray of int64, shape (n,)
    n_train : int
        Number of training images in the full dataset (the first ``n_train`` official
        indices); for a subset read with ``indices`` it still describes the full dataset.
    """

    images: np.ndarray
    labels: np.ndarray
    n_train: int


# --------------------------------------------------------------------------- readers


def read_cifar10_order(csv_path: str | os.PathLike[str]) -> Cifar10Order:
    """Read ``cifar10_order.csv``, the map from official index to JPEG member.

    Each row is ``split,orig_index,label,label_name,jpeg_path``: ``split`` is ``train``
    or ``test``, ``orig_index`` the index within that split's official order (so the
    official index is ``orig_index`` for training rows and ``n_train + orig_index`` for
    test rows), ``label`` 0..9 and ``label_name`` its CIFAR-10 class name.

    Parameters
    ----------
    csv_path : str or path-like

    Returns
    -------
    Cifar10Order

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        When the header is not exactly the five columns above, a row is malformed, a
        label and its name disagree, a JPEG is listed twice, or the ``orig_index`` values
        of a split are not exactly ``0 .. count - 1``.
    """
    path = Path(csv_path)
    fix = "copy it again from the data source (its checksum is listed in SHA256SUMS)"
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            rows = list(reader)
    except FileNotFoundError:
        raise FileNotFoundError(f"CIFAR-10 order file {path} does not exist") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{path} is not a readable CSV file ({exc}); {fix}") from exc
    if header is None or tuple(column.strip() for column in header) != ORDER_COLUMNS:
        raise ValueError(
            f"{path} has header {header!r}, expected {','.join(ORDER_COLUMNS)!r}; it is not "
            f"CIFAR-10's order file or it is damaged: {fix}"
        )
    split_index: dict[str, list[int]] = {"train": [], "test": []}
    split_rows: dict[str, list[tuple[str, int]]] = {"train": [], "test": []}
    for line_number, row in enumerate(rows, start=2):
        if not row:
            continue
        try:
            if len(row) != len(ORDER_COLUMNS):
                raise ValueError(f"{len(row)} fields instead of {len(ORDER_COLUMNS)}")
            split, orig_text, label_text, label_name, jpeg_path = (f.strip() for f in row)
            if split not in split_index:
                raise ValueError(f"split {split!r} is neither 'train' nor 'test'")
            orig_index, label = int(orig_text), int(label_text)
            if not 0 <= label < len(CIFAR10_CLASSES):
                raise ValueError(f"label {label} is outside 0..{len(CIFAR10_CLASSES) - 1}")
            if label_name != CIFAR10_CLASSES[label]:
                raise ValueError(
                    f"label {label} is {CIFAR10_CLASSES[label]!r} in CIFAR-10, not {label_name!r}"
                )
            if not jpeg_path:
                raise ValueError("jpeg_path is empty")
        except ValueError as exc:
            raise ValueError(f"{path} line {line_number} is malformed ({exc}); {fix}") from exc
        split_index[split].append(orig_index)
        split_rows[split].append((jpeg_path.removeprefix("./"), label))
    n_train, n_test = len(split_index["train"]), len(split_index["test"])
    if n_train + n_test == 0:
        raise ValueError(f"{path} lists no images; {fix}")
    n = n_train + n_test
    paths: list[str] = [""] * n
    labels = np.empty(n, dtype=np.int64)
    for split, offset in (("train", 0), ("test", n_train)):
        orig = np.asarray(split_index[split], dtype=np.int64)
        if not np.array_equal(np.sort(orig), np.arange(orig.size)):
            raise ValueError(
                f"{path}: the orig_index values of split {split!r} are not exactly "
                f"0..{orig.size - 1} (duplicates or gaps); {fix}"
            )
        for position, (jpeg_path, label) in zip(orig + offset, split_rows[split], strict=True):
            paths[position] = jpeg_path
            labels[position] = label
    if len(set(paths)) != n:
        raise ValueError(f"{path} lists the same JPEG for two different images; {fix}")
    return Cifar10Order(tuple(paths), labels, n_train)


def _decode_jpeg(data: bytes, member: str, archive: Path) -> np.ndarray:
    """Decode one archive member to uint8 (32, 32, 3), or raise ValueError naming it."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=("JPEG",)) as image:
            rgb = image if image.mode == "RGB" else image.convert("RGB")
            array = np.asarray(rgb)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ValueError(
            f"{archive}: member {member} is not a readable JPEG ({exc}); the archive is "
            "damaged: copy it again from the data source"
        ) from exc
    if array.shape != IMAGE_SHAPE:
        raise ValueError(
            f"{archive}: member {member} has shape {array.shape}, expected {IMAGE_SHAPE}; "
            "this is not the CIFAR-10 JPEG archive"
        )
    return array


def _check_indices(indices: Any, n: int) -> np.ndarray:
    selection = np.asarray(indices)
    if selection.ndim != 1 or not (
        selection.size == 0 or np.issubdtype(selection.dtype, np.integer)
    ):
        raise TypeError(
            f"indices must be a 1-D sequence of ints, got shape {selection.shape} "
            f"and dtype {selection.dtype}"
        )
    selection = selection.astype(np.int64)
    if selection.size and (selection.min() < 0 or selection.max() >= n):
        raise ValueError(
            f"indices must lie in [0, {n - 1}], got values from {selection.min()} "
            f"to {selection.max()}"
        )
    return selection


def read_cifar10_jpeg(
    archive: str | os.PathLike[str],
    order_csv: str | os.PathLike[str],
    indices: Sequence[int] | np.ndarray | None = None,
    *,
    progress: bool = False,
) -> Cifar10Arrays:
    """Decode CIFAR-10 JPEGs straight from the ``.tar.gz``, placed by official index.

    The archive is streamed once (nothing is extracted to disk) and each member listed
    in ``order_csv`` is decoded with Pillow into its official position. Decoding all
    60,000 images takes several seconds; :func:`load_cifar10` caches the result.

    Parameters
    ----------
    archive : str or path-like
        ``cifar10-jpeg.tar.gz``.
    order_csv : str or path-like
        ``cifar10_order.csv`` (see :func:`read_cifar10_order`).
    indices : sequence of int, optional
        Official indices to decode, in the order wanted (all images when None). Reading
        stops as soon as the last one is found.
    progress : bool, default False
        Show a tqdm progress bar.

    Returns
    -------
    Cifar10Arrays
        ``images[i]`` and ``labels[i]`` are official index ``indices[i]`` (or ``i``).

    Raises
    ------
    FileNotFoundError
        When either file does not exist.
    ValueError
        When the CSV is malformed, the archive is truncated or not a gzip tar, a listed
        JPEG is missing from the archive or cannot be decoded.

    Examples
    --------
    >>> arrays = read_cifar10_jpeg(  # doctest: +SKIP
    ...     "data/cifar10/cifar10-jpeg.tar.gz", "data/cifar10/cifar10_order.csv", indices=[0, 1]
    ... )
    >>> arrays.labels  # doctest: +SKIP
    array([6, 9])
    """
    archive_path = Path(archive)
    order = read_cifar10_order(order_csv)
    n = len(order.jpeg_paths)
    selection = np.arange(n) if indices is None else _check_indices(indices, n)
    if not archive_path.is_file():
        raise FileNotFoundError(f"CIFAR-10 JPEG archive {archive_path} does not exist")
    wanted: dict[str, list[int]] = {}
    for position, official in enumerate(selection.tolist()):
        wanted.setdefault(order.jpeg_paths[official], []).append(position)
    images = np.empty((selection.size, *IMAGE_SHAPE), dtype=np.uint8)
    try:
        with (
            tarfile.open(archive_path, mode="r|gz") as tar,
            tqdm(
                total=selection.size, desc="decoding CIFAR-10", unit="img", disable=not progress
            ) as bar,
        ):
            for member in tar:
                if not wanted:
                    break
                if not member.isfile():
                    continue
                slots = wanted.pop(member.name.removeprefix("./"), None)
                if slots is None:
                    continue
                handle = tar.extractfile(member)
                if handle is None:  # pragma: no cover - isfile() members always have data
                    continue
                images[slots] = _decode_jpeg(handle.read(), member.name, archive_path)
                bar.update(len(slots))
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise ValueError(
            f"{archive_path} is truncated or not a valid .tar.gz ({type(exc).__name__}: {exc}); "
            "copy it again from the data source (its checksum is listed in SHA256SUMS)"
        ) from exc
    if wanted:
        missing = sorted(wanted)
        raise ValueError(
            f"{archive_path} lacks {len(missing)} JPEG(s) listed in {Path(order_csv)} "
            f"(e.g. {', '.join(missing[:3])}); the archive is truncated or does not belong "
            "with that CSV: copy both again from the data source"
        )
    return Cifar10Arrays(images, order.labels[selection], order.n_train)


class _BatchUnpickler(pickle.Unpickler):
    """Unpickler for the official CIFAR-10 batches that refuses anything but numpy arrays.

    The official archive stores each batch as a Python 2 pickle of a dict of bytes keys,
    lists and one uint8 array: that is the upstream format, so it has to be read with
    pickle (``encoding='bytes'``). Plain ``pickle.load`` would execute whatever a tampered
    file asks for; this subclass only resolves the few numpy callables an array needs.
    """

    _ALLOWED = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"),
            ("numpy.core.numeric", "_frombuffer"),
            ("numpy._core.numeric", "_frombuffer"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            # Protocol-2 pickles written by Python 3 encode bytes objects through this.
            ("_codecs", "encode"),
        }
    )

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: not part of the CIFAR-10 batch format"
            )
        # numpy 2 moved numpy.core to numpy._core; resolve whichever this numpy has,
        # without touching the deprecated alias.
        private = module.replace("numpy.core", "numpy._core", 1)
        public = module.replace("numpy._core", "numpy.core", 1)
        for candidate in (private, public):
            try:
                return getattr(importlib.import_module(candidate), name)
            except (ImportError, AttributeError):
                continue
        return super().find_class(module, name)


def _read_batch(handle: IO[bytes], member: str, archive: Path) -> tuple[np.ndarray, np.ndarray]:
    fix = f"the archive is damaged: delete {archive} and download it again"
    try:
        # The upstream format: a Python 2 pickle, read with encoding="bytes".
        batch = _BatchUnpickler(handle, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"{archive}: {member} is not a CIFAR-10 batch ({exc}); {fix}") from exc
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise ValueError(f"{archive}: {member} lacks the b'data'/b'labels' entries; {fix}")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(
            f"{archive}: {member} data has dtype {data.dtype} and shape {data.shape}, "
            f"expected uint8 (n, 3072); {fix}"
        )
    if labels.shape != (data.shape[0],) or labels.min(initial=0) < 0 or labels.max(initial=0) > 9:
        raise ValueError(f"{archive}: {member} labels do not match its images; {fix}")
    # Rows are channel-major (1024 red, 1024 green, 1024 blue values); go to (n, 32, 32, 3).
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, labels


def read_cifar10_python(
    archive: str | os.PathLike[str], *, progress: bool = False
) -> Cifar10Arrays:
    """Read the official ``cifar-10-python.tar.gz`` (without extracting it).

    Parameters
    ----------
    archive : str or path-like
        The archive from https://www.cs.toronto.edu/~kriz/cifar.html.
    progress : bool, default False
        Show a tqdm progress bar over the six batches.

    Returns
    -------
    Cifar10Arrays
        Images in the official order: ``data_batch_1`` .. ``data_batch_5`` then
        ``test_batch``.

    Raises
    ------
    FileNotFoundError
        When the archive does not exist.
    ValueError
        When it is truncated, lacks a batch, or a batch is not in the CIFAR-10 format.
    """
    path = Path(archive)
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR-10 archive {path} does not exist")
    batches: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    try:
        with (
            tarfile.open(path, mode="r|gz") as tar,
            tqdm(total=len(_PYTHON_BATCHES), desc="reading CIFAR-10", disable=not progress) as bar,
        ):
            for member in tar:
                base = posixpath.basename(member.name)
                if not member.isfile() or base not in _PYTHON_BATCHES or base in batches:
                    continue
                handle = tar.extractfile(member)
                if handle is None:  # pragma: no cover - isfile() members always have data
                    continue
                batches[base] = _read_batch(handle, member.name, path)
                bar.update(1)
                if len(batches) == len(_PYTHON_BATCHES):
                    break
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise ValueError(
            f"{path} is truncated or not a valid .tar.gz ({type(exc).__name__}: {exc}); "
            "delete it and download it again"
        ) from exc
    missing = [name for name in _PYTHON_BATCHES if name not in batches]
    if missing:
        raise ValueError(
            f"{path} lacks the batch(es) {', '.join(missing)}; it is truncated or not the "
            "official CIFAR-10 python archive: delete it and download it again"
        )
    images = np.concatenate([batches[name][0] for name in _PYTHON_BATCHES])
    labels = np.concatenate([batches[name][1] for name in _PYTHON_BATCHES])
    n_train = sum(batches[name][1].size for name in _PYTHON_BATCHES[:-1])
    return Cifar10Arrays(np.ascontiguousarray(images), labels, int(n_train))


# --------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class _Source:
    kind: str  # "jpeg" or "python"
    files: tuple[Path, ...]
    description: str


def _python_candidates(data_dir: Path | None, cache_dir: Path) -> list[Path]:
    folders = [data_dir / "cifar10", data_dir] if data_dir is not None else []
    return [folder / PYTHON_ARCHIVE for folder in (*folders, cache_dir / "cifar10")]


def _local_source(data_dir: Path | None, cache_dir: Path) -> _Source | None:
    """The first CIFAR-10 source present on disk (no hashing), or None."""
    if data_dir is not None:
        archive, order = data_dir / JPEG_ARCHIVE, data_dir / ORDER_CSV
        if archive.is_file() and order.is_file():
            return _Source("jpeg", (archive, order), f"CIFAR-10 JPEG archive {archive}")
    for candidate in _python_candidates(data_dir, cache_dir):
        if candidate.is_file():
            return _Source("python", (candidate,), f"official CIFAR-10 archive {candidate}")
    return None


def _missing_message(data_dir: Path | None, cache_dir: Path, *, why: str) -> str:
    lines = ["CIFAR-10 was not found. Looked for:"]
    if data_dir is None:
        lines.append(f"  - no data directory is set (--data-dir / data_dir, or {ENV_DATA})")
    else:
        archive, order = data_dir / JPEG_ARCHIVE, data_dir / ORDER_CSV
        state = ""
        if archive.is_file() != order.is_file():
            present, absent = (archive, order) if archive.is_file() else (order, archive)
            state = f" (found {present.name} but not {absent.name})"
        lines.append(f"  - the JPEG layout: {archive} and {order}{state}")
    candidates = ", ".join(str(p) for p in _python_candidates(data_dir, cache_dir))
    lines.append(f"  - the official archive: {candidates}")
    lines.append(
        f"To get it: set {ENV_DATA} or --data-dir to a folder holding cifar10/cifar10-jpeg.tar.gz "
        f"and cifar10/cifar10_order.csv, or place {PYTHON_ARCHIVE} (from {CIFAR10_URL}) in "
        f"one of the places above, or allow the download (download=True, {ENV_OFFLINE} unset)."
    )
    lines.append(why)
    return "\n".join(lines)


def _obtain_source(
    data_dir: Path | None, cache_dir: Path, *, download: bool, progress: bool
) -> _Source:
    """A local source, or the official archive downloaded into the cache when allowed."""
    source = _local_source(data_dir, cache_dir)
    if source is not None:
        return source
    if not download:
        why = "Downloading was not allowed (download=False)."
        raise FileNotFoundError(_missing_message(data_dir, cache_dir, why=why))
    if is_offline():
        why = f"Downloading is disabled ({ENV_OFFLINE} is set)."
        raise FileNotFoundError(_missing_message(data_dir, cache_dir, why=why))
    dest = cache_dir / "cifar10" / PYTHON_ARCHIVE
    try:
        fetch(
            CIFAR10_URL,
            dest,
            CIFAR10_SHA256,
            md5=CIFAR10_MD5,
            size=CIFAR10_SIZE,
            progress=progress,
        )
    except DownloadError as exc:
        why = f"The download failed: {exc}"
        raise FileNotFoundError(_missing_message(data_dir, cache_dir, why=why)) from exc
    return _Source("python", (dest,), f"official CIFAR-10 archive {dest} (downloaded)")


def _source_key(source: _Source, data_dir: Path | None, cache_dir: Path) -> str:
    """Verify the source files (SHA256SUMS, official MD5) and derive the cache key."""
    digests = [verify_against_sha256sums(f, data_dir, cache_dir=cache_dir) for f in source.files]
    if source.kind == "python" and digests[0].md5 != CIFAR10_MD5:
        path = source.files[0]
        raise ValueError(
            f"{path} is not the official CIFAR-10 python archive: its MD5 is {digests[0].md5} "
            f"but the CIFAR-10 site publishes {CIFAR10_MD5}; delete it and download "
            f"{CIFAR10_URL} again"
        )
    text = "\n".join([source.kind, *(d.sha256 for d in digests)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- cache


def _cache_paths(cache_dir: Path, key: str) -> tuple[Path, Path, Path]:
    return (
        cache_dir / f"cifar10-images-{key}.npy",
        cache_dir / f"cifar10-labels-{key}.npz",
        cache_dir / f"cifar10-gist512-v{_gist_version()}-{key}.npy",
    )


def _gist_version() -> int:
    from hashlearn.features.gist import GIST_VERSION

    return GIST_VERSION


def _read_labels(path: Path) -> tuple[np.ndarray, int] | None:
    if not path.is_file():
        return None
    try:
        with np.load(path) as contents:
            labels = np.asarray(contents["labels"], dtype=np.int64)
            n_train = int(contents["n_train"])
    except (OSError, ValueError, KeyError, EOFError, zlib.error) as exc:
        warn_damaged_cache(path, exc)
        return None
    if labels.ndim != 1 or not 0 <= n_train <= labels.size:
        warn_damaged_cache(path, ValueError(f"labels shape {labels.shape}, n_train {n_train}"))
        return None
    return labels, n_train


def _read_array(path: Path, dtype: type, shape_tail: tuple[int, ...], n: int) -> np.ndarray | None:
    if not path.is_file():
        return None
    try:
        array = np.load(path)
    except (OSError, ValueError, EOFError) as exc:
        warn_damaged_cache(path, exc)
        return None
    if array.dtype != dtype or array.shape != (n, *shape_tail):
        expected = (n, *shape_tail)
        warn_damaged_cache(path, ValueError(f"{array.dtype}{array.shape}, expected {expected}"))
        return None
    return array


def _write_labels(path: Path, arrays: Cifar10Arrays) -> None:
    def write(handle: Any) -> None:
        np.savez(handle, labels=arrays.labels, n_train=np.int64(arrays.n_train))

    save_cache(path, write)


def _images(source: _Source, key: str, cache_dir: Path, progress: bool) -> Cifar10Arrays:
    """Decoded images from the cache, or decoded from the source and cached."""
    images_path, labels_path, _ = _cache_paths(cache_dir, key)
    cached_labels = _read_labels(labels_path)
    if cached_labels is not None:
        labels, n_train = cached_labels
        images = _read_array(images_path, np.uint8, IMAGE_SHAPE, labels.size)
        if images is not None:
            return Cifar10Arrays(images, labels, n_train)
    if source.kind == "jpeg":
        arrays = read_cifar10_jpeg(source.files[0], source.files[1], progress=progress)
    else:
        arrays = read_cifar10_python(source.files[0], progress=progress)
    _write_labels(labels_path, arrays)
    save_cache(images_path, lambda handle: np.save(handle, arrays.images))
    return arrays


def _newest_cached_gist(cache_dir: Path) -> tuple[Path, Path] | None:
    """The most recent ``cifar10-gist512-<key>.npy`` that has its labels file, if any."""
    if not cache_dir.is_dir():
        return None
    found = []
    prefix = f"cifar10-gist512-v{_gist_version()}-"
    for gist_path in cache_dir.glob(f"{prefix}*.npy"):
        key = gist_path.stem.removeprefix(prefix)
        labels_path = _cache_paths(cache_dir, key)[1]
        if labels_path.is_file():
            found.append((gist_path.stat().st_mtime, gist_path, labels_path))
    if not found:
        return None
    _, gist_path, labels_path = max(found)
    return gist_path, labels_path


def _gist_from_cache(gist_path: Path, labels_path: Path, origin: str) -> Dataset | None:
    cached_labels = _read_labels(labels_path)
    if cached_labels is None:
        return None
    labels, n_train = cached_labels
    features = _read_array(gist_path, np.float32, (GIST_DIM,), labels.size)
    if features is None:
        return None
    return Dataset(
        name="cifar10-gist",
        X=features,
        y=labels,
        class_names=CIFAR10_CLASSES,
        source=f"GIST-512 features of {origin}, cached in {gist_path}",
        n_train=n_train,
    )


# --------------------------------------------------------------------------- loaders


def find_cifar10_source(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
) -> str | None:
    """Say whether CIFAR-10 can be loaded without a download, and from what.

    Checks, without hashing or decoding anything: the JPEG layout of the data directory,
    the official archive (data directory or cache), then cached GIST-512 features.

    Parameters
    ----------
    data_dir : str or path-like, optional
        See :func:`hashlearn.datasets.get_data_dir` (``$HASHLEARN_DATA`` when None).
    cache_dir : str or path-like, optional
        See :func:`hashlearn.datasets.get_cache_dir`.

    Returns
    -------
    str or None
        A description of the source found, or None (the CLI then falls back to digits).

    Raises
    ------
    FileNotFoundError
        When an explicitly named data directory does not exist.
    """
    data = get_data_dir(data_dir)
    cache = get_cache_dir(cache_dir)
    source = _local_source(data, cache)
    if source is not None:
        return source.description
    cached = _newest_cached_gist(cache)
    if cached is not None:
        return f"cached CIFAR-10 GIST-512 features {cached[0]}"
    return None


def load_cifar10(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    progress: bool = False,
) -> Dataset:
    """Load the 60,000 CIFAR-10 images in the official order.

    Sources are tried in the order given in the module docstring. The first load of a
    source decodes it (several seconds for the JPEG layout) and caches the uint8 array in
    the cache directory; later loads read the cache. Files listed in the data
    directory's ``SHA256SUMS`` are verified (once per file version, see
    :func:`hashlearn.datasets.file_digests`); the official archive must match the MD5
    published on the CIFAR-10 page.

    Parameters
    ----------
    data_dir : str or path-like, optional
        The data directory (``$HASHLEARN_DATA`` when None).
    cache_dir : str or path-like, optional
        The cache directory (``$HASHLEARN_CACHE``, else ``~/.cache/hashlearn``).
    download : bool, default True
        Download the official archive (163 MiB) into the cache when no local source
        exists. ``HASHLEARN_OFFLINE=1`` disables downloads whatever this says.
    progress : bool, default False
        Show tqdm progress bars (download, decoding).

    Returns
    -------
    Dataset
        ``images`` uint8 (60000, 32, 32, 3); ``X`` the same pixels flattened to
        (60000, 3072) (a view); ``y`` int64 (60000,); ``class_names`` the ten CIFAR-10
        classes; ``n_train`` = 50000 (rows ``0..49999`` are ``data_batch_1..5``, the rest
        ``test_batch``).

    Raises
    ------
    FileNotFoundError
        When no source exists and downloading is not allowed or fails; the message lists
        the paths looked at and how to provide the files.
    ValueError
        When a source file is corrupt: checksum mismatch against ``SHA256SUMS`` or the
        official MD5, truncated archive, missing JPEG member, malformed order CSV.

    References
    ----------
    .. [1] A. Krizhevsky, "Learning Multiple Layers of Features from Tiny Images", 2009.

    Examples
    --------
    >>> cifar = load_cifar10("/path/to/data", download=False)  # doctest: +SKIP
    >>> cifar.images.shape, cifar.n_train  # doctest: +SKIP
    ((60000, 32, 32, 3), 50000)
    """
    data = get_data_dir(data_dir)
    cache = get_cache_dir(cache_dir)
    source = _obtain_source(data, cache, download=download, progress=progress)
    key = _source_key(source, data, cache)
    arrays = _images(source, key, cache, progress)
    images = arrays.images
    return Dataset(
        name="cifar10",
        X=images.reshape(images.shape[0], -1),
        y=arrays.labels,
        class_names=CIFAR10_CLASSES,
        source=source.description,
        images=images,
        n_train=arrays.n_train,
    )


def load_cifar10_gist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    progress: bool = False,
    n_jobs: int | None = 1,
) -> Dataset:
    """CIFAR-10 as GIST-512 descriptors, computed once from the images and then cached.

    The features come from :func:`hashlearn.features.gist.gist_features` (grayscale,
    4 scales x 8 orientations, 4x4 grid) applied to the images of :func:`load_cifar10`,
    and are cached as ``<cache>/cifar10-gist512-v<V>-<key>.npy``, where ``<key>`` identifies
    the source files. The file is written atomically after the whole computation, so an
    interrupted run (Ctrl-C) leaves no cache file behind. When no image source is
    present, the most recent cached features are served.

    Parameters
    ----------
    data_dir, cache_dir, download, progress
        As for :func:`load_cifar10`.
    n_jobs : int or None, default 1
        Threads of the GIST computation (see
        :func:`hashlearn.features.gist.gist_features`); None leaves the thread pools as
        configured (by an enclosing :func:`hashlearn.features.gist.thread_limits`, say).

    Returns
    -------
    Dataset
        ``X`` float32 (60000, 512); ``y`` int64 (60000,); ``n_train`` = 50000;
        ``images`` None.

    Raises
    ------
    FileNotFoundError, ValueError
        As for :func:`load_cifar10`.

    Notes
    -----
    The cache file name carries both the source files' key and
    :data:`hashlearn.features.gist.GIST_VERSION`, so features computed by an older
    extractor are never served.

    Examples
    --------
    >>> gist = load_cifar10_gist(progress=True)  # doctest: +SKIP
    >>> gist.X.shape  # doctest: +SKIP
    (60000, 512)
    """
    from hashlearn.features.gist import check_n_jobs, gist_features

    check_n_jobs(n_jobs)
    data = get_data_dir(data_dir)
    cache = get_cache_dir(cache_dir)
    source = _local_source(data, cache)
    if source is None:
        cached = _newest_cached_gist(cache)
        if cached is not None:
            dataset = _gist_from_cache(*cached, origin="CIFAR-10 (source files not present)")
            if dataset is not None:
                return dataset
        source = _obtain_source(data, cache, download=download, progress=progress)
    key = _source_key(source, data, cache)
    _, labels_path, gist_path = _cache_paths(cache, key)
    dataset = _gist_from_cache(gist_path, labels_path, origin=source.description)
    if dataset is not None:
        return dataset
    arrays = _images(source, key, cache, progress)
    features = np.asarray(gist_features(arrays.images, progress=progress, n_jobs=n_jobs))
    n = arrays.images.shape[0]
    if features.shape != (n, GIST_DIM):
        raise ValueError(
            f"hashlearn.features.gist.gist_features returned shape {features.shape}, "
            f"expected ({n}, {GIST_DIM})"
        )
    features = np.ascontiguousarray(features, dtype=np.float32)
    if not np.isfinite(features).all():
        raise ValueError("hashlearn.features.gist.gist_features returned NaN or infinity")
    if not labels_path.is_file():
        _write_labels(labels_path, arrays)
    save_cache(gist_path, lambda handle: np.save(handle, features))
    return Dataset(
        name="cifar10-gist",
        X=features,
        y=arrays.labels,
        class_names=CIFAR10_CLASSES,
        source=f"GIST-512 features of {source.description}, cached in {gist_path}",
        n_train=arrays.n_train,
    )

"""MNIST (LeCun et al., 1998): 70,000 handwritten digits from the four IDX files.

Where the files come from, in this order:

1. the data directory: ``<data_dir>/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``
   (verified against ``<data_dir>/SHA256SUMS`` when it lists them);
2. the cache: ``<cache>/mnist/`` (the same four names);
3. a download of the missing files from the PyTorch mirror of the official files
   (:data:`MNIST_URL`) into ``<cache>/mnist/``, only with ``download=True`` and
   ``HASHLEARN_OFFLINE`` unset. Each download must match the MD5 that torchvision
   publishes for it before it is renamed into place.

Files in the cache must match a known digest: the official MD5, or the SHA-256 of the
re-compressed copy distributed with the project's shared data (same IDX content, different
gzip packaging, so different file hashes).

The IDX files are parsed here (no extra dependency): a 4-byte magic number
``0x00 0x00 <type> <ndim>`` (type ``0x08`` = unsigned byte), ``ndim`` big-endian uint32
dimensions, then the values in C order.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from hashlearn.datasets._dataset import Dataset
from hashlearn.datasets._download import DownloadError, fetch
from hashlearn.datasets._home import (
    ENV_DATA,
    ENV_OFFLINE,
    file_digests,
    get_cache_dir,
    get_data_dir,
    is_offline,
    verify_against_sha256sums,
)

__all__ = ["MNIST_CLASSES", "MNIST_FILES", "MNIST_URL", "load_mnist", "read_idx"]

MNIST_CLASSES: tuple[str, ...] = tuple(str(digit) for digit in range(10))
MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
FOLDER = "mnist"
TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
IMAGE_SHAPE = (28, 28)

#: ``file name -> (official MD5, SHA-256 of the shared-data copy)``. The MD5s are the ones
#: torchvision verifies the mirror's files against; the SHA-256s are those listed in the
#: project's shared ``SHA256SUMS`` (``train-images`` there is re-gzipped, so it does not
#: match the official file byte for byte; the decoded pixels are the same).
MNIST_FILES: dict[str, tuple[str, str]] = {
    TRAIN_IMAGES: (
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "db8f937d487057fb14a9f0fbe97f0bc8d311ab41b750d41e1ff37c43b9e55e19",
    ),
    TRAIN_LABELS: (
        "d53e105ee54ea40749a09fcbcd1e9432",
        "ec02e7948609e5754d47881c09b8afdd8dfa60600b9e5388c8c54a67069ec772",
    ),
    TEST_IMAGES: (
        "9fb629c4189551a2d022fa330f9573f3",
        "167310007f03058885c7e95e6c0b19c20de5c7fd3031f4cbdadc9014a523d80b",
    ),
    TEST_LABELS: (
        "ec29112dd5afa0611ce80d1b7f02629c",
        "fc607395669ec21321ea83e4b82c0544b7e8e63ff5b34337c06bc0a17cc0da3c",
    ),
}
_IDX_UBYTE = 0x08


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one (optionally gzipped) IDX file of unsigned bytes.

    Parameters
    ----------
    path : str or path-like
        An ``.idx*-ubyte`` file, gzipped when its name ends in ``.gz``.

    Returns
    -------
    ndarray of uint8
        Shaped by the file's dimensions, e.g. (60000, 28, 28) for training images.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        When the gzip stream is truncated or damaged, the magic number is wrong, the type
        is not unsigned byte, or the payload is shorter or longer than the dimensions say.

    Examples
    --------
    >>> labels = read_idx("data/mnist/t10k-labels-idx1-ubyte.gz")  # doctest: +SKIP
    >>> labels.shape  # doctest: +SKIP
    (10000,)
    """
    file_path = Path(path)
    if not file_path.is_file():
        raise FileNotFoundError(f"IDX file {file_path} does not exist")
    fix = "delete it and copy or download it again"
    try:
        if file_path.name.endswith(".gz"):
            with gzip.open(file_path, "rb") as handle:
                raw = handle.read()
        else:
            raw = file_path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(
            f"{file_path} is truncated or not a valid gzip file ({type(exc).__name__}: {exc}); "
            f"{fix}"
        ) from exc
    if len(raw) < 4:
        raise ValueError(f"{file_path} holds {len(raw)} bytes, too few for an IDX header; {fix}")
    zero1, zero2, type_code, ndim = raw[:4]
    if zero1 != 0 or zero2 != 0 or ndim == 0:
        raise ValueError(
            f"{file_path} is not an IDX file: magic number {raw[:4].hex()} should be "
            f"0000<type><ndim>; {fix}"
        )
    if type_code != _IDX_UBYTE:
        raise ValueError(
            f"{file_path} stores IDX type 0x{type_code:02x}; only unsigned bytes (0x08) are "
            "supported, as in MNIST"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{file_path} is truncated inside its IDX header; {fix}")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(dims, dtype=np.int64))
    got = len(raw) - header
    if got != expected:
        state = "truncated" if got < expected else "longer than its header says"
        raise ValueError(
            f"{file_path} is {state}: dimensions {dims} need {expected} bytes of data, "
            f"found {got}; {fix}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def _read_split(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise ValueError(
            f"{images_path} holds an array of shape {images.shape}, expected (n, 28, 28); "
            "it is not an MNIST image file"
        )
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(
            f"{labels_path} holds {labels.shape} labels but {images_path} holds "
            f"{images.shape[0]} images; the files do not belong together"
        )
    if labels.size and labels.max() > 9:
        raise ValueError(f"{labels_path} holds label {labels.max()}, outside 0..9")
    return images, labels.astype(np.int64)


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in MNIST_FILES)


def _missing_message(data_dir: Path | None, cache_dir: Path, why: str) -> str:
    lines = ["MNIST was not found. Looked for the four files " + ", ".join(MNIST_FILES) + " in:"]
    if data_dir is None:
        lines.append(f"  - no data directory is set (data_dir / --data-dir, or {ENV_DATA})")
    for folder in ([data_dir / FOLDER] if data_dir is not None else []) + [cache_dir / FOLDER]:
        present = [name for name in MNIST_FILES if (folder / name).is_file()]
        note = f" (only {', '.join(present)} present)" if present else ""
        lines.append(f"  - {folder}{note}")
    lines.append(
        f"To get it: set {ENV_DATA} or --data-dir to a folder holding mnist/ with the four "
        f"files (from {MNIST_URL}), or allow the download (download=True, {ENV_OFFLINE} unset)."
    )
    lines.append(why)
    return "\n".join(lines)


def _check_known(path: Path, cache_dir: Path) -> None:
    md5, sha256 = MNIST_FILES[path.name]
    digests = file_digests(path, cache_dir=cache_dir)
    if digests.md5 != md5 and digests.sha256 != sha256:
        raise ValueError(
            f"{path} is not a known MNIST file: its MD5 is {digests.md5} (official: {md5}) and "
            f"its SHA-256 {digests.sha256}; delete it and download {MNIST_URL}{path.name} again"
        )


def load_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = False,
) -> Dataset:
    """Load the 70,000 MNIST digits: the 60,000 training images, then the 10,000 test images.

    Sources are tried in the order given in the module docstring. Reading the four gzipped
    files takes well under a second, so no decoded copy is cached; file checksums are
    remembered in the cache (see :func:`hashlearn.datasets.file_digests`).

    Parameters
    ----------
    data_dir : str or path-like, optional
        The data directory (``$HASHLEARN_DATA`` when None); the files are in its ``mnist/``.
    download : bool, default False
        Download missing files (about 11 MiB) into ``<cache>/mnist/`` when neither the data
        directory nor the cache holds all four. ``HASHLEARN_OFFLINE=1`` disables downloads
        whatever this says.
    cache_dir : str or path-like, optional
        The cache directory (``$HASHLEARN_CACHE``, else ``~/.cache/hashlearn``).
    progress : bool, default False
        Show download progress bars.

    Returns
    -------
    Dataset
        ``name`` ``"mnist"``; ``images`` uint8 (70000, 28, 28); ``X`` the same pixels
        flattened to uint8 (70000, 784) (a view, values 0..255: convert with
        ``X.astype(np.float32) / 255`` where a hasher wants floats); ``y`` int64 (70000,)
        with the digit; ``class_names`` ``"0" .. "9"``; ``n_train`` = 60000 (official
        split: training rows first, in file order, then the test rows).

    Raises
    ------
    FileNotFoundError
        When the files are missing and cannot be downloaded; the message lists the folders
        looked at, the ``HASHLEARN_DATA`` variable and the download URL.
    ValueError
        When a file is corrupt: checksum mismatch against ``SHA256SUMS`` (data directory)
        or the known digests (cache), truncated gzip, bad IDX header or size.

    References
    ----------
    .. [1] Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, "Gradient-based learning applied
       to document recognition", Proc. IEEE 86(11), 1998.

    Examples
    --------
    >>> mnist = load_mnist("/path/to/data")  # doctest: +SKIP
    >>> mnist.X.shape, mnist.n_train  # doctest: +SKIP
    ((70000, 784), 60000)
    """
    data = get_data_dir(data_dir)
    cache = get_cache_dir(cache_dir)
    if data is not None and _complete(data / FOLDER):
        folder = data / FOLDER
        for name in MNIST_FILES:
            verify_against_sha256sums(folder / name, data, cache_dir=cache)
        description = f"MNIST IDX files in {folder}"
    else:
        folder = cache / FOLDER
        if not _complete(folder):
            if not download:
                why = "Downloading was not allowed (download=False)."
                raise FileNotFoundError(_missing_message(data, cache, why))
            if is_offline():
                why = f"Downloading is disabled ({ENV_OFFLINE} is set)."
                raise FileNotFoundError(_missing_message(data, cache, why))
            for name, (md5, _) in MNIST_FILES.items():
                if (folder / name).is_file():
                    continue
                try:
                    fetch(MNIST_URL + name, folder / name, None, md5=md5, progress=progress)
                except DownloadError as exc:
                    why = f"The download failed: {exc}"
                    raise FileNotFoundError(_missing_message(data, cache, why)) from exc
        for name in MNIST_FILES:
            _check_known(folder / name, cache)
        description = f"MNIST IDX files in {folder} (cache)"
    train_images, train_labels = _read_split(folder / TRAIN_IMAGES, folder / TRAIN_LABELS)
    test_images, test_labels = _read_split(folder / TEST_IMAGES, folder / TEST_LABELS)
    images = np.concatenate([train_images, test_images])
    return Dataset(
        name="mnist",
        X=images.reshape(images.shape[0], -1),
        y=np.concatenate([train_labels, test_labels]),
        class_names=MNIST_CLASSES,
        source=description,
        images=images,
        n_train=int(train_images.shape[0]),
    )

"""The one catalogue of named datasets: what each holds, its files, its loader.

:data:`CATALOG` has one :class:`DatasetEntry` per name: a one-line description, the files a
data directory should hold, where they come from, and the function that loads it.
:func:`load_dataset` loads by name, :func:`availability` is a cheap presence check (file
existence only: nothing is hashed, decoded or downloaded) and :func:`describe` summarises a
loaded dataset; ``hashlearn datasets list | info NAME | prepare NAME`` is built on them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hashlearn.datasets._dataset import Dataset
from hashlearn.datasets._home import get_cache_dir, get_data_dir
from hashlearn.datasets.cifar10 import find_cifar10_source, load_cifar10, load_cifar10_gist
from hashlearn.datasets.digits import load_digits_dataset
from hashlearn.datasets.gist_mat import load_gist_mat
from hashlearn.datasets.mirflickr import load_mirflickr25k
from hashlearn.datasets.mnist import load_mnist
from hashlearn.datasets.newsgroups import load_20newsgroups, load_20newsgroups_tfidf

__all__ = [
    "CATALOG",
    "DatasetEntry",
    "availability",
    "choose_dataset",
    "describe",
    "load_dataset",
]

PathLike = str | os.PathLike[str] | None

#: ``load(data_dir, cache_dir, download, progress) -> Dataset``.
Loader = Callable[[PathLike, PathLike, bool, bool], Dataset]


@dataclass(frozen=True)
class DatasetEntry:
    """One named dataset of :func:`load_dataset`.

    Attributes
    ----------
    name : str
        The name ``load_dataset`` takes.
    description : str
        One line: what the items, features and labels are.
    files : tuple of tuple of str
        Alternative file sets, each relative to the data directory; the dataset is
        present when every file of one set exists. Empty for a dataset that needs no file.
    origin : str
        Where the files come from (official download, or how to obtain them).
    downloadable : bool
        Whether the loader can download the files itself (``download=True``, online).
    load : callable
        ``load(data_dir, cache_dir, download, progress) -> Dataset``.
    download_by_default : bool
        What ``download=None`` means for this dataset in :func:`load_dataset`.
    """

    name: str
    description: str
    files: tuple[tuple[str, ...], ...]
    origin: str
    downloadable: bool
    load: Loader
    download_by_default: bool = False


def _cifar10_gist(
    data_dir: PathLike, cache_dir: PathLike, download: bool, progress: bool
) -> Dataset:
    # n_jobs=None: the thread limit of load_dataset governs
    return load_cifar10_gist(
        data_dir, cache_dir=cache_dir, download=download, progress=progress, n_jobs=None
    )


def _cifar10(data_dir: PathLike, cache_dir: PathLike, download: bool, progress: bool) -> Dataset:
    return load_cifar10(data_dir, cache_dir=cache_dir, download=download, progress=progress)


def _gist_mat(data_dir: PathLike, cache_dir: PathLike, download: bool, progress: bool) -> Dataset:
    return load_gist_mat(
        data_dir=data_dir, cache_dir=cache_dir, download=download, progress=progress
    )


def _digits(data_dir: PathLike, cache_dir: PathLike, download: bool, progress: bool) -> Dataset:
    return load_digits_dataset()  # ships with scikit-learn: no folder, nothing to download


def _mnist(data_dir: PathLike, cache_dir: PathLike, download: bool, progress: bool) -> Dataset:
    return load_mnist(data_dir, download=download, cache_dir=cache_dir, progress=progress)


def _newsgroups(data_dir: PathLike, cache_dir: PathLike, download: bool, progress: bool) -> Dataset:
    return load_20newsgroups(data_dir, download=download, cache_dir=cache_dir, progress=progress)


def _newsgroups_tfidf(
    data_dir: PathLike, cache_dir: PathLike, download: bool, progress: bool
) -> Dataset:
    return load_20newsgroups_tfidf(
        data_dir, download=download, cache_dir=cache_dir, progress=progress
    )


def _mirflickr(data_dir: PathLike, cache_dir: PathLike, download: bool, progress: bool) -> Dataset:
    if download:
        raise ValueError(
            "download=True is not possible for 'mirflickr25k': its .mat files have no "
            "official download; put them in <data_dir>/mirflickr25k/"
        )
    return load_mirflickr25k(data_dir, cache_dir=cache_dir)


_CIFAR10_FILES = (
    ("cifar10/cifar10-jpeg.tar.gz", "cifar10/cifar10_order.csv"),
    ("cifar10/cifar-10-python.tar.gz",),
)
_MNIST_FILES = (
    tuple(
        f"mnist/{name}"
        for name in (
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
        )
    ),
)
_NEWSGROUPS_FILES = (("20newsgroups/20news-bydate.tar.gz",),)

CATALOG: dict[str, DatasetEntry] = {
    entry.name: entry
    for entry in (
        DatasetEntry(
            "cifar10-gist",
            "CIFAR-10 GIST-512 features computed by hashlearn (cached), 60,000 x 512, 10 classes",
            _CIFAR10_FILES,
            "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz (or the JPEG layout)",
            True,
            _cifar10_gist,
            download_by_default=True,
        ),
        DatasetEntry(
            "cifar10-gist-mat",
            "the tutorial's precomputed CIFAR-10 GIST-512 (Gist512CIFAR10.mat)",
            (("cifar10/Gist512CIFAR10.mat",), ("Gist512CIFAR10.mat",)),
            "a file-sharing link of the tutorial (no published checksum)",
            False,
            _gist_mat,
        ),
        DatasetEntry(
            "cifar10",
            "CIFAR-10 images, 60,000 x 32 x 32 x 3, 10 classes, official 50,000 / 10,000 split",
            _CIFAR10_FILES,
            "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz (or the JPEG layout)",
            True,
            _cifar10,
            download_by_default=True,
        ),
        DatasetEntry(
            "digits",
            "scikit-learn's 8 x 8 digits, 1,797 x 64, 10 classes",
            (),
            "ships with scikit-learn",
            False,
            _digits,
        ),
        DatasetEntry(
            "mnist",
            "MNIST digits, 70,000 x 784 uint8 pixels, 10 classes, official 60,000 / 10,000 split",
            _MNIST_FILES,
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            True,
            _mnist,
        ),
        DatasetEntry(
            "20newsgroups",
            "20 Newsgroups 'bydate' posts (raw text), 18,846 documents, 20 groups",
            _NEWSGROUPS_FILES,
            "http://qwone.com/~jason/20Newsgroups/20news-bydate.tar.gz",
            True,
            _newsgroups,
        ),
        DatasetEntry(
            "20newsgroups-tfidf",
            "20 Newsgroups TF-IDF (10,000 terms, fitted on the training posts), 18,846 x 10,000",
            _NEWSGROUPS_FILES,
            "http://qwone.com/~jason/20Newsgroups/20news-bydate.tar.gz",
            True,
            _newsgroups_tfidf,
        ),
        DatasetEntry(
            "mirflickr25k",
            "MIRFlickr-25K tags, 20,015 x 1,386, 24 labels (multi-label)",
            (("mirflickr25k/mirflickr25k-lall.mat", "mirflickr25k/mirflickr25k-yall.mat"),),
            "no official download: the cleared subset used by cross-modal hashing papers",
            False,
            _mirflickr,
        ),
    )
}


def _entry(name: Any) -> DatasetEntry:
    if not isinstance(name, str) or name not in CATALOG:
        raise ValueError(f"dataset must be one of {', '.join(CATALOG)}; got {name!r}")
    return CATALOG[name]


def load_dataset(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool | None = None,
    progress: bool = False,
    n_jobs: int | None = 1,
) -> Dataset:
    """Load a dataset of :data:`CATALOG` by name.

    Parameters
    ----------
    name : str
        A key of :data:`CATALOG`: ``"cifar10-gist"``, ``"cifar10-gist-mat"``,
        ``"cifar10"``, ``"digits"``, ``"mnist"``, ``"20newsgroups"`` (raw text, which
        hashers cannot take directly), ``"20newsgroups-tfidf"``, ``"mirflickr25k"``.
    data_dir : str or path-like, optional
        The data directory (``$HASHLEARN_DATA`` when None); ignored by ``"digits"``.
    cache_dir : str or path-like, optional
        The cache directory.
    download : bool, optional
        Allow downloads; None keeps each dataset's default
        (:attr:`DatasetEntry.download_by_default`: True for CIFAR-10, False for the
        tutorial's ``.mat`` file, which has no published checksum, and for MNIST and
        20 Newsgroups). MIRFlickr-25K has no official download: ``download=True`` is
        refused for it.
    progress : bool, default False
        Show progress bars.
    n_jobs : int or None, default 1
        BLAS / OpenMP threads of the CPU-heavy steps (GIST features, TF-IDF), -1 for
        every CPU, None to leave the thread pools as configured; one thread by default so
        that two processes do not oversubscribe the cores (see
        :func:`hashlearn.features.gist.thread_limits`).

    Returns
    -------
    Dataset

    Raises
    ------
    ValueError
        For an unknown name, or a corrupt file.
    FileNotFoundError
        When the dataset's files are missing and cannot be downloaded.

    Examples
    --------
    >>> load_dataset("digits").X.shape
    (1797, 64)
    """
    entry = CATALOG.get(name) if isinstance(name, str) else None
    if entry is None:
        raise ValueError(f"name must be one of {', '.join(CATALOG)}; got {name!r}")
    from hashlearn.features.gist import thread_limits

    allowed = entry.download_by_default if download is None else bool(download)
    with thread_limits(n_jobs):
        return entry.load(data_dir, cache_dir, allowed, progress)


def choose_dataset(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
) -> tuple[str, str | None]:
    """What ``--dataset auto`` means: CIFAR-10 GIST when available offline, else digits.

    Returns
    -------
    name : str
        ``"cifar10-gist"`` or ``"digits"``.
    notice : str or None
        A one-line notice for the user when falling back to digits, else None.

    Raises
    ------
    FileNotFoundError
        When an explicitly named data directory does not exist.
    """
    if find_cifar10_source(data_dir, cache_dir=cache_dir) is not None:
        return "cifar10-gist", None
    return "digits", (
        "CIFAR-10 not found (set HASHLEARN_DATA or --data-dir to a folder with "
        "cifar10/cifar10-jpeg.tar.gz); using scikit-learn's 8x8 digits instead"
    )


def availability(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
) -> tuple[bool, str]:
    """Whether dataset ``name`` can be loaded without a download, and from where.

    Checks file existence only, in the data directory and then the cache (where downloads
    go). Returns ``(present, where)``: ``where`` names the folder that holds the files, or
    says what is missing.
    """
    entry = _entry(name)
    if not entry.files:
        return True, entry.origin
    if name in ("cifar10", "cifar10-gist"):
        source = find_cifar10_source(data_dir, cache_dir=cache_dir)
        if source is not None and (name == "cifar10-gist" or "GIST" not in source):
            return True, source
    folders: list[Path] = []
    root = get_data_dir(data_dir)
    if root is not None:
        folders.append(root)
    folders.append(get_cache_dir(cache_dir))
    for folder in folders:
        for file_set in entry.files:
            if all((folder / relative).is_file() for relative in file_set):
                return True, str(folder)
    wanted = " + ".join(entry.files[0])
    looked = ", ".join(str(folder) for folder in folders)
    return False, f"missing {wanted} (looked in {looked})"


def describe(dataset: Dataset) -> dict[str, Any]:
    """Shapes, types, sizes and label statistics of a loaded dataset, as plain values."""
    X = dataset.X
    y = np.asarray(dataset.y)
    info: dict[str, Any] = {
        "name": dataset.name,
        "n_samples": int(dataset.n_samples),
        "X": f"{getattr(X, 'dtype', type(X).__name__)} {tuple(np.shape(X))}",
        "X_megabytes": round(float(getattr(X, "nbytes", 0)) / 2**20, 1),
        "y": f"{y.dtype} {y.shape}",
        "n_classes": len(dataset.class_names),
        "n_train": dataset.n_train,
        "source": dataset.source,
    }
    if y.ndim == 1 and y.size:
        counts = np.bincount(y.astype(np.int64))
        info["class_sizes"] = f"{int(counts.min())} to {int(counts.max())} items per class"
    elif y.ndim == 2 and y.size:
        per_item = y.sum(axis=1)
        info["labels_per_item"] = (
            f"{int(per_item.min())} to {int(per_item.max())}, mean {float(per_item.mean()):.2f}"
        )
    return info

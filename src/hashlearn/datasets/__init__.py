"""Real datasets: the data directory, the cache, checksummed downloads and loaders.

Folders (see :func:`get_data_dir` and :func:`get_cache_dir`):

* the data directory, ``--data-dir`` > ``$HASHLEARN_DATA``, holds files the user placed
  there (read only, verified against its ``SHA256SUMS`` when present);
* the cache directory, ``$HASHLEARN_CACHE`` > ``$XDG_CACHE_HOME/hashlearn`` >
  ``~/.cache/hashlearn``, holds downloads and derived arrays (decoded images, GIST).

Downloads happen only when a loader is allowed to (``download=True``) and
``HASHLEARN_OFFLINE`` is unset; every download is checksummed before it is renamed into
place.

Datasets by name (:func:`load_dataset`):

* ``"cifar10-gist"``: CIFAR-10 GIST-512 computed by hashlearn (:func:`load_cifar10_gist`);
* ``"cifar10-gist-mat"``: the tutorial's ``Gist512CIFAR10.mat`` (:func:`load_gist_mat`);
* ``"cifar10"``: CIFAR-10 raw pixels (:func:`load_cifar10`);
* ``"digits"``: scikit-learn's 8x8 digits, always available (:func:`load_digits_dataset`);
* ``"mnist"``: MNIST, 70,000 x 784 uint8 pixels with the official 60,000 / 10,000 split
  (:func:`load_mnist`);
* ``"20newsgroups"``: the 18,846 "bydate" posts as raw text (:func:`load_20newsgroups`);
  ``"20newsgroups-tfidf"``: their TF-IDF vectors, fitted on the training posts only
  (:func:`load_20newsgroups_tfidf`);
* ``"mirflickr25k"``: MIRFlickr-25K tag vectors with a 24-label multi-label ``y``
  (:func:`load_mirflickr25k`), from the data directory only (no official download).
"""

from __future__ import annotations

import os

from hashlearn.datasets._dataset import Dataset
from hashlearn.datasets._download import DownloadError, fetch
from hashlearn.datasets._home import (
    file_digests,
    get_cache_dir,
    get_data_dir,
    is_offline,
    verify_against_sha256sums,
)
from hashlearn.datasets.cifar10 import (
    CIFAR10_CLASSES,
    find_cifar10_source,
    load_cifar10,
    load_cifar10_gist,
    read_cifar10_jpeg,
    read_cifar10_order,
    read_cifar10_python,
)
from hashlearn.datasets.digits import load_digits_dataset
from hashlearn.datasets.gist_mat import load_gist_mat, read_gist_mat
from hashlearn.datasets.mirflickr import (
    MIRFLICKR25K_CLASSES,
    load_mirflickr25k,
    read_mirflickr25k,
)
from hashlearn.datasets.mnist import load_mnist, read_idx
from hashlearn.datasets.newsgroups import (
    load_20newsgroups,
    load_20newsgroups_tfidf,
    newsgroups_tfidf,
    read_20newsgroups,
)

__all__ = [
    "CIFAR10_CLASSES",
    "DATASET_NAMES",
    "MIRFLICKR25K_CLASSES",
    "Dataset",
    "DownloadError",
    "choose_dataset",
    "fetch",
    "file_digests",
    "find_cifar10_source",
    "get_cache_dir",
    "get_data_dir",
    "is_offline",
    "load_20newsgroups",
    "load_20newsgroups_tfidf",
    "load_cifar10",
    "load_cifar10_gist",
    "load_dataset",
    "load_digits_dataset",
    "load_gist_mat",
    "load_mirflickr25k",
    "load_mnist",
    "newsgroups_tfidf",
    "read_20newsgroups",
    "read_cifar10_jpeg",
    "read_cifar10_order",
    "read_cifar10_python",
    "read_gist_mat",
    "read_idx",
    "read_mirflickr25k",
    "verify_against_sha256sums",
]

DATASET_NAMES = (
    "cifar10-gist",
    "cifar10-gist-mat",
    "cifar10",
    "digits",
    "mnist",
    "20newsgroups",
    "20newsgroups-tfidf",
    "mirflickr25k",
)


def load_dataset(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool | None = None,
    progress: bool = False,
) -> Dataset:
    """Load a dataset by name.

    Parameters
    ----------
    name : str
        One of :data:`DATASET_NAMES`: ``"cifar10-gist"``, ``"cifar10-gist-mat"``,
        ``"cifar10"``, ``"digits"``, ``"mnist"``, ``"20newsgroups"`` (raw text, which
        hashers cannot take directly), ``"20newsgroups-tfidf"``, ``"mirflickr25k"``.
    data_dir : str or path-like, optional
        The data directory (``$HASHLEARN_DATA`` when None); ignored by ``"digits"``.
    cache_dir : str or path-like, optional
        The cache directory.
    download : bool, optional
        Allow downloads; None keeps each loader's default (True for CIFAR-10, False for
        the tutorial's ``.mat`` file, which has no published checksum, and for MNIST and
        20 Newsgroups). MIRFlickr-25K has no official download: ``download=True`` is
        refused for it.
    progress : bool, default False
        Show progress bars.

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
    if name == "digits":
        return load_digits_dataset()
    if name == "cifar10-gist":
        return load_cifar10_gist(
            data_dir,
            cache_dir=cache_dir,
            download=True if download is None else download,
            progress=progress,
        )
    if name == "cifar10":
        return load_cifar10(
            data_dir,
            cache_dir=cache_dir,
            download=True if download is None else download,
            progress=progress,
        )
    if name == "cifar10-gist-mat":
        return load_gist_mat(
            data_dir=data_dir,
            cache_dir=cache_dir,
            download=False if download is None else download,
            progress=progress,
        )
    allowed = False if download is None else download
    if name == "mnist":
        return load_mnist(data_dir, download=allowed, cache_dir=cache_dir, progress=progress)
    if name == "20newsgroups":
        return load_20newsgroups(data_dir, download=allowed, cache_dir=cache_dir, progress=progress)
    if name == "20newsgroups-tfidf":
        return load_20newsgroups_tfidf(
            data_dir, download=allowed, cache_dir=cache_dir, progress=progress
        )
    if name == "mirflickr25k":
        if download:
            raise ValueError(
                "download=True is not possible for 'mirflickr25k': its .mat files have no "
                "official download; put them in <data_dir>/mirflickr25k/"
            )
        return load_mirflickr25k(data_dir, cache_dir=cache_dir)
    raise ValueError(f"name must be one of {', '.join(DATASET_NAMES)}; got {name!r}")


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

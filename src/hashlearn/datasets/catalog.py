"""What each named dataset needs, whether it is here, and what it holds.

The catalogue behind ``hashlearn datasets list | info NAME | prepare NAME``: one
:class:`DatasetEntry` per name of :data:`hashlearn.datasets.DATASET_NAMES`, with the files a
data directory should hold, where they come from, and a cheap availability check (file
existence only: nothing is hashed, decoded or downloaded). :func:`describe` loads a dataset
and summarises it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hashlearn.datasets._dataset import Dataset
from hashlearn.datasets._home import get_cache_dir, get_data_dir

__all__ = ["CATALOG", "DatasetEntry", "availability", "describe"]


@dataclass(frozen=True)
class DatasetEntry:
    """One named dataset of :func:`hashlearn.datasets.load_dataset`.

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
    """

    name: str
    description: str
    files: tuple[tuple[str, ...], ...]
    origin: str
    downloadable: bool


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
        ),
        DatasetEntry(
            "cifar10-gist-mat",
            "the tutorial's precomputed CIFAR-10 GIST-512 (Gist512CIFAR10.mat)",
            (("cifar10/Gist512CIFAR10.mat",), ("Gist512CIFAR10.mat",)),
            "a file-sharing link of the tutorial (no published checksum)",
            False,
        ),
        DatasetEntry(
            "cifar10",
            "CIFAR-10 images, 60,000 x 32 x 32 x 3, 10 classes, official 50,000 / 10,000 split",
            _CIFAR10_FILES,
            "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz (or the JPEG layout)",
            True,
        ),
        DatasetEntry(
            "digits",
            "scikit-learn's 8 x 8 digits, 1,797 x 64, 10 classes",
            (),
            "ships with scikit-learn",
            False,
        ),
        DatasetEntry(
            "mnist",
            "MNIST digits, 70,000 x 784 uint8 pixels, 10 classes, official 60,000 / 10,000 split",
            _MNIST_FILES,
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            True,
        ),
        DatasetEntry(
            "20newsgroups",
            "20 Newsgroups 'bydate' posts (raw text), 18,846 documents, 20 groups",
            _NEWSGROUPS_FILES,
            "http://qwone.com/~jason/20Newsgroups/20news-bydate.tar.gz",
            True,
        ),
        DatasetEntry(
            "20newsgroups-tfidf",
            "20 Newsgroups TF-IDF (10,000 terms, fitted on the training posts), 18,846 x 10,000",
            _NEWSGROUPS_FILES,
            "http://qwone.com/~jason/20Newsgroups/20news-bydate.tar.gz",
            True,
        ),
        DatasetEntry(
            "mirflickr25k",
            "MIRFlickr-25K tags, 20,015 x 1,386, 24 labels (multi-label)",
            (("mirflickr25k/mirflickr25k-lall.mat", "mirflickr25k/mirflickr25k-yall.mat"),),
            "no official download: the cleared subset used by cross-modal hashing papers",
            False,
        ),
    )
}


def _entry(name: Any) -> DatasetEntry:
    if not isinstance(name, str) or name not in CATALOG:
        raise ValueError(f"dataset must be one of {', '.join(CATALOG)}; got {name!r}")
    return CATALOG[name]


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
        from hashlearn.datasets.cifar10 import find_cifar10_source

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

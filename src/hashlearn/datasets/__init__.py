"""Real datasets: the data directory, the cache, checksummed downloads and loaders.

Folders (see :func:`get_data_dir` and :func:`get_cache_dir`):

* the data directory, ``--data-dir`` > ``$HASHLEARN_DATA``, holds files the user placed
  there (read only, verified against its ``SHA256SUMS`` when present);
* the cache directory, ``$HASHLEARN_CACHE`` > ``$XDG_CACHE_HOME/hashlearn`` >
  ``~/.cache/hashlearn``, holds downloads and derived arrays (decoded images, GIST).

Downloads happen only when a loader is allowed to (``download=True``) and
``HASHLEARN_OFFLINE`` is unset; every download is checksummed before it is renamed into
place.

Datasets by name (:func:`load_dataset`; :data:`CATALOG` lists each one with its files,
origin and loader):

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

Your own text corpus (a folder of class folders, a ``.jsonl`` or a ``.csv`` file):
:func:`load_text_corpus` gives its TF-IDF or word-count vectors
(:mod:`hashlearn.datasets.text_corpus`).
"""

from __future__ import annotations

from hashlearn.datasets._dataset import Dataset
from hashlearn.datasets._download import DownloadError, fetch
from hashlearn.datasets._home import (
    file_digests,
    get_cache_dir,
    get_data_dir,
    is_offline,
    verify_against_sha256sums,
)
from hashlearn.datasets.catalog import (
    CATALOG,
    DatasetEntry,
    availability,
    choose_dataset,
    describe,
    load_dataset,
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
from hashlearn.datasets.text_corpus import (
    TextCorpus,
    TextFeaturizer,
    load_text_corpus,
    read_text_corpus,
)

__all__ = [
    "CATALOG",
    "CIFAR10_CLASSES",
    "MIRFLICKR25K_CLASSES",
    "Dataset",
    "DatasetEntry",
    "DownloadError",
    "TextCorpus",
    "TextFeaturizer",
    "availability",
    "choose_dataset",
    "describe",
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
    "load_text_corpus",
    "newsgroups_tfidf",
    "read_20newsgroups",
    "read_cifar10_jpeg",
    "read_cifar10_order",
    "read_cifar10_python",
    "read_gist_mat",
    "read_idx",
    "read_mirflickr25k",
    "read_text_corpus",
    "verify_against_sha256sums",
]

"""``hashlearn build``: fit a hasher on a dataset and write a bundle of its database.

The hasher is fitted on training rows (the official training split when the dataset has
one, all rows otherwise; ``n_train`` draws a seeded subset), then every database row is
encoded and indexed. The bundle also keeps what shows each item: the images of an image
dataset (for ``cifar10-gist``, the CIFAR-10 images the GIST features were computed from,
in the same order) or a snippet of each document, and how an uploaded image becomes a
query (the featurizer).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from hashlearn.serve.bundle import write_bundle

__all__ = ["BuildConfig", "build_bundle"]

#: Index structure by name: one hash table for codes of up to 64 bits, else the scan.
INDEX_KINDS = ("auto", "hash", "flat", "mih")


@dataclass(frozen=True)
class BuildConfig:
    """What ``hashlearn build`` builds.

    Attributes
    ----------
    dataset : str
        A catalogue name (``hashlearn datasets list``) or a numeric file (``.npz`` with
        ``X`` and ``y``, ``.npy``, ``.csv``; see ``hashlearn bench --dataset``).
    method : str
        A method spec (``hashlearn methods``), e.g. ``"itq"`` or ``"grh:alpha=0.5"``.
    n_bits : int
    out : Path
    seed : int
        Seeds the hasher and the row subsets.
    n_train : int or None
        Fit on at most this many training rows (a seeded subset).
    limit : int or None
        Keep at most this many database rows (a seeded subset, in dataset order).
    vectors : bool
        Keep the float vectors for re-ranking (dense features only).
    index : str
        One of :data:`INDEX_KINDS`.
    """

    dataset: str
    method: str
    n_bits: int
    out: Path
    seed: int = 0
    n_train: int | None = None
    limit: int | None = None
    vectors: bool = True
    index: str = "auto"
    data_dir: str | None = None
    download: bool | None = None
    overwrite: bool = False


def _say(message: str) -> None:
    print(f"hashlearn build: {message}", file=sys.stderr, flush=True)


def _load(config: BuildConfig) -> Any:
    from hashlearn.datasets import load_dataset
    from hashlearn.datasets.catalog import CATALOG
    from hashlearn.experiments.user_data import load_user_dataset

    if config.dataset in CATALOG:
        return load_dataset(
            config.dataset, config.data_dir, download=config.download, progress=True
        )
    if not os.path.exists(config.dataset):
        raise ValueError(
            f"dataset {config.dataset!r} is neither a catalogue name ({', '.join(CATALOG)}) "
            "nor an existing file"
        )
    dataset, _ = load_user_dataset(config.dataset)
    return dataset


def _display(config: BuildConfig, dataset: Any) -> tuple[Any, Any, dict[str, Any] | None]:
    """``(images, texts, featurizer)`` for the whole dataset, when the dataset has them."""
    from hashlearn.datasets import load_dataset

    name = config.dataset
    if name == "cifar10-gist":
        images = load_dataset("cifar10", config.data_dir, download=config.download).images
        return images, None, {"kind": "gist", "image_shape": [32, 32, 3]}
    if name == "cifar10":
        return dataset.images, None, {"kind": "pixels", "image_shape": [32, 32, 3]}
    if name == "mnist":
        images = np.asarray(dataset.X, dtype=np.uint8).reshape(-1, 28, 28)
        return images, None, {"kind": "pixels", "image_shape": [28, 28]}
    if name == "digits":
        images = np.round(np.asarray(dataset.X) * (255 / 16)).astype(np.uint8).reshape(-1, 8, 8)
        return images, None, {"kind": "pixels", "image_shape": [8, 8], "scale": 16 / 255}
    if name == "20newsgroups-tfidf":
        texts = load_dataset("20newsgroups", config.data_dir, download=config.download).X
        if len(texts) == dataset.n_samples:
            return None, [str(text) for text in texts], None
    return None, None, None


def _rows(config: BuildConfig, dataset: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(database rows, training rows)``, both sorted, training rows within the database."""
    rng = np.random.default_rng(config.seed)
    n = dataset.n_samples
    database = np.arange(n)
    if config.limit is not None and config.limit < n:
        database = np.sort(rng.choice(n, config.limit, replace=False))
    train = database
    if dataset.n_train is not None:
        train = database[database < dataset.n_train]
        if train.size == 0:
            train = database
    if config.n_train is not None and config.n_train < train.size:
        train = np.sort(rng.choice(train, config.n_train, replace=False))
    return database, train


def _check_config(config: BuildConfig) -> None:
    from hashlearn._validation import check_n_bits

    # before the data is loaded and a progress line printed: a bad --bits is one error line
    check_n_bits(config.n_bits)
    if config.index not in INDEX_KINDS:
        raise ValueError(f"index must be one of {INDEX_KINDS}, got {config.index!r}")
    for name in ("n_train", "limit"):
        value = getattr(config, name)
        if value is not None and value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if config.out.exists() and not config.overwrite:
        raise FileExistsError(f"{config.out} exists; pass --force to replace it")


def build_bundle(config: BuildConfig, *, say: Callable[[str], None] = _say) -> Path:
    """Fit, encode, index and write the bundle ``config.out``; returns its path.

    Progress goes to ``say`` (stderr by default). Nothing is written until everything is
    computed, and the bundle appears atomically (see :func:`write_bundle`).
    """
    from hashlearn.experiments.methods import resolve_method
    from hashlearn.experiments.record import encode_features, fit_hasher
    from hashlearn.index import make_index

    _check_config(config)
    method = resolve_method(config.method)
    dataset = _load(config)
    database, train = _rows(config, dataset)
    X = dataset.X
    y = np.asarray(dataset.y)
    supervised = method.info.supervised
    say(
        f"fitting {method.label} ({config.n_bits} bits) on {train.size:,} rows of "
        f"{dataset.name}{' with labels' if supervised else ''}"
    )
    started = time.perf_counter()
    hasher = method.build(config.n_bits, config.seed)
    fit_hasher(hasher, X[train], y[train] if supervised else None)
    fit_seconds = time.perf_counter() - started
    say(f"fitted in {fit_seconds:.1f} s; encoding {database.size:,} database rows")
    codes = encode_features(hasher, X[database])
    kind = config.index
    if kind == "auto":
        kind = "hash" if config.n_bits <= 64 else "flat"
    index = make_index(kind, config.n_bits, hasher=hasher)
    index.add(codes)
    images, texts, featurizer = _display(config, dataset)
    vectors = None
    if config.vectors and not sp.issparse(X):
        vectors = np.asarray(X[database], dtype=np.float32)
    say(f"writing {config.out}")
    return write_bundle(
        config.out,
        index,
        vectors=vectors,
        labels=y[database],
        class_names=dataset.class_names,
        images=None if images is None else np.asarray(images)[database],
        texts=None if texts is None else [texts[i] for i in database],
        featurizer=featurizer,
        description={
            "method": method.spec,
            "label": method.label,
            "dataset": dataset.name,
            "dataset_source": dataset.source,
            "seed": config.seed,
            "n_train": int(train.size),
            "rows": "all" if database.size == dataset.n_samples else "seeded subset",
            "fit_seconds": round(fit_seconds, 3),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
        overwrite=config.overwrite,
    )

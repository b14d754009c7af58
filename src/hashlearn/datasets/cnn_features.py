"""CNN features of a dataset's images, extracted once and cached (``hashlearn features``).

:func:`extract_dataset_features` loads an image dataset of the catalogue (CIFAR-10 or
MNIST), computes the penultimate-layer features of a torchvision network
(:mod:`hashlearn.features.cnn`) and writes them, with the labels, as a ``.npz`` that every
hasher and ``hashlearn bench --dataset`` read: arrays ``X`` (float32, one row per image,
in the dataset's official order) and ``y``, plus ``meta``, a JSON string saying how they
were made (model, weights, seed, device, images per second, versions).

Cache layout (``<cache>`` from :func:`hashlearn.datasets.get_cache_dir`)::

    <cache>/features/cnn<V>-<model>-<weights>-<dataset>-<rows>-<data>.npz

``<V>`` is :data:`~hashlearn.features.cnn.CNN_FEATURES_VERSION`, ``<weights>`` is
``w`` and the first 16 hex digits of the weights file's SHA-256, or ``random-seed<S>``;
``<rows>`` is ``all`` or ``first<N>`` (``limit``); ``<data>`` is a digest of the images
and labels themselves, so another source of the same dataset never shares an entry. A
file already there is read instead of extracting again; delete it to recompute.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from hashlearn._io import atomic_write
from hashlearn._progress import Progress
from hashlearn._torch import require_torch, require_torchvision, resolve_device
from hashlearn.datasets._home import file_digests, get_cache_dir, warn_damaged_cache
from hashlearn.datasets.catalog import load_dataset
from hashlearn.features.cnn import (
    CNN_FEATURES_VERSION,
    CNN_MODELS,
    FEATURE_DIMS,
    CNNFeatureExtractor,
)

__all__ = [
    "FEATURE_DATASETS",
    "FeatureFile",
    "RandomWeightsWarning",
    "extract_dataset_features",
    "feature_file_name",
    "usage_hint",
]

#: Image datasets of the catalogue that CNN features can be extracted from.
FEATURE_DATASETS = ("cifar10", "mnist")
FEATURES_FOLDER = "features"
#: The registered protocol ``hashlearn bench`` is suggested with, per dataset.
BENCH_PROTOCOLS = {"cifar10": "cifar10-1", "mnist": "grh-mnist"}


class RandomWeightsWarning(UserWarning):
    """CNN features were computed with random weights: not meaningful for retrieval."""


class FeatureFile(NamedTuple):
    """Where extracted features are and how they were made.

    Attributes
    ----------
    path : pathlib.Path
        The ``.npz`` (arrays ``X``, ``y``, ``meta``).
    shape : tuple of int
        ``X.shape``: (images, features).
    meta : dict
        The file's ``meta``: ``model``, ``weights``, ``seed``, ``dataset``, ``source``,
        ``device``, ``amp``, ``seconds``, ``images_per_second``, versions.
    cached : bool
        True when the file was already there (nothing was extracted).
    """

    path: Path
    shape: tuple[int, int]
    meta: dict[str, Any]
    cached: bool


def feature_file_name(
    model: str, weights_tag: str, dataset: str, n_rows: int | None, data_digest: str
) -> str:
    """The cache file name (see the module docstring); ``n_rows`` None means every image."""
    rows = "all" if n_rows is None else f"first{n_rows}"
    return f"cnn{CNN_FEATURES_VERSION}-{model}-{weights_tag}-{dataset}-{rows}-{data_digest}.npz"


def _check_options(dataset: str, model: str, limit: Any, seed: Any) -> None:
    if dataset not in FEATURE_DATASETS:
        raise ValueError(
            f"dataset must be one of {', '.join(FEATURE_DATASETS)} (datasets of images), "
            f"got {dataset!r}"
        )
    if model not in CNN_MODELS:
        raise ValueError(f"model must be one of {', '.join(CNN_MODELS)}, got {model!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be an int >= 1 or None, got {limit!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")


def _data_digest(images: np.ndarray, labels: np.ndarray) -> str:
    digest = hashlib.blake2b(digest_size=6)
    for array in (images, labels):
        contiguous = np.ascontiguousarray(array)
        digest.update(f"{contiguous.dtype.str}{contiguous.shape}".encode())
        digest.update(contiguous.reshape(-1).view(np.uint8).data)
    return digest.hexdigest()


def _read_cached(path: Path, labels: np.ndarray, n_features: int) -> FeatureFile | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            X, y = archive["X"], archive["y"]
            meta = json.loads(str(archive["meta"]))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        warn_damaged_cache(path, exc)
        return None
    if (
        X.dtype != np.float32
        or X.shape != (labels.shape[0], n_features)
        or not np.array_equal(y, labels)
        or not isinstance(meta, dict)
    ):
        warn_damaged_cache(path, ValueError(f"X {X.dtype}{X.shape} does not fit the dataset"))
        return None
    return FeatureFile(path, (int(X.shape[0]), int(X.shape[1])), meta, cached=True)


def extract_dataset_features(
    dataset: str = "cifar10",
    model: str = "resnet18",
    *,
    weights: str | os.PathLike[str] | None = None,
    seed: int = 0,
    device: Any = "auto",
    batch_size: int = 64,
    amp: bool = True,
    limit: int | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    download: bool | None = None,
    progress: Progress = False,
) -> FeatureFile:
    """CNN features of a catalogue dataset's images, as a cached ``.npz`` of ``X`` and ``y``.

    Parameters
    ----------
    dataset : {"cifar10", "mnist"}, default "cifar10"
        Loaded with :func:`hashlearn.datasets.load_dataset`.
    model : {"alexnet", "vgg16", "resnet18", "resnet50"}, default "resnet18"
    weights : str or path-like, optional
        A local weights file (:func:`hashlearn.features.cnn.load_weights_file`). None:
        random weights seeded by ``seed``, with a :class:`RandomWeightsWarning`.
    seed : int, default 0
        Seed of the random weights (ignored with ``weights``).
    device, batch_size, amp
        As for :class:`hashlearn.features.cnn.CNNFeatureExtractor`.
    limit : int, optional
        Only the first ``limit`` images of the official order (a quick try).
    data_dir, cache_dir, download
        As for :func:`hashlearn.datasets.load_dataset`.
    out : str or path-like, optional
        Write the features there (always extracting) instead of the cache.
    progress : bool or callable, default False
        Progress of loading and extraction.

    Returns
    -------
    FeatureFile
        Its path, shape, metadata (with ``images_per_second``), and whether it came from
        the cache.
    """
    _check_options(dataset, model, limit, seed)
    # torch, torchvision and the device are checked before minutes of loading, not after.
    require_torchvision("CNN features")
    resolve_device(device)
    weights_sha256 = None
    if weights is not None:
        if not Path(weights).is_file():
            raise FileNotFoundError(
                f"weights file not found: {weights} (weights are a local file; hashlearn "
                "downloads none)"
            )
        weights_sha256 = file_digests(weights, cache_dir=cache_dir).sha256
    else:
        warnings.warn(
            f"no weights file: {model} has random weights (seed {seed}), so its features "
            "run end to end but are not meaningful for retrieval; pass a local file of "
            "pretrained weights (--weights FILE)",
            RandomWeightsWarning,
            stacklevel=2,
        )
    data = load_dataset(
        dataset, data_dir, cache_dir=cache_dir, download=download, progress=progress is True
    )
    assert data.images is not None  # every FEATURE_DATASETS loader returns its images
    n_rows = None if limit is None or limit >= data.n_samples else limit
    images, labels = data.images[:n_rows], data.y[:n_rows]
    tag = f"random-seed{seed}" if weights_sha256 is None else f"w{weights_sha256[:16]}"
    name = feature_file_name(model, tag, dataset, n_rows, _data_digest(images, labels))
    if out is None:
        path = get_cache_dir(cache_dir) / FEATURES_FOLDER / name
        cached = _read_cached(path, labels, FEATURE_DIMS[model])
        if cached is not None:
            return cached
    else:
        path = Path(out)
    extractor = CNNFeatureExtractor(
        model,
        weights=weights,
        random_state=seed,
        device=device,
        batch_size=batch_size,
        amp=amp,
        progress=progress,
    )
    X = extractor.transform(images)
    meta = _meta(extractor, data.name, data.source, weights, weights_sha256, seed, n_rows)
    n_train = None if data.n_train is None else min(data.n_train, int(X.shape[0]))
    meta.update(n_images=int(X.shape[0]), n_train=n_train)

    def write(handle: Any) -> None:
        np.savez(handle, X=X, y=labels, meta=np.array(json.dumps(meta, sort_keys=True)))

    # The file is the product, not a memo: failing to write it is an error (OSError).
    atomic_write(path, write)
    return FeatureFile(path, (int(X.shape[0]), int(X.shape[1])), meta, cached=False)


def _meta(
    extractor: CNNFeatureExtractor,
    dataset: str,
    source: str,
    weights: str | os.PathLike[str] | None,
    weights_sha256: str | None,
    seed: int,
    n_rows: int | None,
) -> dict[str, Any]:
    from hashlearn._version import __version__

    return {
        "model": extractor.model,
        "weights": None if weights is None else str(Path(weights).resolve()),
        "weights_sha256": weights_sha256,
        "seed": seed if weights is None else None,
        "dataset": dataset,
        "source": source,
        "limit": n_rows,
        "device": str(extractor.device),
        "amp": None if extractor.amp_dtype is None else str(extractor.amp_dtype),
        "batch_size": extractor.batch_size,
        "seconds": extractor.seconds,
        "images_per_second": extractor.images_per_second,
        "features_version": CNN_FEATURES_VERSION,
        "hashlearn": __version__,
        "torch": require_torch().__version__,
        "torchvision": require_torchvision().__version__,
    }


def usage_hint(found: FeatureFile) -> str:
    """How to use the file: the ``hashlearn bench`` command (sizes scaled to a ``limit``
    subset) and the Python way."""
    protocol = BENCH_PROTOCOLS[found.meta["dataset"]] + ":preprocess=l2-center"
    n = found.shape[0]
    if found.meta.get("limit") is not None:
        if n < 100:
            return (
                f"{n} images are too few for a benchmark: extract more (a larger --limit, "
                f"or none); np.load('{found.path}') gives X and y for any hasher"
            )
        protocol += f",n_queries={10 * (n // 100)},n_train={n // 2},n_validation=0"
    return (
        f'use it: hashlearn bench --protocol "{protocol}" --dataset {found.path} '
        "--methods itq,grh --bits 16,32 --seeds 1\n"
        f"or in Python: data = np.load('{found.path}'); X, y = data['X'], data['y']"
    )

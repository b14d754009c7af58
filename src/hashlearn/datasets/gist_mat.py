"""The learning-to-hash tutorial's ``Gist512CIFAR10.mat``: precomputed CIFAR-10 GIST-512.

The file holds ``X`` (60000 x 512 GIST descriptors) and ``X_class`` (1 x 60000 labels).
It was only ever published on a file-sharing link, with no checksum; hashlearn can
compute equivalent features itself (:func:`hashlearn.datasets.load_cifar10_gist`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from hashlearn.datasets._dataset import Dataset
from hashlearn.datasets._download import DownloadError, fetch
from hashlearn.datasets._home import (
    ENV_DATA,
    ENV_OFFLINE,
    expected_sha256,
    get_cache_dir,
    get_data_dir,
    is_offline,
    verify_against_sha256sums,
)
from hashlearn.datasets._matfile import read_v73
from hashlearn.datasets.cifar10 import CIFAR10_CLASSES

__all__ = ["GIST_MAT_NAME", "GIST_MAT_URL", "load_gist_mat", "read_gist_mat"]

GIST_MAT_NAME = "Gist512CIFAR10.mat"
GIST_MAT_URL = "https://www.dropbox.com/s/875u1rkva9iffpj/Gist512CIFAR10.mat?dl=1"
_N_CLASSES = len(CIFAR10_CLASSES)


def read_gist_mat(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read and validate ``X`` and ``X_class`` from a ``Gist512CIFAR10.mat``-style file.

    MATLAB v5/v7 files are read with :func:`scipy.io.loadmat`; v7.3 (HDF5) files with
    h5py when it is installed.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    X : ndarray of float32, shape (n, 512)
    y : ndarray of int64, shape (n,)
        Labels 0..9. Labels stored one-based (1..10, the MATLAB habit) are shifted to 0..9.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        When it is not a MAT-file, lacks ``X`` or ``X_class``, or their shapes, values or
        types are not those of 512-D GIST features with one CIFAR-10 label per row.
    ImportError
        When the file is v7.3 and h5py is not installed.
    """
    from scipy.io import loadmat
    from scipy.io.matlab import matfile_version

    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"GIST file {source} does not exist")
    fix = "download or copy it again (a failed download often saves an HTML page instead)"
    try:
        major, _ = matfile_version(str(source))
    except Exception as exc:  # scipy raises several types on non-MAT input
        raise ValueError(f"{source} is not a MATLAB .mat file ({exc}); {fix}") from exc
    if major == 2:
        X, labels = read_v73(source, ("X", "X_class"), "download or copy it again")
    else:
        try:
            contents = loadmat(str(source), variable_names=["X", "X_class"])
        except Exception as exc:  # damaged MAT-files fail in many ways inside scipy
            raise ValueError(f"{source} is a damaged MAT-file ({exc}); {fix}") from exc
        missing = [name for name in ("X", "X_class") if name not in contents]
        if missing:
            raise ValueError(
                f"{source} lacks the variable(s) {', '.join(missing)}; expected X (n x 512 GIST) "
                "and X_class (1 x n labels), as in the tutorial's Gist512CIFAR10.mat"
            )
        X, labels = contents["X"], contents["X_class"]
    X = np.asarray(X)
    labels = np.asarray(labels)
    if X.ndim != 2 or X.shape[1] != 512 or not np.issubdtype(X.dtype, np.number):
        raise ValueError(
            f"{source}: X has dtype {X.dtype} and shape {X.shape}, expected numbers of shape "
            f"(n, 512); {fix}"
        )
    if labels.ndim > 2 or (labels.ndim == 2 and 1 not in labels.shape):
        raise ValueError(f"{source}: X_class has shape {labels.shape}, expected (1, n); {fix}")
    labels = labels.reshape(-1)
    if labels.size != X.shape[0]:
        raise ValueError(
            f"{source}: X has {X.shape[0]} rows but X_class has {labels.size} labels; {fix}"
        )
    if not np.isfinite(X).all():
        raise ValueError(f"{source}: X contains NaN or infinity; {fix}")
    if not np.issubdtype(labels.dtype, np.number) or not np.array_equal(labels, np.round(labels)):
        raise ValueError(f"{source}: X_class must hold integer labels, got {labels.dtype}; {fix}")
    y = labels.astype(np.int64)
    if y.size and y.min() == 1 and y.max() == _N_CLASSES:
        y -= 1
    if y.size and (y.min() < 0 or y.max() >= _N_CLASSES):
        raise ValueError(
            f"{source}: X_class labels range from {y.min()} to {y.max()}, expected 0..9; {fix}"
        )
    return np.ascontiguousarray(X, dtype=np.float32), y


def load_gist_mat(
    path: str | os.PathLike[str] | None = None,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool = False,
    progress: bool = False,
) -> Dataset:
    """Load the tutorial's ``Gist512CIFAR10.mat`` (CIFAR-10 GIST-512 from the tutorial).

    Looked up at ``path`` when given, else ``<data_dir>/cifar10/Gist512CIFAR10.mat``,
    ``<data_dir>/Gist512CIFAR10.mat`` and ``<cache>/cifar10/Gist512CIFAR10.mat``.

    The file is downloadable from the tutorial's link (``GIST_MAT_URL``) when
    ``download=True``. No checksum was ever published for it, so a download cannot be
    verified byte for byte; instead its content is validated (``X`` of shape (n, 512),
    one label 0..9 per row) and the file is deleted again if that fails.

    Parameters
    ----------
    path : str or path-like, optional
        An explicit file.
    data_dir : str or path-like, optional
        The data directory (``$HASHLEARN_DATA`` when None).
    cache_dir : str or path-like, optional
        Where a download goes (``<cache>/cifar10/``).
    download : bool, default False
        Download the file when it is not found (``HASHLEARN_OFFLINE=1`` forbids it).
    progress : bool, default False
        Show a download progress bar.

    Returns
    -------
    Dataset
        ``name="cifar10-gist-mat"``, ``X`` float32 (60000, 512), ``y`` int64 (60000,),
        the CIFAR-10 class names. The file's row order is kept as is, so ``n_train`` is
        None.

    Raises
    ------
    FileNotFoundError
        When the file is not found and may not (or could not) be downloaded; the message
        lists where it was looked for.
    ValueError
        When the file is corrupt (see :func:`read_gist_mat`) or fails its ``SHA256SUMS``
        entry in the data directory.

    Examples
    --------
    >>> gist = load_gist_mat(data_dir="/path/to/data")  # doctest: +SKIP
    >>> gist.X.shape  # doctest: +SKIP
    (60000, 512)
    """
    downloaded = False
    if path is not None:
        found = Path(path).expanduser()
        if not found.is_file():
            raise FileNotFoundError(
                f"GIST file {found} does not exist; pass the path of {GIST_MAT_NAME} "
                f"(the tutorial's file, from {GIST_MAT_URL})"
            )
    else:
        data = get_data_dir(data_dir)
        cache = get_cache_dir(cache_dir)
        folders = [data / "cifar10", data] if data is not None else []
        candidates = [folder / GIST_MAT_NAME for folder in (*folders, cache / "cifar10")]
        existing = next((c for c in candidates if c.is_file()), None)
        if existing is None:
            looked = ", ".join(str(c) for c in candidates)
            how = (
                f"{GIST_MAT_NAME} was not found (looked at {looked}). Download it from "
                f"{GIST_MAT_URL} and place it in <data dir>/cifar10/ ({ENV_DATA} or "
                "--data-dir), or call load_gist_mat(download=True)"
            )
            if not download or is_offline():
                reason = "download=False" if not download else f"{ENV_OFFLINE} is set"
                raise FileNotFoundError(f"{how}; downloading was not allowed ({reason}).")
            target = cache / "cifar10" / GIST_MAT_NAME
            try:
                # No published checksum: the content is validated after the download.
                fetch(GIST_MAT_URL, target, None, progress=progress)
            except DownloadError as exc:
                raise FileNotFoundError(f"{how}; the download failed: {exc}") from exc
            existing, downloaded = target, True
        found = existing
        if expected_sha256(found, data) is not None:
            verify_against_sha256sums(found, data, cache_dir=cache)
    try:
        X, y = read_gist_mat(found)
    except ValueError:
        if downloaded:
            found.unlink(missing_ok=True)
        raise
    return Dataset(
        name="cifar10-gist-mat",
        X=X,
        y=y,
        class_names=CIFAR10_CLASSES,
        source=f"the tutorial's GIST file {found}"
        + (f" (downloaded from {GIST_MAT_URL})" if downloaded else ""),
    )

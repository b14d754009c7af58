"""MIRFlickr-25K (Huiskes & Lew, 2008): tag vectors and 24 concept labels, multi-label.

hashlearn reads the 20,015-image "cleared" subset used by cross-modal hashing papers
(DCMH and its successors), as two MATLAB files in the data directory::

    <data dir>/mirflickr25k/mirflickr25k-lall.mat   LAll: 20015 x 24 0/1 concept labels
    <data dir>/mirflickr25k/mirflickr25k-yall.mat   YAll: 20015 x 1386 0/1 tag vectors

Row ``i`` of both files is the same image. There is no official download of these files
(they circulate with the papers' code), so they are never downloaded: place them in the
data directory (``--data-dir`` or ``$HASHLEARN_DATA``). When the data directory has a
``SHA256SUMS`` listing them, they are verified against it.

Relevance is multi-label: a database item is relevant to a query when they share at
least one label (:func:`hashlearn.evaluation.metrics.relevance` on the 2-D indicator
matrices). There is no official split; the ``mirflickr-tags`` protocol samples queries,
database and training set itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from hashlearn.datasets._dataset import Dataset
from hashlearn.datasets._home import (
    ENV_DATA,
    expected_sha256,
    get_cache_dir,
    get_data_dir,
    verify_against_sha256sums,
)
from hashlearn.datasets._matfile import read_v73

__all__ = [
    "MIRFLICKR25K_CLASSES",
    "MIRFLICKR25K_DIR",
    "MIRFLICKR25K_LABELS_NAME",
    "MIRFLICKR25K_TAGS_NAME",
    "load_mirflickr25k",
    "read_mirflickr25k",
]

MIRFLICKR25K_DIR = "mirflickr25k"
MIRFLICKR25K_LABELS_NAME = "mirflickr25k-lall.mat"
MIRFLICKR25K_TAGS_NAME = "mirflickr25k-yall.mat"

#: The 24 MIRFlickr-25K concepts in column order of ``LAll``: the benchmark's concept list
#: in alphabetical order. The order is confirmed on the data by the concepts' hierarchy
#: (every ``dog`` and ``bird`` is an ``animals``, every ``lake``/``river``/``sea`` a
#: ``water``, every ``tree``/``flower`` a ``plant_life``, every ``car`` a ``transport``,
#: every ``clouds`` a ``sky``, every ``baby`` a ``people``: at most 5 exceptions in 20,015
#: rows for each pair).
MIRFLICKR25K_CLASSES: tuple[str, ...] = (
    "animals",
    "baby",
    "bird",
    "car",
    "clouds",
    "dog",
    "female",
    "flower",
    "food",
    "indoor",
    "lake",
    "male",
    "night",
    "people",
    "plant_life",
    "portrait",
    "river",
    "sea",
    "sky",
    "structures",
    "sunset",
    "transport",
    "tree",
    "water",
)
_N_LABELS = len(MIRFLICKR25K_CLASSES)
_N_TAGS = 1386
_FIX = "copy the file again from the data source"


def _read_variable(path: Path, variable: str) -> Any:
    """Read ``variable`` from a .mat file, with clear errors for anything but a sound file."""
    from scipy.io import loadmat
    from scipy.io.matlab import matfile_version

    if not path.is_file():
        raise FileNotFoundError(f"MIRFlickr-25K file {path} does not exist")
    try:
        major, _ = matfile_version(str(path))
    except Exception as exc:  # scipy raises several types on non-MAT input
        raise ValueError(f"{path} is not a MATLAB .mat file ({exc}); {_FIX}") from exc
    if major == 2:
        return read_v73(path, (variable,), _FIX)[0]
    try:
        contents = loadmat(str(path), variable_names=[variable])
    except Exception as exc:  # damaged MAT-files fail in many ways inside scipy
        raise ValueError(f"{path} is a damaged MAT-file ({exc}); {_FIX}") from exc
    if variable not in contents:
        raise ValueError(
            f"{path} lacks the variable {variable}; expected {MIRFLICKR25K_LABELS_NAME} to hold "
            f"LAll (n x {_N_LABELS} labels) and {MIRFLICKR25K_TAGS_NAME} to hold YAll "
            f"(n x {_N_TAGS} tags); {_FIX}"
        )
    return contents[variable]


def _binary_matrix(value: Any, path: Path, variable: str, n_columns: int) -> np.ndarray:
    """Check that ``value`` is an (n, n_columns) 0/1 matrix and return it as uint8."""
    if hasattr(value, "toarray"):  # MATLAB sparse matrices load as scipy.sparse
        value = value.toarray()
    array = np.asarray(value)
    if (
        array.ndim != 2
        or array.shape[1] != n_columns
        or array.dtype.kind not in "biuf"
        or array.shape[0] == 0
    ):
        raise ValueError(
            f"{path}: {variable} has dtype {array.dtype} and shape {array.shape}, expected "
            f"0/1 numbers of shape (n, {n_columns}) with n >= 1; {_FIX}"
        )
    if array.dtype != np.bool_:
        # NaN fails both comparisons, so it is reported here too.
        bad = (array != 0) & (array != 1)
        if bad.any():
            row, column = np.argwhere(bad)[0]
            raise ValueError(
                f"{path}: {variable} must hold only 0 and 1, but {int(bad.sum())} entries do "
                f"not (first at row {row}, column {column}: {array[row, column]!r}); {_FIX}"
            )
    return np.ascontiguousarray(array, dtype=np.uint8)


def read_mirflickr25k(
    labels_path: str | os.PathLike[str], tags_path: str | os.PathLike[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Read and validate ``LAll`` and ``YAll`` from the two MIRFlickr-25K ``.mat`` files.

    MATLAB v5/v7 files are read with :func:`scipy.io.loadmat`; v7.3 (HDF5) files with
    h5py when it is installed.

    Parameters
    ----------
    labels_path : str or path-like
        The file holding ``LAll`` (``mirflickr25k-lall.mat``).
    tags_path : str or path-like
        The file holding ``YAll`` (``mirflickr25k-yall.mat``).

    Returns
    -------
    tags : ndarray of uint8, shape (n, 1386)
        ``YAll``: 0/1 tag occurrence vectors.
    labels : ndarray of uint8, shape (n, 24)
        ``LAll``: 0/1 concept indicators, columns in :data:`MIRFLICKR25K_CLASSES` order.

    Rows are kept as they are, including rows with no tag or no label (none in the
    20,015-row copy); nothing is dropped or reordered.

    Raises
    ------
    FileNotFoundError
        When a file does not exist.
    ValueError
        When a file is not a MAT-file or is damaged, lacks its variable, has the wrong
        number of columns, holds values other than 0 and 1 (NaN included), or when the two
        files have different numbers of rows.
    ImportError
        When a file is v7.3 and h5py is not installed.
    """
    labels_file, tags_file = Path(labels_path), Path(tags_path)
    labels = _binary_matrix(_read_variable(labels_file, "LAll"), labels_file, "LAll", _N_LABELS)
    tags = _binary_matrix(_read_variable(tags_file, "YAll"), tags_file, "YAll", _N_TAGS)
    if labels.shape[0] != tags.shape[0]:
        raise ValueError(
            f"{labels_file} (LAll) has {labels.shape[0]} rows but {tags_file} (YAll) has "
            f"{tags.shape[0]}; both must describe the same images in the same order, so one "
            f"of them is from another copy of the dataset; {_FIX}"
        )
    return tags, labels


def load_mirflickr25k(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Dataset:
    """Load MIRFlickr-25K's tag vectors and multi-label concept annotations.

    Reads ``<data_dir>/mirflickr25k/mirflickr25k-lall.mat`` (``LAll``) and
    ``<data_dir>/mirflickr25k/mirflickr25k-yall.mat`` (``YAll``), after checking them
    against ``<data_dir>/SHA256SUMS`` when it lists them. Nothing is ever downloaded:
    there is no official download of these files.

    Parameters
    ----------
    data_dir : str or path-like, optional
        The data directory (``$HASHLEARN_DATA`` when None).
    cache_dir : str or path-like, optional
        The cache directory, where the files' checksums are remembered.

    Returns
    -------
    Dataset
        ``name="mirflickr25k"``;

        * ``X``: float32 of shape (20015, 1386), the 0/1 tag vectors ``YAll`` (the
          ``mirflickr-tags`` protocol's features; convert or normalise as the method
          needs);
        * ``y``: uint8 of shape (20015, 24), the 0/1 label-indicator matrix ``LAll``
          (multi-label, not class ids). It is what
          :func:`hashlearn.evaluation.metrics.relevance` and the other metrics take for
          "relevant = shares at least one label", and what ``check_labels`` accepts for
          supervised hashers;
        * ``class_names``: :data:`MIRFLICKR25K_CLASSES`, the 24 concepts in column order;
        * ``n_train``: None (no official split; protocols sample queries).

        Every row is kept. In the 20,015-row copy every image has at least one label
        (1 to 14, 3.78 on average) and at least one tag (1 to 57, 4.64 on average); a
        copy with empty rows is loaded as is and ``source`` counts them.

    Raises
    ------
    FileNotFoundError
        When no data directory is set, or the files are not in it; the message says
        where to put which files.
    ValueError
        When a file is corrupt (see :func:`read_mirflickr25k`) or fails its
        ``SHA256SUMS`` entry.

    Examples
    --------
    >>> flickr = load_mirflickr25k("/path/to/data")  # doctest: +SKIP
    >>> flickr.X.shape, flickr.y.shape  # doctest: +SKIP
    ((20015, 1386), (20015, 24))
    """
    data = get_data_dir(data_dir)
    wanted = (
        f"{MIRFLICKR25K_DIR}/{MIRFLICKR25K_LABELS_NAME} and "
        f"{MIRFLICKR25K_DIR}/{MIRFLICKR25K_TAGS_NAME}"
    )
    how = (
        "MIRFlickr-25K has no official download of these files (they come with the "
        "cross-modal hashing papers' code, LAll 20015 x 24 and YAll 20015 x 1386); place "
        f"them as <data dir>/{MIRFLICKR25K_DIR}/{MIRFLICKR25K_LABELS_NAME} and "
        f"<data dir>/{MIRFLICKR25K_DIR}/{MIRFLICKR25K_TAGS_NAME}"
    )
    if data is None:
        raise FileNotFoundError(
            f"MIRFlickr-25K needs a data directory holding {wanted}, but none is set: pass "
            f"data_dir (--data-dir) or set {ENV_DATA}. {how}."
        )
    folder = data / MIRFLICKR25K_DIR
    labels_path = folder / MIRFLICKR25K_LABELS_NAME
    tags_path = folder / MIRFLICKR25K_TAGS_NAME
    missing = [str(path) for path in (labels_path, tags_path) if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"MIRFlickr-25K file(s) not found: {', '.join(missing)}. {how}.")
    cache = get_cache_dir(cache_dir)
    for path in (labels_path, tags_path):
        if expected_sha256(path, data) is not None:
            verify_against_sha256sums(path, data, cache_dir=cache)
    tags, labels = read_mirflickr25k(labels_path, tags_path)
    no_label = int(np.count_nonzero(~labels.any(axis=1)))
    no_tag = int(np.count_nonzero(~tags.any(axis=1)))
    return Dataset(
        name="mirflickr25k",
        X=tags.astype(np.float32),
        y=labels,
        class_names=MIRFLICKR25K_CLASSES,
        source=(
            f"MIRFlickr-25K tags (YAll) and labels (LAll) from {folder}; "
            f"{no_label} rows without a label, {no_tag} without a tag (kept)"
        ),
    )

"""Data a user brings to ``hashlearn bench --dataset``: features and labels (``.npz``,
``.npy``, ``.csv`` of numbers), or a text corpus (a folder, ``.jsonl``, or a ``.csv`` with a
``text`` column; :mod:`hashlearn.datasets.text_corpus`)."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hashlearn._validation import check_features, check_labels
from hashlearn.datasets._dataset import Dataset
from hashlearn.datasets.text_corpus import (
    DEFAULT_MAX_FEATURES,
    TextFeaturizer,
    is_text_corpus,
    load_text_counts,
)

__all__ = ["UserData", "load_user_data", "load_user_dataset"]


@dataclass(frozen=True)
class UserData:
    """What ``--dataset`` gives the runner.

    Attributes
    ----------
    dataset : Dataset
        For a text corpus, ``X`` holds the word counts over the whole vocabulary.
    n_database : int or None
        With fixed queries (``X_query``, or a corpus's official split): the number of
        database rows, which come first.
    featurizer : TextFeaturizer or None
        For a text corpus: turns the counts into features learned on each split's training
        rows.
    """

    dataset: Dataset
    n_database: int | None
    featurizer: TextFeaturizer | None = None


def load_user_data(
    path: str | os.PathLike[str],
    *,
    text_features: str | None = None,
    max_features: int | None = None,
    text_encoding: str | None = None,
) -> UserData:
    """Load ``--dataset``: a text corpus (:func:`is_text_corpus`) or a numeric file.

    Parameters
    ----------
    path : str or path-like
    text_features : {"tfidf", "counts"}, optional
        For a text corpus (default "tfidf").
    max_features : int, optional
        For a text corpus: vocabulary size (default 10000).
    text_encoding : str, optional
        For a text corpus: how its files are encoded (default "utf-8").

    Raises
    ------
    ValueError
        When a text option is given for a numeric file.
    """
    text_options = {
        "text_features": text_features,
        "max_features": max_features,
        "text_encoding": text_encoding,
    }
    if not is_text_corpus(path):
        given = [name for name, value in text_options.items() if value is not None]
        if given:
            raise ValueError(
                f"{', '.join(given)} apply to text corpora only (a folder, .jsonl, or .csv with "
                f"a text column), but {path} holds numeric features; drop them"
            )
        return UserData(*load_user_dataset(path))
    featurizer = TextFeaturizer(
        text_features or "tfidf",
        DEFAULT_MAX_FEATURES if max_features is None else max_features,
    )
    dataset = load_text_counts(path, encoding=text_encoding or "utf-8")
    dataset = dataclasses.replace(
        dataset,
        source=f"{featurizer.describe()} fitted on each split's training rows, of {dataset.source}",
    )
    return UserData(dataset, dataset.n_train, featurizer)


def load_user_dataset(path: str | os.PathLike[str]) -> tuple[Dataset, int | None]:
    """Load numeric features and labels a user brings (a text corpus: :func:`load_user_data`).

    * ``.npz``: arrays ``X`` and ``y``, optionally ``X_query`` and ``y_query`` (the
      queries then are exactly those rows, and ``X`` is the database);
    * ``.npy``: one 2-D numeric array whose **last column** holds the integer labels;
    * ``.csv``: comma-separated numbers, one row per item, the label in the last column
      or in a column named ``label``, ``y`` or ``class`` (a header row is detected).

    Returns
    -------
    dataset : Dataset
        ``X`` and ``y`` (the query rows appended after the database rows when given).
    n_database : int or None
        With ``X_query``: the number of database rows (the rest are the queries).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"dataset file not found: {path}")
    suffix = path.suffix.lower()
    n_database = None
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            names = set(archive.files)
            missing = {"X", "y"} - names
            if missing:
                raise ValueError(
                    f"{path} must hold arrays X and y (optional X_query, y_query); "
                    f"it has {sorted(names)}"
                )
            X, y = archive["X"], archive["y"]
            if ("X_query" in names) != ("y_query" in names):
                raise ValueError(f"{path}: give both X_query and y_query, or neither")
            if "X_query" in names:
                X_query, y_query = archive["X_query"], archive["y_query"]
                if X_query.ndim != 2 or X.ndim != 2 or X_query.shape[1] != X.shape[1]:
                    raise ValueError(
                        f"{path}: X_query must be 2-D with X's {X.shape[1:]} columns, "
                        f"got {X_query.shape}"
                    )
                n_database = int(X.shape[0])
                X = np.concatenate([X, X_query])
                y = np.concatenate([np.asarray(y), np.asarray(y_query)])
    elif suffix == ".npy":
        array = np.load(path, allow_pickle=False)
        if array.ndim != 2 or array.shape[1] < 2:
            raise ValueError(
                f"{path} must be a 2-D array with the labels in its last column, "
                f"got shape {array.shape}"
            )
        X, y = array[:, :-1], _integer_labels(array[:, -1], path)
    elif suffix == ".csv":
        X, y = _read_csv(path)
    else:
        raise ValueError(f"dataset file must be .npz, .npy or .csv, got {path.name}")
    features = check_features(X, name="X", min_samples=2)
    labels = check_labels(y, features.shape[0])
    dataset = Dataset(
        name=path.stem,
        X=features,
        y=labels,
        class_names=tuple(str(c) for c in np.unique(labels)) if labels.ndim == 1 else (),
        source=str(path),
        n_train=n_database,
    )
    return dataset, n_database


def _integer_labels(column: np.ndarray, path: Path) -> np.ndarray:
    if not np.all(np.isfinite(column)) or not np.all(column == np.round(column)):
        raise ValueError(f"{path}: the label column must hold integers")
    return column.astype(np.int64)


def _read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with path.open() as handle:
        first = handle.readline()
    cells = [cell.strip().strip('"') for cell in first.split(",")]
    try:
        [float(cell) for cell in cells]
        header = None
    except ValueError:
        header = [cell.lower() for cell in cells]
    try:
        table = np.loadtxt(path, delimiter=",", skiprows=0 if header is None else 1, ndmin=2)
    except ValueError as exc:
        raise ValueError(
            f"{path}: every cell must be a number ({exc}); a CSV text corpus names its "
            "columns text and label in its first line"
        ) from None
    label_column = table.shape[1] - 1
    if header is not None:
        for name in ("label", "y", "class"):
            if name in header:
                label_column = header.index(name)
                break
    if table.size == 0:
        raise ValueError(f"{path} has no data rows")
    if table.shape[1] < 2:
        raise ValueError(f"{path} needs at least one feature column and a label column")
    X = np.delete(table, label_column, axis=1)
    return X, _integer_labels(table[:, label_column], path)

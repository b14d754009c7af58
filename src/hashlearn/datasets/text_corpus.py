"""Your own text corpus: documents and labels from a folder, a JSON Lines or a CSV file,
and their word-count or TF-IDF features.

Three layouts are read (:func:`read_text_corpus`):

* a **folder** with one sub-folder per class and one document per file (as
  ``20news-bydate``); files in deeper folders belong to the class folder above them.
  When the folder's only sub-folders are ``train/`` and ``test/``, each holds class
  sub-folders and the two are the official split. Hidden files and folders (a name starting
  with ``.``) are skipped, and so are files lying beside the class folders (a README);
  documents are taken class by class (classes sorted by name), files sorted by path;
* a **JSON Lines** file (``.jsonl``): one object per line with ``"text"`` (a string) and
  ``"label"`` (a string or an int, or a list of them for multi-label data); blank lines
  are skipped;
* a **CSV** file (``.csv``, comma-separated, quoted as by Python's ``csv`` module or a
  spreadsheet) with a header row naming the columns ``text`` and ``label``; several labels
  in one cell are separated by ``|`` (:data:`LABEL_SEPARATOR`): ``sport|politics``.

JSON Lines and CSV may give each document a ``split`` (``train`` or ``test``: all
documents or none): the official split, training documents first in the rows returned
(in file order within each part). Without a split, a protocol draws its own.

Every document has at least one label. Labels are single (``y`` int64, an index into the
sorted class names; names that are all integers sort as numbers) unless some document has
several: then ``y`` is a 0/1 uint8 matrix with a column per label. Documents are decoded
as UTF-8 (a byte-order mark is ignored) unless another ``encoding`` is given; text is kept
as it is.

Features (:class:`TextFeaturizer`): scikit-learn's tokenisation (lower case, words of two or
more letters or digits, English stop words removed) gives every document's word counts
over the whole vocabulary once (:func:`word_counts`, cached); the vocabulary of the
features (the ``max_features`` most frequent terms among those in at least ``min_df``
documents) and the IDF weights are then learned from *training* rows only and applied to
every row, exactly what ``TfidfVectorizer`` / ``CountVectorizer`` fitted on the training
documents give. :func:`load_text_corpus` fits them on the official training documents, or on
every document when the corpus has no split; ``hashlearn bench --dataset`` fits them again
on each seed's training rows, so that the queries never shape the vocabulary.

Cache: ``<cache>/text-corpus-counts-<key>.npz`` holds the word counts and the vocabulary,
keyed by the documents' content, the tokeniser's parameters and the scikit-learn version;
written atomically, delete it to rebuild it.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from hashlearn.datasets._dataset import Dataset
from hashlearn.datasets._home import get_cache_dir, save_cache, warn_damaged_cache

__all__ = [
    "DEFAULT_MAX_FEATURES",
    "DEFAULT_MIN_DF",
    "LABEL_SEPARATOR",
    "TEXT_FEATURES",
    "TextCorpus",
    "TextFeaturizer",
    "is_text_corpus",
    "load_text_corpus",
    "load_text_counts",
    "read_text_corpus",
    "word_counts",
]

#: The vocabulary size of the text-hashing papers (VDSH, NASH) on 20 Newsgroups.
DEFAULT_MAX_FEATURES = 10_000
#: A term must occur in this many training documents to be a feature.
DEFAULT_MIN_DF = 2
#: What separates several labels in one CSV cell.
LABEL_SEPARATOR = "|"
#: The feature kinds of :class:`TextFeaturizer`.
TEXT_FEATURES = ("tfidf", "counts")
_SPLITS = ("train", "test")
_COUNTS_VERSION = 1
#: scikit-learn's tokenisation, applied to every document once (the cache key holds it).
_TOKENIZER: dict[str, Any] = {
    "lowercase": True,
    "stop_words": "english",
    "token_pattern": r"(?u)\b\w\w+\b",
    "strip_accents": None,
}
_BOM = codecs.BOM_UTF8


@dataclass(frozen=True, eq=False)
class TextCorpus:
    """Documents and labels as read from a corpus (training documents first).

    Attributes
    ----------
    documents : tuple of str, length n
    labels : ndarray of int64, shape (n,), or of uint8, shape (n, n_labels)
        Index into ``class_names``, or a 0/1 matrix for multi-label corpora.
    class_names : tuple of str
    source : str
        The path read.
    n_train : int or None
        With an official split, the first ``n_train`` documents are the training documents.
    """

    documents: tuple[str, ...]
    labels: np.ndarray
    class_names: tuple[str, ...]
    source: str
    n_train: int | None


# --------------------------------------------------------------------------- reading


def _check_encoding(encoding: Any) -> str:
    if not isinstance(encoding, str):
        raise TypeError(f"encoding must be a str such as 'utf-8', got {encoding!r}")
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise ValueError(
            f"encoding must be a codec Python knows ('utf-8', 'latin-1', 'cp1252', ...), "
            f"got {encoding!r}"
        ) from None


def _decode(data: bytes, encoding: str, where: str, *, by_line: bool) -> str:
    """``data`` as text; a decoding error names the file, the line (or byte) and the fix."""
    skipped = 0
    if encoding == "utf-8" and data.startswith(_BOM):
        skipped = len(_BOM)  # a byte-order mark (Excel writes one) is not text
    try:
        return data[skipped:].decode(encoding)
    except UnicodeDecodeError as exc:
        offset = skipped + exc.start
        bad = data[offset : offset + 4]
        place = f"byte {offset}"
        if by_line:
            line = data[:offset].count(b"\n") + 1
            place = f"line {line} ({place})"
        raise ValueError(
            f"{where}: {place} is not valid {encoding} ({exc.reason}, bytes {bad!r}); save "
            f"the file as UTF-8, or give its encoding (encoding='latin-1' in Python, "
            f"--text-encoding latin-1 on the command line)"
        ) from None


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


def _class_folders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and _visible(p))


def _documents_of(class_folder: Path) -> list[Path]:
    """Every visible file under a class folder, sorted by relative path."""
    found = []
    for path in class_folder.rglob("*"):
        relative = path.relative_to(class_folder)
        if path.is_file() and all(not part.startswith(".") for part in relative.parts):
            found.append((relative.as_posix(), path))
    return [path for _, path in sorted(found)]


def _read_folder(root: Path, encoding: str) -> tuple[list[str], list[list[str]], list[str | None]]:
    top = _class_folders(root)
    parts: list[tuple[str | None, Path]] = [(None, root)]
    if sorted(p.name for p in top) == sorted(_SPLITS):
        parts = [(split, root / split) for split in _SPLITS]
    texts: list[str] = []
    labels: list[list[str]] = []
    splits: list[str | None] = []
    for split, folder in parts:
        classes = _class_folders(folder)
        if not classes:
            raise ValueError(
                f"{folder} has no class sub-folders: a folder corpus holds one sub-folder per "
                "class with one document per file (optionally inside train/ and test/ "
                "folders); hidden folders are skipped"
            )
        for class_folder in classes:
            for path in _documents_of(class_folder):
                text = _decode(path.read_bytes(), encoding, str(path), by_line=False)
                if not text.strip():
                    raise ValueError(
                        f"{path}: the document is empty; remove the file or give it text"
                    )
                texts.append(text)
                labels.append([class_folder.name])
                splits.append(split)
    if not texts:
        raise ValueError(f"{root} holds no documents (files inside its class sub-folders)")
    return texts, labels, splits


def _label_list(value: Any, where: str) -> list[str]:
    """A JSON ``label`` as a list of label names."""
    values = value if isinstance(value, list) else [value]
    names = []
    for item in values:
        if isinstance(item, bool) or not isinstance(item, int | str):
            raise ValueError(
                f"{where}: label must be a string or an int, or a list of them, got {value!r}"
            )
        name = str(item).strip()
        if not name:
            raise ValueError(f"{where}: a label is empty; give every document a label")
        names.append(name)
    if not names:
        raise ValueError(f"{where}: label is an empty list; give every document a label")
    return names


def _split_of(value: Any, where: str) -> str:
    split = value.strip().lower() if isinstance(value, str) else None
    if split not in _SPLITS:
        raise ValueError(f"{where}: split must be 'train' or 'test', got {value!r}")
    return split


def _read_jsonl(path: Path, encoding: str) -> tuple[list[str], list[list[str]], list[str | None]]:
    content = _decode(path.read_bytes(), encoding, str(path), by_line=True)
    texts: list[str] = []
    labels: list[list[str]] = []
    splits: list[str | None] = []
    for number, line in enumerate(content.split("\n"), 1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{where} is not valid JSON ({exc.msg} at column {exc.colno}); each line must "
                'be one object such as {"text": "...", "label": "sport"}'
            ) from None
        if not isinstance(row, dict):
            raise ValueError(
                f'{where} must be a JSON object with "text" and "label", got {type(row).__name__}'
            )
        missing = [key for key in ("text", "label") if key not in row]
        if missing:
            raise ValueError(
                f"{where} has no {' and no '.join(map(repr, missing))} field; each line needs "
                f'"text" and "label" (it has {sorted(row)})'
            )
        text = row["text"]
        if not isinstance(text, str):
            raise ValueError(f"{where}: text must be a string, got {type(text).__name__}")
        if not text.strip():
            raise ValueError(f"{where}: the text is empty; remove the line or give it text")
        texts.append(text)
        labels.append(_label_list(row["label"], where))
        splits.append(_split_of(row["split"], where) if "split" in row else None)
        if (splits[-1] is None) != (splits[0] is None):
            raise ValueError(
                f"{where}: some lines have a split field and others not; give every line a "
                "split (train or test) or none"
            )
    if not texts:
        raise ValueError(f"{path} holds no documents (no non-blank line)")
    return texts, labels, splits


def _csv_header(first_line: str) -> list[str]:
    row = next(csv.reader([first_line]), [])
    return [cell.strip().lower() for cell in row]


def _read_csv(path: Path, encoding: str) -> tuple[list[str], list[list[str]], list[str | None]]:
    content = _decode(path.read_bytes(), encoding, str(path), by_line=True)
    reader = csv.reader(io.StringIO(content, newline=""))
    previous_line = 0
    texts: list[str] = []
    labels: list[list[str]] = []
    splits: list[str | None] = []
    limit = csv.field_size_limit()
    # A document may be longer than csv's default cell limit (128 KiB); the limit is the
    # module's own state, so it is restored afterwards.
    csv.field_size_limit(1 << 30)
    try:
        header = [cell.strip().lower() for cell in next(reader, [])]
        missing = [name for name in ("text", "label") if name not in header]
        if missing:
            raise ValueError(
                f"{path} line 1 must be a header naming the columns text and label (and "
                f"optionally split); it has no {' and no '.join(missing)} column: {header}"
            )
        columns = {
            name: header.index(name) for name in ("text", "label", "split") if name in header
        }
        previous_line = reader.line_num
        for row in reader:
            where = f"{path} line {previous_line + 1}"
            previous_line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise ValueError(
                    f"{where} has {len(row)} cells but the header has {len(header)}; quote "
                    'text holding commas or line breaks ("...")'
                )
            text = row[columns["text"]]
            if not text.strip():
                raise ValueError(f"{where}: the text is empty; remove the row or give it text")
            names = [n.strip() for n in row[columns["label"]].split(LABEL_SEPARATOR)]
            names = [name for name in names if name]
            if not names:
                raise ValueError(f"{where}: the label is empty; give every document a label")
            texts.append(text)
            labels.append(names)
            splits.append(_split_of(row[columns["split"]], where) if "split" in columns else None)
    except csv.Error as exc:
        raise ValueError(f"{path} line {previous_line + 1} is not valid CSV ({exc})") from None
    finally:
        csv.field_size_limit(limit)
    if not texts:
        raise ValueError(f"{path} holds no documents (no row after the header)")
    return texts, labels, splits


def _class_order(names: set[str]) -> list[str]:
    """Class names sorted; names that are all integers sort as numbers (2 before 10)."""
    try:
        return sorted(names, key=int)
    except ValueError:
        return sorted(names)


def is_text_corpus(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is read as a text corpus: a folder, a ``.jsonl`` file, or a ``.csv``
    file whose first line names a ``text`` column (other CSV files hold numbers)."""
    path = Path(path)
    if path.is_dir():
        return True
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return True
    if suffix != ".csv" or not path.is_file():
        return False
    with path.open("rb") as handle:
        first = handle.readline().removeprefix(_BOM).decode("utf-8", errors="replace")
    return "text" in _csv_header(first)


def read_text_corpus(path: str | os.PathLike[str], *, encoding: str = "utf-8") -> TextCorpus:
    """Read the documents and labels of a corpus (a folder, ``.jsonl`` or ``.csv``).

    See the module docstring for the layouts.

    Parameters
    ----------
    path : str or path-like
    encoding : str, default "utf-8"
        How the files are encoded (``"latin-1"``, ``"cp1252"``, ...).

    Returns
    -------
    TextCorpus
        Training documents first when the corpus has an official split.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        Naming the file (and line) of what is wrong: bytes that are not valid in
        ``encoding``, an empty document, a missing ``text`` or ``label``, malformed JSON, a
        CSV without those columns, a bad ``split``, a folder without class sub-folders,
        fewer than two classes.

    Examples
    --------
    >>> corpus = read_text_corpus("reviews.jsonl")  # doctest: +SKIP
    >>> corpus.class_names, len(corpus.documents)  # doctest: +SKIP
    (('negative', 'positive'), 2000)
    """
    encoding = _check_encoding(encoding)
    path = Path(path)
    if path.is_dir():
        texts, names, splits = _read_folder(path, encoding)
    elif not path.is_file():
        raise FileNotFoundError(f"text corpus not found: {path}")
    elif path.suffix.lower() == ".jsonl":
        texts, names, splits = _read_jsonl(path, encoding)
    elif path.suffix.lower() == ".csv":
        texts, names, splits = _read_csv(path, encoding)
    else:
        raise ValueError(f"a text corpus is a folder, a .jsonl or a .csv file, got {path.name}")
    classes = _class_order({name for row in names for name in row})
    if len(classes) < 2:
        raise ValueError(
            f"{path}: every document has the label {classes[0]!r}; retrieval is evaluated by "
            "shared labels, so a corpus needs at least 2 classes"
        )
    index = {name: k for k, name in enumerate(classes)}
    multi = any(len(row) != 1 for row in names)
    if multi:
        labels = np.zeros((len(names), len(classes)), dtype=np.uint8)
        for row, found in enumerate(names):
            labels[row, [index[name] for name in found]] = 1
    else:
        labels = np.fromiter((index[row[0]] for row in names), dtype=np.int64, count=len(names))
    n_train = None
    if splits[0] is not None:
        is_train = np.array([split == "train" for split in splits])
        n_train = int(is_train.sum())
        if n_train in (0, is_train.size):
            only = "train" if n_train else "test"
            raise ValueError(
                f"{path}: every document is in the {only} split; an official split needs "
                "training and test documents (or give no split, and the protocol draws one)"
            )
        order = np.concatenate([np.flatnonzero(is_train), np.flatnonzero(~is_train)])
        texts = [texts[i] for i in order]
        labels = labels[order]
    return TextCorpus(tuple(texts), labels, tuple(classes), str(path), n_train)


# --------------------------------------------------------------------------- features


def _counts_key(documents: Sequence[str]) -> str:
    import sklearn

    digest = hashlib.sha256()
    for text in documents:
        digest.update(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest())
    setting = {
        "docs": digest.hexdigest(),
        "tokenizer": {k: str(v) for k, v in _TOKENIZER.items()},
        "sklearn": sklearn.__version__,
        "version": _COUNTS_VERSION,
    }
    return hashlib.sha256(json.dumps(setting, sort_keys=True).encode()).hexdigest()[:16]


def _read_counts(path: Path, n_documents: int) -> tuple[sp.csr_matrix, np.ndarray] | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            if int(archive["version"]) != _COUNTS_VERSION:
                return None
            shape = tuple(int(n) for n in archive["shape"])
            counts = sp.csr_matrix(
                (archive["data"], archive["indices"], archive["indptr"]), shape=shape
            )
            vocabulary = np.array(archive["vocabulary"].tobytes().decode("utf-8").split("\n"))
    except (OSError, ValueError, KeyError, EOFError, zlib.error) as exc:
        warn_damaged_cache(path, exc)
        return None
    if counts.shape != (n_documents, vocabulary.size):
        warn_damaged_cache(path, ValueError(f"shape {counts.shape}, {vocabulary.size} terms"))
        return None
    return counts, vocabulary


def word_counts(
    documents: Sequence[str], *, cache_dir: str | os.PathLike[str] | None = None
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Every document's word counts over the whole vocabulary (cached).

    scikit-learn's ``CountVectorizer(lowercase=True, stop_words="english")`` over all the
    documents, with no term dropped: it only tokenises (each row depends on its own
    document alone); which terms become features is :class:`TextFeaturizer`'s choice, made
    on training rows.

    Parameters
    ----------
    documents : sequence of str
    cache_dir : str or path-like, optional
        The cache directory (``$HASHLEARN_CACHE``, else ``~/.cache/hashlearn``).

    Returns
    -------
    counts : csr_matrix of int32, shape (n_documents, n_terms)
    vocabulary : ndarray of str, shape (n_terms,)
        The terms, sorted (column ``j`` counts ``vocabulary[j]``).

    Raises
    ------
    ValueError
        When no document has a word outside the stop words.
    """
    key = _counts_key(documents)
    path = get_cache_dir(cache_dir) / f"text-corpus-counts-{key}.npz"
    cached = _read_counts(path, len(documents))
    if cached is not None:
        return cached
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(**_TOKENIZER, dtype=np.int32)
    try:
        counts = sp.csr_matrix(vectorizer.fit_transform(documents))
    except ValueError as exc:  # "empty vocabulary"
        raise ValueError(
            f"no document has a word of two or more letters outside the English stop words ({exc})"
        ) from None
    counts.sort_indices()
    vocabulary = np.asarray(vectorizer.get_feature_names_out(), dtype=str)
    blob = "\n".join(vocabulary.tolist()).encode("utf-8")

    def write(handle: Any) -> None:
        np.savez(
            handle,
            version=np.int64(_COUNTS_VERSION),
            shape=np.asarray(counts.shape, dtype=np.int64),
            data=counts.data,
            indices=counts.indices,
            indptr=counts.indptr,
            vocabulary=np.frombuffer(blob, dtype=np.uint8),
        )

    save_cache(path, write)
    return counts, vocabulary


@dataclass(frozen=True)
class TextFeaturizer:
    """Word counts -> features, with the vocabulary and the IDF learned on training rows.

    :meth:`fit_transform` gives what ``TfidfVectorizer`` (``features="tfidf"``) or
    ``CountVectorizer`` (``"counts"``) with ``stop_words="english"``, ``max_features``,
    ``min_df`` fitted on the training documents and applied to every document gives (ties
    in frequency at the vocabulary's cut are broken alphabetically, where scikit-learn
    leaves them to its sort): a term that occurs only outside the training rows is no
    feature, and the IDF counts training documents only.

    Parameters
    ----------
    features : {"tfidf", "counts"}, default "tfidf"
        TF-IDF (raw term frequency times the smoothed IDF ``ln((1 + n) / (1 + df)) + 1``,
        rows L2-normalised, scikit-learn's defaults) or the raw word counts (for methods
        that model counts, such as VDSH and NASH).
    max_features : int or None, default 10000
        Keep the most frequent terms of the training rows (total count); None keeps all.
        10,000 is the vocabulary of the text-hashing papers (VDSH, Chaidaroon and Fang
        2017; NASH, Shen et al. 2018).
    min_df : int, default 2
        A term must occur in at least this many training documents. scikit-learn's default
        is 1; a term of one training document cannot make two training documents alike,
        and on a small corpus such terms would fill the vocabulary.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> counts = sp.csr_matrix([[2, 1, 0], [1, 0, 0], [0, 0, 3]])
    >>> TextFeaturizer(features="counts", min_df=1).terms(counts, np.array([0, 1])).tolist()
    [0, 1]
    """

    features: str = "tfidf"
    max_features: int | None = DEFAULT_MAX_FEATURES
    min_df: int = DEFAULT_MIN_DF

    def __post_init__(self) -> None:
        if self.features not in TEXT_FEATURES:
            raise ValueError(
                f"features must be one of {', '.join(TEXT_FEATURES)}, got {self.features!r}"
            )
        for name, value in (("max_features", self.max_features), ("min_df", self.min_df)):
            if value is None and name == "max_features":
                continue
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise TypeError(f"{name} must be an int, got {value!r}")
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")

    def params(self) -> dict[str, Any]:
        """The parameters, JSON-ready (for records)."""
        return {"features": self.features, "max_features": self.max_features, "min_df": self.min_df}

    def describe(self) -> str:
        """One phrase: what the features are."""
        kind = "TF-IDF" if self.features == "tfidf" else "word counts"
        size = "every term" if self.max_features is None else f"{self.max_features} terms at most"
        return f"{kind} ({size}, each in >= {self.min_df} training documents)"

    def terms(self, counts: Any, train: NDArray[np.integer]) -> NDArray[np.int64]:
        """The columns of ``counts`` kept as features, sorted, learned from rows ``train``.

        Raises
        ------
        ValueError
            When no term occurs in ``min_df`` training documents.
        """
        train_counts = sp.csr_matrix(counts[np.asarray(train)])
        train_counts.sum_duplicates()
        n_columns = counts.shape[1]
        document_frequency = np.bincount(
            train_counts.indices[train_counts.data != 0], minlength=n_columns
        )
        frequency = np.asarray(train_counts.sum(axis=0)).ravel()
        kept = np.flatnonzero(document_frequency >= self.min_df)
        if kept.size == 0:
            raise ValueError(
                f"no term occurs in min_df={self.min_df} of the {train_counts.shape[0]} "
                "training documents; give more training documents (a larger n_train), or "
                "lower min_df (TextFeaturizer, in Python)"
            )
        if self.max_features is not None and kept.size > self.max_features:
            # Most frequent first; equal counts in vocabulary (alphabetical) order.
            order = np.lexsort((kept, -frequency[kept]))
            kept = np.sort(kept[order[: self.max_features]])
        return kept.astype(np.int64)

    def fit_transform(self, counts: Any, train: NDArray[np.integer]) -> sp.csr_matrix:
        """Features of every row of ``counts``, learned from rows ``train`` only.

        Parameters
        ----------
        counts : sparse matrix, shape (n_documents, n_terms)
            Word counts (:func:`word_counts`).
        train : ndarray of int
            The training rows.

        Returns
        -------
        csr_matrix of float32, shape (n_documents, n_features)
            A row with none of the features is a zero row.
        """
        train = np.asarray(train)
        if train.size == 0:
            raise ValueError("train must name at least one training row")
        selected = sp.csr_matrix(counts, dtype=np.float32)[:, self.terms(counts, train)]
        if self.features == "counts":
            return sp.csr_matrix(selected, dtype=np.float32)
        from sklearn.feature_extraction.text import TfidfTransformer

        weights = TfidfTransformer(norm="l2", use_idf=True, smooth_idf=True, sublinear_tf=False)
        weights.fit(selected[train])
        return sp.csr_matrix(weights.transform(selected), dtype=np.float32)


def load_text_counts(
    path: str | os.PathLike[str],
    *,
    encoding: str = "utf-8",
    cache_dir: str | os.PathLike[str] | None = None,
) -> Dataset:
    """A corpus's word counts over its whole vocabulary, for per-split features.

    ``hashlearn bench --dataset`` reads a corpus through this and makes each seed's features
    with :meth:`TextFeaturizer.fit_transform` on that seed's training rows.

    Returns
    -------
    Dataset
        ``X`` the int32 counts (:func:`word_counts`); ``y``, ``class_names``, ``n_train``
        from :func:`read_text_corpus`; ``name`` the file or folder name without suffix.
    """
    corpus = read_text_corpus(path, encoding=encoding)
    try:
        counts, vocabulary = word_counts(corpus.documents, cache_dir=cache_dir)
    except ValueError as exc:
        raise ValueError(f"{corpus.source}: {exc}") from None
    split = "" if corpus.n_train is None else f", official split {corpus.n_train} train"
    return Dataset(
        name=Path(path).stem or Path(path).resolve().name,
        X=counts,
        y=corpus.labels,
        class_names=corpus.class_names,
        source=(
            f"text corpus {corpus.source} ({len(corpus.documents)} documents, "
            f"{vocabulary.size} terms{split})"
        ),
        n_train=corpus.n_train,
    )


def load_text_corpus(
    path: str | os.PathLike[str],
    *,
    features: str = "tfidf",
    max_features: int | None = DEFAULT_MAX_FEATURES,
    min_df: int = DEFAULT_MIN_DF,
    encoding: str = "utf-8",
    cache_dir: str | os.PathLike[str] | None = None,
) -> Dataset:
    """Load a text corpus as sparse TF-IDF (or word-count) vectors and labels.

    The vocabulary and the IDF are learned on the official training documents when the
    corpus has a split, otherwise on every document (then the queries a protocol later
    draws have shaped them; ``hashlearn bench --dataset`` avoids that by learning them on
    each seed's training rows).

    Parameters
    ----------
    path : str or path-like
        A folder, ``.jsonl`` or ``.csv`` file (see :func:`read_text_corpus`).
    features : {"tfidf", "counts"}, default "tfidf"
    max_features : int or None, default 10000
    min_df : int, default 2
        See :class:`TextFeaturizer`.
    encoding : str, default "utf-8"
    cache_dir : str or path-like, optional
        Where the word counts are cached.

    Returns
    -------
    Dataset
        ``X`` a float32 CSR matrix (n_documents, n_features); ``y`` int64 labels or a 0/1
        uint8 matrix; ``class_names``; ``n_train`` with an official split (training
        documents first); ``source`` the path and what the features are.

    Examples
    --------
    >>> news = load_text_corpus("my-corpus/", max_features=5000)  # doctest: +SKIP
    >>> news.X.shape  # doctest: +SKIP
    (2400, 5000)
    """
    featurizer = TextFeaturizer(features, max_features, min_df)
    counts = load_text_counts(path, encoding=encoding, cache_dir=cache_dir)
    n_fit = counts.n_samples if counts.n_train is None else counts.n_train
    fitted_on = "every document" if counts.n_train is None else "the training documents"
    X = featurizer.fit_transform(counts.X, np.arange(n_fit))
    return Dataset(
        name=counts.name,
        X=X,
        y=counts.y,
        class_names=counts.class_names,
        source=f"{featurizer.describe()} fitted on {fitted_on} of {counts.source}",
        n_train=counts.n_train,
    )

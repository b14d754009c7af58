"""20 Newsgroups, "bydate" version: 18,846 posts in 20 groups, and their TF-IDF features.

Where the archive ``20news-bydate.tar.gz`` comes from, in this order:

1. the data directory: ``<data_dir>/20newsgroups/20news-bydate.tar.gz`` (verified against
   ``<data_dir>/SHA256SUMS`` when it lists it);
2. the cache: ``<cache>/20newsgroups/20news-bydate.tar.gz``;
3. a download into the cache, only with ``download=True`` and ``HASHLEARN_OFFLINE`` unset:
   from the official page (:data:`NEWSGROUPS_URL`), then scikit-learn's mirror
   (:data:`NEWSGROUPS_MIRROR_URL`), each checked against the SHA-256 scikit-learn publishes
   for the archive (the official page publishes none).

The archive holds ``20news-bydate-{train,test}/<group>/<id>``. Rows are ordered as
``sklearn.datasets.fetch_20newsgroups(subset=..., shuffle=False)`` orders them: the
training posts (11,314) then the test posts (7,532), each by group name, then by file name
(as strings). Posts are decoded as latin-1, like scikit-learn, with headers, footers and
quotes kept.

Cache layout (``<key>``: the first 16 hex digits of the archive's SHA-256)::

    <cache>/20newsgroups-docs-<key>.npz              parsed posts (text blob, offsets, labels)
    <cache>/20newsgroups-tfidf-<key>-<params>.npz    sparse float32 TF-IDF (scipy format)

Every cache file is written atomically; delete one to rebuild it.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import tarfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from hashlearn.datasets._dataset import Dataset
from hashlearn.datasets._download import DownloadError, fetch
from hashlearn.datasets._home import (
    ENV_DATA,
    ENV_OFFLINE,
    file_digests,
    get_cache_dir,
    get_data_dir,
    is_offline,
    save_cache,
    verify_against_sha256sums,
    warn_damaged_cache,
)

__all__ = [
    "NEWSGROUPS_MIRROR_URL",
    "NEWSGROUPS_SHA256",
    "NEWSGROUPS_URL",
    "load_20newsgroups",
    "load_20newsgroups_tfidf",
    "newsgroups_tfidf",
    "read_20newsgroups",
]

NEWSGROUPS_URL = "http://qwone.com/~jason/20Newsgroups/20news-bydate.tar.gz"
NEWSGROUPS_MIRROR_URL = "https://ndownloader.figshare.com/files/5975967"
#: The SHA-256 scikit-learn verifies the archive against.
NEWSGROUPS_SHA256 = "8f1b2514ca22a5ade8fbb9cfa5727df95fa587f4c87b786e15c759fa66d95610"
#: The project's shared-data copy (re-packed, same posts): accepted in the cache too.
_SHARED_SHA256 = "d3566bbd68f29b91f0f151a95868f874d73a9960e50e7e38682d9a4fb36ffcda"
ARCHIVE = "20news-bydate.tar.gz"
FOLDER = "20newsgroups"
SPLIT_FOLDERS = ("20news-bydate-train", "20news-bydate-test")
DEFAULT_MAX_FEATURES = 10_000
_DOCS_VERSION = 1


def read_20newsgroups(
    archive: str | os.PathLike[str],
) -> tuple[list[str], np.ndarray, tuple[str, ...], int]:
    """Read all posts straight from ``20news-bydate.tar.gz`` (nothing is extracted).

    Parameters
    ----------
    archive : str or path-like

    Returns
    -------
    documents : list of str, length n
        The posts, decoded as latin-1, training posts first.
    labels : ndarray of int64, shape (n,)
        Index into ``class_names``.
    class_names : tuple of str
        The group names, sorted.
    n_train : int
        Number of training posts (the first rows).

    Raises
    ------
    FileNotFoundError
        When the archive does not exist.
    ValueError
        When it is truncated or not a gzip tar, lacks a split, or the two splits do not
        have the same groups.
    """
    path = Path(archive)
    if not path.is_file():
        raise FileNotFoundError(f"20 Newsgroups archive {path} does not exist")
    fix = "delete it and copy or download it again"
    posts: dict[str, dict[str, dict[str, bytes]]] = {split: {} for split in SPLIT_FOLDERS}
    try:
        with tarfile.open(path, mode="r|gz") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                parts = member.name.removeprefix("./").split("/")
                if len(parts) != 3 or parts[0] not in posts:
                    continue
                handle = tar.extractfile(member)
                if handle is None:  # pragma: no cover - isfile() members always have data
                    continue
                posts[parts[0]].setdefault(parts[1], {})[parts[2]] = handle.read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise ValueError(
            f"{path} is truncated or not a valid .tar.gz ({type(exc).__name__}: {exc}); {fix}"
        ) from exc
    train, test = (posts[split] for split in SPLIT_FOLDERS)
    for split in SPLIT_FOLDERS:
        if not posts[split]:
            raise ValueError(
                f"{path} holds no posts under {split}/; it is not the 20 Newsgroups bydate "
                f"archive or it is truncated: {fix}"
            )
    if sorted(train) != sorted(test):
        raise ValueError(
            f"{path}: the training split has groups {sorted(train)} but the test split "
            f"{sorted(test)}; the archive is truncated or not the bydate version: {fix}"
        )
    class_names = tuple(sorted(train))
    documents: list[str] = []
    labels: list[int] = []
    for split in SPLIT_FOLDERS:
        for label, group in enumerate(class_names):
            for name in sorted(posts[split][group]):
                documents.append(posts[split][group][name].decode("latin-1"))
                labels.append(label)
    n_train = sum(len(group) for group in train.values())
    return documents, np.asarray(labels, dtype=np.int64), class_names, n_train


# --------------------------------------------------------------------------- cache


def _write_docs(
    path: Path, documents: list[str], labels: np.ndarray, class_names: tuple[str, ...], n_train: int
) -> None:
    # latin-1 maps each character to one byte, so character offsets are byte offsets.
    blob = "".join(documents).encode("latin-1")
    lengths = np.fromiter((len(doc) for doc in documents), dtype=np.int64, count=len(documents))
    offsets = np.concatenate([[0], np.cumsum(lengths)])

    def write(handle: Any) -> None:
        np.savez(
            handle,
            version=np.int64(_DOCS_VERSION),
            text=np.frombuffer(blob, dtype=np.uint8),
            offsets=offsets,
            labels=labels,
            class_names=np.asarray(class_names),
            n_train=np.int64(n_train),
        )

    save_cache(path, write)


def _read_docs(path: Path) -> tuple[list[str], np.ndarray, tuple[str, ...], int] | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            if int(archive["version"]) != _DOCS_VERSION:
                return None
            text = archive["text"].tobytes().decode("latin-1")
            offsets = archive["offsets"].tolist()
            labels = archive["labels"].astype(np.int64)
            class_names = tuple(str(name) for name in archive["class_names"])
            n_train = int(archive["n_train"])
    except (OSError, ValueError, KeyError, EOFError, zlib.error) as exc:
        warn_damaged_cache(path, exc)
        return None
    if len(offsets) != labels.size + 1 or offsets[-1] != len(text) or n_train > labels.size:
        warn_damaged_cache(path, ValueError("inconsistent offsets, labels or n_train"))
        return None
    documents = [text[start:stop] for start, stop in itertools.pairwise(offsets)]
    return documents, labels, class_names, n_train


# --------------------------------------------------------------------------- sources


def _missing_message(data_dir: Path | None, cache_dir: Path, why: str) -> str:
    lines = ["20 Newsgroups was not found. Looked for:"]
    if data_dir is None:
        lines.append(f"  - no data directory is set (data_dir / --data-dir, or {ENV_DATA})")
    else:
        lines.append(f"  - {data_dir / FOLDER / ARCHIVE}")
    lines.append(f"  - {cache_dir / FOLDER / ARCHIVE}")
    lines.append(
        f"To get it: set {ENV_DATA} or --data-dir to a folder holding {FOLDER}/{ARCHIVE} "
        f"(from {NEWSGROUPS_URL}), or allow the download (download=True, {ENV_OFFLINE} unset)."
    )
    lines.append(why)
    return "\n".join(lines)


def _obtain_archive(
    data_dir: Path | None, cache_dir: Path, *, download: bool, progress: bool
) -> tuple[Path, str]:
    """The archive's path (verified) and its SHA-256."""
    if data_dir is not None and (data_dir / FOLDER / ARCHIVE).is_file():
        path = data_dir / FOLDER / ARCHIVE
        return path, verify_against_sha256sums(path, data_dir, cache_dir=cache_dir).sha256
    path = cache_dir / FOLDER / ARCHIVE
    if not path.is_file():
        if not download:
            why = "Downloading was not allowed (download=False)."
            raise FileNotFoundError(_missing_message(data_dir, cache_dir, why))
        if is_offline():
            why = f"Downloading is disabled ({ENV_OFFLINE} is set)."
            raise FileNotFoundError(_missing_message(data_dir, cache_dir, why))
        failures = []
        for url in (NEWSGROUPS_URL, NEWSGROUPS_MIRROR_URL):
            try:
                fetch(url, path, NEWSGROUPS_SHA256, progress=progress)
                break
            except (DownloadError, ValueError) as exc:
                failures.append(str(exc))
        else:
            why = "The downloads failed: " + " | ".join(failures)
            raise FileNotFoundError(_missing_message(data_dir, cache_dir, why))
    digest = file_digests(path, cache_dir=cache_dir).sha256
    if digest not in (NEWSGROUPS_SHA256, _SHARED_SHA256):
        raise ValueError(
            f"{path} is not a known 20 Newsgroups archive: its SHA-256 is {digest}, expected "
            f"{NEWSGROUPS_SHA256}; delete it and download {NEWSGROUPS_URL} again"
        )
    return path, digest


def load_20newsgroups(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = False,
) -> Dataset:
    """Load the 18,846 posts of 20 Newsgroups (bydate), training posts first.

    The first load parses the archive (a few seconds) and caches the posts in
    ``<cache>/20newsgroups-docs-<key>.npz``; later loads read that file.

    Parameters
    ----------
    data_dir : str or path-like, optional
        The data directory (``$HASHLEARN_DATA`` when None); the archive is in its
        ``20newsgroups/``.
    download : bool, default False
        Download the archive (14 MiB) into the cache when no copy exists.
        ``HASHLEARN_OFFLINE=1`` disables downloads whatever this says.
    cache_dir : str or path-like, optional
        The cache directory (``$HASHLEARN_CACHE``, else ``~/.cache/hashlearn``).
    progress : bool, default False
        Show a download progress bar.

    Returns
    -------
    Dataset
        ``name`` ``"20newsgroups"``; ``X`` an object ndarray of str, shape (18846,): the
        posts (raw text, to be turned into features, e.g. by :func:`newsgroups_tfidf`);
        ``y`` int64 (18846,); ``class_names`` the 20 group names, sorted (``y`` indexes
        them); ``n_train`` = 11314 (the official by-date split).

    Raises
    ------
    FileNotFoundError
        When the archive is missing and cannot be downloaded; the message names the paths
        looked at and the ``HASHLEARN_DATA`` variable.
    ValueError
        When the archive is corrupt (checksum mismatch, truncated, wrong layout).

    References
    ----------
    .. [1] K. Lang, "NewsWeeder: Learning to filter netnews", ICML 1995;
       http://qwone.com/~jason/20Newsgroups/

    Examples
    --------
    >>> news = load_20newsgroups("/path/to/data")  # doctest: +SKIP
    >>> news.n_samples, news.n_train  # doctest: +SKIP
    (18846, 11314)
    """
    data = get_data_dir(data_dir)
    cache = get_cache_dir(cache_dir)
    archive, digest = _obtain_archive(data, cache, download=download, progress=progress)
    key = digest[:16]
    docs_path = cache / f"20newsgroups-docs-{key}.npz"
    parsed = _read_docs(docs_path)
    if parsed is None:
        parsed = read_20newsgroups(archive)
        _write_docs(docs_path, *parsed)
    documents, labels, class_names, n_train = parsed
    texts = np.empty(len(documents), dtype=object)
    texts[:] = documents
    return Dataset(
        name="20newsgroups",
        X=texts,
        y=labels,
        class_names=class_names,
        source=f"20 Newsgroups bydate archive {archive}",
        n_train=n_train,
    )


def _vectorizer_params(max_features: int) -> dict[str, Any]:
    return {
        "max_features": max_features,
        "stop_words": "english",
        "lowercase": True,
        "sublinear_tf": False,
        "norm": "l2",
        "dtype": np.float32,
    }


def newsgroups_tfidf(
    dataset: Dataset,
    *,
    max_features: int = DEFAULT_MAX_FEATURES,
    dense: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
) -> np.ndarray | sp.csr_matrix:
    """TF-IDF of every post, with the vocabulary and IDF learned on the training posts only.

    scikit-learn's ``TfidfVectorizer(max_features=max_features, stop_words="english",
    norm="l2", dtype=float32)`` is fitted on rows ``0 .. n_train - 1`` (the test posts
    never influence the vocabulary or the IDF weights: they are the queries of the
    retrieval protocol) and then applied to all rows. The result is cached as a sparse
    matrix in ``<cache>/20newsgroups-tfidf-<key>.npz``, keyed by the posts, the parameters
    and the scikit-learn version.

    Parameters
    ----------
    dataset : Dataset
        As returned by :func:`load_20newsgroups` (``X`` the posts, ``n_train`` set).
    max_features : int, default 10000
        Vocabulary size: the most frequent terms of the training posts. 10,000 is the
        vocabulary used by the text-hashing papers on this dataset (VDSH, Chaidaroon and
        Fang 2017; NASH, Shen et al. 2018).
    dense : bool, default True
        Return a dense float32 ndarray (what the hashers accept; 18846 x 10000 is 754 MB),
        else a ``scipy.sparse.csr_matrix`` of float32.
    cache_dir : str or path-like, optional
        The cache directory.

    Returns
    -------
    ndarray or csr_matrix of float32, shape (n_samples, n_terms)
        Rows are L2-normalised (a post with no vocabulary term is a zero row);
        ``n_terms <= max_features``.

    Raises
    ------
    ValueError
        When ``max_features`` is not a positive int, or ``dataset`` has no posts or no
        training split.
    """
    if isinstance(max_features, bool) or not isinstance(max_features, (int, np.integer)):
        raise TypeError(f"max_features must be an int, got {type(max_features).__name__}")
    if max_features < 1:
        raise ValueError(f"max_features must be >= 1, got {max_features}")
    texts = dataset.X
    if texts.ndim != 1 or texts.size == 0 or not isinstance(texts[0], str):
        raise ValueError(
            f"dataset.X must be a non-empty 1-D array of str (the posts), got "
            f"{texts.dtype}{texts.shape}; pass the Dataset from load_20newsgroups"
        )
    if dataset.n_train is None or not 0 < dataset.n_train <= texts.size:
        raise ValueError(f"dataset.n_train must be in [1, {texts.size}], got {dataset.n_train}")
    import sklearn
    from sklearn.feature_extraction.text import TfidfVectorizer

    params = _vectorizer_params(int(max_features))
    digest = hashlib.sha256()
    for text in texts:
        digest.update(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest())
    setting = {
        "docs": digest.hexdigest(),
        "n_train": dataset.n_train,
        "params": {k: str(v) for k, v in params.items()},
        "sklearn": sklearn.__version__,
    }
    key = hashlib.sha256(json.dumps(setting, sort_keys=True).encode()).hexdigest()[:16]
    cache_path = get_cache_dir(cache_dir) / f"20newsgroups-tfidf-{key}.npz"
    matrix: sp.csr_matrix | None = None
    if cache_path.is_file():
        try:
            loaded = sp.load_npz(cache_path).tocsr()
            if loaded.shape[0] == texts.size and loaded.dtype == np.float32:
                matrix = loaded
            else:
                warn_damaged_cache(cache_path, ValueError(f"{loaded.dtype}{loaded.shape}"))
        except (OSError, ValueError, KeyError, EOFError, zlib.error) as exc:
            warn_damaged_cache(cache_path, exc)
    if matrix is None:
        vectorizer = TfidfVectorizer(**params)
        vectorizer.fit(list(texts[: dataset.n_train]))
        matrix = sp.csr_matrix(vectorizer.transform(list(texts)), dtype=np.float32)
        buffer = io.BytesIO()
        sp.save_npz(buffer, matrix, compressed=False)
        payload = buffer.getvalue()
        save_cache(cache_path, lambda handle: handle.write(payload))
    if dense:
        return np.asarray(matrix.toarray(), dtype=np.float32)
    return matrix


def load_20newsgroups_tfidf(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    max_features: int = DEFAULT_MAX_FEATURES,
    progress: bool = False,
    dense: bool = False,
) -> Dataset:
    """20 Newsgroups as float32 TF-IDF vectors, sparse by default (see :func:`newsgroups_tfidf`).

    Parameters
    ----------
    data_dir, download, cache_dir, progress
        As for :func:`load_20newsgroups`.
    max_features : int, default 10000
        Vocabulary size.
    dense : bool, default False
        Return ``X`` as a dense ndarray (754 MB at 10,000 terms) instead of a
        ``scipy.sparse.csr_matrix`` (about 10 MB). Hashers that take sparse input use it
        as it is; :func:`hashlearn.experiments.run_protocol` densifies it a block at a
        time for the others.

    Returns
    -------
    Dataset
        ``name`` ``"20newsgroups-tfidf"``; ``X`` float32 (18846, max_features), a CSR
        matrix unless ``dense``; ``y``, ``class_names``, ``n_train`` as for
        :func:`load_20newsgroups`.

    Examples
    --------
    >>> news = load_20newsgroups_tfidf("/path/to/data", max_features=2000)  # doctest: +SKIP
    >>> news.X.shape  # doctest: +SKIP
    (18846, 2000)
    """
    posts = load_20newsgroups(data_dir, download=download, cache_dir=cache_dir, progress=progress)
    features = newsgroups_tfidf(posts, max_features=max_features, dense=dense, cache_dir=cache_dir)
    return Dataset(
        name="20newsgroups-tfidf",
        X=features,
        y=posts.y,
        class_names=posts.class_names,
        source=f"TF-IDF ({features.shape[1]} terms, fitted on training posts) of {posts.source}",
        n_train=posts.n_train,
    )

"""The ``tutorial`` protocol: LSH against GRH, one hash table, Hamming-radius search.

Reproduces Sean Moran's learning-to-hash tutorial (docs/protocols.md, ``tutorial``):

1. data: CIFAR-10 GIST-512 (or another labelled feature set), every row L2-normalised,
   then centred on the **training** mean (the tutorial centred on the mean of all rows,
   queries included; we keep query statistics out of preprocessing);
2. split: ``train_test_split(test_size=0.002, random_state=42)`` gives the queries (120
   of 60,000); a second ``train_test_split(test_size=0.02, random_state=42)`` of the rest
   gives the training set (1,198) and the database (58,682);
3. for each method (LSH, GRH): fit on the training set, encode the database into one hash
   table keyed by the whole code, and for each query and each radius ``r = 0..R`` take
   every item in a bucket within Hamming radius ``r``, re-rank them by exact cosine
   distance on the features, keep the top ``k = 10`` and score the fraction with the
   query's class (divided by ``k``; see
   :func:`hashlearn.evaluation.tutorial_precision_at_k`);
4. time each query on its own (probe all radii ``<= r`` + re-rank), as a user issuing
   one query at a time would see it, beside an exhaustive cosine search over the whole
   database measured in the same run.
"""

from __future__ import annotations

import dataclasses
import numbers
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from hashlearn import codes as codes_module
from hashlearn import datasets
from hashlearn._environment import environment, peak_memory_mib
from hashlearn._progress import Progress, progress_bar
from hashlearn._validation import check_features, check_int, check_labels, check_n_bits
from hashlearn.datasets import Dataset
from hashlearn.evaluation import tutorial_precision_at_k
from hashlearn.experiments.protocols import TutorialSplit, tutorial_split
from hashlearn.experiments.specs import plain_params
from hashlearn.hashers import GraphRegularisedHashing, SignRandomProjection
from hashlearn.index import CosineReranker, HashTableIndex, Reranker
from hashlearn.index.hash_table import ProbeCostWarning

__all__ = [
    "DIGITS_NOTICE",
    "TUTORIAL_ANCHORS",
    "TUTORIAL_DATASETS",
    "TutorialConfig",
    "digits_notice",
    "load_tutorial_dataset",
    "preprocess_tutorial",
    "run_tutorial",
    "tutorial_sweep",
]

#: Published numbers of the tutorial (16 bits) and of its script run on our GIST features.
TUTORIAL_ANCHORS: dict[str, Any] = {
    "source": "Moran's learning-to-hash tutorial; docs/protocols.md",
    "precision_at_10": {"lsh": {"0": 0.10, "2": 0.30}, "grh": {"0": 0.25, "2": 0.40}},
    "tutorial_script_on_jpeg_gist_radius_0": {"lsh": 0.095, "grh": 0.248},
    "tutorial_query_ms": 500.0,
    "tutorial_brute_force_seconds": 53.0,
}


@dataclass(frozen=True)
class TutorialConfig:
    """Parameters of a tutorial run (all recorded in ``results.json``).

    Parameters
    ----------
    n_bits : int, default 16
        Code length of both methods (the hash table is keyed by the whole code).
    max_radius : int, default 10
        Radii ``0..max_radius`` are searched.
    k : int, default 10
        Precision is measured on the top ``k`` re-ranked candidates.
    query_size, train_size : float or int
        ``test_size`` of the two ``train_test_split`` calls (fractions or counts).
    split_seed : int, default 42
        ``random_state`` of both splits (the tutorial's).
    seed : int, default 0
        Seeds the hashers (LSH hyperplanes, GRH's initial codes and classifiers).
    grh_alpha, grh_n_iter : float, int, default 1.0 and 1
        GRH's regularisation weight and number of iterations, chosen on a validation
        split carved from the database side (``benchmarks/tutorial_validation.py``; the
        test queries are never used), and equal to the GRH paper's Table 3 setting.
    methods : tuple of str
        Which of ``"lsh"``, ``"grh"`` to run.
    """

    n_bits: int = 16
    max_radius: int = 10
    k: int = 10
    query_size: float | int = 0.002
    train_size: float | int = 0.02
    split_seed: int = 42
    seed: int = 0
    grh_alpha: float = 1.0
    grh_n_iter: int = 1
    methods: tuple[str, ...] = ("lsh", "grh")

    def __post_init__(self) -> None:
        # The hash table is keyed by the whole code, as a 64-bit integer.
        check_n_bits(self.n_bits, max_bits=64)
        check_int(self.max_radius, "max_radius", low=0, high=self.n_bits)
        check_int(self.k, "k", low=1)
        check_int(self.seed, "seed", low=0)
        check_int(self.split_seed, "split_seed", low=0)
        check_int(self.grh_n_iter, "grh_n_iter", low=1)
        if isinstance(self.grh_alpha, bool) or not isinstance(self.grh_alpha, numbers.Real):
            raise TypeError(f"grh_alpha must be a float in [0, 1], got {self.grh_alpha!r}")
        if not 0.0 <= self.grh_alpha <= 1.0:
            raise ValueError(f"grh_alpha must be in [0, 1], got {self.grh_alpha}")
        unknown = set(self.methods) - {"lsh", "grh"}
        if unknown or not self.methods:
            raise ValueError(
                f"methods must be a non-empty subset of ('lsh', 'grh'), got {self.methods}"
            )

    @classmethod
    def from_options(
        cls,
        *,
        n_bits: int = 16,
        max_radius: int | None = None,
        k: int = 10,
        seed: int = 0,
        grh_alpha: float | None = None,
        grh_n_iter: int | None = None,
    ) -> TutorialConfig:
        """The configuration of ``hashlearn tutorial``: None keeps a default.

        ``max_radius`` defaults to ``min(10, n_bits)`` (a radius beyond the code length
        finds nothing new).
        """
        overrides: dict[str, Any] = {}
        if grh_alpha is not None:
            overrides["grh_alpha"] = grh_alpha
        if grh_n_iter is not None:
            overrides["grh_n_iter"] = grh_n_iter
        radius = min(10, n_bits) if max_radius is None else max_radius
        return cls(n_bits=n_bits, max_radius=radius, k=k, seed=seed, **overrides)

    def adapted_to(self, dataset_name: str) -> TutorialConfig:
        """This configuration with the split sizes the dataset needs.

        The digits fallback has 1,797 rows: the tutorial's fractions would leave 4 queries,
        so it gets 120 queries and 300 training rows.
        """
        if dataset_name == "digits":
            return dataclasses.replace(self, **_DIGITS_SPLIT)
        return self


# The digits fallback has 1,797 rows: the tutorial's fractions would leave 4 queries.
_DIGITS_SPLIT: dict[str, Any] = {"query_size": 120, "train_size": 300}

#: What ``load_tutorial_dataset("auto")`` reports when it falls back to digits (offline;
#: when a download was tried, the reason it failed follows on the same line).
DIGITS_NOTICE = (
    "notice: CIFAR-10 not found, running on scikit-learn's digits instead; to use CIFAR-10, "
    "point --data-dir or HASHLEARN_DATA at a folder holding cifar10/cifar10-jpeg.tar.gz and "
    "cifar10/cifar10_order.csv (or cifar10/cifar-10-python.tar.gz), or run once with network "
    "access"
)

#: The longest reason :func:`digits_notice` quotes.
_MAX_REASON = 120


def digits_notice(failure: BaseException | None = None) -> str:
    """The one-line notice of the digits fallback, with why the download failed.

    Parameters
    ----------
    failure : exception, optional
        What loading CIFAR-10 raised. Its deepest cause is quoted (``[Errno -3] Temporary
        failure in name resolution``, not the multi-line list of places looked in), on one
        line and at most 120 characters.

    Returns
    -------
    str
        :data:`DIGITS_NOTICE`, followed by ``" (the download failed: REASON)"`` when
        ``failure`` is given.
    """
    if failure is None:
        return DIGITS_NOTICE
    cause = failure
    while cause.__cause__ is not None:
        cause = cause.__cause__
    reason = " ".join(str(getattr(cause, "reason", cause)).split()) or type(cause).__name__
    if len(reason) > _MAX_REASON:
        reason = reason[: _MAX_REASON - 3].rstrip() + "..."
    return f"{DIGITS_NOTICE} (the download failed: {reason})"


#: The datasets ``load_tutorial_dataset`` knows.
TUTORIAL_DATASETS = ("auto", "cifar10-gist", "cifar10-gist-mat", "digits")


def _print_notice(message: str) -> None:
    print(message, file=sys.stderr)


def load_tutorial_dataset(
    name: str = "auto",
    data_dir: str | os.PathLike[str] | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    mat: str | os.PathLike[str] | None = None,
    progress: bool = True,
    notify: Callable[[str], None] = _print_notice,
    n_jobs: int | None = 1,
) -> Dataset:
    """The tutorial's data: CIFAR-10 GIST-512, or scikit-learn's digits as a fallback.

    Parameters
    ----------
    name : {"auto", "cifar10-gist", "cifar10-gist-mat", "digits"}, default "auto"
        ``"auto"`` uses CIFAR-10 GIST when its files are found (or can be downloaded) and
        falls back to digits otherwise, telling ``notify`` why in one line
        (:func:`digits_notice`); ``"cifar10-gist-mat"`` reads the tutorial's own
        ``Gist512CIFAR10.mat`` (``mat``).
    data_dir, cache_dir : path, optional
        Data and cache directories (else ``$HASHLEARN_DATA``, ``$HASHLEARN_CACHE``).
    progress : bool, default True
        Show progress while GIST features are computed.
    notify : callable, default prints to standard error
        Receives the fallback notice.
    n_jobs : int or None, default 1
        Threads of the GIST computation, when the features are not cached yet (see
        :func:`hashlearn.features.gist.gist_features`): an int >= 1, -1 for every CPU,
        None to leave the thread pools as they are.
    """
    if name not in TUTORIAL_DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(TUTORIAL_DATASETS)}, got {name!r}")
    from hashlearn.features.gist import check_n_jobs  # the GIST extractor loads on demand

    check_n_jobs(n_jobs)
    if name == "auto":
        found = datasets.find_cifar10_source(data_dir, cache_dir=cache_dir)
        if found is None and datasets.is_offline():
            notify(DIGITS_NOTICE)
            return datasets.load_digits_dataset()
        try:
            return datasets.load_cifar10_gist(
                data_dir,
                cache_dir=cache_dir,
                download=found is None,
                progress=progress,
                n_jobs=n_jobs,
            )
        except (OSError, ValueError) as exc:
            if found is not None:
                raise
            notify(digits_notice(exc))
            return datasets.load_digits_dataset()
    if name == "cifar10-gist":
        return datasets.load_cifar10_gist(
            data_dir, cache_dir=cache_dir, progress=progress, n_jobs=n_jobs
        )
    if name == "cifar10-gist-mat":
        return datasets.load_gist_mat(mat, data_dir=data_dir, download=True)
    return datasets.load_digits_dataset()


def preprocess_tutorial(X: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """L2-normalise every row, then subtract the training rows' mean.

    Returns the preprocessed float32 features and the mean that was subtracted. Rows of
    zero norm are left at zero before centring.
    """
    features = np.asarray(X, dtype=np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", features, features))[:, None]
    features = np.divide(features, norms, out=np.zeros_like(features), where=norms > 0)
    mean = features[train].mean(axis=0)
    return features - mean, mean


def _make_hasher(name: str, config: TutorialConfig) -> Any:
    if name == "lsh":
        return SignRandomProjection(n_bits=config.n_bits, random_state=config.seed)
    return GraphRegularisedHashing(
        n_bits=config.n_bits,
        alpha=config.grh_alpha,
        n_iter=config.grh_n_iter,
        random_state=config.seed,
    )


def _standard_error(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    if finite.size < 2:
        return float("nan")
    return float(finite.std(ddof=1) / np.sqrt(finite.size))


def _run_method(
    name: str,
    config: TutorialConfig,
    features: np.ndarray,
    labels: np.ndarray,
    split: TutorialSplit,
    reranker: CosineReranker,
    tick: Callable[[str], None],
) -> dict[str, Any]:
    hasher = _make_hasher(name, config)
    X_train, y_train = features[split.train], labels[split.train]
    start = time.perf_counter()
    hasher.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - start
    tick(f"{name}: fitted")
    result = tutorial_sweep(hasher, config, features, labels, split, reranker, tick, name=name)
    return {
        "label": None,
        "params": plain_params(hasher.get_params()),
        "fit_seconds": fit_seconds,
        **result,
    }


def tutorial_sweep(
    hasher: Any,
    config: TutorialConfig,
    features: np.ndarray,
    labels: np.ndarray,
    split: TutorialSplit,
    reranker: CosineReranker | None = None,
    tick: Callable[[str], None] | None = None,
    *,
    name: str = "",
) -> dict[str, Any]:
    """The tutorial's measurement for one fitted hasher: P@10 and query time per radius.

    Encodes the database into one :class:`HashTableIndex` and, for each radius
    ``0..config.max_radius``, times every query on its own (probe + cosine re-ranking of
    the candidates) and scores the tutorial P@10 both ways (empty candidate sets skipped,
    and counted as 0). ``features`` must already be preprocessed; ``reranker`` (built on
    the database rows when None) holds the database vectors.

    Returns
    -------
    dict
        ``encode_seconds``, ``index_seconds``, ``code_statistics``, ``bucket_statistics``,
        ``radius``, ``precision_skip_empty``, ``precision_empty_as_zero``,
        ``precision_std_error``, ``empty_fraction``, ``mean_candidates``,
        ``mean_query_ms``, ``median_query_ms``, ``n_degenerate_bits``.
    """
    if reranker is None:
        reranker = CosineReranker(features[split.database])
    if tick is None:
        tick = _no_tick

    start = time.perf_counter()
    database_codes = hasher.encode(features[split.database])
    query_codes = hasher.encode(features[split.queries])
    encode_seconds = time.perf_counter() - start

    start = time.perf_counter()
    table = HashTableIndex(config.n_bits)
    table.add(database_codes)
    index_seconds = time.perf_counter() - start
    database_labels = labels[split.database]
    query_labels = labels[split.queries]
    query_vectors = features[split.queries]

    radii = list(range(config.max_radius + 1))
    n_queries = len(split.queries)
    times = np.zeros((len(radii), n_queries))
    candidates = np.zeros((len(radii), n_queries), dtype=np.int64)
    precision_skip, precision_zero, empty, stderr = [], [], [], []
    # The sweep deliberately reaches radii where the table scans instead of probing.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProbeCostWarning)
        for r_pos, radius in enumerate(radii):
            # One untimed call first: the compiled kernels of this radius's strategy are
            # loaded on first use, which is not a query's cost.
            table.range_search(query_codes[:1], radius)
            # Timed path: one query at a time, exactly as a user would call it.
            for i in range(n_queries):
                start = time.perf_counter()
                lims, _, found = table.range_search(query_codes[i : i + 1], radius)
                reranker.search(query_vectors[i : i + 1], lims, found, config.k)
                times[r_pos, i] = time.perf_counter() - start
                candidates[r_pos, i] = lims[-1]
            # Scored path: the metric's own definition on all queries at once.
            lims, _, found = table.range_search(query_codes, radius)
            # float64 re-ranking, so which distances tie does not depend on the input dtype
            database_float64 = np.asarray(reranker.database_vectors, dtype=np.float64)
            queries_float64 = np.asarray(query_vectors, dtype=np.float64)
            _, ranked = Reranker(database_float64, "cosine").rerank(
                queries_float64, lims, found, config.k
            )
            score = tutorial_precision_at_k(ranked, query_labels, database_labels, k=config.k)
            precision_skip.append(_none_if_nan(score.skip_empty))
            precision_zero.append(float(score.empty_as_zero))
            empty.append(float(score.empty_fraction))
            stderr.append(_standard_error(np.asarray(score.per_query, dtype=float)))
            tick(f"{name}: radius {radius}")

    stats = table.bucket_statistics(labels=database_labels)
    return {
        "encode_seconds": encode_seconds,
        "index_seconds": index_seconds,
        "code_statistics": codes_module.code_statistics(database_codes, config.n_bits),
        "bucket_statistics": _bucket_summary(stats),
        "radius": radii,
        "precision_skip_empty": precision_skip,
        "precision_empty_as_zero": precision_zero,
        "precision_std_error": stderr,
        "empty_fraction": empty,
        "mean_candidates": candidates.mean(axis=1).tolist(),
        "mean_query_ms": (times.mean(axis=1) * 1e3).tolist(),
        "median_query_ms": (np.median(times, axis=1) * 1e3).tolist(),
        "n_degenerate_bits": getattr(hasher, "n_degenerate_bits_", None),
    }


def _no_tick(message: str) -> None:
    del message


def _none_if_nan(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _bucket_summary(stats: Any) -> dict[str, Any]:
    summary = {
        "n_buckets": int(stats.n_buckets),
        "largest_bucket": int(stats.largest_bucket),
        "mean_occupancy": float(stats.mean_occupancy),
        "collision_fraction": float(stats.collision_fraction),
        "occupancy_histogram": {
            str(size): int(count) for size, count in stats.occupancy_histogram.items()
        },
    }
    purity = getattr(stats, "label_purity", None)
    if purity is not None:
        summary["label_purity"] = float(purity)
    return summary


def _exhaustive(
    config: TutorialConfig,
    features: np.ndarray,
    labels: np.ndarray,
    split: TutorialSplit,
    reranker: CosineReranker,
) -> dict[str, Any]:
    """Cosine distance to every database item, top k: the baseline hashing must beat.

    Timed one query at a time like the hash-table path, and scored by the same metric with
    every database item as a candidate.
    """
    n_database, n_queries = len(split.database), len(split.queries)
    everything = np.arange(n_database, dtype=np.int64)
    whole = np.array([0, n_database], dtype=np.int64)
    query_vectors = features[split.queries]
    times = np.zeros(n_queries)
    for i in range(n_queries):
        start = time.perf_counter()
        reranker.search(query_vectors[i : i + 1], whole, everything, config.k)
        times[i] = time.perf_counter() - start
    # float64 re-ranking of every database item, so ties do not depend on the input dtype
    database_float64 = np.asarray(reranker.database_vectors, dtype=np.float64)
    queries_float64 = np.asarray(query_vectors, dtype=np.float64)
    _, ranked = Reranker(database_float64, "cosine").rerank(
        queries_float64,
        np.arange(n_queries + 1, dtype=np.int64) * n_database,
        np.tile(everything, n_queries),
        config.k,
    )
    score = tutorial_precision_at_k(
        ranked, labels[split.queries], labels[split.database], k=config.k
    )
    return {
        "precision_at_k": float(score.empty_as_zero),
        "precision_std_error": _standard_error(np.asarray(score.per_query, dtype=float)),
        "mean_query_ms": float(times.mean() * 1e3),
        "total_seconds": float(times.sum()),
    }


def run_tutorial(
    X: Any,
    y: Any,
    config: TutorialConfig | None = None,
    *,
    dataset_name: str = "custom",
    dataset_source: str = "arrays",
    progress: Progress = False,
) -> dict[str, Any]:
    """Run the tutorial protocol on features ``X`` with class labels ``y``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Raw features (e.g. GIST-512); preprocessing is part of the protocol.
    y : array-like of shape (n_samples,)
        Class labels (relevance = same class).
    config : TutorialConfig, optional
    dataset_name, dataset_source : str
        Recorded in the results.
    progress : bool or callable
        True shows a progress bar; a callable receives one short message per step.

    Returns
    -------
    dict
        JSON-serialisable results: ``config``, ``dataset``, ``environment``,
        ``exhaustive`` and one entry per method under ``methods`` (see the report module
        for the fields).
    """
    config = config or TutorialConfig()
    features = check_features(X, name="X", min_samples=3)
    labels = check_labels(y, features.shape[0])
    if labels.ndim != 1:
        raise ValueError("the tutorial protocol needs single-label y (relevance = same class)")
    split = tutorial_split(
        features.shape[0],
        query_size=config.query_size,
        train_size=config.train_size,
        random_state=config.split_seed,
    )
    features, _ = preprocess_tutorial(features, split.train)
    steps = len(config.methods) * (config.max_radius + 2) + 1
    tick, close = progress_bar(progress, steps, desc="tutorial")
    try:
        reranker = CosineReranker(features[split.database])
        results_methods = {
            name: _run_method(name, config, features, labels, split, reranker, tick)
            for name in config.methods
        }
        exhaustive = _exhaustive(config, features, labels, split, reranker)
        tick("exhaustive search")
    finally:
        close()
    return {
        "protocol": "tutorial",
        "config": dataclasses.asdict(config),
        "dataset": {
            "name": dataset_name,
            "source": dataset_source,
            "n_samples": int(features.shape[0]),
            "n_features": int(features.shape[1]),
            "n_queries": len(split.queries),
            "n_train": len(split.train),
            "n_database": len(split.database),
            "n_classes": int(np.unique(labels).size),
            "preprocessing": "L2-normalise rows, subtract the training mean",
        },
        "environment": environment(),
        "anchors": TUTORIAL_ANCHORS,
        "exhaustive": exhaustive,
        "methods": results_methods,
        "peak_memory_mib": peak_memory_mib(),
    }

"""The protocol registry: every evaluation protocol of ``docs/protocols.md`` by name.

A protocol fixes the data, how queries, database, training and validation sets are drawn,
the preprocessing and the metrics, so that ``hashlearn bench --protocol NAME`` reruns a
paper's table. Parameters can be changed in the spec (``"grh-cifar10:n_train=2000"``);
:func:`resolve_protocol` validates them.

Rules every protocol follows
----------------------------
* **Seeded.** The split of seed ``s`` is drawn from ``numpy.random.default_rng(s)`` (the
  ``tutorial`` protocol uses its fixed ``train_test_split(random_state=42)`` instead), so
  one seed is one random split, identical for every method and code length.
* **Queries first.** Queries are drawn first (class-balanced where the protocol says so:
  ``n_queries / n_classes`` per class); the database is every other row (or the official
  training rows). Training and validation sets are then drawn from the database, never
  from the queries, and are disjoint from each other; they stay in the database, as in
  the papers (the GRH protocol samples T "from the database").
* **Preprocessing statistics come from the training rows only** (the mean for centring;
  L2 normalisation is per row and needs none).
* **Validation** rows (up to ``n_validation``, class-balanced when possible) are for choosing
  hyperparameters: the runner scores candidate values with validation rows as queries
  against the database without them, and never looks at the queries.
* **Relevance** is the same class, or at least one shared label for multi-label data
  (``mirflickr-tags``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.model_selection import train_test_split

from hashlearn._validation import check_int
from hashlearn.experiments.specs import format_spec, parse_spec

__all__ = [
    "PREPROCESSING",
    "PROTOCOLS",
    "Protocol",
    "ProtocolSplit",
    "TutorialSplit",
    "format_protocols",
    "make_split",
    "preprocess",
    "resolve_protocol",
    "tutorial_split",
]

#: Feature preprocessing choices; statistics come from the training rows only.
PREPROCESSING = ("none", "l2", "center", "l2-center", "standardize")

_QUERY_MODES = ("balanced", "random", "official", "tutorial")
_GROUND_TRUTH = ("none", "euclidean", "cosine")


@dataclass(frozen=True)
class Protocol:
    """An evaluation protocol (see the module docstring for the rules).

    Parameters
    ----------
    name : str
        Registry name (``"grh-cifar10"``).
    description : str
        One line: data, split and metric, as in ``docs/protocols.md``.
    dataset : str
        Dataset name for :func:`hashlearn.datasets.load_dataset`; ``features`` may
        replace it for CIFAR-10 protocols.
    query : {"balanced", "random", "official", "tutorial"}
        How queries are drawn: class-balanced sample, uniform sample, the official test
        rows (optionally a random sample of ``n_queries`` of them), or the tutorial's
        ``train_test_split``.
    n_queries : int or None
        Number of queries (None: every official test row).
    n_train : int or None
        Training points sampled from the database (None: the whole database).
    n_validation : int
        Validation points sampled from the database, disjoint from training (0: none).
    balanced_train : bool
        Draw training and validation points class-balanced (single-label data only).
    supervised : bool
        Whether the protocol gives methods the training labels.
    preprocess : str
        One of :data:`PREPROCESSING`.
    bits : tuple of int
        Default code lengths.
    seeds : int
        Default number of seeds (random splits).
    map_ks : tuple of int
        K values of mAP@K, besides mAP@all.
    precision_ks : tuple of int
        K values of P@K.
    primary_metrics : tuple of str
        The metrics the protocol's paper reports (the report leads with them).
    features : str or None
        For CIFAR-10 protocols: ``"gist"`` (GIST-512) or ``"pixels"`` (raw 3,072-d); None
        when the dataset has one kind of features.
    max_radius : int
        Hash-table lookups are timed for radii ``0..max_radius``.
    ground_truth : {"none", "euclidean", "cosine"}
        ANN-style evaluation besides the label metrics: the exact ``ground_truth_k``
        nearest database items of each query in the (preprocessed) feature space, and
        recall@R of the Hamming ranking against them for R = 1, 10, 100, 1000.
    ground_truth_k : int
        How many true neighbours per query (1 gives the "nearest neighbour within the top
        R" recall; 10 or 100 the usual k-NN recall).
    """

    name: str
    description: str
    dataset: str
    query: str
    n_queries: int | None
    n_train: int | None
    n_validation: int
    balanced_train: bool
    supervised: bool
    preprocess: str
    bits: tuple[int, ...]
    seeds: int
    map_ks: tuple[int, ...] = ()
    precision_ks: tuple[int, ...] = (10, 100, 1000)
    primary_metrics: tuple[str, ...] = ("map",)
    features: str | None = None
    max_radius: int = 3
    ground_truth: str = "none"
    ground_truth_k: int = 10
    overrides: dict[str, Any] = field(default_factory=dict, compare=False)

    #: Parameters a spec may set.
    TUNABLE = (
        "n_queries",
        "n_train",
        "n_validation",
        "preprocess",
        "features",
        "query",
        "max_radius",
        "supervised",
        "ground_truth",
        "ground_truth_k",
    )

    @property
    def spec(self) -> str:
        """Canonical spec: the name and the parameters set on it."""
        return format_spec(self.name, self.overrides)

    @property
    def dataset_name(self) -> str:
        """The dataset to load, after the ``features`` choice."""
        if self.features is None:
            return self.dataset
        return {"gist": "cifar10-gist", "pixels": "cifar10"}[self.features]

    def params(self) -> dict[str, Any]:
        """Every resolved parameter, JSON-ready (for records)."""
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in dataclasses.asdict(self).items()
            if key not in ("name", "description", "overrides")
        }


PROTOCOLS: dict[str, Protocol] = {
    protocol.name: protocol
    for protocol in (
        Protocol(
            name="tutorial",
            description=(
                "Moran's tutorial: CIFAR-10 GIST-512, L2-normalised and centred; 120 queries, "
                "1,198 training, 58,682 database (train_test_split, random_state=42); tutorial "
                "P@10 after cosine re-ranking of a hash-table lookup, radius 0..10"
            ),
            dataset="cifar10-gist",
            query="tutorial",
            n_queries=None,
            n_train=None,
            n_validation=0,
            balanced_train=False,
            supervised=True,
            preprocess="l2-center",
            bits=(16,),
            seeds=1,
            precision_ks=(10, 100),
            primary_metrics=("tutorial", "map"),
            max_radius=10,
        ),
        Protocol(
            name="grh-cifar10",
            description=(
                "GRH paper: CIFAR-10 GIST-512; 1,000 queries (100 per class), database the "
                "other 59,000; T training points sampled from the database (100 per class "
                "per 1,000); 1,000 validation points; mAP@all and P@r2"
            ),
            dataset="cifar10-gist",
            query="balanced",
            n_queries=1000,
            n_train=1000,
            n_validation=1000,
            balanced_train=True,
            supervised=True,
            preprocess="none",
            bits=(16, 32, 48, 64),
            seeds=5,
            primary_metrics=("map", "precision_within_radius_2"),
        ),
        Protocol(
            name="grh-mnist",
            description=(
                "GRH paper: MNIST 784-d pixels, L2-normalised; 1,000 queries (100 per class), "
                "69,000 database, T = 1,000 training points from the database; mAP@all, P@r2"
            ),
            dataset="mnist",
            query="balanced",
            n_queries=1000,
            n_train=1000,
            n_validation=1000,
            balanced_train=True,
            supervised=True,
            preprocess="l2",
            bits=(16, 32, 48, 64),
            seeds=5,
            primary_metrics=("map", "precision_within_radius_2"),
        ),
        Protocol(
            name="dsh-cifar10",
            description=(
                "DSH paper: CIFAR-10 official split, 50,000 training images = database, "
                "10,000 test images = queries (GIST-512 for shallow methods); mAP@all, P@r2"
            ),
            dataset="cifar10",
            query="official",
            n_queries=None,
            n_train=None,
            n_validation=0,
            balanced_train=True,
            supervised=True,
            preprocess="none",
            bits=(12, 24, 36, 48),
            seeds=1,
            primary_metrics=("map", "precision_within_radius_2"),
            features="gist",
        ),
        Protocol(
            name="cifar10-1",
            description=(
                "CIFAR-10 setting 1: 1,000 queries (100 per class), 59,000 database, 5,000 "
                "training points (500 per class) sampled from the database; mAP@all"
            ),
            dataset="cifar10",
            query="balanced",
            n_queries=1000,
            n_train=5000,
            n_validation=1000,
            balanced_train=True,
            supervised=True,
            preprocess="none",
            bits=(16, 32, 48, 64),
            seeds=1,
            features="pixels",
        ),
        Protocol(
            name="cifar10-2",
            description=(
                "CIFAR-10 setting 2 (unsupervised): 10,000 queries (1,000 per class), the "
                "other 50,000 are database and training set; no labels; mAP@1000"
            ),
            dataset="cifar10",
            query="balanced",
            n_queries=10000,
            n_train=None,
            n_validation=0,
            balanced_train=True,
            supervised=False,
            preprocess="none",
            bits=(16, 32, 64),
            seeds=1,
            map_ks=(1000,),
            primary_metrics=("map_at_k_1000",),
            features="gist",
        ),
        Protocol(
            name="mnist-deep",
            description=(
                "MNIST official split for deep methods: the 10,000 test images query the "
                "60,000 training images (database and training set); mAP@all, P@r2"
            ),
            dataset="mnist",
            query="official",
            n_queries=None,
            n_train=None,
            n_validation=0,
            balanced_train=True,
            supervised=True,
            preprocess="none",
            bits=(12, 24, 36, 48),
            seeds=1,
            primary_metrics=("map", "precision_within_radius_2"),
        ),
        Protocol(
            name="mirflickr-tags",
            description=(
                "MIRFlickr-25K tag vectors (1,386-d), 24 labels, relevant = at least one "
                "shared label; 2,000 random queries, rest database, 5,000 training; mAP@all, P@K"
            ),
            dataset="mirflickr25k",
            query="random",
            n_queries=2000,
            n_train=5000,
            n_validation=1000,
            balanced_train=False,
            supervised=True,
            preprocess="none",
            bits=(16, 32, 48, 64),
            seeds=5,
            precision_ks=(10, 100, 1000, 5000),
            primary_metrics=("map", "precision_at_k_100"),
        ),
        Protocol(
            name="20ng-text",
            description=(
                "20 Newsgroups bydate as the semantic-hashing papers run it: sparse TF-IDF "
                "(10,000 most frequent terms after stop-word removal, fitted on the training "
                "posts); the 7,532 official test posts query the 11,314 training posts "
                "(database and training set); P@100 (relevance: same newsgroup), mAP@all"
            ),
            dataset="20newsgroups-tfidf",
            query="official",
            n_queries=None,
            n_train=None,
            n_validation=0,
            balanced_train=True,
            supervised=True,
            preprocess="none",
            bits=(8, 16, 32, 64, 128),
            seeds=1,
            precision_ks=(10, 100, 1000),
            primary_metrics=("precision_at_k_100", "map"),
        ),
    )
}


def _check_optional_count(name: str, value: Any, low: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"protocol parameter {name} must be an int or none, got {value!r}")
    if value < low:
        raise ValueError(f"protocol parameter {name} must be >= {low}, got {value}")
    return int(value)


def resolve_protocol(spec: str | Protocol, **params: Any) -> Protocol:
    """A registered protocol with the parameters of a spec (and ``params``) applied.

    Parameters
    ----------
    spec : str or Protocol
        ``"NAME"`` or ``"NAME:key=value,..."`` (see :attr:`Protocol.TUNABLE`).
    **params
        More parameters; they win over the spec's.

    Raises
    ------
    ValueError
        For an unknown protocol or parameter, or an invalid value.

    Examples
    --------
    >>> resolve_protocol("grh-cifar10:n_train=2000").n_train
    2000
    >>> resolve_protocol("grh-cifar10:n_train=2000").spec
    'grh-cifar10:n_train=2000'
    """
    if isinstance(spec, Protocol):
        base, overrides = PROTOCOLS.get(spec.name, spec), dict(spec.overrides)
    else:
        name, overrides = parse_spec(spec, what="protocol")
        if name not in PROTOCOLS:
            known = ", ".join(PROTOCOLS)
            raise ValueError(f"unknown protocol {name!r}; known protocols: {known}")
        base = PROTOCOLS[name]
    overrides.update(params)
    unknown = sorted(set(overrides) - set(Protocol.TUNABLE))
    if unknown:
        raise ValueError(
            f"protocol {base.name} has no parameter {', '.join(map(repr, unknown))}; "
            f"parameters: {', '.join(Protocol.TUNABLE)}"
        )
    for key in ("n_queries", "n_train"):
        if key in overrides:
            overrides[key] = _check_optional_count(key, overrides[key], 1)
    if "n_validation" in overrides:
        overrides["n_validation"] = _check_optional_count(
            "n_validation", overrides["n_validation"], 0
        )
        if overrides["n_validation"] is None:
            overrides["n_validation"] = 0
    if "max_radius" in overrides:
        overrides["max_radius"] = _check_optional_count("max_radius", overrides["max_radius"], 0)
    if overrides.get("preprocess", base.preprocess) not in PREPROCESSING:
        raise ValueError(
            f"protocol parameter preprocess must be one of {', '.join(PREPROCESSING)}, "
            f"got {overrides['preprocess']!r}"
        )
    if overrides.get("query", base.query) not in _QUERY_MODES:
        raise ValueError(
            f"protocol parameter query must be one of {', '.join(_QUERY_MODES)}, "
            f"got {overrides['query']!r}"
        )
    if "features" in overrides:
        if base.features is None:
            raise ValueError(f"protocol {base.name} has one kind of features; drop 'features'")
        if overrides["features"] not in ("gist", "pixels"):
            raise ValueError(
                f"protocol parameter features must be 'gist' or 'pixels', "
                f"got {overrides['features']!r}"
            )
    if overrides.get("ground_truth", base.ground_truth) not in _GROUND_TRUTH:
        raise ValueError(
            f"protocol parameter ground_truth must be one of {', '.join(_GROUND_TRUTH)}, "
            f"got {overrides['ground_truth']!r}"
        )
    if "ground_truth_k" in overrides:
        value = _check_optional_count("ground_truth_k", overrides["ground_truth_k"], 1)
        if value is None:
            raise TypeError("protocol parameter ground_truth_k must be an int >= 1")
        overrides["ground_truth_k"] = value
    if "supervised" in overrides and not isinstance(overrides["supervised"], bool):
        raise TypeError(
            f"protocol parameter supervised must be true or false, got {overrides['supervised']!r}"
        )
    # Canonical spec: a parameter set to the registered value is no override, so
    # "grh-cifar10:n_train=1000" and "grh-cifar10" are the same run (and resume as one).
    overrides = {key: value for key, value in overrides.items() if getattr(base, key) != value}
    return dataclasses.replace(base, **overrides, overrides=overrides)


# --------------------------------------------------------------------------------------
# Splits
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProtocolSplit:
    """Row indices of one split (int64, sorted, into the dataset's rows).

    ``queries`` and ``database`` are disjoint and cover every row (for ``official``
    splits with a query sample, the test rows left out are in neither). ``train`` and
    ``validation`` are disjoint subsets of ``database``: a protocol that trains on the
    whole database trains on the database minus the validation rows.
    """

    queries: NDArray[np.int64]
    database: NDArray[np.int64]
    train: NDArray[np.int64]
    validation: NDArray[np.int64]

    def sizes(self) -> dict[str, int]:
        """Set sizes, for records."""
        return {
            "n_queries": int(self.queries.size),
            "n_database": int(self.database.size),
            "n_train": int(self.train.size),
            "n_validation": int(self.validation.size),
        }


@dataclass(frozen=True)
class TutorialSplit:
    """Row indices of the three disjoint parts of the tutorial split."""

    queries: np.ndarray
    train: np.ndarray
    database: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)


def tutorial_split(
    n_samples: int,
    *,
    query_size: float | int = 0.002,
    train_size: float | int = 0.02,
    random_state: int = 42,
) -> TutorialSplit:
    """The tutorial's two ``train_test_split`` calls, on row indices.

    ``train_test_split`` permutes independently of the array's content, so splitting
    ``arange(n)`` selects exactly the rows the tutorial's ``train_test_split(data, ...)``
    selects.
    """
    indices = np.arange(check_int(n_samples, "n_samples", low=3))
    rest, queries = train_test_split(indices, test_size=query_size, random_state=random_state)
    database, train = train_test_split(rest, test_size=train_size, random_state=random_state)
    return TutorialSplit(queries=queries, train=train, database=database)


def _sample(
    rows: np.ndarray,
    size: int,
    labels: np.ndarray | None,
    rng: np.random.Generator,
    what: str,
    *,
    up_to: bool = False,
) -> np.ndarray:
    """``size`` rows of ``rows``: class-balanced when ``labels`` (of ``rows``) is given.

    With ``up_to``, a class with too few rows gives all it has and the rest is drawn
    uniformly, instead of raising.
    """
    if size > rows.size:
        raise ValueError(f"cannot draw {size} {what} from {rows.size} rows")
    if labels is None:
        return np.sort(rng.choice(rows, size, replace=False))
    classes = np.unique(labels)
    per_class = size // classes.size
    chosen = []
    for label in classes:
        members = rows[labels == label]
        if up_to:
            chosen.append(rng.choice(members, min(per_class, members.size), replace=False))
            continue
        if members.size < per_class:
            raise ValueError(
                f"class-balanced {what}: class {label} has {members.size} rows, "
                f"{per_class} needed ({size} over {classes.size} classes)"
            )
        chosen.append(rng.choice(members, per_class, replace=False))
    picked = np.concatenate(chosen) if chosen else np.empty(0, dtype=np.int64)
    missing = size - picked.size
    if missing:
        # The remainder of the division (and, with ``up_to``, what short classes could not
        # give) comes uniformly from the rows left.
        left = np.setdiff1d(rows, picked)
        picked = np.concatenate([picked, rng.choice(left, min(missing, left.size), replace=False)])
    return np.sort(picked)


def make_split(
    protocol: Protocol, labels: np.ndarray, seed: int, *, n_official_train: int | None = None
) -> ProtocolSplit:
    """Draw the split of one seed.

    Parameters
    ----------
    protocol : Protocol
    labels : ndarray, shape (n_samples,) or (n_samples, n_labels)
        Class labels (or a multi-label indicator matrix, which makes every draw uniform).
    seed : int
        Seeds the draw (the ``tutorial`` split ignores it: it is fixed).
    n_official_train : int or None
        For ``query="official"``: rows ``0..n_official_train-1`` are the official training
        rows (the database), the rest are the test rows (the queries).

    Returns
    -------
    ProtocolSplit
    """
    labels = np.asarray(labels)
    n_samples = labels.shape[0]
    all_rows = np.arange(n_samples, dtype=np.int64)
    single = labels.ndim == 1
    rng = np.random.default_rng(seed)
    if protocol.query == "tutorial":
        parts = tutorial_split(n_samples)
        return ProtocolSplit(
            np.sort(parts.queries).astype(np.int64),
            np.sort(parts.database).astype(np.int64),
            np.sort(parts.train).astype(np.int64),
            np.empty(0, dtype=np.int64),
        )
    if protocol.query == "official":
        if n_official_train is None or not 0 < n_official_train < n_samples:
            raise ValueError(
                f"protocol {protocol.name} uses the official train/test split, but the data "
                "has none (give X_query/y_query, or a dataset with an official split)"
            )
        database = all_rows[:n_official_train]
        queries = all_rows[n_official_train:]
        if protocol.n_queries is not None and protocol.n_queries < queries.size:
            queries = _sample(queries, protocol.n_queries, None, rng, "queries")
    else:
        n_queries = protocol.n_queries if protocol.n_queries is not None else 1000
        balanced = protocol.query == "balanced" and single
        queries = _sample(all_rows, n_queries, labels if balanced else None, rng, "queries")
        database = np.setdiff1d(all_rows, queries)
    balanced_train = protocol.balanced_train and single
    n_train = protocol.n_train
    validation = np.empty(0, dtype=np.int64)
    if n_train is None or n_train >= database.size:
        # Training on "the database": the validation rows (if any) are held out of it, so
        # that hyperparameters are never scored on training points.
        if protocol.n_validation:
            size = min(protocol.n_validation, database.size - 1)
            validation = _sample(
                database,
                size,
                labels[database] if balanced_train else None,
                rng,
                "validation points",
                up_to=True,
            )
        train = np.setdiff1d(database, validation)
    else:
        train = _sample(
            database,
            n_train,
            labels[database] if balanced_train else None,
            rng,
            "training points",
        )
        pool = np.setdiff1d(database, train)
        size = min(protocol.n_validation, pool.size)
        if size:
            validation = _sample(
                pool,
                size,
                labels[pool] if balanced_train else None,
                rng,
                "validation points",
                up_to=True,
            )
    return ProtocolSplit(queries, database, train, validation)


def _preprocess_sparse(X: Any, method: str) -> tuple[Any, dict[str, Any]]:
    """Sparse features (TF-IDF, word counts) stay sparse: CSR float32, or refused.

    Centring and standardising would make every entry non-zero (a dense corpus); they are
    refused with the way out instead.
    """
    if method not in ("none", "l2"):
        raise ValueError(
            f"preprocess={method!r} would densify the sparse features (every entry becomes "
            "non-zero); use preprocess none or l2 for sparse data, or pass dense features"
        )
    features = sp.csr_matrix(X, dtype=np.float32)
    if method == "none":
        return features, {}
    norms = np.sqrt(np.asarray(features.multiply(features).sum(axis=1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(scale.astype(np.float32)) @ features), {
        "n_zero_rows": int((norms == 0).sum())
    }


def preprocess(X: np.ndarray, train: np.ndarray, method: str) -> tuple[np.ndarray, dict[str, Any]]:
    """Apply a preprocessing choice with statistics from the training rows only.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
        Sparse features stay sparse (CSR float32): ``"none"`` and ``"l2"`` only.
    train : ndarray of int
        Training rows: the only rows the mean and scale are computed from.
    method : str
        One of :data:`PREPROCESSING`: ``"none"``; ``"l2"`` (every row to unit norm, zero
        rows stay zero); ``"center"`` (subtract the training mean); ``"l2-center"`` (both,
        in that order); ``"standardize"`` (subtract the training mean, divide by the
        training standard deviation, constant features left unscaled).

    Returns
    -------
    features : ndarray of float32 (``X`` itself for ``"none"`` when it is float32 or
        uint8 pixels)
    statistics : dict
        What was computed, for records (norms of the mean and scale vectors).
    """
    if method not in PREPROCESSING:
        raise ValueError(f"preprocess must be one of {', '.join(PREPROCESSING)}, got {method!r}")
    if sp.issparse(X):
        return _preprocess_sparse(X, method)
    if method == "none":
        if X.dtype == np.uint8:
            # Pixels stay uint8: a quarter of the memory, and deep hashers read them as images.
            return X, {}
        return np.asarray(X, dtype=np.float32), {}
    features = np.array(X, dtype=np.float32, copy=True)  # never modify the caller's array
    statistics: dict[str, Any] = {}
    if method in ("l2", "l2-center"):
        norms = np.sqrt(np.einsum("ij,ij->i", features, features))[:, None]
        np.divide(features, norms, out=features, where=norms > 0)
        statistics["n_zero_rows"] = int((norms == 0).sum())
    if method in ("center", "l2-center", "standardize"):
        mean = features[train].mean(axis=0, dtype=np.float64).astype(np.float32)
        features -= mean
        statistics["mean_norm"] = float(np.linalg.norm(mean))
    if method == "standardize":
        scale = features[train].std(axis=0, dtype=np.float64).astype(np.float32)
        scale[scale == 0] = 1.0
        features /= scale
        statistics["scale_mean"] = float(scale.mean())
    return features, statistics


def describe_protocols() -> list[Mapping[str, Any]]:
    """One row per protocol, for ``hashlearn bench --list-protocols``."""
    return [
        {
            "name": p.name,
            "dataset": p.dataset_name,
            "bits": list(p.bits),
            "seeds": p.seeds,
            "description": p.description,
        }
        for p in PROTOCOLS.values()
    ]


def format_protocols() -> str:
    """Two lines per protocol (name, dataset, bits, seeds; description).

    What ``hashlearn bench --list-protocols`` prints.
    """
    lines = []
    for protocol in PROTOCOLS.values():
        bits = ",".join(map(str, protocol.bits))
        lines.append(
            f"{protocol.name:<16} {protocol.dataset_name:<20} bits {bits:<14} "
            f"seeds {protocol.seeds}"
        )
        lines.append(f"{'':<16} {protocol.description}")
    return "\n".join(lines)

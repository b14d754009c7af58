"""The benchmark runner: protocol x methods x bits x seeds -> one JSON record each.

:func:`run_benchmark` (behind ``hashlearn bench``) and :func:`run_protocol` (arrays in,
records out) share one loop. For every seed the protocol's split is drawn and the
features preprocessed once (training statistics only); then for every method and code
length one *record* is computed:

1. build the hasher from its spec, seeded with the seed; fit it on the training rows
   (with their labels when the protocol and the method are supervised);
2. encode the database and the queries; index the database codes
   (:class:`~hashlearn.index.LinearScanIndex`) and time an exact k-NN search of every
   query;
3. evaluate the Hamming ranking of every query against the whole database
   (:func:`hashlearn.evaluation.evaluate_hamming_ranking`: mAP@all, tie-aware mAP, mAP@K,
   P@K, P@r, precision-recall by radius, P@K curve);
4. time hash-table lookups within radius ``0..max_radius``
   (:class:`~hashlearn.index.HashTableIndex`, codes of at most 64 bits), and for the
   ``tutorial`` protocol its re-ranked P@10 sweep;
5. code statistics (bit balance, bucket occupancy), peak memory, times, the published
   anchor, the environment and the resolved configuration.

Records are appended to ``RUN_DIR/records.jsonl`` as they finish (format:
``docs/records.md``). A rerun with the same folder skips the records already done, so an
interrupted run resumes; a method that raises gets a ``"failed"`` record with the
traceback, and the run goes on.

Hyperparameters can be chosen on the validation split: a method parameter given as
alternatives separated by ``|`` (``"grh:alpha=0.8|0.9|1.0"``) is tried with each value;
the value with the best validation mAP (validation rows as queries against the database
without them, never the test queries) is used, and the record stores the choice and every
validation score.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from hashlearn import codes as codes_module
from hashlearn._validation import check_features, check_labels
from hashlearn.datasets._dataset import Dataset
from hashlearn.experiments.anchors import find_anchor
from hashlearn.experiments.methods import ResolvedMethod, resolve_method
from hashlearn.experiments.protocols import (
    Protocol,
    ProtocolSplit,
    make_split,
    preprocess,
    resolve_protocol,
)
from hashlearn.experiments.specs import format_spec, split_specs
from hashlearn.experiments.tutorial import plain_params
from hashlearn.records import (
    RECORDS_NAME,
    RUN_NAME,
    SCHEMA,
    read_bench_records,
)

__all__ = [
    "BenchConfig",
    "load_bench_config",
    "load_user_dataset",
    "run_benchmark",
    "run_protocol",
]


# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------


def _parse_seeds(seeds: Any) -> tuple[int, ...]:
    """``5`` -> seeds 0..4; ``"0,3,7"`` or ``[0, 3, 7]`` -> those seeds."""
    if isinstance(seeds, bool):
        raise TypeError(f"seeds must be a count or a list of ints, got {seeds!r}")
    if isinstance(seeds, int | np.integer):
        if seeds < 1:
            raise ValueError(f"seeds must be a count >= 1, got {seeds}")
        return tuple(range(int(seeds)))
    if isinstance(seeds, str):
        parts = [part.strip() for part in seeds.split(",") if part.strip()]
        if len(parts) == 1 and "," not in seeds and parts[0].lstrip("-").isdigit():
            return _parse_seeds(int(parts[0]))
        try:
            values = [int(part) for part in parts]
        except ValueError:
            raise ValueError(
                f"seeds must be a count ('5') or a comma-separated list ('0,3,7'), got {seeds!r}"
            ) from None
        seeds = values
    if not isinstance(seeds, list | tuple):
        raise TypeError(f"seeds must be a count or a list of ints, got {seeds!r}")
    values = list(seeds)
    if not values or any(
        isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0 for v in values
    ):
        raise ValueError(f"seeds must be non-negative ints, got {seeds!r}")
    if len(set(values)) != len(values):
        raise ValueError(f"seeds must be distinct, got {values}")
    return tuple(int(v) for v in values)


def _parse_bits(bits: Any) -> tuple[int, ...] | None:
    if bits is None:
        return None
    if isinstance(bits, str):
        try:
            bits = [int(part) for part in bits.split(",") if part.strip()]
        except ValueError:
            raise ValueError(f"bits must be comma-separated ints, got {bits!r}") from None
    if isinstance(bits, int) and not isinstance(bits, bool):
        bits = [bits]
    values = list(bits)
    if not values or any(
        isinstance(b, bool) or not isinstance(b, int | np.integer) or not 1 <= b <= 4096
        for b in values
    ):
        raise ValueError(f"bits must be ints in [1, 4096], got {bits!r}")
    return tuple(int(b) for b in values)


@dataclass(frozen=True)
class BenchConfig:
    """What one ``hashlearn bench`` run computes (also read from a TOML file).

    Parameters
    ----------
    protocol : str
        Protocol spec (``"grh-cifar10"`` or ``"grh-cifar10:n_train=2000"``).
    methods : tuple of str
        Method specs (``"lsh"``, ``"grh:kernel=rbf,alpha=0.9"``).
    bits : tuple of int or None
        Code lengths; None uses the protocol's.
    seeds : tuple of int or None
        Seeds (one random split each); None uses ``range(protocol.seeds)``.
    out : str or None
        Run folder (``records.jsonl``, ``run.json``, ``models/``); None keeps records in
        memory only.
    data_dir : str or None
        Data directory for the protocol's dataset (else ``$HASHLEARN_DATA``).
    dataset : str or None
        A user file (``.npz``, ``.npy``, ``.csv``) replacing the protocol's dataset (see
        :func:`load_user_dataset`).
    save_models : bool, default True
        Save each fitted hasher under ``out/models``.
    download : bool, default False
        Let the dataset loader download missing files.
    """

    protocol: str
    methods: tuple[str, ...]
    bits: tuple[int, ...] | None = None
    seeds: tuple[int, ...] | None = None
    out: str | None = None
    data_dir: str | None = None
    dataset: str | None = None
    save_models: bool = True
    download: bool = False

    def __post_init__(self) -> None:
        resolve_protocol(self.protocol)
        if not self.methods:
            raise ValueError("methods must name at least one method")
        for spec in self.methods:
            resolve_method(spec)
        for name in ("save_models", "download"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be true or false, got {getattr(self, name)!r}")
        object.__setattr__(self, "bits", _parse_bits(self.bits))
        if self.seeds is not None:
            object.__setattr__(self, "seeds", _parse_seeds(self.seeds))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> BenchConfig:
        """Build from a dict (a parsed TOML file, or command-line values)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"unknown configuration key(s) {', '.join(map(repr, unknown))}; "
                f"valid keys: {', '.join(sorted(known))}"
            )
        values = dict(values)
        if "protocol" not in values:
            raise ValueError("the configuration needs a protocol")
        if "methods" not in values:
            raise ValueError("the configuration needs methods")
        if not isinstance(values["methods"], str | list | tuple):
            raise TypeError(
                f"methods must be a string or a list of strings, got {values['methods']!r}"
            )
        values["methods"] = tuple(split_specs(values["methods"]))
        for key in ("out", "data_dir", "dataset"):
            if values.get(key) is not None:
                values[key] = str(values[key])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in dataclasses.asdict(self).items()
        }


def load_bench_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a TOML run configuration (keys: the fields of :class:`BenchConfig`).

    Example file::

        protocol = "grh-cifar10:n_train=2000"
        methods = ["lsh", "grh", "grh:kernel=rbf"]
        bits = [16, 32, 48, 64]
        seeds = 5
        out = "results/grh-cifar10-t2000"
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    path = Path(path)
    try:
        with path.open("rb") as handle:
            values = tomllib.load(handle)
    except FileNotFoundError:
        raise FileNotFoundError(f"configuration file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path} is not valid TOML: {exc}") from None
    if isinstance(values.get("protocol"), dict):
        table = dict(values["protocol"])
        name = table.pop("name", None)
        if name is None:
            raise ValueError(f"{path}: [protocol] needs a name")
        values["protocol"] = format_spec(name, table)
    return values


# --------------------------------------------------------------------------------------
# User data
# --------------------------------------------------------------------------------------


def load_user_dataset(path: str | os.PathLike[str]) -> tuple[Dataset, int | None]:
    """Load features and labels a user brings.

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
        raise ValueError(f"{path}: every cell must be a number ({exc})") from None
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


# --------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------


def _drop_damaged_tail(path: Path) -> None:
    """Cut a partial last line (a run killed while writing) so the next record starts a line.

    Readers ignore such a line already; removing it keeps it from ending up in the middle
    of the file, where it would make the file unreadable.
    """
    if not path.is_file() or path.stat().st_size == 0:
        return
    with path.open("rb+") as handle:
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) == b"\n":
            return
        data = path.read_bytes()
        handle.truncate(data.rfind(b"\n") + 1)


def _append_record(path: Path, record: Mapping[str, Any]) -> None:
    line = json.dumps(record, default=_json_default, allow_nan=False) + "\n"
    with path.open("a") as handle:
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return _finite(float(value))
    if isinstance(value, np.ndarray):
        return [_json_default(v) if isinstance(v, np.generic) else v for v in value.tolist()]
    if isinstance(value, Path):
        return str(value)
    return repr(value)


def _finite(value: float) -> float | None:
    return value if np.isfinite(value) else None


def _clean(value: Any) -> Any:
    """NaN/inf -> None and numpy scalars -> Python, recursively (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return _finite(float(value))
    return value


def _record_key(protocol_spec: str, method_spec: str, n_bits: int, seed: int) -> str:
    return f"{protocol_spec}/{method_spec}/{n_bits}/{seed}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# --------------------------------------------------------------------------------------
# Measurement helpers
# --------------------------------------------------------------------------------------


def _rss_mib() -> float | None:
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class _PeakMemory:
    """Peak resident memory while a block runs, sampled every 5 ms by a thread (Linux).

    Elsewhere the process's lifetime peak (``getrusage``) is reported instead.
    """

    def __init__(self) -> None:
        self.peak: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while not self._stop.is_set():
            value = _rss_mib()
            if value is not None and (self.peak is None or value > self.peak):
                self.peak = value
            self._stop.wait(0.005)

    def __enter__(self) -> _PeakMemory:
        if _rss_mib() is None:
            return self
        self.peak = _rss_mib()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            value = _rss_mib()
            if value is not None and self.peak is not None:
                self.peak = max(self.peak, value)
        else:
            from hashlearn.experiments.tutorial import peak_memory_mib

            self.peak = peak_memory_mib()


@contextmanager
def _timer(times: dict[str, float], key: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    times[key] = time.perf_counter() - start


def _bucket_statistics(database_codes: np.ndarray) -> dict[str, Any]:
    """Occupancy of the buckets a hash table keyed by the whole code would have."""
    if database_codes.shape[0] == 0:
        return {"n_buckets": 0}
    rows = np.ascontiguousarray(database_codes)
    keys = rows.view(np.dtype((np.void, rows.shape[1]))).ravel()
    _, counts = np.unique(keys, return_counts=True)
    edges = 2 ** np.arange(0, int(np.log2(counts.max())) + 2)
    histogram, _ = np.histogram(counts, bins=edges)
    return {
        "n_buckets": int(counts.size),
        "bucket_occupancy": {
            "max": int(counts.max()),
            "mean": float(counts.mean()),
            "median": float(np.median(counts)),
            "singleton_fraction": float((counts == 1).mean()),
        },
        "occupancy_histogram": {
            "size": edges[:-1].astype(int).tolist(),
            "count": histogram.astype(int).tolist(),
        },
    }


def _code_statistics(database_codes: np.ndarray, n_bits: int) -> dict[str, Any]:
    balance = codes_module.bit_balance(database_codes, n_bits)
    stats = codes_module.code_statistics(database_codes, n_bits)
    return {
        "bit_balance": balance.tolist(),
        "balance_error": float(np.abs(balance - 0.5).mean()),
        "n_constant_bits": int(stats["n_constant_bits"]),
        "mean_abs_correlation": _finite(stats["mean_abs_correlation"]),
        **_bucket_statistics(database_codes),
    }


_RADIUS_QUERIES = 1000


def _radius_search(
    database_codes: np.ndarray,
    query_codes: np.ndarray,
    n_bits: int,
    max_radius: int,
    precision: Mapping[str, Any],
) -> dict[str, Any] | None:
    """Time hash-table lookups within each radius (codes of at most 64 bits).

    At most ``_RADIUS_QUERIES`` queries (evenly spaced over the query set) are timed: the
    results of a wide radius over 10,000 queries would take gigabytes, and the time per
    query is what is measured (precision per radius comes from the evaluation of every
    query).
    """
    from hashlearn.index import HashTableIndex
    from hashlearn.index.hash_table import ProbeCostWarning

    if n_bits > 64:
        return None
    if query_codes.shape[0] > _RADIUS_QUERIES:
        chosen = np.linspace(0, query_codes.shape[0] - 1, _RADIUS_QUERIES).astype(np.int64)
        query_codes = query_codes[chosen]
    table = HashTableIndex(n_bits)
    table.add(database_codes)
    radii = list(range(min(max_radius, n_bits) + 1))
    query_ms, candidates = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProbeCostWarning)
        for radius in radii:
            table.range_search(query_codes[:1], radius)  # load the compiled kernels
            start = time.perf_counter()
            lims, _, _ = table.range_search(query_codes, radius)
            elapsed = time.perf_counter() - start
            query_ms.append(1e3 * elapsed / max(query_codes.shape[0], 1))
            candidates.append(float(np.diff(lims).mean()) if query_codes.shape[0] else 0.0)
    within = [precision.get(str(r)) for r in radii]
    return {
        "radius": radii,
        "n_queries_timed": int(query_codes.shape[0]),
        "precision": [None if w is None else w["value"] for w in within],
        "empty_fraction": [None if w is None else w["empty_fraction"] for w in within],
        "mean_candidates": candidates,
        "query_ms": query_ms,
    }


# --------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------


@dataclass
class _Prepared:
    """One seed's split and preprocessed features, shared by every method and length."""

    seed: int
    split: ProtocolSplit
    features: np.ndarray
    statistics: dict[str, Any]
    true_neighbors: np.ndarray | None = None

    def neighbors(self, protocol: Protocol) -> np.ndarray:
        """The exact nearest database items of every query (computed once per seed)."""
        if self.true_neighbors is None:
            from hashlearn.evaluation import exact_neighbors

            k = min(protocol.ground_truth_k, self.split.database.size)
            _, found = exact_neighbors(
                self.features[self.split.queries],
                self.features[self.split.database],
                k,
                metric=protocol.ground_truth,  # type: ignore[arg-type]
            )
            self.true_neighbors = found
        return self.true_neighbors


@dataclass
class _Context:
    protocol: Protocol
    dataset: Dataset
    n_official_train: int | None
    out: Path | None
    save_models: bool
    own_data: bool
    environment: dict[str, Any]
    config: dict[str, Any]
    progress: Callable[[str], None]
    prepared: dict[int, _Prepared] = field(default_factory=dict)

    def prepare(self, seed: int) -> _Prepared:
        if seed not in self.prepared:
            self.prepared.clear()  # one seed at a time: features can be large
            split = make_split(
                self.protocol, self.dataset.y, seed, n_official_train=self.n_official_train
            )
            features, statistics = preprocess(self.dataset.X, split.train, self.protocol.preprocess)
            self.prepared[seed] = _Prepared(seed, split, features, statistics)
        return self.prepared[seed]


def _precision_ks(protocol: Protocol, n_database: int) -> tuple[int, ...]:
    return tuple(sorted({k for k in protocol.precision_ks if k <= n_database}))


def _evaluate(
    protocol: Protocol,
    query_codes: np.ndarray,
    database_codes: np.ndarray,
    query_labels: np.ndarray,
    database_labels: np.ndarray,
    n_bits: int,
) -> dict[str, Any]:
    from hashlearn.evaluation import evaluate_hamming_ranking

    n_database = database_codes.shape[0]
    result = evaluate_hamming_ranking(
        query_codes,
        database_codes,
        query_labels,
        database_labels,
        n_bits=n_bits,
        map_ks=tuple(k for k in protocol.map_ks if k <= n_database),
        precision_ks=_precision_ks(protocol, n_database),
        radii=tuple(range(min(protocol.max_radius, n_bits) + 1)),
    )
    return dict(result.to_dict())


def _fit(hasher: Any, X: np.ndarray, y: np.ndarray | None) -> Any:
    return hasher.fit(X) if y is None else hasher.fit(X, y)


def _choose_parameters(
    method: ResolvedMethod,
    context: _Context,
    prepared: _Prepared,
    n_bits: int,
) -> tuple[ResolvedMethod, dict[str, Any] | None]:
    """Resolve ``a|b|c`` parameter alternatives by validation mAP (never the queries)."""
    options = {
        key: list(value.split("|"))
        for key, value in method.params.items()
        if isinstance(value, str) and "|" in value
    }
    if not options:
        return method, None
    from hashlearn.experiments.specs import parse_value

    split = prepared.split
    if split.validation.size == 0:
        raise ValueError(
            f"method {method.spec} gives alternatives to choose from, but protocol "
            f"{context.protocol.spec} has no validation split (set n_validation)"
        )
    labels = context.dataset.y
    validation_database = np.setdiff1d(split.database, split.validation)
    # Validation fits use the training rows that are not validation rows (all of them).
    train = split.train
    y_train = labels[train] if _supervised(context.protocol, method) else None
    scores = []
    best: tuple[float, dict[str, Any]] | None = None
    for values in itertools.product(*options.values()):
        choice = {key: parse_value(value) for key, value in zip(options, values, strict=True)}
        candidate = ResolvedMethod(method.info, {**method.params, **choice})
        hasher = _fit(candidate.build(n_bits, prepared.seed), prepared.features[train], y_train)
        metrics = _evaluate(
            context.protocol,
            hasher.encode(prepared.features[split.validation]),
            hasher.encode(prepared.features[validation_database]),
            labels[split.validation],
            labels[validation_database],
            n_bits,
        )
        score = metrics["map"] if metrics["map"] is not None else -1.0
        scores.append({"params": choice, "validation_map": metrics["map"]})
        if best is None or score > best[0]:
            best = (score, choice)
    assert best is not None
    chosen = ResolvedMethod(method.info, {**method.params, **best[1]})
    return chosen, {"chosen": best[1], "candidates": scores, "metric": "validation mAP@all"}


def _supervised(protocol: Protocol, method: ResolvedMethod) -> bool:
    return protocol.supervised and method.info.supervised


def _run_record(
    context: _Context, method: ResolvedMethod, n_bits: int, seed: int
) -> dict[str, Any]:
    protocol = context.protocol
    prepared = context.prepare(seed)
    split, features, labels = prepared.split, prepared.features, context.dataset.y
    times: dict[str, float] = {}
    record: dict[str, Any] = {}
    with _PeakMemory() as record_memory:
        chosen, selection = _choose_parameters(method, context, prepared, n_bits)
        hasher = chosen.build(n_bits, seed)
        y_train = labels[split.train] if _supervised(protocol, chosen) else None
        with (
            _PeakMemory() as fit_memory,
            _timer(times, "fit"),
            warnings.catch_warnings(record=True) as caught,
        ):
            warnings.simplefilter("always")
            _fit(hasher, features[split.train], y_train)
        fit_warnings = _warning_summary(caught)
        with _timer(times, "encode_database"):
            database_codes = hasher.encode(features[split.database])
        with _timer(times, "encode_queries"):
            query_codes = hasher.encode(features[split.queries])
        from hashlearn.index import LinearScanIndex

        ks = _precision_ks(protocol, split.database.size)
        with _timer(times, "index"):
            index = LinearScanIndex(n_bits, hasher=hasher)
            index.add(database_codes)
        index.search(query_codes[:1], 1)  # load the compiled kernels
        with _timer(times, "query"):
            index.search(query_codes, max(ks) if ks else 1)
        query_labels, database_labels = labels[split.queries], labels[split.database]
        with _timer(times, "evaluate"):
            metrics = _evaluate(
                protocol, query_codes, database_codes, query_labels, database_labels, n_bits
            )
        metrics["radius_search"] = _radius_search(
            database_codes,
            query_codes,
            n_bits,
            protocol.max_radius,
            metrics.get("precision_within_radius", {}),
        )
        if protocol.ground_truth != "none":
            from hashlearn.evaluation import hamming_recall_at

            with _timer(times, "ground_truth"):
                neighbors = prepared.neighbors(protocol)
            rs = tuple(r for r in (1, 10, 100, 1000) if r <= split.database.size)
            recall = hamming_recall_at(query_codes, database_codes, neighbors, rs, n_bits=n_bits)
            metrics["recall_at"] = {str(r): value for r, value in recall.items()}
            metrics["ground_truth"] = {
                "metric": protocol.ground_truth,
                "k": int(neighbors.shape[1]),
            }
        if protocol.name == "tutorial":
            metrics["tutorial"] = _tutorial_metrics(hasher, n_bits, protocol, prepared, labels)
        record["codes"] = _code_statistics(database_codes, n_bits)
        if context.out is not None and context.save_models:
            key = _record_key(protocol.spec, method.spec, n_bits, seed)
            record["model"] = _save_model(context.out, hasher, key, chosen.spec, n_bits, seed)
    record.update(
        metrics=metrics,
        times=times,
        memory={"peak_rss_mib": record_memory.peak, "fit_peak_rss_mib": fit_memory.peak},
    )
    record["method_resolved"] = {
        "spec": chosen.spec,
        "label": chosen.label,
        "params": plain_params(hasher.get_params()),
    }
    if selection is not None:
        # Alternatives may change what the method is (kernel=linear|rbf): the label and the
        # published number are those of the variant chosen.
        record["anchor"] = _anchor(context, chosen, n_bits)
    if selection is not None:
        record["selection"] = selection
    if fit_warnings:
        record["fit_warnings"] = fit_warnings
    return record


#: At most this many distinct fit warnings are kept per record (with their counts).
_MAX_FIT_WARNINGS = 10


def _warning_summary(caught: list[warnings.WarningMessage]) -> list[dict[str, Any]]:
    """Distinct warnings raised while fitting, in order, with how often each was raised.

    The records keep them (a ``ConvergenceWarning`` says something about the number next to
    it) instead of letting every fit of every seed repeat them on the terminal.
    """
    counts: dict[tuple[str, str], int] = {}
    for message in caught:
        key = (message.category.__name__, str(message.message)[:500])
        counts[key] = counts.get(key, 0) + 1
    return [
        {"category": category, "message": text, "count": count}
        for (category, text), count in list(counts.items())[:_MAX_FIT_WARNINGS]
    ]


def _tutorial_metrics(
    hasher: Any, n_bits: int, protocol: Protocol, prepared: _Prepared, labels: np.ndarray
) -> dict[str, Any]:
    from hashlearn.experiments.tutorial import TutorialConfig, TutorialSplit, tutorial_sweep

    if n_bits > 64:
        raise ValueError(
            "the tutorial protocol keys its hash table by the whole code: n_bits <= 64"
        )
    split = prepared.split
    config = TutorialConfig(n_bits=n_bits, max_radius=min(protocol.max_radius, n_bits))
    sweep = tutorial_sweep(
        hasher,
        config,
        prepared.features,
        labels,
        TutorialSplit(queries=split.queries, train=split.train, database=split.database),
    )
    return {
        "radius": sweep["radius"],
        "precision_at_10": sweep["precision_skip_empty"],
        "precision_at_10_with_empty": sweep["precision_empty_as_zero"],
        "empty_fraction": sweep["empty_fraction"],
        "mean_candidates": sweep["mean_candidates"],
        "query_ms": sweep["mean_query_ms"],
    }


def _save_model(out: Path, hasher: Any, key: str, spec: str, n_bits: int, seed: int) -> str:
    """Save a fitted hasher under ``models/``; the name is readable and unique per key."""
    import hashlib

    from hashlearn.persistence import save

    safe = "".join(c if c.isalnum() or c in "-_.=" else "_" for c in spec)
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    relative = Path("models") / f"{safe}-{n_bits}b-seed{seed}-{digest}.npz"
    (out / "models").mkdir(parents=True, exist_ok=True)
    save(hasher, out / relative)
    return str(relative)


#: Protocol parameters that do not change what a published number measures.
_COMPARABLE = frozenset({"n_train", "n_validation", "max_radius", "ground_truth", "ground_truth_k"})


def _anchor(context: _Context, method: ResolvedMethod, n_bits: int) -> dict[str, Any] | None:
    """The published numbers for a record, when the run is the paper's setting.

    Only on the protocol's own dataset (not ``--dataset`` files or arrays), and only when
    the spec changes nothing but the training size (which the tables are keyed by), the
    validation size, the radius sweep or the ANN ground truth.
    """
    protocol = context.protocol
    if not context.own_data or set(protocol.overrides) - _COMPARABLE:
        return None
    if any("|" in str(value) for value in method.params.values()):
        return None  # resolved per record once a variant is chosen
    return find_anchor(protocol.name, {"n_train": protocol.n_train}, method.label, n_bits)


def _base_record(
    context: _Context, method: ResolvedMethod, n_bits: int, seed: int, key: str
) -> dict[str, Any]:
    protocol = context.protocol
    return {
        "schema": SCHEMA,
        "key": key,
        "status": "ok",
        "protocol": {
            "name": protocol.name,
            "spec": protocol.spec,
            "params": protocol.params(),
            "dataset": context.dataset.name,
            "dataset_source": context.dataset.source,
            "metric_names": list(protocol.primary_metrics),
        },
        "method": {
            "name": method.name,
            "spec": method.spec,
            "label": method.label,
            "params": plain_params(method.params),
        },
        "n_bits": n_bits,
        "seed": seed,
        "anchor": _anchor(context, method, n_bits),
        "environment": context.environment,
        "config": context.config,
    }


def _run(
    context: _Context,
    methods: Sequence[ResolvedMethod],
    bits: Sequence[int],
    seeds: Sequence[int],
    done: set[str],
) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    tasks = [(seed, method, n_bits) for seed in seeds for method in methods for n_bits in bits]
    records_path = None if context.out is None else context.out / RECORDS_NAME
    if records_path is not None:
        _drop_damaged_tail(records_path)
    for number, (seed, method, n_bits) in enumerate(tasks, 1):
        key = _record_key(context.protocol.spec, method.spec, n_bits, seed)
        if key in done:
            context.progress(f"[{number}/{len(tasks)}] {key}: done before, skipped")
            continue
        context.progress(f"[{number}/{len(tasks)}] {key}")
        record = _base_record(context, method, n_bits, seed, key)
        record["started_at"] = _now()
        try:
            record["sizes"] = {
                "n_features": int(context.dataset.X.shape[1]),
                **context.prepare(seed).split.sizes(),
            }
            record.update(_run_record(context, method, n_bits, seed))
        except (KeyboardInterrupt, MemoryError):
            raise
        except Exception as exc:  # one method's failure must not end the run
            record["status"] = "failed"
            record["error"] = {
                "type": type(exc).__name__,
                "message": str(exc),
                "traceback": traceback.format_exc(),
            }
            context.progress(f"    failed: {type(exc).__name__}: {exc}")
        else:
            metrics = record["metrics"]
            noted = record.get("fit_warnings", [])
            warned = (
                f" ({sum(w['count'] for w in noted)} fit warning(s), first: "
                f"{noted[0]['category']}; see the record)"
                if noted
                else ""
            )
            context.progress(
                f"    mAP {_fmt(metrics.get('map'))}, fit {record['times']['fit']:.2f} s{warned}"
            )
        record["finished_at"] = _now()
        record = _clean(record)
        if records_path is not None:
            _append_record(records_path, record)
        records.append(record)
    return records


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _environment() -> dict[str, Any]:
    from hashlearn.experiments.tutorial import environment

    env = environment()
    env["numba_threads"] = _numba_threads()
    return env


def _numba_threads() -> int | None:
    try:
        import numba

        return int(numba.get_num_threads())
    except Exception:  # numba is a dependency, but its threading layer may be unusable
        return None


def _write_run_json(out: Path, values: Mapping[str, Any]) -> None:
    from hashlearn._io import atomic_write

    text = json.dumps(_clean(dict(values)), indent=2, default=_json_default) + "\n"
    atomic_write(out / RUN_NAME, lambda handle: handle.write(text.encode()))


def _progress_printer(progress: bool | Callable[[str], None]) -> Callable[[str], None]:
    if callable(progress):
        return progress
    if not progress:
        return lambda message: None

    def show(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    return show


def _first_alternative(method: ResolvedMethod) -> ResolvedMethod:
    """The method with each ``a|b|c`` parameter set to its first alternative."""
    from hashlearn.experiments.specs import parse_value

    params = {
        key: parse_value(value.split("|")[0]) if isinstance(value, str) and "|" in value else value
        for key, value in method.params.items()
    }
    return ResolvedMethod(method.info, params)


def _check_same_data(out: Path, data: Mapping[str, Any]) -> None:
    """Refuse to resume a run folder whose records came from other data."""
    from hashlearn.records import read_run

    run = read_run(out) if out.is_dir() else None
    previous = None if run is None else run.get("data")
    if isinstance(previous, dict) and (
        previous.get("source") != data["source"] or previous.get("shape") != data["shape"]
    ):
        raise ValueError(
            f"{out} holds records computed on other data ({previous.get('source')}, shape "
            f"{previous.get('shape')}); this run uses {data['source']}, shape {data['shape']}. "
            "Use another --out folder."
        )


def _execute(
    protocol: Protocol,
    dataset: Dataset,
    n_official_train: int | None,
    method_specs: Iterable[str],
    bits: Sequence[int] | None,
    seeds: Sequence[int] | None,
    out: str | os.PathLike[str] | None,
    save_models: bool,
    progress: bool | Callable[[str], None],
    config: dict[str, Any],
    *,
    own_data: bool,
) -> list[dict[str, Any]]:
    methods = [resolve_method(spec) for spec in method_specs]
    if not methods:
        raise ValueError("methods must name at least one method")
    specs = [method.spec for method in methods]
    if len(set(specs)) != len(specs):
        raise ValueError(f"a method is listed twice: {specs}")
    bits = tuple(bits) if bits is not None else protocol.bits
    seeds = tuple(seeds) if seeds is not None else tuple(range(protocol.seeds))
    # Mistakes that would fail every record are reported before any work: a method that
    # cannot be built, a split the data cannot give.
    for method in methods:
        _first_alternative(method).build(bits[0], seeds[0])
    make_split(protocol, dataset.y, seeds[0], n_official_train=n_official_train)
    data = {"name": dataset.name, "source": dataset.source, "shape": list(dataset.X.shape)}
    out_path = None if out is None else Path(out)
    done: set[str] = set()
    if out_path is not None:
        _check_same_data(out_path, data)
        out_path.mkdir(parents=True, exist_ok=True)
        if (out_path / RECORDS_NAME).is_file():
            done = {
                record["key"] for record in read_bench_records(out_path) if record["status"] == "ok"
            }
        _write_run_json(
            out_path,
            {
                **config,
                "protocol_resolved": {"spec": protocol.spec, "params": protocol.params()},
                "methods_resolved": specs,
                "bits_resolved": list(bits),
                "seeds_resolved": list(seeds),
                "data": data,
                "written_at": _now(),
            },
        )
    context = _Context(
        protocol=protocol,
        dataset=dataset,
        n_official_train=n_official_train,
        out=out_path,
        save_models=save_models,
        own_data=own_data,
        environment=_environment(),
        config=config,
        progress=_progress_printer(progress),
    )
    return _run(context, methods, bits, seeds, done)


def run_benchmark(
    config: BenchConfig, *, progress: bool | Callable[[str], None] = False
) -> list[dict[str, Any]]:
    """Run a benchmark configuration; returns the records computed by this call.

    The protocol's dataset is loaded by name (from ``config.data_dir``, the environment
    or the cache), or from ``config.dataset`` when given. Records already in
    ``config.out`` (status ``"ok"``) are skipped.

    Parameters
    ----------
    config : BenchConfig
    progress : bool or callable, default False
        True prints one line per record to stderr; a callable receives the lines.
    """
    protocol = resolve_protocol(config.protocol)
    if config.dataset is not None:
        dataset, n_official = load_user_dataset(config.dataset)
        if n_official is not None and protocol.query != "tutorial":
            # The file's X_query rows are the queries, all of them.
            protocol = resolve_protocol(protocol, query="official", n_queries=None)
    else:
        from hashlearn.datasets import load_dataset

        dataset = load_dataset(
            protocol.dataset_name,
            config.data_dir,
            download=config.download,
            progress=bool(progress),
        )
        n_official = dataset.n_train
    return _execute(
        protocol,
        dataset,
        n_official,
        config.methods,
        config.bits,
        config.seeds,
        config.out,
        config.save_models,
        progress,
        config.to_dict(),
        own_data=config.dataset is None,
    )


def run_protocol(
    X: Any,
    y: Any,
    protocol: str | Protocol = "grh-cifar10",
    methods: str | Sequence[str] = ("lsh",),
    *,
    bits: Sequence[int] | int | None = None,
    seeds: int | Sequence[int] | None = None,
    X_query: Any = None,
    y_query: Any = None,
    out: str | os.PathLike[str] | None = None,
    save_models: bool = False,
    progress: bool | Callable[[str], None] = False,
    name: str = "arrays",
    **protocol_params: Any,
) -> list[dict[str, Any]]:
    """Run a protocol on your own arrays; returns one record per method x bits x seed.

    The protocol's rules apply to the data: queries drawn as it says (class-balanced
    samples for ``grh-cifar10``, ...), or exactly ``X_query`` when given (then ``X`` is the
    database, as in an official split); the training sample from the database;
    preprocessing from training rows only.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_labels)
        Class labels, or a 0/1 multi-label indicator matrix.
    protocol : str or Protocol, default "grh-cifar10"
        A protocol spec; ``protocol_params`` override its parameters (``n_train=500``).
    methods : str or sequence of str, default ("lsh",)
        Method specs.
    bits : int or sequence of int, optional
        Code lengths (default: the protocol's).
    seeds : int or sequence of int, optional
        A count (seeds ``0..n-1``) or the seeds (default: the protocol's count).
    X_query, y_query : array-like, optional
        Fixed queries.
    out : path, optional
        Also write the run folder (records, ``run.json``, models when ``save_models``).
    save_models : bool, default False
    progress : bool or callable, default False
    name : str, default "arrays"
        Dataset name in the records.

    Returns
    -------
    list of dict
        The records (``docs/records.md``).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> records = run_protocol(X, y, "grh-cifar10", ["lsh"], bits=16, seeds=1,
    ...                        n_queries=100, n_train=500, n_validation=0)
    >>> round(records[0]["metrics"]["map"], 2) > 0.1
    True
    """
    resolved = resolve_protocol(protocol, **protocol_params)
    features = check_features(X, name="X", min_samples=2)
    labels = check_labels(y, features.shape[0])
    n_official = None
    if (X_query is None) != (y_query is None):
        raise ValueError("give both X_query and y_query, or neither")
    if X_query is not None:
        queries = check_features(X_query, name="X_query", min_samples=1)
        if queries.shape[1] != features.shape[1]:
            raise ValueError(f"X_query has {queries.shape[1]} features, X has {features.shape[1]}")
        query_labels = check_labels(y_query, queries.shape[0], name="y_query")
        if query_labels.shape[1:] != labels.shape[1:]:
            raise ValueError(
                f"y_query must have the shape of y's rows: y is {labels.shape}, y_query "
                f"{query_labels.shape}"
            )
        n_official = features.shape[0]
        features = np.concatenate([features, queries.astype(features.dtype, copy=False)])
        labels = np.concatenate([labels, query_labels])
        if resolved.query != "tutorial":
            resolved = resolve_protocol(resolved, query="official", n_queries=None)
    dataset = Dataset(
        name, features, labels, (), "arrays passed to run_protocol", n_train=n_official
    )
    method_specs = split_specs(methods if isinstance(methods, str) else list(methods))
    seed_values = None if seeds is None else _parse_seeds(seeds)
    bit_values = _parse_bits(bits)
    config = {
        "protocol": resolved.spec,
        "methods": method_specs,
        "bits": None if bit_values is None else list(bit_values),
        "seeds": None if seed_values is None else list(seed_values),
        "arrays": name,
    }
    return _execute(
        resolved,
        dataset,
        n_official,
        method_specs,
        bit_values,
        seed_values,
        out,
        save_models,
        progress,
        config,
        own_data=False,
    )

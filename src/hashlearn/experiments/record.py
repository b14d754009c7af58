"""One record: fit one method at one code length on one seed's split, and measure it.

:class:`RunContext` holds what every record of a run shares (protocol, data, output
folder, environment); :func:`run_record` computes the measured part of one record and
:func:`base_record` the part that names it (``docs/records.md``).
"""

from __future__ import annotations

import hashlib
import itertools
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from hashlearn.datasets._dataset import Dataset
from hashlearn.datasets.text_corpus import TextFeaturizer
from hashlearn.evaluation import evaluate_hamming_ranking, exact_neighbors, hamming_recall_at
from hashlearn.experiments.anchors import find_anchor
from hashlearn.experiments.measure import (
    PeakMemory,
    code_statistics,
    radius_search,
    timer,
    warning_summary,
)
from hashlearn.experiments.methods import ResolvedMethod
from hashlearn.experiments.protocols import (
    Protocol,
    ProtocolSplit,
    TutorialSplit,
    make_split,
    preprocess,
)
from hashlearn.experiments.resume import record_key
from hashlearn.experiments.specs import parse_value, plain_params
from hashlearn.experiments.tutorial import TutorialConfig, tutorial_sweep
from hashlearn.index import LinearScanIndex
from hashlearn.persistence import save
from hashlearn.records import SCHEMA

__all__ = ["PreparedSeed", "RunContext", "base_record", "run_record", "utc_now"]


def utc_now() -> str:
    """The current UTC time to the second, ISO 8601 (``started_at``, ``finished_at``)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class PreparedSeed:
    """One seed's split and preprocessed features, shared by every method and length."""

    seed: int
    split: ProtocolSplit
    features: np.ndarray
    statistics: dict[str, Any]
    true_neighbors: np.ndarray | None = None

    def neighbors(self, protocol: Protocol) -> np.ndarray:
        """The exact nearest database items of every query (computed once per seed)."""
        if self.true_neighbors is None:
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
class RunContext:
    """What every record of one run shares: the protocol, the data, where records go.

    ``own_data`` says the data is the protocol's own dataset (only then are published
    numbers attached); ``progress`` receives one line per record. With a ``featurizer``
    (a text corpus), ``dataset.X`` holds word counts and each seed's features are learned
    from that seed's training rows, so that its queries never shape the vocabulary or IDF.
    """

    protocol: Protocol
    dataset: Dataset
    n_official_train: int | None
    out: Path | None
    save_models: bool
    own_data: bool
    environment: dict[str, Any]
    config: dict[str, Any]
    progress: Callable[[str], None]
    featurizer: TextFeaturizer | None = None
    prepared: dict[int, PreparedSeed] = field(default_factory=dict)

    def prepare(self, seed: int) -> PreparedSeed:
        """The split and preprocessed features of ``seed`` (kept until another seed is asked)."""
        if seed not in self.prepared:
            self.prepared.clear()  # one seed at a time: features can be large
            split = make_split(
                self.protocol, self.dataset.y, seed, n_official_train=self.n_official_train
            )
            X = self.dataset.X
            if self.featurizer is not None:
                X = self.featurizer.fit_transform(X, split.train)
            features, statistics = preprocess(X, split.train, self.protocol.preprocess)
            self.prepared[seed] = PreparedSeed(seed, split, features, statistics)
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


#: Rows densified at a time when a dense-only hasher encodes sparse features.
_DENSE_BLOCK = 4096


def _takes_sparse(hasher: Any) -> bool:
    return bool(getattr(hasher, "_accepts_sparse", False))


def fit_hasher(hasher: Any, X: Any, y: np.ndarray | None) -> Any:
    """Fit on the training rows; sparse rows are densified only for a dense-only hasher."""
    if sp.issparse(X) and not _takes_sparse(hasher):
        X = X.toarray()
    return hasher.fit(X) if y is None else hasher.fit(X, y)


def encode_features(hasher: Any, X: Any) -> np.ndarray:
    """Codes of ``X``; a dense-only hasher gets sparse rows densified a block at a time, so
    the corpus is never dense all at once."""
    if not sp.issparse(X) or _takes_sparse(hasher):
        return np.asarray(hasher.encode(X))
    blocks = [
        hasher.encode(X[start : start + _DENSE_BLOCK].toarray())
        for start in range(0, X.shape[0], _DENSE_BLOCK)
    ]
    return np.concatenate(blocks) if blocks else hasher.encode(np.zeros((0, X.shape[1])))


def _choose_parameters(
    method: ResolvedMethod,
    context: RunContext,
    prepared: PreparedSeed,
    n_bits: int,
    caught: list[warnings.WarningMessage],
) -> tuple[ResolvedMethod, dict[str, Any] | None]:
    """Resolve ``a|b|c`` parameter alternatives by validation mAP (never the queries).

    Warnings the validation evaluations raise are appended to ``caught``.
    """
    options = {
        key: list(value.split("|"))
        for key, value in method.params.items()
        if isinstance(value, str) and "|" in value
    }
    if not options:
        return method, None
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
        hasher = fit_hasher(
            candidate.build(n_bits, prepared.seed), prepared.features[train], y_train
        )
        with warnings.catch_warnings(record=True) as found:
            warnings.simplefilter("always")
            metrics = _evaluate(
                context.protocol,
                encode_features(hasher, prepared.features[split.validation]),
                encode_features(hasher, prepared.features[validation_database]),
                labels[split.validation],
                labels[validation_database],
                n_bits,
            )
        caught += found
        score = metrics["map"] if metrics["map"] is not None else -1.0
        scores.append({"params": choice, "validation_map": metrics["map"]})
        if best is None or score > best[0]:
            best = (score, choice)
    assert best is not None
    chosen = ResolvedMethod(method.info, {**method.params, **best[1]})
    return chosen, {"chosen": best[1], "candidates": scores, "metric": "validation mAP@all"}


def _supervised(protocol: Protocol, method: ResolvedMethod) -> bool:
    return protocol.supervised and method.info.supervised


def run_record(
    context: RunContext, method: ResolvedMethod, n_bits: int, seed: int
) -> dict[str, Any]:
    """Fit, encode, index, search and evaluate one method: the measured fields of a record.

    Returns ``metrics``, ``times``, ``memory``, ``codes``, ``method_resolved`` and, when
    they apply, ``model``, ``anchor`` (of the variant chosen), ``selection``,
    ``fit_warnings`` (raised by the fit) and ``evaluation_warnings`` (raised while choosing
    parameters on the validation split, encoding, searching and evaluating, such as a
    :class:`~hashlearn.evaluation.SortedLabelsWarning`): the records keep them, so that the
    report shows them beside the numbers they qualify.
    """
    protocol = context.protocol
    prepared = context.prepare(seed)
    split, features, labels = prepared.split, prepared.features, context.dataset.y
    times: dict[str, float] = {}
    record: dict[str, Any] = {}
    evaluation_caught: list[warnings.WarningMessage] = []
    with PeakMemory() as record_memory:
        chosen, selection = _choose_parameters(method, context, prepared, n_bits, evaluation_caught)
        hasher = chosen.build(n_bits, seed)
        y_train = labels[split.train] if _supervised(protocol, chosen) else None
        with (
            PeakMemory() as fit_memory,
            timer(times, "fit"),
            warnings.catch_warnings(record=True) as caught,
        ):
            warnings.simplefilter("always")
            fit_hasher(hasher, features[split.train], y_train)
        fit_warnings = warning_summary(caught)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            metrics, record["codes"] = _measure(context, hasher, n_bits, prepared, times)
        evaluation_caught += caught
        if context.out is not None and context.save_models:
            key = record_key(protocol.spec, method.spec, n_bits, seed)
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
    evaluation_warnings = warning_summary(evaluation_caught)
    if evaluation_warnings:
        record["evaluation_warnings"] = evaluation_warnings
    curve = getattr(hasher, "training_curve_", None)
    if curve is not None:
        record["training"] = training_summary(curve.to_dict(), times, split.database.size)
    return record


def training_summary(
    curve: dict[str, Any], times: dict[str, float], n_database: int
) -> dict[str, Any]:
    """What a deep hasher's training curve adds to its record: the curve itself, the device,
    seconds per epoch, training and encoding speed (inputs per second)."""
    epochs = curve["epochs"]
    seconds = [row["seconds"] for row in epochs]
    speeds = [row["images_per_second"] for row in epochs if row["images_per_second"]]
    encode = times.get("encode_database")
    return {
        "device": curve["device"],
        "torch": curve.get("torch"),
        "threads": curve.get("threads"),
        "epochs_run": len(epochs),
        "best_epoch": curve["best_epoch"],
        "stopped_early": curve["stopped_early"],
        "seconds": curve["seconds"],
        "seconds_per_epoch": float(np.mean(seconds)) if seconds else None,
        "train_inputs_per_second": float(np.median(speeds)) if speeds else None,
        "encode_inputs_per_second": n_database / encode if encode else None,
        "curve": curve,
    }


def _measure(
    context: RunContext, hasher: Any, n_bits: int, prepared: PreparedSeed, times: dict[str, float]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Encode, index, search and evaluate a fitted hasher: ``metrics`` and ``codes``."""
    protocol = context.protocol
    split, features, labels = prepared.split, prepared.features, context.dataset.y
    with timer(times, "encode_database"):
        database_codes = encode_features(hasher, features[split.database])
    with timer(times, "encode_queries"):
        query_codes = encode_features(hasher, features[split.queries])
    ks = _precision_ks(protocol, split.database.size)
    with timer(times, "index"):
        index = LinearScanIndex(n_bits, hasher=hasher)
        index.add(database_codes)
    index.search(query_codes[:1], 1)  # load the compiled kernels
    with timer(times, "query"):
        index.search(query_codes, max(ks) if ks else 1)
    query_labels, database_labels = labels[split.queries], labels[split.database]
    with timer(times, "evaluate"):
        metrics = _evaluate(
            protocol, query_codes, database_codes, query_labels, database_labels, n_bits
        )
    metrics["radius_search"] = radius_search(
        database_codes,
        query_codes,
        n_bits,
        protocol.max_radius,
        metrics.get("precision_within_radius", {}),
    )
    if protocol.ground_truth != "none":
        with timer(times, "ground_truth"):
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
    return metrics, code_statistics(database_codes, n_bits)


def _tutorial_metrics(
    hasher: Any, n_bits: int, protocol: Protocol, prepared: PreparedSeed, labels: np.ndarray
) -> dict[str, Any]:
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
    safe = "".join(c if c.isalnum() or c in "-_.=" else "_" for c in spec)
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    relative = Path("models") / f"{safe}-{n_bits}b-seed{seed}-{digest}.hlz"
    (out / "models").mkdir(parents=True, exist_ok=True)
    save(hasher, out / relative)
    return str(relative)


#: Protocol parameters that do not change what a published number measures.
_COMPARABLE = frozenset({"n_train", "n_validation", "max_radius", "ground_truth", "ground_truth_k"})


def _anchor(context: RunContext, method: ResolvedMethod, n_bits: int) -> dict[str, Any] | None:
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


def base_record(
    context: RunContext, method: ResolvedMethod, n_bits: int, seed: int, key: str
) -> dict[str, Any]:
    """The fields that name a record: schema, key, protocol, method, bits, seed, anchor."""
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

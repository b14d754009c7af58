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
   (:func:`hashlearn.evaluation.evaluate_hamming_ranking`: mAP@all, mAP@K and P@K, each
   also tie-aware, P@r, precision-recall by radius, P@K curve);
4. time hash-table lookups within radius ``0..max_radius``
   (:class:`~hashlearn.index.HashTableIndex`, codes of at most 64 bits), and for the
   ``tutorial`` protocol its re-ranked P@10 sweep;
5. code statistics (bit balance, bucket occupancy), peak memory, times, the published
   anchor, the environment and the resolved configuration, and the warnings the fit
   (``fit_warnings``) and the evaluation (``evaluation_warnings``) raised.

Records are appended to ``RUN_DIR/records.jsonl`` as they finish (format:
``docs/records.md``). A rerun with the same folder skips the records already done, so an
interrupted run resumes; it checks first that those records were computed on the same data
(a content hash of the arrays), protocol and method definition, and that their model files
exist (``force_resume`` keeps records whose fingerprints differ). While a run writes to a
folder it holds the folder's lock (:mod:`~hashlearn.experiments.lock`), so a second run on
the same folder stops with a clear error. A method that raises gets a ``"failed"`` record with the
traceback, and the run goes on.

Hyperparameters can be chosen on the validation split: a method parameter given as
alternatives separated by ``|`` (``"grh:alpha=0.8|0.9|1.0"``) is tried with each value;
the value with the best validation mAP (validation rows as queries against the database
without them, never the test queries) is used, and the record stores the choice and every
validation score.

The roles live in their own modules: :mod:`~hashlearn.experiments.config` (what a run
computes), :mod:`~hashlearn.experiments.user_data` (``--dataset`` files),
:mod:`~hashlearn.experiments.record` (one record), :mod:`~hashlearn.experiments.measure`
(times, memory, code statistics) and :mod:`~hashlearn.experiments.resume` (record keys and
resuming); this module is the loop.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from hashlearn._environment import environment
from hashlearn._io import append_jsonl, to_json
from hashlearn._progress import AutoProgress, Progress, progress_printer, resolve_progress
from hashlearn._validation import check_features, check_labels, check_sparse_features
from hashlearn.datasets import load_dataset
from hashlearn.datasets._dataset import Dataset
from hashlearn.datasets.text_corpus import TextFeaturizer
from hashlearn.experiments.config import BenchConfig, parse_bits, parse_seeds
from hashlearn.experiments.lock import acquire, release
from hashlearn.experiments.methods import ResolvedMethod, resolve_method
from hashlearn.experiments.protocols import Protocol, make_split, resolve_protocol
from hashlearn.experiments.record import RunContext, base_record, run_record, utc_now
from hashlearn.experiments.resume import (
    array_fingerprint,
    check_same_data,
    drop_damaged_tail,
    json_fingerprint,
    record_key,
    resumable_keys,
    write_run_json,
)
from hashlearn.experiments.specs import parse_value, plain_params, split_specs
from hashlearn.experiments.user_data import load_user_data
from hashlearn.records import RECORDS_NAME, RunResults

__all__ = ["run_benchmark", "run_protocol"]


def _run(
    context: RunContext,
    methods: Sequence[ResolvedMethod],
    bits: Sequence[int],
    seeds: Sequence[int],
    done: set[str],
    fingerprints: dict[str, dict[str, str]],
) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    tasks = [(seed, method, n_bits) for seed in seeds for method in methods for n_bits in bits]
    records_path = None if context.out is None else context.out / RECORDS_NAME
    if records_path is not None:
        drop_damaged_tail(records_path)
    for number, (seed, method, n_bits) in enumerate(tasks, 1):
        key = record_key(context.protocol.spec, method.spec, n_bits, seed)
        if key in done:
            context.progress(f"[{number}/{len(tasks)}] {key}: done before, skipped")
            continue
        context.progress(f"[{number}/{len(tasks)}] {key}")
        record = base_record(context, method, n_bits, seed, key)
        record["fingerprint"] = fingerprints[key]
        record["started_at"] = utc_now()
        try:
            prepared = context.prepare(seed)
            record["sizes"] = {
                "n_features": int(prepared.features.shape[1]),
                **prepared.split.sizes(),
            }
            record.update(run_record(context, method, n_bits, seed))
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
            warned = "".join(
                f" ({sum(w['count'] for w in noted)} {kind} warning(s), first: "
                f"{noted[0]['category']}; see the record)"
                for kind, noted in (
                    ("fit", record.get("fit_warnings", [])),
                    ("evaluation", record.get("evaluation_warnings", [])),
                )
                if noted
            )
            context.progress(
                f"    mAP {_fmt(metrics.get('map'))}, fit {record['times']['fit']:.2f} s{warned}"
            )
        record["finished_at"] = utc_now()
        record = to_json(record)
        if records_path is not None:
            append_jsonl(records_path, record)
        records.append(record)
    return records


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _first_alternative(method: ResolvedMethod) -> ResolvedMethod:
    """The method with each ``a|b|c`` parameter set to its first alternative."""
    params = {
        key: parse_value(value.split("|")[0]) if isinstance(value, str) and "|" in value else value
        for key, value in method.params.items()
    }
    return ResolvedMethod(method.info, params)


def _check_alternatives(method: ResolvedMethod, n_bits: int, seed: int) -> None:
    """Build the method with every alternative of every ``a|b|c`` parameter once, so that
    a bad value fails now rather than after the records before it."""
    first = _first_alternative(method)
    for key, value in method.params.items():
        if isinstance(value, str) and "|" in value:
            for text in value.split("|")[1:]:
                ResolvedMethod(method.info, {**first.params, key: parse_value(text)}).build(
                    n_bits, seed
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
    progress: Progress,
    config: dict[str, Any],
    *,
    own_data: bool,
    force_resume: bool = False,
    featurizer: TextFeaturizer | None = None,
) -> RunResults:
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
    method_prints = {m.spec: _method_fingerprint(m, bits[0], seeds[0]) for m in methods}
    split = make_split(protocol, dataset.y, seeds[0], n_official_train=n_official_train)
    if featurizer is not None:
        featurizer.terms(dataset.X, split.train)  # a vocabulary the training rows can give
    data_print = array_fingerprint(dataset.X, dataset.y)
    data: dict[str, Any] = {
        "name": dataset.name,
        "source": dataset.source,
        "shape": list(dataset.X.shape),
    }
    if featurizer is not None:
        # The same counts make other features with other settings: records of one do not
        # resume a run of the other.
        data["text_features"] = featurizer.params()
        data_print = json_fingerprint({"arrays": data_print, "text": featurizer.params()})
    data["fingerprint"] = data_print
    protocol_print = json_fingerprint({"spec": protocol.spec, "params": protocol.params()})
    fingerprints = {
        record_key(protocol.spec, method.spec, n_bits, seed): {
            "data": data_print,
            "protocol": protocol_print,
            "method": method_prints[method.spec],
        }
        for seed in seeds
        for method in methods
        for n_bits in bits
    }
    context = RunContext(
        protocol=protocol,
        dataset=dataset,
        n_official_train=n_official_train,
        out=None if out is None else Path(out),
        save_models=save_models,
        own_data=own_data,
        environment=environment(),
        config=config,
        progress=progress_printer(progress),
        featurizer=featurizer,
    )
    if context.out is None:
        return RunResults(_run(context, methods, bits, seeds, set(), fingerprints))
    out_path = context.out
    created = not out_path.exists()
    out_path.mkdir(parents=True, exist_ok=True)
    try:
        # One run writes to a folder at a time (stacklevel: the caller of run_protocol).
        lock = acquire(out_path, stacklevel=4)
    except BaseException:
        _remove_if_empty(out_path, created)
        raise
    try:
        check_same_data(out_path, data, force=force_resume)
        done = resumable_keys(out_path, fingerprints, force=force_resume, note=context.progress)
        write_run_json(
            out_path,
            {
                **config,
                "protocol_resolved": {"spec": protocol.spec, "params": protocol.params()},
                "methods_resolved": specs,
                "bits_resolved": list(bits),
                "seeds_resolved": list(seeds),
                "data": data,
                "written_at": utc_now(),
            },
        )
        return RunResults(_run(context, methods, bits, seeds, done, fingerprints))
    finally:
        release(lock)
        _remove_if_empty(out_path, created)


def _method_fingerprint(method: ResolvedMethod, n_bits: int, seed: int) -> str:
    """The spec and every constructor argument of the hasher it builds (defaults included).

    Building it also reports a spec that cannot be built before any work starts. The
    fingerprint itself is of the hasher built with 16 bits and seed 0, so that it does not
    change with the run's bits or seeds (a nested hasher's repr shows them).
    """
    _first_alternative(method).build(n_bits, seed)
    _check_alternatives(method, n_bits, seed)
    hasher = _first_alternative(method).build(16, 0)
    params = hasher.get_params(deep=False) if hasattr(hasher, "get_params") else {}
    params = {k: v for k, v in params.items() if k not in ("n_bits", "random_state")}
    return json_fingerprint(
        {"spec": method.spec, "class": type(hasher).__name__, "params": plain_params(params)}
    )


def _remove_if_empty(folder: Path, created: bool) -> None:
    """A run that made a folder and failed before writing anything leaves no empty folder."""
    if created and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def run_benchmark(config: BenchConfig, *, progress: AutoProgress = False) -> RunResults:
    """Run a benchmark configuration; returns the records computed by this call.

    The protocol's dataset is loaded by name (from ``config.data_dir``, the environment
    or the cache), or from ``config.dataset`` when given: numeric features, or a text
    corpus whose TF-IDF (or word-count) features are learned on each seed's training rows
    (:func:`~hashlearn.experiments.user_data.load_user_data`). Records already in
    ``config.out`` (status ``"ok"``) are skipped.

    Parameters
    ----------
    config : BenchConfig
    progress : bool, "auto" or callable, default False
        True prints one line per record to stderr; a callable receives the lines; "auto"
        is True when stderr is a terminal.

    Returns
    -------
    RunResults
        The records (a list), with :meth:`~hashlearn.records.RunResults.summary`.
    """
    progress = resolve_progress(progress)
    protocol = resolve_protocol(config.protocol)
    featurizer = None
    if config.dataset is not None:
        user = load_user_data(
            config.dataset,
            text_features=config.text_features,
            max_features=config.max_features,
            text_encoding=config.text_encoding,
        )
        dataset, n_official, featurizer = user.dataset, user.n_database, user.featurizer
        if n_official is not None and protocol.query != "tutorial":
            # The file's X_query rows (a corpus's test documents) are the queries, all of them.
            protocol = resolve_protocol(protocol, query="official", n_queries=None)
    else:
        text_options = (config.text_features, config.max_features, config.text_encoding)
        if any(option is not None for option in text_options):
            raise ValueError(
                "text_features, max_features and text_encoding apply to a text corpus given "
                "as dataset (--dataset); the protocol's own dataset has its features"
            )
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
        force_resume=config.force_resume,
        featurizer=featurizer,
    )


def _check_X(X: Any, name: str, min_samples: int) -> Any:
    if sp.issparse(X):
        return check_sparse_features(X, name=name, min_samples=min_samples)
    return check_features(X, name=name, min_samples=min_samples)


def _array_dataset(
    protocol: Protocol, X: Any, y: Any, X_query: Any, y_query: Any, name: str
) -> tuple[Protocol, Dataset]:
    """The arrays of :func:`run_protocol` as a dataset; with fixed queries, ``X`` is the
    database (``n_train`` of the dataset) and the protocol takes exactly those queries.
    Sparse features (TF-IDF, word counts) stay sparse."""
    features = _check_X(X, "X", 2)
    labels = check_labels(y, features.shape[0])
    n_official = None
    if (X_query is None) != (y_query is None):
        raise ValueError("give both X_query and y_query, or neither")
    if X_query is not None:
        queries = _check_X(X_query, "X_query", 1)
        if queries.shape[1] != features.shape[1]:
            raise ValueError(f"X_query has {queries.shape[1]} features, X has {features.shape[1]}")
        query_labels = check_labels(y_query, queries.shape[0], name="y_query")
        if query_labels.shape[1:] != labels.shape[1:]:
            raise ValueError(
                f"y_query must have the shape of y's rows: y is {labels.shape}, y_query "
                f"{query_labels.shape}"
            )
        n_official = features.shape[0]
        if sp.issparse(features) or sp.issparse(queries):
            features = sp.vstack(
                [sp.csr_matrix(features), sp.csr_matrix(queries)], format="csr"
            ).astype(features.dtype, copy=False)
        else:
            features = np.concatenate([features, queries.astype(features.dtype, copy=False)])
        labels = np.concatenate([labels, query_labels])
        if protocol.query != "tutorial":
            protocol = resolve_protocol(protocol, query="official", n_queries=None)
    dataset = Dataset(
        name, features, labels, (), "arrays passed to run_protocol", n_train=n_official
    )
    return protocol, dataset


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
    progress: AutoProgress = "auto",
    name: str = "arrays",
    force_resume: bool = False,
    **protocol_params: Any,
) -> RunResults:
    """Run a protocol on your own arrays; returns one record per method x bits x seed.

    The protocol's rules apply to the data: queries drawn as it says (class-balanced
    samples for ``grh-cifar10``, ...), or exactly ``X_query`` when given (then ``X`` is the
    database, as in an official split); the training sample from the database;
    preprocessing from training rows only.

    Parameters
    ----------
    X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
        Sparse features (TF-IDF of :func:`~hashlearn.datasets.load_text_corpus`) stay sparse:
        methods that take sparse input get them as they are, the others a block at a time.
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
    progress : bool, "auto" or callable, default "auto"
        One line per record (its key, then its mAP, fit time and any warnings): True
        prints them to stderr, False stays silent, a callable receives them, and "auto"
        prints them when stderr is a terminal (an interactive session) and stays silent
        otherwise (tests, pipes, notebooks whose stderr is not a terminal).
    name : str, default "arrays"
        Dataset name in the records.
    force_resume : bool, default False
        Resume ``out`` even when its finished records were computed on other data, another
        protocol or another method definition (their fingerprints differ); by default that
        is an error.

    Returns
    -------
    RunResults
        The records (``docs/records.md``), a list of dicts in the order computed, which
        also gives :meth:`~hashlearn.records.RunResults.summary` (a list of dicts: per
        method and code length, a metric's mean and std over seeds and the mean fit time)
        and :meth:`~hashlearn.records.RunResults.to_markdown`; ``print(results)`` shows
        that table for mAP@all.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> results = run_protocol(X, y, "grh-cifar10", ["lsh", "itq"], bits=[16, 32], seeds=2,
    ...                        n_queries=100, n_train=500, n_validation=0, progress=False)
    >>> len(results), round(results[0]["metrics"]["map"], 2) > 0.1
    (8, True)
    >>> row = results.summary()[0]
    >>> row["method"], row["n_bits"], row["n"], round(row["mean"], 2) > 0.1
    ('LSH', 16, 2, True)
    >>> print(results)  # doctest: +ELLIPSIS
    | method | bits | mAP@all | fit s |
    |---|---:|---:|---:|
    | LSH | 16 | ... ± ... (2) | ... |
    | LSH | 32 | ... ± ... (2) | ... |
    | ITQ | 16 | ... ± ... (2) | ... |
    | ITQ | 32 | ... ± ... (2) | ... |
    >>> results.to_markdown("tie_aware_precision_at_k_10").splitlines()[0]
    '| method | bits | tie-aware P@10 | fit s |'
    """
    progress = resolve_progress(progress)
    resolved, dataset = _array_dataset(
        resolve_protocol(protocol, **protocol_params), X, y, X_query, y_query, name
    )
    n_official = dataset.n_train
    method_specs = split_specs(methods if isinstance(methods, str) else list(methods))
    seed_values = None if seeds is None else parse_seeds(seeds)
    bit_values = parse_bits(bits)
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
        force_resume=force_resume,
    )

"""Benchmark records: the files ``hashlearn bench`` writes and ``hashlearn report`` reads.

A run folder holds ``run.json`` (the configuration) and ``records.jsonl`` (one JSON object
per line, one line per method x bits x seed; format in ``docs/records.md``). Both the
runner (to resume) and the report read it through :func:`read_bench_records`.

The summary of records that both sides give -- :func:`summarize_records`, a mean ± std over
seeds per method and code length, which :class:`RunResults` (what
:func:`~hashlearn.experiments.run_protocol` returns) shows -- lives here too, with the pure
statistics it shares with the report (:func:`mean_std`, :func:`method_labels`): the
experiments may not import the report.

The toy 2-D gallery's result (:class:`Toy2DGallery`) is defined here for the same reason:
:mod:`hashlearn.experiments.toy2d` fits the methods and fills it, :mod:`hashlearn.report.toy2d`
draws it. It lives in memory only (the gallery's files are its figures and index).
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "RECORDS_NAME",
    "RUN_NAME",
    "SCHEMA",
    "SEARCH_FIELDS",
    "SEARCH_PROTOCOL",
    "BenchRecordWarning",
    "RecordReading",
    "RunResults",
    "Toy2DGallery",
    "Toy2DMethod",
    "Toy2DPanel",
    "finite",
    "format_mean_std",
    "mean_std",
    "method_labels",
    "metric_path",
    "metric_title",
    "read_bench_records",
    "read_run",
    "read_run_records",
    "read_search_records",
    "summarize_records",
]

SCHEMA = "hashlearn.bench/1"
"""The record schema version (``docs/records.md``)."""

RECORDS_NAME = "records.jsonl"
RUN_NAME = "run.json"


class BenchRecordWarning(UserWarning):
    """A line of ``records.jsonl`` was ignored (damaged last line, other schema version)."""


@dataclass
class RecordReading:
    """What :func:`read_run_records` found: the records, notes on what was skipped, and the
    records a rerun of the same key superseded."""

    records: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    superseded: list[dict[str, Any]] = field(default_factory=list)

    def warn(self, stacklevel: int = 1) -> None:
        """Issue each note as a :class:`BenchRecordWarning`.

        ``stacklevel`` counts from the caller of this method, as in :func:`warnings.warn`.
        """
        for note in self.notes:
            warnings.warn(note, BenchRecordWarning, stacklevel=stacklevel + 1)


_REQUIRED = ("key", "status", "protocol", "method", "n_bits", "seed")


def read_run_records(run_dir: str | os.PathLike[str]) -> RecordReading:
    """Read ``records.jsonl`` with the notes :func:`read_bench_records` warns with."""
    folder = Path(run_dir)
    if not folder.exists():
        raise FileNotFoundError(f"run folder {str(folder)!r} does not exist")
    if not folder.is_dir():
        raise NotADirectoryError(f"run folder must be a folder, but {str(folder)!r} is a file")
    path = folder / RECORDS_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"no {RECORDS_NAME} in {str(folder)!r}: is it a `hashlearn bench` run folder?"
        )
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    notes: list[str] = []
    parsed: list[dict[str, Any]] = []
    other_schemas: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError(f"a JSON {type(record).__name__}, not an object")
        except ValueError as exc:
            if number == len(lines):
                notes.append(
                    f"{RECORDS_NAME} line {number} (the last) is damaged and was ignored "
                    f"(an interrupted run?): {exc}"
                )
                continue
            raise ValueError(
                f"{path}: line {number} of {len(lines)} is not a JSON record ({exc}); only "
                "the last line may be damaged (an interrupted run), so the file is corrupt"
            ) from exc
        schema = record.get("schema")
        if schema != SCHEMA:
            other_schemas[str(schema)] = other_schemas.get(str(schema), 0) + 1
            continue
        missing = [name for name in _REQUIRED if name not in record]
        for name in ("protocol", "method"):
            if isinstance(record.get(name), dict) and "spec" not in record[name]:
                missing.append(f"{name}.spec")
            elif name in record and not isinstance(record[name], dict):
                missing.append(f"{name} (an object)")
        if missing:
            raise ValueError(
                f"{path}: line {number} lacks the field(s) {', '.join(missing)} that every "
                f"{SCHEMA} record has (see docs/records.md)"
            )
        parsed.append(record)
    for schema, count in other_schemas.items():
        notes.append(
            f"{count} record(s) with schema {schema!r} ignored (this report reads {SCHEMA!r})"
        )
    # A resumed run appends a rerun after a failed record with the same key: the last ok
    # record of a key wins, otherwise its last record; earlier failures are kept aside.
    by_key: dict[str, dict[str, Any]] = {}
    superseded: list[dict[str, Any]] = []
    for record in parsed:
        previous = by_key.get(record["key"])
        if previous is not None and previous.get("status") == "ok" and record["status"] != "ok":
            superseded.append(record)
            continue
        if previous is not None:
            superseded.append(previous)
        by_key[record["key"]] = record
    if superseded:
        notes.append(
            f"{len(superseded)} earlier record(s) superseded by a rerun of the same key "
            "(the rerun is reported)"
        )
    return RecordReading(list(by_key.values()), notes, superseded)


def read_bench_records(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of a ``hashlearn bench`` run folder, one dict per (method, bits, seed).

    Parameters
    ----------
    run_dir : str or path-like
        The run folder holding ``records.jsonl``.

    Returns
    -------
    list of dict
        Records in file order. When a key appears more than once (a resumed run reran a
        failed record), its last ``ok`` record is kept, otherwise its last record.

    Raises
    ------
    FileNotFoundError
        ``run_dir`` or its ``records.jsonl`` does not exist.
    ValueError
        A line other than the last is not a JSON object, or a record lacks a field every
        record has.

    Warns
    -----
    BenchRecordWarning
        A damaged last line (an interrupted run) and records of another schema version
        are ignored, with a warning.

    Examples
    --------
    >>> records = read_bench_records("runs/grh-cifar10")  # doctest: +SKIP
    >>> sorted({r["method"]["label"] for r in records})  # doctest: +SKIP
    """
    reading = read_run_records(run_dir)
    reading.warn(stacklevel=2)
    return reading.records


def read_run(run_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The run configuration (``run.json``) of a run folder, or None when absent or damaged."""
    path = Path(run_dir) / RUN_NAME
    if not path.is_file():
        return None
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        warnings.warn(f"{path} is not valid JSON ({exc}); ignored", BenchRecordWarning, 2)
        return None
    return run if isinstance(run, dict) else {"run.json": run}


# -- Search benchmark records ---------------------------------------------------------------
# The search benchmark (``python -m benchmarks search``) lives outside the library; its run
# folder has the same two files, RECORDS_NAME and RUN_NAME: ``run.json`` (configuration,
# machine, data sources, total time) and ``records.jsonl`` (one object per data x n_bits x N
# x task x index, measured or skipped; docs/benchmarking.md). Its report reads them here.

SEARCH_PROTOCOL = "search-benchmark"
"""The ``protocol`` of a search benchmark's ``run.json``."""

SEARCH_FIELDS = ("data", "n", "n_bits", "task", "k", "radius", "index", "family", "status")
"""The fields every search benchmark record has, whether measured, skipped or failed."""


def read_search_records(
    run_dir: str | os.PathLike[str],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run description and the records of a search benchmark run folder.

    Parameters
    ----------
    run_dir : str or path-like
        The folder ``python -m benchmarks search --out`` wrote.

    Returns
    -------
    run : dict
        ``run.json`` (empty when the file is absent: a run still going).
    records : list of dict
        ``records.jsonl``, in file order.

    Raises
    ------
    FileNotFoundError
        No ``records.jsonl`` in ``run_dir``.
    ValueError
        A line is not a JSON object or lacks one of :data:`SEARCH_FIELDS`, or ``run.json``
        belongs to another kind of run.
    """
    folder = Path(run_dir)
    records_path = folder / RECORDS_NAME
    if not records_path.is_file():
        raise FileNotFoundError(f"no {RECORDS_NAME} in {folder}: run the search benchmark first")
    records = []
    for number, line in enumerate(records_path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"corrupt {records_path}, line {number}: {exc}") from exc
        if not isinstance(record, dict):
            raise ValueError(f"corrupt {records_path}, line {number}: not a JSON object")
        missing = [name for name in SEARCH_FIELDS if name not in record]
        if missing:
            raise ValueError(
                f"{records_path}, line {number} lacks the field(s) {', '.join(missing)} "
                "of every search benchmark record: is it a search benchmark run folder?"
            )
        records.append(record)
    run_path = folder / RUN_NAME
    run = json.loads(run_path.read_text()) if run_path.is_file() else {}
    if not isinstance(run, dict):
        raise ValueError(f"{run_path} is not a JSON object")
    if run.get("protocol", SEARCH_PROTOCOL) != SEARCH_PROTOCOL:
        raise ValueError(
            f"{run_path} describes a {run['protocol']!r} run, not a search benchmark "
            f"({SEARCH_PROTOCOL!r})"
        )
    return run, records


# -- Summaries of records -------------------------------------------------------------------
# Pure statistics over records, shared by the report (hashlearn.report.aggregate re-exports
# them) and by the runner's RunResults, which may not import the report.


def finite(value: Any) -> float | None:
    """``value`` as a float when it is a finite number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (``ddof=1``; None for a single value).

    Sums are exact (``math.fsum``), so the same values give the same digits whatever
    their order.
    """
    mean = math.fsum(values) / len(values)
    if len(values) < 2:
        return mean, None
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


def format_mean_std(values: Sequence[float], digits: int = 4) -> str:
    """``"mean ± std (n)"`` as the report's tables show it; ``"mean (1)"`` for one value,
    ``"-"`` for none."""
    if not values:
        return "-"
    return _stat_text(*mean_std(values), len(values), digits)


def _stat_text(mean: float, std: float | None, n: int, digits: int = 4) -> str:
    if std is None:
        return f"{mean:.{digits}f} ({n})"
    return f"{mean:.{digits}f} ± {std:.{digits}f} ({n})"


def method_labels(records: Sequence[dict[str, Any]]) -> dict[str, str]:
    """One unique display label per ``method.spec``, in order of first appearance.

    A method's label (or name) is used as it is unless two specs share it; those are
    shown as ``label (spec)``.
    """
    specs: dict[str, str] = {}
    for record in records:
        method = record["method"]
        label = str(method.get("label") or method.get("name") or method["spec"])
        specs.setdefault(str(method["spec"]), label)
    counts: dict[str, int] = {}
    for label in specs.values():
        counts[label] = counts.get(label, 0) + 1
    return {
        spec: f"{label} ({spec})" if counts[label] > 1 else label for spec, label in specs.items()
    }


# Metric names with a cut-off: (prefix, key in record["metrics"], title prefix).
_CUT_OFF_METRICS = (
    ("tie_aware_map_at_k_", "tie_aware_map_at_k", "tie-aware mAP@"),
    ("map_at_k_", "map_at_k", "mAP@"),
    ("tie_aware_precision_at_k_", "tie_aware_precision_at_k", "tie-aware P@"),
    ("precision_at_k_", "precision_at_k", "P@"),
    ("recall_at_", "recall_at", "recall@"),
)
_METRIC_FORMS = (
    "'map', 'tie_aware_map', 'map_at_k_K', 'tie_aware_map_at_k_K', 'precision_at_k_K', "
    "'tie_aware_precision_at_k_K', 'precision_within_radius_R' or 'recall_at_R'"
)


def metric_path(name: str) -> tuple[str, ...] | None:
    """Where a metric named as in a protocol's ``metric_names`` lies in ``record["metrics"]``.

    ``"map"`` and ``"tie_aware_map"``; ``"map_at_k_1000"``, ``"tie_aware_map_at_k_1000"``,
    ``"precision_at_k_100"``, ``"tie_aware_precision_at_k_100"``, ``"recall_at_10"`` (K a
    number); ``"precision_within_radius_2"`` (its ``value``). None for any other name.

    Examples
    --------
    >>> metric_path("tie_aware_map_at_k_1000"), metric_path("precision_within_radius_2")
    (('tie_aware_map_at_k', '1000'), ('precision_within_radius', '2', 'value'))
    """
    if name in ("map", "tie_aware_map"):
        return (name,)
    found = re.fullmatch(r"precision_within_radius_(\d+)", name)
    if found:
        return "precision_within_radius", found.group(1), "value"
    for prefix, key, _ in _CUT_OFF_METRICS:
        if name.startswith(prefix) and name[len(prefix) :].isdigit():
            return key, name[len(prefix) :]
    return None


def metric_title(name: str) -> str:
    """The short title of a metric name of :func:`metric_path` (``"mAP@all"``, ``"P@r2"``,
    ``"tie-aware mAP@1000"``, ...); the name itself when it is none of those."""
    if name in ("map", "tie_aware_map"):
        return "mAP@all" if name == "map" else "tie-aware mAP@all"
    if name.startswith("precision_within_radius_"):
        return f"P@r{name.rsplit('_', 1)[1]}"
    for prefix, _, title in _CUT_OFF_METRICS:
        if name.startswith(prefix):
            return f"{title}{name[len(prefix) :]}"
    return name


def _value_at(record: dict[str, Any], path: Sequence[str]) -> float | None:
    value: Any = record.get("metrics") or {}
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return finite(value)


def summarize_records(
    records: Sequence[dict[str, Any]], metric: str = "map"
) -> list[dict[str, Any]]:
    """One row per (protocol, method, code length): a metric's mean ± std over seeds and
    the mean fit time.

    Parameters
    ----------
    records : sequence of dict
        Records of the ``hashlearn.bench/1`` schema (``docs/records.md``), ok or failed.
    metric : str, default "map"
        ``"map"`` (mAP@all), ``"tie_aware_map"``, ``"map_at_k_K"``,
        ``"tie_aware_map_at_k_K"``, ``"precision_at_k_K"``, ``"tie_aware_precision_at_k_K"``,
        ``"precision_within_radius_R"`` or ``"recall_at_R"``, as in :func:`metric_path`.

    Returns
    -------
    list of dict
        In order of first appearance, each ``{"protocol": spec, "method": display label,
        "method_spec", "n_bits", "metric": metric, "mean", "std", "n", "n_failed",
        "fit_seconds"}``: ``mean`` and ``std`` (sample, ``ddof=1``) over the ``n`` ok
        records that carry the metric (None when there is none; ``std`` None for one),
        ``n_failed`` the failed records, ``fit_seconds`` the mean fit time of the ok ones.

    Raises
    ------
    ValueError
        ``metric`` is not one of the names above.
    """
    path = metric_path(metric) if isinstance(metric, str) else None
    if path is None:
        raise ValueError(f"metric must be one of {_METRIC_FORMS}, got {metric!r}")
    labels = method_labels(records)
    cells: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for record in records:
        key = (str(record["protocol"]["spec"]), str(record["method"]["spec"]), record["n_bits"])
        cells.setdefault(key, []).append(record)
    rows = []
    for (protocol, spec, n_bits), group in cells.items():
        ok = [r for r in group if r.get("status") == "ok"]
        values = [v for v in (_value_at(r, path) for r in ok) if v is not None]
        fits = [f for f in (finite((r.get("times") or {}).get("fit")) for r in ok) if f is not None]
        mean, std = mean_std(values) if values else (None, None)
        rows.append(
            {
                "protocol": protocol,
                "method": labels[spec],
                "method_spec": spec,
                "n_bits": n_bits,
                "metric": metric,
                "mean": mean,
                "std": std,
                "n": len(values),
                "n_failed": len(group) - len(ok),
                "fit_seconds": math.fsum(fits) / len(fits) if fits else None,
            }
        )
    return rows


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2e}" if value < 0.01 else f"{value:.3f}" if value < 10 else f"{value:,.1f}"


def _markdown_table(rows: list[dict[str, Any]], metric: str) -> str:
    """The rows of :func:`summarize_records` as a Markdown table (a protocol column only
    when there is more than one protocol)."""
    if not rows:
        return "(no records)"
    several = len({row["protocol"] for row in rows}) > 1
    header = [*(["protocol"] if several else []), "method", "bits", metric_title(metric), "fit s"]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] * (len(header) - 3) + ["---:"] * 3) + "|",
    ]
    for row in rows:
        value = "-" if row["mean"] is None else _stat_text(row["mean"], row["std"], row["n"])
        if row["n_failed"]:
            value += f" +{row['n_failed']} failed"
        cells = [
            *([row["protocol"]] if several else []),
            row["method"].replace("|", "\\|"),
            str(row["n_bits"]),
            value,
            _seconds(row["fit_seconds"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


class RunResults(list[dict[str, Any]]):
    """The records of a run, one dict per method x bits x seed, with a summary.

    A plain list of records (``docs/records.md``) in the order they were computed, which
    also offers :meth:`summary` (a metric's mean ± std over seeds per method and code
    length, with the fit time) and :meth:`to_markdown`; ``str()`` and ``print()`` show that
    table for mAP@all. :func:`~hashlearn.experiments.run_protocol` and
    :func:`~hashlearn.experiments.run_benchmark` return one.
    """

    def summary(self, metric: str = "map") -> list[dict[str, Any]]:
        """:func:`summarize_records` of these records: one dict per (protocol, method,
        code length) with ``mean``, ``std``, ``n``, ``n_failed`` and ``fit_seconds``."""
        return summarize_records(self, metric)

    def to_markdown(self, metric: str = "map") -> str:
        """The summary as a Markdown table: ``mean ± std (n)`` over seeds (sample std),
        ``+k failed`` where records failed, and the mean fit seconds."""
        return _markdown_table(self.summary(metric), metric)

    def __str__(self) -> str:
        return self.to_markdown()


# --------------------------------------------------------------------------- toy 2-D gallery


@dataclass(frozen=True)
class Toy2DPanel:
    """One method at one code length on the toy 2-D data: its projections on the grid, or
    why there are none.

    Attributes
    ----------
    n_bits : int
        The code length.
    projections : ndarray of shape (n_y, n_x, n_bits), or None
        The hasher's real-valued projections at the grid's points (row ``i``, column ``j``
        is the point ``(x_grid[j], y_grid[i])``); bit ``b`` is 1 exactly where
        ``projections[..., b] >= 0``. None when the method could not be fitted.
    reason : str or None
        Why the method could not be fitted at this length (the error's type and message).
    fit_seconds : float or None
        Wall-clock seconds of ``fit``.
    warnings : tuple of str
        The distinct warnings ``fit`` issued (a convergence warning, for instance).
    """

    n_bits: int
    projections: Any = None
    reason: str | None = None
    fit_seconds: float | None = None
    warnings: tuple[str, ...] = ()

    @property
    def drawn(self) -> bool:
        """Whether there are projections to draw."""
        return self.projections is not None


@dataclass(frozen=True)
class Toy2DMethod:
    """One registered method on the toy: a panel per code length.

    Attributes
    ----------
    name : str
        The registered name (``"lsh"``).
    spec : str
        The spec asked for (``"lsh"``, ``"grh:kernel=rbf"``); :attr:`note` says what the toy
        changed.
    label : str
        The method's label in the published tables.
    supervised : bool
        Whether it was fitted on the toy's labels.
    panels : tuple of Toy2DPanel
        One per code length, in the gallery's order of lengths.
    note : str or None
        What the toy changed from the method's defaults, and why.
    """

    name: str
    spec: str
    label: str
    supervised: bool
    panels: tuple[Toy2DPanel, ...]
    note: str | None = None

    @property
    def skipped(self) -> str | None:
        """Why nothing of this method is drawn (its distinct reasons, joined), or None
        when at least one panel is."""
        if any(panel.drawn for panel in self.panels):
            return None
        reasons = dict.fromkeys(panel.reason or "not fitted" for panel in self.panels)
        return "; ".join(reasons) or "no code length asked"


@dataclass(frozen=True)
class Toy2DGallery:
    """The toy 2-D gallery: uniform points on a rectangle, every method's projections on
    a grid over it.

    Attributes
    ----------
    low, high : tuple of float
        The rectangle's corners ``(x, y)``; points are uniform on it.
    x_grid : ndarray of shape (n_x,)
    y_grid : ndarray of shape (n_y,)
        The grid's coordinates (pixel centres of a ``n_x`` by ``n_y`` image of the
        rectangle).
    points : ndarray of shape (n_points, 2)
        The training points.
    labels : ndarray of shape (n_points,)
        Their toy labels, given to supervised methods.
    label_rule : str
        How the labels were made, in words.
    bits : tuple of int
        The code lengths, in order.
    seed : int
        The seed of the points and of every method.
    methods : tuple of Toy2DMethod
        In the order asked.
    """

    low: tuple[float, float]
    high: tuple[float, float]
    x_grid: Any
    y_grid: Any
    points: Any
    labels: Any
    label_rule: str
    bits: tuple[int, ...]
    seed: int
    methods: tuple[Toy2DMethod, ...]

"""Benchmark records: the files ``hashlearn bench`` writes and ``hashlearn report`` reads.

A run folder holds ``run.json`` (the configuration) and ``records.jsonl`` (one JSON object
per line, one line per method x bits x seed; format in ``docs/records.md``). Both the
runner (to resume) and the report read it through :func:`read_bench_records`.
"""

from __future__ import annotations

import json
import os
import warnings
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
    "read_bench_records",
    "read_run",
    "read_run_records",
    "read_search_records",
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

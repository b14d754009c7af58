"""Resuming a run folder: record keys, the records already done, and the checks that keep
an interrupted run and its rerun consistent."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hashlearn._io import write_json
from hashlearn.records import RECORDS_NAME, RUN_NAME, read_bench_records, read_run

__all__ = ["check_same_data", "drop_damaged_tail", "finished_keys", "record_key", "write_run_json"]


def record_key(protocol_spec: str, method_spec: str, n_bits: int, seed: int) -> str:
    """The key that names one record in a run folder (what resuming compares)."""
    return f"{protocol_spec}/{method_spec}/{n_bits}/{seed}"


def finished_keys(out: Path) -> set[str]:
    """Keys of the records of ``out`` that finished (status ``"ok"``): a rerun skips them."""
    if not (out / RECORDS_NAME).is_file():
        return set()
    return {record["key"] for record in read_bench_records(out) if record["status"] == "ok"}


def write_run_json(out: Path, values: Mapping[str, Any]) -> None:
    """Write the run folder's ``run.json`` (strict JSON, atomically)."""
    write_json(out / RUN_NAME, dict(values))


def drop_damaged_tail(path: Path) -> None:
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


def check_same_data(out: Path, data: Mapping[str, Any]) -> None:
    """Refuse to resume a run folder whose records came from other data."""
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

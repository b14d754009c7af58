"""Resuming a run folder: record keys, the records already done, and the checks that keep
an interrupted run and its rerun consistent."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from hashlearn._io import to_json, write_json
from hashlearn.records import RECORDS_NAME, RUN_NAME, read_bench_records, read_run

__all__ = [
    "array_fingerprint",
    "check_same_data",
    "drop_damaged_tail",
    "finished_keys",
    "json_fingerprint",
    "record_key",
    "resumable_keys",
    "write_run_json",
]


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


def array_fingerprint(*arrays: np.ndarray) -> str:
    """A content hash of arrays (dtype, shape and every byte): what resuming compares.

    A path and a shape do not tell a replaced dataset file from the original; its bytes do.
    """
    digest = hashlib.blake2b(digest_size=16)
    for array in arrays:
        if sp.issparse(array):  # its CSR parts: the same matrix gives the same bytes
            matrix = sp.csr_matrix(array)
            matrix.sum_duplicates()
            digest.update(f"csr{matrix.shape};".encode())
            parts = (matrix.data, matrix.indices, matrix.indptr)
            digest.update(array_fingerprint(*parts).encode())
            continue
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape};".encode())
        digest.update(array.reshape(-1).view(np.uint8).data)
    return digest.hexdigest()


def json_fingerprint(value: Any) -> str:
    """A hash of a JSON value (keys sorted): the fingerprint of a protocol or a method."""
    text = json.dumps(to_json(value), sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


_FORCE = "use another --out folder, or resume anyway with --force-resume (force_resume=True)"


def check_same_data(out: Path, data: Mapping[str, Any], *, force: bool = False) -> None:
    """Refuse to resume a run folder whose records came from other data.

    ``data`` holds ``source``, ``shape`` and, when known, ``fingerprint`` (the content hash
    of the arrays); the fingerprint decides when both sides have one.
    """
    run = read_run(out) if out.is_dir() else None
    previous = None if run is None else run.get("data")
    if not isinstance(previous, dict) or force:
        return
    if "fingerprint" in previous and "fingerprint" in data:
        differs = previous["fingerprint"] != data["fingerprint"]
    else:
        differs = previous.get("source") != data["source"] or previous.get("shape") != data["shape"]
    if differs:
        raise ValueError(
            f"{out} holds records computed on other data ({previous.get('source')}, shape "
            f"{previous.get('shape')}, fingerprint {previous.get('fingerprint')}); this run uses "
            f"{data['source']}, shape {data['shape']}, fingerprint {data.get('fingerprint')}: "
            f"{_FORCE}"
        )


def resumable_keys(
    out: Path,
    expected: Mapping[str, Mapping[str, str]],
    *,
    force: bool = False,
    note: Callable[[str], None] = lambda line: None,
) -> set[str]:
    """The keys a rerun may skip: finished records whose fingerprints match this run's.

    Parameters
    ----------
    out : Path
        The run folder.
    expected : mapping
        For each key this run computes, its fingerprints (``data``, ``protocol``,
        ``method``), as the records store them.
    force : bool, default False
        Keep finished records whose fingerprints differ (or that have none) instead of
        raising.
    note : callable
        Receives one line per finished record that is computed again (its model file is
        missing).

    Raises
    ------
    ValueError
        When a finished record of a key this run computes has other fingerprints, unless
        ``force``.
    """
    if not (out / RECORDS_NAME).is_file():
        return set()
    done: set[str] = set()
    mismatches: list[str] = []
    for record in read_bench_records(out):
        key = record["key"]
        if record["status"] != "ok" or key not in expected:
            continue
        found = record.get("fingerprint")
        found = found if isinstance(found, dict) else {}
        differ = [part for part, value in expected[key].items() if found.get(part) != value]
        if differ and not force:
            mismatches.append(f"{key} ({', '.join(differ)})")
            continue
        model = record.get("model")
        if isinstance(model, str) and not (out / model).is_file():
            note(f"    {key}: its model file {model} is missing; computed again")
            continue
        done.add(key)
    if mismatches:
        shown = "; ".join(mismatches[:3]) + ("; ..." if len(mismatches) > 3 else "")
        raise ValueError(
            f"{out} holds {len(mismatches)} finished record(s) whose data, protocol or method "
            f"fingerprint differs from this run's (the part that differs in brackets): {shown}. "
            f"Mixing them would report records of different runs as one: {_FORCE}"
        )
    return done

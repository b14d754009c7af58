"""Hostile cases for the benchmark runner: shared run folders, resuming on other data,
method specs that would be silently ignored (issue 14, "The benchmark runner")."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hashlearn.experiments.lock import LOCK_NAME, RunFolderLockedError, StaleLockWarning
from hashlearn.experiments.runner import run_protocol
from hashlearn.records import RECORDS_NAME

SMALL = {"n_queries": 20, "n_train": 60, "n_validation": 0}


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 40)
    X = rng.normal(size=(160, 12)).astype(np.float32) + y[:, None]
    return X, y


def _run(data: tuple[np.ndarray, np.ndarray], out: Path, **kwargs: object) -> list[dict]:
    X, y = data
    options = {"bits": 8, "seeds": 1, **SMALL, **kwargs}
    return run_protocol(X, y, "grh-cifar10", options.pop("methods", "lsh"), out=out, **options)


def _lock(folder: Path, pid: int, host: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    path.write_text(json.dumps({"pid": pid, "host": host or socket.gethostname()}))
    return path


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# -- 1. the run-folder lock -------------------------------------------------------------


def test_a_folder_held_by_a_live_run_is_refused_naming_folder_and_pid(
    data: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    _lock(out, os.getppid())
    with pytest.raises(RunFolderLockedError, match=rf"{out.name}.*process {os.getppid()}"):
        _run(data, out)
    assert not (out / RECORDS_NAME).exists()
    assert (out / LOCK_NAME).exists()  # the other run's lock is left alone


def test_a_lock_of_another_host_is_respected(
    data: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    _lock(out, 1, host="some-other-host")
    with pytest.raises(RunFolderLockedError, match="some-other-host"):
        _run(data, out)


def test_a_stale_lock_of_a_dead_process_is_taken_over_with_a_warning(
    data: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    pid = _dead_pid()
    _lock(out, pid)
    with pytest.warns(StaleLockWarning, match=f"process {pid}") as caught:
        records = _run(data, out)
    assert caught[0].filename == __file__  # points at the caller's line
    assert records[0]["status"] == "ok"
    assert not (out / LOCK_NAME).exists()  # released at the end


def test_an_unreadable_lock_file_is_taken_over_with_a_warning(
    data: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / LOCK_NAME).write_text("[not a lock")
    with pytest.warns(StaleLockWarning, match="unreadable"):
        assert _run(data, out)[0]["status"] == "ok"


def test_the_lock_is_released_after_a_run_and_a_rerun_resumes(
    data: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    _run(data, out)
    assert not (out / LOCK_NAME).exists()
    assert _run(data, out) == []  # nothing left to do, and no lock error

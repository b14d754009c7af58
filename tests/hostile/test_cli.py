"""Hostile cases for the command line: mistyped options, failed commands, warnings
(issue 14, "CLI polish")."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hashlearn.cli import main
from hashlearn.experiments.lock import LOCK_NAME


@pytest.mark.parametrize(
    ("argv", "usage", "hint"),
    [
        (["bench", "--protocl", "grh-cifar10"], "usage: hashlearn bench", "mean --protocol?"),
        (["bench", "--metods=lsh"], "usage: hashlearn bench", "did you mean --methods?"),
        (["report", "somewhere", "--titel", "x"], "usage: hashlearn report", "mean --title?"),
        (["tutorial", "--max-raduis", "3"], "usage: hashlearn tutorial", "--max-radius?"),
    ],
)
def test_an_unknown_option_shows_the_subcommands_usage_and_a_suggestion(
    argv: list[str], usage: str, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert usage in err and hint in err and "unrecognized arguments" in err


def test_an_unknown_option_with_nothing_close_gets_no_wild_guess(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["report", "somewhere", "--bogus"])
    err = capsys.readouterr().err
    assert "usage: hashlearn report" in err and "did you mean" not in err


def test_a_failed_command_leaves_no_empty_output_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "new" / "tutorial"
    argv = ["tutorial", "--dataset", "cifar10-gist-mat", "--mat", str(tmp_path / "none.mat")]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 2
    assert "error" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_a_failed_command_keeps_a_folder_that_existed(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    argv = ["tutorial", "--dataset", "cifar10-gist-mat", "--mat", str(tmp_path / "none.mat")]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 2
    assert out.is_dir()


@pytest.fixture()
def user_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 40)
    path = tmp_path / "data.npz"
    np.savez(path, X=rng.normal(size=(160, 12)) + y[:, None], y=y)
    return path


def _bench(user_file: Path, out: Path) -> list[str]:
    return [
        "bench",
        "--protocol",
        "grh-cifar10:n_queries=20,n_train=60,n_validation=0",
        "--dataset",
        str(user_file),
        "--methods",
        "lsh",
        "--bits",
        "8",
        "--seeds",
        "1",
        "--out",
        str(out),
        "--no-report",
        "--no-progress",
        "--no-save-models",
    ]


def test_a_locked_run_folder_is_a_one_line_error_naming_folder_and_pid(
    user_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os
    import socket

    out = tmp_path / "run"
    out.mkdir()
    (out / LOCK_NAME).write_text(json.dumps({"pid": os.getppid(), "host": socket.gethostname()}))
    assert main(_bench(user_file, out)) == 2
    err = capsys.readouterr().err
    assert f"hashlearn bench: error: run folder '{out}' is in use by process {os.getppid()}" in err


def test_warnings_are_one_line_naming_the_command_not_a_library_line(
    user_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / LOCK_NAME).write_text("damaged")  # unreadable: taken over with a warning
    assert main(_bench(user_file, out)) == 0
    err = capsys.readouterr().err
    assert "hashlearn bench: warning (StaleLockWarning): run folder" in err
    assert "sys:1" not in err and ".py:" not in err

"""``hashlearn build`` and ``hashlearn serve`` on the command line: help, errors, a build.

Errors are one line, ``hashlearn <command>: error: ...``, and a non-zero exit; a failed
build leaves no folder behind.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hashlearn.cli import main
from hashlearn.serve.bundle import load_bundle


def _help(capsys: pytest.CaptureFixture[str], command: str) -> str:
    with pytest.raises(SystemExit) as caught:
        main([command, "--help"])
    assert caught.value.code == 0
    return capsys.readouterr().out


def test_build_help_names_the_options(capsys) -> None:
    text = _help(capsys, "build")
    for option in (
        "--dataset", "--method", "--bits", "--out", "--seed", "--n-train", "--limit",
        "--index", "--no-vectors", "--data-dir", "--download", "--force",
    ):  # fmt: skip
        assert option in text, option
    assert "hashlearn build --dataset" in text  # the example


def test_serve_help_names_the_options(capsys) -> None:
    text = _help(capsys, "serve")
    for option in (
        "BUNDLE", "--host", "--port", "--writable", "--max-k", "--max-batch",
        "--max-body-bytes", "--max-results", "--max-probe-cost", "--no-verify",
    ):  # fmt: skip
        assert option in text, option
    assert "127.0.0.1" in text


def _one_error_line(capsys: pytest.CaptureFixture[str], command: str, args: list[str]) -> str:
    status = main([command, *args])
    assert status != 0
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"hashlearn {command}: error: "), lines[0]
    assert "Traceback" not in captured.err and captured.out == ""
    return lines[0]


def _build_args(out: Path, *extra: str) -> list[str]:
    return ["--dataset", "digits", "--method", "lsh", "--bits", "8", "--out", str(out), *extra]


def test_build_unknown_dataset(capsys, tmp_path: Path) -> None:
    args = _build_args(tmp_path / "b")
    args[1] = "no-such-dataset"
    line = _one_error_line(capsys, "build", args)
    assert "'no-such-dataset'" in line and "digits" in line  # names the catalogue
    assert list(tmp_path.iterdir()) == []


def test_build_unknown_method(capsys, tmp_path: Path) -> None:
    args = _build_args(tmp_path / "b")
    args[3] = "no-such-method"
    line = _one_error_line(capsys, "build", args)
    assert "unknown method 'no-such-method'" in line and "itq" in line
    assert list(tmp_path.iterdir()) == []


def test_build_refuses_an_existing_out_without_force(capsys, tmp_path: Path) -> None:
    out = tmp_path / "exists"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    line = _one_error_line(capsys, "build", _build_args(out))
    assert str(out) in line and "--force" in line
    assert (out / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("bits", ["0", "-3"])
def test_build_refuses_zero_bits(capsys, tmp_path: Path, bits: str) -> None:
    args = _build_args(tmp_path / "b")
    args[5] = bits
    line = _one_error_line(capsys, "build", args)
    assert "bits" in line and bits in line


def test_build_with_zero_bits_fails_and_leaves_nothing(capsys, tmp_path: Path) -> None:
    """What holds already: an error line, a non-zero exit, no folder."""
    args = _build_args(tmp_path / "b")
    args[5] = "0"
    assert main(["build", *args]) != 0
    assert "hashlearn build: error: n_bits must be in [1, " in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_build_limit_zero(capsys, tmp_path: Path) -> None:
    line = _one_error_line(capsys, "build", _build_args(tmp_path / "b", "--limit", "0"))
    assert "limit must be >= 1, got 0" in line
    assert list(tmp_path.iterdir()) == []


def test_build_bits_not_a_number(capsys, tmp_path: Path) -> None:
    args = _build_args(tmp_path / "b")
    args[5] = "eight"
    with pytest.raises(SystemExit) as caught:
        main(["build", *args])
    assert caught.value.code == 2
    assert "--bits: invalid int value: 'eight'" in capsys.readouterr().err


def test_build_digits_writes_a_loadable_bundle(capsys, tmp_path: Path) -> None:
    out = tmp_path / "nested" / "digits-lsh-8"
    status = main(["build", *_build_args(out, "--limit", "300", "--n-train", "100", "--seed", "2")])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert f"bundle written: {out}" in captured.out and "hashlearn serve" in captured.out
    assert "hashlearn build: fitting" in captured.err  # progress goes to stderr
    bundle = load_bundle(out)
    assert bundle.n_items == 300 and bundle.n_bits == 8
    description = bundle.manifest["description"]
    assert description["method"] == "lsh" and description["seed"] == 2
    assert description["n_train"] == 100
    again = main(["build", *_build_args(out, "--limit", "50", "--force")])
    assert again == 0 and load_bundle(out).n_items == 50


def test_serve_a_missing_bundle(capsys, tmp_path: Path) -> None:
    line = _one_error_line(capsys, "serve", [str(tmp_path / "nowhere")])
    assert "no bundle at" in line and "nowhere" in line


def test_serve_an_interrupted_bundle(capsys, tmp_path: Path) -> None:
    (tmp_path / "half").mkdir()
    line = _one_error_line(capsys, "serve", [str(tmp_path / "half")])
    assert "manifest.json is missing" in line


def test_serve_a_limit_of_zero(capsys, digits_bundle: Path) -> None:
    line = _one_error_line(capsys, "serve", [str(digits_bundle), "--max-k", "0"])
    assert "--max-k must be >= 1, got 0" in line

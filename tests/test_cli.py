"""The command line: the tutorial end to end on digits, the auto fallback, clean errors."""

from __future__ import annotations

import json

import pytest

from hashlearn.cli import main


def test_tutorial_on_digits_writes_results_and_plots(tmp_path, capsys):
    out = tmp_path / "run"
    status = main(
        [
            "tutorial",
            "--dataset",
            "digits",
            "--bits",
            "8",
            "--max-radius",
            "3",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert status == 0
    results = json.loads((out / "results.json").read_text())
    assert results["protocol"] == "tutorial"
    assert set(results["methods"]) == {"lsh", "grh"}
    for name in ("precision_vs_radius.png", "query_time_vs_radius.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "exhaustive cosine search" in printed and "radius" in printed
    assert not list(out.glob(".*.tmp"))  # no temporary files left behind


def test_auto_falls_back_to_digits_with_a_notice(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("HASHLEARN_DATA", raising=False)
    monkeypatch.setenv("HASHLEARN_CACHE", str(tmp_path / "cache"))
    status = main(
        [
            "tutorial",
            "--bits",
            "8",
            "--max-radius",
            "1",
            "--out",
            str(tmp_path / "o"),
            "--no-progress",
        ]
    )
    assert status == 0
    err = capsys.readouterr().err
    assert "notice: CIFAR-10 not found" in err and "HASHLEARN_DATA" in err
    assert err.count("\n") == 1


def test_missing_data_directory_is_a_clean_error(tmp_path, capsys):
    status = main(
        [
            "tutorial",
            "--dataset",
            "cifar10-gist",
            "--data-dir",
            str(tmp_path / "nope"),
            "--no-progress",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert status == 2
    err = capsys.readouterr().err
    assert "error:" in err and "nope" in err and "does not exist" in err


def test_bad_bits_is_a_clean_error(tmp_path, capsys):
    status = main(
        [
            "tutorial",
            "--dataset",
            "digits",
            "--bits",
            "0",
            "--no-progress",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert status == 2
    assert "n_bits must be in [1, 64], got 0" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("hashlearn ")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--grh-alpha", "2"], "grh_alpha must be in [0, 1], got 2.0"),
        (["--grh-iter", "0"], "grh_n_iter must be in [1, inf], got 0"),
        (["--seed", "-1"], "seed must be in [0, inf], got -1"),
        (["--k", "0"], "k must be in [1, inf], got 0"),
    ],
)
def test_bad_parameters_fail_before_any_work(arguments, message, tmp_path, capsys, monkeypatch):
    def no_loading(*args, **kwargs):
        raise AssertionError("data was loaded before the parameters were checked")

    monkeypatch.setattr("hashlearn.experiments.tutorial.load_tutorial_dataset", no_loading)
    status = main(["tutorial", "--no-progress", "--out", str(tmp_path / "o"), *arguments])
    assert status == 2
    assert message in capsys.readouterr().err


def test_out_pointing_at_a_file_fails_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(
        "hashlearn.experiments.tutorial.load_tutorial_dataset",
        lambda *args, **kwargs: pytest.fail("loaded data"),
    )
    target = tmp_path / "a-file"
    target.write_text("keep me")
    assert main(["tutorial", "--out", str(target), "--no-progress"]) == 2
    assert "--out must be a folder" in capsys.readouterr().err
    assert target.read_text() == "keep me"


def test_default_radius_follows_short_codes(tmp_path):
    out = tmp_path / "o"
    assert (
        main(["tutorial", "--dataset", "digits", "--bits", "6", "--out", str(out), "--no-progress"])
        == 0
    )
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["max_radius"] == 6


def test_python_m_hashlearn_is_the_command_line():
    import subprocess
    import sys

    from hashlearn import __version__

    done = subprocess.run(
        [sys.executable, "-m", "hashlearn", "--version"], capture_output=True, text=True, check=True
    )
    assert __version__ in done.stdout

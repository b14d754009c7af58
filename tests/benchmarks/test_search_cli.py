"""``python -m benchmarks search``: a tiny run end to end, and clean errors (exit status 2)."""

from __future__ import annotations

import json
import sys

import pytest
from benchmarks.__main__ import command_for
from benchmarks.__main__ import main as suite_main
from benchmarks.search.__main__ import main

PNG = b"\x89PNG\r\n\x1a\n"


def test_tiny_run_writes_records_table_and_plots(tmp_path, capsys):
    out = tmp_path / "bench"
    status = main(
        [
            "--quick",
            "--out",
            str(out),
            "--sizes",
            "300,600",
            "--bits",
            "32",
            "--k",
            "1,10",
            "--radii",
            "0,2",
            "--data",
            "uniform",
            "--indexes",
            "faiss.IndexBinaryFlat,HashTableIndex",
            "--queries",
            "8",
        ]
    )
    assert status == 0
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert {r["index"] for r in records} == {
        "LinearScanIndex",
        "faiss.IndexBinaryFlat",
        "HashTableIndex",
    }
    assert len(records) == 2 * 4 * 3  # sizes x tasks x indexes
    assert all(r["status"] == "ok" and r["identical"] for r in records)
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["n_queries"] == 8 and run["config"]["data"] == ["uniform"]
    for name in ("queries_per_second_knn.png", "queries_per_second_range.png"):
        assert (out / name).read_bytes()[:8] == PNG
    assert "| task | N | index |" in (out / "results.md").read_text()
    captured = capsys.readouterr()
    assert "[1/2] uniform, 32 bits, N=300" in captured.err  # progress
    assert "Queries/s at N = 600" in captured.out and "wrote" in captured.out
    assert not list(out.glob(".*.tmp"))


@pytest.mark.parametrize(
    ("argument", "value", "expected"),
    [
        ("--sizes", "1000,abc", "expected comma-separated integers"),
        ("--sizes", "0", "must be in [1,"),
        ("--bits", "64,5000", "must be in [1, 4,096]"),
        ("--k", "0", "must be in [1,"),
        ("--radii", "-1", "must be in [0,"),
        ("--data", "uniform,gaussian", "unknown gaussian"),
        ("--threads", "0", "expected an integer >= 1"),
        ("--queries", "many", "expected an integer >= 1"),
        ("--clustered-source", "cifar100", "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(tmp_path, capsys, argument, value, expected):
    with pytest.raises(SystemExit) as raised:
        main(["--out", str(tmp_path / "o"), argument, value])
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert argument in err and expected in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--threads", "4096"], "threads must be in [1,"),
        (["--max-seconds", "0"], "max_seconds must be a positive number"),
        (["--near-duplicates", "1.5"], "near_duplicate_queries must be a number in [0, 1]"),
        (["--indexes", "LinearScanIndex,Nope"], "unknown name(s) Nope"),
    ],
)
def test_invalid_settings_exit_2_before_any_work(tmp_path, capsys, arguments, expected):
    status = main(["--quick", "--out", str(tmp_path / "o"), *arguments])
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m benchmarks search: error:") and expected in err
    assert not (tmp_path / "o").exists()


def test_out_must_be_a_folder(tmp_path, capsys):
    target = tmp_path / "file.txt"
    target.write_text("not a folder")
    assert main(["--quick", "--out", str(target)]) == 2
    assert "must be a folder" in capsys.readouterr().err
    assert target.read_text() == "not a folder"


def test_python_m_benchmarks_search_hands_its_options_to_the_search_benchmark(tmp_path, capsys):
    with pytest.raises(SystemExit) as raised:
        suite_main(["search", "--out", str(tmp_path / "o"), "--sizes", "0"])
    assert raised.value.code == 2
    assert "python -m benchmarks search: error: argument --sizes" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_the_suite_runs_the_search_benchmark_as_a_module(tmp_path):
    command = command_for("search", quick=True, out=tmp_path, data_dir="/data")
    assert command[:3] == [sys.executable, "-m", "benchmarks.search"]
    assert command[3:] == [
        "--quick",
        "--no-progress",
        "--data-dir",
        "/data",
        "--json",
        str(tmp_path / "search.json"),
    ]

"""The record readers: damaged lines, other schema versions, reruns that supersede failures."""

from __future__ import annotations

import json
import statistics
import warnings
from pathlib import Path
from typing import Any

import pytest

from hashlearn.records import (
    RECORDS_NAME,
    RUN_NAME,
    SCHEMA,
    BenchRecordWarning,
    RunResults,
    metric_path,
    metric_title,
    read_bench_records,
    read_run,
    read_run_records,
    summarize_records,
)


def record(
    method: str = "lsh", n_bits: int = 16, seed: int = 0, status: str = "ok"
) -> dict[str, Any]:
    """The fields every record has (docs/records.md), and a metric to tell records apart."""
    protocol = "grh-cifar10:n_train=2000"
    return {
        "schema": SCHEMA,
        "key": f"{protocol}/{method}/{n_bits}/{seed}",
        "status": status,
        "protocol": {"name": "grh-cifar10", "spec": protocol},
        "method": {"name": method, "spec": method},
        "n_bits": n_bits,
        "seed": seed,
        "metrics": {"map": 0.1 + seed} if status == "ok" else None,
    }


def write(folder: Path, records: list[dict[str, Any]], *, tail: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(r) + "\n" for r in records)
    (folder / RECORDS_NAME).write_text(lines + tail)
    return folder


def test_records_in_file_order(tmp_path: Path) -> None:
    records = [record(seed=1), record(seed=0), record("pcah")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read = read_bench_records(write(tmp_path, records, tail="\n\n"))
    assert read == records


def test_damaged_last_line_is_ignored_with_a_warning(tmp_path: Path) -> None:
    folder = write(tmp_path, [record(seed=0), record(seed=1)], tail='{"schema": "hashlearn.be')
    with pytest.warns(BenchRecordWarning, match=r"line 3 \(the last\) is damaged"):
        read = read_bench_records(folder)
    assert [r["seed"] for r in read] == [0, 1]
    reading = read_run_records(folder)
    assert len(reading.records) == 2 and len(reading.notes) == 1


def test_a_json_value_that_is_not_an_object_is_damaged(tmp_path: Path) -> None:
    folder = write(tmp_path, [record()], tail="[1, 2]\n")
    with pytest.warns(BenchRecordWarning, match="not an object"):
        assert len(read_bench_records(folder)) == 1


def test_damaged_middle_line_is_an_error(tmp_path: Path) -> None:
    good = json.dumps(record())
    tmp_path.joinpath(RECORDS_NAME).write_text(f"{good}\n{{broken\n{good}\n")
    with pytest.raises(ValueError, match="line 2 of 3"):
        read_bench_records(tmp_path)


def test_other_schema_is_ignored_with_a_warning(tmp_path: Path) -> None:
    records = [record(seed=0), record(seed=1)]
    other = dict(records[0], schema="hashlearn.bench/2", key="x")
    folder = write(tmp_path, [*records, other], tail="{not json")
    with pytest.warns(BenchRecordWarning) as caught:
        read = read_bench_records(folder)
    assert [r["key"] for r in read] == [r["key"] for r in records]
    messages = " ".join(str(w.message) for w in caught)
    assert "damaged" in messages
    assert "1 record(s) with schema 'hashlearn.bench/2' ignored" in messages


def test_a_record_without_a_required_field_is_an_error(tmp_path: Path) -> None:
    broken = record()
    del broken["seed"]
    broken["method"] = "lsh"
    with pytest.raises(ValueError, match=r"line 1 lacks the field\(s\) seed, method \(an object\)"):
        read_bench_records(write(tmp_path, [broken]))
    no_spec = record()
    del no_spec["protocol"]["spec"]
    with pytest.raises(ValueError, match=r"protocol\.spec"):
        read_bench_records(write(tmp_path, [no_spec]))


def test_a_rerun_supersedes_a_failure(tmp_path: Path) -> None:
    failed, ok = record(status="failed"), record()
    with pytest.warns(BenchRecordWarning, match="1 earlier record"):
        read = read_bench_records(write(tmp_path, [failed, ok]))
    assert read == [ok]
    reading = read_run_records(tmp_path)
    assert reading.superseded == [failed]


def test_a_later_failure_never_replaces_an_ok_record(tmp_path: Path) -> None:
    ok, failed = record(), record(status="failed")
    reading = read_run_records(write(tmp_path, [ok, failed]))
    assert reading.records == [ok] and reading.superseded == [failed]


def test_of_two_failures_the_last_is_kept(tmp_path: Path) -> None:
    first, second = record(status="failed"), record(status="failed")
    second["error"] = {"type": "ValueError"}
    reading = read_run_records(write(tmp_path, [first, second, record(seed=1)]))
    assert reading.records == [second, record(seed=1)] and reading.superseded == [first]


def test_missing_folder_and_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_bench_records(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match=r"no records\.jsonl"):
        read_bench_records(tmp_path)
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match="must be a folder"):
        read_bench_records(tmp_path / "file")


def test_warnings_point_at_the_caller(tmp_path: Path) -> None:
    folder = write(tmp_path, [record()], tail="{damaged")
    with pytest.warns(BenchRecordWarning) as caught:
        read_bench_records(folder)
    assert Path(caught[0].filename) == Path(__file__)
    reading = read_run_records(folder)
    with pytest.warns(BenchRecordWarning) as caught:
        reading.warn()
    assert Path(caught[0].filename) == Path(__file__)


def test_read_run(tmp_path: Path) -> None:
    assert read_run(tmp_path) is None
    run = {"protocol": "grh-cifar10", "bits": [16, 32]}
    (tmp_path / RUN_NAME).write_text(json.dumps(run))
    assert read_run(tmp_path) == run
    (tmp_path / RUN_NAME).write_text("[1, 2]")
    assert read_run(tmp_path) == {"run.json": [1, 2]}
    (tmp_path / RUN_NAME).write_text("{damaged")
    with pytest.warns(BenchRecordWarning, match="not valid JSON"):
        assert read_run(tmp_path) is None


# -- Summaries ----------------------------------------------------------------------------


def _timed(method: str, n_bits: int, seed: int, status: str = "ok", **metrics: Any) -> dict:
    found = record(method, n_bits, seed, status)
    if status == "ok":
        found["metrics"] = {"map": 0.2 + 0.01 * seed + 0.1 * (n_bits == 32), **metrics}
        found["times"] = {"fit": 1.0 + seed}
    return found


def test_summary_is_the_mean_and_sample_std_over_seeds_per_method_and_bits() -> None:
    records = [
        _timed(method, n_bits, seed)
        for method in ("lsh", "itq")
        for n_bits in (16, 32)
        for seed in range(3)
    ]
    records[-1] = _timed("itq", 32, 2, status="failed")
    rows = summarize_records(records)
    assert [(row["method"], row["n_bits"]) for row in rows] == [
        ("lsh", 16),
        ("lsh", 32),
        ("itq", 16),
        ("itq", 32),
    ]
    first = rows[0]
    values = [0.2, 0.21, 0.22]
    assert first["mean"] == pytest.approx(statistics.mean(values))
    assert first["std"] == pytest.approx(statistics.stdev(values))
    assert (first["n"], first["n_failed"], first["fit_seconds"]) == (3, 0, 2.0)
    assert first["protocol"] == "grh-cifar10:n_train=2000" and first["metric"] == "map"
    last = rows[-1]
    assert (last["n"], last["n_failed"], last["fit_seconds"]) == (2, 1, 1.5)


def test_summary_of_one_seed_has_no_std_and_missing_values_are_left_out() -> None:
    records = [_timed("lsh", 16, 0, precision_at_k={"10": 0.5}), _timed("lsh", 16, 1)]
    records[1]["metrics"]["precision_at_k"] = {"10": None}  # NaN in the record
    (row,) = summarize_records(records, "precision_at_k_10")
    assert (row["mean"], row["std"], row["n"]) == (0.5, None, 1)
    (row,) = summarize_records(records, "tie_aware_map_at_k_100")  # an older record: no key
    assert (row["mean"], row["std"], row["n"]) == (None, None, 0)


def test_summary_table_in_markdown() -> None:
    records = RunResults(
        [_timed("lsh", 16, 0), _timed("lsh", 16, 1), _timed("lsh", 32, 0, status="failed")]
    )
    std = statistics.stdev([0.2, 0.21])
    expected = "\n".join(
        [
            "| method | bits | mAP@all | fit s |",
            "|---|---:|---:|---:|",
            f"| lsh | 16 | 0.2050 ± {std:.4f} (2) | 1.500 |",
            "| lsh | 32 | - +1 failed | - |",
        ]
    )
    assert records.to_markdown() == expected == str(records)
    assert isinstance(records, list) and records[0]["seed"] == 0  # still the records
    other = _timed("lsh", 16, 0)
    other["protocol"] = {"name": "mnist", "spec": "mnist-ksh"}
    table = RunResults([*records, other]).to_markdown("map")
    assert table.splitlines()[0] == "| protocol | method | bits | mAP@all | fit s |"
    assert "| mnist-ksh | lsh | 16 | 0.2000 (1) | 1.000 |" in table
    assert str(RunResults()) == "(no records)"


@pytest.mark.parametrize(
    ("name", "path", "title"),
    [
        ("map", ("map",), "mAP@all"),
        ("tie_aware_map", ("tie_aware_map",), "tie-aware mAP@all"),
        ("map_at_k_1000", ("map_at_k", "1000"), "mAP@1000"),
        ("tie_aware_map_at_k_1000", ("tie_aware_map_at_k", "1000"), "tie-aware mAP@1000"),
        ("precision_at_k_10", ("precision_at_k", "10"), "P@10"),
        ("tie_aware_precision_at_k_10", ("tie_aware_precision_at_k", "10"), "tie-aware P@10"),
        ("precision_within_radius_2", ("precision_within_radius", "2", "value"), "P@r2"),
        ("recall_at_100", ("recall_at", "100"), "recall@100"),
    ],
)
def test_metric_names(name: str, path: tuple[str, ...], title: str) -> None:
    assert metric_path(name) == path
    assert metric_title(name) == title


@pytest.mark.parametrize("name", ["mAP", "map_at_k_", "precision_at_k_ten", "tutorial", 3])
def test_summary_of_an_unknown_metric_names_the_forms(name: Any) -> None:
    assert not isinstance(name, str) or metric_path(name) is None
    with pytest.raises(ValueError, match=r"metric must be one of 'map', .* got"):
        summarize_records([_timed("lsh", 16, 0)], name)


def test_summary_labels_two_specs_with_one_label_apart() -> None:
    first, second = _timed("grh", 16, 0), _timed("grh:alpha=0.5", 16, 0)
    for found in (first, second):
        found["method"]["label"] = "GRH"
    labels = [row["method"] for row in summarize_records([first, second])]
    assert labels == ["GRH (grh)", "GRH (grh:alpha=0.5)"]

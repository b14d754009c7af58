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


# -- 2. resume checks fingerprints ------------------------------------------------------


def test_resuming_on_replaced_data_of_the_same_shape_is_an_error(
    data: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    X, y = data
    out = tmp_path / "run"
    _run(data, out, bits=[8, 16])
    with (out / RECORDS_NAME).open("r+") as handle:  # keep only the first record: resume
        first = handle.readline()
        handle.seek(0)
        handle.truncate()
        handle.write(first)
    replaced = (X[::-1].copy(), y[::-1].copy())  # same shape, same source name
    with pytest.raises(ValueError, match=r"fingerprint.*--force-resume"):
        _run(replaced, out, bits=[8, 16])


def test_resuming_with_a_changed_record_fingerprint_is_an_error_unless_forced(
    data: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    _run(data, out, bits=[8, 16])
    path = out / RECORDS_NAME
    records = [json.loads(line) for line in path.read_text().splitlines()]
    records[0]["fingerprint"]["method"] = "0" * 32  # another method definition
    del records[1]  # leave work to resume
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    with pytest.raises(ValueError, match=r"/lsh/8/0 \(method\)"):
        _run(data, out, bits=[8, 16])
    resumed = _run(data, out, bits=[8, 16], force_resume=True)
    assert [record["n_bits"] for record in resumed] == [16]


def test_records_without_a_fingerprint_are_not_resumed_silently(
    data: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    _run(data, out)
    path = out / RECORDS_NAME
    record = json.loads(path.read_text())
    del record["fingerprint"]
    path.write_text(json.dumps(record) + "\n")
    with pytest.raises(ValueError, match=r"\(data, protocol, method\)"):
        _run(data, out)


def test_a_finished_record_whose_model_file_is_missing_is_computed_again(
    data: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    (record,) = _run(data, out, save_models=True)
    (out / record["model"]).unlink()
    lines: list[str] = []
    (again,) = _run(data, out, save_models=True, progress=lines.append)
    assert again["key"] == record["key"] and (out / again["model"]).is_file()
    assert any("model file" in line and "missing" in line for line in lines)


# -- 3. method specs --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("grh:classifier=svc", r"no spec parameter 'classifier'"),
        ("grh:foo=1", r"valid parameters: alpha, C, gamma, init, kernel, n_iter, n_jobs$"),
        ("grh:C=abc", r"grh: C must be a positive number, got 'abc'"),
        ("grh:kernel=rbf,gamma=-1", r"grh: gamma must be a positive number, got -1"),
        ("grh:n_bits=8", r"n_bits is not a spec parameter; code lengths come from --bits"),
        ("lsh:random_state=3", r"random_state is not a spec parameter; the seed comes from"),
        ("itq:n_iter=abc", r"itq: parameter n_iter must be a number \(default 50\), got 'abc'"),
        ("grh:alpha=2", r"grh: alpha must be in \[0, 1\], got 2"),
    ],
)
def test_bad_method_specs_are_refused_naming_the_parameter(spec: str, message: str) -> None:
    from hashlearn.experiments.methods import build_method

    with pytest.raises(ValueError, match=message):
        build_method(spec, 8, 0)


def test_a_bad_alternative_fails_before_the_run_starts(
    data: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    with pytest.raises(ValueError, match="grh: C must be a positive number, got 'abc'"):
        _run(data, out, methods=["lsh", "grh:C=1|abc"])
    assert not out.exists()  # nothing written, no empty folder left behind


def test_n_bits_in_a_spec_is_refused_by_the_bench_configuration() -> None:
    from hashlearn.experiments.config import BenchConfig

    with pytest.raises(ValueError, match="n_bits is not a spec parameter"):
        BenchConfig(protocol="grh-cifar10", methods=("grh:n_bits=8",))


# -- 4. fit warnings reach the report ---------------------------------------------------


def test_fit_warnings_appear_in_the_report(
    data: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    from hashlearn.report.benchmark import format_benchmark_markdown

    out = tmp_path / "run"
    records = _run(data, out, bits=[8, 16])
    noted = {"category": "ConvergenceWarning", "message": "Liblinear failed to converge"}
    noted["count"] = 3
    records[0]["fit_warnings"] = [noted]
    records[1]["fit_warnings"] = [noted, "not a warning"]  # a damaged entry is skipped
    text = format_benchmark_markdown(records)
    assert "## Fit warnings" in text
    assert "ConvergenceWarning in 2 record(s) (6 time(s)): `Liblinear failed to converge`" in text
    assert "Fit warnings" not in format_benchmark_markdown(_run(data, tmp_path / "quiet"))


# -- 6. ties: P@K that does not depend on the database's row order ----------------------


def _tied_problem() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    database = rng.integers(0, 4, size=(300, 1), dtype=np.uint8)  # 2-bit codes: many ties
    labels = rng.integers(0, 3, size=300)
    queries = rng.integers(0, 4, size=(25, 1), dtype=np.uint8)
    return queries, database, rng.integers(0, 3, size=25), labels


def test_tie_aware_precision_at_k_is_the_expectation_over_tie_orders() -> None:
    from hashlearn.evaluation import evaluate_hamming_ranking

    queries, database, query_labels, labels = _tied_problem()
    ks = (1, 7, 100, 300)
    result = evaluate_hamming_ranking(
        queries, database, query_labels, labels, n_bits=2, precision_ks=ks
    )
    distances = np.array([[bin(q ^ d).count("1") for d in database[:, 0]] for q in queries[:, 0]])
    relevant = query_labels[:, None] == labels[None, :]
    for k in ks:
        expected = []
        for row in range(len(queries)):  # expectation: the tied group at rank k, pro rata
            order = np.sort(distances[row])
            edge = order[k - 1]
            inside = relevant[row][distances[row] < edge].sum()
            tied = distances[row] == edge
            need = k - (distances[row] < edge).sum()
            expected.append((inside + need * relevant[row][tied].mean()) / k)
        assert result.tie_aware_precision_at_k[k].value == pytest.approx(np.mean(expected))


def test_sorting_the_database_moves_p_at_k_but_not_tie_aware_p_at_k_and_warns() -> None:
    from hashlearn.evaluation import SortedLabelsWarning, evaluate_hamming_ranking

    queries, database, query_labels, labels = _tied_problem()
    order = np.argsort(labels, kind="stable")
    shuffled = evaluate_hamming_ranking(
        queries, database, query_labels, labels, n_bits=2, precision_ks=(10,)
    )
    with pytest.warns(SortedLabelsWarning, match="database_labels are sorted") as caught:
        ordered = evaluate_hamming_ranking(
            queries, database[order], query_labels, labels[order], n_bits=2, precision_ks=(10,)
        )
    assert caught[0].filename == __file__
    assert shuffled.precision_at_k[10].value != ordered.precision_at_k[10].value
    assert shuffled.tie_aware_precision_at_k[10].value == pytest.approx(
        ordered.tie_aware_precision_at_k[10].value
    )
    assert "tie_aware_precision_at_k" in ordered.to_dict()


def test_the_report_shows_tie_aware_p_at_k_beside_p_at_k(
    data: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    from hashlearn.report.benchmark import format_benchmark_markdown

    records = _run(data, tmp_path / "run")
    assert "tie_aware_precision_at_k" in records[0]["metrics"]
    text = format_benchmark_markdown(records)
    assert "**P@10**" in text and "**tie-aware P@10**" in text


def test_sorting_the_database_moves_map_at_k_but_not_tie_aware_map_at_k() -> None:
    from hashlearn.evaluation import SortedLabelsWarning, evaluate_hamming_ranking

    queries, database, query_labels, labels = _tied_problem()
    order = np.argsort(labels, kind="stable")
    shuffled = evaluate_hamming_ranking(
        queries, database, query_labels, labels, n_bits=2, map_ks=(10, 100), precision_ks=()
    )
    with pytest.warns(SortedLabelsWarning, match="tie_aware_map_at_k"):
        ordered = evaluate_hamming_ranking(
            queries,
            database[order],
            query_labels,
            labels[order],
            n_bits=2,
            map_ks=(10, 100),
            precision_ks=(),
        )
    for k in (10, 100):
        assert shuffled.map_at_k[k].value != ordered.map_at_k[k].value
        np.testing.assert_allclose(
            shuffled.tie_aware_map_at_k[k].per_query,
            ordered.tie_aware_map_at_k[k].per_query,
            rtol=1e-12,
        )
    assert ordered.to_dict()["tie_aware_map_at_k"].keys() == {"10", "100"}


def test_a_database_sorted_by_class_is_noted_in_the_record_and_the_report(
    data: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    import warnings

    from hashlearn.report.benchmark import write_benchmark_report

    out = tmp_path / "run"
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        records = _run(data, out)  # the fixture's rows are sorted by class
    assert not [w for w in escaped if w.category.__name__ == "SortedLabelsWarning"]
    (noted,) = records[0]["evaluation_warnings"]
    assert noted["category"] == "SortedLabelsWarning" and noted["count"] == 1
    assert "database_labels are sorted" in noted["message"]
    report = write_benchmark_report(out)
    for text in (report.markdown.read_text(), report.html.read_text()):
        assert "Evaluation warnings" in text
        assert "SortedLabelsWarning in 1 record(s)" in text
    X, y = data
    order = np.random.default_rng(1).permutation(len(y))
    shuffled = _run((X[order], y[order]), tmp_path / "shuffled")
    assert "evaluation_warnings" not in shuffled[0]


def test_validation_evaluations_warn_into_the_record_not_the_terminal(
    data: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    import warnings

    messages: list[str] = []
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        (record,) = _run(
            data,
            tmp_path / "run",
            methods="grh:alpha=0.5|1.0",
            n_validation=20,
            progress=messages.append,
        )
    assert not [w for w in escaped if w.category.__name__ == "SortedLabelsWarning"]
    # the validation database and the database are both sorted: two candidates, one test
    (noted,) = record["evaluation_warnings"]
    assert noted["category"] == "SortedLabelsWarning" and noted["count"] == 3
    assert any("3 evaluation warning(s), first: SortedLabelsWarning" in m for m in messages)


def test_the_report_shows_tie_aware_map_at_k_beside_map_at_k(
    data: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    import dataclasses

    from hashlearn.experiments.protocols import resolve_protocol
    from hashlearn.report.benchmark import format_benchmark_markdown

    X, y = data
    # a protocol of its own (a registered name would be resolved to the registered one)
    protocol = dataclasses.replace(
        resolve_protocol("grh-cifar10", **SMALL), name="grh-map-at-20", map_ks=(20,)
    )
    records = run_protocol(X, y, protocol, "lsh", bits=8, seeds=1)
    metrics = records[0]["metrics"]
    assert metrics["tie_aware_map_at_k"].keys() == metrics["map_at_k"].keys() == {"20"}
    text = format_benchmark_markdown(records)
    stable, tie_aware = text.index("**mAP@20**"), text.index("**tie-aware mAP@20**")
    assert stable < tie_aware < text.index("### Precision within Hamming radius 2")


def test_resuming_with_other_bits_or_seeds_keeps_the_finished_records(
    data: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    # init=cca nests a CCA-ITQ hasher whose repr shows its n_bits and seed.
    _run(data, out, bits=[4, 8], methods="grh:init=cca")
    assert _run(data, out, bits=[8], methods="grh:init=cca") == []

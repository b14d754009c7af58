"""The benchmark runner: records, resuming, failures, selection on validation, user data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hashlearn.evaluation import mean_average_precision
from hashlearn.experiments.config import BenchConfig, load_bench_config
from hashlearn.experiments.runner import run_benchmark, run_protocol
from hashlearn.experiments.user_data import load_user_dataset
from hashlearn.records import RECORDS_NAME, SCHEMA, read_bench_records

SMALL = {"n_queries": 60, "n_train": 200, "n_validation": 60}


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X.astype(np.float32), y


def test_records_hold_every_documented_field(
    digits: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    X, y = digits
    records = run_protocol(
        X,
        y,
        "grh-cifar10",
        "lsh,grh",
        bits=[8, 16],
        seeds=2,
        out=tmp_path,
        save_models=True,
        **SMALL,
    )
    assert len(records) == 2 * 2 * 2
    assert records == read_bench_records(tmp_path)
    assert len({record["key"] for record in records}) == 8
    record = records[0]
    assert record["schema"] == SCHEMA and record["status"] == "ok"
    assert record["protocol"]["spec"] == "grh-cifar10:n_queries=60,n_train=200,n_validation=60"
    assert record["protocol"]["params"]["n_train"] == 200
    assert record["method"] == {"name": "lsh", "spec": "lsh", "label": "LSH", "params": {}}
    assert record["sizes"] == {
        "n_features": 64,
        "n_queries": 60,
        "n_database": X.shape[0] - 60,
        "n_train": 200,
        "n_validation": 60,
    }
    metrics = record["metrics"]
    for key in ("map", "tie_aware_map", "precision_at_k", "precision_within_radius", "pr_curve"):
        assert key in metrics
    assert set(metrics["precision_at_k"]) == {"10", "100", "1000"}
    assert set(metrics["precision_within_radius"]["2"]) == {"value", "empty_fraction"}
    assert len(metrics["pr_curve"]["radius"]) == record["n_bits"] + 1
    assert metrics["radius_search"]["radius"] == [0, 1, 2, 3]
    assert len(metrics["radius_search"]["query_ms"]) == 4
    for key in ("fit", "encode_database", "encode_queries", "index", "query", "evaluate"):
        assert record["times"][key] >= 0
    assert record["memory"]["peak_rss_mib"] > 0
    codes = record["codes"]
    assert len(codes["bit_balance"]) == record["n_bits"]
    assert (
        sum(
            size * count
            for size, count in zip(
                codes["occupancy_histogram"]["size"],
                codes["occupancy_histogram"]["count"],
                strict=False,
            )
        )
        <= record["sizes"]["n_database"]
    )
    assert record["environment"]["hashlearn"]
    assert (tmp_path / record["model"]).is_file()
    # Every line is strict JSON (no NaN).
    for line in (tmp_path / RECORDS_NAME).read_text().splitlines():
        json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} in a record"))
    assert json.loads((tmp_path / "run.json").read_text())["bits_resolved"] == [8, 16]


def test_metrics_match_an_independent_computation(digits: tuple[np.ndarray, np.ndarray]) -> None:
    import hashlearn
    from hashlearn.experiments.protocols import make_split, preprocess, resolve_protocol

    X, y = digits
    record = run_protocol(X, y, "grh-cifar10", "lsh", bits=16, seeds=[3], **SMALL)[0]
    protocol = resolve_protocol("grh-cifar10", **SMALL)
    split = make_split(protocol, y, 3)
    features, _ = preprocess(X, split.train, protocol.preprocess)
    hasher = hashlearn.hashers.LSH(n_bits=16, random_state=3).fit(features[split.train])
    expected = mean_average_precision(
        hasher.encode(features[split.queries]),
        hasher.encode(features[split.database]),
        y[split.queries],
        y[split.database],
    ).value
    assert record["metrics"]["map"] == pytest.approx(expected, abs=1e-12)


def test_same_seed_same_record(digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits
    first = run_protocol(X, y, "grh-cifar10", "grh", bits=8, seeds=[1], **SMALL)[0]
    second = run_protocol(X, y, "grh-cifar10", "grh", bits=8, seeds=[1], **SMALL)[0]
    assert first["metrics"]["map"] == second["metrics"]["map"]
    assert first["codes"]["bit_balance"] == second["codes"]["bit_balance"]


def test_resume_skips_finished_records_and_retries_failures(
    digits: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    X, y = digits
    # More anchors than training rows: a spec that is valid but fails on this data.
    first = run_protocol(
        X, y, "grh-cifar10", ["lsh", "agh:n_anchors=5000"], bits=8, seeds=1, out=tmp_path, **SMALL
    )
    assert [record["status"] for record in first] == ["ok", "failed"]
    failed = first[1]
    assert failed["error"]["type"] == "ValueError"
    assert "n_anchors" in failed["error"]["message"]
    assert "Traceback" in failed["error"]["traceback"]
    assert "metrics" not in failed
    lines = []
    again = run_protocol(
        X,
        y,
        "grh-cifar10",
        ["lsh", "agh:n_anchors=5000"],
        bits=[8, 16],
        seeds=1,
        out=tmp_path,
        progress=lines.append,
        **SMALL,
    )
    # lsh/8 was done; grh/8 failed before and is retried; both 16-bit records are new.
    assert [(r["method"]["name"], r["n_bits"]) for r in again] == [
        ("lsh", 16),
        ("agh", 8),
        ("agh", 16),
    ]
    assert any("done before, skipped" in line for line in lines)
    # The file keeps all five lines; reading keeps the last record of each key.
    assert len((tmp_path / RECORDS_NAME).read_text().splitlines()) == 5
    with pytest.warns(UserWarning, match="superseded by a rerun"):
        assert len(read_bench_records(tmp_path)) == 4


def test_damaged_last_line_is_ignored_and_resumed(
    digits: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    X, y = digits
    run_protocol(X, y, "grh-cifar10", "lsh", bits=[8, 16], seeds=1, out=tmp_path, **SMALL)
    path = tmp_path / RECORDS_NAME
    lines = path.read_text().splitlines()
    path.write_text(lines[0] + "\n" + lines[1][:50])  # a run killed while writing
    with pytest.warns(UserWarning, match="damaged"):
        again = run_protocol(
            X, y, "grh-cifar10", "lsh", bits=[8, 16], seeds=1, out=tmp_path, **SMALL
        )
    assert [record["n_bits"] for record in again] == [16]
    # The partial line was cut, not buried: the file reads cleanly, and stays so.
    assert [r["n_bits"] for r in read_bench_records(tmp_path)] == [8, 16]
    run_protocol(X, y, "grh-cifar10", "lsh", bits=[8, 16, 24], seeds=1, out=tmp_path, **SMALL)
    assert [r["n_bits"] for r in read_bench_records(tmp_path)] == [8, 16, 24]
    path.write_text('{"sche\n' + lines[0] + "\n")
    with pytest.raises(ValueError, match="line 1 of 2 is not a JSON record"):
        read_bench_records(tmp_path)


def test_validation_selects_parameters_without_the_queries(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = digits
    record = run_protocol(X, y, "grh-cifar10", "grh:alpha=0.3|1.0", bits=8, seeds=1, **SMALL)[0]
    selection = record["selection"]
    assert [c["params"]["alpha"] for c in selection["candidates"]] == [0.3, 1.0]
    scores = {c["params"]["alpha"]: c["validation_map"] for c in selection["candidates"]}
    assert selection["chosen"]["alpha"] == max(scores, key=scores.__getitem__)
    assert record["method_resolved"]["params"]["alpha"] == selection["chosen"]["alpha"]
    # alpha <= 0.5 cannot move any bit: the validation split prefers alpha = 1.
    assert selection["chosen"]["alpha"] == 1.0
    failed = run_protocol(
        X,
        y,
        "grh-cifar10",
        "grh:alpha=0.3|1.0",
        bits=8,
        seeds=1,
        n_queries=60,
        n_train=200,
        n_validation=0,
    )[0]
    assert failed["status"] == "failed" and "no validation split" in failed["error"]["message"]


def test_every_protocol_runs_with_lsh_on_small_data() -> None:
    rng = np.random.default_rng(0)
    y = rng.permutation(np.repeat(np.arange(10), 300))
    X = rng.normal(size=(3000, 12)) + 2.5 * np.eye(12)[y]
    multi = (rng.random((3000, 6)) < 0.3).astype(np.uint8)
    runs = {
        "tutorial": {"X": X, "y": y},
        "grh-cifar10": {"X": X, "y": y, "n_queries": 100, "n_train": 200},
        "grh-mnist": {"X": X, "y": y, "n_queries": 100, "n_train": 200},
        "dsh-cifar10": {"X": X[:2500], "y": y[:2500], "X_query": X[2500:], "y_query": y[2500:]},
        "cifar10-1": {"X": X, "y": y, "n_queries": 100, "n_train": 500},
        "cifar10-2": {"X": X, "y": y, "n_queries": 500},
        "mirflickr-tags": {"X": X, "y": multi, "n_queries": 200, "n_train": 500},
        "20ng-text": {
            "X": X[:2500],
            "y": y[:2500],
            "X_query": X[2500:2600],
            "y_query": y[2500:2600],
        },
    }
    for name, arguments in runs.items():
        record = run_protocol(protocol=name, methods="lsh", bits=16, seeds=1, **arguments)[0]
        assert record["status"] == "ok", (name, record.get("error"))
        assert record["metrics"]["map"] > 0.1, name
    tutorial = run_protocol(X, y, "tutorial", "lsh", bits=16, seeds=1)[0]["metrics"]["tutorial"]
    assert tutorial["radius"] == list(range(11)) and len(tutorial["query_ms"]) == 11
    cifar2 = run_protocol(X, y, "cifar10-2", "lsh", bits=16, seeds=1, n_queries=500)[0]
    assert set(cifar2["metrics"]["map_at_k"]) == {"1000"}


def test_unsupervised_protocol_fits_without_labels(digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits
    record = run_protocol(X, y, "cifar10-2", "grh", bits=8, seeds=1, n_queries=100)[0]
    assert record["status"] == "failed"
    assert "y" in record["error"]["message"] or "label" in record["error"]["message"].lower()


def test_user_files(tmp_path: Path, digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits
    np.savez(tmp_path / "data.npz", X=X[:1500], y=y[:1500], X_query=X[1500:], y_query=y[1500:])
    dataset, n_database = load_user_dataset(tmp_path / "data.npz")
    assert n_database == 1500 and dataset.X.shape == X.shape and dataset.n_train == 1500
    np.save(tmp_path / "data.npy", np.column_stack([X, y]))
    dataset, n_database = load_user_dataset(tmp_path / "data.npy")
    assert n_database is None and np.array_equal(dataset.y, y)
    header = ",".join([f"f{i}" for i in range(3)] + ["label"])
    rows = np.column_stack([y[:20], X[:20, :3]])
    np.savetxt(tmp_path / "h.csv", rows[:, [1, 2, 3, 0]], delimiter=",", header=header, comments="")
    dataset, _ = load_user_dataset(tmp_path / "h.csv")
    assert np.array_equal(dataset.y, y[:20]) and dataset.X.shape == (20, 3)
    np.savetxt(tmp_path / "plain.csv", np.column_stack([X[:20, :3], y[:20]]), delimiter=",")
    assert np.array_equal(load_user_dataset(tmp_path / "plain.csv")[0].y, y[:20])
    np.savez(tmp_path / "bad.npz", X=X)
    with pytest.raises(ValueError, match="must hold arrays X and y"):
        load_user_dataset(tmp_path / "bad.npz")
    np.save(tmp_path / "frac.npy", np.column_stack([X[:5], np.full(5, 0.5)]))
    with pytest.raises(ValueError, match="label column must hold integers"):
        load_user_dataset(tmp_path / "frac.npy")
    with pytest.raises(ValueError, match=r"\.npz, \.npy or \.csv"):
        (tmp_path / "x.txt").write_text("1")
        load_user_dataset(tmp_path / "x.txt")
    with pytest.raises(FileNotFoundError):
        load_user_dataset(tmp_path / "missing.npz")
    config = BenchConfig(
        protocol="dsh-cifar10:n_validation=0",
        methods=("lsh",),
        bits=(8,),
        seeds=(0,),
        dataset=str(tmp_path / "data.npz"),
    )
    record = run_benchmark(config)[0]
    assert record["sizes"]["n_queries"] == X.shape[0] - 1500
    assert record["protocol"]["dataset"] == "data"


def test_config_file_and_validation(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text(
        'methods = ["lsh", "grh:kernel=rbf,alpha=1"]\nbits = [16, 32]\nseeds = 3\n'
        '[protocol]\nname = "grh-cifar10"\nn_train = 2000\n'
    )
    values = load_bench_config(path)
    config = BenchConfig.from_mapping(values)
    assert config.protocol == "grh-cifar10:n_train=2000"
    assert config.methods == ("lsh", "grh:kernel=rbf,alpha=1")
    assert config.bits == (16, 32) and config.seeds == (0, 1, 2)
    assert BenchConfig.from_mapping({**values, "seeds": "0,4"}).seeds == (0, 4)
    with pytest.raises(ValueError, match="unknown configuration key"):
        BenchConfig.from_mapping({**values, "bogus": 1})
    with pytest.raises(ValueError, match="unknown method"):
        BenchConfig.from_mapping({**values, "methods": "lsh,nope"})
    with pytest.raises(ValueError, match="bits must be ints"):
        BenchConfig.from_mapping({**values, "bits": [0]})
    with pytest.raises(ValueError, match="seeds must be"):
        BenchConfig.from_mapping({**values, "seeds": "a,b"})
    (tmp_path / "bad.toml").write_text("methods = [")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_bench_config(tmp_path / "bad.toml")


def test_bad_inputs_are_refused(digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits
    with pytest.raises(ValueError, match="listed twice"):
        run_protocol(X, y, "grh-cifar10", "lsh,lsh", bits=8, seeds=1, **SMALL)
    with pytest.raises(ValueError, match="both X_query and y_query"):
        run_protocol(X, y, "grh-cifar10", "lsh", X_query=X[:5], **SMALL)
    with pytest.raises(ValueError, match="features"):
        run_protocol(X, y, "grh-cifar10", "lsh", X_query=X[:5, :3], y_query=y[:5], **SMALL)


def test_ann_ground_truth_recall(digits: tuple[np.ndarray, np.ndarray]) -> None:
    from hashlearn.evaluation import exact_neighbors, hamming_recall_at
    from hashlearn.experiments.protocols import make_split, preprocess, resolve_protocol
    from hashlearn.hashers import LSH

    X, y = digits
    params = {**SMALL, "ground_truth": "euclidean", "ground_truth_k": 5}
    record = run_protocol(X, y, "grh-cifar10", "lsh", bits=32, seeds=[2], **params)[0]
    recall = record["metrics"]["recall_at"]
    assert set(recall) == {"1", "10", "100", "1000"}
    assert record["metrics"]["ground_truth"] == {"metric": "euclidean", "k": 5}
    protocol = resolve_protocol("grh-cifar10", **params)
    split = make_split(protocol, y, 2)
    features, _ = preprocess(X, split.train, protocol.preprocess)
    _, truth = exact_neighbors(features[split.queries], features[split.database], 5)
    hasher = LSH(n_bits=32, random_state=2).fit(features[split.train])
    expected = hamming_recall_at(
        hasher.encode(features[split.queries]), hasher.encode(features[split.database]), truth
    )
    assert recall == {str(r): value for r, value in expected.items()}
    assert recall["1"] <= recall["10"] <= recall["100"] <= recall["1000"]
    with pytest.raises(ValueError, match="ground_truth must be one of"):
        run_protocol(X, y, "grh-cifar10", "lsh", ground_truth="hamming", **SMALL)


def test_given_queries_are_all_the_queries(
    digits: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    X, y = digits
    record = run_protocol(
        X[:1500],
        y[:1500],
        "grh-cifar10",
        "lsh",
        bits=8,
        seeds=1,
        X_query=X[1500:],
        y_query=y[1500:],
        n_train=300,
        n_validation=0,
    )[0]
    assert record["sizes"]["n_queries"] == X.shape[0] - 1500
    assert record["sizes"]["n_database"] == 1500
    assert "query=official" in record["key"] and "n_queries=none" in record["key"]
    np.savez(tmp_path / "q.npz", X=X[:1500], y=y[:1500], X_query=X[1500:], y_query=y[1500:])
    config = BenchConfig(
        protocol="grh-cifar10:n_train=300,n_validation=0",
        methods=("lsh",),
        bits=(8,),
        seeds=(0,),
        dataset=str(tmp_path / "q.npz"),
    )
    record = run_benchmark(config)[0]
    assert record["sizes"]["n_queries"] == X.shape[0] - 1500
    with pytest.raises(ValueError, match="y_query must have the shape"):
        run_protocol(
            X[:1500],
            y[:1500],
            "grh-cifar10",
            "lsh",
            X_query=X[1500:],
            y_query=np.ones((X.shape[0] - 1500, 3)),
            **SMALL,
        )


def test_published_numbers_only_for_the_protocols_own_data(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = digits
    record = run_protocol(
        X, y, "grh-cifar10", "lsh", bits=16, seeds=1, n_queries=100, n_validation=0
    )[0]
    assert record["protocol"]["params"]["n_train"] == 1000
    assert record["anchor"] is None  # digits are not CIFAR-10


def test_selected_variant_gives_the_label(digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits
    record = run_protocol(X, y, "grh-cifar10", "grh:kernel=linear|rbf", bits=8, seeds=1, **SMALL)[0]
    chosen = record["selection"]["chosen"]["kernel"]
    assert record["method"]["label"] == "GRH linear|RBF, LSH init"
    assert record["method_resolved"]["label"] == (
        "GRH RBF, LSH init" if chosen == "rbf" else "GRH linear, LSH init"
    )


def test_models_of_different_protocols_do_not_collide(
    digits: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    X, y = digits
    first = run_protocol(
        X, y, "grh-cifar10", "lsh", bits=8, seeds=1, out=tmp_path, save_models=True, **SMALL
    )[0]
    second = run_protocol(
        X,
        y,
        "grh-cifar10",
        "lsh",
        bits=8,
        seeds=1,
        out=tmp_path,
        save_models=True,
        **{**SMALL, "n_train": 400},
    )[0]
    assert first["model"] != second["model"]
    assert (tmp_path / first["model"]).is_file() and (tmp_path / second["model"]).is_file()


def test_resuming_on_other_data_is_refused(
    digits: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    X, y = digits
    run_protocol(X, y, "grh-cifar10", "lsh", bits=8, seeds=1, out=tmp_path, **SMALL)
    with pytest.raises(ValueError, match="holds records computed on other data"):
        run_protocol(X[:-1], y[:-1], "grh-cifar10", "lsh", bits=8, seeds=1, out=tmp_path, **SMALL)


def test_fit_warnings_are_kept_in_the_record(digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits
    messages: list[str] = []
    records = run_protocol(
        X,
        y,
        "grh-cifar10",
        ["lsh", "itml-lsh:max_iter=1"],
        bits=8,
        seeds=1,
        progress=messages.append,
        **SMALL,
    )
    assert "fit_warnings" not in records[0]
    (noted,) = records[1]["fit_warnings"]  # one distinct warning: ITML stopped at 1 sweep
    assert noted["category"] == "ConvergenceWarning" and noted["count"] == 1
    assert "max_iter" in noted["message"] or "sweep" in noted["message"]
    assert any("1 fit warning(s), first: ConvergenceWarning" in line for line in messages)


# -- What run_protocol returns and shows (issue 14) ---------------------------------------


def test_run_protocol_returns_records_with_a_summary(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    import statistics

    from hashlearn.records import RunResults

    X, y = digits
    results = run_protocol(X, y, "grh-cifar10", "lsh,itq", bits=[8, 16], seeds=2, **SMALL)
    assert isinstance(results, RunResults) and isinstance(results, list) and len(results) == 8
    rows = results.summary()
    assert [(row["method"], row["n_bits"]) for row in rows] == [
        ("LSH", 8),
        ("LSH", 16),
        ("ITQ", 8),
        ("ITQ", 16),
    ]
    for row in rows:
        cell = [r for r in results if r["method"]["label"] == row["method"]]
        cell = [r for r in cell if r["n_bits"] == row["n_bits"]]
        values = [r["metrics"]["map"] for r in cell]
        assert row["n"] == 2 and row["n_failed"] == 0
        assert row["mean"] == pytest.approx(statistics.mean(values))
        assert row["std"] == pytest.approx(statistics.stdev(values))
        assert row["fit_seconds"] == pytest.approx(statistics.mean(r["times"]["fit"] for r in cell))
    table = str(results)
    assert table.splitlines()[0] == "| method | bits | mAP@all | fit s |"
    assert f"| ITQ | 16 | {rows[3]['mean']:.4f} ± {rows[3]['std']:.4f} (2) |" in table
    p_at_10 = results.summary("precision_at_k_10")
    assert p_at_10[0]["mean"] == pytest.approx(
        statistics.mean(
            r["metrics"]["precision_at_k"]["10"]
            for r in results
            if r["method"]["spec"] == "lsh" and r["n_bits"] == 8
        )
    )


def test_run_benchmark_returns_records_with_a_summary(tmp_path: Path) -> None:
    from hashlearn.records import RunResults

    rng = np.random.default_rng(0)
    path = tmp_path / "data.npz"
    np.savez(path, X=rng.normal(size=(300, 8)), y=rng.integers(0, 3, 300))
    config = BenchConfig(
        protocol="grh-cifar10:n_queries=30,n_train=100,n_validation=0",
        methods=("lsh",),
        bits=(8,),
        seeds=(0,),
        dataset=str(path),
        out=str(tmp_path / "run"),
    )
    results = run_benchmark(config)
    assert isinstance(results, RunResults) and results.summary()[0]["n"] == 1


class _Terminal:
    """A stand-in for stderr that is (or is not) a terminal and keeps what is written."""

    def __init__(self, tty: bool) -> None:
        self.tty, self.text = tty, ""

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        return None


@pytest.mark.parametrize(
    ("progress", "tty", "shown"),
    [
        ("auto", True, True),
        ("auto", False, False),
        (True, False, True),
        (False, True, False),
    ],
)
def test_progress_is_shown_by_default_only_on_a_terminal(
    digits: tuple[np.ndarray, np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
    progress: object,
    tty: bool,
    shown: bool,
) -> None:
    import sys

    X, y = digits
    stderr = _Terminal(tty)
    monkeypatch.setattr(sys, "stderr", stderr)
    options = {} if progress == "auto" else {"progress": progress}
    run_protocol(X, y, "grh-cifar10", "lsh", bits=8, seeds=1, **SMALL, **options)
    assert ("grh-cifar10" in stderr.text and "mAP" in stderr.text) is shown
    assert bool(stderr.text) is shown


def test_progress_other_than_true_false_auto_or_a_callable_is_refused(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = digits
    with pytest.raises(ValueError, match="progress must be True, False, 'auto' or a callable"):
        run_protocol(X, y, "grh-cifar10", "lsh", bits=8, seeds=1, progress="yes", **SMALL)


def test_the_run_protocol_example_runs() -> None:
    import doctest

    from hashlearn.experiments import runner

    finder = doctest.DocTestFinder()
    (test,) = [t for t in finder.find(runner) if t.name.endswith(".run_protocol")]
    result = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE).run(test)
    assert result.attempted >= 5 and result.failed == 0

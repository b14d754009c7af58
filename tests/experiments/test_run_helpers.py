"""The helpers split out of the runner, the tutorial and the CLI: configuration from options,
resuming, measurements, parameters for records, and the tutorial's configuration and data."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from hashlearn import codes
from hashlearn.experiments.config import BenchConfig, bench_config_from_options
from hashlearn.experiments.measure import PeakMemory, code_statistics, timer, warning_summary
from hashlearn.experiments.methods import METHODS, format_methods
from hashlearn.experiments.protocols import PROTOCOLS, format_protocols
from hashlearn.experiments.resume import (
    check_same_data,
    drop_damaged_tail,
    finished_keys,
    record_key,
    write_run_json,
)
from hashlearn.experiments.runner import run_protocol
from hashlearn.experiments.specs import plain_params
from hashlearn.experiments.tutorial import (
    DIGITS_NOTICE,
    TutorialConfig,
    load_tutorial_dataset,
)
from hashlearn.records import RECORDS_NAME, RUN_NAME


def test_plain_params_keeps_plain_values_and_writes_the_rest_as_repr() -> None:
    params = {
        "n_bits": 16,
        "alpha": 0.5,
        "kernel": "rbf",
        "centre": True,
        "random_state": None,
        "sizes": (1, 2),
        "scale": np.float64(0.25),
        "estimator": {"C": 1},
    }
    assert plain_params(params) == {
        "n_bits": 16,
        "alpha": 0.5,
        "kernel": "rbf",
        "centre": True,
        "random_state": None,
        "sizes": "(1, 2)",
        "scale": 0.25,  # a float (numpy's float64 is one), converted later by to_json
        "estimator": "{'C': 1}",
    }


def test_bench_options_override_the_file_and_default_the_folder(tmp_path: Path) -> None:
    toml = tmp_path / "run.toml"
    toml.write_text('protocol = "grh-cifar10"\nmethods = ["lsh"]\nbits = [8]\nseeds = 2\n')
    config = bench_config_from_options(
        toml, {"bits": "16,32", "methods": None, "save_models": False, "download": None}
    )
    assert config == BenchConfig(
        protocol="grh-cifar10",
        methods=("lsh",),
        bits=(16, 32),
        seeds=(0, 1),
        out=str(Path("results") / "bench" / "grh-cifar10"),
        save_models=False,
    )
    named = bench_config_from_options(
        None, {"protocol": "grh-cifar10:n_train=500", "methods": ["lsh"]}
    )
    assert named.out == str(Path("results") / "bench" / "grh-cifar10")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"methods": ["lsh"]}, "give --protocol"),
        ({"protocol": "grh-cifar10"}, "give --methods"),
    ],
)
def test_bench_options_name_what_is_missing(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bench_config_from_options(None, options)


def test_bench_options_refuse_a_file_as_folder(tmp_path: Path) -> None:
    target = tmp_path / "a-file"
    target.write_text("keep me")
    with pytest.raises(ValueError, match="--out must be a folder"):
        bench_config_from_options(
            None, {"protocol": "grh-cifar10", "methods": ["lsh"], "out": target}
        )


def test_listings_name_every_protocol_and_method() -> None:
    protocols = format_protocols().splitlines()
    assert len(protocols) == 2 * len(PROTOCOLS)
    assert [line.split()[0] for line in protocols[::2]] == list(PROTOCOLS)
    methods = format_methods()
    for name in METHODS:
        assert any(line.startswith(f"{name} ") for line in methods.splitlines())


def test_record_keys_and_finished_keys(tmp_path: Path) -> None:
    key = record_key("grh-cifar10", "lsh", 16, 3)
    assert key == "grh-cifar10/lsh/16/3"
    assert finished_keys(tmp_path) == set()
    X, y = _digits()
    (record,) = run_protocol(
        X,
        y,
        "grh-cifar10",
        "lsh",
        bits=8,
        seeds=1,
        out=tmp_path,
        n_queries=50,
        n_train=200,
        n_validation=0,
    )
    assert record["key"] == record_key(record["protocol"]["spec"], "lsh", 8, 0)
    assert finished_keys(tmp_path) == {record["key"]}


def test_a_damaged_last_line_is_cut_and_whole_lines_are_kept(tmp_path: Path) -> None:
    path = tmp_path / RECORDS_NAME
    path.write_text('{"a": 1}\n{"b": 2}\n{"c": ')
    drop_damaged_tail(path)
    assert path.read_text() == '{"a": 1}\n{"b": 2}\n'
    drop_damaged_tail(path)  # whole lines are left alone
    assert path.read_text() == '{"a": 1}\n{"b": 2}\n'


def test_run_json_is_strict_and_other_data_is_refused(tmp_path: Path) -> None:
    data = {"name": "d", "source": "here", "shape": [10, 2]}
    write_run_json(tmp_path, {"data": data, "score": float("nan"), "n": np.int64(3)})
    text = (tmp_path / RUN_NAME).read_text()
    assert json.loads(text) == {"data": data, "score": None, "n": 3}
    assert text.endswith("}\n")
    check_same_data(tmp_path, data)  # the same data resumes
    with pytest.raises(ValueError, match="other data"):
        check_same_data(tmp_path, {**data, "shape": [11, 2]})


def test_measurements() -> None:
    times: dict[str, float] = {}
    with PeakMemory() as memory, timer(times, "block"):
        block = np.ones((1000, 1000))
        del block
    assert times["block"] >= 0.0
    assert memory.peak is None or memory.peak > 0

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            warnings.warn("slow", RuntimeWarning, stacklevel=1)
        warnings.warn("other", UserWarning, stacklevel=1)
    assert warning_summary(caught) == [
        {"category": "RuntimeWarning", "message": "slow", "count": 3},
        {"category": "UserWarning", "message": "other", "count": 1},
    ]

    constant = codes.pack_bits(np.zeros((4, 8), dtype=np.uint8))
    stats = code_statistics(constant, 8)
    assert stats["n_constant_bits"] == 8
    assert stats["n_buckets"] == 1
    correlation = stats["mean_abs_correlation"]
    assert correlation is None or math.isfinite(correlation)


def test_tutorial_config_from_options() -> None:
    assert TutorialConfig.from_options(n_bits=6).max_radius == 6
    assert TutorialConfig.from_options(n_bits=32).max_radius == 10
    config = TutorialConfig.from_options(n_bits=16, max_radius=3, grh_alpha=0.5, grh_n_iter=2)
    assert (config.max_radius, config.grh_alpha, config.grh_n_iter) == (3, 0.5, 2)
    default = TutorialConfig()
    assert (default.grh_alpha, default.grh_n_iter) == (
        TutorialConfig.from_options().grh_alpha,
        TutorialConfig.from_options().grh_n_iter,
    )
    with pytest.raises(ValueError, match="k must be in"):
        TutorialConfig.from_options(k=0)


def test_tutorial_config_adapts_the_split_to_digits() -> None:
    config = TutorialConfig()
    assert config.adapted_to("cifar10-gist") == config
    digits = config.adapted_to("digits")
    assert (digits.query_size, digits.train_size) == (120, 300)


def test_tutorial_dataset_falls_back_to_digits_with_a_notice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HASHLEARN_DATA", raising=False)
    monkeypatch.setenv("HASHLEARN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HASHLEARN_OFFLINE", "1")
    notices: list[str] = []
    dataset = load_tutorial_dataset("auto", tmp_path, notify=notices.append)
    assert dataset.name == "digits"
    assert notices == [DIGITS_NOTICE]
    with pytest.raises(ValueError, match="dataset must be one of"):
        load_tutorial_dataset("mnist")


def test_runner_progress_goes_to_standard_error(capsys: pytest.CaptureFixture[str]) -> None:
    X, y = _digits()
    run_protocol(
        X,
        y,
        "grh-cifar10",
        "lsh",
        bits=8,
        seeds=1,
        progress=True,
        n_queries=50,
        n_train=200,
        n_validation=0,
    )
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "[1/1] grh-cifar10" in captured.err and "mAP" in captured.err


def test_records_carry_the_shared_environment() -> None:
    X, y = _digits()
    (record,) = run_protocol(
        X, y, "grh-cifar10", "lsh", bits=8, seeds=1, n_queries=50, n_train=200, n_validation=0
    )
    from hashlearn._environment import environment

    assert set(record["environment"]) == set(environment())
    json.dumps(record, allow_nan=False)  # strict JSON in memory as on disk


def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X.astype(np.float32), y

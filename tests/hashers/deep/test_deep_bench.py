"""Deep hashers through the benchmark runner: records carry the training, queries stay unseen."""

from __future__ import annotations

import numpy as np
import pytest

from hashlearn.experiments import run_protocol
from hashlearn.experiments.methods import build_method, format_methods
from hashlearn.hashers.deep import trainer


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 150)
    X = rng.normal(size=(600, 10)).astype(np.float32)
    X[:, :4] += 3 * np.eye(4, dtype=np.float32)[y]
    return X, y


def test_records_carry_the_training(data, monkeypatch):
    X, y = data
    seen = []
    real = trainer.train

    def spy(network, loss, inputs, *args, **kwargs):
        seen.append(inputs.array.copy())
        return real(network, loss, inputs, *args, **kwargs)

    monkeypatch.setattr(trainer, "train", spy)
    records = run_protocol(
        X,
        y,
        protocol="grh-cifar10",
        methods=["dsh:epochs=2,batch_size=32"],
        bits=8,
        seeds=1,
        n_queries=40,
        n_train=200,
        n_validation=0,
        progress=False,
    )
    record = records[0]
    assert record["status"] == "ok", record.get("error")
    (trained,) = seen
    assert len(trained) == 200  # the protocol's training sample, nothing else
    training = record["training"]
    assert training["device"] == "cpu" and training["epochs_run"] == 2
    assert training["train_inputs_per_second"] > 0 and training["encode_inputs_per_second"] > 0
    assert [row["epoch"] for row in training["curve"]["epochs"]] == [1, 2]
    assert 0 <= record["metrics"]["map"] <= 1


def test_queries_are_never_seen_during_fit(data, monkeypatch):
    """Everything the trainer receives (its training and validation rows) comes from the
    database side: no query row reaches it."""
    X, y = data
    seen = []
    real = trainer.train
    monkeypatch.setattr(
        trainer,
        "train",
        lambda network, loss, inputs, *a, **k: (
            seen.append(inputs.array.copy()) or real(network, loss, inputs, *a, **k)
        ),
    )
    queries, database = X[:50], X[50:]
    records = run_protocol(
        database,
        y[50:],
        protocol="grh-cifar10",
        methods=["dsh:epochs=1,batch_size=32"],
        bits=8,
        seeds=1,
        X_query=queries,
        y_query=y[:50],
        n_train=200,
        n_validation=0,
        progress=False,
    )
    assert records[0]["status"] == "ok", records[0].get("error")
    (trained,) = seen
    assert not ({row.tobytes() for row in queries} & {row.tobytes() for row in trained})


def test_deep_methods_are_listed_and_built_from_specs():
    assert "dsh " in format_methods()
    hasher = build_method("dsh:epochs=3,backbone=mlp,width=64", 16, 0)
    assert (hasher.n_bits, hasher.epochs, hasher.width, hasher.random_state) == (16, 3, 64, 0)
    with pytest.raises(ValueError, match="no spec parameter 'epoch'"):
        build_method("dsh:epoch=3", 16, 0)
    with pytest.raises(ValueError, match="backbone must be"):
        build_method("dsh:backbone=lenet", 16, 0)


def test_the_report_plots_the_training_curves(data, tmp_path):
    from hashlearn.report import write_benchmark_report

    X, y = data
    run_protocol(
        X,
        y,
        protocol="grh-cifar10",
        methods=["dsh:epochs=3,batch_size=32", "lsh"],
        bits=8,
        seeds=1,
        n_queries=40,
        n_train=200,
        n_validation=0,
        out=tmp_path / "run",
        progress=False,
    )
    write_benchmark_report(tmp_path / "run")
    figures = sorted(path.name for path in (tmp_path / "run" / "figures").iterdir())
    assert any(name.endswith("-training_curves.png") for name in figures), figures
    report = (tmp_path / "run" / "report.md").read_text()
    assert "### Training (deep methods)" in report and "training_curves.png" in report
    assert "training inputs/s" in report

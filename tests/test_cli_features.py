"""``hashlearn features extract``: CNN features of a real dataset, cached for every hasher."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from hashlearn.cli import main

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HASHLEARN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _run(capsys, *argv):
    status = main(["features", "extract", "--no-progress", "--device", "cpu", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def _written(out):
    line = next(line for line in out.splitlines() if line.startswith(("wrote ", "cached: ")))
    path = line.split(" ", 1)[1].split(": X", 1)[0].split(" (extracted", 1)[0]
    with np.load(path, allow_pickle=False) as archive:
        return path, archive["X"], archive["y"], json.loads(str(archive["meta"]))


@pytest.mark.realdata
def test_mnist_features_are_cached_and_read_by_the_user_data_loader(real_data_dir, cache, capsys):
    from hashlearn.datasets import load_mnist
    from hashlearn.experiments.user_data import load_user_dataset

    argv = ["--model", "resnet18", "--dataset", "mnist", "--limit", "8"]
    status, out, err = _run(capsys, *argv, "--data-dir", str(real_data_dir))
    assert status == 0, err
    assert "images/s on cpu" in out and "too few for a benchmark" in out
    assert err.count("RandomWeightsWarning") == 1 and "not meaningful for retrieval" in err
    path, X, y, meta = _written(out)
    assert path.startswith(str(cache / "features"))
    assert "resnet18-random-seed0-mnist-first8" in path
    assert X.shape == (8, 512) and X.dtype == np.float32
    np.testing.assert_array_equal(y, load_mnist(real_data_dir).y[:8])
    assert meta["model"] == "resnet18" and meta["images_per_second"] > 0
    dataset, _ = load_user_dataset(path)
    assert dataset.X.shape == (8, 512)
    status, again, _ = _run(capsys, *argv, "--data-dir", str(real_data_dir))
    assert status == 0 and again.startswith(f"cached: {path}")
    with open(path, "r+b") as handle:  # a damaged cache entry is extracted again
        handle.truncate(100)
    status, rebuilt, err = _run(capsys, *argv, "--data-dir", str(real_data_dir))
    assert status == 0 and "ignoring the damaged cache file" in err
    np.testing.assert_array_equal(_written(rebuilt)[1], X)


@pytest.mark.realdata
def test_a_weights_file_names_the_cache_entry_and_silences_the_warning(
    real_data_dir, cache, tmp_path, capsys
):
    from hashlearn.features.cnn import build_cnn

    weights = tmp_path / "resnet18.pth"
    torch.save(build_cnn("resnet18").state_dict(), weights)
    out_file = tmp_path / "mine.npz"
    status, out, err = _run(
        capsys, "--dataset", "mnist", "--limit", "4", "--weights", str(weights),
        "--out", str(out_file), "--data-dir", str(real_data_dir),
    )  # fmt: skip
    assert status == 0, err
    assert "RandomWeightsWarning" not in err
    path, X, _, meta = _written(out)
    assert path == str(out_file) and X.shape == (4, 512)
    assert meta["weights"] == str(weights.resolve()) and len(meta["weights_sha256"]) == 64
    assert meta["seed"] is None


@pytest.mark.realdata
def test_bad_weights_exit_2_naming_the_file(real_data_dir, cache, tmp_path, capsys):
    weights = tmp_path / "resnet50.pth"
    torch.save({"fc.weight": torch.zeros(3, 3)}, weights)
    status, out, err = _run(
        capsys, "--dataset", "mnist", "--limit", "2", "--weights", str(weights),
        "--data-dir", str(real_data_dir),
    )  # fmt: skip
    assert status == 2 and out == ""
    assert f"{weights} does not hold torchvision resnet18 weights" in err
    assert not (cache / "features").exists()


def test_a_missing_extra_exits_2_with_the_install_command(cache, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)
    status, _, err = _run(capsys, "--dataset", "mnist", "--limit", "2")
    assert status == 2
    assert "pip install 'hashlearn[deep]'" in err


def test_unknown_models_and_datasets_are_refused_by_the_parser(capsys):
    for argv in (["--model", "resnet101"], ["--dataset", "cifar10-gist"]):
        with pytest.raises(SystemExit) as exc:
            main(["features", "extract", *argv])
        assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.realdata
@pytest.mark.slow
def test_cifar10_subset(real_data_dir, cache, capsys):
    """The first load decodes all 60,000 CIFAR-10 JPEGs into the (fresh) cache: ~20 s."""
    status, out, err = _run(
        capsys, "--model", "resnet18", "--dataset", "cifar10", "--limit", "8",
        "--data-dir", str(real_data_dir),
    )  # fmt: skip
    assert status == 0, err
    assert "resnet18 features of 8 cifar10 images" in out and "images/s on cpu" in out
    path, X, y, meta = _written(out)
    assert "resnet18-random-seed0-cifar10-first8" in path
    assert X.shape == (8, 512) and np.isfinite(X).all()
    assert y.tolist() == [6, 9, 9, 4, 1, 1, 2, 7]  # the first 8 official training labels
    assert meta["n_train"] == 8 and meta["dataset"] == "cifar10"


def test_the_usage_hint_scales_the_protocol_to_a_subset():
    from pathlib import Path

    from hashlearn.datasets.cnn_features import FeatureFile, usage_hint

    subset = FeatureFile(Path("f.npz"), (256, 512), {"dataset": "cifar10", "limit": 256}, False)
    expected = '"cifar10-1:preprocess=l2-center,n_queries=20,n_train=128,n_validation=0"'
    assert f"hashlearn bench --protocol {expected} --dataset f.npz" in usage_hint(subset)
    full = FeatureFile(Path("m.npz"), (70000, 512), {"dataset": "mnist", "limit": None}, False)
    assert '--protocol "grh-mnist:preprocess=l2-center" --dataset m.npz' in usage_hint(full)


def test_an_unavailable_device_is_refused_before_loading(cache, tmp_path, monkeypatch, capsys):
    """An empty data directory: loading first would fail on the missing MNIST files."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    (tmp_path / "empty").mkdir()
    argv = ["--dataset", "mnist", "--device", "cuda", "--data-dir", str(tmp_path / "empty")]
    assert main(["features", "extract", *argv]) == 2
    err = capsys.readouterr().err
    assert "device='cuda' was asked for" in err and "MNIST" not in err

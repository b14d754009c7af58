"""The tutorial's Gist512CIFAR10.mat, digits, and the load_dataset dispatcher."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import scipy.io

import hashlearn.datasets as ds
from hashlearn.datasets import gist_mat


def write_mat(path, *, n=20, dim=512, labels=None, **overrides):
    rng = np.random.default_rng(0)
    contents = {
        "X": rng.random((n, dim)),
        "X_class": (np.arange(n) % 10).reshape(1, -1) if labels is None else labels,
    }
    contents.update(overrides)
    contents = {key: value for key, value in contents.items() if value is not None}
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, contents)
    return path


def test_load_explicit_path(tmp_path):
    path = write_mat(tmp_path / "g.mat")
    data = ds.load_gist_mat(path)
    assert data.name == "cifar10-gist-mat"
    assert data.X.shape == (20, 512) and data.X.dtype == np.float32
    np.testing.assert_array_equal(data.y, np.arange(20) % 10)
    assert data.y.dtype == np.int64
    assert data.class_names == ds.CIFAR10_CLASSES
    assert data.n_train is None
    assert "g.mat" in data.source


@pytest.mark.parametrize("where", ["cifar10/Gist512CIFAR10.mat", "Gist512CIFAR10.mat"])
def test_found_in_data_dir(tmp_path, where):
    write_mat(tmp_path / "data" / where)
    assert ds.load_gist_mat(data_dir=tmp_path / "data").X.shape == (20, 512)
    assert ds.load_dataset("cifar10-gist-mat", tmp_path / "data").X.shape == (20, 512)


def test_one_based_labels_are_shifted(tmp_path):
    path = write_mat(tmp_path / "g.mat", labels=(np.arange(20) % 10 + 1).reshape(-1, 1))
    np.testing.assert_array_equal(ds.load_gist_mat(path).y, np.arange(20) % 10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dim": 384}, r"X has dtype float64 and shape \(20, 384\)"),
        ({"labels": np.arange(19).reshape(1, -1) % 10}, "X has 20 rows but X_class has 19"),
        ({"labels": np.full((1, 20), 12)}, "labels range from 12 to 12, expected 0..9"),
        ({"labels": np.full((1, 20), 0.5)}, "X_class must hold integer labels"),
        ({"labels": np.zeros((4, 5))}, r"X_class has shape \(4, 5\)"),
        ({"X_class": None}, "lacks the variable"),
    ],
)
def test_invalid_contents_name_the_file(tmp_path, kwargs, message):
    path = write_mat(tmp_path / "bad.mat", **kwargs)
    with pytest.raises(ValueError, match=message) as info:
        ds.load_gist_mat(path)
    assert "bad.mat" in str(info.value)


def test_non_finite_features(tmp_path):
    X = np.zeros((20, 512))
    X[3, 4] = np.nan
    path = write_mat(tmp_path / "bad.mat", X=X)
    with pytest.raises(ValueError, match="NaN or infinity"):
        ds.load_gist_mat(path)


def test_not_a_mat_file(tmp_path):
    path = tmp_path / "Gist512CIFAR10.mat"
    path.write_bytes(b"<!DOCTYPE html><html>Dropbox sign-in</html>" * 10)
    with pytest.raises(ValueError, match=r"Gist512CIFAR10\.mat"):
        ds.load_gist_mat(path)


def test_truncated_mat_file(tmp_path):
    path = write_mat(tmp_path / "g.mat")
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(ValueError, match=r"g\.mat"):
        ds.load_gist_mat(path)


@pytest.mark.skipif(importlib.util.find_spec("h5py") is not None, reason="h5py is installed")
def test_v73_without_h5py_says_what_to_do(tmp_path):
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2018 HDF5"
    header = header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"
    path = tmp_path / "v73.mat"
    path.write_bytes(header + b"\x00" * 512)
    with pytest.raises(ImportError, match=r"v7\.3.*pip install h5py"):
        ds.load_gist_mat(path)


def test_missing_file_lists_places_and_link(tmp_path, cache):
    (tmp_path / "data").mkdir()
    with pytest.raises(FileNotFoundError) as info:
        ds.load_gist_mat(data_dir=tmp_path / "data")
    message = str(info.value)
    assert str(tmp_path / "data" / "cifar10" / "Gist512CIFAR10.mat") in message
    assert str(cache / "cifar10" / "Gist512CIFAR10.mat") in message
    assert gist_mat.GIST_MAT_URL in message
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ds.load_gist_mat(tmp_path / "nope.mat")


def test_download_is_validated(monkeypatch, tmp_path, cache):
    remote = write_mat(tmp_path / "remote" / "Gist512CIFAR10.mat")
    monkeypatch.setattr(gist_mat, "GIST_MAT_URL", remote.as_uri())
    with pytest.raises(FileNotFoundError, match="HASHLEARN_OFFLINE is set"):
        ds.load_gist_mat(download=True)
    monkeypatch.delenv("HASHLEARN_OFFLINE")
    data = ds.load_gist_mat(download=True)
    assert data.X.shape == (20, 512)
    assert (cache / "cifar10" / "Gist512CIFAR10.mat").is_file()
    assert "downloaded" in data.source


def test_invalid_download_is_deleted(monkeypatch, tmp_path, cache):
    remote = tmp_path / "remote.mat"
    remote.write_bytes(b"<html>this link has expired</html>")
    monkeypatch.setattr(gist_mat, "GIST_MAT_URL", remote.as_uri())
    monkeypatch.delenv("HASHLEARN_OFFLINE")
    with pytest.raises(ValueError, match=r"not a MATLAB \.mat file"):
        ds.load_gist_mat(download=True)
    assert not (cache / "cifar10" / "Gist512CIFAR10.mat").exists()


# --------------------------------------------------------------------------- digits, dispatch


def test_digits():
    data = ds.load_digits_dataset()
    assert data.name == "digits"
    assert data.X.shape == (1797, 64) and data.X.dtype == np.float64
    assert data.y.shape == (1797,) and data.y.dtype == np.int64
    assert data.class_names == tuple("0123456789")
    assert data.images.shape == (1797, 8, 8)
    assert data.split is None
    assert "digits" in repr(data)


def test_load_dataset_dispatch(tmp_path):
    assert ds.load_dataset("digits").name == "digits"
    with pytest.raises(ValueError, match="name must be one of cifar10-gist"):
        ds.load_dataset("imagenet")
    with pytest.raises(FileNotFoundError, match="MNIST was not found"):
        ds.load_dataset("mnist")
    with pytest.raises(FileNotFoundError, match="CIFAR-10 was not found"):
        ds.load_dataset("cifar10-gist")
    with pytest.raises(FileNotFoundError, match="CIFAR-10 was not found"):
        ds.load_dataset("cifar10")


def test_choose_dataset_falls_back_to_digits(tmp_path):
    name, notice = ds.choose_dataset()
    assert name == "digits" and "using scikit-learn's 8x8 digits" in notice
    assert "\n" not in notice
    root = tmp_path / "data" / "cifar10"
    root.mkdir(parents=True)
    (root / "cifar-10-python.tar.gz").write_bytes(b"")
    assert ds.choose_dataset(tmp_path / "data") == ("cifar10-gist", None)

"""hashlearn encode: features streamed through a saved hasher into a .npy of codes."""

from __future__ import annotations

import numpy as np
import pytest

from hashlearn.cli import main
from hashlearn.hashers import SignRandomProjection
from hashlearn.index import LinearScanIndex


@pytest.fixture
def model(tmp_path):
    X = np.random.default_rng(0).normal(size=(500, 12)).astype(np.float32)
    hasher = SignRandomProjection(n_bits=20, random_state=0).fit(X)
    hasher.save(tmp_path / "model.hlz")
    np.save(tmp_path / "features.npy", X)
    return hasher, X


@pytest.mark.parametrize("chunk_size", ["7", "500", "100000"])
def test_encode_equals_hasher_encode(tmp_path, model, chunk_size, capsys):
    hasher, X = model
    out = tmp_path / "sub" / "codes.npy"
    status = main(
        [
            "encode",
            "--model",
            str(tmp_path / "model.hlz"),
            "--input",
            str(tmp_path / "features.npy"),
            "--out",
            str(out),
            "--chunk-size",
            chunk_size,
            "--no-progress",
        ]
    )
    assert status == 0
    np.testing.assert_array_equal(np.load(out), hasher.encode(X))
    assert "500 codes of 20 bits" in capsys.readouterr().out
    assert sorted(p.name for p in out.parent.iterdir()) == ["codes.npy"]  # no temporary left


def _run(tmp_path, model_path, features_path, *extra):
    out = tmp_path / "codes.npy"
    status = main(
        [
            "encode",
            "--model",
            str(model_path),
            "--input",
            str(features_path),
            "--out",
            str(out),
            *extra,
        ]
    )
    return status, out


def test_a_model_that_is_not_a_hasher(tmp_path, model, capsys):
    LinearScanIndex(8).save(tmp_path / "index.hlz")
    status, out = _run(tmp_path, tmp_path / "index.hlz", tmp_path / "features.npy")
    assert status == 2 and not out.exists()
    assert "holds a LinearScanIndex, not a hasher" in capsys.readouterr().err


def test_features_of_the_wrong_width(tmp_path, model, capsys):
    np.save(tmp_path / "narrow.npy", np.zeros((4, 11)))
    status, out = _run(tmp_path, tmp_path / "model.hlz", tmp_path / "narrow.npy")
    assert status == 2 and not out.exists()
    assert "(4, 11)" in capsys.readouterr().err


def test_bad_chunk_size(tmp_path, model, capsys):
    status, _ = _run(
        tmp_path, tmp_path / "model.hlz", tmp_path / "features.npy", "--chunk-size", "0"
    )
    assert status == 2 and "--chunk-size must be >= 1" in capsys.readouterr().err


def test_a_failed_encode_keeps_the_previous_codes(tmp_path, model, monkeypatch, capsys):
    np.save(tmp_path / "codes.npy", np.full((2, 3), 7, dtype=np.uint8))

    def broken(self, X):
        raise ValueError("encoding failed")

    monkeypatch.setattr(SignRandomProjection, "encode", broken)
    status, out = _run(tmp_path, tmp_path / "model.hlz", tmp_path / "features.npy")
    assert status == 2 and "encoding failed" in capsys.readouterr().err
    np.testing.assert_array_equal(np.load(out), np.full((2, 3), 7, dtype=np.uint8))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["codes.npy", "features.npy", "model.hlz"]


def test_empty_features(tmp_path, model):
    np.save(tmp_path / "none.npy", np.zeros((0, 12), dtype=np.float32))
    status, out = _run(tmp_path, tmp_path / "model.hlz", tmp_path / "none.npy", "--no-progress")
    assert status == 0 and np.load(out).shape == (0, 3)

"""Deep hashers as estimators: determinism, inputs, persistence, checkpoints, the curve."""

from __future__ import annotations

import io
import json
import sys
import zipfile

import numpy as np
import pytest

import hashlearn
from hashlearn import FileFormatError
from hashlearn.hashers.deep import DSH
from hashlearn.hashers.deep.checkpoint import CheckpointError

FAST = {"epochs": 2, "batch_size": 32, "validation_fraction": 0.2}


@pytest.fixture(scope="module")
def vectors():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(160, 12)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int) + 2 * (X[:, 1] > 0).astype(int)
    return X, y


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(3), 20)
    X = rng.integers(0, 64, size=(60, 12, 12, 3), dtype=np.uint8)
    X[:, :, :, 0] += (y * 60)[:, None, None].astype(np.uint8)  # the class in the red channel
    return X, y


def test_same_seed_same_codes_and_another_seed_other_codes(vectors):
    X, y = vectors
    a = DSH(n_bits=16, random_state=3, **FAST).fit(X, y).encode(X)
    b = DSH(n_bits=16, random_state=3, **FAST).fit(X, y).encode(X)
    c = DSH(n_bits=16, random_state=4, **FAST).fit(X, y).encode(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_fit_leaves_torch_global_generator_alone(vectors):
    import torch

    X, y = vectors
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    DSH(n_bits=8, random_state=0, **FAST).fit(X, y)
    np.testing.assert_array_equal(torch.rand(3).numpy(), expected.numpy())


def test_training_curve_is_kept(vectors):
    X, y = vectors
    hasher = DSH(n_bits=8, random_state=0, **FAST).fit(X, y)
    curve = hasher.training_curve_
    assert curve.device == "cpu" and curve.metric == "validation mAP"
    assert [row["epoch"] for row in curve.epochs] == [1, 2]
    for row in curve.epochs:
        assert row["loss"] > 0 and 0 <= row["score"] <= 1
        assert row["seconds"] > 0 and row["images_per_second"] > 0
    assert curve.best_epoch in (1, 2) and curve.seconds > 0
    assert hasher.backbone_ == "mlp" and hasher.input_shape_ == (12,)
    assert hasher.classes_ == (0, 1, 2, 3)


def test_early_stopping_on_a_flat_validation_score(images):
    X, y = images
    # A learning rate of ~0 leaves the network (dsh-cnn: no batch norm, no dropout)
    # unchanged: the score never improves.
    hasher = DSH(
        n_bits=8, epochs=20, patience=2, learning_rate=1e-30, random_state=0, batch_size=32
    ).fit(X, y)
    curve = hasher.training_curve_
    assert curve.stopped_early and len(curve.epochs) == 3 and curve.best_epoch == 1


def test_images_in_every_layout_give_the_same_codes(images):
    X, y = images
    kwargs = {"n_bits": 8, "random_state": 0, **FAST}
    nhwc = DSH(**kwargs).fit(X, y)
    assert nhwc.backbone_ == "dsh-cnn" and nhwc.input_shape_ == (3, 12, 12)
    codes = nhwc.encode(X)
    np.testing.assert_array_equal(nhwc.encode(X.transpose(0, 3, 1, 2)), codes)
    flat = DSH(image_shape=(12, 12, 3), **kwargs).fit(X.reshape(len(X), -1), y)
    np.testing.assert_array_equal(flat.encode(X.reshape(len(X), -1)), codes)


def test_image_input_errors(images):
    X, y = images
    with pytest.raises(TypeError, match="images must be uint8"):
        DSH(n_bits=8, backbone="dsh-cnn", **FAST).fit(X.astype(np.float32), y)
    with pytest.raises(ValueError, match=r"X has 100 columns: pass image_shape"):
        DSH(n_bits=8, backbone="dsh-cnn", **FAST).fit(np.zeros((10, 100), np.uint8), y[:10])
    with pytest.raises(ValueError, match=r"image_shape=\(4, 4, 3\) holds 48 values"):
        DSH(n_bits=8, backbone="dsh-cnn", image_shape=(4, 4, 3), **FAST).fit(
            np.zeros((10, 100), np.uint8), y[:10]
        )
    fitted = DSH(n_bits=8, random_state=0, **FAST).fit(X, y)
    with pytest.raises(ValueError, match=r"fitted on inputs of shape \(3, 12, 12\)"):
        fitted.encode(np.zeros((2, 10, 10, 3), np.uint8))


def test_parameter_and_label_errors(vectors):
    X, y = vectors
    with pytest.raises(ValueError, match="backbone must be 'auto' or one of"):
        DSH(backbone="lenet").fit(X, y)
    with pytest.raises(ValueError, match="learning_rate must be a finite number > 0"):
        DSH(learning_rate=0.0).fit(X, y)
    with pytest.raises(ValueError, match=r"DeepSupervisedHashing requires y to be passed"):
        DSH(**FAST).fit(X)
    with pytest.raises(ValueError, match="one class"):
        DSH(**FAST).fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="device must be one of"):
        DSH(device="gpu", **FAST).fit(X, y)


def test_cuda_path_without_a_gpu_says_so(vectors, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X, y = vectors
    with pytest.raises(ValueError, match="torch sees no CUDA device"):
        DSH(device="cuda", **FAST).fit(X, y)
    hasher = DSH(device="auto", n_bits=8, random_state=0, **FAST).fit(X, y)
    assert hasher.training_curve_.device == "cpu"


def test_without_torch_the_error_names_the_extra(vectors, monkeypatch):
    X, y = vectors
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    hasher = DSH(n_bits=8)  # building, cloning and listing need no torch
    assert hasher.get_params()["n_bits"] == 8
    with pytest.raises(ImportError, match=r"pip install 'hashlearn\[deep\]'"):
        hasher.fit(X, y)


def test_save_and_load_give_the_same_codes(vectors, images, tmp_path):
    for X, y in (vectors, images):
        hasher = DSH(n_bits=12, random_state=0, **FAST).fit(X, y)
        loaded = hashlearn.load(hasher.save(tmp_path / "model.hlz"))
        np.testing.assert_array_equal(loaded.encode(X), hasher.encode(X))
        assert loaded.training_curve_.to_dict() == hasher.training_curve_.to_dict()
        assert loaded.get_params() == hasher.get_params()


def _rewrite(path, target, edit):
    """Copy the hashlearn file ``path`` to ``target`` with ``edit(meta, arrays)`` applied."""
    from hashlearn.persistence import META_NAME, read_file

    meta, arrays = read_file(path)
    edit(meta, arrays)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(META_NAME, json.dumps({**meta, "arrays": sorted(arrays)}))
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.save(buffer, array)
            archive.writestr(f"{name}.npy", buffer.getvalue())


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m, a: a.update({"network.0": a["network.0"][:1]}), "weight"),
        (lambda m, a: a.pop("network.1"), "weight"),
        (lambda m, a: m["attributes"]["state_keys_"].reverse(), "differ from"),
        (lambda m, a: m["attributes"].update(input_shape_=[13]), "n_features_in_"),
        (lambda m, a: m["attributes"].update(backbone_="lenet"), "backbone"),
        (lambda m, a: m["params"].update(epochs=0), "epochs"),
        (lambda m, a: a.update({"network.0": np.full_like(a["network.0"], np.nan)}), "NaN"),
    ],
)
def test_tampered_files_are_refused(vectors, tmp_path, edit, message):
    X, y = vectors
    path = DSH(n_bits=8, random_state=0, **FAST).fit(X, y).save(tmp_path / "model.hlz")
    _rewrite(path, tmp_path / "bad.hlz", edit)
    with pytest.raises((FileFormatError, ValueError), match=message):
        hashlearn.load(tmp_path / "bad.hlz")


def test_checkpoint_resumes_an_interrupted_fit_exactly(vectors, tmp_path):
    X, y = vectors
    kwargs = {"n_bits": 8, "epochs": 4, "batch_size": 32, "random_state": 0, "patience": None}
    reference = DSH(**kwargs).fit(X, y)
    checkpoint = str(tmp_path / "train.ckpt")

    def stop_after_two(line):
        if line.startswith("epoch 2:"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        DSH(checkpoint=checkpoint, progress=stop_after_two, **kwargs).fit(X, y)
    resumed = DSH(checkpoint=checkpoint, **kwargs).fit(X, y)
    assert [row["epoch"] for row in resumed.training_curve_.epochs] == [1, 2, 3, 4]
    np.testing.assert_array_equal(resumed.encode(X), reference.encode(X))
    # The checkpoint belongs to this run: other data is refused, not mixed in.
    with pytest.raises(CheckpointError, match="another training run"):
        DSH(checkpoint=checkpoint, **kwargs).fit(X[::-1].copy(), y[::-1].copy())
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable"):
        DSH(checkpoint=str(tmp_path / "junk.ckpt"), **kwargs).fit(X, y)


ALL_METHODS = {
    "DSH": {},
    "HashNet": {},
    "DPSH": {"eta": 0.1},
    "CSQ": {},
    "BiHalf": {},
    "GreedyHash": {},
    "GreedyHash-unsupervised": {"supervised": False},
}


def _method(name):
    from hashlearn.hashers import deep

    return getattr(deep, name.split("-")[0])


@pytest.fixture(scope="module")
def blobs4():
    rng = np.random.default_rng(5)
    y = np.repeat(np.arange(4), 60)
    X = (rng.normal(size=(240, 16)) + 4 * np.eye(16)[y]).astype(np.float32)
    return X, y


@pytest.mark.parametrize("name", ALL_METHODS)
def test_every_method_learns_codes_that_rank_by_class(name, blobs4):
    from hashlearn.evaluation import mean_average_precision

    X, y = blobs4
    hasher = _method(name)(
        n_bits=16, epochs=8, batch_size=32, random_state=0, **ALL_METHODS[name]
    ).fit(X, y)
    codes = hasher.encode(X)
    value = mean_average_precision(codes, codes, y, y).value
    assert value > 0.6, f"{name}: mAP {value:.3f} on four well-separated classes"
    metric = hasher.training_curve_.metric
    supervised = name not in ("BiHalf", "GreedyHash-unsupervised")
    assert metric == ("validation mAP" if supervised else "minus validation loss")


@pytest.mark.parametrize("name", ["HashNet", "DPSH", "GreedyHash"])
def test_resume_is_exact_for_methods_with_training_state(name, blobs4, tmp_path):
    """HashNet's continuation step, DPSH's memory and GreedyHash's classifier live in the
    loss: a checkpoint keeps them."""
    X, y = blobs4
    kwargs = {"n_bits": 8, "epochs": 3, "batch_size": 32, "random_state": 0, "patience": None}
    kwargs.update(ALL_METHODS[name])
    reference = _method(name)(**kwargs).fit(X, y)
    checkpoint = str(tmp_path / "train.ckpt")

    def stop_after_one(line):
        if line.startswith("epoch 1:"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _method(name)(checkpoint=checkpoint, progress=stop_after_one, **kwargs).fit(X, y)
    resumed = _method(name)(checkpoint=checkpoint, **kwargs).fit(X, y)
    np.testing.assert_array_equal(resumed.encode(X), reference.encode(X))
    assert resumed.training_curve_.epochs[-1] == reference.training_curve_.epochs[-1] | {
        "seconds": resumed.training_curve_.epochs[-1]["seconds"],
        "images_per_second": resumed.training_curve_.epochs[-1]["images_per_second"],
    }


def test_unsupervised_methods_ignore_labels(blobs4):
    X, y = blobs4
    from hashlearn.hashers.deep import BiHalf, GreedyHash

    for cls, extra in ((BiHalf, {}), (GreedyHash, {"supervised": False})):
        kwargs = {"n_bits": 8, "epochs": 2, "batch_size": 32, "random_state": 0, **extra}
        with_labels = cls(**kwargs).fit(X, y).encode(X)
        np.testing.assert_array_equal(cls(**kwargs).fit(X).encode(X), with_labels)

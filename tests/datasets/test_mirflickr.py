"""MIRFlickr-25K loader: fake .mat files in tmp_path, and the real files when present."""

from __future__ import annotations

import hashlib
import time

import numpy as np
import pytest
import scipy.io

from hashlearn._validation import check_labels
from hashlearn.datasets.mirflickr import (
    MIRFLICKR25K_CLASSES,
    load_mirflickr25k,
    read_mirflickr25k,
)
from hashlearn.evaluation.metrics import relevance


def write_pair(data_dir, *, n=12, labels=None, tags=None, labels_var="LAll", tags_var="YAll"):
    """Small LAll/YAll files in ``<data_dir>/mirflickr25k``; row 0 has no label, row 1 no tag."""
    rng = np.random.default_rng(0)
    if labels is None:
        labels = (rng.random((n, 24)) < 0.3).astype(np.uint8)
        labels[0] = 0
        labels[1:, 0] = 1
    if tags is None:
        tags = (rng.random((n, 1386)) < 0.01).astype(np.uint8)
        tags[1] = 0
        tags[np.arange(2, n), np.arange(2, n)] = 1
    folder = data_dir / "mirflickr25k"
    folder.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(folder / "mirflickr25k-lall.mat", {labels_var: labels})
    scipy.io.savemat(folder / "mirflickr25k-yall.mat", {tags_var: tags})
    return labels, tags


def test_load_fake_files_keeps_empty_rows(tmp_path):
    labels, tags = write_pair(tmp_path / "data")
    data = load_mirflickr25k(tmp_path / "data")
    assert data.name == "mirflickr25k"
    assert data.X.dtype == np.float32 and data.X.shape == (12, 1386)
    assert data.y.dtype == np.uint8 and data.y.shape == (12, 24)
    np.testing.assert_array_equal(data.X, tags)
    np.testing.assert_array_equal(data.y, labels)
    assert data.class_names == MIRFLICKR25K_CLASSES and len(data.class_names) == 24
    assert data.n_train is None and data.split is None
    # Empty rows are kept, and counted in the source.
    assert not data.y[0].any() and not data.X[1].any()
    assert "1 rows without a label, 1 without a tag" in data.source


def test_environment_variable_is_used(tmp_path, monkeypatch):
    write_pair(tmp_path / "data")
    monkeypatch.setenv("HASHLEARN_DATA", str(tmp_path / "data"))
    assert load_mirflickr25k().y.shape == (12, 24)


def test_bool_and_float_files_are_accepted(tmp_path):
    labels, tags = write_pair(tmp_path / "a")
    write_pair(tmp_path / "b", labels=labels.astype(bool), tags=tags.astype(np.float64))
    a, b = load_mirflickr25k(tmp_path / "a"), load_mirflickr25k(tmp_path / "b")
    np.testing.assert_array_equal(a.y, b.y)
    np.testing.assert_array_equal(a.X, b.X)
    assert b.y.dtype == np.uint8 and b.X.dtype == np.float32


def test_no_data_dir_says_where_to_put_which_files():
    with pytest.raises(FileNotFoundError) as info:
        load_mirflickr25k()
    message = str(info.value)
    for fragment in (
        "HASHLEARN_DATA",
        "--data-dir",
        "no official download",
        "mirflickr25k/mirflickr25k-lall.mat",
        "mirflickr25k/mirflickr25k-yall.mat",
    ):
        assert fragment in message


def test_missing_data_dir_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mirflickr25k(tmp_path / "nowhere")


def test_missing_file_is_named(tmp_path):
    write_pair(tmp_path / "data")
    (tmp_path / "data" / "mirflickr25k" / "mirflickr25k-yall.mat").unlink()
    with pytest.raises(FileNotFoundError, match=r"not found: .*mirflickr25k-yall\.mat\. "):
        load_mirflickr25k(tmp_path / "data")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"labels_var": "L"}, r"lall\.mat lacks the variable LAll"),
        ({"tags_var": "Y"}, r"yall\.mat lacks the variable YAll"),
        ({"labels": np.zeros((12, 23), np.uint8)}, r"LAll has dtype uint8 and shape \(12, 23\)"),
        ({"tags": np.zeros((12, 1000), np.uint8)}, r"YAll has dtype uint8 and shape \(12, 1000\)"),
        ({"labels": np.zeros((11, 24), np.uint8)}, "LAll\\) has 11 rows but .* has 12"),
        ({"labels": np.full((12, 24), 2, np.uint8)}, "LAll must hold only 0 and 1, but 288"),
        ({"tags": np.full((12, 1386), np.nan)}, r"YAll must hold only 0 and 1.*nan"),
        ({"labels": np.array(["a"] * 24).reshape(1, 24)}, "LAll has dtype <U1"),
    ],
)
def test_corrupt_contents(tmp_path, kwargs, message):
    write_pair(tmp_path / "data", **kwargs)
    with pytest.raises(ValueError, match=message):
        load_mirflickr25k(tmp_path / "data")


def test_not_a_mat_file(tmp_path):
    write_pair(tmp_path / "data")
    (tmp_path / "data" / "mirflickr25k" / "mirflickr25k-lall.mat").write_bytes(b"<html>oops")
    with pytest.raises(ValueError, match=r"is not a MATLAB \.mat file"):
        load_mirflickr25k(tmp_path / "data")


def test_truncated_mat_file(tmp_path):
    write_pair(tmp_path / "data")
    path = tmp_path / "data" / "mirflickr25k" / "mirflickr25k-yall.mat"
    path.write_bytes(path.read_bytes()[:400])
    with pytest.raises(ValueError, match=r"damaged MAT-file|lacks the variable"):
        load_mirflickr25k(tmp_path / "data")


def test_sha256sums_are_checked(tmp_path):
    data_dir = tmp_path / "data"
    write_pair(data_dir)
    lall = data_dir / "mirflickr25k" / "mirflickr25k-lall.mat"
    good = hashlib.sha256(lall.read_bytes()).hexdigest()
    sums = data_dir / "SHA256SUMS"
    sums.write_text(f"{good}  mirflickr25k/mirflickr25k-lall.mat\n")
    assert load_mirflickr25k(data_dir).y.shape == (12, 24)
    sums.write_text(f"{'0' * 64}  mirflickr25k/mirflickr25k-lall.mat\n")
    with pytest.raises(ValueError, match="corrupt or not the expected file"):
        load_mirflickr25k(data_dir)


def test_read_mirflickr25k_directly(tmp_path):
    labels, tags = write_pair(tmp_path)
    folder = tmp_path / "mirflickr25k"
    X, y = read_mirflickr25k(folder / "mirflickr25k-lall.mat", folder / "mirflickr25k-yall.mat")
    np.testing.assert_array_equal(X, tags)
    np.testing.assert_array_equal(y, labels)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_mirflickr25k(folder / "nope.mat", folder / "mirflickr25k-yall.mat")


def test_labels_work_with_metrics_and_validation(tmp_path):
    labels, _ = write_pair(tmp_path / "data")
    data = load_mirflickr25k(tmp_path / "data")
    relevant = relevance(data.y[:4], data.y)
    expected = (labels[:4].astype(int) @ labels.T.astype(int)) > 0
    np.testing.assert_array_equal(relevant, expected)
    assert not relevant[0].any()  # a row with no label is relevant to nothing
    assert check_labels(data.y, data.n_samples).shape == (12, 24)


@pytest.mark.realdata
def test_real_mirflickr25k(real_data_dir):
    if not (real_data_dir / "mirflickr25k" / "mirflickr25k-lall.mat").is_file():
        pytest.skip("mirflickr25k not in the data directory")
    start = time.perf_counter()
    data = load_mirflickr25k(real_data_dir)
    elapsed = time.perf_counter() - start
    assert elapsed < 10, f"loading took {elapsed:.1f} s"
    assert data.X.shape == (20015, 1386) and data.X.dtype == np.float32
    assert data.y.shape == (20015, 24) and data.y.dtype == np.uint8
    assert data.y.flags.c_contiguous and data.X.flags.c_contiguous
    assert set(np.unique(data.X)) == {0.0, 1.0}
    assert set(np.unique(data.y)) == {0, 1}

    # Label cardinality: labels per image, images per label.
    per_image = data.y.sum(axis=1, dtype=np.int64)
    assert int((per_image == 0).sum()) == 0  # no image without a label
    assert (per_image.min(), per_image.max()) == (1, 14)
    assert per_image.sum() == 75640
    assert per_image.mean() == pytest.approx(3.7792, abs=1e-4)
    per_label = dict(
        zip(data.class_names, data.y.sum(axis=0, dtype=np.int64).tolist(), strict=True)
    )
    assert per_label["baby"] == 179 and per_label["structures"] == 8463
    assert per_label["people"] == 7848 and per_label["sky"] == 6818
    assert min(per_label.values()) == 179 and max(per_label.values()) == 8463

    # Tags per image.
    tags_per_image = data.X.sum(axis=1, dtype=np.float64)
    assert int((tags_per_image == 0).sum()) == 0  # no image without a tag
    assert (tags_per_image.min(), tags_per_image.max()) == (1, 57)
    assert tags_per_image.sum() == 92808
    assert "0 rows without a label, 0 without a tag" in data.source

    # The names match the concepts' hierarchy: the sub-concept implies its parent.
    column = {name: k for k, name in enumerate(data.class_names)}
    for child, parent in [
        ("dog", "animals"),
        ("bird", "animals"),
        ("lake", "water"),
        ("river", "water"),
        ("sea", "water"),
        ("tree", "plant_life"),
        ("flower", "plant_life"),
        ("car", "transport"),
        ("clouds", "sky"),
        ("baby", "people"),
    ]:
        child_rows = data.y[:, column[child]].astype(bool)
        parent_rows = data.y[:, column[parent]].astype(bool)
        assert (child_rows & ~parent_rows).sum() <= 1, (child, parent)

    # Multi-label relevance through the metrics module: shares at least one label.
    queries, database = data.y[:5], data.y[:2000]
    relevant = relevance(queries, database)
    assert relevant.shape == (5, 2000) and relevant.dtype == np.bool_
    by_hand = np.array([[bool(np.any(q & d)) for d in database] for q in queries.astype(bool)])
    np.testing.assert_array_equal(relevant, by_hand)
    assert relevant[np.arange(5), np.arange(5)].all()  # every image has a label
    assert 0 < relevant.mean() < 1
    assert check_labels(data.y, data.n_samples).dtype == np.bool_


@pytest.mark.realdata
def test_load_dataset_by_name(real_data_dir):
    from hashlearn.datasets import CATALOG, load_dataset

    assert "mirflickr25k" in CATALOG
    dataset = load_dataset("mirflickr25k", real_data_dir)
    assert dataset.X.shape == (20015, 1386) and dataset.y.shape == (20015, 24)


def test_load_dataset_refuses_a_download():
    from hashlearn.datasets import load_dataset

    with pytest.raises(ValueError, match="no official download"):
        load_dataset("mirflickr25k", download=True)

"""MNIST loader: IDX parsing on tiny fake files, error paths, and real-data checks."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from hashlearn.datasets.mnist import (
    MNIST_FILES,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    load_mnist,
    read_idx,
)


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_gz(path: Path, payload: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(payload))
    return path


def make_mnist(root: Path, n_train: int = 5, n_test: int = 3) -> Path:
    """Write ``root/mnist/`` with tiny IDX files; image i is filled with value i."""
    folder = root / "mnist"
    for n, offset, images_name, labels_name in (
        (n_train, 0, TRAIN_IMAGES, TRAIN_LABELS),
        (n_test, n_train, TEST_IMAGES, TEST_LABELS),
    ):
        values = np.arange(offset, offset + n, dtype=np.uint8)
        images = np.broadcast_to(values[:, None, None], (n, 28, 28))
        _write_gz(folder / images_name, _idx_bytes(images))
        _write_gz(folder / labels_name, _idx_bytes(values % 10))
    return root


def test_fake_files_load_in_official_order(tmp_path):
    data = make_mnist(tmp_path / "data")
    mnist = load_mnist(data)
    assert mnist.images.shape == (8, 28, 28) and mnist.images.dtype == np.uint8
    assert mnist.X.shape == (8, 784) and mnist.X.dtype == np.uint8
    assert mnist.y.dtype == np.int64 and mnist.y.tolist() == [0, 1, 2, 3, 4, 5, 6, 7]
    assert mnist.n_train == 5 and mnist.split.tolist() == ["train"] * 5 + ["test"] * 3
    assert (mnist.images[6] == 6).all()
    assert mnist.class_names == tuple("0123456789")


def test_read_idx_round_trip_uncompressed(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "a.idx3-ubyte"
    path.write_bytes(_idx_bytes(array))
    np.testing.assert_array_equal(read_idx(path), array)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x00\x00", "too few"),
        (b"\x12\x34\x08\x01" + struct.pack(">I", 2) + b"ab", "magic number"),
        (b"\x00\x00\x0d\x01" + struct.pack(">I", 2) + b"ab", "type 0x0d"),
        (b"\x00\x00\x08\x03" + struct.pack(">I", 2), "inside its IDX header"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 5) + b"ab", "truncated"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 1) + b"ab", "longer than"),
    ],
)
def test_corrupt_idx_is_named(tmp_path, payload, message):
    path = _write_gz(tmp_path / "x-idx1-ubyte.gz", payload)
    with pytest.raises(ValueError, match=message):
        read_idx(path)


def test_truncated_gzip_is_named(tmp_path):
    path = tmp_path / "t.gz"
    path.write_bytes(gzip.compress(b"\x00" * 1000)[:20])
    with pytest.raises(ValueError, match=r"t\.gz is truncated or not a valid gzip"):
        read_idx(path)
    path.write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="not a valid gzip"):
        read_idx(path)


def test_mismatched_labels_and_images(tmp_path):
    data = make_mnist(tmp_path / "data")
    _write_gz(data / "mnist" / TEST_LABELS, _idx_bytes(np.zeros(2, np.uint8)))
    with pytest.raises(ValueError, match="do not belong together"):
        load_mnist(data)


def test_sha256sums_mismatch(tmp_path):
    data = make_mnist(tmp_path / "data")
    (data / "SHA256SUMS").write_text(f"{'0' * 64}  mnist/{TRAIN_IMAGES}\n")
    with pytest.raises(ValueError, match="corrupt or not the expected file"):
        load_mnist(data)


def test_unknown_file_in_cache_is_rejected(tmp_path, cache):
    make_mnist(cache.parent / "fake")
    (cache / "mnist").parent.mkdir(parents=True, exist_ok=True)
    (cache.parent / "fake" / "mnist").rename(cache / "mnist")
    with pytest.raises(ValueError, match="not a known MNIST file"):
        load_mnist()


def test_offline_without_data_names_folder_and_variable(tmp_path, cache):
    data = tmp_path / "empty"
    (data / "mnist").mkdir(parents=True)
    _write_gz(data / "mnist" / TRAIN_LABELS, b"")
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(data, download=True)
    message = str(info.value)
    assert str(data / "mnist") in message and str(cache / "mnist") in message
    assert "HASHLEARN_DATA" in message and "HASHLEARN_OFFLINE is set" in message
    assert f"only {TRAIN_LABELS} present" in message
    with pytest.raises(FileNotFoundError, match="download=False"):
        load_mnist()
    assert not (cache / "mnist").exists()


def test_known_digests_cover_the_four_files():
    assert set(MNIST_FILES) == {TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS}


@pytest.mark.realdata
def test_real_mnist(real_data_dir):
    if not (real_data_dir / "mnist" / TRAIN_IMAGES).is_file():
        pytest.skip("no mnist/ in the data directory")
    mnist = load_mnist(real_data_dir)
    assert mnist.images.shape == (70000, 28, 28) and mnist.X.shape == (70000, 784)
    assert mnist.n_train == 60000
    assert mnist.y[:5].tolist() == [5, 0, 4, 1, 9]
    assert mnist.y[60000:60005].tolist() == [7, 2, 1, 0, 4]
    assert mnist.y[-5:].tolist() == [2, 3, 4, 5, 6]
    assert np.bincount(mnist.y[:60000]).tolist() == [
        5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949,
    ]  # fmt: skip
    assert np.bincount(mnist.y[60000:]).tolist() == [
        980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009,
    ]  # fmt: skip
    assert int(mnist.images[0].sum(dtype=np.int64)) == 27525
    assert int(mnist.images[-1].sum(dtype=np.int64)) == 41833
    assert mnist.images.max() == 255


@pytest.mark.realdata
def test_load_dataset_by_name(real_data_dir):
    from hashlearn.datasets import CATALOG, load_dataset

    assert {"mnist", "20newsgroups", "20newsgroups-tfidf"} <= set(CATALOG)
    dataset = load_dataset("mnist", real_data_dir)
    assert dataset.X.shape == (70000, 784) and dataset.n_train == 60000

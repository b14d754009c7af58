"""CIFAR-10 loaders on tiny synthetic archives, plus real-data checks when the data is present."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import pickle
import sys
import tarfile
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import hashlearn.datasets as ds
from hashlearn.datasets import _home, cifar10
from hashlearn.datasets.cifar10 import CIFAR10_CLASSES, ORDER_COLUMNS
from hashlearn.features.gist import check_n_jobs

REPO_ROOT = Path(__file__).resolve().parents[2]


def _real_data_dir() -> Path | None:
    candidates = [os.environ.get("HASHLEARN_DATA"), REPO_ROOT.parent / "shared" / "data"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "cifar10" / "cifar10_order.csv").is_file():
            return Path(candidate)
    return None


REAL_DATA = _real_data_dir()  # resolved before conftest's fixture clears HASHLEARN_DATA
needs_real_data = pytest.mark.skipif(REAL_DATA is None, reason="no real CIFAR-10 data directory")


# --------------------------------------------------------------------------- builders

N_TRAIN, N_TEST = 6, 4
LABELS = np.array([6, 9, 9, 4, 1, 6, 3, 8, 8, 0])  # official order: 6 train then 4 test


def _colour(i: int) -> tuple[int, int, int]:
    # Flat colours survive JPEG almost exactly, so decoded pixels identify the image.
    return (20 * i + 10, 250 - 20 * i, (60 * i) % 256)


def _jpeg_bytes(colour, size=(32, 32)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def _order_rows():
    rows, counts = [], {}
    for official, label in enumerate(LABELS):
        split = "train" if official < N_TRAIN else "test"
        orig = official if split == "train" else official - N_TRAIN
        name = CIFAR10_CLASSES[label]
        rank = counts.get((split, name), 0)
        counts[(split, name)] = rank + 1
        rows.append([split, str(orig), str(label), name, f"{split}/{name}/{rank:04d}.jpg"])
    return rows


def make_jpeg_layout(
    root: Path,
    *,
    header=ORDER_COLUMNS,
    rows=None,
    drop_member: str | None = None,
    corrupt_member: str | None = None,
    sums: bool = False,
) -> Path:
    """Write ``root/cifar10/{cifar10-jpeg.tar.gz, cifar10_order.csv}`` for 10 images."""
    folder = root / "cifar10"
    folder.mkdir(parents=True, exist_ok=True)
    rows = _order_rows() if rows is None else rows
    # Shuffle the CSV rows: the loader must place images by orig_index, not by row.
    shuffled = [rows[i] for i in (3, 8, 0, 5, 9, 1, 7, 2, 6, 4)]
    with open(folder / "cifar10_order.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(shuffled)
    with tarfile.open(folder / "cifar10-jpeg.tar.gz", "w:gz") as tar:
        # Members sorted by path (as in the real archive), so unlike the official order.
        for official, row in sorted(enumerate(rows), key=lambda item: item[1][4]):
            member = row[4]
            if member == drop_member:
                continue
            data = b"not a jpeg" if member == corrupt_member else _jpeg_bytes(_colour(official))
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    if sums:
        lines = [
            f"{hashlib.sha256((folder / name).read_bytes()).hexdigest()}  cifar10/{name}"
            for name in ("cifar10-jpeg.tar.gz", "cifar10_order.csv")
        ]
        (root / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    return root


def make_python_archive(path: Path, *, skip_batch: str | None = None) -> tuple[Path, np.ndarray]:
    """A tiny archive in the official format: 2 images per batch, Python-2-style pickles."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(12, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(12) % 10
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    with tarfile.open(path, "w:gz") as tar:
        # The official archive does not list the batches in order; neither does this one.
        for position, name in reversed(list(enumerate(names))):
            if name == skip_batch:
                continue
            part = slice(2 * position, 2 * position + 2)
            batch = {
                b"batch_label": name.encode(),
                b"labels": labels[part].tolist(),
                b"data": images[part].transpose(0, 3, 1, 2).reshape(2, -1),
                b"filenames": [b"a.png", b"b.png"],
            }
            # Name numpy's module as the official (numpy 1.x era) pickles do.
            data = pickle.dumps(batch, protocol=2).replace(
                b"numpy._core.multiarray", b"numpy.core.multiarray"
            )
            assert b"numpy.core.multiarray" in data
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path, images


def _trust(monkeypatch, archive: Path) -> None:
    """Make ``archive`` pass the official MD5 check."""
    monkeypatch.setattr(cifar10, "CIFAR10_MD5", hashlib.md5(archive.read_bytes()).hexdigest())


def _expected_colours() -> np.ndarray:
    return np.array([_colour(i) for i in range(len(LABELS))], dtype=float)


# --------------------------------------------------------------------------- order CSV


def test_read_order_places_rows_by_official_index(tmp_path):
    root = make_jpeg_layout(tmp_path / "data")
    order = ds.read_cifar10_order(root / "cifar10" / "cifar10_order.csv")
    assert order.n_train == N_TRAIN
    np.testing.assert_array_equal(order.labels, LABELS)
    assert order.labels.dtype == np.int64
    assert order.jpeg_paths[0] == "train/frog/0000.jpg"
    assert order.jpeg_paths[N_TRAIN] == "test/cat/0000.jpg"


def test_wrong_csv_header(tmp_path):
    root = make_jpeg_layout(tmp_path / "data", header=("split", "index", "label", "name", "path"))
    with pytest.raises(ValueError, match=r"cifar10_order\.csv has header .*expected"):
        ds.load_cifar10(root, download=False)


@pytest.mark.parametrize(
    ("row_edit", "message"),
    [
        (lambda r: r.__setitem__(3, "dog"), "is 'frog' in CIFAR-10, not 'dog'"),
        (lambda r: r.__setitem__(0, "valid"), "neither 'train' nor 'test'"),
        (lambda r: r.__setitem__(2, "x"), "invalid literal"),
        (lambda r: r.__setitem__(1, "7"), "not exactly 0..5"),
        (lambda r: r.pop(), "4 fields instead of 5"),
    ],
)
def test_malformed_csv_rows(tmp_path, row_edit, message):
    rows = _order_rows()
    row_edit(rows[0])
    root = tmp_path / "data"
    (root / "cifar10").mkdir(parents=True)
    with open(root / "cifar10" / "cifar10_order.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(ORDER_COLUMNS)
        writer.writerows(rows)
    with pytest.raises(ValueError, match=message) as info:
        ds.read_cifar10_order(root / "cifar10" / "cifar10_order.csv")
    assert "cifar10_order.csv" in str(info.value)


def test_csv_listing_a_jpeg_twice(tmp_path):
    rows = _order_rows()
    rows[1][4] = rows[0][4]
    root = make_jpeg_layout(tmp_path / "data", rows=rows)
    with pytest.raises(ValueError, match="same JPEG for two different images"):
        ds.read_cifar10_order(root / "cifar10" / "cifar10_order.csv")


# --------------------------------------------------------------------------- JPEG layout


def test_load_from_jpeg_layout_in_official_order(tmp_path):
    root = make_jpeg_layout(tmp_path / "data")
    data = ds.load_cifar10(root, download=False)
    assert data.name == "cifar10"
    assert data.images.shape == (10, 32, 32, 3) and data.images.dtype == np.uint8
    assert data.X.shape == (10, 32 * 32 * 3) and np.shares_memory(data.X, data.images)
    np.testing.assert_array_equal(data.y, LABELS)
    assert data.y.dtype == np.int64
    assert data.n_train == N_TRAIN
    assert data.split.tolist() == ["train"] * N_TRAIN + ["test"] * N_TEST
    assert data.class_names == CIFAR10_CLASSES
    assert "cifar10-jpeg.tar.gz" in data.source
    mean_colours = data.images.reshape(10, -1, 3).mean(axis=1)
    np.testing.assert_allclose(mean_colours, _expected_colours(), atol=3)


def test_read_jpeg_subset_in_requested_order(tmp_path):
    root = make_jpeg_layout(tmp_path / "data")
    arrays = ds.read_cifar10_jpeg(
        root / "cifar10" / "cifar10-jpeg.tar.gz",
        root / "cifar10" / "cifar10_order.csv",
        indices=[7, 0, 7],
    )
    np.testing.assert_array_equal(arrays.labels, LABELS[[7, 0, 7]])
    mean_colours = arrays.images.reshape(3, -1, 3).mean(axis=1)
    np.testing.assert_allclose(mean_colours, _expected_colours()[[7, 0, 7]], atol=3)
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 9\]"):
        ds.read_cifar10_jpeg(
            root / "cifar10" / "cifar10-jpeg.tar.gz",
            root / "cifar10" / "cifar10_order.csv",
            indices=[10],
        )


def test_decoded_images_are_cached(monkeypatch, tmp_path, cache):
    root = make_jpeg_layout(tmp_path / "data")
    first = ds.load_cifar10(root, download=False)
    assert len(list(cache.glob("cifar10-images-*.npy"))) == 1
    assert len(list(cache.glob("cifar10-labels-*.npz"))) == 1

    def must_not_decode(*args, **kwargs):
        raise AssertionError("decoded again despite the cache")

    monkeypatch.setattr(cifar10, "read_cifar10_jpeg", must_not_decode)
    second = ds.load_cifar10(root, download=False)
    np.testing.assert_array_equal(second.images, first.images)
    np.testing.assert_array_equal(second.y, first.y)
    assert second.n_train == N_TRAIN


def test_changed_source_gets_a_new_cache_entry(tmp_path, cache):
    root = make_jpeg_layout(tmp_path / "data")
    ds.load_cifar10(root, download=False)
    rows = _order_rows()
    rows[0][2], rows[0][3] = "0", "airplane"
    make_jpeg_layout(root, rows=rows)
    relabelled = ds.load_cifar10(root, download=False)
    assert relabelled.y[0] == 0
    assert len(list(cache.glob("cifar10-images-*.npy"))) == 2


def test_damaged_cache_is_rebuilt(tmp_path, cache):
    root = make_jpeg_layout(tmp_path / "data")
    ds.load_cifar10(root, download=False)
    (images_path,) = cache.glob("cifar10-images-*.npy")
    images_path.write_bytes(b"\x93NUMPY garbage")
    with pytest.warns(RuntimeWarning, match="damaged cache file"):
        again = ds.load_cifar10(root, download=False)
    np.testing.assert_array_equal(again.y, LABELS)
    assert np.load(images_path).shape == (10, 32, 32, 3)


def test_missing_jpeg_member(tmp_path):
    root = make_jpeg_layout(tmp_path / "data", drop_member="test/cat/0000.jpg")
    with pytest.raises(ValueError, match=r"cifar10-jpeg\.tar\.gz lacks 1 JPEG.*test/cat/0000\.jpg"):
        ds.load_cifar10(root, download=False)


def test_undecodable_jpeg_member(tmp_path):
    root = make_jpeg_layout(tmp_path / "data", corrupt_member="train/deer/0000.jpg")
    with pytest.raises(ValueError, match=r"member train/deer/0000\.jpg is not a readable JPEG"):
        ds.load_cifar10(root, download=False)


def test_truncated_archive(tmp_path):
    root = make_jpeg_layout(tmp_path / "data")
    archive = root / "cifar10" / "cifar10-jpeg.tar.gz"
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"cifar10-jpeg\.tar\.gz is truncated or not a valid"):
        ds.load_cifar10(root, download=False)


def test_not_a_gzip_archive(tmp_path):
    root = make_jpeg_layout(tmp_path / "data")
    (root / "cifar10" / "cifar10-jpeg.tar.gz").write_bytes(b"<html>not found</html>")
    with pytest.raises(ValueError, match=r"cifar10-jpeg\.tar\.gz is truncated or not a valid"):
        ds.load_cifar10(root, download=False)


def test_checksums_verified_against_sha256sums_once(monkeypatch, tmp_path):
    root = make_jpeg_layout(tmp_path / "data", sums=True)
    calls = []
    real = _home._hash_file
    monkeypatch.setattr(_home, "_hash_file", lambda path: calls.append(path) or real(path))
    ds.load_cifar10(root, download=False)
    assert len(calls) == 2  # the archive and the CSV, once each
    ds.load_cifar10(root, download=False)
    assert len(calls) == 2  # remembered by path, size and mtime


def test_bad_checksum_names_file_and_hashes(tmp_path):
    root = make_jpeg_layout(tmp_path / "data", sums=True)
    sums = (
        (root / "SHA256SUMS").read_text().replace((root / "SHA256SUMS").read_text()[:64], "0" * 64)
    )
    (root / "SHA256SUMS").write_text(sums)
    with pytest.raises(ValueError, match=r"cifar10-jpeg\.tar\.gz is corrupt.*lists 0{64}"):
        ds.load_cifar10(root, download=False)


# --------------------------------------------------------------------------- official archive


def test_python_archive_in_data_dir(monkeypatch, tmp_path):
    archive, images = make_python_archive(tmp_path / "data" / "cifar10" / "cifar-10-python.tar.gz")
    _trust(monkeypatch, archive)
    data = ds.load_cifar10(tmp_path / "data", download=False)
    np.testing.assert_array_equal(data.images, images)
    np.testing.assert_array_equal(data.y, np.arange(12) % 10)
    assert data.n_train == 10
    assert "official CIFAR-10 archive" in data.source


def test_read_python_archive_directly(tmp_path):
    archive, images = make_python_archive(tmp_path / "cifar-10-python.tar.gz")
    arrays = ds.read_cifar10_python(archive)
    np.testing.assert_array_equal(arrays.images, images)
    assert arrays.n_train == 10


def test_python_archive_with_wrong_md5(tmp_path):
    make_python_archive(tmp_path / "data" / "cifar-10-python.tar.gz")
    with pytest.raises(ValueError, match=r"not the official CIFAR-10 python archive: its MD5"):
        ds.load_cifar10(tmp_path / "data", download=False)


def test_python_archive_missing_batch(monkeypatch, tmp_path):
    archive, _ = make_python_archive(
        tmp_path / "data" / "cifar-10-python.tar.gz", skip_batch="data_batch_3"
    )
    _trust(monkeypatch, archive)
    with pytest.raises(ValueError, match=r"lacks the batch\(es\) data_batch_3"):
        ds.load_cifar10(tmp_path / "data", download=False)


def test_python_archive_refuses_foreign_pickles(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.getcwd, ())

    archive = tmp_path / "cifar-10-python.tar.gz"
    data = pickle.dumps(Payload(), protocol=2)
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(ValueError, match=r"refusing to load posix\.getcwd|refusing to load"):
        ds.read_cifar10_python(archive)


def test_download_goes_to_cache_and_is_verified(monkeypatch, tmp_path, cache):
    remote, images = make_python_archive(tmp_path / "remote" / "cifar-10-python.tar.gz")
    payload = remote.read_bytes()
    monkeypatch.setattr(cifar10, "CIFAR10_URL", remote.as_uri())
    monkeypatch.setattr(cifar10, "CIFAR10_SHA256", hashlib.sha256(payload).hexdigest())
    monkeypatch.setattr(cifar10, "CIFAR10_SIZE", len(payload))
    _trust(monkeypatch, remote)
    with pytest.raises(FileNotFoundError, match="HASHLEARN_OFFLINE"):
        ds.load_cifar10(download=True)
    monkeypatch.delenv("HASHLEARN_OFFLINE")
    with pytest.raises(FileNotFoundError, match=r"download=False"):
        ds.load_cifar10(download=False)
    data = ds.load_cifar10(download=True)
    np.testing.assert_array_equal(data.images, images)
    assert (cache / "cifar10" / "cifar-10-python.tar.gz").read_bytes() == payload
    assert "downloaded" in data.source
    # Found in the cache the next time, offline.
    monkeypatch.setenv("HASHLEARN_OFFLINE", "1")
    assert "official CIFAR-10 archive" in ds.load_cifar10().source


def test_failed_download_becomes_file_not_found(monkeypatch, tmp_path, cache):
    monkeypatch.delenv("HASHLEARN_OFFLINE")
    monkeypatch.setattr(cifar10, "CIFAR10_URL", (tmp_path / "gone.tar.gz").as_uri())
    with pytest.raises(FileNotFoundError, match=r"download failed.*could not download"):
        ds.load_cifar10()
    assert not (cache / "cifar10" / "cifar-10-python.tar.gz").exists()


# --------------------------------------------------------------------------- not found


def test_nothing_found_lists_paths_and_remedies(tmp_path, cache):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with pytest.raises(FileNotFoundError) as info:
        ds.load_cifar10(data_dir)
    message = str(info.value)
    assert str(data_dir / "cifar10" / "cifar10-jpeg.tar.gz") in message
    assert str(data_dir / "cifar10" / "cifar10_order.csv") in message
    assert str(cache / "cifar10" / "cifar-10-python.tar.gz") in message
    assert "HASHLEARN_DATA" in message and "--data-dir" in message
    assert "HASHLEARN_OFFLINE is set" in message


def test_no_data_dir_at_all(tmp_path):
    with pytest.raises(FileNotFoundError, match="no data directory is set"):
        ds.load_cifar10()


def test_half_a_jpeg_layout_is_reported(tmp_path):
    root = make_jpeg_layout(tmp_path / "data")
    (root / "cifar10" / "cifar10_order.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"found cifar10-jpeg\.tar\.gz but not"):
        ds.load_cifar10(root)


def test_missing_data_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"data directory .*nowhere.* does not exist"):
        ds.load_cifar10(tmp_path / "nowhere")


def test_find_cifar10_source(monkeypatch, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert ds.find_cifar10_source(empty) is None
    assert ds.find_cifar10_source() is None
    root = make_jpeg_layout(tmp_path / "data")
    assert "cifar10-jpeg.tar.gz" in ds.find_cifar10_source(root)
    monkeypatch.setenv("HASHLEARN_DATA", str(root))
    assert "cifar10-jpeg.tar.gz" in ds.find_cifar10_source()
    make_python_archive(tmp_path / "other" / "cifar-10-python.tar.gz")
    assert "cifar-10-python.tar.gz" in ds.find_cifar10_source(tmp_path / "other")


# --------------------------------------------------------------------------- GIST


@pytest.fixture
def fake_gist(monkeypatch):
    """Replace hashlearn.features.gist with a cheap, counting stand-in."""
    state = {"calls": 0, "interrupt": False}

    def gist_features(images, progress=False, n_jobs=1):
        state["calls"] += 1
        out = np.empty((images.shape[0], 512), dtype=np.float32)
        for start in range(0, images.shape[0], 4):  # chunked, like a real extractor
            if state["interrupt"] and start > 0:
                raise KeyboardInterrupt
            chunk = images[start : start + 4].reshape(-1, 32 * 32 * 3)[:, :512]
            out[start : start + 4] = chunk / 255.0
        return out

    module = types.ModuleType("hashlearn.features.gist")
    module.gist_features = gist_features
    module.check_n_jobs = check_n_jobs
    module.GIST_VERSION = 7
    monkeypatch.setitem(sys.modules, "hashlearn.features.gist", module)
    return state


def test_gist_is_computed_cached_and_served(fake_gist, tmp_path, cache):
    root = make_jpeg_layout(tmp_path / "data")
    first = ds.load_cifar10_gist(root)
    assert fake_gist["calls"] == 1
    assert first.name == "cifar10-gist"
    assert first.X.shape == (10, 512) and first.X.dtype == np.float32
    np.testing.assert_array_equal(first.y, LABELS)
    assert first.n_train == N_TRAIN
    (gist_path,) = cache.glob("cifar10-gist512-*.npy")
    # the file name carries the extractor version, so a new extractor never reads it
    assert gist_path.name.startswith("cifar10-gist512-v7-") and len(gist_path.stem) == 19 + 16
    second = ds.load_cifar10_gist(root)
    assert fake_gist["calls"] == 1  # served from the cache
    np.testing.assert_array_equal(second.X, first.X)
    np.testing.assert_array_equal(second.y, first.y)
    assert str(gist_path) in second.source


def test_cached_gist_is_served_without_the_source(fake_gist, tmp_path, cache):
    root = make_jpeg_layout(tmp_path / "data")
    first = ds.load_cifar10_gist(root)
    assert "cached CIFAR-10 GIST-512" in ds.find_cifar10_source(None)
    served = ds.load_cifar10_gist(None)
    assert fake_gist["calls"] == 1
    np.testing.assert_array_equal(served.X, first.X)
    assert served.n_train == N_TRAIN


def test_interrupted_gist_leaves_no_cache_file(fake_gist, tmp_path, cache):
    root = make_jpeg_layout(tmp_path / "data")
    fake_gist["interrupt"] = True
    with pytest.raises(KeyboardInterrupt):
        ds.load_cifar10_gist(root)
    leftovers = [name for name in os.listdir(cache) if "gist" in name or name.endswith(".tmp")]
    assert leftovers == []
    assert ds.find_cifar10_source(None) is None
    fake_gist["interrupt"] = False
    assert ds.load_cifar10_gist(root).X.shape == (10, 512)


def test_interrupted_cache_write_leaves_no_file(monkeypatch, fake_gist, tmp_path, cache):
    root = make_jpeg_layout(tmp_path / "data")
    ds.load_cifar10(root)  # images cached; now interrupt the GIST write halfway
    real_save = np.save

    def half_save(handle, array, *args, **kwargs):
        buffer = io.BytesIO()
        real_save(buffer, array)
        handle.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "save", half_save)
    with pytest.raises(KeyboardInterrupt):
        ds.load_cifar10_gist(root)
    assert [name for name in os.listdir(cache) if "gist" in name or name.endswith(".tmp")] == []


def test_gist_extractor_with_wrong_shape(monkeypatch, tmp_path):
    module = types.ModuleType("hashlearn.features.gist")
    module.gist_features = lambda images, progress=False, n_jobs=1: np.zeros((len(images), 960))
    module.check_n_jobs = check_n_jobs
    module.GIST_VERSION = 7
    monkeypatch.setitem(sys.modules, "hashlearn.features.gist", module)
    root = make_jpeg_layout(tmp_path / "data")
    with pytest.raises(ValueError, match=r"returned shape \(10, 960\), expected \(10, 512\)"):
        ds.load_cifar10_gist(root)


# --------------------------------------------------------------------------- real data


@pytest.mark.realdata
@needs_real_data
def test_real_order_matches_label_file():
    order = ds.read_cifar10_order(REAL_DATA / "cifar10" / "cifar10_order.csv")
    assert len(order.jpeg_paths) == 60000 and order.n_train == 50000
    with np.load(REAL_DATA / "cifar10" / "cifar10_labels.npz") as labels:
        official = np.concatenate([labels["train_labels"], labels["test_labels"]])
        assert tuple(labels["label_names"]) == CIFAR10_CLASSES
    np.testing.assert_array_equal(order.labels, official)
    # The first training image of CIFAR-10 is a frog, the second a truck; the first
    # test image is a cat.
    assert order.jpeg_paths[0] == "train/frog/0000.jpg" and order.labels[0] == 6
    assert order.labels[1] == 9 and order.labels[50000] == 3


@pytest.mark.realdata
@needs_real_data
def test_real_jpeg_subset_decodes(tmp_path):
    archive = REAL_DATA / "cifar10" / "cifar10-jpeg.tar.gz"
    order_csv = REAL_DATA / "cifar10" / "cifar10_order.csv"
    order = ds.read_cifar10_order(order_csv)
    # Airplanes come first in the archive, so reading them stops early.
    airplanes = [order.jpeg_paths.index(f"train/airplane/{k:04d}.jpg") for k in range(20)]
    arrays = ds.read_cifar10_jpeg(archive, order_csv, indices=airplanes)
    assert arrays.images.shape == (20, 32, 32, 3) and arrays.images.dtype == np.uint8
    assert (arrays.labels == 0).all() and arrays.n_train == 50000
    assert 20 < arrays.images.mean() < 235 and arrays.images.std() > 10
    assert len({image.tobytes() for image in arrays.images}) == 20


@pytest.mark.realdata
@needs_real_data
def test_real_files_pass_sha256sums(tmp_path):
    for name in ("cifar10-jpeg.tar.gz", "cifar10_order.csv"):
        ds.verify_against_sha256sums(
            REAL_DATA / "cifar10" / name, REAL_DATA, cache_dir=tmp_path / "c"
        )
    assert "cifar10-jpeg.tar.gz" in ds.find_cifar10_source(REAL_DATA)


@pytest.mark.realdata
@pytest.mark.slow
@needs_real_data
def test_real_full_load(cache):
    data = ds.load_cifar10(REAL_DATA, download=False)
    assert data.images.shape == (60000, 32, 32, 3) and data.images.dtype == np.uint8
    assert data.n_train == 50000
    with np.load(REAL_DATA / "cifar10" / "cifar10_labels.npz") as labels:
        official = np.concatenate([labels["train_labels"], labels["test_labels"]])
    np.testing.assert_array_equal(data.y, official)
    assert np.bincount(data.y).tolist() == [6000] * 10

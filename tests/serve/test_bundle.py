"""Bundles: the write/load round trip, atomic writes, load errors, and ``build_bundle``.

A bundle is what a server trusts at start, so every way a folder can be half-written,
truncated, altered or of another version must be refused with a message naming the folder
and the file; and a failed write must leave neither a half bundle nor a hidden staging
folder behind, nor damage the bundle it was replacing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from hashlearn.hashers import LSH
from hashlearn.index import HashTableIndex, LinearScanIndex, make_index
from hashlearn.serve.build import BuildConfig, build_bundle
from hashlearn.serve.bundle import (
    BUNDLE_VERSION,
    SNIPPET_CHARS,
    BundleError,
    load_bundle,
    write_bundle,
)

N_ITEMS, N_FEATURES, N_BITS = 40, 6, 16


def _quiet(message: str) -> None:
    del message


def _index(n_bits: int = N_BITS, kind: str = "flat", seed: int = 0):
    """``(X, index)``: LSH fitted on random rows, the index holding their codes."""
    X = np.random.default_rng(seed).normal(size=(N_ITEMS, N_FEATURES))
    hasher = LSH(n_bits, random_state=seed).fit(X)
    index = make_index(kind, n_bits, hasher=hasher)
    index.add(hasher.encode(X))
    return X, index


def _everything(n_bits: int = N_BITS) -> dict:
    """Every optional part of a bundle, multi-label."""
    X, index = _index(n_bits)
    rng = np.random.default_rng(1)
    return {
        "index": index,
        "vectors": X,
        "labels": (rng.random((N_ITEMS, 3)) < 0.4).astype(np.uint8),
        "class_names": ["sky", "sea", "sand"],
        "images": rng.integers(0, 256, size=(N_ITEMS, 4, 5, 3), dtype=np.uint8),
        "texts": [f"item  {i}\n\twith   spaces" for i in range(N_ITEMS)],
        "featurizer": {"kind": "pixels", "image_shape": [4, 5, 3]},
        "description": {"method": "lsh", "seed": 0},
    }


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _rewrite(bundle: Path, name: str, data: bytes) -> None:
    """Replace one member and make the manifest agree (size and checksum), so the load gets
    past the file checks to the check under test."""
    import hashlib

    (bundle / name).write_bytes(data)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"][name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def _edit_manifest(bundle: Path, **changes) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest.update(changes)
    (bundle / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture()
def bundle(tmp_path: Path) -> Path:
    """A small bundle with every optional part, in its own folder."""
    return write_bundle(tmp_path / "small", **_everything())


# -- round trip --------------------------------------------------------------------------


def test_round_trip_keeps_every_part(tmp_path: Path) -> None:
    parts = _everything()
    path = write_bundle(tmp_path / "all", **parts)
    loaded = load_bundle(path)
    assert loaded.name == "all" and loaded.n_items == N_ITEMS and loaded.n_bits == N_BITS
    assert type(loaded.index) is LinearScanIndex
    np.testing.assert_array_equal(loaded.index.codes, parts["index"].codes)
    np.testing.assert_array_equal(loaded.hasher.encode(parts["vectors"]), parts["index"].codes)
    assert loaded.vectors.dtype == np.float32
    np.testing.assert_array_equal(loaded.vectors, parts["vectors"].astype(np.float32))
    assert loaded.multilabel and loaded.labels.dtype == np.uint8
    np.testing.assert_array_equal(loaded.labels, parts["labels"])
    assert loaded.class_names == ("sky", "sea", "sand")
    np.testing.assert_array_equal(loaded.images, parts["images"])
    # whitespace collapsed, one snippet per item
    assert loaded.texts == [f"item {i} with spaces" for i in range(N_ITEMS)]
    assert loaded.featurizer == parts["featurizer"]
    manifest = loaded.manifest
    assert manifest["format_version"] == BUNDLE_VERSION and manifest["multilabel"] is True
    assert manifest["description"] == {"method": "lsh", "seed": 0}
    assert set(manifest["files"]) == {
        "index.hlz",
        "vectors.npy",
        "labels.npy",
        "images.npy",
        "texts.json",
    }


def test_round_trip_single_labels_and_no_optional_parts(tmp_path: Path) -> None:
    _, index = _index(kind="hash")
    labels = np.arange(N_ITEMS) % 4
    path = write_bundle(tmp_path / "labels-only", index, labels=labels)
    loaded = load_bundle(path)
    assert type(loaded.index) is HashTableIndex
    assert not loaded.multilabel and loaded.labels.dtype == np.int64
    np.testing.assert_array_equal(loaded.labels, labels)
    assert loaded.vectors is None and loaded.images is None and loaded.texts is None
    assert loaded.featurizer is None and loaded.class_names == ()
    bare = load_bundle(write_bundle(tmp_path / "bare", index))
    assert bare.labels is None and set(bare.manifest["files"]) == {"index.hlz"}


def test_long_texts_are_cut_to_a_snippet(tmp_path: Path) -> None:
    _, index = _index()
    texts = ["word " * 1000] * N_ITEMS
    loaded = load_bundle(write_bundle(tmp_path / "texts", index, texts=texts))
    assert all(len(text) == SNIPPET_CHARS and text.endswith("\u2026") for text in loaded.texts)


@pytest.mark.parametrize(
    ("part", "value", "message"),
    [
        ("labels", np.zeros(N_ITEMS + 1, dtype=int), "one row per item"),
        ("labels", np.full(N_ITEMS, 0.5), "integer class labels"),
        ("labels", np.full((N_ITEMS, 2), 2), "0/1 indicator"),
        ("images", np.zeros((N_ITEMS, 4, 4), dtype=np.float32), "uint8"),
        ("images", np.zeros((N_ITEMS, 4, 4, 4), dtype=np.uint8), "uint8"),
        ("vectors", np.full((N_ITEMS, 3), np.nan), "finite"),
        ("vectors", np.zeros(N_ITEMS), "2-D"),
        ("texts", ["x"] * (N_ITEMS - 1), "one entry per item"),
    ],
)
def test_write_refuses_parts_that_do_not_fit(tmp_path, part, value, message) -> None:
    _, index = _index()
    with pytest.raises(ValueError, match=message):
        write_bundle(tmp_path / "bad", index, **{part: value})
    assert list(tmp_path.iterdir()) == []


def test_write_refuses_too_few_class_names_and_an_index_without_hasher(tmp_path) -> None:
    _, index = _index()
    with pytest.raises(ValueError, match="class_names has 2 names but the labels need 4"):
        write_bundle(tmp_path / "a", index, labels=np.arange(N_ITEMS) % 4, class_names=["a", "b"])
    bare = LinearScanIndex(N_BITS)
    bare.add(index.codes)
    with pytest.raises(ValueError, match="fitted hasher"):
        write_bundle(tmp_path / "b", bare)
    with pytest.raises(ValueError, match="empty"):
        write_bundle(tmp_path / "c", LinearScanIndex(N_BITS, hasher=index.hasher))
    assert list(tmp_path.iterdir()) == []


# -- atomicity -----------------------------------------------------------------------------


def _fail_saving_arrays(monkeypatch: pytest.MonkeyPatch) -> None:
    """np.save raises: the index is already in the staging folder when it does."""

    def boom(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(np, "save", boom)


def test_a_build_failing_midway_leaves_nothing(tmp_path, monkeypatch) -> None:
    parts = _everything()
    _fail_saving_arrays(monkeypatch)
    with pytest.raises(OSError, match="simulated"):
        write_bundle(tmp_path / "new", **parts)
    assert list(tmp_path.iterdir()) == []


def test_overwrite_that_fails_leaves_the_old_bundle_intact(tmp_path, monkeypatch, bundle) -> None:
    before = (bundle / "manifest.json").read_bytes()
    _, other = _index(n_bits=8, seed=5)
    _fail_saving_arrays(monkeypatch)
    with pytest.raises(OSError, match="simulated"):
        write_bundle(bundle, other, vectors=np.zeros((N_ITEMS, 2)), overwrite=True)
    monkeypatch.undo()
    assert (bundle / "manifest.json").read_bytes() == before
    assert load_bundle(bundle).n_bits == N_BITS  # checksums verified
    assert _hidden(tmp_path) == []


def test_overwrite_failing_at_the_rename_restores_the_old_bundle(
    tmp_path, monkeypatch, bundle
) -> None:
    before = (bundle / "manifest.json").read_bytes()
    _, other = _index(n_bits=8, seed=5)
    real_replace = os.replace

    def replace(source, target):
        # only the staging folder's own rename (index.save renames its file into it too)
        if Path(source).parent == tmp_path and ".building-" in Path(source).name:
            raise OSError("rename failed (simulated)")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="simulated"):
        write_bundle(bundle, other, overwrite=True)
    monkeypatch.undo()
    assert (bundle / "manifest.json").read_bytes() == before
    assert _hidden(tmp_path) == []


def test_overwrite_replaces_and_refuses_without_the_flag(tmp_path, bundle) -> None:
    _, other = _index(n_bits=8, seed=5)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_bundle(bundle, other)
    assert load_bundle(bundle).n_bits == N_BITS
    write_bundle(bundle, other, overwrite=True)
    replaced = load_bundle(bundle)
    assert replaced.n_bits == 8 and replaced.vectors is None
    assert _hidden(tmp_path) == []


# -- load errors -----------------------------------------------------------------------------


def test_load_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no bundle at"):
        load_bundle(tmp_path / "nowhere")
    (tmp_path / "file").write_text("x")
    with pytest.raises(BundleError, match="not a folder"):
        load_bundle(tmp_path / "file")


def test_load_without_manifest_says_interrupted_build(bundle: Path) -> None:
    (bundle / "manifest.json").unlink()
    with pytest.raises(BundleError, match=r"manifest\.json is missing \(an interrupted build"):
        load_bundle(bundle)


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ("{not json", "not valid JSON"),
        ("\udcff", "not valid JSON"),
        ("[" * 100_000, "not valid JSON"),
        ("[]", "does not describe a hashlearn.bundle"),
        ('{"format": "other"}', "does not describe a hashlearn.bundle"),
    ],
)
def test_load_a_broken_manifest(bundle: Path, manifest: str, message: str) -> None:
    (bundle / "manifest.json").write_bytes(manifest.encode("utf-8", "surrogateescape"))
    with pytest.raises(BundleError, match=message) as caught:
        load_bundle(bundle)
    assert str(bundle) in str(caught.value) and "rebuild it" in str(caught.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format_version": BUNDLE_VERSION + 1}, f"format version {BUNDLE_VERSION + 1}"),
        ({"format_version": None}, "format version None"),
        ({"n_items": "40"}, "no valid 'n_items'"),
        ({"n_bits": True}, "no valid 'n_bits'"),
        ({"n_items": 0}, "must be positive"),
        ({"files": {}}, "lists no index.hlz"),
        (
            {"files": {"index.hlz": {}, "../../etc/passwd": {"bytes": 1}}},
            "unexpected file '../../etc/passwd'",
        ),
        ({"n_items": N_ITEMS + 1}, f"holds {N_ITEMS} codes of {N_BITS} bits"),
    ],
)
def test_load_a_manifest_that_does_not_fit(bundle: Path, changes: dict, message: str) -> None:
    if changes.get("files") and "index.hlz" in changes["files"]:
        changes["files"]["index.hlz"] = json.loads((bundle / "manifest.json").read_text())["files"][
            "index.hlz"
        ]
    _edit_manifest(bundle, **changes)
    with pytest.raises(BundleError, match=message):
        load_bundle(bundle)


def test_load_with_a_missing_file(bundle: Path) -> None:
    (bundle / "images.npy").unlink()
    with pytest.raises(BundleError, match=r"images\.npy is missing"):
        load_bundle(bundle)


def test_load_a_truncated_file(bundle: Path) -> None:
    data = (bundle / "vectors.npy").read_bytes()
    (bundle / "vectors.npy").write_bytes(data[:-10])
    message = f"vectors.npy has {len(data) - 10} bytes, the manifest says {len(data)}"
    for verify in (True, False):
        with pytest.raises(BundleError, match=message):
            load_bundle(bundle, verify=verify)


def test_a_flipped_byte_fails_the_checksum_and_verify_false_checks_sizes_only(
    bundle: Path,
) -> None:
    data = bytearray((bundle / "vectors.npy").read_bytes())
    data[-1] ^= 0x40  # in the last float, not the header
    (bundle / "vectors.npy").write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"vectors\.npy does not match its SHA-256"):
        load_bundle(bundle)
    loaded = load_bundle(bundle, verify=False)
    assert loaded.vectors[-1, -1] != np.float32(_everything()["vectors"][-1, -1])


def test_load_an_index_of_other_n_bits(bundle: Path, tmp_path: Path) -> None:
    _, other = _index(n_bits=8)
    saved = other.save(tmp_path / "other.hlz")
    _rewrite(bundle, "index.hlz", Path(saved).read_bytes())
    with pytest.raises(BundleError, match=f"holds {N_ITEMS} codes of 8 bits.*{N_BITS}"):
        load_bundle(bundle)


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        (json.dumps(["x"] * (N_ITEMS - 1)), f"list of {N_ITEMS} strings"),
        (json.dumps({"0": "x"}), f"list of {N_ITEMS} strings"),
        ("[not json", "texts.json is not valid JSON"),
    ],
)
def test_load_texts_of_the_wrong_length(bundle: Path, texts: str, message: str) -> None:
    _rewrite(bundle, "texts.json", texts.encode())
    with pytest.raises(BundleError, match=message):
        load_bundle(bundle)


def test_load_arrays_of_the_wrong_length(bundle: Path, tmp_path: Path) -> None:
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.zeros(N_ITEMS - 1, dtype=np.int64))
    _rewrite(bundle, "labels.npy", buffer.getvalue())
    with pytest.raises(BundleError, match=f"labels must have one row per item \\({N_ITEMS}\\)"):
        load_bundle(bundle)
    _rewrite(bundle, "labels.npy", b"not an npy file")
    with pytest.raises(BundleError, match=r"labels\.npy cannot be read"):
        load_bundle(bundle)


# -- build_bundle --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    from hashlearn.datasets import load_dataset

    return load_dataset("digits")


def _rows_of(vectors: np.ndarray, X: np.ndarray) -> np.ndarray:
    """The dataset row of each vector (digits rows are all distinct)."""
    where = {row.tobytes(): i for i, row in enumerate(np.asarray(X, dtype=np.float32))}
    return np.array([where[row.tobytes()] for row in np.asarray(vectors, dtype=np.float32)])


def _recording_fit(monkeypatch: pytest.MonkeyPatch) -> list:
    """Record what build_bundle fits on: ``[(X, y)]``."""
    from hashlearn.experiments import record

    calls: list = []
    real = record.fit_hasher

    def fit(hasher, X, y):
        calls.append((np.asarray(X), None if y is None else np.asarray(y)))
        return real(hasher, X, y)

    monkeypatch.setattr(record, "fit_hasher", fit)
    return calls


def test_build_subsets_are_seeded_and_correct(tmp_path, monkeypatch, digits) -> None:
    calls = _recording_fit(monkeypatch)

    def build(name: str, seed: int) -> Path:
        config = BuildConfig(
            dataset="digits", method="lsh", n_bits=12, out=tmp_path / name, seed=seed,
            n_train=50, limit=120,
        )  # fmt: skip
        return build_bundle(config, say=_quiet)

    first = load_bundle(build("a", seed=3))
    again = load_bundle(build("b", seed=3))
    other = load_bundle(build("c", seed=4))
    rows = _rows_of(first.vectors, digits.X)
    assert first.n_items == 120 and np.all(np.diff(rows) > 0)  # dataset order
    np.testing.assert_array_equal(first.labels, digits.y[rows])
    images = np.round(digits.X[rows] * (255 / 16)).astype(np.uint8).reshape(-1, 8, 8)
    np.testing.assert_array_equal(first.images, images)
    np.testing.assert_array_equal(first.index.codes, first.hasher.encode(digits.X[rows]))
    description = first.manifest["description"]
    assert description["rows"] == "seeded subset" and description["n_train"] == 50
    train_rows = _rows_of(calls[0][0], digits.X)
    assert train_rows.size == 50 and set(train_rows) <= set(rows)
    assert calls[0][1] is None  # LSH is unsupervised: fitted without labels
    np.testing.assert_array_equal(again.vectors, first.vectors)
    np.testing.assert_array_equal(again.index.codes, first.index.codes)
    assert not np.array_equal(_rows_of(other.vectors, digits.X), rows)


@pytest.mark.parametrize("method", ["ksh", "sdh"])
def test_build_gives_supervised_methods_their_labels(tmp_path, monkeypatch, digits, method):
    calls = _recording_fit(monkeypatch)
    config = BuildConfig(
        dataset="digits", method=method, n_bits=8, out=tmp_path / method, n_train=150, limit=200
    )
    loaded = load_bundle(build_bundle(config, say=_quiet))
    ((X, y),) = calls
    assert y is not None and y.shape == (150,)
    np.testing.assert_array_equal(y, digits.y[_rows_of(X, digits.X)])
    assert loaded.manifest["description"]["method"] == method
    assert loaded.manifest["hasher"] == type(loaded.hasher).__name__
    assert loaded.n_items == 200 and loaded.n_bits == 8


def test_build_all_rows_without_vectors(tmp_path: Path, digits) -> None:
    config = BuildConfig(
        dataset="digits", method="lsh", n_bits=70, out=tmp_path / "all", vectors=False
    )
    loaded = load_bundle(build_bundle(config, say=_quiet))
    assert loaded.n_items == digits.n_samples and loaded.vectors is None
    assert loaded.manifest["description"]["rows"] == "all"
    assert type(loaded.index) is LinearScanIndex  # "auto": a scan above 64 bits


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"method": "no-such-method"}, ValueError, "unknown method 'no-such-method'"),
        ({"dataset": "no-such-dataset"}, ValueError, "neither a catalogue name"),
        ({"index": "btree"}, ValueError, "index must be one of"),
        ({"limit": 0}, ValueError, "limit must be >= 1"),
        ({"n_train": -5}, ValueError, "n_train must be >= 1"),
    ],
)
def test_build_errors(tmp_path: Path, changes: dict, error: type, message: str) -> None:
    fields = {"dataset": "digits", "method": "lsh", "n_bits": 8, "out": tmp_path / "x"}
    with pytest.raises(error, match=message):
        build_bundle(BuildConfig(**{**fields, **changes}), say=_quiet)
    assert list(tmp_path.iterdir()) == []


def test_build_refuses_an_existing_folder(tmp_path: Path, bundle: Path) -> None:
    before = sorted(p.name for p in bundle.iterdir())
    config = BuildConfig(dataset="digits", method="lsh", n_bits=8, out=bundle)
    with pytest.raises(FileExistsError, match="--force"):
        build_bundle(config, say=_quiet)
    assert sorted(p.name for p in bundle.iterdir()) == before

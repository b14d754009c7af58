"""The no-pickle file format: layout, atomic writes, refusals with clear messages."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

import hashlearn
from hashlearn import persistence
from hashlearn.hashers import LSH


@pytest.fixture
def saved(tmp_path):
    X = np.random.default_rng(0).normal(size=(30, 5))
    hasher = LSH(9, random_state=0).fit(X)
    return hasher, X, hasher.save(tmp_path / "lsh.hlz")


def test_layout_is_json_plus_npy(saved):
    _, _, path = saved
    with zipfile.ZipFile(path) as archive:
        meta = json.loads(archive.read("hashlearn.json"))
        names = set(archive.namelist())
    assert meta["format"] == "hashlearn" and meta["format_version"] == 1
    assert meta["class"] == "SignRandomProjection" and meta["kind"] == "hasher"
    assert meta["params"]["n_bits"] == 9 and meta["attributes"]["n_features_in_"] == 5
    assert {f"{name}.npy" for name in meta["arrays"]} | {"hashlearn.json"} == names


def test_newer_format_is_refused(saved, tmp_path):
    _, _, path = saved
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    meta = json.loads(members["hashlearn.json"])
    meta["format_version"] = 99
    members["hashlearn.json"] = json.dumps(meta).encode()
    newer = tmp_path / "newer.hlz"
    with zipfile.ZipFile(newer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ValueError, match=r"format version 99.*upgrade hashlearn"):
        hashlearn.load(newer)


def test_corrupt_and_foreign_files_are_refused(saved, tmp_path):
    _, _, path = saved
    truncated = tmp_path / "truncated.hlz"
    truncated.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="corrupt or not a hashlearn file"):
        hashlearn.load(truncated)
    foreign = tmp_path / "foreign.zip"
    with zipfile.ZipFile(foreign, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="not a hashlearn file"):
        hashlearn.load(foreign)
    with pytest.raises(FileNotFoundError, match="no hashlearn file"):
        hashlearn.load(tmp_path / "missing.hlz")


def test_unfitted_hasher_cannot_be_saved(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        LSH(8).save(tmp_path / "x.hlz")


def _rewrite(path, target, edit_meta=None, edit_arrays=None):
    """Copy a saved file with its metadata and arrays edited (simulating corruption)."""
    import io

    with zipfile.ZipFile(path) as archive:
        meta = json.loads(archive.read("hashlearn.json"))
        arrays = {
            name[:-4]: np.load(io.BytesIO(archive.read(name)))
            for name in archive.namelist()
            if name.endswith(".npy")
        }
    if edit_meta:
        edit_meta(meta)
    if edit_arrays:
        edit_arrays(arrays)
    meta["arrays"] = sorted(arrays)
    persistence.write_file(
        target,
        kind=meta["kind"],
        class_name=meta["class"],
        params=meta["params"],
        attributes=meta["attributes"],
        arrays=arrays,
    )
    return target


@pytest.mark.parametrize(
    ("edit_meta", "edit_arrays", "message"),
    [
        (lambda m: m["params"].update(bogus=1), None, "unexpected keyword argument 'bogus'"),
        (None, lambda a: a.pop("components_"), "components_ is missing"),
        (None, lambda a: a.update(components_=np.zeros((9, 4))), r"shape \(9, 4\), expected"),
        (lambda m: m["params"].update(n_bits=10), None, r"expected \(10, 5\)"),
        (None, lambda a: a.update(intercept_=np.full(9, np.nan)), "finite floats"),
    ],
)
def test_corrupt_hasher_state_is_refused_on_load(saved, tmp_path, edit_meta, edit_arrays, message):
    _, _, path = saved
    broken = _rewrite(path, tmp_path / "broken.hlz", edit_meta, edit_arrays)
    with pytest.raises(
        ValueError, match=rf"corrupt or incompatible SignRandomProjection.*{message}"
    ):
        hashlearn.load(broken)

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


def test_interrupted_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def write(handle):
        handle.write(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        persistence.atomic_write(target, write)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_unfitted_hasher_cannot_be_saved(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        LSH(8).save(tmp_path / "x.hlz")

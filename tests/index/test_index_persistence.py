"""Saving and loading indexes (no pickle), with and without their hasher."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

import hashlearn
from hashlearn._registry import register
from hashlearn.codes import pack_bits
from hashlearn.hashers import BaseHasher, LinearHasherMixin
from hashlearn.index import HashTableIndex, LinearScanIndex, MultiIndexHashing, MultiTableIndex

INDEXES = [LinearScanIndex, HashTableIndex, MultiIndexHashing, MultiTableIndex]


@register
class IndexTestRandomHyperplanes(LinearHasherMixin, BaseHasher):
    """Random hyperplanes through the origin: a tiny hasher for these tests."""

    def __init__(self, n_bits=16, random_state=None):
        self.n_bits = n_bits
        self.random_state = random_state

    def _fit(self, X, y, rng, **fit_params):
        self.components_ = rng.standard_normal((self.n_bits, X.shape[1]))
        self.intercept_ = np.zeros(self.n_bits)


def random_codes(rng, n, n_bits):
    return pack_bits(rng.integers(0, 2, size=(n, n_bits)))


def rewrite(path, edit_meta=None, edit_arrays=None):
    """Rewrite a hashlearn file with edited metadata or arrays."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    meta = json.loads(members["hashlearn.json"])
    if edit_meta:
        edit_meta(meta)
    members["hashlearn.json"] = json.dumps(meta).encode()
    if edit_arrays:
        import io

        for name, array in edit_arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array, allow_pickle=False)
            members[f"{name}.npy"] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


@pytest.mark.parametrize("cls", INDEXES)
@pytest.mark.parametrize("n_bits", [13, 64])
def test_round_trip_gives_identical_results(tmp_path, cls, n_bits):
    rng = np.random.default_rng(n_bits)
    database = random_codes(rng, 300, n_bits)
    queries = random_codes(rng, 20, n_bits)
    index = cls(n_bits).add(database[:100]).add(database[100:])
    path = index.save(tmp_path / "index.hl")
    loaded = hashlearn.load(path)
    assert type(loaded) is cls and loaded.n_bits == n_bits and loaded.ntotal == 300
    assert loaded.hasher is None
    np.testing.assert_array_equal(loaded.codes, database)
    for a, b in zip(index.search(queries, 17), loaded.search(queries, 17), strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(index.range_search(queries, 5), loaded.range_search(queries, 5), strict=True):
        np.testing.assert_array_equal(a, b)
    # The loaded index keeps working: further adds append.
    loaded.add(database[:3])
    assert loaded.ntotal == 303
    meta = json.loads(zipfile.ZipFile(path).read("hashlearn.json"))
    assert meta["kind"] == "index" and meta["class"] == cls.__name__


@pytest.mark.parametrize("cls", INDEXES)
def test_empty_index_round_trip(tmp_path, cls):
    loaded = hashlearn.load(cls(20).save(tmp_path / "empty.hl"))
    assert loaded.ntotal == 0 and loaded.n_bits == 20
    assert (loaded.search(np.zeros((1, 3), dtype=np.uint8), 2)[1] == -1).all()


@pytest.mark.parametrize("cls", INDEXES)
def test_hasher_is_saved_beside_the_index(tmp_path, cls):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 10))
    hasher = IndexTestRandomHyperplanes(n_bits=16, random_state=0).fit(X)
    index = cls(16, hasher=hasher).add_vectors(X)
    loaded = hashlearn.load(index.save(tmp_path / "with_hasher.hl"))
    assert isinstance(loaded.hasher, IndexTestRandomHyperplanes)
    np.testing.assert_array_equal(loaded.hasher.components_, hasher.components_)
    for a, b in zip(loaded.search_vectors(X[:7], 5), index.search_vectors(X[:7], 5), strict=True):
        np.testing.assert_array_equal(a, b)


def test_unsaveable_hasher_gives_a_clear_error(tmp_path):
    class Plain:
        n_bits = 8

        def encode(self, X):
            return np.zeros((len(X), 1), dtype=np.uint8)

    with pytest.raises(TypeError, match=r"cannot be saved.*index\.hasher = None"):
        LinearScanIndex(8, hasher=Plain()).save(tmp_path / "x.hl")


@pytest.mark.parametrize("cls", INDEXES)
def test_newer_format_version_is_refused(tmp_path, cls):
    path = cls(8).add(random_codes(np.random.default_rng(0), 5, 8)).save(tmp_path / "new.hl")
    rewrite(path, edit_meta=lambda meta: meta.update(format_version=meta["format_version"] + 1))
    with pytest.raises(ValueError, match=r"format version .* upgrade hashlearn"):
        hashlearn.load(path)


def test_corrupt_hash_table_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    index = HashTableIndex(8).add(random_codes(rng, 50, 8))
    path = index.save(tmp_path / "table.hl")
    ids = index.bucket_ids_.copy()
    ids[[0, -1]] = ids[[-1, 0]]
    rewrite(path, edit_arrays={"bucket_ids": ids})
    with pytest.raises(ValueError, match=r"corrupt HashTableIndex file.*do not match"):
        hashlearn.load(path)
    path = index.save(tmp_path / "table2.hl")
    rewrite(path, edit_arrays={"bucket_offsets": index.bucket_offsets_[:-1]})
    with pytest.raises(ValueError, match="corrupt HashTableIndex file"):
        hashlearn.load(path)


def test_wrong_code_count_is_refused(tmp_path):
    path = LinearScanIndex(8).add(np.zeros((4, 1), dtype=np.uint8)).save(tmp_path / "l.hl")
    rewrite(path, edit_meta=lambda meta: meta["attributes"].update(ntotal=5))
    with pytest.raises(ValueError, match="corrupt LinearScanIndex file: ntotal=5"):
        hashlearn.load(path)


def test_every_index_class_loads_in_a_fresh_process(tmp_path):
    """hashlearn.load must know every index class without the caller importing its module."""
    import subprocess
    import sys

    from hashlearn.index import FaissBinaryFlat

    classes = [*INDEXES]
    try:
        import faiss  # noqa: F401

        classes.append(FaissBinaryFlat)
    except ImportError:
        pass
    paths = []
    for cls in classes:
        index = cls(16).add(random_codes(np.random.default_rng(0), 50, 16))
        paths.append(str(index.save(tmp_path / f"{cls.__name__}.hl")))
    script = (
        "import sys, hashlearn\n"
        "for path in sys.argv[1:]:\n"
        "    print(type(hashlearn.load(path)).__name__, hashlearn.load(path).ntotal)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *paths], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == [word for cls in classes for word in (cls.__name__, "50")]

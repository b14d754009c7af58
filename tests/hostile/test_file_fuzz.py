"""Byte-flipped and truncated files of every saveable class: the documented error, always.

Each saved file gets seeded single-byte flips spread over its whole length and several
truncations. Every damaged file must either raise
:class:`hashlearn.persistence.FileFormatError` or, when the flip hit a byte that nothing
reads (ZIP timestamps, the local headers' copies of sizes and CRC-32, version fields; see
docs/file-format.md), load to an object that behaves exactly as the original. Every byte
of metadata and array data is covered by a CRC-32, so no flip of data can load.
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import warnings

import numpy as np
import pytest

import hashlearn
from hashlearn._registry import registered
from hashlearn.experiments.methods import METHODS, resolve_method
from hashlearn.hashers import LSH, HasherStack
from hashlearn.index import (
    HashTableIndex,
    LinearScanIndex,
    MultiIndexHashing,
    MultiTableIndex,
)
from hashlearn.persistence import FileFormatError
from hashlearn.testing import hasher_input

HAS_FAISS = importlib.util.find_spec("faiss") is not None
N_BITS = 8
#: Single-byte flips per file and truncated lengths per file (a few hundred flips in all).
N_FLIPS, N_TRUNCATIONS = 12, 4
# Small data: parameters that fit 80 rows of 10 features.
SPECS = {
    "agh": "agh:n_anchors=10,n_nearest_anchors=3",
    "bre": "bre:n_anchors=10,n_iter=2",
    "ksh": "ksh:n_anchors=15,max_iter=20",
    "sdh": "sdh:n_anchors=15",
    "itml-lsh": "itml-lsh:max_iter=5",
    "itq": "itq:n_iter=5",
    "cca-itq": "cca-itq:n_iter=5",
    "klsh": "klsh:n_samples=30,n_subset=10",
}


def _data():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 20)
    X = rng.normal(size=(80, 10)) + y[:, None]
    return X, y


def _indexes():
    codes = np.random.default_rng(1).integers(0, 256, size=(40, 1), dtype=np.uint8)
    X, _y = _data()
    hasher = LSH(N_BITS, random_state=0).fit(X)
    indexes = {
        "LinearScanIndex": LinearScanIndex(N_BITS).add(codes),
        "LinearScanIndex+hasher": LinearScanIndex(N_BITS, hasher=hasher).add_vectors(X),
        "HashTableIndex": HashTableIndex(N_BITS).add(codes),
        "MultiIndexHashing": MultiIndexHashing(N_BITS, n_tables=2).add(codes),
        "MultiTableIndex": MultiTableIndex(N_BITS, n_tables=2, bits_per_table=4).add(codes),
    }
    if HAS_FAISS:
        from hashlearn.index import FaissBinaryFlat, FaissBinaryHash, FaissBinaryMultiHash

        indexes["FaissBinaryFlat"] = FaissBinaryFlat(N_BITS).add(codes)
        indexes["FaissBinaryHash"] = FaissBinaryHash(N_BITS, bits_per_table=4).add(codes)
        indexes["FaissBinaryMultiHash"] = FaissBinaryMultiHash(
            N_BITS, n_tables=2, bits_per_table=4
        ).add(codes)
    return indexes


def _hashers():
    X, y = _data()
    hashers = {}
    for name in sorted(METHODS):
        method = resolve_method(SPECS.get(name, name))
        hasher = method.build(N_BITS, 0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Word-weight hashers (VDSH, NASH, S-RBM) take X >= 0 only.
            hasher.fit(hasher_input(hasher, X), y if method.info.supervised else None)
        hashers[name] = hasher
    hashers["HasherStack"] = HasherStack([LSH(3, random_state=0), LSH(5, random_state=1)]).fit(X)
    return hashers


@functools.cache
def _saved(tmp_dir):
    """``{case: (object, file bytes)}`` for every saveable class, saved once per session."""
    objects = {**_hashers(), **_indexes()}
    saved = {}
    for case, obj in objects.items():
        path = obj.save(f"{tmp_dir}/{case}.hlz")
        with open(path, "rb") as handle:
            saved[case] = (obj, handle.read())
    return saved


INDEX_CASES = [
    "LinearScanIndex",
    "LinearScanIndex+hasher",
    "HashTableIndex",
    "MultiIndexHashing",
    "MultiTableIndex",
    "FaissBinaryFlat",
    "FaissBinaryHash",
    "FaissBinaryMultiHash",
]
CASES = [*sorted(METHODS), "HasherStack", *INDEX_CASES]


@pytest.fixture(scope="module")
def saved_files(tmp_path_factory):
    return _saved(str(tmp_path_factory.mktemp("fuzz")))


def test_every_saveable_class_is_fuzzed(saved_files):
    assert set(saved_files) <= set(CASES)
    fuzzed = {type(obj).__name__ for obj, _ in saved_files.values()}
    ours = {name for name, cls in registered().items() if cls.__module__.startswith("hashlearn.")}
    missing = ours - fuzzed
    if not HAS_FAISS:
        missing -= {"FaissBinaryFlat", "FaissBinaryHash", "FaissBinaryMultiHash"}
    assert not missing, f"saveable classes not fuzzed: {sorted(missing)}"


def _same_behaviour(original, loaded):
    assert type(loaded) is type(original)
    X, _ = _data()
    if hasattr(original, "encode"):
        np.testing.assert_array_equal(loaded.encode(X), original.encode(X))
        return
    np.testing.assert_array_equal(loaded.codes, original.codes)
    queries = original.codes[:5]
    for got, want in zip(loaded.search(queries, 7), original.search(queries, 7), strict=True):
        np.testing.assert_array_equal(got, want)
    if original.hasher is not None:
        np.testing.assert_array_equal(loaded.hasher.encode(X), original.hasher.encode(X))


def _damaged(data, rng):
    """Seeded damaged copies of ``data``: flips spread over the file, then truncations."""
    edges = np.linspace(0, len(data), N_FLIPS + 1).astype(int)
    for start, stop in itertools.pairwise(edges):
        position = int(rng.integers(start, max(stop, start + 1)))
        damaged = bytearray(data)
        damaged[position] ^= int(rng.integers(1, 256))
        yield f"flip at {position}", bytes(damaged)
    for length in rng.choice(len(data), N_TRUNCATIONS, replace=False):
        yield f"truncated to {length}", data[: int(length)]


@pytest.mark.parametrize("case", CASES)
def test_damaged_files_raise_the_documented_error(saved_files, case, tmp_path):
    if case not in saved_files:
        pytest.skip(f"{case} needs faiss")
    original, data = saved_files[case]
    rng = np.random.default_rng(sum(map(ord, case)))
    target = tmp_path / "damaged.hlz"
    for what, damaged in _damaged(data, rng):
        target.write_bytes(damaged)
        try:
            loaded = hashlearn.load(target)
        except FileFormatError as exc:
            assert str(target) in str(exc), (what, exc)
            continue
        except Exception as exc:  # pragma: no cover - what this test exists to catch
            pytest.fail(f"{case}, {what}: {type(exc).__name__}: {exc}")
        _same_behaviour(original, loaded)

"""make_index: one argument switches the implementation; clear errors otherwise."""

from __future__ import annotations

import doctest
import subprocess
import sys

import numpy as np
import pytest

from hashlearn.codes import pack_bits
from hashlearn.index import HashTableIndex, LinearScanIndex, MultiIndexHashing, MultiTableIndex
from hashlearn.index import factory as factory_module
from hashlearn.index.factory import BACKENDS, KINDS, index_class, make_index


def random_codes(rng, n, n_bits):
    return pack_bits(rng.integers(0, 2, size=(n, n_bits)))


def test_hashlearn_backend_is_the_default():
    assert type(make_index("flat", 16)) is LinearScanIndex
    assert type(make_index("hash", 16, backend="hashlearn")) is HashTableIndex
    assert index_class("flat") is LinearScanIndex
    assert KINDS == ("flat", "hash", "multihash", "mih")
    assert BACKENDS == ("hashlearn", "faiss")


@pytest.mark.parametrize(
    ("kind", "cls"), [("multihash", MultiTableIndex), ("mih", MultiIndexHashing)]
)
def test_the_other_hashlearn_kinds(kind, cls):
    # Construction only: those indexes' own tests check their results (and compile them).
    index = make_index(kind, 32)
    assert type(index) is cls and index.n_bits == 32
    assert index_class(kind) is cls


def test_importing_the_factory_does_not_import_faiss():
    code = (
        "import sys, hashlearn.index.factory as f; "
        "assert f.index_class('hash', 'faiss').__name__ == 'FaissBinaryHash'; "
        "assert 'faiss' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize(
    ("kind", "class_name"),
    [
        ("flat", "FaissBinaryFlat"),
        ("hash", "FaissBinaryHash"),
        ("multihash", "FaissBinaryMultiHash"),
    ],
)
def test_faiss_backend_kinds(kind, class_name):
    # Resolving the class needs no faiss; building it does.
    assert index_class(kind, "faiss").__name__ == class_name
    pytest.importorskip("faiss")
    index = make_index(kind, 24, backend="faiss")
    assert type(index).__name__ == class_name and index.n_bits == 24


def test_one_argument_switches_flat_with_identical_results():
    pytest.importorskip("faiss")
    rng = np.random.default_rng(1)
    database = pack_bits(rng.integers(0, 2, (300, 5)))  # many ties
    queries = random_codes(rng, 20, 5)
    results = {}
    for backend in BACKENDS:
        index = make_index("flat", 5, backend=backend).add(database)
        results[backend] = index.search(queries, 40) + index.range_search(queries, 2)
    for ours, theirs in zip(results["hashlearn"], results["faiss"], strict=True):
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)


def test_params_reach_the_class():
    pytest.importorskip("faiss")
    index = make_index("hash", 32, backend="faiss", bits_per_table=12, probe_radius=3, n_threads=1)
    assert (index.bits_per_table, index.probe_radius, index.n_threads) == (12, 3, 1)
    multi = make_index("multihash", 32, backend="faiss", n_tables=4, bits_per_table=8)
    assert (multi.n_tables, multi.bits_per_table) == (4, 8)


def test_hasher_is_attached():
    class Hasher:
        n_bits = 8

        def encode(self, X):
            return pack_bits((np.asarray(X)[:, :8] > 0).astype(np.uint8))

    hasher = Hasher()
    index = make_index("flat", 8, hasher=hasher)
    assert index.hasher is hasher
    index.add_vectors(np.ones((3, 8)))
    assert index.ntotal == 3
    with pytest.raises(ValueError, match="n_bits=8"):
        make_index("flat", 16, hasher=hasher)


@pytest.mark.parametrize("kind", ["Flat", "lsh", "", None, 3])
def test_unknown_kind_lists_the_allowed_values(kind):
    with pytest.raises(ValueError, match="kind must be one of 'flat', 'hash', 'multihash', 'mih'"):
        make_index(kind, 16)


@pytest.mark.parametrize("backend", ["FAISS", "numpy", None])
def test_unknown_backend_lists_the_allowed_values(backend):
    with pytest.raises(ValueError, match="backend must be one of 'hashlearn', 'faiss'"):
        make_index("flat", 16, backend=backend)


def test_mih_has_no_faiss_backend():
    with pytest.raises(
        ValueError, match=r"backend='faiss' has no index of kind='mih'.*'hashlearn'"
    ):
        make_index("mih", 32, backend="faiss")


def test_params_a_backend_does_not_take():
    with pytest.raises(
        TypeError, match=r"LinearScanIndex .* does not take probe_radius; its parameters: "
    ):
        make_index("flat", 16, probe_radius=2)
    # bits_per_table is a parameter of the faiss hash index: the message says so.
    with pytest.raises(
        TypeError,
        match=r"HashTableIndex .*does not take bits_per_table, probe_radius.*backend='faiss'",
    ):
        make_index("hash", 16, bits_per_table=8, probe_radius=1)
    with pytest.raises(
        TypeError, match=r"FaissBinaryFlat .*does not take radius; its parameters: n_threads"
    ):
        make_index("flat", 16, backend="faiss", radius=3)


def test_bad_values_are_reported_by_the_class():
    with pytest.raises(ValueError, match="n_bits must be in"):
        make_index("flat", 0)
    with pytest.raises(ValueError, match="n_bits must be in"):
        make_index("hash", 65)


def test_doctests():
    result = doctest.testmod(factory_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0

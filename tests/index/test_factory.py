"""make_index: one argument switches the implementation; clear errors otherwise."""

from __future__ import annotations

import doctest
import importlib.util
import sys

import numpy as np
import pytest

from hashlearn.codes import pack_bits
from hashlearn.index import HashTableIndex, LinearScanIndex
from hashlearn.index import factory as factory_module
from hashlearn.index.factory import BACKENDS, KINDS, index_class, make_index


def module_available(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def random_codes(rng, n, n_bits):
    return pack_bits(rng.integers(0, 2, size=(n, n_bits)))


def test_hashlearn_backend_is_the_default():
    assert type(make_index("flat", 16)) is LinearScanIndex
    assert type(make_index("hash", 16, backend="hashlearn")) is HashTableIndex
    assert index_class("flat") is LinearScanIndex
    assert KINDS == ("flat", "hash", "multihash", "mih")
    assert BACKENDS == ("hashlearn", "faiss")


@pytest.mark.parametrize(
    ("kind", "module", "class_name"),
    [
        ("multihash", "hashlearn.index.multi_table", "MultiTableIndex"),
        ("mih", "hashlearn.index.multi_index", "MultiIndexHashing"),
    ],
)
def test_indexes_written_elsewhere(kind, module, class_name):
    if not module_available(module):
        pytest.skip(f"{module} is not written yet")
    # Construction only: those indexes' own tests check their results (and compile them).
    index = make_index(kind, 32)
    assert type(index).__name__ == class_name and index.n_bits == 32
    assert index_class(kind) is type(index)


@pytest.mark.parametrize(
    ("kind", "module"),
    [("multihash", "hashlearn.index.multi_table"), ("mih", "hashlearn.index.multi_index")],
)
def test_missing_index_module_gives_a_clear_error(monkeypatch, kind, module):
    monkeypatch.setitem(sys.modules, module, None)  # as if the module did not exist
    with pytest.raises(ImportError, match=f"kind='{kind}'.*does not include"):
        make_index(kind, 32)


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
    index = make_index("hash", 32, backend="faiss", b=12, nflip=3, n_threads=1)
    assert (index.b, index.nflip, index.n_threads) == (12, 3, 1)
    multi = make_index("multihash", 32, backend="faiss", nhash=4, b=8)
    assert (multi.nhash, multi.b) == (4, 8)


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
        TypeError, match=r"LinearScanIndex .* does not take nflip; its parameters: "
    ):
        make_index("flat", 16, nflip=2)
    # b is a parameter of the faiss hash index: the message says so.
    with pytest.raises(
        TypeError, match=r"HashTableIndex .*does not take b, nflip.*backend='faiss'"
    ):
        make_index("hash", 16, b=8, nflip=1)
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

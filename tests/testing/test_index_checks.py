"""check_index passes every built-in index and names the rule a broken index breaks."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from hashlearn.codes import pack_bits
from hashlearn.index import (
    FaissBinaryFlat,
    HashTableIndex,
    LinearScanIndex,
    MultiIndexHashing,
    MultiTableIndex,
)
from hashlearn.testing import (
    check_index,
    hamming_distances_reference,
    knn_reference,
    range_reference,
)

needs_faiss = pytest.mark.skipif(
    importlib.util.find_spec("faiss") is None, reason="faiss is not installed"
)


@pytest.mark.filterwarnings("ignore::hashlearn.index.ProbeCostWarning")
@pytest.mark.parametrize(
    "factory",
    [
        LinearScanIndex,
        HashTableIndex,
        MultiIndexHashing,
        pytest.param(lambda n: MultiTableIndex(n, grow="exact"), id="MultiTableIndex"),
        pytest.param(FaissBinaryFlat, marks=needs_faiss),
    ],
)
def test_passes_on_built_in_indexes(factory):
    check_index(factory, n_bits=(13,), n_database=60)


# -- references --------------------------------------------------------------------------------
def test_references_on_a_hand_example():
    database = pack_bits([[0, 0, 0, 0], [1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]])
    query = pack_bits([[1, 0, 0, 0]])
    np.testing.assert_array_equal(hamming_distances_reference(query, database), [[1, 1, 0, 2]])
    distances, ids = knn_reference(query, database, 6)
    np.testing.assert_array_equal(ids, [[2, 0, 1, 3]])  # the tie 0, 1 by id; k capped at 4
    np.testing.assert_array_equal(distances, [[0, 1, 1, 2]])
    assert distances.dtype == np.int32 and ids.dtype == np.int64
    lims, distances, ids = range_reference(np.concatenate([query, query]), database, 1)
    np.testing.assert_array_equal(lims, [0, 3, 6])
    np.testing.assert_array_equal(ids, [2, 0, 1, 2, 0, 1])
    np.testing.assert_array_equal(distances, [0, 1, 1, 0, 1, 1])
    empty = range_reference(query, database[:0], 3)
    assert empty[0].tolist() == [0, 0] and empty[1].dtype == np.int32


def test_references_refuse_bad_input():
    codes = np.zeros((2, 1), dtype=np.uint8)
    with pytest.raises(ValueError, match="bytes per code"):
        hamming_distances_reference(codes, np.zeros((2, 2), dtype=np.uint8))
    with pytest.raises(TypeError, match="uint8"):
        hamming_distances_reference(codes.astype(np.int64), codes)
    with pytest.raises(ValueError, match="k must be"):
        knn_reference(codes, codes, 0)
    with pytest.raises(ValueError, match="radius must be"):
        range_reference(codes, codes, -1)


# -- broken indexes ------------------------------------------------------------------------------
class _Wrapped:
    """A LinearScanIndex behind the contract's methods, which the subclasses break."""

    def __init__(self, n_bits: int) -> None:
        self.inner = LinearScanIndex(n_bits)

    @property
    def ntotal(self) -> int:
        return self.inner.ntotal

    def __len__(self) -> int:
        return self.inner.ntotal

    def add(self, codes):
        self.inner.add(codes)
        return self

    def search(self, queries, k):
        return self.inner.search(queries, k)

    def range_search(self, queries, radius, **budget):
        return self.inner.range_search(queries, radius, **budget)

    def reset(self):
        self.inner.reset()
        return self

    def save(self, path):
        return self.inner.save(path)


class LargestIdWinsTies(_Wrapped):
    """Sorted lists, but the k-th position keeps the larger ids of a tie."""

    def search(self, queries, k):
        everything = self.inner.search(queries, max(k, self.ntotal))
        distances, ids = np.full((len(queries), k), -1, np.int32), np.full((len(queries), k), -1)
        for row, (d, i) in enumerate(zip(*everything, strict=True)):
            real = i >= 0
            keep = np.lexsort((-i[real], d[real]))[:k]
            order = keep[np.lexsort((i[real][keep], d[real][keep]))]
            distances[row, : order.size], ids[row, : order.size] = d[real][order], i[real][order]
        return distances, ids


class DescendingIdsInRanges(_Wrapped):
    def range_search(self, queries, radius, **budget):
        lims, distances, ids = self.inner.range_search(queries, radius, **budget)
        rows = np.repeat(np.arange(len(queries)), np.diff(lims))
        order = np.lexsort((-ids, distances, rows))
        return lims, distances[order], ids[order]


class PadsDistancesLikeFaiss(_Wrapped):
    """Misses its last result and pads it with id -1 but distance INT32_MAX (faiss's)."""

    def search(self, queries, k):
        distances, ids = self.inner.search(queries, k)
        distances, ids = distances.copy(), ids.copy()
        distances[:, -1:], ids[:, -1:] = np.iinfo(np.int32).max, -1
        return distances, ids


class PadsToK(_Wrapped):
    """Returns k columns, padded with -1, when k exceeds ntotal (no cap)."""

    def search(self, queries, k):
        distances, ids = self.inner.search(queries, k)
        pad = ((0, 0), (0, k - ids.shape[1]))
        return np.pad(distances, pad, constant_values=-1), np.pad(ids, pad, constant_values=-1)


class IgnoresTheBudget(_Wrapped):
    def range_search(self, queries, radius, **budget):
        return self.inner.range_search(queries, radius)


class Int64Distances(_Wrapped):
    def search(self, queries, k):
        distances, ids = self.inner.search(queries, k)
        return distances.astype(np.int64), ids


class AcceptsKZero(_Wrapped):
    def search(self, queries, k):
        if isinstance(k, int) and k < 1:
            n = np.asarray(queries).shape[0]
            return np.empty((n, 0), np.int32), np.empty((n, 0), np.int64)
        return self.inner.search(queries, k)


class ForgetsToReset(_Wrapped):
    def reset(self):
        return self


class RangeOneTooFar(_Wrapped):
    def range_search(self, queries, radius, **budget):
        return self.inner.range_search(queries, radius + 1, **budget)


class LosesCodesOnSave(_Wrapped):
    def save(self, path):
        return LinearScanIndex(self.inner.n_bits).add(self.inner.codes[:-1]).save(path)


@pytest.mark.parametrize(
    ("broken", "exact", "rule", "detail"),
    [
        (LargestIdWinsTies, True, "tie rule", "equal distances break by the smaller id"),
        (DescendingIdsInRanges, True, "sorted by (distance, id)", "range_search"),
        (PadsDistancesLikeFaiss, False, "padding", "must be -1 in both arrays"),
        (PadsToK, True, "k capped", "must return int32 and int64 arrays of shape"),
        (IgnoresTheBudget, True, "result budget", "no RangeResultLimitError was raised"),
        (Int64Distances, True, "result types", "must return int32 and int64"),
        (AcceptsKZero, True, "argument checks", "search(queries, k=0) must raise ValueError"),
        (ForgetsToReset, True, "reset", "after reset()"),
        (RangeOneTooFar, True, "exact range search", "brute force"),
        (RangeOneTooFar, False, "subset of exact range", "beyond the radius"),
        (LosesCodesOnSave, True, "save/load round trip", "after hashlearn.load differs"),
    ],
)
def test_fails_on_a_broken_index_naming_the_rule(broken, exact, rule, detail):
    with pytest.raises(AssertionError) as error:
        check_index(broken, n_bits=(13,), n_database=40, exact=exact)
    message = str(error.value)
    assert f"{broken.__qualname__} breaks the index contract, rule '{rule}'" in message
    assert detail in message


def test_bad_n_bits_argument():
    with pytest.raises(ValueError, match="n_bits must be an int >= 1"):
        check_index(LinearScanIndex, n_bits=0)
    with pytest.raises(ValueError, match="n_bits must be an int >= 1"):
        check_index(LinearScanIndex, n_bits=())

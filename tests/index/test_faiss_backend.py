"""The FAISS backend: exactness against LinearScanIndex, the stated guarantees, the extra."""

from __future__ import annotations

import doctest
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hashlearn
from hashlearn.codes import pack_bits, unpack_bits
from hashlearn.index import LinearScanIndex
from hashlearn.index import faiss_backend as fb
from hashlearn.index.faiss_backend import (
    FaissBinaryFlat,
    FaissBinaryHash,
    FaissBinaryMultiHash,
)
from hashlearn.testing import hamming_distances_reference

N_BITS = [1, 3, 8, 13, 31, 64, 70, 256]
FAISS_CLASSES = [FaissBinaryFlat, FaissBinaryHash, FaissBinaryMultiHash]
# Most tests run faiss on one thread: on a busy machine, the spin-waiting OpenMP threads of
# faiss can slow each call (and numba's threads beside them) by orders of magnitude.
PROPERTY_SETTINGS = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.fixture
def faiss():
    return pytest.importorskip("faiss")


def assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype, (x.dtype, y.dtype)
        np.testing.assert_array_equal(x, y)


@st.composite
def code_sets(draw, n_bits=None, max_items=120):
    """(n_bits, database, queries), drawn from a small pool of codes so ties abound."""
    if n_bits is None:
        n_bits = draw(st.sampled_from(N_BITS) | st.integers(1, 80))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    pool = pack_bits(rng.integers(0, 2, size=(draw(st.integers(1, 12)), n_bits)))
    n_items = draw(st.integers(0, max_items))
    database = pool[rng.integers(0, pool.shape[0], n_items)]
    if draw(st.booleans()):  # some fresh codes as well as repeated ones
        database = np.concatenate([database, pack_bits(rng.integers(0, 2, (n_items, n_bits)))])
    queries = np.concatenate(
        [pool[: draw(st.integers(0, 3))], pack_bits(rng.integers(0, 2, (5, n_bits)))]
    )
    return n_bits, database, queries


# -- the optional extra ---------------------------------------------------------------------
def test_importing_hashlearn_and_the_backend_never_imports_faiss():
    code = (
        "import sys, hashlearn, hashlearn.index, hashlearn.index.faiss_backend, "
        "hashlearn.index.factory; assert 'faiss' not in sys.modules, 'faiss imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("cls", FAISS_CLASSES)
def test_missing_faiss_names_the_extra(monkeypatch, cls):
    monkeypatch.setitem(sys.modules, "faiss", None)  # `import faiss` now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'hashlearn\[faiss\]'"):
        cls(16)
    with pytest.raises(ImportError, match=r"hashlearn\[faiss\]"):
        fb.import_faiss()


def test_loading_a_faiss_index_without_faiss_names_the_extra(faiss, monkeypatch, tmp_path):
    path = FaissBinaryFlat(8).add(np.zeros((2, 1), np.uint8)).save(tmp_path / "flat.hl")
    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(ImportError, match=r"hashlearn\[faiss\]"):
        hashlearn.load(path)


# -- FaissBinaryFlat is LinearScanIndex -------------------------------------------------------
@PROPERTY_SETTINGS
@given(data=code_sets(), k=st.integers(1, 300), radius=st.integers(0, 90))
def test_flat_equals_linear_scan(data, k, radius):
    pytest.importorskip("faiss")
    n_bits, database, queries = data
    exact = LinearScanIndex(n_bits).add(database)
    index = FaissBinaryFlat(n_bits, n_threads=1).add(database)
    assert_same(index.search(queries, k), exact.search(queries, k))
    assert_same(index.range_search(queries, radius), exact.range_search(queries, radius))


@pytest.mark.parametrize("n_bits", N_BITS)
def test_flat_equals_linear_scan_with_heavy_ties(faiss, n_bits):
    # Few distinct codes and many copies: the k-th distance is tied far beyond
    # k + max(k, 16), so the tie completion runs; several queries share a threshold.
    rng = np.random.default_rng(n_bits)
    pool = pack_bits(rng.integers(0, 2, size=(4, n_bits)))
    database = pool[rng.integers(0, 4, 700)]
    queries = np.concatenate([pool, pack_bits(rng.integers(0, 2, (30, n_bits)))])
    exact = LinearScanIndex(n_bits).add(database)
    index = FaissBinaryFlat(n_bits, n_threads=1).add(database)
    for k in (1, 5, 17, 100, 350, 699, 700, 701):
        assert_same(index.search(queries, k), exact.search(queries, k))
    for radius in (0, 1, n_bits // 2, n_bits):
        assert_same(index.range_search(queries, radius), exact.range_search(queries, radius))


def test_tie_completion_is_blocked_and_exact(faiss, monkeypatch):
    monkeypatch.setattr(fb, "_COMPLETION_BLOCK", 1000)  # 2 queries per range search
    rng = np.random.default_rng(1)
    database = pack_bits(rng.integers(0, 2, size=(500, 3)))
    queries = pack_bits(rng.integers(0, 2, size=(9, 3)))
    exact = LinearScanIndex(3).add(database)
    assert_same(FaissBinaryFlat(3).add(database).search(queries, 10), exact.search(queries, 10))


# -- hash indexes: exactly their candidates, hence exact under the stated conditions --------
def hash_candidates(database, queries, tables, probe_radius):
    """(n_queries, n) mask of the codes faiss probes: keys within probe_radius of the query's."""
    n_bits = database.shape[1] * 8
    bits_db = unpack_bits(database, n_bits)
    bits_q = unpack_bits(queries, n_bits)
    mask = np.zeros((queries.shape[0], database.shape[0]), dtype=bool)
    for start, stop in tables:
        key_distance = (bits_q[:, None, start:stop] != bits_db[None, :, start:stop]).sum(axis=2)
        mask |= key_distance <= probe_radius
    return mask


def expected_results(database, queries, k, radius, tables, probe_radius):
    """k-NN and range results restricted to the probed candidates, in (distance, id) order."""
    D = hamming_distances_reference(queries, database)
    probed = hash_candidates(database, queries, tables, probe_radius)
    k = min(k, database.shape[0])  # search caps k at the number of stored codes
    dist = np.full((queries.shape[0], k), -1, dtype=np.int32)
    ids = np.full((queries.shape[0], k), -1, dtype=np.int64)
    lims, range_d, range_i = [0], [], []
    for i in range(queries.shape[0]):
        candidates = np.flatnonzero(probed[i])
        order = candidates[np.lexsort((candidates, D[i, candidates]))]
        top = order[:k]
        dist[i, : top.size], ids[i, : top.size] = D[i, top], top
        hit = order[D[i, order] <= radius]
        range_d.append(D[i, hit])
        range_i.append(hit)
        lims.append(lims[-1] + hit.size)
    return (dist, ids), (
        np.array(lims, dtype=np.int64),
        np.concatenate(range_d).astype(np.int32),
        np.concatenate(range_i).astype(np.int64),
    )


def affordable_probe_radius(b, probe_radius, max_probes=3000):
    """``probe_radius`` lowered until a table needs at most ``max_probes`` probes (fast tests)."""
    while (
        probe_radius > 0
        and sum(math.comb(b, i) for i in range(min(probe_radius, b) + 1)) > max_probes
    ):
        probe_radius -= 1
    return probe_radius


def check_against_exact(index, database, queries, k, radius, exact_range, exact_knn_when):
    """Range: a subset of the exact answer, equal when `exact_range`; k-NN likewise."""
    oracle = LinearScanIndex(index.n_bits).add(database) if database.size else None
    lims, dist, ids = index.range_search(queries, radius)
    if oracle is None:
        assert lims[-1] == 0
        return
    ex_lims, ex_dist, ex_ids = oracle.range_search(queries, radius)
    for i in range(queries.shape[0]):
        got = set(zip(dist[lims[i] : lims[i + 1]], ids[lims[i] : lims[i + 1]], strict=True))
        want = set(
            zip(
                ex_dist[ex_lims[i] : ex_lims[i + 1]],
                ex_ids[ex_lims[i] : ex_lims[i + 1]],
                strict=True,
            )
        )
        assert got <= want
    if exact_range:
        assert_same((lims, dist, ids), (ex_lims, ex_dist, ex_ids))
    ex_d, ex_i = oracle.search(queries, k)
    got_d, got_i = index.search(queries, k)
    kth = ex_d[:, min(k, database.shape[0]) - 1]
    for i in np.flatnonzero(exact_knn_when(kth)):
        np.testing.assert_array_equal(got_d[i], ex_d[i])
        np.testing.assert_array_equal(got_i[i], ex_i[i])


@PROPERTY_SETTINGS
@given(
    data=code_sets(max_items=80),
    b_frac=st.floats(0, 1),
    probe_radius=st.integers(0, 6),
    k=st.integers(1, 100),
    radius=st.integers(0, 12),
)
def test_hash_returns_exactly_its_candidates_and_is_exact_when_promised(
    data, b_frac, probe_radius, k, radius
):
    pytest.importorskip("faiss")
    n_bits, database, queries = data
    b = max(1, round(b_frac * min(n_bits, 63)))
    probe_radius = affordable_probe_radius(b, probe_radius)
    index = FaissBinaryHash(n_bits, bits_per_table=b, probe_radius=probe_radius, n_threads=1).add(
        database
    )
    knn, rng = expected_results(database, queries, k, radius, [(0, b)], min(probe_radius, b))
    assert_same(index.search(queries, k), knn)
    assert_same(index.range_search(queries, radius), rng)
    check_against_exact(
        index,
        database,
        queries,
        k,
        radius,
        exact_range=probe_radius >= min(radius, b),
        exact_knn_when=lambda kth: probe_radius >= np.minimum(kth, b),
    )


@PROPERTY_SETTINGS
@given(
    data=code_sets(max_items=80),
    n_tables_frac=st.floats(0, 1),
    b_frac=st.floats(0, 1),
    probe_radius=st.integers(0, 4),
    k=st.integers(1, 100),
    radius=st.integers(0, 16),
)
def test_multihash_returns_exactly_its_candidates_and_is_exact_when_promised(
    data, n_tables_frac, b_frac, probe_radius, k, radius
):
    pytest.importorskip("faiss")
    n_bits, database, queries = data
    b = max(1, round(b_frac * min(n_bits, 63)))
    n_tables = max(1, round(n_tables_frac * (n_bits // b)))
    probe_radius = affordable_probe_radius(b, probe_radius)
    index = FaissBinaryMultiHash(
        n_bits, n_tables=n_tables, bits_per_table=b, probe_radius=probe_radius, n_threads=1
    )
    index.add(database)
    tables = [(h * b, (h + 1) * b) for h in range(n_tables)]
    knn, rng = expected_results(database, queries, k, radius, tables, min(probe_radius, b))
    assert_same(index.search(queries, k), knn)
    assert_same(index.range_search(queries, radius), rng)
    check_against_exact(
        index,
        database,
        queries,
        k,
        radius,
        exact_range=probe_radius >= min(radius // n_tables, b),
        exact_knn_when=lambda kth: probe_radius >= np.minimum(kth // n_tables, b),
    )


@pytest.mark.parametrize("n_bits", [13, 64, 70])
def test_hash_range_is_exact_at_the_boundary_nflip_equals_radius(faiss, n_bits):
    # faiss's wiki says buckets "at a Hamming distance < probe_radius" are visited; the code
    # visits <= probe_radius, which is what makes probe_radius == radius exact.
    rng = np.random.default_rng(n_bits)
    query = pack_bits(rng.integers(0, 2, (1, n_bits)))
    bits = np.repeat(unpack_bits(query, n_bits), 40, axis=0)
    for row in range(40):  # codes at distance 0..4 from the query, flips in the key bits
        bits[row, rng.choice(8, size=row % 5, replace=False)] ^= 1
    database = pack_bits(bits)
    exact = LinearScanIndex(n_bits).add(database)
    for radius in range(5):
        hashed = FaissBinaryHash(n_bits, bits_per_table=8, probe_radius=radius).add(database)
        assert_same(hashed.range_search(query, radius), exact.range_search(query, radius))
        multi = FaissBinaryMultiHash(
            n_bits, n_tables=2, bits_per_table=4, probe_radius=radius // 2
        ).add(database)
        assert_same(multi.range_search(query, radius), exact.range_search(query, radius))
    below = FaissBinaryHash(n_bits, bits_per_table=8, probe_radius=3).add(database)
    assert below.range_search(query, 4)[0][-1] < exact.range_search(query, 4)[0][-1]


@pytest.mark.parametrize("cls", [FaissBinaryHash, FaissBinaryMultiHash])
def test_results_grow_with_nflip_and_are_exact_once_every_bucket_is_probed(faiss, cls):
    rng = np.random.default_rng(3)
    database = pack_bits(rng.integers(0, 2, (300, 24)))
    queries = pack_bits(rng.integers(0, 2, (20, 24)))
    index = cls(24, bits_per_table=6).add(database)
    exact = LinearScanIndex(24).add(database)
    previous = np.zeros(21, dtype=np.int64)
    for probe_radius in range(8):
        index.probe_radius = probe_radius
        lims = index.range_search(queries, 9)[0]
        assert np.all(lims >= previous)
        previous = lims
    assert index.probe_radius == 7
    assert_same(index.search(queries, 10), exact.search(queries, 10))
    assert_same(index.range_search(queries, 24), exact.range_search(queries, 24))


def test_more_queries_than_faiss_parallel_threshold(faiss):
    # faiss's hash indexes run queries in parallel above 100 queries; n_threads > 1.
    rng = np.random.default_rng(4)
    database = pack_bits(rng.integers(0, 2, (2000, 20)))
    queries = pack_bits(rng.integers(0, 2, (300, 20)))
    one = FaissBinaryMultiHash(20, bits_per_table=5, probe_radius=5, n_threads=1).add(database)
    two = FaissBinaryMultiHash(20, bits_per_table=5, probe_radius=5, n_threads=2).add(database)
    exact = LinearScanIndex(20).add(database)
    for index in (one, two):
        assert_same(index.search(queries, 15), exact.search(queries, 15))
        assert_same(index.range_search(queries, 6), exact.range_search(queries, 6))


# -- beyond the shared contract (tests/index/test_index_contract.py) -------------------------
def test_hash_pads_when_fewer_candidates_than_k(faiss):
    database = pack_bits([[0, 0, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 1, 1]])
    dist, ids = FaissBinaryHash(4, bits_per_table=4).add(database).search(database[:1], 3)
    assert_same((dist, ids), (np.array([[0, 0, -1]], np.int32), np.array([[0, 1, -1]])))


@pytest.mark.parametrize("cls", FAISS_CLASSES)
def test_reset_rebuilds_the_faiss_index(faiss, cls):
    rng = np.random.default_rng(5)
    database = pack_bits(rng.integers(0, 2, (200, 16)))
    queries = pack_bits(rng.integers(0, 2, (10, 16)))
    kwargs = {} if cls is FaissBinaryFlat else {"bits_per_table": 8, "probe_radius": 8}
    index = cls(16, **kwargs).add(database)
    index.reset()  # faiss's IndexBinaryMultiHash::reset leaves its maps filled
    assert index.ntotal == 0 and index.faiss_index.ntotal == 0
    index.add(database[:30])
    exact = LinearScanIndex(16).add(database[:30])
    assert_same(index.search(queries, 40), exact.search(queries, 40))
    assert_same(index.range_search(queries, 16), exact.range_search(queries, 16))


# -- parameters, threads, persistence ------------------------------------------------------
def test_parameters_defaults_and_validation(faiss):
    assert FaissBinaryHash(64).bits_per_table == 16 and FaissBinaryHash(13).bits_per_table == 13
    assert FaissBinaryHash(70, bits_per_table=63).faiss_d == 72
    hashed = FaissBinaryHash(32, bits_per_table=10, probe_radius=2)
    assert (hashed.bits_per_table, hashed.probe_radius, hashed.n_probes) == (10, 2, 1 + 10 + 45)
    multi = FaissBinaryMultiHash(64)
    assert (multi.n_tables, multi.bits_per_table) == (4, 16)
    assert (
        FaissBinaryMultiHash(64, n_tables=3).bits_per_table,
        FaissBinaryMultiHash(64, bits_per_table=20).n_tables,
    ) == (21, 3)
    assert FaissBinaryMultiHash(256, n_tables=2).bits_per_table == 63
    assert FaissBinaryMultiHash(13, n_tables=2, bits_per_table=4, probe_radius=1).n_probes == 2 * 5
    with pytest.raises(
        ValueError, match=r"bits_per_table \(bits per hash key\) must be in \[1, 13\]"
    ):
        FaissBinaryHash(13, bits_per_table=14)
    with pytest.raises(ValueError, match=r"\[1, 63\]"):
        FaissBinaryHash(64, bits_per_table=64)
    with pytest.raises(ValueError, match="probe_radius must be in"):
        FaissBinaryHash(16, probe_radius=-1)
    with pytest.raises(ValueError, match="probe_radius must be in"):
        hashed.probe_radius = -2
    with pytest.raises(ValueError, match="n_tables \\* bits_per_table must be <= n_bits"):
        FaissBinaryMultiHash(16, n_tables=3, bits_per_table=6)
    with pytest.raises(ValueError, match="n_tables must be in"):
        FaissBinaryMultiHash(8, n_tables=9)
    with pytest.raises(ValueError, match="n_threads must be in"):
        FaissBinaryFlat(8, n_threads=0)
    with pytest.raises(TypeError, match="n_threads must be an int"):
        FaissBinaryFlat(8, n_threads=1.5)
    with pytest.raises(ValueError, match="n_bits must be in"):
        FaissBinaryFlat(0)
    assert "bits_per_table=10, probe_radius=2" in repr(hashed)


def test_n_threads_is_set_during_calls_and_restored(faiss):
    seen = []

    class Spy:
        """Stands in for the faiss index and records the thread count it runs under."""

        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            attribute = getattr(self.inner, name)
            if name in ("add", "search", "range_search"):

                def call(*args):
                    seen.append(faiss.omp_get_max_threads())
                    return attribute(*args)

                return call
            return attribute

    previous = faiss.omp_get_max_threads()
    try:
        faiss.omp_set_num_threads(3)
        index = FaissBinaryFlat(8, n_threads=1)
        index._index = Spy(index._index)
        database = np.arange(40, dtype=np.uint8).reshape(-1, 1)
        index.add(database).search(database, 2)
        index.range_search(database, 1)
        assert seen == [1, 1, 1] and faiss.omp_get_max_threads() == 3
        index.n_threads = None
        index.search(database, 2)
        assert seen[-1] == 3
    finally:
        faiss.omp_set_num_threads(previous)


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (FaissBinaryFlat, {"n_threads": 2}),
        (FaissBinaryHash, {"bits_per_table": 9, "probe_radius": 2}),
        (
            FaissBinaryMultiHash,
            {"n_tables": 3, "bits_per_table": 4, "probe_radius": 1, "n_threads": 1},
        ),
    ],
)
@pytest.mark.parametrize("n_bits", [13, 64])
def test_save_load_round_trip(faiss, tmp_path, cls, kwargs, n_bits):
    rng = np.random.default_rng(n_bits)
    database = pack_bits(rng.integers(0, 2, (300, n_bits)))
    queries = pack_bits(rng.integers(0, 2, (15, n_bits)))
    index = cls(n_bits, **kwargs).add(database)
    path = index.save(tmp_path / "index.hashlearn")
    loaded = hashlearn.load(path)
    assert type(loaded) is cls and repr(loaded) == repr(index)
    for name, value in kwargs.items():
        assert getattr(loaded, name) == value
    np.testing.assert_array_equal(loaded.codes, database)
    assert_same(loaded.search(queries, 7), index.search(queries, 7))
    assert_same(loaded.range_search(queries, 5), index.range_search(queries, 5))
    np.testing.assert_array_equal(np.load(path)["codes"], database)  # hashlearn's format


def test_doctests(faiss):
    result = doctest.testmod(fb, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0

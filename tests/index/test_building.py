"""Index folders of multi-index hashing, and folders built out of core (build_index_folder)."""

from __future__ import annotations

import filecmp
import json

import numpy as np
import pytest

import hashlearn.index.building as building
from hashlearn.hashers import LSH
from hashlearn.index import (
    HashTableIndex,
    LinearScanIndex,
    MultiIndexHashing,
    append_to_index_folder,
    build_index_folder,
    load_index_folder,
)
from hashlearn.persistence import FileFormatError
from hashlearn.testing import clustered_codes, random_codes


def assert_same_search(index, reference, queries, n_bits):
    for k in (1, 7):
        for got, expected in zip(
            index.search(queries, k), reference.search(queries, k), strict=True
        ):
            np.testing.assert_array_equal(got, expected)
    for radius in (0, max(1, n_bits // 8)):
        got = index.range_search(queries, radius)
        expected = reference.range_search(queries, radius)
        for x, y in zip(got, expected, strict=True):
            np.testing.assert_array_equal(x, y)


def same_npy_files(a, b):
    names = sorted(p.name for p in a.iterdir() if p.suffix == ".npy")
    assert names == sorted(p.name for p in b.iterdir() if p.suffix == ".npy")
    return all(filecmp.cmp(a / name, b / name, shallow=False) for name in names)


# -- MultiIndexHashing folders --------------------------------------------------------------
@pytest.mark.parametrize("n_bits", [13, 64, 128])
@pytest.mark.parametrize("mmap", [True, False])
def test_mih_folder_round_trip_searches_like_the_scan(tmp_path, n_bits, mmap):
    rng = np.random.default_rng(n_bits)
    database = clustered_codes(rng, 3000, n_bits)
    queries = np.concatenate([clustered_codes(rng, 20, n_bits), database[:3]])
    MultiIndexHashing(n_bits).add(database).save_folder(tmp_path / "mih")
    opened = load_index_folder(tmp_path / "mih", mmap=mmap)
    assert isinstance(opened, MultiIndexHashing) and opened.ntotal == 3000
    assert isinstance(opened.codes, np.memmap) == mmap
    assert_same_search(opened, LinearScanIndex(n_bits).add(database), queries, n_bits)


def test_mapped_mih_keeps_one_copy_of_the_codes_and_refuses_add(tmp_path):
    database = random_codes(np.random.default_rng(0), 2000, 64)
    MultiIndexHashing(64, n_tables=4).add(database).save_folder(tmp_path / "mih")
    mapped = load_index_folder(tmp_path / "mih")
    assert mapped.n_tables_ == 4
    assert mapped._tables.codes.size == 0  # codes read by id, not copied per table
    assert load_index_folder(tmp_path / "mih", mmap=False)._tables.copy
    with pytest.raises(ValueError, match="read-only"):
        mapped.add(database[:1])


def test_empty_mih_folder_opens_and_searches(tmp_path):
    MultiIndexHashing(32).save_folder(tmp_path / "empty")
    opened = load_index_folder(tmp_path / "empty")
    assert opened.ntotal == 0
    distances, ids = opened.search(random_codes(np.random.default_rng(1), 2, 32), 3)
    assert distances.shape == (2, 0) and ids.shape == (2, 0)


def test_mih_folder_with_inconsistent_tables_is_refused(tmp_path):
    database = random_codes(np.random.default_rng(2), 500, 64)
    MultiIndexHashing(64).add(database).save_folder(tmp_path / "mih")
    ids = np.load(tmp_path / "mih" / "mih_ids.npy")
    np.save(tmp_path / "mih" / "mih_ids.npy", ids[:, :-1])
    manifest_file = tmp_path / "mih" / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    manifest["arrays"]["mih_ids"]["shape"] = list(ids[:, :-1].shape)
    manifest_file.write_text(json.dumps(manifest))
    with pytest.raises(FileFormatError, match=r"mih_ids\.npy has shape"):
        load_index_folder(tmp_path / "mih")


# -- build_index_folder ----------------------------------------------------------------------
@pytest.mark.parametrize("n_bits", [13, 64, 100])
@pytest.mark.parametrize("cls", [LinearScanIndex, MultiIndexHashing])
def test_built_folder_equals_the_saved_one_byte_for_byte(tmp_path, n_bits, cls):
    database = clustered_codes(np.random.default_rng(n_bits), 2500, n_bits)
    cls(n_bits).add(database).save_folder(tmp_path / "saved")
    np.save(tmp_path / "codes.npy", database)
    build_index_folder(
        tmp_path / "built", tmp_path / "codes.npy", n_bits, index_cls=cls, chunk_size=333
    )
    assert same_npy_files(tmp_path / "saved", tmp_path / "built")
    built = load_index_folder(tmp_path / "built")
    assert type(built) is cls
    queries = clustered_codes(np.random.default_rng(7), 15, n_bits)
    assert_same_search(built, LinearScanIndex(n_bits).add(database), queries, n_bits)


def test_every_kind_of_source_gives_the_same_folder(tmp_path):
    database = random_codes(np.random.default_rng(3), 1000, 40)
    build_index_folder(tmp_path / "array", database, 40)
    build_index_folder(
        tmp_path / "chunks", (database[i : i + 300] for i in range(0, 1000, 300)), 40
    )
    assert same_npy_files(tmp_path / "array", tmp_path / "chunks")
    assert not (tmp_path / "chunks" / ".chunks.raw").exists()
    da = pytest.importorskip("dask.array")
    build_index_folder(tmp_path / "dask", da.from_array(database, chunks=(256, 5)), 40)
    assert same_npy_files(tmp_path / "array", tmp_path / "dask")


def test_hasher_and_parameters_are_kept(tmp_path):
    rng = np.random.default_rng(4)
    hasher = LSH(n_bits=32, random_state=0).fit(rng.standard_normal((200, 8)))
    codes = hasher.encode(rng.standard_normal((400, 8)))
    build_index_folder(tmp_path / "f", codes, 32, n_tables=3, n_threads=1, hasher=hasher)
    opened = load_index_folder(tmp_path / "f")
    assert (opened.n_tables, opened.n_threads) == (3, 1)
    np.testing.assert_array_equal(
        opened.hasher.encode(np.ones((2, 8))), hasher.encode(np.ones((2, 8)))
    )


def test_progress_reports_every_chunk_pass(tmp_path):
    messages = []
    database = random_codes(np.random.default_rng(5), 1000, 64)
    build_index_folder(
        tmp_path / "f", database, 64, n_tables=4, chunk_size=250, progress=messages.append
    )
    assert len(messages) == 4 * (1 + 3 * 4)  # copy; per table, count twice and place
    assert messages[-1] == "table 4/4: ids placed"


def test_append_equals_building_everything_at_once(tmp_path):
    database = clustered_codes(np.random.default_rng(6), 3000, 64)
    build_index_folder(tmp_path / "grown", database[:1000], 64, n_tables=4)
    append_to_index_folder(tmp_path / "grown", database[1000:2000], chunk_size=128)
    append_to_index_folder(tmp_path / "grown", iter([database[2000:2500], database[2500:]]))
    build_index_folder(tmp_path / "once", database, 64, n_tables=4)
    assert same_npy_files(tmp_path / "grown", tmp_path / "once")
    assert load_index_folder(tmp_path / "grown").ntotal == 3000


def test_empty_codes_build_an_empty_index(tmp_path):
    build_index_folder(tmp_path / "f", np.zeros((0, 8), np.uint8), 64)
    assert load_index_folder(tmp_path / "f").ntotal == 0


# -- errors and failures -------------------------------------------------------------------------
def test_a_bad_chunk_is_named_and_the_previous_folder_survives(tmp_path):
    database = random_codes(np.random.default_rng(8), 600, 64)
    build_index_folder(tmp_path / "f", database, 64)
    before = (tmp_path / "f" / "codes.npy").read_bytes()
    chunks = [database[:300], np.zeros((5, 4), np.uint8)]
    with pytest.raises(ValueError, match="chunk 1"):
        build_index_folder(tmp_path / "f", iter(chunks), 64)
    assert (tmp_path / "f" / "codes.npy").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]  # no staging folder left


def test_a_crash_while_sorting_leaves_the_previous_folder(tmp_path, monkeypatch):
    database = random_codes(np.random.default_rng(9), 600, 64)
    build_index_folder(tmp_path / "f", database[:100], 64)

    def crash(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(building, "scatter_ids", crash)
    with pytest.raises(KeyboardInterrupt):
        append_to_index_folder(tmp_path / "f", database[100:])
    assert load_index_folder(tmp_path / "f").ntotal == 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_refusals(tmp_path):
    codes = random_codes(np.random.default_rng(10), 10, 64)
    with pytest.raises(TypeError, match="add_chunks"):
        build_index_folder(tmp_path / "a", codes, 64, index_cls=HashTableIndex)
    with pytest.raises(ValueError, match="at most 26 bits"):
        build_index_folder(tmp_path / "b", codes, 64, n_tables=2)
    with pytest.raises(ValueError, match="chunk_size"):
        build_index_folder(tmp_path / "c", codes, 64, chunk_size=0)
    with pytest.raises(TypeError, match="iterable of code chunks"):
        build_index_folder(tmp_path / "d", 42, 64)
    with pytest.raises(ValueError, match="n_bits=32"):
        build_index_folder(tmp_path / "e", codes, 64, hasher=LSH(n_bits=32).fit(np.ones((4, 3))))
    (tmp_path / "file").write_text("not an index")
    with pytest.raises(FileExistsError, match="not a hashlearn index folder"):
        build_index_folder(tmp_path / "file", codes, 64)
    HashTableIndex(64).add(codes).save_folder(tmp_path / "table")
    with pytest.raises(TypeError, match="holds a HashTableIndex"):
        append_to_index_folder(tmp_path / "table", codes)

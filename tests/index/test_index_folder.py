"""Index folders (save_folder / load_index_folder) and add_chunks."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from hashlearn.codes import pack_bits
from hashlearn.hashers import SignRandomProjection
from hashlearn.index import (
    HashTableIndex,
    LinearScanIndex,
    MultiTableIndex,
    _folder,
    load_index_folder,
)
from hashlearn.persistence import FileFormatError


def _codes(n: int, n_bits: int, seed: int = 0) -> np.ndarray:
    return pack_bits(np.random.default_rng(seed).integers(0, 2, (n, n_bits)))


def _mapped(array: np.ndarray) -> bool:
    """Whether ``array`` is a view of a numpy memory map (walking its ``base`` chain)."""
    while array is not None:
        if isinstance(array, np.memmap):
            return True
        array = array.base  # type: ignore[assignment]
    return False


def _same(first: tuple[np.ndarray, ...], second: tuple[np.ndarray, ...]) -> None:
    assert len(first) == len(second)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


CASES = [
    (LinearScanIndex, 12),
    (LinearScanIndex, 64),
    (LinearScanIndex, 128),
    (HashTableIndex, 12),
    (HashTableIndex, 32),
]


@pytest.mark.parametrize(("cls", "n_bits"), CASES)
@pytest.mark.parametrize("mmap", [True, False])
def test_round_trip_answers_like_the_index_in_memory(tmp_path, cls, n_bits, mmap):
    codes = _codes(1500, n_bits)
    queries = np.concatenate([codes[:10], _codes(10, n_bits, seed=1)])
    index = cls(n_bits).add(codes)
    index.save_folder(tmp_path / "ix")
    opened = load_index_folder(tmp_path / "ix", mmap=mmap)
    assert type(opened) is cls and opened.n_bits == n_bits and opened.ntotal == 1500
    assert _mapped(opened.codes) is mmap
    np.testing.assert_array_equal(opened.codes, index.codes)
    _same(opened.search(queries, 7), index.search(queries, 7))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the hash table may scan instead of probing
        for radius in (0, 1, 2, n_bits // 4):
            _same(opened.range_search(queries, radius), index.range_search(queries, radius))


def test_hash_table_structures_are_mapped_and_probed_in_place(tmp_path):
    index = HashTableIndex(32).add(_codes(2000, 32))
    index.save_folder(tmp_path / "ix")
    opened = load_index_folder(tmp_path / "ix")
    assert isinstance(opened, HashTableIndex)
    for array in (opened.bucket_keys_, opened.bucket_offsets_, opened.bucket_ids_):
        assert _mapped(array) and not array.flags.writeable
    queries = _codes(20, 32, seed=3)
    opened.lookup_cost = index.lookup_cost = 1  # probe 33 keys rather than scan 2000
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # radius 1 probes 33 keys: the table, not the scan
        _same(opened.range_search(queries, 1), index.range_search(queries, 1))
        _same(opened.probe(queries, 1), index.probe(queries, 1))


def test_empty_index_and_hasher_round_trip(tmp_path):
    X = np.random.default_rng(0).normal(size=(50, 6))
    hasher = SignRandomProjection(n_bits=16, random_state=0).fit(X)
    LinearScanIndex(16, hasher=hasher).save_folder(tmp_path / "empty")
    opened = load_index_folder(tmp_path / "empty")
    assert opened.ntotal == 0 and opened.search(hasher.encode(X[:2]), 3)[0].shape == (2, 0)
    np.testing.assert_array_equal(opened.hasher.encode(X), hasher.encode(X))
    manifest = json.loads((tmp_path / "empty" / "manifest.json").read_text())
    assert manifest["class"] == "LinearScanIndex" and manifest["hasher"] == "hasher.hlz"
    assert manifest["arrays"]["codes"]["shape"] == [0, 8]


def test_add_to_a_mapped_index_raises_and_unmapped_adds(tmp_path):
    codes = _codes(100, 24)
    LinearScanIndex(24).add(codes).save_folder(tmp_path / "ix")
    mapped = load_index_folder(tmp_path / "ix")
    with pytest.raises(ValueError, match=r"read-only.*mmap=False"):
        mapped.add(codes[:3])
    assert mapped.ntotal == 100
    grown = load_index_folder(tmp_path / "ix", mmap=False).add(codes[:3])
    assert grown.ntotal == 103
    _same(
        grown.search(codes[:3], 2),
        LinearScanIndex(24).add(codes).add(codes[:3]).search(codes[:3], 2),
    )
    assert mapped.reset().add(codes[:4]).ntotal == 4


def test_an_index_without_folder_support_says_so(tmp_path):
    with pytest.raises(TypeError, match="HashTableIndex and MultiIndexHashing can"):
        MultiTableIndex(32).save_folder(tmp_path / "ix")


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "ix"
    HashTableIndex(16).add(_codes(300, 16)).save_folder(path)
    return path


def _edit_manifest(folder, **changes):
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.update(changes)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_missing_manifest(folder):
    (folder / "manifest.json").unlink()
    with pytest.raises(FileFormatError, match=r"manifest\.json is missing"):
        load_index_folder(folder)


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_index_folder(tmp_path / "nowhere")


def test_other_format_version(folder):
    _edit_manifest(folder, format_version=99)
    with pytest.raises(FileFormatError, match="format_version=99"):
        load_index_folder(folder)


def test_missing_array(folder):
    (folder / "bucket_ids.npy").unlink()
    with pytest.raises(FileFormatError, match=r"bucket_ids\.npy is missing"):
        load_index_folder(folder)


@pytest.mark.parametrize("mmap", [True, False])
def test_truncated_array(folder, mmap):
    data = (folder / "codes.npy").read_bytes()
    (folder / "codes.npy").write_bytes(data[: len(data) // 2])
    with pytest.raises(FileFormatError, match=r"codes\.npy cannot be read"):
        load_index_folder(folder, mmap=mmap)


def test_array_of_other_shape_than_the_manifest(folder):
    np.save(folder / "bucket_ids.npy", np.arange(299, dtype=np.int64))
    with pytest.raises(FileFormatError, match=r"bucket_ids\.npy holds"):
        load_index_folder(folder)


def test_ntotal_that_disagrees_with_the_codes(folder):
    _edit_manifest(folder, ntotal=301)
    with pytest.raises(FileFormatError, match="ntotal=301"):
        load_index_folder(folder)


def test_bucket_offsets_that_do_not_cover_the_codes(folder):
    offsets = np.load(folder / "bucket_offsets.npy")
    offsets[-1] -= 1
    np.save(folder / "bucket_offsets.npy", offsets)
    with pytest.raises(FileFormatError, match="bucket offsets"):
        load_index_folder(folder)


def test_save_replaces_an_index_folder_only(tmp_path, folder):
    other = tmp_path / "data"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a hashlearn index folder"):
        LinearScanIndex(8).save_folder(other)
    assert (other / "keep.txt").read_text() == "mine"
    LinearScanIndex(8).add(_codes(5, 8)).save_folder(folder)
    assert load_index_folder(folder).ntotal == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "ix"]


def test_failed_save_leaves_the_previous_folder_intact(tmp_path, folder, monkeypatch):
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    calls = []

    def failing_save(file, array, allow_pickle=True):
        calls.append(array.shape)
        if len(calls) == 2:
            raise OSError("disk full")
        return real_save(file, array, allow_pickle=allow_pickle)

    real_save = np.save
    monkeypatch.setattr(_folder.np, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        HashTableIndex(16).add(_codes(50, 16, seed=9)).save_folder(folder)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ix"]  # no staging folder left
    assert load_index_folder(folder).ntotal == 300


def test_a_mapped_index_can_be_saved_over_its_own_folder(folder):
    mapped = load_index_folder(folder)
    expected = mapped.search(mapped.codes[:5], 3)
    mapped.save_folder(folder)
    _same(mapped.search(mapped.codes[:5], 3), expected)
    _same(load_index_folder(folder).search(mapped.codes[:5], 3), expected)


# -- add_chunks ------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [LinearScanIndex, HashTableIndex])
def test_add_chunks_equals_add(tmp_path, cls):
    codes = _codes(1000, 20)
    expected = cls(20).add(codes)
    from_list = cls(20).add_chunks([codes[:300], codes[300:301], codes[301:]])
    path = tmp_path / "codes.npy"
    np.save(path, codes)
    messages: list[str] = []
    from_file = cls(20).add_chunks(path, chunk_size=128, progress=messages.append)
    from_gen = cls(20).add_chunks(codes[i : i + 77] for i in range(0, 1000, 77))
    for index in (from_list, from_file, from_gen):
        np.testing.assert_array_equal(index.codes, expected.codes)
        _same(index.search(codes[:9], 5), expected.search(codes[:9], 5))
    assert len(messages) == 8 and messages[-1] == "1000 codes"


def test_add_chunks_progress_bar(tmp_path, capsys):
    LinearScanIndex(8).add_chunks([_codes(4, 8), _codes(4, 8)], progress=True)
    assert "2/2" in capsys.readouterr().err


def test_add_chunks_refuses_a_file_of_other_codes(tmp_path):
    path = tmp_path / "codes.npy"
    np.save(path, _codes(10, 32))
    with pytest.raises(ValueError, match=r"uint8 \(n, 2\)"):
        LinearScanIndex(16).add_chunks(path)
    with pytest.raises(ValueError, match="chunk_size"):
        LinearScanIndex(32).add_chunks(path, chunk_size=0)


def test_add_chunks_keeps_the_chunks_before_a_bad_one():
    index = LinearScanIndex(16)
    with pytest.raises(ValueError):
        index.add_chunks([_codes(5, 16), _codes(5, 24)])
    assert index.ntotal == 5

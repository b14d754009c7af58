"""Hostile files: crafted and damaged hashlearn files, and saves over links and modes.

Every refusal is :class:`hashlearn.persistence.FileFormatError` (a ``ValueError``) naming
the file; nothing here allocates more than a few kilobytes, whatever a header declares.
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
import time
import zipfile

import numpy as np
import pytest

import hashlearn
from hashlearn import _io, persistence
from hashlearn.hashers import LSH, GraphRegularisedHashing
from hashlearn.index import LinearScanIndex, MultiIndexHashing

FileFormatError = getattr(persistence, "FileFormatError", None)


@pytest.fixture
def saved(tmp_path):
    X = np.random.default_rng(0).normal(size=(30, 5))
    hasher = LSH(9, random_state=0).fit(X)
    return hasher, X, hasher.save(tmp_path / "lsh.hlz")


def _members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _edit(source, target, edit_meta=None, extra=None, compression=zipfile.ZIP_STORED):
    """Copy ``source`` to ``target`` with its metadata edited and members added."""
    members = _members(source)
    if edit_meta is not None:
        meta = json.loads(members["hashlearn.json"])
        edited = edit_meta(meta)
        meta = meta if edited is None else edited
        members["hashlearn.json"] = json.dumps(meta).encode()
    members.update(extra or {})
    return _write(target, members, compression)


def _npy_header(shape, dtype="<f8"):
    """A ``.npy`` header declaring ``shape`` with (almost) no data behind it."""
    buffer = io.BytesIO()
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + b"\0" * 16


def _refused(path, match):
    assert FileFormatError is not None, "hashlearn.persistence.FileFormatError is missing"
    with pytest.raises(FileFormatError, match=match) as info:
        hashlearn.load(path)
    assert str(path) in str(info.value)
    return info.value


# -- item 1: what is read, and how much ------------------------------------------------------
def test_members_the_metadata_does_not_list_are_not_read(saved, tmp_path):
    hasher, X, path = saved
    crafted = _edit(path, tmp_path / "extra.hlz", extra={"junk.npy": _npy_header((10**6, 10**6))})
    loaded = hashlearn.load(crafted)
    np.testing.assert_array_equal(loaded.encode(X), hasher.encode(X))


def test_header_declaring_terabytes_is_refused_before_allocating(saved, tmp_path):
    _, _, path = saved
    crafted = _edit(path, tmp_path / "huge.hlz", extra={"mean_.npy": _npy_header((10**6, 10**6))})
    _refused(crafted, r"mean_\.npy declares shape \(1000000, 1000000\)")


def test_header_declaring_fewer_bytes_than_stored_is_refused(saved, tmp_path):
    _, _, path = saved
    data = io.BytesIO()
    np.save(data, np.zeros(5))
    crafted = _edit(path, tmp_path / "short.hlz", extra={"mean_.npy": data.getvalue() + b"x" * 8})
    _refused(crafted, r"mean_\.npy declares shape \(5,\)")


def test_compressed_members_are_refused(saved, tmp_path):
    _, _, path = saved
    crafted = _edit(path, tmp_path / "deflated.hlz", compression=zipfile.ZIP_DEFLATED)
    _refused(crafted, "compressed")


@pytest.mark.parametrize("dtype", ["|O", "<U3", [("a", "<f8")], "<c16"])
def test_arrays_other_than_numbers_are_refused(saved, tmp_path, dtype):
    _, _, path = saved
    buffer = io.BytesIO()
    header = {"descr": dtype, "fortran_order": False, "shape": (0,)}
    np.lib.format.write_array_header_1_0(buffer, header)
    crafted = _edit(path, tmp_path / "dtype.hlz", extra={"mean_.npy": buffer.getvalue()})
    _refused(crafted, r"mean_\.npy has dtype")


def test_deeply_nested_metadata_is_refused(saved, tmp_path):
    _, _, path = saved
    deep = "[" * 100_000 + "]" * 100_000
    members = _members(path)
    text = members["hashlearn.json"].decode()
    text = text.replace('"attributes": {', f'"attributes": {{"x_": {deep}, ', 1)
    members["hashlearn.json"] = text.encode()
    _refused(_write(tmp_path / "deep.hlz", members), "nests 100002 levels deep")


def test_oversized_metadata_is_refused(saved, tmp_path, monkeypatch):
    _, _, path = saved
    monkeypatch.setattr(persistence, "MAX_METADATA_BYTES", 64, raising=False)
    _refused(path, r"metadata hashlearn\.json is \d+ bytes, more than the 64 allowed")


# -- item 2: one error type, naming the file -------------------------------------------------
def test_metadata_that_is_a_list_is_refused(saved, tmp_path):
    _, _, path = saved
    crafted = _edit(path, tmp_path / "list.hlz", edit_meta=lambda meta: [meta])
    _refused(crafted, "metadata must be a JSON object")


def test_truncated_file_raises_the_documented_error(saved, tmp_path):
    _, _, path = saved
    truncated = tmp_path / "truncated.hlz"
    truncated.write_bytes(path.read_bytes()[:-30])
    error = _refused(truncated, "corrupt or not a hashlearn file")
    assert isinstance(error, ValueError)


def test_index_file_naming_another_index_class_is_refused(tmp_path):
    codes = np.random.default_rng(0).integers(0, 256, size=(20, 2), dtype=np.uint8)
    path = MultiIndexHashing(16).add(codes).save(tmp_path / "mih.hlz")
    relabel = {"class": "LinearScanIndex"}
    crafted = _edit(path, tmp_path / "other.hlz", edit_meta=lambda meta: meta.update(relabel))
    _refused(crafted, "n_tables")


def test_a_nested_hasher_that_is_an_index_is_refused(tmp_path):
    codes = np.random.default_rng(0).integers(0, 256, size=(20, 2), dtype=np.uint8)
    path = LinearScanIndex(16).add(codes).save(tmp_path / "scan.hlz")
    nested = {"class": "LinearScanIndex", "params": {"n_bits": 16}, "attributes": {}}
    crafted = _edit(
        path,
        tmp_path / "nested.hlz",
        edit_meta=lambda meta: meta["attributes"].update(hasher=nested),
    )
    _refused(crafted, "kind 'hasher' does not match class LinearScanIndex")


# -- item 3: what the loader sets ------------------------------------------------------------
@pytest.mark.parametrize("name", ["encode", "_private_", "n_bits", "__class__"])
def test_only_learned_attributes_are_set(saved, tmp_path, name):
    _, _, path = saved
    crafted = _edit(
        path, tmp_path / "attr.hlz", edit_meta=lambda meta: meta["attributes"].update({name: 1})
    )
    _refused(crafted, "is not a learned attribute of SignRandomProjection")


def test_an_array_cannot_replace_a_method(saved, tmp_path):
    _, _, path = saved
    data = io.BytesIO()
    np.save(data, np.zeros(3))
    crafted = _edit(
        path,
        tmp_path / "method.hlz",
        edit_meta=lambda meta: meta["arrays"].append("encode"),
        extra={"encode.npy": data.getvalue()},
    )
    _refused(crafted, "'encode' is not a learned attribute")


def test_attribute_values_must_be_plain(saved, tmp_path):
    _, _, path = saved
    crafted = _edit(
        path,
        tmp_path / "value.hlz",
        edit_meta=lambda meta: meta["attributes"].update(extra_=[[1, 2], {"a": 1}]),
    )
    _refused(crafted, "attribute extra_ must be a number")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # a bit fell back to a median hyperplane
def test_parameters_pass_the_estimators_own_checks(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 6)), np.repeat([0, 1], 20)
    path = GraphRegularisedHashing(4, random_state=0).fit(X, y).save(tmp_path / "grh.hlz")
    huge = {"alpha": 1e308}
    crafted = _edit(path, tmp_path / "alpha.hlz", edit_meta=lambda m: m["params"].update(huge))
    _refused(crafted, r"alpha must be in \[0, 1\]")


def test_parameters_must_be_finite(saved, tmp_path):
    _, _, path = saved
    members = _members(path)
    meta = json.loads(members["hashlearn.json"])
    meta["params"]["centre"] = float("nan")
    members["hashlearn.json"] = json.dumps(meta).encode()  # NaN, as json allows
    _refused(_write(tmp_path / "nan.hlz", members), "parameter centre=nan must be finite")


@pytest.mark.parametrize("version", [0, -1, True, "1", 1.0, None])
def test_format_version_must_be_a_supported_int(saved, tmp_path, version):
    _, _, path = saved
    crafted = _edit(
        path, tmp_path / "v.hlz", edit_meta=lambda meta: meta.update(format_version=version)
    )
    error = _refused(crafted, r"format_version must be an int in 1\.\.1")
    assert "upgrade" not in str(error)


@pytest.mark.parametrize("kind", ["index", "model", None])
def test_kind_must_match_the_class(saved, tmp_path, kind):
    _, _, path = saved
    crafted = _edit(path, tmp_path / "kind.hlz", edit_meta=lambda meta: meta.update(kind=kind))
    _refused(crafted, "kind")


# -- item 4: saving over links, modes and killed saves ---------------------------------------
def test_save_keeps_the_targets_permissions(saved):
    hasher, _, path = saved
    os.chmod(path, 0o600)
    hasher.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_save_writes_through_a_symlink(saved, tmp_path):
    _, X, path = saved
    link = tmp_path / "link.hlz"
    link.symlink_to(path)
    LSH(9, random_state=1).fit(X).save(link)
    assert link.is_symlink() and os.readlink(link) == str(path)
    assert hashlearn.load(path).random_state == 1


def test_stale_temporaries_are_ignored_and_cleaned(saved, tmp_path):
    hasher, X, path = saved
    stale = tmp_path / ".lsh.hlz.k1ll3d.tmp"
    stale.write_bytes(b"half a save")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    fresh = tmp_path / ".lsh.hlz.inflight.tmp"  # another save may still be writing it
    fresh.write_bytes(b"")
    other = tmp_path / ".other.hlz.k1ll3d.tmp"
    other.write_bytes(b"")
    os.utime(other, (old, old))
    np.testing.assert_array_equal(hashlearn.load(path).encode(X), hasher.encode(X))
    hasher.save(path)
    assert not stale.exists()
    assert fresh.exists() and other.exists()


def test_atomic_write_returns_the_path_given(tmp_path):
    target = tmp_path / "real.txt"
    target.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    assert _io.atomic_write_text(link, "new") == link
    assert link.is_symlink() and target.read_text() == "new"


@pytest.mark.parametrize(
    ("param", "message"),
    [("centre", "must be a bool"), ("n_bits", "n_bits"), ("random_state", "random_state")],
)
def test_a_huge_parameter_is_refused(saved, tmp_path, param, message):
    _, _, path = saved
    huge = {param: 1e308}
    crafted = _edit(path, tmp_path / "huge.hlz", edit_meta=lambda m: m["params"].update(huge))
    _refused(crafted, message)


class _RunsCode:
    """Pickles to a call of ``os.mkdir(marker)``: unpickling it would run that call."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.mark.parametrize("where", ["top", "inside"])
def test_a_weights_file_carrying_code_is_refused_without_running_it(tmp_path, where):
    """CNN weights are read with torch.load(weights_only=True): a pickle that would call a
    function is refused, and the call never happens."""
    torch = pytest.importorskip("torch")
    from hashlearn.features.cnn import build_cnn

    marker = tmp_path / "code-ran"
    payload = _RunsCode(marker)
    torch.save(payload if where == "top" else {"fc.weight": payload}, tmp_path / "evil.pth")
    with pytest.raises(FileFormatError, match=r"evil\.pth was refused") as info:
        build_cnn("resnet18", tmp_path / "evil.pth")
    assert "mkdir" in str(info.value) and "never runs code" in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("name", "content"),
    [("junk.pth", b"not a torch file"), ("empty.pth", b""), ("junk.npz", b"PK\x03\x04junk")],
)
def test_damaged_weights_files_are_refused_naming_the_file(tmp_path, name, content):
    pytest.importorskip("torch")
    from hashlearn.features.cnn import load_weights_file

    (tmp_path / name).write_bytes(content)
    with pytest.raises(FileFormatError, match=re.escape(name)):
        load_weights_file(tmp_path / name)


def test_weights_npz_with_object_arrays_is_refused(tmp_path):
    pytest.importorskip("torch")
    from hashlearn.features.cnn import load_weights_file

    np.savez(tmp_path / "objects.npz", w=np.array([{"a": 1}], dtype=object))
    with pytest.raises(FileFormatError, match="object arrays"):
        load_weights_file(tmp_path / "objects.npz")

"""Data directory, cache directory, offline switch and remembered checksums."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from hashlearn.datasets import _home
from hashlearn.datasets._home import (
    file_digests,
    get_cache_dir,
    get_data_dir,
    is_offline,
    read_sha256sums,
    verify_against_sha256sums,
)


@pytest.fixture(autouse=True)
def _no_cache_override(monkeypatch):
    """These tests resolve the cache folder themselves."""
    monkeypatch.delenv("HASHLEARN_CACHE", raising=False)


def test_data_dir_argument_beats_environment(monkeypatch, tmp_path):
    explicit, from_env = tmp_path / "explicit", tmp_path / "env"
    explicit.mkdir()
    from_env.mkdir()
    monkeypatch.setenv("HASHLEARN_DATA", str(from_env))
    assert get_data_dir(explicit) == explicit
    assert get_data_dir() == from_env


def test_data_dir_none_when_unset(monkeypatch):
    assert get_data_dir() is None
    monkeypatch.setenv("HASHLEARN_DATA", "")
    assert get_data_dir() is None


def test_missing_data_dir_is_named(monkeypatch, tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match=r"nowhere.*--data-dir"):
        get_data_dir(missing)
    monkeypatch.setenv("HASHLEARN_DATA", str(missing))
    with pytest.raises(FileNotFoundError, match=r"nowhere.*HASHLEARN_DATA environment"):
        get_data_dir()


def test_data_dir_that_is_a_file(tmp_path):
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    with pytest.raises(NotADirectoryError, match=r"file\.txt"):
        get_data_dir(afile)


def test_cache_dir_resolution_order(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert get_cache_dir() == tmp_path / "home" / ".cache" / "hashlearn"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert get_cache_dir() == tmp_path / "xdg" / "hashlearn"
    monkeypatch.setenv("HASHLEARN_CACHE", str(tmp_path / "env"))
    assert get_cache_dir() == tmp_path / "env"
    assert get_cache_dir(tmp_path / "arg") == tmp_path / "arg"
    assert not (tmp_path / "arg").exists()  # resolved, not created


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("yes", True), ("true", True), ("0", False), ("", False), ("off", False)],
)
def test_offline_switch(monkeypatch, value, expected):
    monkeypatch.setenv("HASHLEARN_OFFLINE", value)
    assert is_offline() is expected


def test_offline_unset(monkeypatch):
    monkeypatch.delenv("HASHLEARN_OFFLINE")
    assert not is_offline()


def _count_hashing(monkeypatch) -> list[Path]:
    calls: list[Path] = []
    real = _home._hash_file

    def counting(path):
        calls.append(path)
        return real(path)

    monkeypatch.setattr(_home, "_hash_file", counting)
    return calls


def test_file_digests_are_remembered_until_the_file_changes(monkeypatch, tmp_path):
    cache = tmp_path / "cache"
    target = tmp_path / "data.bin"
    target.write_bytes(b"hello")
    calls = _count_hashing(monkeypatch)
    first = file_digests(target, cache_dir=cache)
    assert first.sha256 == hashlib.sha256(b"hello").hexdigest()
    assert first.md5 == hashlib.md5(b"hello").hexdigest()
    assert file_digests(target, cache_dir=cache) == first
    assert len(calls) == 1
    assert (cache / "checksums.json").is_file()
    target.write_bytes(b"hello, world")
    os.utime(target, ns=(1, 1))
    assert (
        file_digests(target, cache_dir=cache).sha256 == hashlib.sha256(b"hello, world").hexdigest()
    )
    assert len(calls) == 2


def test_damaged_checksum_memo_is_ignored(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "checksums.json").write_text("{not json")
    target = tmp_path / "data.bin"
    target.write_bytes(b"abc")
    assert file_digests(target, cache_dir=cache).sha256 == hashlib.sha256(b"abc").hexdigest()


def test_sha256sums_verification(tmp_path):
    data, cache = tmp_path / "data", tmp_path / "cache"
    (data / "sub").mkdir(parents=True)
    good, bad = data / "sub" / "good.bin", data / "sub" / "bad.bin"
    good.write_bytes(b"good")
    bad.write_bytes(b"bad")
    wrong = "0" * 64
    (data / "SHA256SUMS").write_text(
        f"{hashlib.sha256(b'good').hexdigest()}  sub/good.bin\n{wrong} *sub/bad.bin\n"
    )
    assert read_sha256sums(data) == {
        "sub/good.bin": hashlib.sha256(b"good").hexdigest(),
        "sub/bad.bin": wrong,
    }
    verify_against_sha256sums(good, data, cache_dir=cache)
    with pytest.raises(ValueError, match=r"bad\.bin.*SHA-256 is [0-9a-f]{64}.*lists 0{64}"):
        verify_against_sha256sums(bad, data, cache_dir=cache)
    unlisted = data / "other.bin"
    unlisted.write_bytes(b"x")
    verify_against_sha256sums(unlisted, data, cache_dir=cache)


def test_malformed_sha256sums(tmp_path):
    (tmp_path / "SHA256SUMS").write_text("not-a-hash  file\n")
    with pytest.raises(ValueError, match=r"SHA256SUMS line 1"):
        read_sha256sums(tmp_path)

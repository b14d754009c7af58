"""fetch: streamed, checksummed, atomic; tested only with file:// URLs."""

from __future__ import annotations

import hashlib
import os

import pytest

from hashlearn.datasets import DownloadError, fetch


@pytest.fixture(autouse=True)
def _downloads_allowed(monkeypatch):
    """fetch is under test here: downloads are allowed (conftest keeps them to file://)."""
    for name in ("HASHLEARN_CACHE", "HASHLEARN_OFFLINE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def remote(tmp_path):
    source = tmp_path / "remote" / "payload.bin"
    source.parent.mkdir()
    payload = os.urandom(3 * 2**20 + 17)  # spans several read chunks
    source.write_bytes(payload)
    return source, payload


def _leftovers(folder):
    return sorted(name for name in os.listdir(folder) if name != "payload.bin")


def test_fetch_verifies_and_renames(remote, tmp_path):
    source, payload = remote
    dest = tmp_path / "out" / "payload.bin"
    result = fetch(
        source.as_uri(),
        dest,
        hashlib.sha256(payload).hexdigest(),
        md5=hashlib.md5(payload).hexdigest(),
        size=len(payload),
        progress=False,
    )
    assert result == dest
    assert dest.read_bytes() == payload
    assert _leftovers(dest.parent) == []


def test_fetch_mismatch_deletes_and_names_both_hashes(remote, tmp_path):
    source, payload = remote
    dest = tmp_path / "out" / "payload.bin"
    wrong = "f" * 64
    with pytest.raises(ValueError, match=r"payload\.bin") as info:
        fetch(source.as_uri(), dest, wrong, progress=False)
    assert wrong in str(info.value)
    assert hashlib.sha256(payload).hexdigest() in str(info.value)
    assert not dest.exists()
    assert _leftovers(dest.parent) == []


def test_fetch_md5_and_size_mismatch(remote, tmp_path):
    source, _ = remote
    dest = tmp_path / "out" / "payload.bin"
    with pytest.raises(ValueError, match=r"MD5 [0-9a-f]{32}, expected 0{32}"):
        fetch(source.as_uri(), dest, None, md5="0" * 32, progress=False)
    with pytest.raises(ValueError, match=r"size \d+ bytes, expected 5"):
        fetch(source.as_uri(), dest, None, size=5, progress=False)
    assert _leftovers(dest.parent) == []


def test_fetch_keeps_existing_file_on_failure(remote, tmp_path):
    source, _ = remote
    dest = tmp_path / "out" / "payload.bin"
    dest.parent.mkdir()
    dest.write_bytes(b"previous")
    with pytest.raises(ValueError):
        fetch(source.as_uri(), dest, "0" * 64, progress=False)
    assert dest.read_bytes() == b"previous"


def test_fetch_unreachable_says_where_to_place_the_file(tmp_path):
    dest = tmp_path / "out" / "thing.tar.gz"
    url = (tmp_path / "does-not-exist.tar.gz").as_uri()
    with pytest.raises(DownloadError, match=r"could not download .*place it at .*thing\.tar\.gz"):
        fetch(url, dest, None, progress=False)
    assert list(dest.parent.iterdir()) == []


def test_fetch_refuses_when_offline(monkeypatch, remote, tmp_path):
    source, _ = remote
    monkeypatch.setenv("HASHLEARN_OFFLINE", "1")
    dest = tmp_path / "out" / "payload.bin"
    with pytest.raises(DownloadError, match=r"HASHLEARN_OFFLINE.*place it at"):
        fetch(source.as_uri(), dest, None, progress=False)
    assert not dest.exists()


def test_fetch_interrupted_leaves_nothing(monkeypatch, remote, tmp_path):
    source, _ = remote
    dest = tmp_path / "out" / "payload.bin"

    class Interrupting:
        """A sha256 stand-in that is interrupted after the first chunk."""

        def __init__(self):
            self.calls = 0

        def update(self, chunk):
            self.calls += 1
            if self.calls == 2:
                raise KeyboardInterrupt

        def hexdigest(self):  # pragma: no cover - never reached
            return ""

    monkeypatch.setattr("hashlearn.datasets._download.hashlib.sha256", Interrupting)
    with pytest.raises(KeyboardInterrupt):
        fetch(source.as_uri(), dest, None, progress=False)
    assert _leftovers(dest.parent) == []

"""Isolation for the dataset tests: no user environment, a fresh cache, no network."""

from __future__ import annotations

import urllib.request

import pytest


@pytest.fixture(autouse=True)
def _local_urls_only(monkeypatch):
    """Any URL other than file:// fails the test instead of reaching the network."""
    real_urlopen = urllib.request.urlopen

    def local_only(url, *args, **kwargs):
        if not str(getattr(url, "full_url", url)).startswith("file:"):
            raise AssertionError(f"a test tried to reach the network: {url}")
        return real_urlopen(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", local_only)


@pytest.fixture(autouse=True)
def cache(monkeypatch, tmp_path):
    """A fresh cache folder per test, offline, and no data directory from the environment."""
    for name in ("HASHLEARN_DATA", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    cache_dir = tmp_path / "cache"
    monkeypatch.setenv("HASHLEARN_CACHE", str(cache_dir))
    monkeypatch.setenv("HASHLEARN_OFFLINE", "1")
    return cache_dir

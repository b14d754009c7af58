"""Hostile environments: read-only installs, no writable home, shared cores, lost workers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import hashlearn

PACKAGE = Path(hashlearn.__file__).resolve().parent


def _blocked(folder: Path) -> Path:
    """A path under a regular file: no one, not even root, can create a folder there."""
    blocker = folder / "not-a-folder"
    blocker.write_text("")
    return blocker / "cache"


def _read_only_install(tmp_path: Path) -> Path:
    """A copy of hashlearn where no ``__pycache__`` can be created (a file holds each name)."""
    site = tmp_path / "site"
    shutil.copytree(PACKAGE, site / "hashlearn", ignore=shutil.ignore_patterns("__pycache__"))
    for folder in [site / "hashlearn", *(site / "hashlearn").rglob("*")]:
        if folder.is_dir():
            (folder / "__pycache__").write_text("")
    return site


def test_import_on_read_only_install_without_writable_home(tmp_path):
    """numba's ``cache=True`` finds no cache folder: import falls back with one warning."""
    site = _read_only_install(tmp_path)
    home = _blocked(tmp_path)
    env = {
        **os.environ,
        "PYTHONPATH": str(site),
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home),
        "NUMBA_CACHE_DIR": str(home),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    code = (
        "import warnings\n"
        "warnings.simplefilter('always')\n"
        "import hashlearn, hashlearn.hashers, hashlearn.index, hashlearn.evaluation\n"
        f"assert hashlearn.__file__.startswith({str(site)!r}), hashlearn.__file__\n"
        "import hashlearn._numba as n\n"
        "assert n.CACHE is False\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("numba cannot cache") == 1, out.stderr
    assert "NUMBA_CACHE_DIR" in out.stderr

"""Hostile environments: read-only installs, no writable home, shared cores, lost workers."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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


def _blas_threads_seen(monkeypatch, call):
    """BLAS thread counts in effect while GIST's products run inside ``call()``."""
    from threadpoolctl import threadpool_info

    from hashlearn.features import gist

    seen: list[int] = []
    real = gist._gabor_energies

    def spy(prefiltered, plan):
        seen.extend(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")
        return real(prefiltered, plan)

    monkeypatch.setattr(gist, "_gabor_energies", spy)
    call()
    return seen


def test_gist_uses_one_blas_thread_by_default(monkeypatch):
    """Two processes on two cores must not each start a BLAS thread per core."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from hashlearn.features.gist import GIST, gist_features

    images = np.random.default_rng(0).integers(0, 256, (2, 32, 32), dtype=np.uint8)
    with threadpool_limits(limits=2, user_api="blas"):
        seen = _blas_threads_seen(monkeypatch, lambda: gist_features(images))
        seen += _blas_threads_seen(monkeypatch, lambda: GIST().fit_transform(images.reshape(2, -1)))
    assert seen and set(seen) == {1}


@pytest.mark.parametrize("n_jobs", [0, -2])
def test_load_dataset_checks_n_jobs(n_jobs):
    from hashlearn.datasets import load_dataset

    with pytest.raises(ValueError, match="n_jobs must be None, -1 or an int >= 1"):
        load_dataset("digits", n_jobs=n_jobs)


def test_load_cifar10_gist_checks_n_jobs_before_reading(tmp_path):
    from hashlearn.datasets import load_cifar10_gist

    with pytest.raises(ValueError, match="n_jobs must be None, -1 or an int >= 1, got 0"):
        load_cifar10_gist(tmp_path, cache_dir=tmp_path, download=False, n_jobs=0)


def test_load_dataset_limits_threads(monkeypatch):
    from threadpoolctl import threadpool_info, threadpool_limits

    from hashlearn.datasets import catalog

    seen: list[int] = []
    entry = catalog.CATALOG["digits"]

    def load(*args):
        seen.extend(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")
        return entry.load(*args)

    monkeypatch.setitem(catalog.CATALOG, "digits", dataclasses.replace(entry, load=load))
    with threadpool_limits(limits=2, user_api="blas"):
        catalog.load_dataset("digits")
    assert seen and set(seen) == {1}


@pytest.mark.parametrize("command", [["datasets", "prepare", "digits"], ["tutorial"]])
def test_feature_commands_take_n_jobs(command, capsys):
    """``--n-jobs`` is offered where features are computed, and checked."""
    from hashlearn.cli import main

    with pytest.raises(SystemExit):
        main([*command, "--help"])
    assert "--n-jobs" in capsys.readouterr().out


def test_datasets_prepare_n_jobs(capsys):
    from hashlearn.cli import main

    assert main(["datasets", "prepare", "digits", "--n-jobs", "1"]) == 0
    assert main(["datasets", "prepare", "digits", "--n-jobs", "0"]) == 2
    assert "n_jobs must be None, -1 or an int >= 1, got 0" in capsys.readouterr().err


def _tiny_cifar10(root: Path) -> Path:
    """Ten 32 x 32 images in the JPEG layout the CIFAR-10 loaders read (root/cifar10/)."""
    import csv
    import io
    import tarfile

    from PIL import Image

    from hashlearn.datasets.cifar10 import CIFAR10_CLASSES, ORDER_COLUMNS

    folder = root / "cifar10"
    folder.mkdir(parents=True)
    rows = []
    with tarfile.open(folder / "cifar10-jpeg.tar.gz", "w:gz") as tar:
        for official, name in enumerate(CIFAR10_CLASSES):
            split, orig = ("train", official) if official < 6 else ("test", official - 6)
            member = f"{split}/{name}/0000.jpg"
            image = io.BytesIO()
            Image.new("RGB", (32, 32), (25 * official, 0, 0)).save(image, format="JPEG")
            info = tarfile.TarInfo(member)
            info.size = len(image.getvalue())
            tar.addfile(info, io.BytesIO(image.getvalue()))
            rows.append([split, orig, official, name, member])
    with open(folder / "cifar10_order.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([ORDER_COLUMNS, *rows])
    return root


class _GistReached(Exception):
    """Raised by the stand-in GIST extractor once it has recorded its arguments."""


@pytest.mark.parametrize(("option", "expected"), [([], 1), (["--n-jobs", "3"], 3)])
def test_tutorial_n_jobs_reaches_the_gist_computation(option, expected, tmp_path, monkeypatch):
    """``hashlearn tutorial --n-jobs N`` computes CIFAR-10's GIST with N threads (it ran
    with 1 whatever N was: the GIST loader's own default overrode the command's limit)."""
    from hashlearn.cli import main
    from hashlearn.features import gist

    received: list[object] = []

    def recording_gist(images, *, progress=False, n_jobs=1, **kwargs):
        received.append(n_jobs)
        raise _GistReached

    monkeypatch.setattr(gist, "gist_features", recording_gist)
    monkeypatch.setenv("HASHLEARN_CACHE", str(tmp_path / "cache"))
    data = _tiny_cifar10(tmp_path / "data")
    with pytest.raises(_GistReached):
        main(
            [
                "tutorial",
                "--data-dir",
                str(data),
                "--out",
                str(tmp_path / "o"),
                "--no-progress",
                *option,
            ]
        )
    assert received == [expected]


def test_tutorial_checks_n_jobs_before_loading(tmp_path, monkeypatch, capsys):
    from hashlearn import datasets
    from hashlearn.cli import main

    monkeypatch.setattr(datasets, "find_cifar10_source", lambda *a, **k: pytest.fail("loaded"))

    assert main(["tutorial", "--n-jobs", "0", "--out", str(tmp_path / "o")]) == 2
    assert "n_jobs must be None, -1 or an int >= 1, got 0" in capsys.readouterr().err

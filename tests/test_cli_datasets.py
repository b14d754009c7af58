"""``hashlearn datasets list | info | prepare`` and the catalogue behind it."""

from __future__ import annotations

import pytest

from hashlearn.cli import main
from hashlearn.datasets import DATASET_NAMES
from hashlearn.datasets.catalog import CATALOG, availability


@pytest.fixture
def empty_dirs(tmp_path, monkeypatch):
    """An empty data directory and cache: nothing is present but digits."""
    monkeypatch.delenv("HASHLEARN_DATA", raising=False)
    monkeypatch.setenv("HASHLEARN_CACHE", str(tmp_path / "cache"))
    (tmp_path / "data").mkdir()
    return tmp_path / "data"


def test_catalogue_covers_every_dataset_name():
    assert tuple(CATALOG) == DATASET_NAMES


def test_list_marks_what_is_present(empty_dirs, capsys):
    (empty_dirs / "mnist").mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (empty_dirs / "mnist" / name).write_bytes(b"")
    assert main(["datasets", "list", "--data-dir", str(empty_dirs)]) == 0
    lines = capsys.readouterr().out.splitlines()
    states = {line.split()[0]: line.split()[1] for line in lines if not line.startswith(" ")}
    assert set(states) == set(DATASET_NAMES)
    assert states["digits"] == "present"
    assert states["mnist"] == "missing"  # two of its four files only
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (empty_dirs / "mnist" / name).write_bytes(b"")
    assert availability("mnist", empty_dirs) == (True, str(empty_dirs))


def test_info_prints_shapes(empty_dirs, capsys):
    assert main(["datasets", "info", "digits"]) == 0
    out = capsys.readouterr().out
    assert "float64 (1797, 64)" in out and "n_classes: 10" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["datasets", "info"], "needs a NAME"),
        (["datasets", "list", "digits"], "takes no NAME"),
        (["datasets", "prepare", "mirflickr25k", "--download"], "cannot be downloaded"),
    ],
)
def test_bad_requests_exit_2_with_a_message(empty_dirs, capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_missing_files_exit_2_naming_the_data_directory(empty_dirs, capsys):
    assert main(["datasets", "info", "mnist", "--data-dir", str(empty_dirs)]) == 2
    assert "MNIST was not found" in capsys.readouterr().err


def test_unknown_name_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["datasets", "info", "imagenet"])
    assert exc.value.code == 2


@pytest.mark.realdata
def test_info_on_real_mnist(real_data_dir, capsys):
    assert main(["datasets", "info", "mnist", "--data-dir", str(real_data_dir)]) == 0
    out = capsys.readouterr().out
    assert "uint8 (70000, 784)" in out and "n_train: 60000" in out

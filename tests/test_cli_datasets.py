"""``hashlearn datasets list | info | prepare`` and the catalogue behind it."""

from __future__ import annotations

import pytest

from hashlearn.cli import main
from hashlearn.datasets import CATALOG, availability, load_dataset


@pytest.fixture
def empty_dirs(tmp_path, monkeypatch):
    """An empty data directory and cache: nothing is present but digits."""
    monkeypatch.delenv("HASHLEARN_DATA", raising=False)
    monkeypatch.setenv("HASHLEARN_CACHE", str(tmp_path / "cache"))
    (tmp_path / "data").mkdir()
    return tmp_path / "data"


@pytest.mark.parametrize("name", list(CATALOG))
def test_every_catalogue_entry_loads_or_names_its_missing_files(name, empty_dirs):
    """The catalogue is what load_dataset dispatches on: a dataset that lists no files loads
    from an empty data directory, one that lists files says they are missing."""
    if not CATALOG[name].files:
        assert load_dataset(name, empty_dirs, download=False).n_samples > 0
    else:
        with pytest.raises(FileNotFoundError):
            load_dataset(name, empty_dirs, download=False)


def test_list_marks_what_is_present(empty_dirs, capsys):
    (empty_dirs / "mnist").mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (empty_dirs / "mnist" / name).write_bytes(b"")
    assert main(["datasets", "list", "--data-dir", str(empty_dirs)]) == 0
    lines = capsys.readouterr().out.splitlines()
    states = {line.split()[0]: line.split()[1] for line in lines if not line.startswith(" ")}
    assert set(states) == set(CATALOG)
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

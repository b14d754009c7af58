"""The shared leaves: atomic writes and strict JSON, the class registry, environment facts,
progress."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from hashlearn import _environment, _io, _progress, _registry


# -- _io -----------------------------------------------------------------------------------
def test_to_json_cleans_numpy_nan_and_paths():
    value = {
        1: np.int64(3),
        "f": np.float32(0.5),
        "nan": float("nan"),
        "inf": np.float64("inf"),
        "arr": np.array([[1, 2], [3, 4]], dtype=np.uint8),
        "flag": np.bool_(True),
        "path": Path("a") / "b",
        "nested": ({"x": np.nan},),
    }
    cleaned = _io.to_json(value)
    assert cleaned == {
        "1": 3,
        "f": 0.5,
        "nan": None,
        "inf": None,
        "arr": [[1, 2], [3, 4]],
        "flag": True,
        "path": os.path.join("a", "b"),
        "nested": [{"x": None}],
    }
    assert type(cleaned["1"]) is int and type(cleaned["flag"]) is bool
    json.dumps(cleaned, allow_nan=False)  # strict JSON


def test_to_json_objects_by_repr_unless_strict():
    class Thing:
        def __repr__(self) -> str:
            return "Thing()"

    assert _io.to_json({"a": Thing()}) == {"a": "Thing()"}
    with pytest.raises(TypeError, match="Thing"):
        _io.to_json({"a": Thing()}, strict=True)


def test_write_json_and_jsonl_are_strict(tmp_path):
    _io.write_json(tmp_path / "a.json", {"x": math.nan, "y": np.arange(2)})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": None, "y": [0, 1]}
    _io.write_jsonl(tmp_path / "r.jsonl", [{"i": np.int32(1)}, {"i": 2}])
    _io.append_jsonl(tmp_path / "r.jsonl", {"i": np.float64("nan")})
    lines = (tmp_path / "r.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [{"i": 1}, {"i": 2}, {"i": None}]


def test_interrupted_atomic_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def write(handle):
        handle.write(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _io.atomic_write(target, write)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_atomic_write_creates_folders_and_honours_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        path = _io.atomic_write_text(tmp_path / "new" / "deep" / "f.txt", "héllo")
    finally:
        os.umask(previous)
    assert path.read_text(encoding="utf-8") == "héllo"
    assert path.stat().st_mode & 0o777 == 0o640


# -- _registry -----------------------------------------------------------------------------
def test_registry_resolves_builtin_classes_lazily():
    cls = _registry.resolve("LinearScanIndex")
    assert cls is not None and cls.__module__.startswith("hashlearn.index")
    assert _registry.resolve("NoSuchClassAnywhere") is None


def test_registry_refuses_a_second_class_under_one_name():
    @_registry.register
    class _RegistryProbe:
        pass

    assert _registry.registered()["_RegistryProbe"] is _RegistryProbe
    assert _registry.register(_RegistryProbe) is _RegistryProbe  # the same class again: fine

    impostor = type("_RegistryProbe", (), {"__module__": "somebody.else"})
    with pytest.raises(ValueError, match="already taken"):
        _registry.register(impostor)
    assert _registry.resolve("_RegistryProbe") is _RegistryProbe


# -- _environment --------------------------------------------------------------------------
def test_environment_names_versions_and_machine():
    env = _environment.environment()
    from hashlearn import __version__

    assert env["hashlearn"] == __version__
    assert env["numpy"] == np.__version__
    assert env["cpu_count"] == os.cpu_count()
    json.dumps(env)
    peak = _environment.peak_memory_mib()
    assert peak is None or peak > 1


# -- _progress -----------------------------------------------------------------------------
def test_progress_conventions(capsys):
    seen: list[str] = []
    _progress.progress_printer(seen.append)("one")
    _progress.progress_printer(False)("silent")
    _progress.progress_printer(True)("shown")
    assert seen == ["one"]
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "shown\n"

    tick, close = _progress.progress_bar(seen.append, total=2, desc="x")
    tick("two")
    close()
    assert seen == ["one", "two"]
    tick, close = _progress.progress_bar(True, total=1, desc="bar")
    tick("step")
    close()
    assert "bar" in capsys.readouterr().err

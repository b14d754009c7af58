"""A new user's first hour: the README and the docs work on any machine and say what happens.

Issue 14, "A new user's first hour" (docs part):

* no path of the development machine in README.md, docs/ or the Makefile;
* the README's claims are what a user sees (the speed-up ratio varies, the digits notice,
  one model file extension, how long ``make test`` and GIST take and under which conditions);
* docs/own-data.md exists, is linked, and its code blocks run on tiny data.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
# Folders and tools of the development machine: a user has neither.
MACHINE_PATHS = ("../shared", "shared/data", "farm-bench")


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


# -- no path of the development machine ----------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [README, ROOT / "CONTRIBUTING.md", ROOT / "Makefile", *DOCS],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_no_development_machine_paths(path):
    found = [
        f"line {number}: {line.strip()}"
        for number, line in enumerate(_text(path).splitlines(), 1)
        if any(fragment in line for fragment in MACHINE_PATHS)
    ]
    assert not found, (
        f"{path.relative_to(ROOT)} names a folder of the development machine; use "
        "HASHLEARN_DATA or --data-dir:\n" + "\n".join(found)
    )


def test_makefile_takes_the_data_directory_from_the_environment():
    makefile = _text(ROOT / "Makefile")
    assert re.search(r"^HASHLEARN_DATA \?=[ \t]*$", makefile, re.MULTILINE), (
        "the Makefile must default HASHLEARN_DATA to the environment (HASHLEARN_DATA ?=)"
    )
    assert "$(wildcard" not in makefile.split("HASHLEARN_DATA ?=")[1].splitlines()[0]


def test_readme_bench_command_reads_hashlearn_data():
    readme = _text(README)
    bench = [block for block in _code_blocks(readme, "bash") if "hashlearn bench" in block]
    assert bench, "the README shows no hashlearn bench command"
    assert "HASHLEARN_DATA" in readme.split(bench[0])[1][:400], (
        "after its bench command the README must say where the data comes from"
    )


# -- the README's claims -------------------------------------------------------------------


def test_readme_says_the_speed_up_varies():
    readme = _text(README)
    shown = re.findall(r"(\d[\d,]*)x faster than the tutorial's reported", readme)
    assert shown, "the README's tutorial output shows no speed-up line"
    prose = re.sub(r"^```.*?^```", "", readme, flags=re.MULTILINE | re.DOTALL)
    assert re.search(r"ratio varies", prose), (
        f"the README prints {shown[0]}x as if it were fixed output; say that it varies"
    )


def test_readme_fallback_notice_claim_matches_the_tutorial(monkeypatch):
    from hashlearn import datasets
    from hashlearn.experiments import tutorial

    def no_cifar(*args, **kwargs):
        raise OSError("CIFAR-10 was not found. Looked for:\n  - the JPEG layout: ...")

    monkeypatch.setattr(datasets, "find_cifar10_source", lambda *a, **k: None)
    monkeypatch.setattr(datasets, "is_offline", lambda: False)
    monkeypatch.setattr(datasets, "load_cifar10_gist", no_cifar)
    notices: list[str] = []
    tutorial.load_tutorial_dataset("auto", notify=notices.append)
    assert len(notices) == 1
    if "says so in one line" in _text(README):
        assert "\n" not in notices[0], (
            "README says the digits fallback says so in one line; the notice has "
            f"{notices[0].count(chr(10)) + 1} lines"
        )


def test_tutorial_digits_notice_is_the_one_line_the_readme_shows(tmp_path, monkeypatch, capsys):
    """No CIFAR-10 in an empty data folder, no network: one line, the README's, on stderr."""
    import socket
    import urllib.error

    from hashlearn.cli import main
    from hashlearn.datasets import _download

    def no_network(url, *args, **kwargs):
        raise urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))

    monkeypatch.setattr(_download.urllib.request, "urlopen", no_network)
    monkeypatch.delenv("HASHLEARN_OFFLINE")
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("HASHLEARN_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("HASHLEARN_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    assert (
        main(["tutorial", "--bits", "8", "--max-radius", "1", "--out", str(out), "--no-progress"])
        == 0
    )
    err = capsys.readouterr().err
    notice = err.rstrip("\n")
    assert notice.startswith("notice: CIFAR-10 not found") and "\n" not in notice, err
    assert "the download failed: [Errno -3] Temporary failure in name resolution" in notice
    assert notice in _code_blocks(_text(README), "text")[0].splitlines(), (
        "README must show the digits notice exactly as the tutorial prints it"
    )


def test_digits_notice_quotes_the_deepest_cause_shortened():
    from hashlearn.experiments.tutorial import DIGITS_NOTICE, digits_notice

    try:
        try:
            raise OSError("line one\n  line two " + "x" * 300)
        except OSError as inner:
            raise FileNotFoundError("CIFAR-10 was not found. Looked for:\n  - ...") from inner
    except FileNotFoundError as outer:
        notice = digits_notice(outer)
    reason = notice.removeprefix(f"{DIGITS_NOTICE} (the download failed: ").removesuffix(")")
    assert "\n" not in notice and reason.startswith("line one line two xxx")
    assert len(reason) == 120 and reason.endswith("...")
    assert digits_notice() == DIGITS_NOTICE


def test_model_files_have_one_extension():
    saved = []
    for path in [README, *DOCS, *sorted((ROOT / "examples").rglob("*.py"))]:
        saved += re.findall(r"\.save\([^)]*?[\"']([^\"']+)[\"']\)", _text(path))
    extensions = {Path(name).suffix for name in saved}
    assert extensions == {".hlz"}, f"model files saved in README/docs/examples: {saved}"
    assert re.search(r"files `\.hlz`", _text(ROOT / "docs" / "index.md")), (
        "docs/index.md must name the one extension of model and index files"
    )


def test_readme_states_make_test_time():
    readme = _text(README)
    assert re.search(r"`make test` runs about [\d,]+ tests in about \d+ minutes", readme), (
        "the README must say how long make test takes"
    )


def test_readme_states_gist_time_with_its_conditions():
    readme = _text(README)
    assert "60,000" in readme
    assert re.search(r"idle 2-core", readme) and re.search(r"another job|other jobs", readme), (
        "the README must state the GIST time with its conditions (idle or competing)"
    )


# -- docs for own data ---------------------------------------------------------------------

OWN_DATA = ROOT / "docs" / "own-data.md"


def test_own_data_page_is_linked():
    assert OWN_DATA.is_file(), "docs/own-data.md is missing"
    assert "docs/own-data.md" in _text(README)
    assert "(own-data.md)" in _text(ROOT / "docs" / "index.md")
    text = _text(OWN_DATA)
    for topic in ("standardi", "L2-normalise", "Unlabelled", "hasher=", "add_vectors"):
        assert topic in text, f"docs/own-data.md says nothing about {topic}"
    assert "search_vectors" in text and "run_protocol(" in text


def test_own_data_examples_run(tmp_path, monkeypatch, capsys):
    import shlex

    from hashlearn.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HASHLEARN_CACHE", str(tmp_path / "cache"))
    text = _text(OWN_DATA) if OWN_DATA.is_file() else ""
    # Every python and bash block in the page's order: a command reads the files the
    # blocks before it wrote.
    blocks = re.findall(r"^```(python|bash)\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    python_blocks = [code for language, code in blocks if language == "python"]
    commands = [
        line
        for language, code in blocks
        if language == "bash"
        for line in code.splitlines()
        if line
    ]
    assert len(python_blocks) >= 4 and commands, "docs/own-data.md shows too few examples"
    namespace: dict[str, object] = {"__name__": "own_data"}
    number = 0
    for language, code in blocks:
        if language == "python":
            number += 1
            exec(compile(code, f"docs/own-data.md python block {number}", "exec"), namespace)
            continue
        for command in filter(None, code.splitlines()):
            assert command.startswith("hashlearn bench ")
            # the report (figures) takes seconds; tests/report covers it
            argv = [*shlex.split(command)[1:], "--no-progress", "--no-report"]
            assert main(argv) in (0, None)
    assert (tmp_path / "results" / "mine" / "records.jsonl").is_file()
    assert (tmp_path / "results" / "text" / "records.jsonl").is_file()
    assert (tmp_path / "mine.hlz").is_file()
    assert "recall" not in capsys.readouterr().err.lower()


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: str(p.relative_to(ROOT)))
def test_a_measured_speed_up_is_said_to_vary(path):
    text = _text(path)
    for found in re.finditer(r"136x", text):
        nearby = text[max(found.start() - 400, 0) : found.end() + 400]
        assert "varies" in nearby, (
            f"{path.relative_to(ROOT)} quotes the tutorial's 136x as if it were fixed; "
            "say that the ratio varies with the machine and its load"
        )


def test_gist_time_is_stated_with_its_conditions_in_the_benchmarks():
    text = _text(ROOT / "docs" / "benchmarks.md")
    first_run = text[text.index("the first `make run` decodes") :][:600]
    assert "idle" in first_run and "competed" in first_run

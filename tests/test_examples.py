"""The examples in examples/ run as documented, and print the numbers the README shows."""

from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
QUICK_TOUR = ROOT / "examples" / "quick_tour.py"

# A number as printed: optional sign, digits, optional decimals. Words such as "P@r2" or
# "mAP@all" hold digits too; they are compared like any other number and always match.
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _readme_quick_tour_output() -> list[str]:
    """The lines of the README's text block that shows the quick tour's output."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"\(examples/quick_tour\.py\).*?```text\n(.*?)```", text, re.DOTALL)
    assert found, "README.md has no ```text block after its link to examples/quick_tour.py"
    return [line.rstrip() for line in found.group(1).splitlines() if line.strip()]


def _skeleton(line: str) -> str:
    """The line with every number replaced and spaces dropped (numpy pads its columns)."""
    return "".join(_NUMBER.sub("#", line).split())


def _numbers_match(shown: str, printed: str) -> bool:
    """Whether two printed numbers agree within the precision the README prints.

    Integers (ids, distances, counts, shapes) must be equal. A number printed with d
    decimals is a rounded value: two roundings of values within half a unit of each other
    can differ by one unit in the last place, so that is the tolerance.
    """
    if "." not in shown:
        return shown == printed
    decimals = len(shown.split(".")[1])
    return abs(float(shown) - float(printed)) <= 10.0**-decimals * (1 + 1e-9)


def _match_abridged(shown_lines: list[str], printed_lines: list[str]) -> list[str]:
    """Match each README line, in order, with the next printed line of the same shape.

    Returns the mismatches as messages (empty when everything matches).
    """
    problems = []
    position = 0
    for shown in shown_lines:
        shape = _skeleton(shown)
        for at in range(position, len(printed_lines)):
            if _skeleton(printed_lines[at]) == shape:
                break
        else:
            problems.append(f"README line not printed (in this order): {shown!r}")
            continue
        printed = printed_lines[at]
        position = at + 1
        pairs = zip(_NUMBER.findall(shown), _NUMBER.findall(printed), strict=True)
        if not all(_numbers_match(a, b) for a, b in pairs):
            problems.append(f"README shows {shown.strip()!r}, printed {printed.strip()!r}")
    return problems


# Examples that take more than a few seconds (a server and a browser).
SLOW = {"service_screenshots.py"}


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, marks=pytest.mark.slow) if p.name in SLOW else p for p in EXAMPLES],
    ids=[p.name for p in EXAMPLES],
)
def test_example_runs(path, capsys, monkeypatch):
    # Run as documented, with no arguments (not with pytest's own).
    monkeypatch.setattr(sys, "argv", [str(path)])
    runpy.run_path(str(path), run_name="__main__")
    assert capsys.readouterr().out


def test_quick_tour_prints_the_numbers_in_the_readme(capsys):
    shown = _readme_quick_tour_output()
    # The block must show the numbers worth checking, not just survive being emptied.
    assert len(shown) >= 8
    assert any("mAP@all" in line for line in shown)
    runpy.run_path(str(QUICK_TOUR), run_name="__main__")
    printed = capsys.readouterr().out.splitlines()
    problems = _match_abridged(shown, printed)
    assert not problems, "\n".join(problems) + "\n\nprinted:\n" + "\n".join(printed)


def test_abridged_matching_catches_a_changed_number():
    printed = ["noise", "LSH: mAP@all = 0.403, P@r2 = 0.622 (2% empty)", "ids [ 20 120]"]
    assert not _match_abridged(["LSH: mAP@all = 0.404, P@r2 = 0.622 (2% empty)"], printed)
    assert _match_abridged(["LSH: mAP@all = 0.405, P@r2 = 0.622 (2% empty)"], printed)
    assert _match_abridged(["LSH: mAP@all = 0.403, P@r2 = 0.622 (3% empty)"], printed)
    assert _match_abridged(["ids [ 20 121]"], printed)
    assert not _match_abridged(["ids [20 120]"], printed)
    # Order matters: a README line cannot be matched by an earlier printed line.
    lsh_line = "LSH: mAP@all = 0.403, P@r2 = 0.622 (2% empty)"
    assert _match_abridged(["ids [ 20 120]", lsh_line], printed)

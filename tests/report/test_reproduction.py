"""The reproduction page: ours beside the published tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hashlearn.cli import main
from hashlearn.experiments.anchors import find_anchor
from hashlearn.experiments.runner import run_protocol
from hashlearn.records import RECORDS_NAME, read_bench_records
from hashlearn.report.aggregate import ANCHOR_TOLERANCE
from hashlearn.report.reproduction import format_reproduction


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    out = tmp_path_factory.mktemp("run")
    # n_train = 1,000 is the GRH paper's T: the records carry Table 1's LSH row.
    run_protocol(
        X,
        y,
        "grh-cifar10",
        ["lsh", "agh:n_anchors=5000"],  # more anchors than rows: fails while fitting
        bits=[16, 32],
        seeds=2,
        out=out,
        n_queries=100,
        n_train=1000,
        n_validation=0,
    )
    # Published numbers belong to the protocol's own data, so these digits records carry
    # none: give the LSH records the anchors a CIFAR-10 run would get, to exercise the page.
    lines = []
    for record in read_bench_records(out):
        if record["method"]["name"] == "lsh":
            record["anchor"] = find_anchor(
                "grh-cifar10", {"n_train": 1000}, "LSH", record["n_bits"]
            )
        lines.append(json.dumps(record))
    (out / RECORDS_NAME).write_text("\n".join(lines) + "\n")
    return out


def test_table_values_come_from_the_records(run_dir: Path) -> None:
    text = format_reproduction([run_dir])
    records = [r for r in read_bench_records(run_dir) if r["status"] == "ok"]
    values = [r["metrics"]["map"] for r in records if r["n_bits"] == 16]
    mean, std = np.mean(values), np.std(values, ddof=1)
    assert f"| LSH | {mean:.4f} ± {std:.4f} |" in text
    difference = mean - 0.1290
    verdict = (
        "within" if abs(difference) <= ANCHOR_TOLERANCE else "above" if difference > 0 else "below"
    )
    assert f"| ↳ ours - published | {difference:+.4f} {verdict} |" in text
    assert "| ↳ published | 0.1290 | 0.1394 |" in text
    # P@r2 has Fig. 4's LSH anchors at 16 and 32 bits.
    assert "| ↳ published | 0.1680 | 0.0760 |" in text
    # The failed method is named, not hidden.
    assert "4 failed record(s): agh:n_anchors=5000/16/0" in text
    assert "# run_protocol(X, y, 'grh-cifar10" in text  # not a command: arrays from Python


def test_cli_writes_the_page(run_dir: Path, tmp_path: Path) -> None:
    page = tmp_path / "reproduction.md"
    assert main(["report", "--reproduction", str(page), str(run_dir)]) == 0
    assert page.read_text().startswith("# Reproduced tables")
    assert main(["report", str(run_dir), str(run_dir), "--out", str(tmp_path)]) == 2


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one run folder"):
        format_reproduction([])
    with pytest.raises(FileNotFoundError):
        format_reproduction([tmp_path / "missing"])


def test_cells_with_fewer_seeds_say_so(run_dir: Path, tmp_path: Path) -> None:
    records = [r for r in read_bench_records(run_dir) if not (r["n_bits"] == 32 and r["seed"] == 1)]
    (tmp_path / RECORDS_NAME).write_text("\n".join(json.dumps(r) for r in records) + "\n")
    text = format_reproduction([tmp_path])
    lsh = next(line for line in text.splitlines() if line.startswith("| LSH |"))
    assert lsh.count("(n=1)") == 1 and lsh.rstrip(" |").endswith("(n=1)")


def test_a_resumed_run_lists_every_command_that_wrote_it(tmp_path: Path) -> None:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    data = tmp_path / "digits.npz"
    np.savez(data, X=X, y=y)
    out = tmp_path / "run"
    common = ["--protocol", "grh-cifar10:n_queries=100,n_train=500,n_validation=0"]
    common += ["--dataset", str(data), "--bits", "8", "--seeds", "1", "--out", str(out)]
    assert main(["bench", "--methods", "lsh", *common, "--no-report", "--no-progress"]) == 0
    assert main(["bench", "--methods", "pcah", *common, "--no-report", "--no-progress"]) == 0
    text = format_reproduction([out])
    # run.json holds the last invocation only; the records remember both.
    assert text.count("hashlearn bench --protocol") == 2
    assert "--methods lsh --bits 8 --seeds 1" in text
    assert "--methods pcah --bits 8 --seeds 1" in text


def test_the_command_of_a_text_corpus_run_keeps_its_text_options(tmp_path: Path) -> None:
    from hashlearn.report.reproduction import _command

    config = {"protocol": "20ng-text", "methods": ["lsh"], "dataset": "corpus", "bits": None}
    config |= {"text_features": "counts", "max_features": 5000, "text_encoding": None}
    command = _command(config, tmp_path)
    assert "--dataset corpus --text-features counts --max-features 5000 --out" in command
    assert "--text-encoding" not in command


def test_a_reported_map_at_k_or_p_at_k_is_followed_by_its_tie_aware_value(
    run_dir: Path, tmp_path: Path
) -> None:
    records = read_bench_records(run_dir)
    for record in records:
        record["protocol"]["metric_names"] = ["map", "precision_at_k_10"]
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / RECORDS_NAME).write_text("\n".join(map(json.dumps, records)) + "\n")
    text = format_reproduction([tmp_path / "new"])
    assert text.index("**P@10**") < text.index("**tie-aware P@10**") < text.index("**P@r2")
    ok = [r for r in records if r["status"] == "ok" and r["n_bits"] == 16]
    values = [r["metrics"]["tie_aware_precision_at_k"]["10"] for r in ok]
    section = text.split("**tie-aware P@10**", 1)[1]
    assert f"| LSH | {np.mean(values):.4f} ± {np.std(values, ddof=1):.4f} |" in section
    for record in records:  # records written before tie-aware P@K: no table, no error
        (record.get("metrics") or {}).pop("tie_aware_precision_at_k", None)
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / RECORDS_NAME).write_text("\n".join(map(json.dumps, records)) + "\n")
    old = format_reproduction([tmp_path / "old"])
    assert "**P@10**" in old and "tie-aware" not in old

"""The benchmark report: tables checked against statistics computed here, figures, the page."""

from __future__ import annotations

import base64
import json
import re
import statistics
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hashlearn.records import SCHEMA, BenchRecordWarning, read_bench_records
from hashlearn.report.benchmark import format_benchmark_markdown, write_benchmark_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAIN = "grh-cifar10:n_train=2000"
TUTORIAL = "tutorial:n_bits=16"
METHODS = {
    "lsh": ("lsh", "LSH"),
    "grh:kernel=rbf": ("grh", "GRH RBF, LSH init"),
}
# Published numbers for GRH only.
ANCHORS = {16: {"map": 0.1290, "precision_within_radius_2": 0.168}, 32: {"map": 0.1500}}


def _environment() -> dict[str, Any]:
    return {
        "hashlearn": "0.1.0",
        "git_revision": "abc1234",
        "python": "3.11.4",
        "numpy": "2.0.0",
        "platform": "Linux-x86_64",
        "cpu_count": 16,
        "threads": 4,
    }


def make_record(
    protocol: str,
    method: str,
    n_bits: int,
    seed: int,
    *,
    status: str = "ok",
    tutorial: bool = False,
) -> dict[str, Any]:
    """A record in the documented schema with plausible, seed-dependent numbers."""
    # crc32, not hash(): str hashes change from process to process, and the report of
    # these records is compared byte for byte with one written before (test_old_records_...)
    rng = np.random.default_rng(zlib.crc32(repr((protocol, method, n_bits, seed)).encode()))
    name, label = METHODS[method]
    quality = (0.18 if name == "grh" else 0.12) + 0.01 * np.log2(n_bits / 16)
    record: dict[str, Any] = {
        "schema": SCHEMA,
        "key": f"{protocol}/{method}/{n_bits}/{seed}",
        "status": status,
        "protocol": {
            "name": protocol.split(":")[0],
            "spec": protocol,
            "params": {},
            "dataset": "cifar10-gist",
            "metric_names": ["map"],
        },
        "method": {"name": name, "spec": method, "label": label, "params": {}},
        "n_bits": n_bits,
        "seed": seed,
        "sizes": {
            "n_features": 512,
            "n_train": 2000,
            "n_validation": 0,
            "n_queries": 1000,
            "n_database": 59000,
        },
        "anchor": (
            {"source": "GRH paper, Table 1", **ANCHORS[n_bits]}
            if name == "grh" and n_bits in ANCHORS
            else None
        ),
        "environment": _environment(),
        "started_at": f"2024-05-0{1 + seed}T10:00:00Z",
        "finished_at": f"2024-05-0{1 + seed}T10:05:00Z",
    }
    if status != "ok":
        record["error"] = {
            "type": "LinAlgError",
            "message": "Matrix is not positive definite <b>",
            "traceback": "Traceback (most recent call last):\n  ...\nLinAlgError: boom",
        }
        return record
    m = float(quality + rng.normal(0, 0.004))
    radius = list(range(n_bits + 1))
    recall = np.clip(np.linspace(0.0, 1.0, n_bits + 1) ** 0.5 + rng.normal(0, 0.01), 0, 1)
    precision = np.clip(
        0.3 + 1.5 * quality - (0.2 + quality) * recall + rng.normal(0, 0.005, n_bits + 1), 0.1, 1
    )
    k = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
    p_at_k = [float(0.5 - 0.05 * np.log10(x) * (1.5 - quality) + rng.normal(0, 0.005)) for x in k]
    r_search = list(range(5))
    metrics: dict[str, Any] = {
        "map": m,
        "map_n_excluded": 0,
        "tie_aware_map": m - 0.002,
        "map_at_k": {"1000": m + 0.1},
        "precision_at_k": {"10": p_at_k[3], "100": p_at_k[6]},
        "precision_within_radius": {
            str(r): {
                "value": float(0.1 + 0.03 * r + rng.normal(0, 0.003)),
                "empty_fraction": float(max(0.0, 0.6 - 0.2 * r - n_bits / 200)),
            }
            for r in range(4)
        },
        "pr_curve": {"radius": radius, "precision": precision.tolist(), "recall": recall.tolist()},
        "precision_at_k_curve": {"k": k, "precision": p_at_k},
        "radius_search": {
            "radius": r_search,
            "precision": [float(0.4 - 0.05 * r + rng.normal(0, 0.005)) for r in r_search],
            "empty_fraction": [max(0.0, 0.5 - 0.15 * r) for r in r_search],
            "mean_candidates": [10.0 * 4**r for r in r_search],
            "query_ms": [float(quality * 0.1 * 3**r * (1 + rng.normal(0, 0.02))) for r in r_search],
        },
    }
    if tutorial:
        t_radius = list(range(11))
        metrics["tutorial"] = {
            "radius": t_radius,
            "precision_at_10": [float(quality + 0.18 + 0.02 * r) for r in t_radius],
            "precision_at_10_with_empty": [float(quality - 0.07 + 0.04 * r) for r in t_radius],
            "query_ms": [float(quality * 0.15 * 2**r) for r in t_radius],
        }
    sizes = [1, 2, 4, 8, 16, 32, 64]
    steep = 2.0 + 5 * quality
    counts = [int(c) for c in (20000 / (np.arange(7) + 1) ** steep * (n_bits / 16))]
    record.update(
        metrics=metrics,
        times={
            "fit": 1.5 + seed * 0.1,
            "encode_database": 0.2,
            "encode_queries": 0.01,
            "index": 0.05,
            "query": 0.3,
            "evaluate": 0.8,
        },
        memory={"peak_rss_mib": 900.0 + seed, "fit_peak_rss_mib": 850.0},
        codes={
            "bit_balance": [0.5] * n_bits,
            "balance_error": 0.02 + 0.001 * seed,
            "n_buckets": 30000 + 100 * seed,
            "bucket_occupancy": {
                "max": 80 + seed,
                "mean": 1.9,
                "median": 1,
                "singleton_fraction": 0.7,
            },
            "occupancy_histogram": {"size": sizes, "count": counts},
        },
    )
    return record


def synthetic_records() -> list[dict[str, Any]]:
    """2 methods x 2 bits x 3 seeds (one failed), plus a one-seed tutorial protocol."""
    records = []
    for method in METHODS:
        for n_bits in (16, 32):
            for seed in range(3):
                failed = method == "lsh" and n_bits == 32 and seed == 2
                records.append(
                    make_record(MAIN, method, n_bits, seed, status="failed" if failed else "ok")
                )
    for method in METHODS:
        records.append(make_record(TUTORIAL, method, 16, 0, tutorial=True))
    return records


def write_run(folder: Path, records: list[dict[str, Any]], *, tail: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(record) for record in records]
    (folder / "records.jsonl").write_text("\n".join(lines) + "\n" + tail)
    run = {"protocol": MAIN, "methods": list(METHODS), "bits": [16, 32], "seeds": [0, 1, 2]}
    (folder / "run.json").write_text(json.dumps(run))
    return folder


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = write_run(
        tmp_path_factory.mktemp("run"), synthetic_records(), tail='{"schema": "hashlearn.be'
    )
    with pytest.warns(BenchRecordWarning, match="damaged"):
        return write_benchmark_report(folder)


def _table_rows(markdown: str, heading: str) -> dict[str, list[str]]:
    """The rows (first cell -> other cells) of the first table after ``**heading**``."""
    section = markdown.split(heading, 1)[1]
    rows: dict[str, list[str]] = {}
    started = False
    for line in section.splitlines():
        if line.startswith("|"):
            started = True
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            rows.setdefault(cells[0], cells[1:])
        elif started:
            break
    return rows


def _values(records: list[dict[str, Any]], method: str, n_bits: int) -> list[float]:
    return [
        r["metrics"]["map"]
        for r in records
        if r["protocol"]["spec"] == MAIN
        and r["method"]["spec"] == method
        and r["n_bits"] == n_bits
        and r["status"] == "ok"
    ]


def test_map_table_mean_std_and_anchor(report: Any) -> None:
    records = synthetic_records()
    markdown = report.markdown.read_text()
    main = markdown.split(f"## Protocol {MAIN}", 1)[1].split("## Protocol", 1)[0]
    rows = _table_rows(main, "**mAP@all**")
    assert next(iter(rows)) == "method"
    assert rows["method"][:2] == ["16 bits", "32 bits"]
    for method, (_, label) in METHODS.items():
        for column, n_bits in enumerate((16, 32)):
            values = _values(records, method, n_bits)
            expected = (
                f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f} ({len(values)})"
            )
            assert rows[label][column].startswith(expected)
    # The failed seed is counted, not hidden.
    assert rows["LSH"][1].endswith("+1 failed")
    published = next(v for k, v in rows.items() if k.startswith("↳ published"))
    assert "GRH paper, Table 1" in next(k for k in rows if k.startswith("↳ published"))
    assert published == ["0.1290", "0.1500"]
    difference = rows["↳ ours - published"]
    for column, n_bits in enumerate((16, 32)):
        delta = statistics.mean(_values(records, "grh:kernel=rbf", n_bits)) - ANCHORS[n_bits]["map"]
        mark = "within" if abs(delta) <= 0.015 else "above" if delta > 0 else "below"
        assert difference[column] == f"**{delta:+.4f} {mark}**"
    # LSH has no anchor: no published rows after it.
    assert list(rows).index("LSH") + 1 == list(rows).index("GRH RBF, LSH init")


def test_other_tables(report: Any) -> None:
    markdown = report.markdown.read_text()
    main = markdown.split(f"## Protocol {MAIN}", 1)[1].split("## Protocol", 1)[0]
    for heading in (
        "**tie-aware mAP@all**",
        "**mAP@1000**",
        "**precision within Hamming radius 2**",
        "**queries with nothing within radius 2 (fraction)**",
        "**P@10**",
        "**P@100**",
    ):
        rows = _table_rows(main, heading)
        assert set(rows) >= {"method", "LSH", "GRH RBF, LSH init"}, heading
    radius = _table_rows(main, "**precision within Hamming radius 2**")
    assert rows_published(radius) == ["0.1680", "-"]
    assert "### Time and memory" in main
    assert "### Codes and buckets" in main
    fit = [
        r["times"]["fit"]
        for r in synthetic_records()
        if r["protocol"]["spec"] == MAIN and r["method"]["spec"] == "lsh" and r["n_bits"] == 16
    ]
    assert f"| LSH | 16 | 3 | {statistics.mean(fit):.3f} |" in main


def rows_published(rows: dict[str, list[str]]) -> list[str]:
    return next(v for k, v in rows.items() if k.startswith("↳ published"))


def test_header_and_failures(report: Any) -> None:
    markdown = report.markdown.read_text()
    assert report.n_ok == 13 and report.n_failed == 1
    assert "13 ok, 1 failed (14 in all)" in markdown
    assert "git revision abc1234" in markdown
    assert "2024-05-01T10:00:00Z to 2024-05-03T10:05:00Z" in markdown
    assert "Linux-x86_64, 16 CPUs" in markdown
    failures = markdown.split("## Failures", 1)[1].split("\n## ", 1)[0]
    assert "LinAlgError" in failures and "Matrix is not positive definite" in failures
    assert "line 15 (the last) is damaged" in markdown
    assert "- seeds: `[0, 1, 2]`" in markdown  # run.json summarised
    assert '"seeds": [\n' in markdown  # and shown in full


def test_tutorial_single_seed_has_no_plus_minus(report: Any) -> None:
    markdown = report.markdown.read_text()
    tutorial = markdown.split(f"## Protocol {TUTORIAL}", 1)[1]
    rows = _table_rows(tutorial, "**mAP@all**")
    assert "±" not in rows["LSH"][0] and rows["LSH"][0].endswith("(1)")
    assert "### Tutorial protocol" in tutorial
    assert "| LSH | 16 | 0.300 / 0.02 |" in tutorial  # P@10 / ms at radius 0


def test_figures_are_pngs_and_embedded(report: Any) -> None:
    names = {path.name for path in report.figures}
    stem = "grh-cifar10_n_train_2000"
    kinds = ("map_vs_bits", "precision_r2_vs_bits", "pr_curves", "precision_at_k")
    kinds += ("radius_search", "bucket_occupancy")
    assert {f"{stem}-{kind}.png" for kind in kinds} <= names
    assert f"{stem}-tutorial.png" not in names  # no tutorial metrics in that protocol
    assert "tutorial_n_bits_16-tutorial.png" in names
    page = report.html.read_text()
    markdown = report.markdown.read_text()
    for path in report.figures:
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and path.parent.name == "figures"
        assert f"data:image/png;base64,{base64.b64encode(data).decode()}" in page
        assert f"](figures/{path.name})" in markdown
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<script" not in page and "<link" not in page
    assert 'href="#failures"' in page  # table of contents


def test_html_escapes_text(tmp_path: Path) -> None:
    records = [make_record(MAIN, "lsh", 16, seed) for seed in range(2)]
    records.append(make_record(MAIN, "lsh", 32, 0, status="failed"))
    for record in records:
        record["method"]["label"] = "<script>alert(1)</script>"
    report = write_benchmark_report(write_run(tmp_path / "run", records), tmp_path / "out")
    page = report.html.read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "Matrix is not positive definite &lt;b&gt;" in page
    markdown = report.markdown.read_text()
    assert "<script>" not in markdown and "<b>" not in markdown
    assert "| &lt;script&gt;alert(1)&lt;/script&gt; | 0." in markdown
    assert report.markdown.parent == tmp_path / "out"


def test_rerun_supersedes_failure(tmp_path: Path) -> None:
    failed = make_record(MAIN, "lsh", 16, 0, status="failed")
    ok = make_record(MAIN, "lsh", 16, 0)
    folder = write_run(tmp_path, [failed, ok])
    with pytest.warns(BenchRecordWarning, match="superseded"):
        read = read_bench_records(folder)
    assert [r["status"] for r in read] == ["ok"]
    assert "1 ok, 0 failed" in format_benchmark_markdown(read)
    with pytest.warns(BenchRecordWarning, match="superseded"):
        report = write_benchmark_report(folder)
    failures = report.markdown.read_text().split("## Failures", 1)[1].split("\n## ", 1)[0]
    assert "Failed earlier, then rerun" in failures and "LinAlgError" in failures


def test_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_benchmark_report(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match=r"no records\.jsonl"):
        write_benchmark_report(tmp_path)
    (tmp_path / "records.jsonl").write_text("\n")
    with pytest.raises(ValueError, match=r"no hashlearn\.bench/1 records"):
        write_benchmark_report(tmp_path)
    with pytest.raises(ValueError, match="no records"):
        format_benchmark_markdown([])


def test_markdown_without_optional_metrics(tmp_path: Path) -> None:
    """Records carrying only mAP still give a report; absent plots are skipped."""
    records = [make_record(MAIN, "lsh", 16, seed) for seed in range(2)]
    for record in records:
        record["metrics"] = {"map": record["metrics"]["map"]}
        del record["codes"]
    report = write_benchmark_report(write_run(tmp_path, records))
    assert [p.name for p in report.figures] == ["grh-cifar10_n_train_2000-map_vs_bits.png"]
    text = report.markdown.read_text()
    assert "**mAP@all**" in text and "P@10" not in text


def test_many_methods_never_share_both_colour_and_marker() -> None:
    from hashlearn.report.figures import _COLOURS, _MARKERS, palette

    n = len(_COLOURS) * len(_MARKERS)
    records = [{"method": {"spec": f"m{i}", "label": f"M{i}"}} for i in range(n)]
    styles = [(m.colour, m.marker) for m in palette(records).values()]
    assert len(set(styles)) == n


def test_recall_of_exact_neighbours(tmp_path: Path) -> None:
    """Protocols with ground_truth=euclidean add a recall table (it once raised KeyError)."""
    records = [make_record(MAIN, "lsh", 16, seed) for seed in range(2)]
    for seed, record in enumerate(records):
        record["metrics"]["recall_at"] = {"10": 0.2 + 0.01 * seed, "100": 0.5}
    report = write_benchmark_report(write_run(tmp_path, records))
    text = report.markdown.read_text()
    section = text.split("### Recall of exact neighbours (ANN evaluation)", 1)[1]
    rows = _table_rows(section, "**recall@10**")
    mean, std = statistics.mean([0.2, 0.21]), statistics.stdev([0.2, 0.21])
    assert rows["LSH"] == [f"{mean:.4f} ± {std:.4f} (2)"]
    assert "**recall@100**" in section


# -- Tie-aware tables and evaluation warnings (issue 14) -----------------------------------

GOLDEN = Path(__file__).with_name("golden")


def test_old_records_give_the_report_they_gave_before(tmp_path: Path) -> None:
    """Records written before tie-aware mAP@K and evaluation warnings existed (no
    ``tie_aware_map_at_k``, ``tie_aware_precision_at_k`` or ``evaluation_warnings``) give the
    report, byte for byte, that hashlearn wrote for them before (the files in golden/ were
    written by commit af2e4ea from these records; the HTML without its embedded figures).

    A change to the report's layout changes these files on purpose: write them again with
    this test's records (``write_benchmark_report(write_run(folder / "run", ...))``).
    """
    report = write_benchmark_report(write_run(tmp_path / "run", synthetic_records()))
    html = re.sub(
        r"data:image/png;base64,[A-Za-z0-9+/=]+",
        "data:image/png;base64,...",
        report.html.read_text(encoding="utf-8"),
    )
    assert report.markdown.read_text(encoding="utf-8") == (
        GOLDEN / "old_records_report.md"
    ).read_text(encoding="utf-8")
    assert html == (GOLDEN / "old_records_report.html").read_text(encoding="utf-8")


def _with_tie_aware(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for record in records:
        metrics = record.get("metrics")
        if record["status"] == "ok" and metrics:
            metrics["tie_aware_map_at_k"] = {"1000": metrics["map_at_k"]["1000"] - 0.01}
            metrics["tie_aware_precision_at_k"] = {
                k: value - 0.02 for k, value in metrics["precision_at_k"].items()
            }
    return records


def test_each_tie_aware_table_follows_its_stable_table(tmp_path: Path) -> None:
    records = _with_tie_aware(synthetic_records())
    report = write_benchmark_report(write_run(tmp_path, records))
    for text in (report.markdown.read_text(), report.html.read_text()):
        section = text.split("Protocol grh-cifar10", 1)[1]
        titles = [
            "mAP@all",
            "tie-aware mAP@all",
            "mAP@1000",
            "tie-aware mAP@1000",
            "P@10",
            "tie-aware P@10",
            "P@100",
            "tie-aware P@100",
        ]
        where = [
            section.find(f">{t}<") if "<" in text else section.find(f"**{t}**") for t in titles
        ]
        assert -1 not in where and where == sorted(where), dict(zip(titles, where, strict=True))
    rows = _table_rows(report.markdown.read_text(), "**tie-aware mAP@1000**")
    values = [
        r["metrics"]["tie_aware_map_at_k"]["1000"]
        for r in records
        if r["protocol"]["spec"] == MAIN
        and r["method"]["spec"] == "lsh"
        and r["n_bits"] == 16
        and r["status"] == "ok"
    ]
    mean, std = statistics.mean(values), statistics.stdev(values)
    assert rows["LSH"][0] == f"{mean:.4f} ± {std:.4f} (3)"


def test_evaluation_warnings_are_listed_in_the_report(tmp_path: Path) -> None:
    records = synthetic_records()
    noted = {
        "category": "SortedLabelsWarning",
        "message": "database_labels are sorted: P@K and mAP@K break ties by database index",
        "count": 1,
    }
    records[0]["evaluation_warnings"] = [noted]
    records[1]["evaluation_warnings"] = [noted, "not a warning"]  # a damaged entry is skipped
    records[2]["evaluation_warnings"] = "not a list"
    report = write_benchmark_report(write_run(tmp_path, records))
    text = report.markdown.read_text()
    section = text.split("## Evaluation warnings", 1)[1].split("\n## ", 1)[0]
    assert "`lsh`: SortedLabelsWarning in 2 record(s) (2 time(s)): `database_labels are" in section
    assert "compare the tie-aware values" in section
    assert "Fit warnings" not in text  # the records hold no fit warning
    html = report.html.read_text()
    assert "Evaluation warnings</h2>" in html and "SortedLabelsWarning in 2 record(s)" in html

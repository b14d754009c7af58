"""The reproduction page: ours beside the published tables, from the records of several runs.

``hashlearn report --reproduction docs/reproduction.md RUN_DIR [RUN_DIR ...]`` writes one
Markdown page with, for every protocol found in the runs, the command that made the run,
and for each metric the papers report (mAP@all, P@r2, mAP@K, P@K) a table of mean ± std
over seeds, the published value and the difference, marked *within*
(``|difference| <= 0.015``), *above* or *below*
(:data:`~hashlearn.report.aggregate.ANCHOR_TOLERANCE`, shared with the benchmark report);
a mAP@K or P@K table is followed by its tie-aware values where the records have them.
Like every report, it reads records only; the page is built as
:mod:`~hashlearn.report.document` blocks and rendered by :mod:`~hashlearn.report.markdown`.
"""

from __future__ import annotations

import json
import os
import shlex
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hashlearn._io import atomic_write_text
from hashlearn.records import metric_path, metric_title, read_bench_records, read_run
from hashlearn.report.aggregate import ANCHOR_TOLERANCE, mean_std, metric_value, verdict
from hashlearn.report.document import Block, Cell, Code, Heading, Paragraph, Table
from hashlearn.report.markdown import render_markdown

__all__ = ["format_reproduction", "write_reproduction"]


def _metric_path(name: str) -> tuple[str, tuple[str, ...]] | None:
    """Title and path in ``record["metrics"]`` of a protocol metric name."""
    path = metric_path(name)
    if path is None:
        return None
    title = metric_title(name)
    if path[0] == "precision_within_radius":
        title += f" (precision within Hamming radius {path[1]})"
    return title, path


def _metric_names(record: dict[str, Any]) -> list[str]:
    """mAP@all, then the metrics the protocol's paper reports, each mAP@K and P@K followed
    by its tie-aware value (a table only where the records have it), then P@r2."""
    names = ["map"]
    for name in record["protocol"].get("metric_names", []):
        names.append(name)
        if name.startswith(("map_at_k_", "precision_at_k_")):
            names.append(f"tie_aware_{name}")
    names.append("precision_within_radius_2")
    return list(dict.fromkeys(name for name in names if _metric_path(name) is not None))


def _tutorial_table(records: Sequence[dict[str, Any]]) -> list[Block]:
    """The tutorial's P@10 after re-ranking, per radius (first record of each method)."""
    rows: list[tuple[str, list[Cell]]] = []
    radii: list[int] = []
    for record in records:
        sweep = record.get("metrics", {}).get("tutorial")
        if not sweep:
            continue
        radii = sweep["radius"]
        cells = ["-" if value is None else f"{value:.3f}" for value in sweep["precision_at_10"]]
        ms = [f"{value:.2f}" for value in sweep["query_ms"]]
        label = record["method"].get("label") or record["method"]["spec"]
        rows.append(("", [Cell(f"{label} P@10 ({record['n_bits']} bits)"), *map(Cell, cells)]))
        rows.append(("", [Cell(f"{label} ms/query"), *map(Cell, ms)]))
    if not rows:
        return []
    return [
        Paragraph(
            "**Tutorial P@10 after cosine re-ranking, by Hamming radius** (empty candidate "
            "sets skipped)"
        ),
        Table(["", *(f"r={r}" for r in radii)], rows),
    ]


def _commands(group: list[dict[str, Any]], run: dict[str, Any] | None, run_dir: Path) -> list[str]:
    """The commands that wrote ``group``'s records, one per distinct configuration.

    A run folder grows by resuming it with more methods (or seeds), and ``run.json`` only
    holds the last invocation; every record keeps the configuration that made it.
    """
    if run and "arrays" in run:
        return [_command(run, run_dir)]
    configs: dict[str, dict[str, Any]] = {}
    for record in group:
        config = record.get("config")
        if isinstance(config, dict):
            configs.setdefault(json.dumps(config, sort_keys=True, default=str), config)
    if not configs:
        return [_command(run, run_dir)]
    return [_command(config, run_dir) for config in configs.values()]


def _command(run: dict[str, Any] | None, run_dir: Path) -> str:
    if not run:
        return f"# (no run.json in {run_dir})"
    if "arrays" in run:
        return f"# run_protocol(X, y, {run.get('protocol')!r}, ...) on arrays, from Python"
    parts = ["hashlearn", "bench", "--protocol", str(run.get("protocol"))]
    for spec in run.get("methods_resolved") or run.get("methods") or []:
        parts += ["--methods", str(spec)]
    if run.get("bits"):
        parts += ["--bits", ",".join(map(str, run["bits"]))]
    seeds = run.get("seeds_resolved") or run.get("seeds")
    if seeds:
        parts += [
            "--seeds",
            str(len(seeds))
            if list(seeds) == list(range(len(seeds)))
            else ",".join(map(str, seeds)),
        ]
    if isinstance(run.get("dataset"), str):
        parts += ["--dataset", run["dataset"]]
        for option in ("text_features", "max_features", "text_encoding"):
            if run.get(option) is not None:
                parts += [f"--{option.replace('_', '-')}", str(run[option])]
    elif run.get("data_dir"):
        parts += ["--data-dir", str(run["data_dir"])]
    parts += ["--out", str(run_dir)]
    return " ".join(shlex.quote(part) for part in parts)


def _table(
    records: Sequence[dict[str, Any]], metric: str, path: Sequence[str]
) -> tuple[Table | None, list[str]]:
    """The table of one metric, and the verdicts of the cells with anchors."""
    bits = sorted({int(r["n_bits"]) for r in records})
    cells: dict[tuple[str, int], list[float]] = defaultdict(list)
    anchors: dict[tuple[str, int], float] = {}
    labels: list[str] = []
    for record in records:
        label = record["method"].get("label") or record["method"]["spec"]
        if record["method"]["spec"] != record["method"]["name"]:
            label = f"{label} (`{record['method']['spec']}`)"
        if label not in labels:
            labels.append(label)
        value = metric_value(record, *path)
        if value is not None:
            cells[label, int(record["n_bits"])].append(value)
        anchor = (record.get("anchor") or {}).get(metric)
        if isinstance(anchor, int | float):
            anchors[label, int(record["n_bits"])] = float(anchor)
    if not cells:
        return None, []
    rows: list[tuple[str, list[Cell]]] = []
    verdicts: list[str] = []
    most = max(len(values) for values in cells.values())
    for label in labels:
        row, published, difference = (
            [Cell(label)],
            [Cell("↳ published")],
            [Cell("↳ ours - published")],
        )
        for b in bits:
            values = cells.get((label, b), [])
            if not values:
                row.append(Cell("-"))
            else:
                mean, std = mean_std(values)
                text = f"{mean:.4f}" if std is None else f"{mean:.4f} ± {std:.4f}"
                # Fewer seeds than the rest of the table (an unfinished run): say so.
                row.append(Cell(text if len(values) == most else f"{text} (n={len(values)})"))
            anchor = anchors.get((label, b))
            published.append(Cell("-" if anchor is None else f"{anchor:.4f}"))
            if anchor is None or not values:
                difference.append(Cell("-"))
            else:
                delta = mean_std(values)[0] - anchor
                verdicts.append(verdict(delta))
                difference.append(Cell(f"{delta:+.4f} {verdicts[-1]}", verdicts[-1]))
        rows.append(("", row))
        if any(cell.text != "-" for cell in published[1:]):
            rows += [("anchor", published), ("difference", difference)]
    return Table(["method", *(f"{b} bits" for b in bits)], rows), verdicts


def _protocol_section(
    spec: str,
    group: list[dict[str, Any]],
    failed: list[dict[str, Any]],
    run: dict[str, Any] | None,
    run_dir: Path,
) -> list[Block]:
    """One protocol of one run: its data and command, then a table per published metric."""
    first = group[0]
    sizes = first.get("sizes", {})
    seeds = sorted({r["seed"] for r in group})
    environment = first.get("environment", {})
    revisions = sorted({str(r.get("environment", {}).get("git_revision")) for r in group})
    blocks: list[Block] = [
        Heading(2, f"`{spec}`"),
        Paragraph(
            f"Dataset `{first['protocol'].get('dataset')}`: {sizes.get('n_queries', '?'):,} "
            f"queries, {sizes.get('n_database', '?'):,} database items, "
            f"{sizes.get('n_train', '?'):,} training points, "
            f"{sizes.get('n_validation', 0):,} validation points, "
            f"{sizes.get('n_features', '?')} features; seeds {', '.join(map(str, seeds))}. "
            f"hashlearn {environment.get('hashlearn', '?')} (git {', '.join(revisions)}), "
            f"{environment.get('cpu_count', '?')} CPUs."
        ),
        Code("\n".join(_commands(group, run, run_dir)), language="bash"),
    ]
    failed_here = [r for r in failed if r["protocol"]["spec"] == spec]
    if failed_here:
        names = sorted({f"{r['method']['spec']}/{r['n_bits']}/{r['seed']}" for r in failed_here})
        blocks.append(Paragraph(f"{len(failed_here)} failed record(s): {', '.join(names)}."))
    for metric in _metric_names(first):
        title, path = _metric_path(metric)  # type: ignore[misc]
        table, verdicts = _table(group, metric, path)
        if table is None:
            continue
        blocks += [Paragraph(f"**{title}**"), table]
        if verdicts:
            counts = {v: verdicts.count(v) for v in ("within", "above", "below")}
            blocks.append(
                Paragraph(
                    f"Against the published cells: {counts['within']} within, "
                    f"{counts['above']} above, {counts['below']} below."
                )
            )
    return blocks + _tutorial_table(group)


def format_reproduction(run_dirs: Sequence[str | os.PathLike[str]]) -> str:
    """The reproduction page (Markdown) for the given run folders.

    Each run folder gets a section: the command, the protocol's sizes and seeds, and one
    table per published metric. Failed records are counted and named, never hidden.

    Parameters
    ----------
    run_dirs : sequence of str or path-like
        ``hashlearn bench`` run folders, in the order of the page.

    Returns
    -------
    str
        Markdown text.

    Raises
    ------
    ValueError
        ``run_dirs`` is empty, or a run folder's records are damaged.
    FileNotFoundError
        A run folder or its ``records.jsonl`` does not exist.
    """
    if not run_dirs:
        raise ValueError("give at least one run folder")
    blocks: list[Block] = [
        Heading(1, "Reproduced tables"),
        Paragraph(
            "Generated by `hashlearn report --reproduction` from the records of the runs "
            f"below on {datetime.now(timezone.utc):%Y-%m-%d}; every number is a mean ± "
            "sample standard deviation over the seeds (random splits) of the run. *within*: "
            f"|ours - published| ≤ {ANCHOR_TOLERANCE}; *above* / *below* otherwise. Metric "
            "definitions: [metrics.md](metrics.md); record format: [records.md](records.md); "
            "each method, its paper and where and why our numbers differ from the papers': "
            "[methods.md](methods.md)."
        ),
    ]
    for run_dir in map(Path, run_dirs):
        records = read_bench_records(run_dir)
        run = read_run(run_dir)
        ok = [r for r in records if r["status"] == "ok"]
        failed = [r for r in records if r["status"] != "ok"]
        if not ok:
            blocks += [
                Heading(2, f"`{run_dir}`"),
                Paragraph(f"No successful records ({len(failed)} failed)."),
            ]
            continue
        by_protocol: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for record in ok:
            by_protocol[record["protocol"]["spec"]].append(record)
        for spec, group in by_protocol.items():
            blocks += _protocol_section(spec, group, failed, run, run_dir)
    return render_markdown(blocks, contents=False)


def write_reproduction(
    run_dirs: Sequence[str | os.PathLike[str]], path: str | os.PathLike[str]
) -> Path:
    """Write :func:`format_reproduction` to ``path`` (atomically)."""
    return atomic_write_text(path, format_reproduction(run_dirs))

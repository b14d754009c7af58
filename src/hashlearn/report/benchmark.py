"""The benchmark report: Markdown and one self-contained HTML page from a ``hashlearn bench`` run.

Everything here reads the run folder written by ``hashlearn bench`` (``records.jsonl``, one
record per line in the schema of ``docs/records.md``, and the optional ``run.json``) and
nothing else. The report has

- a header: the run's configuration, hashlearn version(s) and git revision(s), dates,
  machine, and the counts of successful and failed records;
- a *Failures* section listing every failed record with its error (never hidden);
- a *Fit warnings* section, when fitting warned: each distinct warning of a method (the
  records' ``fit_warnings``), with how many records and times it was raised; then an
  *Evaluation warnings* section, the same for what evaluating raised (``evaluation_warnings``,
  such as a ``SortedLabelsWarning``);
- per protocol (``protocol.spec``): one table per metric, a row per method
  (``method.spec``, shown as ``method.label``) and a column per code length, each cell
  ``mean ± std (n)`` over seeds (sample standard deviation, ``ddof=1``; no ``±`` for a
  single seed); each tie-aware table (mAP@K, P@K) follows the table of its stable value.
  Where the records carry a published ``anchor`` for a metric, two rows follow the
  method's: the published value and the difference *ours - published*, marked ``within``
  (``|difference| <= 0.015``), ``above`` or ``below``. Then the time and memory table, the
  code statistics table and the plots.

Plots (PNG, matplotlib's Agg backend) keep one colour and marker per method across the
whole report; error bars and bands are one standard deviation over seeds; published
anchors are dashed lines with hollow markers in the method's colour. A plot whose data are
absent from the records is skipped.

The report is assembled here from :mod:`~hashlearn.report.aggregate` (grouping, mean and
std, anchors), :mod:`~hashlearn.report.tables` and :mod:`~hashlearn.report.figures`, as a
list of :mod:`~hashlearn.report.document` blocks rendered by
:mod:`~hashlearn.report.markdown` and :mod:`~hashlearn.report.html`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hashlearn._io import atomic_write_text
from hashlearn.records import RECORDS_NAME, SCHEMA, read_run, read_run_records
from hashlearn.report.aggregate import (
    ANCHOR_TOLERANCE,
    ProtocolRecords,
    group_protocols,
    method_labels,
    metric_groups,
)
from hashlearn.report.document import (
    Block,
    Bullets,
    Code,
    Figure,
    Heading,
    Paragraph,
    assign_slugs,
    code_span,
)
from hashlearn.report.figures import BENCHMARK_PLOTS, FIGURE_TEXT, palette
from hashlearn.report.html import render_html
from hashlearn.report.markdown import render_markdown
from hashlearn.report.tables import (
    codes_table,
    failures_table,
    metric_table,
    time_table,
    training_table,
    tutorial_table,
)

__all__ = ["BenchmarkReport", "format_benchmark_markdown", "write_benchmark_report"]

FIGURES_DIR = "figures"


@dataclass(frozen=True)
class BenchmarkReport:
    """What :func:`write_benchmark_report` wrote.

    Attributes
    ----------
    markdown : Path
        ``report.md`` (figures referenced relatively, ``figures/...``).
    html : Path
        ``report.html``, self-contained: CSS inline, figures embedded as data URIs.
    figures : tuple of Path
        Every PNG written, in the order they appear in the report.
    n_ok, n_failed : int
        Records with ``status == "ok"`` and ``"failed"`` (after resumed reruns).
    """

    markdown: Path
    html: Path
    figures: tuple[Path, ...]
    n_ok: int
    n_failed: int


def _distinct(values: Iterable[Any]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        seen.setdefault("?" if value in (None, "") else str(value), None)
    return list(seen)


def _run_summary(run: dict[str, Any]) -> list[str]:
    items = []
    for key, value in run.items():
        if isinstance(value, str | int | float | bool) or value is None:
            text = json.dumps(value)
        else:
            text = json.dumps(value, separators=(", ", ": "), default=str)
            if len(text) > 160:
                size = f"{len(value)} entries" if hasattr(value, "__len__") else "..."
                text = f"({size}; see the run configuration at the end)"
                items.append(f"{key}: {text}")
                continue
        items.append(f"{key}: {code_span(text)}")
    return items


def _machine(environment: dict[str, Any]) -> str:
    """One line: platform, CPUs, threads, then the versions the record gives."""
    parts = [str(environment.get("platform", "unknown platform"))]
    if environment.get("cpu_count") is not None:
        parts.append(f"{environment['cpu_count']} CPUs")
    threads = environment.get("threads", environment.get("numba_threads"))
    if threads is not None:
        parts.append(f"{threads} threads")
    for key, name in (
        ("python", "Python"),
        ("numpy", "numpy"),
        ("scipy", "scipy"),
        ("scikit_learn", "scikit-learn"),
        ("numba", "numba"),
        ("torch", "torch"),
    ):
        if environment.get(key):
            parts.append(f"{name} {environment[key]}")
    return ", ".join(parts)


def _header(
    records: Sequence[dict[str, Any]],
    run: dict[str, Any] | None,
    notes: Sequence[str],
    superseded: Sequence[dict[str, Any]],
) -> list[Block]:
    ok = [r for r in records if r.get("status") == "ok"]
    failed = [r for r in records if r.get("status") != "ok"]
    environments = [r.get("environment") or {} for r in records]
    started = sorted(str(r["started_at"]) for r in records if r.get("started_at"))
    finished = sorted(str(r["finished_at"]) for r in records if r.get("finished_at"))
    methods = _distinct(r["method"]["spec"] for r in records)
    protocols = _distinct(r["protocol"]["spec"] for r in records)
    versions = _distinct(e.get("hashlearn") for e in environments)
    revisions = _distinct(e.get("git_revision") for e in environments)
    machines = _distinct(_machine(e) for e in environments)
    mixed = " (**mixed: results come from different code**)" if len(revisions) > 1 else ""
    items = [
        f"records: {len(ok)} ok, {len(failed)} failed ({len(records)} in all); "
        f"{len(protocols)} protocol(s), {len(methods)} method(s)",
        f"dates (UTC): {started[0] if started else '?'} to {finished[-1] if finished else '?'}",
        f"hashlearn {', '.join(versions)}; git revision {', '.join(revisions)}{mixed}",
        *(f"machine: {machine}" for machine in machines),
    ]
    blocks: list[Block] = [Heading(2, "Run"), Bullets(items)]
    if run is not None:
        blocks += [Paragraph("Run configuration (`run.json`):"), Bullets(_run_summary(run))]
    else:
        blocks.append(Paragraph("No `run.json` in the run folder."))
    if notes:
        blocks += [Paragraph("Reading notes:"), Bullets(list(notes))]
    blocks += [
        Paragraph(
            f"Tables: mean ± std (n) over seeds (sample std, ddof=1). Published numbers, "
            f"where the records carry them, follow a method's row with the difference "
            f"ours - published: *within* when |difference| ≤ {ANCHOR_TOLERANCE}, else "
            "*above* or *below*."
        )
    ]
    blocks.append(Heading(2, "Failures"))
    if not failed and not superseded:
        blocks.append(Paragraph("No failed records."))
    for title, group in (
        ("Failed", failed),
        ("Failed earlier, then rerun (the rerun is reported)", superseded),
    ):
        if not group:
            continue
        blocks.append(failures_table(group, title))
        if group is failed:
            for record in group:
                trace = str((record.get("error") or {}).get("traceback") or "").rstrip()
                if trace:
                    tail = "\n".join(trace.splitlines()[-12:])
                    blocks.append(Code(tail, f"traceback (last lines) of {record['key']}"))
    return blocks


def _warning_blocks(
    records: Sequence[dict[str, Any]], field: str, heading: str, intro: str
) -> list[Block]:
    """The warnings the records keep under ``field``, one bullet per distinct warning of a
    method: a convergence, probe-cost or sorted-labels warning changes what a number means."""
    found: dict[tuple[str, str, str], list[tuple[str, int]]] = {}
    for record in records:
        noted = record.get(field)
        if not isinstance(noted, list):
            continue
        for warning in noted:
            if not isinstance(warning, dict):
                continue
            where = (
                str(record["method"]["spec"]),
                str(warning.get("category", "Warning")),
                str(warning.get("message", "")),
            )
            count = warning.get("count", 1)
            count = count if isinstance(count, int) and not isinstance(count, bool) else 1
            found.setdefault(where, []).append((str(record["key"]), count))
    if not found:
        return []
    items = []
    for (spec, category, message), hits in found.items():
        keys = ", ".join(code_span(key) for key, _ in hits[:3])
        more = f" and {len(hits) - 3} more" if len(hits) > 3 else ""
        text = message if len(message) <= 300 else message[:297] + "..."
        items.append(
            f"{code_span(spec)}: {category} in {len(hits)} record(s) "
            f"({sum(count for _, count in hits)} time(s)): {code_span(text)}; {keys}{more}"
        )
    return [Heading(2, heading), Paragraph(intro), Bullets(items)]


def _fit_warning_blocks(records: Sequence[dict[str, Any]]) -> list[Block]:
    return _warning_blocks(
        records,
        "fit_warnings",
        "Fit warnings",
        "Warnings raised while fitting (the records' `fit_warnings`); the numbers of these "
        "records may reflect a fit that did not converge:",
    )


def _evaluation_warning_blocks(records: Sequence[dict[str, Any]]) -> list[Block]:
    return _warning_blocks(
        records,
        "evaluation_warnings",
        "Evaluation warnings",
        "Warnings raised while encoding, searching and evaluating (the records' "
        "`evaluation_warnings`). A `SortedLabelsWarning` means the database was stored "
        "sorted by label, so P@K and mAP@K (ties broken by database index) depend on that "
        "order; compare the tie-aware values beside them:",
    )


def _protocol_blocks(
    protocol: ProtocolRecords,
    labels: dict[str, str],
    figures: dict[tuple[str, str], Figure],
) -> list[Block]:
    first = protocol.records[0]
    dataset = first["protocol"].get("dataset")
    sizes = next((r.get("sizes") for r in protocol.ok if r.get("sizes")), None) or {}
    seeds = sorted({int(r["seed"]) for r in protocol.records})
    n_ok = len(protocol.ok)
    blocks: list[Block] = [
        Heading(2, f"Protocol {protocol.spec}"),
    ]
    facts = [
        f"protocol {code_span(first['protocol'].get('name', protocol.spec))}"
        + (f" on {code_span(dataset)}" if dataset else ""),
        f"{n_ok} ok and {len(protocol.records) - n_ok} failed record(s); seeds "
        f"{', '.join(map(str, seeds))}; bits {', '.join(map(str, protocol.bits))}",
    ]
    if sizes:
        facts.append(
            "sizes: "
            + ", ".join(
                f"{key} {value:,}" for key, value in sizes.items() if isinstance(value, int)
            )
        )
    facts.append(
        "methods: " + "; ".join(f"{labels[spec]} = {code_span(spec)}" for spec in protocol.methods)
    )
    blocks.append(Bullets(facts))

    def figure(kind: str) -> list[Block]:
        image = figures.get((protocol.spec, kind))
        return [image] if image is not None else []

    plots_after = {
        "Mean average precision": ["map_vs_bits"],
        "Precision within Hamming radius 2": ["precision_r2_vs_bits"],
        "Precision at K": ["precision_at_k"],
    }
    for heading, metrics in metric_groups(protocol):
        tables = [
            (metric, table)
            for metric in metrics
            if (table := metric_table(protocol, labels, metric)) is not None
        ]
        images = [b for kind in plots_after.get(heading, ()) for b in figure(kind)]
        if not tables and not images:
            continue
        blocks.append(Heading(3, heading))
        for metric, table in tables:
            blocks += [Paragraph(f"**{metric.title}**"), table]
        blocks += images
    for kind, heading in (
        ("pr_curves", "Precision-recall curves"),
        ("radius_search", "Hash-table lookup vs radius"),
    ):
        images = figure(kind)
        if images:
            blocks += [Heading(3, heading), *images]
    tutorial = tutorial_table(protocol, labels)
    if tutorial is not None or figure("tutorial"):
        blocks.append(Heading(3, "Tutorial protocol"))
        if tutorial is not None:
            blocks.append(tutorial)
        blocks += figure("tutorial")
    times = time_table(protocol, labels)
    if times is not None:
        blocks += [Heading(3, "Time and memory"), times]
    training = training_table(protocol, labels)
    if training is not None or figure("training_curves"):
        blocks.append(Heading(3, "Training (deep methods)"))
        if training is not None:
            blocks.append(training)
        blocks += figure("training_curves")
    codes = codes_table(protocol, labels)
    if codes is not None or figure("bucket_occupancy"):
        blocks.append(Heading(3, "Codes and buckets"))
        if codes is not None:
            blocks.append(codes)
        blocks += figure("bucket_occupancy")
    return blocks


def _document(
    records: Sequence[dict[str, Any]],
    *,
    run: dict[str, Any] | None,
    title: str,
    notes: Sequence[str] = (),
    superseded: Sequence[dict[str, Any]] = (),
    figures: dict[tuple[str, str], Figure] | None = None,
) -> list[Block]:
    if not records:
        raise ValueError("no records to report")
    labels = method_labels(records)
    blocks: list[Block] = [Heading(1, title)]
    blocks += _header(records, run, notes, superseded)
    blocks += _fit_warning_blocks(records)
    blocks += _evaluation_warning_blocks(records)
    for protocol in group_protocols(records):
        blocks += _protocol_blocks(protocol, labels, figures or {})
    if run is not None:
        blocks += [
            Heading(2, "Run configuration"),
            Code(json.dumps(run, indent=2, default=str), "run.json", "json"),
        ]
    assign_slugs(blocks)
    return blocks


def format_benchmark_markdown(
    records: Sequence[dict[str, Any]],
    *,
    run: dict[str, Any] | None = None,
    title: str = "Benchmark report",
) -> str:
    """The report's Markdown without figures: header, failures, and every table.

    Parameters
    ----------
    records : sequence of dict
        Records of the ``hashlearn.bench/1`` schema (see :func:`read_bench_records`).
    run : dict, optional
        The run configuration (``run.json``), summarised in the header and shown in full.
    title : str, default "Benchmark report"
        The top heading.

    Returns
    -------
    str
        Markdown text.

    Raises
    ------
    ValueError
        ``records`` is empty.

    Examples
    --------
    >>> text = format_benchmark_markdown(read_bench_records("runs/x"))  # doctest: +SKIP
    """
    return render_markdown(_document(records, run=run, title=title))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_.") or "protocol"


def _write_figures(
    records: Sequence[dict[str, Any]], target: Path
) -> dict[tuple[str, str], Figure]:
    """Draw every plot the records have data for into ``target/figures``, by (protocol, kind)."""
    styles = palette(records)
    figures: dict[tuple[str, str], Figure] = {}
    used: set[str] = set()
    for protocol in group_protocols(records):
        stem = _slug(protocol.spec)
        while stem in used:
            stem += "_"
        used.add(stem)
        for kind, plot in BENCHMARK_PLOTS:
            relative = f"{FIGURES_DIR}/{stem}-{kind}.png"
            written = plot(protocol, styles, target / relative)
            if written is not None:
                alt = f"{FIGURE_TEXT[kind]} ({protocol.spec})"
                figures[protocol.spec, kind] = Figure(written, relative, alt)
    return figures


def write_benchmark_report(
    run_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    title: str | None = None,
) -> BenchmarkReport:
    """Write ``report.md``, ``report.html`` and ``figures/*.png`` for a ``hashlearn bench`` run.

    Parameters
    ----------
    run_dir : str or path-like
        The run folder (``records.jsonl`` and, optionally, ``run.json``).
    out_dir : str or path-like, optional
        Where to write; defaults to ``run_dir``. Figures go to ``out_dir/figures``.
    title : str, optional
        The report's title; defaults to ``"Benchmark report: <run folder name>"``.

    Returns
    -------
    BenchmarkReport
        The paths written and the record counts.

    Raises
    ------
    FileNotFoundError
        ``run_dir`` or its ``records.jsonl`` is missing.
    ValueError
        No records to report, or a damaged line other than the last.

    Notes
    -----
    Every file is written to a temporary file in its folder and then renamed, so a report
    is never half-written. The HTML page is self-contained (inline CSS, figures as
    base64 data URIs, no scripts); the Markdown references ``figures/...`` relatively.

    Examples
    --------
    >>> report = write_benchmark_report("runs/grh-cifar10")  # doctest: +SKIP
    >>> report.html  # doctest: +SKIP
    PosixPath('runs/grh-cifar10/report.html')
    """
    source = Path(run_dir)
    reading = read_run_records(source)
    reading.warn(stacklevel=2)
    if not reading.records:
        raise ValueError(
            f"no {SCHEMA} records in {source / RECORDS_NAME}"
            + (f" ({'; '.join(reading.notes)})" if reading.notes else "")
        )
    run = read_run(source)
    target = Path(out_dir) if out_dir is not None else source
    if target.exists() and not target.is_dir():
        raise NotADirectoryError(f"out_dir must be a folder, but {str(target)!r} is a file")
    name = title or f"Benchmark report: {source.resolve().name}"
    blocks = _document(
        reading.records,
        run=run,
        title=name,
        notes=reading.notes,
        superseded=reading.superseded,
        figures=_write_figures(reading.records, target),
    )
    md_path = atomic_write_text(target / "report.md", render_markdown(blocks))
    html_path = atomic_write_text(target / "report.html", render_html(blocks, name))
    ordered = tuple(b.path for b in blocks if isinstance(b, Figure))
    n_ok = sum(1 for r in reading.records if r.get("status") == "ok")
    return BenchmarkReport(md_path, html_path, ordered, n_ok, len(reading.records) - n_ok)

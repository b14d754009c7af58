"""The tables of the benchmark report, built from records as document tables.

Each builder takes one protocol's records (:class:`~hashlearn.report.aggregate.ProtocolRecords`)
and the display label of every method spec, and returns a
:class:`~hashlearn.report.document.Table`, or None when the records carry nothing for it.
A metric cell is ``mean ± std (n)`` over seeds (:func:`~hashlearn.report.aggregate.mean_std`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from hashlearn.records import format_mean_std
from hashlearn.report.aggregate import (
    Metric,
    ProtocolRecords,
    curve,
    mean_of,
    mean_std,
    verdict,
)
from hashlearn.report.document import Cell, Table

__all__ = ["codes_table", "failures_table", "metric_table", "time_table", "tutorial_table"]

Labels = dict[str, str]
"""The display label of each method spec (:func:`~hashlearn.report.aggregate.method_labels`)."""


def _fmt_seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 0.01:
        return f"{value:.2e}"
    return f"{value:.3f}" if value < 10 else f"{value:,.1f}"


def _fmt_count(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def metric_table(protocol: ProtocolRecords, labels: Labels, metric: Metric) -> Table | None:
    """One metric: a row per method, a column per code length, anchor rows where published."""
    values: dict[tuple[str, int], list[float]] = {}
    for method in protocol.methods:
        for n_bits in protocol.bits:
            cell = [metric.getter(r) for r in protocol.cell(method, n_bits)]
            values[method, n_bits] = [v for v in cell if v is not None]
    if not any(values.values()):
        return None
    rows: list[tuple[str, list[Cell]]] = []
    for method in protocol.methods:
        cells = []
        for n_bits in protocol.bits:
            text = format_mean_std(values[method, n_bits])
            failed = protocol.n_failed(method, n_bits)
            if failed:
                text += f" +{failed} failed"
            cells.append(Cell(text, "failed" if failed else ""))
        rows.append(("", [Cell(labels[method], "method"), *cells]))
        anchors = {
            n_bits: protocol.anchor(method, n_bits, metric.anchor_keys) for n_bits in protocol.bits
        }
        if not any(anchors.values()):
            continue
        sources = sorted({a[1] for a in anchors.values() if a is not None})
        published = [Cell(f"↳ published ({'; '.join(sources)})", "method")]
        difference = [Cell("↳ ours - published", "method")]
        for n_bits in protocol.bits:
            anchor = anchors[n_bits]
            if anchor is None:
                published.append(Cell("-"))
                difference.append(Cell("-"))
                continue
            published.append(Cell(f"{anchor[0]:.4f}"))
            if values[method, n_bits]:
                delta = mean_std(values[method, n_bits])[0] - anchor[0]
                mark = verdict(delta)
                difference.append(Cell(f"{delta:+.4f} {mark}", mark, strong=True))
            else:
                difference.append(Cell("-"))
        rows += [("anchor", published), ("difference", difference)]
    header = ["method", *(f"{b} bits" for b in protocol.bits)]
    return Table(header, rows, metric.description)


def time_table(protocol: ProtocolRecords, labels: Labels) -> Table | None:
    """Seconds per stage and peak memory, a row per (method, code length)."""
    rows: list[tuple[str, list[Cell]]] = []
    for method in protocol.methods:
        for n_bits in protocol.bits:
            cell = protocol.cell(method, n_bits)
            if not cell:
                continue
            times = [
                _fmt_seconds(mean_of(cell, "times", name))
                for name in ("fit", "encode_database", "encode_queries", "index", "query")
            ]
            memory = [
                _fmt_count(mean_of(cell, "memory", name))
                for name in ("fit_peak_rss_mib", "peak_rss_mib")
            ]
            rows.append(
                (
                    "",
                    [
                        Cell(labels[method], "method"),
                        Cell(str(n_bits)),
                        Cell(str(len(cell))),
                        *map(Cell, times),
                        *map(Cell, memory),
                    ],
                )
            )
    if not rows:
        return None
    header = [
        "method",
        "bits",
        "n",
        "fit s",
        "encode database s",
        "encode queries s",
        "index s",
        "query s",
        "fit peak RSS MiB",
        "peak RSS MiB",
    ]
    return Table(header, rows, "seconds and MiB, mean over seeds")


def training_table(protocol: ProtocolRecords, labels: Labels) -> Table | None:
    """Deep methods' training: device, epochs, speed, a row per (method, code length)."""
    rows: list[tuple[str, list[Cell]]] = []
    for method in protocol.methods:
        for n_bits in protocol.bits:
            cell = [r for r in protocol.cell(method, n_bits) if isinstance(r.get("training"), dict)]
            if not cell:
                continue
            devices = sorted({str(r["training"].get("device")) for r in cell})
            rows.append(
                (
                    "",
                    [
                        Cell(labels[method], "method"),
                        Cell(str(n_bits)),
                        Cell(str(len(cell))),
                        Cell(", ".join(devices)),
                        Cell(_fmt_count(mean_of(cell, "training", "epochs_run"), 1)),
                        Cell(_fmt_count(mean_of(cell, "training", "best_epoch"), 1)),
                        Cell(_fmt_seconds(mean_of(cell, "training", "seconds_per_epoch"))),
                        Cell(_fmt_seconds(mean_of(cell, "training", "seconds"))),
                        Cell(_fmt_count(mean_of(cell, "training", "train_inputs_per_second"))),
                        Cell(_fmt_count(mean_of(cell, "training", "encode_inputs_per_second"))),
                    ],
                )
            )
    if not rows:
        return None
    header = [
        "method",
        "bits",
        "n",
        "device",
        "epochs run",
        "epoch kept",
        "s per epoch",
        "training s",
        "training inputs/s",
        "encoding inputs/s",
    ]
    return Table(header, rows, "mean over seeds; speeds exclude validation")


# Columns of the codes table: (header, path under "codes", formatter); a column no record
# carries is left out (``n_constant_bits`` and ``mean_abs_correlation`` are optional).
_CODE_COLUMNS: tuple[tuple[str, tuple[str, ...], Callable[[float | None], str]], ...] = (
    ("balance error", ("balance_error",), lambda v: _fmt_count(v, 4)),
    ("constant bits", ("n_constant_bits",), lambda v: _fmt_count(v, 1)),
    ("mean abs bit correlation", ("mean_abs_correlation",), lambda v: _fmt_count(v, 3)),
    ("buckets", ("n_buckets",), _fmt_count),
    ("max bucket", ("bucket_occupancy", "max"), _fmt_count),
    ("mean bucket", ("bucket_occupancy", "mean"), lambda v: _fmt_count(v, 2)),
    ("median bucket", ("bucket_occupancy", "median"), lambda v: _fmt_count(v, 1)),
    ("singleton buckets", ("bucket_occupancy", "singleton_fraction"), _percent),
)


def codes_table(protocol: ProtocolRecords, labels: Labels) -> Table | None:
    """Statistics of the database codes (bit balance, buckets), a row per (method, bits)."""
    with_codes = [r for r in protocol.ok if isinstance(r.get("codes"), dict)]
    columns = [c for c in _CODE_COLUMNS if mean_of(with_codes, "codes", *c[1]) is not None]
    rows: list[tuple[str, list[Cell]]] = []
    for method in protocol.methods:
        for n_bits in protocol.bits:
            cell = [r for r in protocol.cell(method, n_bits) if isinstance(r.get("codes"), dict)]
            if not cell:
                continue
            values = [Cell(fmt(mean_of(cell, "codes", *path))) for _, path, fmt in columns]
            label = Cell(labels[method], "method")
            rows.append(("", [label, Cell(str(n_bits)), Cell(str(len(cell))), *values]))
    if not rows:
        return None
    header = ["method", "bits", "n", *(c[0] for c in columns)]
    caption = (
        "database codes, mean over seeds; balance error = mean over bits of |fraction of "
        "ones - 0.5|; a bucket = the database items sharing one code"
    )
    return Table(header, rows, caption)


def tutorial_table(protocol: ProtocolRecords, labels: Labels) -> Table | None:
    """The tutorial protocol's P@10 / query ms at each Hamming radius, mean over seeds."""
    radii: list[int] = []
    rows: list[tuple[str, list[Cell]]] = []
    for method in protocol.methods:
        for n_bits in protocol.bits:
            cell = protocol.cell(method, n_bits)
            found = curve(cell, "tutorial", "radius", ("precision_at_10", "query_ms"))
            if found is None:
                continue
            x, means, _ = found
            radii = radii if len(radii) >= len(x) else [int(r) for r in x]
            cells = [
                Cell(f"{p:.3f} / {ms:.2f}" if math.isfinite(p) else f"- / {ms:.2f}")
                for p, ms in zip(means[0], means[1], strict=True)
            ]
            rows.append(("", [Cell(labels[method], "method"), Cell(str(n_bits)), *cells]))
    if not rows:
        return None
    width = 2 + len(radii)
    rows = [(kind, cells + [Cell("-")] * (width - len(cells))) for kind, cells in rows]
    header = ["method", "bits", *(f"r={r}" for r in radii)]
    return Table(header, rows, "P@10 / query ms at each Hamming radius, mean over seeds")


def failures_table(records: Sequence[dict[str, Any]], title: str) -> Table:
    """Failed records with their error type and message (one line each)."""
    rows = []
    for record in records:
        error = record.get("error") or {}
        message = " ".join(str(error.get("message", "(no message)")).split())
        rows.append(
            (
                "",
                [
                    Cell(str(record["protocol"]["spec"])),
                    Cell(str(record["method"]["spec"]), "method"),
                    Cell(str(record["n_bits"])),
                    Cell(str(record["seed"])),
                    Cell(str(error.get("type", "?")), "failed"),
                    Cell(message, "message"),
                ],
            )
        )
    header = ["protocol", "method", "bits", "seed", "error", "message"]
    return Table(header, rows, f"{title}: {len(records)} record(s)", left=6)

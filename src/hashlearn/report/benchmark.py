"""The benchmark report: Markdown and one self-contained HTML page from a ``hashlearn bench`` run.

Everything here reads the run folder written by ``hashlearn bench`` (``records.jsonl``, one
record per line in the schema of ``docs/records.md``, and the optional ``run.json``) and
nothing else. The report has

- a header: the run's configuration, hashlearn version(s) and git revision(s), dates,
  machine, and the counts of successful and failed records;
- a *Failures* section listing every failed record with its error (never hidden);
- per protocol (``protocol.spec``): one table per metric, a row per method
  (``method.spec``, shown as ``method.label``) and a column per code length, each cell
  ``mean ± std (n)`` over seeds (sample standard deviation, ``ddof=1``; no ``±`` for a
  single seed). Where the records carry a published ``anchor`` for a metric, two rows
  follow the method's: the published value and the difference *ours - published*, marked
  ``within`` (``|difference| <= 0.015``), ``above`` or ``below``. Then the time and memory
  table, the code statistics table and the plots.

Plots (PNG, matplotlib's Agg backend) keep one colour and marker per method across the
whole report; error bars and bands are one standard deviation over seeds; published
anchors are dashed lines with hollow markers in the method's colour. A plot whose data are
absent from the records is skipped.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import re
import textwrap
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hashlearn.records import (
    RECORDS_NAME,
    SCHEMA,
    BenchRecordWarning,
    read_bench_records,
    read_run,
    read_run_records,
)

__all__ = [
    "ANCHOR_TOLERANCE",
    "SCHEMA",
    "BenchRecordWarning",
    "BenchmarkReport",
    "format_benchmark_markdown",
    "read_bench_records",
    "write_benchmark_report",
]

ANCHOR_TOLERANCE = 0.015
"""A difference to a published number within +-this is marked ``within``."""

FIGURES_DIR = "figures"

_DPI = 150
_COLOURS = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#7f7f7f",
    "#bcbd22",
    "#393b79",
    "#637939",
)
_MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*", "<", ">", "h", "p")


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


# --------------------------------------------------------------------------- numbers


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _stats(values: Sequence[float]) -> tuple[float, float | None, int]:
    """Mean, sample standard deviation (``ddof=1``, None for one value) and count."""
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return mean, None, n
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)), n


def _fmt_stat(values: Sequence[float], digits: int = 4) -> str:
    if not values:
        return "-"
    mean, std, n = _stats(values)
    if std is None:
        return f"{mean:.{digits}f} ({n})"
    return f"{mean:.{digits}f} ± {std:.{digits}f} ({n})"


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


def _mark(difference: float) -> str:
    if abs(difference) <= ANCHOR_TOLERANCE:
        return "within"
    return "above" if difference > 0 else "below"


# --------------------------------------------------------------------------- grouping


@dataclass(frozen=True)
class _Method:
    spec: str
    label: str
    colour: str
    marker: str


def _palette(records: Sequence[dict[str, Any]]) -> dict[str, _Method]:
    """One colour, marker and unique display label per ``method.spec``, in order of appearance."""
    specs: dict[str, str] = {}
    for record in records:
        method = record["method"]
        label = str(method.get("label") or method.get("name") or method["spec"])
        specs.setdefault(str(method["spec"]), label)
    counts: dict[str, int] = {}
    for label in specs.values():
        counts[label] = counts.get(label, 0) + 1
    palette = {}
    for position, (spec, label) in enumerate(specs.items()):
        shown = f"{label} ({spec})" if counts[label] > 1 else label
        palette[spec] = _Method(
            spec,
            shown,
            _COLOURS[position % len(_COLOURS)],
            # Shifted by one each time the colours come round again, so that no two of the
            # first len(_COLOURS) * len(_MARKERS) methods share both colour and marker.
            _MARKERS[(position + position // len(_COLOURS)) % len(_MARKERS)],
        )
    return palette


@dataclass
class _Protocol:
    spec: str
    records: list[dict[str, Any]]  # every record, ok or failed
    methods: list[str]
    bits: list[int]

    @property
    def ok(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("status") == "ok"]

    def cell(self, method: str, n_bits: int) -> list[dict[str, Any]]:
        return [r for r in self.ok if r["method"]["spec"] == method and r["n_bits"] == n_bits]

    def n_failed(self, method: str, n_bits: int) -> int:
        return sum(
            1
            for r in self.records
            if r.get("status") != "ok" and r["method"]["spec"] == method and r["n_bits"] == n_bits
        )

    def anchor(self, method: str, n_bits: int, keys: Sequence[str]) -> tuple[float, str] | None:
        for record in self.records:
            if record["method"]["spec"] != method or record["n_bits"] != n_bits:
                continue
            anchor = record.get("anchor")
            if not isinstance(anchor, dict):
                continue
            sources = anchor.get("sources")
            for key in keys:
                value = _finite(anchor.get(key))
                if value is not None:
                    # A per-metric source, where given, is more precise than the joint one.
                    source = sources.get(key) if isinstance(sources, dict) else None
                    return value, str(source or anchor.get("source") or "published")
        return None


def _protocols(records: Sequence[dict[str, Any]]) -> list[_Protocol]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(str(record["protocol"]["spec"]), []).append(record)
    protocols = []
    for spec, group in groups.items():
        methods: dict[str, None] = {}
        for record in group:
            methods.setdefault(str(record["method"]["spec"]), None)
        bits = sorted({int(r["n_bits"]) for r in group})
        protocols.append(_Protocol(spec, group, list(methods), bits))
    return protocols


@dataclass(frozen=True)
class _Metric:
    title: str
    getter: Callable[[dict[str, Any]], float | None]
    anchor_keys: tuple[str, ...] = ()
    description: str = ""


def _get(*path: str) -> Callable[[dict[str, Any]], float | None]:
    def getter(record: dict[str, Any]) -> float | None:
        value: Any = record.get("metrics") or {}
        for name in path:
            if not isinstance(value, dict):
                return None
            value = value.get(name)
        return _finite(value)

    return getter


def _sorted_keys(protocol: _Protocol, name: str) -> list[str]:
    keys: set[str] = set()
    for record in protocol.ok:
        value = (record.get("metrics") or {}).get(name)
        if isinstance(value, dict):
            keys.update(str(k) for k in value)

    def order(key: str) -> tuple[int, float, str]:
        try:
            return 0, float(key), key
        except ValueError:
            return 1, 0.0, key

    return sorted(keys, key=order)


def _metrics(protocol: _Protocol) -> list[tuple[str, list[_Metric]]]:
    """The metric tables of a protocol, grouped under sub-headings."""
    groups: list[tuple[str, list[_Metric]]] = []
    ranking = [
        _Metric(
            "mAP@all",
            _get("map"),
            ("map",),
            "mean average precision over the whole Hamming ranking (ties by database index)",
        ),
        _Metric(
            "tie-aware mAP@all",
            _get("tie_aware_map"),
            ("tie_aware_map",),
            "expected average precision over random orders of tied distances",
        ),
    ]
    for k in _sorted_keys(protocol, "map_at_k"):
        ranking.append(
            _Metric(
                f"mAP@{k}",
                _get("map_at_k", k),
                (f"map_at_k_{k}", f"map_at_{k}", f"map@{k}"),
                f"mean average precision over the top {k} of the ranking",
            )
        )
    groups.append(("Mean average precision", ranking))
    radius = [
        _Metric(
            "precision within Hamming radius 2",
            _get("precision_within_radius", "2", "value"),
            ("precision_within_radius_2", "precision_r2"),
            "precision of everything within Hamming distance 2 (empty retrieval scores 0)",
        ),
        _Metric(
            "queries with nothing within radius 2 (fraction)",
            _get("precision_within_radius", "2", "empty_fraction"),
            (),
            "fraction of queries with no database code within Hamming distance 2",
        ),
    ]
    groups.append(("Precision within Hamming radius 2", radius))
    at_k = [
        _Metric(
            f"P@{k}",
            _get("precision_at_k", k),
            (f"precision_at_k_{k}", f"precision_at_{k}", f"p@{k}"),
            f"precision of the top {k} of the Hamming ranking",
        )
        for k in _sorted_keys(protocol, "precision_at_k")
    ]
    groups.append(("Precision at K", at_k))
    recall = [
        _Metric(
            f"recall@{r}",
            _get("recall_at", r),
            (f"recall_at_{r}",),
            f"fraction of the exact feature-space nearest neighbours found in the top {r} of "
            "the Hamming ranking",
        )
        for r in _sorted_keys(protocol, "recall_at")
    ]
    if recall:
        groups.append(("Recall of exact neighbours (ANN evaluation)", recall))
    return groups


# --------------------------------------------------------------------------- document model


@dataclass
class _Cell:
    text: str
    css: str = ""


@dataclass
class _Table:
    header: list[str]
    rows: list[tuple[str, list[_Cell]]]  # (row class, cells)
    caption: str = ""
    left: int = 1  # this many leading columns are text (left-aligned); the rest are numbers


@dataclass
class _Heading:
    level: int
    text: str
    slug: str = ""


@dataclass
class _Para:
    text: str  # `code` spans allowed


@dataclass
class _Bullets:
    items: list[str]


@dataclass
class _Pre:
    text: str
    summary: str  # HTML: a collapsed <details>; Markdown: a fenced block after this line
    language: str = ""


@dataclass
class _Image:
    path: Path
    relative: str
    alt: str


_Block = _Heading | _Para | _Bullets | _Pre | _Image | _Table


def _metric_table(
    protocol: _Protocol, palette: dict[str, _Method], metric: _Metric
) -> _Table | None:
    values: dict[tuple[str, int], list[float]] = {}
    for method in protocol.methods:
        for n_bits in protocol.bits:
            cell = [metric.getter(r) for r in protocol.cell(method, n_bits)]
            values[method, n_bits] = [v for v in cell if v is not None]
    if not any(values.values()):
        return None
    rows: list[tuple[str, list[_Cell]]] = []
    for method in protocol.methods:
        cells = []
        for n_bits in protocol.bits:
            text = _fmt_stat(values[method, n_bits])
            failed = protocol.n_failed(method, n_bits)
            if failed:
                text += f" +{failed} failed"
            cells.append(_Cell(text, "failed" if failed else ""))
        rows.append(("", [_Cell(palette[method].label, "method"), *cells]))
        anchors = {
            n_bits: protocol.anchor(method, n_bits, metric.anchor_keys) for n_bits in protocol.bits
        }
        if not any(anchors.values()):
            continue
        sources = sorted({a[1] for a in anchors.values() if a is not None})
        published = [_Cell(f"↳ published ({'; '.join(sources)})", "method")]
        difference = [_Cell("↳ ours - published", "method")]
        for n_bits in protocol.bits:
            anchor = anchors[n_bits]
            if anchor is None:
                published.append(_Cell("-"))
                difference.append(_Cell("-"))
                continue
            published.append(_Cell(f"{anchor[0]:.4f}"))
            if values[method, n_bits]:
                delta = _stats(values[method, n_bits])[0] - anchor[0]
                mark = _mark(delta)
                difference.append(_Cell(f"{delta:+.4f} {mark}", mark))
            else:
                difference.append(_Cell("-"))
        rows += [("anchor", published), ("difference", difference)]
    header = ["method", *(f"{b} bits" for b in protocol.bits)]
    return _Table(header, rows, metric.description)


def _mean_of(records: Sequence[dict[str, Any]], *path: str) -> float | None:
    values = []
    for record in records:
        value: Any = record
        for name in path:
            value = value.get(name) if isinstance(value, dict) else None
        number = _finite(value)
        if number is not None:
            values.append(number)
    return math.fsum(values) / len(values) if values else None


def _time_table(protocol: _Protocol, palette: dict[str, _Method]) -> _Table | None:
    rows: list[tuple[str, list[_Cell]]] = []
    for method in protocol.methods:
        for n_bits in protocol.bits:
            cell = protocol.cell(method, n_bits)
            if not cell:
                continue
            times = [
                _fmt_seconds(_mean_of(cell, "times", name))
                for name in ("fit", "encode_database", "encode_queries", "index", "query")
            ]
            memory = [
                _fmt_count(_mean_of(cell, "memory", name))
                for name in ("fit_peak_rss_mib", "peak_rss_mib")
            ]
            rows.append(
                (
                    "",
                    [
                        _Cell(palette[method].label, "method"),
                        _Cell(str(n_bits)),
                        _Cell(str(len(cell))),
                        *map(_Cell, times),
                        *map(_Cell, memory),
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
    return _Table(header, rows, "seconds and MiB, mean over seeds")


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


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


def _codes_table(protocol: _Protocol, palette: dict[str, _Method]) -> _Table | None:
    with_codes = [r for r in protocol.ok if isinstance(r.get("codes"), dict)]
    columns = [c for c in _CODE_COLUMNS if _mean_of(with_codes, "codes", *c[1]) is not None]
    rows: list[tuple[str, list[_Cell]]] = []
    for method in protocol.methods:
        for n_bits in protocol.bits:
            cell = [r for r in protocol.cell(method, n_bits) if isinstance(r.get("codes"), dict)]
            if not cell:
                continue
            values = [_Cell(fmt(_mean_of(cell, "codes", *path))) for _, path, fmt in columns]
            label = _Cell(palette[method].label, "method")
            rows.append(("", [label, _Cell(str(n_bits)), _Cell(str(len(cell))), *values]))
    if not rows:
        return None
    header = ["method", "bits", "n", *(c[0] for c in columns)]
    caption = (
        "database codes, mean over seeds; balance error = mean over bits of |fraction of "
        "ones - 0.5|; a bucket = the database items sharing one code"
    )
    return _Table(header, rows, caption)


def _tutorial_table(protocol: _Protocol, palette: dict[str, _Method]) -> _Table | None:
    radii: list[int] = []
    rows: list[tuple[str, list[_Cell]]] = []
    for method in protocol.methods:
        for n_bits in protocol.bits:
            cell = protocol.cell(method, n_bits)
            curve = _curve(cell, "tutorial", "radius", ("precision_at_10", "query_ms"))
            if curve is None:
                continue
            x, means, _ = curve
            radii = radii if len(radii) >= len(x) else [int(r) for r in x]
            cells = [
                _Cell(f"{p:.3f} / {ms:.2f}" if math.isfinite(p) else f"- / {ms:.2f}")
                for p, ms in zip(means[0], means[1], strict=True)
            ]
            rows.append(
                (
                    "",
                    [_Cell(palette[method].label, "method"), _Cell(str(n_bits)), *cells],
                )
            )
    if not rows:
        return None
    width = 2 + len(radii)
    rows = [(kind, cells + [_Cell("-")] * (width - len(cells))) for kind, cells in rows]
    header = ["method", "bits", *(f"r={r}" for r in radii)]
    return _Table(header, rows, "P@10 / query ms at each Hamming radius, mean over seeds")


# --------------------------------------------------------------------------- plots


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    from hashlearn._io import atomic_write

    def write(handle: Any) -> None:
        fig.savefig(handle, format="png", dpi=_DPI)

    try:
        return atomic_write(path, write)
    finally:
        _plt().close(fig)


def _wrap(text: str, width: int = 90) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def _as_float(values: Any) -> np.ndarray:
    if not isinstance(values, list | tuple):
        return np.zeros(0)
    return np.array([np.nan if _finite(v) is None else float(v) for v in values], dtype=float)


def _curve(
    records: Sequence[dict[str, Any]], name: str, x_key: str, y_keys: Sequence[str]
) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]] | None:
    """Seed-averaged curve ``metrics[name]``: x, then mean and std (ddof=1) per y key.

    Seeds whose x values differ from the first seed's are left out (they cannot be averaged
    point by point); a point missing in a seed (None/NaN) is averaged over the others.
    """
    xs: np.ndarray | None = None
    ys: list[list[np.ndarray]] = [[] for _ in y_keys]
    for record in records:
        curve = (record.get("metrics") or {}).get(name)
        if not isinstance(curve, dict):
            continue
        x = _as_float(curve.get(x_key))
        columns = [_as_float(curve.get(key)) for key in y_keys]
        if x.size == 0 or any(c.size != x.size for c in columns):
            continue
        if xs is None:
            xs = x
        elif x.shape != xs.shape or not np.allclose(x, xs, equal_nan=True):
            continue
        for store, column in zip(ys, columns, strict=True):
            store.append(column)
    if xs is None:
        return None
    means, stds = [], []
    for store in ys:
        stack = np.vstack(store)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            means.append(np.nanmean(stack, axis=0))
            counts = np.sum(np.isfinite(stack), axis=0)
            std = np.nanstd(stack, axis=0, ddof=1) if stack.shape[0] > 1 else np.zeros(xs.size)
        stds.append(np.where(counts > 1, np.nan_to_num(std), 0.0))
    return xs, means, stds


def _bits_axis(ax: Any, bits: Sequence[int]) -> None:
    from matplotlib.ticker import NullFormatter, NullLocator

    ax.set_xscale("log", base=2)
    ax.set_xticks(list(bits), [str(b) for b in bits])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    if len(bits) == 1:
        ax.set_xlim(bits[0] / 1.5, bits[0] * 1.5)
    else:
        ax.set_xlim(bits[0] / 1.25, bits[-1] * 1.25)
    ax.set_xlabel("code length (bits, log scale)")


def _legend(
    fig: Any,
    protocol: _Protocol,
    palette: dict[str, _Method],
    drawn: Iterable[str],
    *,
    published: bool = False,
    extra: Sequence[tuple[Any, str]] = (),
) -> None:
    from matplotlib.lines import Line2D

    shown = set(drawn)
    handles: list[Any] = []
    labels: list[str] = []
    for spec in protocol.methods:
        if spec in shown:
            method = palette[spec]
            handles.append(Line2D([], [], color=method.colour, marker=method.marker, lw=1.8, ms=6))
            labels.append(method.label)
    for handle, label in extra:
        handles.append(handle)
        labels.append(label)
    if published:
        handles.append(Line2D([], [], color="0.35", marker="o", lw=1.8, ms=6))
        labels.append("ours (mean ± std over seeds)")
        handles.append(Line2D([], [], color="0.35", marker="o", mfc="none", ls="--", lw=1.3))
        labels.append("published")
    if handles:
        # As many columns as fit the figure's width with the longest label (about 0.55 em
        # per character at 9 pt, plus the handle): long method specs must not run off the
        # page.
        entry_points = 9 * 0.55 * max(len(label) for label in labels) + 40
        fitting = int(fig.get_figwidth() * 72 // entry_points)
        fig.legend(
            handles,
            labels,
            loc="outside lower center",
            ncol=max(1, min(len(handles), 4, fitting)),
            fontsize=9,
            frameon=False,
        )


def _title(fig: Any, what: str, protocol: _Protocol) -> None:
    dataset = protocol.records[0]["protocol"].get("dataset")
    where = f"{protocol.spec}" + (f" ({dataset})" if dataset else "")
    fig.suptitle(f"{what}\n{_wrap(where, 100)}", fontsize=11)


def _plot_vs_bits(
    ax: Any,
    protocol: _Protocol,
    palette: dict[str, _Method],
    metric: _Metric,
) -> tuple[set[str], bool]:
    drawn: set[str] = set()
    any_anchor = False
    for spec in protocol.methods:
        method = palette[spec]
        xs, means, stds = [], [], []
        for n_bits in protocol.bits:
            values = [v for r in protocol.cell(spec, n_bits) if (v := metric.getter(r)) is not None]
            if values:
                mean, std, _ = _stats(values)
                xs.append(n_bits)
                means.append(mean)
                stds.append(std or 0.0)
        if xs:
            ax.errorbar(
                xs,
                means,
                yerr=stds if any(stds) else None,
                color=method.colour,
                marker=method.marker,
                lw=1.8,
                ms=6,
                capsize=3,
            )
            drawn.add(spec)
        anchors = [
            (n_bits, found[0])
            for n_bits in protocol.bits
            if (found := protocol.anchor(spec, n_bits, metric.anchor_keys)) is not None
        ]
        if anchors:
            any_anchor = True
            drawn.add(spec)
            ax.plot(
                [a[0] for a in anchors],
                [a[1] for a in anchors],
                ls="--",
                lw=1.3,
                marker=method.marker,
                ms=7,
                mfc="none",
                mew=1.5,
                color=method.colour,
            )
    _bits_axis(ax, protocol.bits)
    ax.grid(alpha=0.3)
    if drawn:
        # Room above the highest point, so that no marker is clipped at the top.
        top = ax.dataLim.y1
        if math.isfinite(top) and top > 0:
            ax.set_ylim(0, top * 1.1)
    return drawn, any_anchor


def _plot_map_vs_bits(protocol: _Protocol, palette: dict[str, _Method], path: Path) -> Path | None:
    metric = _metrics(protocol)[0][1][0]
    if not any(metric.getter(r) is not None for r in protocol.ok):
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 5.2), layout="constrained")
    drawn, anchored = _plot_vs_bits(ax, protocol, palette, metric)
    ax.set_ylabel("mAP@all (Hamming ranking)")
    _title(fig, "mAP vs code length", protocol)
    _legend(fig, protocol, palette, drawn, published=anchored)
    return _save(fig, path)


def _plot_radius2_vs_bits(
    protocol: _Protocol, palette: dict[str, _Method], path: Path
) -> Path | None:
    precision, empty = _metrics(protocol)[1][1]
    if not any(precision.getter(r) is not None for r in protocol.ok):
        return None
    plt = _plt()
    fig, (ax, ax_empty) = plt.subplots(
        1, 2, figsize=(11, 4.8), layout="constrained", gridspec_kw={"width_ratios": [3, 2]}
    )
    drawn, anchored = _plot_vs_bits(ax, protocol, palette, precision)
    ax.set_ylabel("precision within Hamming radius 2")
    ax.set_title("precision (empty retrieval scores 0)", fontsize=10)
    drawn_empty, _ = _plot_vs_bits(ax_empty, protocol, palette, empty)
    ax_empty.set_ylabel("fraction of queries")
    ax_empty.set_ylim(0, min(1.05, max(0.1, ax_empty.get_ylim()[1])))
    ax_empty.set_title("queries with nothing within radius 2", fontsize=10)
    _title(fig, "Hash lookup within Hamming radius 2 vs code length", protocol)
    _legend(fig, protocol, palette, drawn | drawn_empty, published=anchored)
    return _save(fig, path)


def _grid(plt: Any, n_panels: int, *, width: float = 4.2, height: float = 3.6) -> Any:
    columns = 2 if n_panels in (2, 4) else min(n_panels, 3)
    rows = math.ceil(n_panels / columns)
    fig, axes = plt.subplots(
        rows,
        columns,
        figsize=(width * columns + 0.4, height * rows + 1.4),
        layout="constrained",
        squeeze=False,
    )
    flat = [ax for row in axes for ax in row]
    for ax in flat[n_panels:]:
        ax.set_visible(False)
    return fig, flat[:n_panels]


def _curves_by_bits(
    protocol: _Protocol, name: str, x_key: str, y_keys: Sequence[str]
) -> dict[int, dict[str, tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]]]:
    found: dict[int, dict[str, tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]]] = {}
    for n_bits in protocol.bits:
        for spec in protocol.methods:
            curve = _curve(protocol.cell(spec, n_bits), name, x_key, y_keys)
            if curve is not None:
                found.setdefault(n_bits, {})[spec] = curve
    return found


def _band(ax: Any, x: np.ndarray, mean: np.ndarray, std: np.ndarray, colour: str) -> None:
    if np.any(std > 0):
        ax.fill_between(x, mean - std, mean + std, color=colour, alpha=0.15, lw=0)


def _plot_pr_curves(protocol: _Protocol, palette: dict[str, _Method], path: Path) -> Path | None:
    curves = _curves_by_bits(protocol, "pr_curve", "radius", ("precision", "recall"))
    if not curves:
        return None
    plt = _plt()
    fig, axes = _grid(plt, len(curves))
    drawn: set[str] = set()
    for ax, (n_bits, by_method) in zip(axes, curves.items(), strict=True):
        for spec, (_, (precision, recall), _) in by_method.items():
            method = palette[spec]
            keep = np.isfinite(precision) & np.isfinite(recall)
            ax.plot(
                recall[keep],
                precision[keep],
                color=method.colour,
                marker=method.marker,
                markevery=max(1, int(keep.sum()) // 12),
                ms=4,
                lw=1.6,
            )
            drawn.add(spec)
        ax.set_title(f"{n_bits} bits", fontsize=10)
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.grid(alpha=0.3)
    _title(
        fig,
        "Precision-recall: retrieve every code within Hamming radius r = 0, 1, ..., n_bits "
        "(mean over seeds)",
        protocol,
    )
    _legend(fig, protocol, palette, drawn)
    return _save(fig, path)


def _plot_precision_at_k(
    protocol: _Protocol, palette: dict[str, _Method], path: Path
) -> Path | None:
    curves = _curves_by_bits(protocol, "precision_at_k_curve", "k", ("precision",))
    if not curves:
        return None
    plt = _plt()
    fig, axes = _grid(plt, len(curves))
    drawn: set[str] = set()
    for ax, (n_bits, by_method) in zip(axes, curves.items(), strict=True):
        for spec, (k, (precision,), (std,)) in by_method.items():
            method = palette[spec]
            keep = np.isfinite(precision) & (k > 0)
            ax.plot(
                k[keep], precision[keep], color=method.colour, marker=method.marker, ms=4, lw=1.6
            )
            _band(ax, k[keep], precision[keep], std[keep], method.colour)
            drawn.add(spec)
        ax.set_xscale("log")
        ax.set_title(f"{n_bits} bits", fontsize=10)
        ax.set_xlabel("K, items retrieved (log scale)")
        ax.set_ylabel("precision@K")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3, which="major")
    _title(fig, "Precision of the top K of the Hamming ranking (band: ± std over seeds)", protocol)
    _legend(fig, protocol, palette, drawn)
    return _save(fig, path)


def _radius_panels(
    protocol: _Protocol,
    palette: dict[str, _Method],
    path: Path,
    *,
    name: str,
    precision_keys: Sequence[str],
    precision_label: str,
    what: str,
    extra: Sequence[tuple[Any, str]] = (),
) -> Path | None:
    keys = (*precision_keys, "query_ms")
    curves = _curves_by_bits(protocol, name, "radius", keys)
    if not curves:
        return None
    plt = _plt()
    rows = len(curves)
    fig, axes = plt.subplots(
        rows,
        2,
        figsize=(11, 3.3 * rows + 1.5),
        layout="constrained",
        squeeze=False,
        sharex=True,
    )
    drawn: set[str] = set()
    styles = ("-", "--")
    for row, ((ax, ax_time), (n_bits, by_method)) in enumerate(
        zip(axes, curves.items(), strict=True)
    ):
        for spec, (radius, means, stds) in by_method.items():
            method = palette[spec]
            for position in range(len(precision_keys)):
                keep = np.isfinite(means[position])
                ax.plot(
                    radius[keep],
                    means[position][keep],
                    color=method.colour,
                    marker=method.marker,
                    ls=styles[position % 2],
                    ms=4,
                    lw=1.6 if position == 0 else 1.2,
                    alpha=1.0 if position == 0 else 0.75,
                )
                if position == 0:
                    _band(ax, radius[keep], means[0][keep], stds[0][keep], method.colour)
            # No band on the log time axis: mean - std is often <= 0 for sub-millisecond
            # timings, and the band would then swamp the lines.
            time = means[-1]
            keep = np.isfinite(time) & (time > 0)
            ax_time.plot(
                radius[keep], time[keep], color=method.colour, marker=method.marker, ms=4, lw=1.6
            )
            drawn.add(spec)
        radii = next(iter(by_method.values()))[0]
        for axis in (ax, ax_time):
            axis.set_xticks(radii.astype(int))
            axis.grid(alpha=0.3, which="major")
            if row == rows - 1:
                axis.set_xlabel("Hamming radius searched")
        ax_time.grid(alpha=0.08, which="minor", axis="y")
        ax.set_ylabel(precision_label)
        ax.set_ylim(bottom=0)
        ax.set_title(f"{n_bits} bits: precision", fontsize=10)
        ax_time.set_yscale("log")
        ax_time.set_ylabel("mean time per query (ms, log scale)")
        ax_time.set_title(f"{n_bits} bits: query time", fontsize=10)
    _title(fig, what, protocol)
    _legend(fig, protocol, palette, drawn, extra=extra)
    return _save(fig, path)


def _plot_radius_search(
    protocol: _Protocol, palette: dict[str, _Method], path: Path
) -> Path | None:
    return _radius_panels(
        protocol,
        palette,
        path,
        name="radius_search",
        precision_keys=("precision",),
        precision_label="precision of the candidates",
        what="Hash-table lookup within Hamming radius r: precision (band: ± std over seeds) "
        "and time per query (mean over seeds)",
    )


def _plot_tutorial(protocol: _Protocol, palette: dict[str, _Method], path: Path) -> Path | None:
    from matplotlib.lines import Line2D

    styles = [
        (Line2D([], [], color="0.35", ls="-", lw=1.6), "P@10, empty retrievals skipped"),
        (Line2D([], [], color="0.35", ls="--", lw=1.2), "P@10, empty retrievals count as 0"),
    ]
    return _radius_panels(
        protocol,
        palette,
        path,
        name="tutorial",
        precision_keys=("precision_at_10", "precision_at_10_with_empty"),
        precision_label="precision@10 (re-ranked candidates)",
        what="Tutorial protocol: hash table + re-rank, P@10 and query time vs radius",
        extra=styles,
    )


def _occupancy(records: Sequence[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray] | None:
    """Bucket-size bins and the mean number of buckets in each, over seeds (absent = 0)."""
    tables: list[dict[float, float]] = []
    for record in records:
        histogram = (record.get("codes") or {}).get("occupancy_histogram")
        if not isinstance(histogram, dict):
            continue
        sizes, counts = _as_float(histogram.get("size")), _as_float(histogram.get("count"))
        if sizes.size == 0 or sizes.size != counts.size:
            continue
        tables.append(
            {
                float(s): float(c)
                for s, c in zip(sizes, counts, strict=True)
                if np.isfinite(s) and np.isfinite(c)
            }
        )
    if not tables:
        return None
    sizes = np.array(sorted(set().union(*tables)), dtype=float)
    counts = np.array([[table.get(s, 0.0) for s in sizes] for table in tables]).mean(axis=0)
    return sizes, counts


def _plot_occupancy(protocol: _Protocol, palette: dict[str, _Method], path: Path) -> Path | None:
    from matplotlib.ticker import FuncFormatter

    panels: dict[int, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for n_bits in protocol.bits:
        for spec in protocol.methods:
            found = _occupancy(protocol.cell(spec, n_bits))
            if found is not None:
                panels.setdefault(n_bits, {})[spec] = found
    if not panels:
        return None
    plt = _plt()
    fig, axes = _grid(plt, len(panels))
    drawn: set[str] = set()
    for ax, (n_bits, by_method) in zip(axes, panels.items(), strict=True):
        for spec, (sizes, counts) in by_method.items():
            method = palette[spec]
            keep = (sizes > 0) & (counts > 0)
            ax.plot(
                sizes[keep],
                counts[keep],
                color=method.colour,
                marker=method.marker,
                ms=4,
                lw=1.5,
            )
            drawn.add(spec)
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
        ax.set_yscale("log")
        ax.set_title(f"{n_bits} bits", fontsize=10)
        ax.set_xlabel("bucket size (items, bin lower edge)")
        ax.set_ylabel("number of buckets (log)")
        ax.grid(alpha=0.3, which="major")
    _title(
        fig,
        "Bucket occupancy: how many database items share a code (mean over seeds)",
        protocol,
    )
    _legend(fig, protocol, palette, drawn)
    return _save(fig, path)


_PLOTS: tuple[tuple[str, Callable[[_Protocol, dict[str, _Method], Path], Path | None]], ...] = (
    ("map_vs_bits", _plot_map_vs_bits),
    ("precision_r2_vs_bits", _plot_radius2_vs_bits),
    ("pr_curves", _plot_pr_curves),
    ("precision_at_k", _plot_precision_at_k),
    ("radius_search", _plot_radius_search),
    ("tutorial", _plot_tutorial),
    ("bucket_occupancy", _plot_occupancy),
)

_FIGURE_TEXT = {
    "map_vs_bits": "mAP@all against code length",
    "precision_r2_vs_bits": "precision within Hamming radius 2 and empty queries vs code length",
    "pr_curves": "precision-recall curves, one panel per code length",
    "precision_at_k": "precision@K curves, one panel per code length",
    "radius_search": "hash-table lookup: precision and time per query vs radius",
    "tutorial": "tutorial protocol: P@10 and query time vs radius",
    "bucket_occupancy": "bucket occupancy histogram, one panel per code length",
}


# --------------------------------------------------------------------------- the document


def _code(text: Any) -> str:
    return "`" + str(text).replace("`", "'") + "`"


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
        items.append(f"{key}: {_code(text)}")
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
) -> list[_Block]:
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
    blocks: list[_Block] = [_Heading(2, "Run"), _Bullets(items)]
    if run is not None:
        blocks += [_Para("Run configuration (`run.json`):"), _Bullets(_run_summary(run))]
    else:
        blocks.append(_Para("No `run.json` in the run folder."))
    if notes:
        blocks += [_Para("Reading notes:"), _Bullets(list(notes))]
    blocks += [
        _Para(
            f"Tables: mean ± std (n) over seeds (sample std, ddof=1). Published numbers, "
            f"where the records carry them, follow a method's row with the difference "
            f"ours - published: *within* when |difference| ≤ {ANCHOR_TOLERANCE}, else "
            "*above* or *below*."
        )
    ]
    blocks.append(_Heading(2, "Failures"))
    if not failed and not superseded:
        blocks.append(_Para("No failed records."))
    for title, group in (
        ("Failed", failed),
        ("Failed earlier, then rerun (the rerun is reported)", superseded),
    ):
        if not group:
            continue
        rows = []
        for record in group:
            error = record.get("error") or {}
            message = " ".join(str(error.get("message", "(no message)")).split())
            rows.append(
                (
                    "",
                    [
                        _Cell(str(record["protocol"]["spec"])),
                        _Cell(str(record["method"]["spec"]), "method"),
                        _Cell(str(record["n_bits"])),
                        _Cell(str(record["seed"])),
                        _Cell(str(error.get("type", "?")), "failed"),
                        _Cell(message, "message"),
                    ],
                )
            )
        header = ["protocol", "method", "bits", "seed", "error", "message"]
        blocks.append(_Table(header, rows, f"{title}: {len(group)} record(s)", left=6))
        if group is failed:
            for record in group:
                trace = str((record.get("error") or {}).get("traceback") or "").rstrip()
                if trace:
                    tail = "\n".join(trace.splitlines()[-12:])
                    blocks.append(_Pre(tail, f"traceback (last lines) of {record['key']}"))
    return blocks


def _protocol_blocks(
    protocol: _Protocol,
    palette: dict[str, _Method],
    figures: dict[tuple[str, str], _Image],
) -> list[_Block]:
    first = protocol.records[0]
    dataset = first["protocol"].get("dataset")
    sizes = next((r.get("sizes") for r in protocol.ok if r.get("sizes")), None) or {}
    seeds = sorted({int(r["seed"]) for r in protocol.records})
    n_ok = len(protocol.ok)
    blocks: list[_Block] = [
        _Heading(2, f"Protocol {protocol.spec}"),
    ]
    facts = [
        f"protocol {_code(first['protocol'].get('name', protocol.spec))}"
        + (f" on {_code(dataset)}" if dataset else ""),
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
        "methods: "
        + "; ".join(f"{palette[spec].label} = {_code(spec)}" for spec in protocol.methods)
    )
    blocks.append(_Bullets(facts))

    def figure(kind: str) -> list[_Block]:
        image = figures.get((protocol.spec, kind))
        return [image] if image is not None else []

    plots_after = {
        "Mean average precision": ["map_vs_bits"],
        "Precision within Hamming radius 2": ["precision_r2_vs_bits"],
        "Precision at K": ["precision_at_k"],
    }
    for heading, metrics in _metrics(protocol):
        tables = [
            (metric, table)
            for metric in metrics
            if (table := _metric_table(protocol, palette, metric)) is not None
        ]
        images = [b for kind in plots_after[heading] for b in figure(kind)]
        if not tables and not images:
            continue
        blocks.append(_Heading(3, heading))
        for metric, table in tables:
            blocks += [_Para(f"**{metric.title}**"), table]
        blocks += images
    for kind, heading in (
        ("pr_curves", "Precision-recall curves"),
        ("radius_search", "Hash-table lookup vs radius"),
    ):
        images = figure(kind)
        if images:
            blocks += [_Heading(3, heading), *images]
    tutorial = _tutorial_table(protocol, palette)
    if tutorial is not None or figure("tutorial"):
        blocks.append(_Heading(3, "Tutorial protocol"))
        if tutorial is not None:
            blocks.append(tutorial)
        blocks += figure("tutorial")
    time_table = _time_table(protocol, palette)
    if time_table is not None:
        blocks += [_Heading(3, "Time and memory"), time_table]
    codes_table = _codes_table(protocol, palette)
    if codes_table is not None or figure("bucket_occupancy"):
        blocks.append(_Heading(3, "Codes and buckets"))
        if codes_table is not None:
            blocks.append(codes_table)
        blocks += figure("bucket_occupancy")
    return blocks


def _document(
    records: Sequence[dict[str, Any]],
    *,
    run: dict[str, Any] | None,
    title: str,
    notes: Sequence[str] = (),
    superseded: Sequence[dict[str, Any]] = (),
    figures: dict[tuple[str, str], _Image] | None = None,
) -> list[_Block]:
    if not records:
        raise ValueError("no records to report")
    palette = _palette(records)
    blocks: list[_Block] = [_Heading(1, title)]
    blocks += _header(records, run, notes, superseded)
    for protocol in _protocols(records):
        blocks += _protocol_blocks(protocol, palette, figures or {})
    if run is not None:
        blocks += [
            _Heading(2, "Run configuration"),
            _Pre(json.dumps(run, indent=2, default=str), "run.json", "json"),
        ]
    _assign_slugs(blocks)
    return blocks


def _assign_slugs(blocks: Sequence[_Block]) -> None:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces -> '-', then -1, -2."""
    seen: dict[str, int] = {}
    for block in blocks:
        if not isinstance(block, _Heading):
            continue
        base = re.sub(r"[^\w\- ]", "", block.text.lower()).replace(" ", "-") or "section"
        count = seen.get(base, 0)
        seen[base] = count + 1
        block.slug = base if count == 0 else f"{base}-{count}"


# --------------------------------------------------------------------------- Markdown


def _md_text(text: str) -> str:
    """Markdown text with no raw HTML: ``<``, ``>`` and ``&`` escaped outside `code` spans."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def _md_cell(text: str) -> str:
    return _md_text(text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " "))


def _md_table(table: _Table) -> list[str]:
    lines = []
    if table.caption:
        lines += [f"_{table.caption}_", ""]
    lines.append("| " + " | ".join(_md_cell(h) for h in table.header) + " |")
    lines.append(
        "|" + "|".join("---" if i < table.left else "---:" for i in range(len(table.header))) + "|"
    )
    for kind, cells in table.rows:
        texts = [_md_cell(c.text) for c in cells]
        if kind == "difference":
            texts = [texts[0]] + [f"**{t}**" if t != "-" else t for t in texts[1:]]
        lines.append("| " + " | ".join(texts) + " |")
    return lines


def _render_markdown(blocks: Sequence[_Block]) -> str:
    out: list[str] = []
    headings = [b for b in blocks if isinstance(b, _Heading) and b.level in (2, 3)]
    for block in blocks:
        if isinstance(block, _Heading):
            out += [f"{'#' * block.level} {_md_text(block.text)}", ""]
            if block.level == 1 and headings:
                out.append("Contents:")
                out.append("")
                for heading in headings:
                    indent = "  " * (heading.level - 2)
                    out.append(f"{indent}- [{_md_text(heading.text)}](#{heading.slug})")
                out.append("")
        elif isinstance(block, _Para):
            out += [_md_text(block.text), ""]
        elif isinstance(block, _Bullets):
            out += [f"- {_md_text(item)}" for item in block.items] + [""]
        elif isinstance(block, _Table):
            out += [*_md_table(block), ""]
        elif isinstance(block, _Pre):
            fence = "````" if "```" in block.text else "```"
            out += [f"{_md_text(block.summary)}:", "", f"{fence}{block.language}", block.text]
            out += [fence, ""]
        elif isinstance(block, _Image):
            alt = _md_text(block.alt).replace("[", "(").replace("]", ")")
            out += [f"![{alt}]({block.relative})", ""]
    return "\n".join(out).rstrip("\n") + "\n"


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
    return _render_markdown(_document(records, run=run, title=title))


# --------------------------------------------------------------------------- HTML

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       max-width: 1200px; margin: 2em auto; padding: 0 1.2em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { border-bottom: 1px solid #bbb; padding-bottom: .15em; margin-top: 2em; }
h3 { margin-top: 1.6em; }
code { background: #f2f2f2; padding: 0 .25em; border-radius: 3px; font-size: 92%; }
nav { background: #f7f7f9; border: 1px solid #ddd; padding: .6em 1.2em; border-radius: 4px; }
nav ul { margin: .2em 0; padding-left: 1.2em; }
.table-wrap { overflow-x: auto; margin: .4em 0 1.2em; }
table { border-collapse: collapse; font-size: 13.5px; }
caption { caption-side: top; text-align: left; color: #555; font-style: italic; padding: .2em 0; }
th, td { border: 1px solid #d4d4d4; padding: .3em .6em; text-align: right; white-space: nowrap; }
th { background: #e9ecef; }
th:first-child, td:first-child, th.text, td.text { text-align: left; }
td.message { text-align: left; white-space: normal; min-width: 20em; }
tbody tr:nth-child(even) { background: #f6f8fa; }
tr.anchor td, tr.difference td { font-size: 12.5px; color: #555; background: #fffdf3; }
tr.anchor td:first-child, tr.difference td:first-child { padding-left: 1.6em; }
td.within { color: #1a7f37; font-weight: 600; }
td.above { color: #0550ae; font-weight: 600; }
td.below { color: #cf222e; font-weight: 600; }
td.failed { color: #cf222e; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; height: auto; border: 1px solid #e2e2e2; }
figcaption { color: #555; font-size: 13px; }
pre { background: #f6f8fa; padding: .7em; overflow-x: auto; font-size: 12.5px; }
details { margin: .4em 0; }
.legend span { margin-right: 1.2em; }
"""


def _inline(text: str) -> str:
    """Escape, then render `code` and **bold** spans (the only markup the document uses)."""
    # Split off the code spans first: emphasis applies only to the text between them, so
    # a `*` inside a spec or a path can never open a tag that closes elsewhere.
    parts = re.split(r"(`[^`]*`)", text)
    rendered = []
    for index, part in enumerate(parts):
        if index % 2:
            rendered.append(f"<code>{html.escape(part[1:-1])}</code>")
            continue
        escaped = html.escape(part)
        escaped = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)
        rendered.append(re.sub(r"(?<![\w*])\*([^*]+)\*(?![\w*])", r"<em>\1</em>", escaped))
    return "".join(rendered)


def _html_table(table: _Table) -> str:
    parts = ['<div class="table-wrap"><table>']
    if table.caption:
        parts.append(f"<caption>{html.escape(table.caption)}</caption>")
    parts.append(
        "<thead><tr>"
        + "".join(
            (
                f'<th class="text">{html.escape(h)}</th>'
                if i < table.left
                else f"<th>{html.escape(h)}</th>"
            )
            for i, h in enumerate(table.header)
        )
        + "</tr></thead>"
    )
    parts.append("<tbody>")
    for kind, cells in table.rows:
        row_class = f' class="{kind}"' if kind else ""
        tds = "".join(_td(cell, left=column < table.left) for column, cell in enumerate(cells))
        parts.append(f"<tr{row_class}>{tds}</tr>")
    parts.append("</tbody></table></div>")
    return "".join(parts)


def _td(cell: _Cell, *, left: bool) -> str:
    classes = " ".join(filter(None, (cell.css, "text" if left else "")))
    opening = f'<td class="{classes}">' if classes else "<td>"
    return opening + html.escape(cell.text) + "</td>"


def _render_html(blocks: Sequence[_Block], title: str) -> str:
    body: list[str] = []
    headings = [b for b in blocks if isinstance(b, _Heading) and b.level in (2, 3)]
    for block in blocks:
        if isinstance(block, _Heading):
            body.append(
                f'<h{block.level} id="{html.escape(block.slug)}">{html.escape(block.text)}'
                f"</h{block.level}>"
            )
            if block.level == 1 and headings:
                body.append(_html_toc(headings))
        elif isinstance(block, _Para):
            body.append(f"<p>{_inline(block.text)}</p>")
        elif isinstance(block, _Bullets):
            body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in block.items) + "</ul>")
        elif isinstance(block, _Table):
            body.append(_html_table(block))
        elif isinstance(block, _Pre):
            body.append(
                f"<details><summary>{html.escape(block.summary)}</summary>"
                f"<pre>{html.escape(block.text)}</pre></details>"
            )
        elif isinstance(block, _Image):
            data = base64.b64encode(block.path.read_bytes()).decode("ascii")
            body.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(block.alt)}">'
                f"<figcaption>{html.escape(block.alt)}</figcaption></figure>"
            )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _html_toc(headings: Sequence[_Heading]) -> str:
    parts = ["<nav><strong>Contents</strong><ul>"]
    open_sub = False
    for heading in headings:
        link = f'<a href="#{html.escape(heading.slug)}">{html.escape(heading.text)}</a>'
        if heading.level == 2:
            if open_sub:
                parts.append("</ul></li>")
                open_sub = False
            elif len(parts) > 1:
                parts.append("</li>")
            parts.append(f"<li>{link}")
        else:
            if not open_sub:
                parts.append("<ul>")
                open_sub = True
            parts.append(f"<li>{link}</li>")
    parts.append("</ul></li>" if open_sub else "</li>")
    parts.append("</ul></nav>")
    return "".join(parts)


# --------------------------------------------------------------------------- writing


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_.") or "protocol"


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
    from hashlearn._io import atomic_write

    source = Path(run_dir)
    reading = read_run_records(source)
    for note in reading.notes:
        warnings.warn(note, BenchRecordWarning, stacklevel=2)
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
    palette = _palette(reading.records)
    figures: dict[tuple[str, str], _Image] = {}
    used: set[str] = set()
    for protocol in _protocols(reading.records):
        stem = _slug(protocol.spec)
        while stem in used:
            stem += "_"
        used.add(stem)
        for kind, plot in _PLOTS:
            relative = f"{FIGURES_DIR}/{stem}-{kind}.png"
            written = plot(protocol, palette, target / relative)
            if written is not None:
                alt = f"{_FIGURE_TEXT[kind]} ({protocol.spec})"
                figures[protocol.spec, kind] = _Image(written, relative, alt)
    blocks = _document(
        reading.records,
        run=run,
        title=name,
        notes=reading.notes,
        superseded=reading.superseded,
        figures=figures,
    )
    markdown = _render_markdown(blocks)
    page = _render_html(blocks, name)
    md_path = atomic_write(target / "report.md", lambda h: h.write(markdown.encode("utf-8")))
    html_path = atomic_write(target / "report.html", lambda h: h.write(page.encode("utf-8")))
    ordered = tuple(b.path for b in blocks if isinstance(b, _Image))
    n_ok = sum(1 for r in reading.records if r.get("status") == "ok")
    return BenchmarkReport(md_path, html_path, ordered, n_ok, len(reading.records) - n_ok)

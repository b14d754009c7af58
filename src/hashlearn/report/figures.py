"""Every plot of the reports, drawn from records (or the tutorial's results) with matplotlib.

Plots are PNGs drawn with matplotlib's Agg backend (imported on first use, so importing
the report package does not import matplotlib) and written through :func:`save_figure`,
the one way a report writes a figure: atomically, then the figure is closed.

Benchmark plots keep one colour and marker per method across the whole report
(:func:`palette`); error bars and bands are one standard deviation over seeds; published
anchors are dashed lines with hollow markers in the method's colour. A plot whose data
are absent from the records is skipped (its plotter returns None).
"""

from __future__ import annotations

import io
import math
import os
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hashlearn._io import atomic_write
from hashlearn.report.aggregate import (
    Metric,
    ProtocolRecords,
    curves_by_bits,
    mean_std,
    method_labels,
    metric_groups,
    occupancy,
)

__all__ = [
    "BENCHMARK_PLOTS",
    "FIGURE_TEXT",
    "Plotter",
    "Style",
    "palette",
    "plot_precision_vs_radius",
    "plot_query_time_vs_radius",
    "pyplot",
    "save_figure",
]

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


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (unless a backend was already chosen)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save_figure(
    fig: Any, path: str | os.PathLike[str], *, dpi: int = _DPI, colours: int | None = None
) -> Path:
    """Write ``fig`` to ``path`` atomically, in the format of its suffix (PNG by default).

    ``colours`` writes a palette PNG of at most that many colours (2 to 256; Pillow's
    median cut, no dithering): several times smaller for figures of flat colour areas,
    such as the toy 2-D gallery's cells, with no visible change.

    The figure is closed afterwards, even when writing fails, so that a long report does
    not keep every figure in memory.
    """
    target = Path(path)
    suffix = target.suffix.lstrip(".") or "png"
    if colours is not None and (
        isinstance(colours, bool) or not isinstance(colours, int) or not 2 <= colours <= 256
    ):
        pyplot().close(fig)
        raise ValueError(f"colours must be None or an int in [2, 256], got {colours!r}")
    if colours is not None and suffix.lower() != "png":
        pyplot().close(fig)
        raise ValueError(f"colours applies to PNG files only, got {target.name!r}")

    def write(handle: Any) -> None:
        if colours is None:
            fig.savefig(handle, format=suffix, dpi=dpi)
            return
        from PIL import Image

        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi)
        buffer.seek(0)
        with Image.open(buffer) as image:
            palette = image.convert("RGB").quantize(
                colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
            )
        palette.save(handle, format="PNG", optimize=True)

    try:
        return atomic_write(target, write)
    finally:
        pyplot().close(fig)


@dataclass(frozen=True)
class Style:
    """How a method is drawn in every plot of a report, and its display label."""

    spec: str
    label: str
    colour: str
    marker: str


def palette(records: Sequence[dict[str, Any]]) -> dict[str, Style]:
    """One colour, marker and unique display label per ``method.spec``, in order of appearance."""
    styles = {}
    for position, (spec, label) in enumerate(method_labels(records).items()):
        styles[spec] = Style(
            spec,
            label,
            _COLOURS[position % len(_COLOURS)],
            # Shifted by one each time the colours come round again, so that no two of the
            # first len(_COLOURS) * len(_MARKERS) methods share both colour and marker.
            _MARKERS[(position + position // len(_COLOURS)) % len(_MARKERS)],
        )
    return styles


# --------------------------------------------------------------------------- benchmark plots


def _wrap(text: str, width: int = 90) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


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
    protocol: ProtocolRecords,
    styles: dict[str, Style],
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
            method = styles[spec]
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


def _title(fig: Any, what: str, protocol: ProtocolRecords) -> None:
    dataset = protocol.records[0]["protocol"].get("dataset")
    where = f"{protocol.spec}" + (f" ({dataset})" if dataset else "")
    fig.suptitle(f"{what}\n{_wrap(where, 100)}", fontsize=11)


def _plot_vs_bits(
    ax: Any,
    protocol: ProtocolRecords,
    styles: dict[str, Style],
    metric: Metric,
) -> tuple[set[str], bool]:
    drawn: set[str] = set()
    any_anchor = False
    for spec in protocol.methods:
        method = styles[spec]
        xs, means, stds = [], [], []
        for n_bits in protocol.bits:
            values = [v for r in protocol.cell(spec, n_bits) if (v := metric.getter(r)) is not None]
            if values:
                mean, std = mean_std(values)
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


def _plot_map_vs_bits(
    protocol: ProtocolRecords, styles: dict[str, Style], path: Path
) -> Path | None:
    metric = metric_groups(protocol)[0][1][0]
    if not any(metric.getter(r) is not None for r in protocol.ok):
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 5.2), layout="constrained")
    drawn, anchored = _plot_vs_bits(ax, protocol, styles, metric)
    ax.set_ylabel("mAP@all (Hamming ranking)")
    _title(fig, "mAP vs code length", protocol)
    _legend(fig, protocol, styles, drawn, published=anchored)
    return save_figure(fig, path)


def _plot_radius2_vs_bits(
    protocol: ProtocolRecords, styles: dict[str, Style], path: Path
) -> Path | None:
    precision, empty = metric_groups(protocol)[1][1]
    if not any(precision.getter(r) is not None for r in protocol.ok):
        return None
    plt = pyplot()
    fig, (ax, ax_empty) = plt.subplots(
        1, 2, figsize=(11, 4.8), layout="constrained", gridspec_kw={"width_ratios": [3, 2]}
    )
    drawn, anchored = _plot_vs_bits(ax, protocol, styles, precision)
    ax.set_ylabel("precision within Hamming radius 2")
    ax.set_title("precision (empty retrieval scores 0)", fontsize=10)
    drawn_empty, _ = _plot_vs_bits(ax_empty, protocol, styles, empty)
    ax_empty.set_ylabel("fraction of queries")
    ax_empty.set_ylim(0, min(1.05, max(0.1, ax_empty.get_ylim()[1])))
    ax_empty.set_title("queries with nothing within radius 2", fontsize=10)
    _title(fig, "Hash lookup within Hamming radius 2 vs code length", protocol)
    _legend(fig, protocol, styles, drawn | drawn_empty, published=anchored)
    return save_figure(fig, path)


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


def _band(ax: Any, x: np.ndarray, mean: np.ndarray, std: np.ndarray, colour: str) -> None:
    if np.any(std > 0):
        ax.fill_between(x, mean - std, mean + std, color=colour, alpha=0.15, lw=0)


def _plot_pr_curves(protocol: ProtocolRecords, styles: dict[str, Style], path: Path) -> Path | None:
    curves = curves_by_bits(protocol, "pr_curve", "radius", ("precision", "recall"))
    if not curves:
        return None
    plt = pyplot()
    fig, axes = _grid(plt, len(curves))
    drawn: set[str] = set()
    for ax, (n_bits, by_method) in zip(axes, curves.items(), strict=True):
        for spec, (_, (precision, recall), _) in by_method.items():
            method = styles[spec]
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
    _legend(fig, protocol, styles, drawn)
    return save_figure(fig, path)


def _plot_precision_at_k(
    protocol: ProtocolRecords, styles: dict[str, Style], path: Path
) -> Path | None:
    curves = curves_by_bits(protocol, "precision_at_k_curve", "k", ("precision",))
    if not curves:
        return None
    plt = pyplot()
    fig, axes = _grid(plt, len(curves))
    drawn: set[str] = set()
    for ax, (n_bits, by_method) in zip(axes, curves.items(), strict=True):
        for spec, (k, (precision,), (std,)) in by_method.items():
            method = styles[spec]
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
    _legend(fig, protocol, styles, drawn)
    return save_figure(fig, path)


def _radius_panels(
    protocol: ProtocolRecords,
    styles: dict[str, Style],
    path: Path,
    *,
    name: str,
    precision_keys: Sequence[str],
    precision_label: str,
    what: str,
    extra: Sequence[tuple[Any, str]] = (),
) -> Path | None:
    keys = (*precision_keys, "query_ms")
    curves = curves_by_bits(protocol, name, "radius", keys)
    if not curves:
        return None
    plt = pyplot()
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
    line_styles = ("-", "--")
    for row, ((ax, ax_time), (n_bits, by_method)) in enumerate(
        zip(axes, curves.items(), strict=True)
    ):
        for spec, (radius, means, stds) in by_method.items():
            method = styles[spec]
            for position in range(len(precision_keys)):
                keep = np.isfinite(means[position])
                ax.plot(
                    radius[keep],
                    means[position][keep],
                    color=method.colour,
                    marker=method.marker,
                    ls=line_styles[position % 2],
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
    _legend(fig, protocol, styles, drawn, extra=extra)
    return save_figure(fig, path)


def _plot_radius_search(
    protocol: ProtocolRecords, styles: dict[str, Style], path: Path
) -> Path | None:
    return _radius_panels(
        protocol,
        styles,
        path,
        name="radius_search",
        precision_keys=("precision",),
        precision_label="precision of the candidates",
        what="Hash-table lookup within Hamming radius r: precision (band: ± std over seeds) "
        "and time per query (mean over seeds)",
    )


def _plot_tutorial(protocol: ProtocolRecords, styles: dict[str, Style], path: Path) -> Path | None:
    from matplotlib.lines import Line2D

    legend_lines = [
        (Line2D([], [], color="0.35", ls="-", lw=1.6), "P@10, empty retrievals skipped"),
        (Line2D([], [], color="0.35", ls="--", lw=1.2), "P@10, empty retrievals count as 0"),
    ]
    return _radius_panels(
        protocol,
        styles,
        path,
        name="tutorial",
        precision_keys=("precision_at_10", "precision_at_10_with_empty"),
        precision_label="precision@10 (re-ranked candidates)",
        what="Tutorial protocol: hash table + re-rank, P@10 and query time vs radius",
        extra=legend_lines,
    )


def _plot_occupancy(protocol: ProtocolRecords, styles: dict[str, Style], path: Path) -> Path | None:
    from matplotlib.ticker import FuncFormatter

    panels: dict[int, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for n_bits in protocol.bits:
        for spec in protocol.methods:
            found = occupancy(protocol.cell(spec, n_bits))
            if found is not None:
                panels.setdefault(n_bits, {})[spec] = found
    if not panels:
        return None
    plt = pyplot()
    fig, axes = _grid(plt, len(panels))
    drawn: set[str] = set()
    for ax, (n_bits, by_method) in zip(axes, panels.items(), strict=True):
        for spec, (sizes, counts) in by_method.items():
            method = styles[spec]
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
    _legend(fig, protocol, styles, drawn)
    return save_figure(fig, path)


def _curves(protocol: ProtocolRecords) -> dict[int, dict[str, dict[str, Any]]]:
    """The training curve of each deep method and code length (its first seed's)."""
    found: dict[int, dict[str, dict[str, Any]]] = {}
    for n_bits in protocol.bits:
        for spec in protocol.methods:
            for record in sorted(protocol.cell(spec, n_bits), key=lambda r: r.get("seed", 0)):
                curve = (record.get("training") or {}).get("curve")
                if isinstance(curve, dict) and curve.get("epochs"):
                    found.setdefault(n_bits, {})[spec] = curve
                    break
    return found


def _plot_training(protocol: ProtocolRecords, styles: dict[str, Style], path: Path) -> Path | None:
    """Validation score (solid, left axis) and training loss (dotted, right axis) per epoch,
    one panel per code length; the kept epoch is marked."""
    panels = _curves(protocol)
    if not panels:
        return None
    plt = pyplot()
    fig, axes = _grid(plt, len(panels), width=4.6)
    drawn: set[str] = set()
    metrics: set[str] = set()
    for ax, (n_bits, by_method) in zip(axes, panels.items(), strict=True):
        loss_ax = ax.twinx()
        for spec, curve in by_method.items():
            style = styles[spec]
            epochs = [row["epoch"] for row in curve["epochs"]]
            scores = [np.nan if row["score"] is None else row["score"] for row in curve["epochs"]]
            ax.plot(epochs, scores, color=style.colour, lw=1.6)
            loss_ax.plot(
                epochs, [row["loss"] for row in curve["epochs"]], color=style.colour, lw=1, ls=":"
            )
            best = curve.get("best_epoch")
            if best is not None and 1 <= best <= len(scores) and np.isfinite(scores[best - 1]):
                ax.plot([best], [scores[best - 1]], color=style.colour, marker=style.marker, ms=6)
            metrics.add(str(curve.get("metric", "none")))
            drawn.add(spec)
        ax.set_title(f"{n_bits} bits", fontsize=10)
        ax.set_xlabel("epoch")
        loss_ax.set_ylabel("training loss (dotted)", fontsize=8)
        ax.grid(alpha=0.3)
    for ax in axes[: len(panels)]:
        ax.set_ylabel(f"{' / '.join(sorted(metrics))} (solid)", fontsize=8)
    _title(fig, "Training curves, first seed (marker: the epoch kept)", protocol)
    _legend(fig, protocol, styles, drawn)
    return save_figure(fig, path)


Plotter = Callable[[ProtocolRecords, dict[str, Style], Path], Path | None]
"""Draws one kind of plot of a protocol to a path; None when the records lack its data."""

BENCHMARK_PLOTS: tuple[tuple[str, Plotter], ...] = (
    ("map_vs_bits", _plot_map_vs_bits),
    ("precision_r2_vs_bits", _plot_radius2_vs_bits),
    ("pr_curves", _plot_pr_curves),
    ("precision_at_k", _plot_precision_at_k),
    ("radius_search", _plot_radius_search),
    ("tutorial", _plot_tutorial),
    ("bucket_occupancy", _plot_occupancy),
    ("training_curves", _plot_training),
)

FIGURE_TEXT = {
    "map_vs_bits": "mAP@all against code length",
    "precision_r2_vs_bits": "precision within Hamming radius 2 and empty queries vs code length",
    "pr_curves": "precision-recall curves, one panel per code length",
    "precision_at_k": "precision@K curves, one panel per code length",
    "radius_search": "hash-table lookup: precision and time per query vs radius",
    "tutorial": "tutorial protocol: P@10 and query time vs radius",
    "bucket_occupancy": "bucket occupancy histogram, one panel per code length",
    "training_curves": "deep methods: validation score and training loss per epoch",
}


# --------------------------------------------------------------------------- tutorial plots

_TUTORIAL_DPI = 130
_TUTORIAL_COLOURS = {"lsh": "#1f77b4", "grh": "#d62728"}
_TUTORIAL_LABELS = {"lsh": "LSH (sign random projections)", "grh": "GRH (graph regularised)"}


def _tutorial_label(name: str, method: dict[str, Any]) -> str:
    return method.get("label") or _TUTORIAL_LABELS.get(name, name.upper())


def plot_precision_vs_radius(results: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """P@k against the Hamming radius for each method, with the exhaustive baseline.

    Solid lines skip queries whose candidate set is empty (the tutorial's convention);
    dashed lines count them as 0. Shaded bands are +-1 standard error over queries. A
    second panel shows the mean number of candidates re-ranked per query (log scale).
    """
    plt = pyplot()
    k = results["config"]["k"]
    fig, (ax, ax_candidates) = plt.subplots(
        2, 1, figsize=(7.5, 7.0), sharex=True, gridspec_kw={"height_ratios": [3, 1.4]}
    )
    for name, method in results["methods"].items():
        colour = _TUTORIAL_COLOURS.get(name)
        radius = np.asarray(method["radius"])
        skip = np.asarray(method["precision_skip_empty"], dtype=float)
        zero = np.asarray(method["precision_empty_as_zero"], dtype=float)
        error = np.asarray(method["precision_std_error"], dtype=float)
        label = _tutorial_label(name, method)
        ax.plot(radius, skip, "o-", color=colour, label=f"{label}, empty queries skipped")
        ax.fill_between(radius, skip - error, skip + error, color=colour, alpha=0.15, lw=0)
        ax.plot(radius, zero, "s--", color=colour, alpha=0.7, ms=4, label=f"{label}, empty = 0")
        ax_candidates.semilogy(
            radius, np.maximum(method["mean_candidates"], 1e-1), "o-", color=colour, label=label
        )
    exhaustive = results.get("exhaustive")
    if exhaustive:
        ax.axhline(
            exhaustive["precision_at_k"],
            color="0.3",
            ls=":",
            lw=1.5,
            label=f"exhaustive cosine search ({exhaustive['precision_at_k']:.3f})",
        )
        ax_candidates.axhline(
            results["dataset"]["n_database"], color="0.3", ls=":", lw=1.5, label="whole database"
        )
    dataset = results["dataset"]
    ax.set_title(
        f"Precision@{k} vs Hamming radius: {dataset['name']}, {results['config']['n_bits']} bits, "
        f"{dataset['n_queries']} queries"
    )
    ax.set_ylabel(f"precision@{k} (candidates re-ranked by cosine)")
    ax.set_ylim(0, max(0.6, ax.get_ylim()[1]))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax_candidates.set_xlabel("Hamming radius searched")
    ax_candidates.set_ylabel("candidates / query")
    ax_candidates.grid(alpha=0.3, which="both")
    ax_candidates.legend(fontsize=8, loc="lower right")
    ax_candidates.set_xticks(np.asarray(next(iter(results["methods"].values()))["radius"]))
    fig.tight_layout()
    return save_figure(fig, path, dpi=_TUTORIAL_DPI)


def plot_query_time_vs_radius(results: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Mean time per query (probe all buckets within the radius + re-rank) on a log scale."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 5.6))
    for name, method in results["methods"].items():
        ax.semilogy(
            method["radius"],
            method["mean_query_ms"],
            "o-",
            color=_TUTORIAL_COLOURS.get(name),
            label=f"{_tutorial_label(name, method)}: hash table + re-rank",
        )
    exhaustive = results.get("exhaustive")
    if exhaustive:
        ax.axhline(
            exhaustive["mean_query_ms"],
            color="0.3",
            ls=":",
            lw=1.5,
            label=f"exhaustive cosine search ({exhaustive['mean_query_ms']:.2f} ms)",
        )
    reference = results.get("anchors", {}).get("tutorial_query_ms")
    if reference:
        ax.axhline(
            reference,
            color="#9467bd",
            ls="-.",
            lw=1.2,
            label=f"the tutorial's Python loop (reported, ~{reference:.0f} ms)",
        )
    ax.set_xlabel("Hamming radius searched")
    ax.set_ylabel("mean time per query (ms, log scale)")
    ax.set_title(
        f"Query time vs Hamming radius ({results['config']['n_bits']} bits, one query at a time)"
    )
    ax.set_xticks(np.asarray(next(iter(results["methods"].values()))["radius"]))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, frameon=False)
    fig.tight_layout()
    return save_figure(fig, path, dpi=_TUTORIAL_DPI)

"""Views of a search benchmark run: the pivot table, the Markdown report and queries/s plots.

Everything here reads the records written by
:func:`benchmarks.search.run.run_search_benchmark` (``records.jsonl`` and ``run.json`` in
the run's folder, read with :func:`hashlearn.records.read_search_records`) and nothing else.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from hashlearn._io import atomic_write_text
from hashlearn.records import read_search_records
from hashlearn.report.figures import pyplot, save_figure

__all__ = [
    "format_search_pivot",
    "format_search_report",
    "format_search_table",
    "plot_queries_per_second",
    "write_search_report",
]

# One colour per index: hashlearn in strong colours, faiss in the matching lighter ones.
_STYLE: dict[str, tuple[str, str, str]] = {
    # name: (colour, line style, marker)
    "LinearScanIndex": ("#1f77b4", "-", "o"),
    "faiss.IndexBinaryFlat": ("#1f77b4", "--", "s"),
    "HashTableIndex": ("#d62728", "-", "o"),
    "faiss.IndexBinaryHash": ("#d62728", "--", "s"),
    "MultiIndexHashing": ("#2ca02c", "-", "o"),
    "faiss.IndexBinaryMultiHash": ("#2ca02c", "--", "s"),
    "MultiTableIndex": ("#9467bd", "-", "D"),
    "FaissBinaryFlat": ("#7f7f7f", ":", "^"),
    "FaissBinaryHash": ("#e377c2", ":", "^"),
    "FaissBinaryMultiHash": ("#8c564b", ":", "^"),
}
_FALLBACK_COLOURS = ("#17becf", "#bcbd22", "#ff7f0e", "#393b79", "#637939")


def _task_label(task: str, value: int | None) -> str:
    return f"k-NN k={value}" if task == "knn" else f"range r={value}"


def _value(record: dict[str, Any]) -> int | None:
    value = record["k"] if record["task"] == "knn" else record["radius"]
    return None if value is None else int(value)


def _fmt_number(value: float | None, digits: int = 0) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def _fmt_ratio(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.2f}x" if value < 10 else f"{value:.1f}x"


def _fmt_seconds(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.4f}" if value < 0.1 else f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _identical(record: dict[str, Any]) -> str:
    identical = record.get("identical")
    if identical is None:
        return "n/a"
    if identical:
        return "yes"
    identity = record.get("identity") or {}
    parts = [
        f"{identity[key]} {key.replace('_', ' ')}"
        for key in ("rows_differ", "queries_differ", "missing", "extra")
        if identity.get(key)
    ]
    return "**NO**" + (f" ({', '.join(parts)})" if parts else "")


def _ordered(values: Iterable[Any]) -> list[Any]:
    return sorted(set(values), key=lambda v: (v is None, v))


def _index_order(records: Sequence[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for record in records:
        seen.setdefault(record["index"], None)
    return list(seen)


def format_search_table(records: Sequence[dict[str, Any]]) -> str:
    """Every measurement as Markdown: one section per (data, n_bits), one row per index.

    Columns: task, ``N``, index, build seconds, queries/s, ratio to the matching faiss
    index (``>1``: faster than faiss), ratio to the exact scan, bytes per code,
    candidates examined per query, results per query, identical to the exact scan.
    Skipped measurements are left out here (see :func:`format_search_report`).
    """
    ok = [r for r in records if r.get("status") == "ok"]
    lines: list[str] = []
    header = (
        "| task | N | index | build s | queries/s | vs faiss | vs scan | bytes/code "
        "| candidates/query | results/query | identical |"
    )
    rule = "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"
    for data in _ordered(r["data"] for r in ok):
        for n_bits in _ordered(r["n_bits"] for r in ok if r["data"] == data):
            group = [r for r in ok if r["data"] == data and r["n_bits"] == n_bits]
            name = group[0].get("data_name", data)
            lines += ["", f"### {name}, {n_bits} bits", "", header, rule]
            order = _index_order(group)
            group.sort(
                key=lambda r: (
                    r["task"] != "knn",
                    _value(r),
                    r["n"],
                    order.index(r["index"]),
                )
            )
            for r in group:
                match = r.get("matches")
                vs_faiss = _fmt_ratio(r.get("ratio_to_faiss"))
                if match and r.get("ratio_to_faiss") is not None:
                    vs_faiss += f" ({match.removeprefix('faiss.')})"
                lines.append(
                    f"| {_task_label(r['task'], _value(r))} | {r['n']:,} | {r['index']} "
                    f"| {_fmt_seconds(r.get('build_seconds'))} "
                    f"| {_fmt_number(r.get('queries_per_second'))} | {vs_faiss} "
                    f"| {_fmt_ratio(r.get('ratio_to_linear_scan'))} "
                    f"| {_fmt_number(r.get('bytes_per_code'), 1)} "
                    f"| {_fmt_number(r.get('candidates_per_query'))} "
                    f"| {_fmt_number(r.get('results_per_query'), 1)} | {_identical(r)} |"
                )
    return "\n".join(lines).lstrip("\n")


def format_search_pivot(
    records: Sequence[dict[str, Any]],
    *,
    n: int | None = None,
    tasks: Sequence[tuple[str, int]] = (("knn", 10), ("range", 2)),
) -> str:
    """Queries/s at one database size as a Markdown grid: a row per (data, bits, task).

    ``n`` defaults to the largest size measured; each task's value is the nearest one
    measured (``k = 10`` and ``r = 2`` by default). A cell marked ``(NOT IDENTICAL)``
    differs from the exact scan; ``-`` was not measured (see the skipped list).
    """
    ok = [r for r in records if r.get("status") == "ok"]
    if not ok:
        return "(no measurements)"
    size = n if n is not None else max(r["n"] for r in ok)
    at_size = [r for r in ok if r["n"] == size]
    indexes = _index_order(at_size)
    lines = [
        f"Queries/s at N = {size:,} ({at_size[0]['n_queries'] if at_size else '?'} queries "
        "per batch call; best of the timed calls)",
        "",
        "| data | bits | task | " + " | ".join(indexes) + " |",
        "|---|---:|---|" + "---:|" * len(indexes),
    ]
    for data in _ordered(r["data"] for r in at_size):
        for n_bits in _ordered(r["n_bits"] for r in at_size if r["data"] == data):
            group = [r for r in at_size if r["data"] == data and r["n_bits"] == n_bits]
            for task, wanted in tasks:
                chosen = _nearest(group, task, wanted)
                if chosen is None:
                    continue
                cells = []
                for name in indexes:
                    found = [
                        r
                        for r in group
                        if r["index"] == name and r["task"] == task and _value(r) == chosen
                    ]
                    if not found:
                        cells.append("-")
                        continue
                    text = _fmt_number(found[0].get("queries_per_second"))
                    if found[0].get("identical") is False:
                        text += " (NOT IDENTICAL)"
                    cells.append(text)
                lines.append(
                    f"| {data} | {n_bits} | {_task_label(task, chosen)} | "
                    + " | ".join(cells)
                    + " |"
                )
    return "\n".join(lines)


def _nearest(records: Sequence[dict[str, Any]], task: str, wanted: int) -> int | None:
    values = {_value(r) for r in records if r["task"] == task}
    values.discard(None)
    if not values:
        return None
    return min(values, key=lambda v: (abs(v - wanted), v))  # type: ignore[operator]


def _skipped(records: Sequence[dict[str, Any]]) -> list[str]:
    """One line per distinct (index, reason), with where it happened."""
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for r in records:
        if r.get("status") not in ("skipped", "error"):
            continue
        reason = str(r.get("reason"))
        if "does not take part" in reason:
            continue  # by design (e.g. faiss hash indexes have no exact k-NN here)
        where = f"{r['data']} {r['n_bits']}b N={r['n']:,} {_task_label(r['task'], _value(r))}"
        grouped.setdefault((r["index"], r["status"], reason), []).append(where)
    lines = []
    for (index, status, reason), places in grouped.items():
        more = f" and {len(places) - 3} more" if len(places) > 3 else ""
        shown = ", ".join(places[:3]) + more
        lines.append(f"- {index} ({status}, {len(places)}x): {reason} [{shown}]")
    return lines


def format_search_report(run: dict[str, Any], records: Sequence[dict[str, Any]]) -> str:
    """The whole Markdown report: the run, the grid at the largest size, every row, skips."""
    config = run.get("config", {})
    environment = run.get("environment", {})
    threads = run.get("threads", {})
    lines = [
        "# Search benchmark: hashlearn indexes beside faiss",
        "",
        f"- date: {environment.get('date', '?')}; total {run.get('total_seconds', 0):,.0f} s",
        f"- machine: {environment.get('cpu_model') or environment.get('processor', '?')}, "
        f"{environment.get('cpu_count', '?')} CPUs ({environment.get('platform', '?')})",
        f"- versions: hashlearn {environment.get('hashlearn', '?')} "
        f"(git {environment.get('git_revision') or '?'}), numpy {environment.get('numpy', '?')}, "
        f"numba {environment.get('numba', '?')}, faiss {environment.get('faiss', '?')}",
        f"- threads: numba {threads.get('numba', '?')}, faiss (OpenMP) "
        f"{threads.get('faiss_omp', '?')}; {config.get('n_queries', '?')} queries per batch "
        f"call, best of {config.get('repeats', '?')} calls, contenders interleaved; "
        f"OMP_WAIT_POLICY={environment.get('omp_wait_policy')}",
    ]
    for kind, description in run.get("data", {}).items():
        lines.append(f"- data `{kind}`: {description.get('source', '?')}")
        if kind == "clustered":
            lines.append(
                f"  (hasher {description.get('hasher', '?')}; "
                f"{description.get('distinct_items', '?'):,} distinct items, then copies with "
                f"each bit flipped with probability {description.get('flip_probability')}; "
                f"queries: {description.get('queries', '?')})"
            )
    lines += [
        "",
        "`vs faiss`: queries/s divided by the matching faiss index's (above 1: faster than "
        "faiss); `vs scan`: divided by LinearScanIndex's. `identical`: results equal to the "
        "exact scan (k-NN: distances, and ids under the (distance, id) tie rule; faiss may "
        "pick any of the items tied at the k-th distance; range: the result sets).",
        "",
        "## Queries/s at the largest size",
        "",
        format_search_pivot(records),
        "",
        "## Every measurement",
        "",
        format_search_table(records),
    ]
    skipped = _skipped(records)
    if skipped:
        lines += ["", "## Not measured, and why", "", *skipped]
    return "\n".join(lines) + "\n"


def _style(name: str, position: int) -> tuple[str, str, str]:
    if name in _STYLE:
        return _STYLE[name]
    return _FALLBACK_COLOURS[position % len(_FALLBACK_COLOURS)], "-.", "v"


def plot_queries_per_second(
    records: Sequence[dict[str, Any]],
    path: str | os.PathLike[str],
    *,
    task: str = "knn",
    value: int = 10,
) -> Path:
    """Log-log queries/s against ``N``: a panel per (data, code length), a line per index.

    ``value`` is ``k`` for ``task="knn"`` and the radius for ``task="range"`` (the nearest
    value measured is used). hashlearn indexes are solid lines, raw faiss dashed, the
    hashlearn wrappers of faiss dotted; a red cross marks a measurement whose results
    differ from the exact scan.
    """
    plt = pyplot()
    ok = [r for r in records if r.get("status") == "ok" and r["task"] == task]
    datas = _ordered(r["data"] for r in ok) or ["(none)"]
    bits = _ordered(r["n_bits"] for r in ok) or [0]
    chosen = _nearest(ok, task, value)
    ok = [r for r in ok if _value(r) == chosen]
    names = sorted(
        _index_order(ok), key=lambda name: list(_STYLE).index(name) if name in _STYLE else 99
    )
    sizes = _ordered(r["n"] for r in ok)
    fig, axes = plt.subplots(
        len(datas),
        len(bits),
        figsize=(3.6 * len(bits) + 0.6, 3.3 * len(datas) + 1.3),
        squeeze=False,
        sharex=True,
    )
    handles: dict[str, Any] = {}
    marked_wrong = False
    for row, data in enumerate(datas):
        for column, n_bits in enumerate(bits):
            ax = axes[row][column]
            cell = [r for r in ok if r["data"] == data and r["n_bits"] == n_bits]
            marked_wrong |= _draw_lines(ax, cell, names, handles)
            title_data = cell[0].get("data_name", data) if cell else data
            ax.set_title(f"{title_data}, {n_bits} bits", fontsize=10)
            _format_axes(ax, cell, sizes)
            if column == 0:
                ax.set_ylabel("queries / s (log)")
            if row == len(datas) - 1:
                ax.set_xlabel("database size N (log)")
    legend_handles = [handles[name] for name in names if name in handles]
    legend_labels = [name for name in names if name in handles]
    if marked_wrong:
        (cross,) = axes[0][0].plot([], [], "x", color="red", ms=9, mew=2)
        legend_handles.append(cross)
        legend_labels.append("results differ from the exact scan")
    # Two legend rows, filled column by column: each hashlearn index above its faiss match.
    n_columns = max(1, math.ceil(len(legend_labels) / 2))
    fig.legend(
        legend_handles,
        legend_labels,
        loc="lower center",
        ncol=n_columns,
        fontsize=9,
        frameon=False,
    )
    n_queries = ok[0]["n_queries"] if ok else "?"
    threads = ok[0]["threads"] if ok else "?"
    what = "k nearest neighbours" if task == "knn" else "all codes within a Hamming radius"
    fig.suptitle(
        f"{_task_label(task, chosen)} ({what}): queries per second vs database size\n"
        f"batches of {n_queries} queries, {threads} threads; solid: hashlearn, dashed: faiss, "
        "dotted: hashlearn's faiss wrappers",
        fontsize=11,
    )
    legend_height = 0.9 / fig.get_figheight()  # two rows of legend, in figure fraction
    fig.tight_layout(rect=(0, legend_height, 1, 1 - 0.45 / fig.get_figheight()))
    return save_figure(fig, path, dpi=130)


def _draw_lines(
    ax: Any, cell: Sequence[dict[str, Any]], names: Sequence[str], handles: dict[str, Any]
) -> bool:
    """One line per index in one panel (``handles`` collects the legend's); True when a
    measurement differs from the exact scan (marked by a red cross)."""
    marked_wrong = False
    for position, name in enumerate(names):
        points = sorted(
            (r["n"], r["queries_per_second"], r.get("identical"))
            for r in cell
            if r["index"] == name and r.get("queries_per_second")
        )
        if not points:
            continue
        colour, line, marker = _style(name, position)
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        (handle,) = ax.loglog(
            xs, ys, linestyle=line, marker=marker, color=colour, ms=5, lw=1.6, label=name
        )
        handles.setdefault(name, handle)
        wrong = [(x, y) for x, y, same in points if same is False]
        if wrong:
            marked_wrong = True
            ax.plot(*zip(*wrong, strict=True), "x", color="red", ms=11, mew=2.2)
    return marked_wrong


def _format_axes(ax: Any, cell: Sequence[dict[str, Any]], sizes: Sequence[int]) -> None:
    """Ticks at the measured sizes; y ticks every decade, or at 1-2-5 over a short range."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xticks(sizes, [_short_size(n) for n in sizes])
    ax.xaxis.set_minor_formatter(NullFormatter())
    values = [r["queries_per_second"] for r in cell if r.get("queries_per_second")]
    decades = math.log10(max(values) / min(values)) if values else 0.0
    subs = (1.0,) if decades > 2.5 else (1.0, 2.0, 5.0)
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: _short_size(round(y))))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.grid(alpha=0.3, which="major")
    ax.grid(alpha=0.12, which="minor")


def _short_size(n: int) -> str:
    """``10000`` -> ``10k``, ``1000000`` -> ``1M``, ``2500`` -> ``2.5k`` (tick labels)."""
    for factor, suffix in ((10**9, "G"), (10**6, "M"), (10**3, "k")):
        if n >= factor:
            return f"{n / factor:.3g}{suffix}"
    return f"{n:g}"


def write_search_report(folder: str | os.PathLike[str]) -> list[Path]:
    """Read a run's records and write ``results.md`` and the two plots beside them.

    The plots are ``queries_per_second_knn.png`` (k-NN, ``k = 10`` or the nearest ``k``
    measured) and ``queries_per_second_range.png`` (range search, ``r = 2`` or nearest).
    Returns the paths written.
    """
    target = Path(folder)
    run, records = read_search_records(target)
    written = [atomic_write_text(target / "results.md", format_search_report(run, records))]
    written.append(
        plot_queries_per_second(
            records, target / "queries_per_second_knn.png", task="knn", value=10
        )
    )
    written.append(
        plot_queries_per_second(
            records, target / "queries_per_second_range.png", task="range", value=2
        )
    )
    return written

"""Views of a tutorial run: the console table and the two plots.

Everything here reads the results dictionary written by
:func:`hashlearn.experiments.tutorial.run_tutorial` (``results.json``) and nothing else.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["format_tutorial_table", "plot_precision_vs_radius", "plot_query_time_vs_radius"]

_COLOURS = {"lsh": "#1f77b4", "grh": "#d62728"}
_LABELS = {"lsh": "LSH (sign random projections)", "grh": "GRH (graph regularised)"}


def _method_label(name: str, method: dict[str, Any]) -> str:
    return method.get("label") or _LABELS.get(name, name.upper())


def format_tutorial_table(results: dict[str, Any]) -> str:
    """A plain-text table: per radius and method, P@k (both conventions), candidates, time."""
    methods = results["methods"]
    k = results["config"]["k"]
    lines = []
    header = f"{'radius':>6}"
    for name in methods:
        short = name.upper()
        header += (
            f" | {short + f' P@{k}':>10} {'(empty=0)':>9} {'empty':>6} {'cands':>8} {'ms/query':>9}"
        )
    lines.append(header)
    lines.append("-" * len(header))
    radii = next(iter(methods.values()))["radius"]
    for i, radius in enumerate(radii):
        row = f"{radius:>6}"
        for method in methods.values():
            skip = method["precision_skip_empty"][i]
            row += (
                f" | {_fmt(skip):>10} {_fmt(method['precision_empty_as_zero'][i]):>9}"
                f" {method['empty_fraction'][i]:>6.1%} {method['mean_candidates'][i]:>8.0f}"
                f" {method['mean_query_ms'][i]:>9.3f}"
            )
        lines.append(row)
    exhaustive = results.get("exhaustive")
    if exhaustive:
        lines.append("")
        lines.append(
            f"exhaustive cosine search: P@{k} = {exhaustive['precision_at_k']:.3f}, "
            f"{exhaustive['mean_query_ms']:.3f} ms/query over "
            f"{results['dataset']['n_database']:,} database items"
        )
    reference = results.get("anchors", {}).get("tutorial_query_ms")
    if reference:
        small = [r for r in radii if r <= 3]
        slowest = max(
            method["mean_query_ms"][radii.index(r)] for method in methods.values() for r in small
        )
        lines.append(
            f"hash table + re-rank at radius <= {small[-1]}: at most {slowest:.3f} ms/query, "
            f"{reference / slowest:,.0f}x faster than the tutorial's reported {reference:.0f} ms"
        )
    if results.get("peak_memory_mib"):
        lines.append(f"peak memory of the run: {results['peak_memory_mib']:,.0f} MiB")
    for name, method in methods.items():
        lines.append(
            f"{name.upper()}: fit {method['fit_seconds']:.2f} s, encode "
            f"{method['encode_seconds']:.3f} s, index {method['index_seconds']:.3f} s, "
            f"{method['bucket_statistics']['n_buckets']:,} non-empty buckets"
        )
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "   n/a" if value is None or not np.isfinite(value) else f"{value:.3f}"


def _figure() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_precision_vs_radius(results: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """P@k against the Hamming radius for each method, with the exhaustive baseline.

    Solid lines skip queries whose candidate set is empty (the tutorial's convention);
    dashed lines count them as 0. Shaded bands are +-1 standard error over queries. A
    second panel shows the mean number of candidates re-ranked per query (log scale).
    """
    plt = _figure()
    k = results["config"]["k"]
    fig, (ax, ax_candidates) = plt.subplots(
        2, 1, figsize=(7.5, 7.0), sharex=True, gridspec_kw={"height_ratios": [3, 1.4]}
    )
    for name, method in results["methods"].items():
        colour = _COLOURS.get(name)
        radius = np.asarray(method["radius"])
        skip = np.asarray(method["precision_skip_empty"], dtype=float)
        zero = np.asarray(method["precision_empty_as_zero"], dtype=float)
        error = np.asarray(method["precision_std_error"], dtype=float)
        label = _method_label(name, method)
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
    return _save(fig, path)


def plot_query_time_vs_radius(results: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Mean time per query (probe all buckets within the radius + re-rank) on a log scale."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(7.5, 5.6))
    for name, method in results["methods"].items():
        ax.semilogy(
            method["radius"],
            method["mean_query_ms"],
            "o-",
            color=_COLOURS.get(name),
            label=f"{_method_label(name, method)}: hash table + re-rank",
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
    return _save(fig, path)


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    from hashlearn._io import atomic_write

    target = Path(path)
    suffix = target.suffix.lstrip(".") or "png"

    def write(handle: Any) -> None:
        fig.savefig(handle, format=suffix, dpi=130)

    try:
        return atomic_write(target, write)
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)

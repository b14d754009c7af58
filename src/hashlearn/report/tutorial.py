"""The console table of a tutorial run.

It reads the results dictionary of :func:`hashlearn.experiments.tutorial.run_tutorial`
(what ``hashlearn tutorial`` writes to ``results.json``) and nothing else; the two plots of
a tutorial run are :func:`hashlearn.report.figures.plot_precision_vs_radius` and
:func:`hashlearn.report.figures.plot_query_time_vs_radius`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["format_tutorial_table"]


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

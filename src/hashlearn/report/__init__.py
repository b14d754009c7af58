"""Reports: tables and plots built from result records only (never from inside training)."""

from hashlearn.report.benchmark import (
    BenchmarkReport,
    format_benchmark_markdown,
    read_bench_records,
    write_benchmark_report,
)
from hashlearn.report.tutorial import (
    format_tutorial_table,
    plot_precision_vs_radius,
    plot_query_time_vs_radius,
)

__all__ = [
    "BenchmarkReport",
    "format_benchmark_markdown",
    "format_tutorial_table",
    "plot_precision_vs_radius",
    "plot_query_time_vs_radius",
    "read_bench_records",
    "write_benchmark_report",
]

"""Reports: tables and plots built from result records only (never from inside training)."""

from hashlearn.report.tutorial import (
    format_tutorial_table,
    plot_precision_vs_radius,
    plot_query_time_vs_radius,
)

__all__ = ["format_tutorial_table", "plot_precision_vs_radius", "plot_query_time_vs_radius"]

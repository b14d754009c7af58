"""Reports: tables and plots built from result records only (never from inside training).

The package is layered like the reports it writes:

- :mod:`~hashlearn.report.aggregate`: grouping records, mean ± std over seeds, the
  comparison with published anchors (one :data:`ANCHOR_TOLERANCE`);
- :mod:`~hashlearn.report.document`: a small document model (headings, paragraphs,
  tables, figures as data), rendered by :mod:`~hashlearn.report.markdown` and
  :mod:`~hashlearn.report.html` (one self-contained page);
- :mod:`~hashlearn.report.figures`: every plot, and the one function that saves a figure;
- :mod:`~hashlearn.report.benchmark` (``hashlearn report RUN_DIR``),
  :mod:`~hashlearn.report.reproduction` (``hashlearn report --reproduction``) and
  :mod:`~hashlearn.report.tutorial` (``hashlearn tutorial``): the reports themselves;
- :mod:`~hashlearn.report.toy2d` (``hashlearn toy2d``): the toy 2-D gallery's figures and
  index, drawn from the :class:`~hashlearn.records.Toy2DGallery` the experiments compute.

Records are read through :mod:`hashlearn.records`.
"""

from hashlearn.report.aggregate import ANCHOR_TOLERANCE
from hashlearn.report.benchmark import (
    BenchmarkReport,
    format_benchmark_markdown,
    write_benchmark_report,
)
from hashlearn.report.figures import plot_precision_vs_radius, plot_query_time_vs_radius
from hashlearn.report.reproduction import format_reproduction, write_reproduction
from hashlearn.report.toy2d import write_toy2d_gallery
from hashlearn.report.tutorial import format_tutorial_table

__all__ = [
    "ANCHOR_TOLERANCE",
    "BenchmarkReport",
    "format_benchmark_markdown",
    "format_reproduction",
    "format_tutorial_table",
    "plot_precision_vs_radius",
    "plot_query_time_vs_radius",
    "write_benchmark_report",
    "write_reproduction",
    "write_toy2d_gallery",
]

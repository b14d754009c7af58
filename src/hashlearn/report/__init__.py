"""hashlearn.report."""

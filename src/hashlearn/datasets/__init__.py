"""hashlearn.datasets."""

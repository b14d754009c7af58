"""hashlearn.features."""

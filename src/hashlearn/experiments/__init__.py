"""hashlearn.experiments."""

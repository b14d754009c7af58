"""hashlearn.evaluation."""

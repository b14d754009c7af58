"""Experiments: protocols that turn (method x dataset x bits x seed) into result records."""

from hashlearn.experiments.search_benchmark import SearchBenchmarkConfig, run_search_benchmark
from hashlearn.experiments.search_benchmark import read_records as read_search_records
from hashlearn.experiments.tutorial import (
    TUTORIAL_ANCHORS,
    TutorialConfig,
    TutorialSplit,
    preprocess_tutorial,
    run_tutorial,
    tutorial_split,
)

__all__ = [
    "TUTORIAL_ANCHORS",
    "SearchBenchmarkConfig",
    "TutorialConfig",
    "TutorialSplit",
    "preprocess_tutorial",
    "read_search_records",
    "run_search_benchmark",
    "run_tutorial",
    "tutorial_split",
]

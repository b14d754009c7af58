"""Experiments: protocols that turn (method x dataset x bits x seed) into result records."""

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
    "TutorialConfig",
    "TutorialSplit",
    "preprocess_tutorial",
    "run_tutorial",
    "tutorial_split",
]

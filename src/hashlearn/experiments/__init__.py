"""Experiments: protocols that turn (method x dataset x bits x seed) into result records.

* :mod:`~hashlearn.experiments.protocols`: the protocol registry (``grh-cifar10``, ...);
* :mod:`~hashlearn.experiments.methods`: the method registry (``lsh``, ``grh``, ...);
* :mod:`~hashlearn.experiments.runner`: ``hashlearn bench`` (:func:`run_benchmark`) and
  :func:`run_protocol` for your own arrays;
* :mod:`~hashlearn.records`: the run folder's files;
* :mod:`~hashlearn.experiments.tutorial`: the tutorial.
"""

from hashlearn.experiments.anchors import find_anchor
from hashlearn.experiments.methods import METHODS, MethodInfo, register_method, resolve_method
from hashlearn.experiments.protocols import PROTOCOLS, Protocol, make_split, resolve_protocol
from hashlearn.experiments.runner import BenchConfig, run_benchmark, run_protocol
from hashlearn.experiments.tutorial import (
    TUTORIAL_ANCHORS,
    TutorialConfig,
    TutorialSplit,
    preprocess_tutorial,
    run_tutorial,
    tutorial_split,
)
from hashlearn.records import read_bench_records

__all__ = [
    "METHODS",
    "PROTOCOLS",
    "TUTORIAL_ANCHORS",
    "BenchConfig",
    "MethodInfo",
    "Protocol",
    "TutorialConfig",
    "TutorialSplit",
    "find_anchor",
    "make_split",
    "preprocess_tutorial",
    "read_bench_records",
    "register_method",
    "resolve_method",
    "resolve_protocol",
    "run_benchmark",
    "run_protocol",
    "run_tutorial",
    "tutorial_split",
]

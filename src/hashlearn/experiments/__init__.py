"""Experiments: protocols that turn (method x dataset x bits x seed) into result records.

* :mod:`~hashlearn.experiments.protocols`: the protocol registry (``grh-cifar10``, ...);
* :mod:`~hashlearn.experiments.methods`: the method registry (``lsh``, ``grh``, ...);
* :mod:`~hashlearn.experiments.runner`: ``hashlearn bench`` (:func:`run_benchmark`) and
  :func:`run_protocol` for your own arrays, with :mod:`~hashlearn.experiments.config`
  (:class:`BenchConfig`), :mod:`~hashlearn.experiments.record` (one record),
  :mod:`~hashlearn.experiments.measure`, :mod:`~hashlearn.experiments.resume` and
  :mod:`~hashlearn.experiments.user_data`;
* :mod:`~hashlearn.records`: the run folder's files;
* :mod:`~hashlearn.experiments.tutorial`: the tutorial;
* :mod:`~hashlearn.experiments.toy2d`: the toy 2-D gallery's fits (:func:`run_toy2d`).
"""

from hashlearn.experiments.anchors import find_anchor
from hashlearn.experiments.config import BenchConfig
from hashlearn.experiments.methods import METHODS, MethodInfo, register_method, resolve_method
from hashlearn.experiments.protocols import (
    PROTOCOLS,
    Protocol,
    TutorialSplit,
    make_split,
    resolve_protocol,
    tutorial_split,
)
from hashlearn.experiments.runner import run_benchmark, run_protocol
from hashlearn.experiments.toy2d import run_toy2d
from hashlearn.experiments.tutorial import (
    TUTORIAL_ANCHORS,
    TutorialConfig,
    preprocess_tutorial,
    run_tutorial,
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
    "run_toy2d",
    "run_tutorial",
    "tutorial_split",
]

"""What one search benchmark run measures: the configuration, its grids and ``--quick``."""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hashlearn._validation import check_int

__all__ = [
    "CLUSTERED_SOURCES",
    "DATA_KINDS",
    "QUICK_CONFIG",
    "SearchBenchmarkConfig",
    "config_from_options",
]

DATA_KINDS = ("uniform", "clustered")
CLUSTERED_SOURCES = ("auto", "cifar10-gist", "synthetic")
MAX_SIZE = 10**8


def _int_tuple(values: Any, name: str, *, low: int, high: int) -> tuple[int, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a sequence of ints, got {values!r}")
    out = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must hold ints in [{low}, {high}], got {value!r}")
        if not low <= value <= high:
            raise ValueError(f"{name} must hold ints in [{low:,}, {high:,}], got {int(value):,}")
        out.append(int(value))
    if not out:
        raise ValueError(f"{name} must not be empty")
    return tuple(sorted(set(out)))


def _fraction(value: Any, name: str, high: float) -> float:
    number = float(value) if isinstance(value, numbers.Real) else math.nan
    if isinstance(value, bool) or not 0 <= number <= high:  # NaN fails the comparison too
        raise ValueError(f"{name} must be a number in [0, {high:g}], got {value!r}")
    return number


@dataclass(frozen=True)
class SearchBenchmarkConfig:
    """What one search benchmark run measures (validated on construction).

    Parameters
    ----------
    sizes : tuple of int, default (10_000, 100_000, 1_000_000)
        Database sizes ``N``; the databases of smaller sizes are prefixes of the largest.
    bits : tuple of int, default (32, 64, 128, 256)
        Code lengths.
    ks : tuple of int, default (1, 10, 100)
        ``k`` of the k-NN tasks.
    radii : tuple of int, default (0, 1, 2, 3)
        Hamming radii of the range-search tasks.
    data : tuple of str, default ("uniform", "clustered")
        Kinds of codes (see :mod:`benchmarks.search`).
    n_queries : int, default 1000
        Queries per batch call.
    repeats : int, default 3
        Timed calls per measurement (the best is reported, all are recorded).
    threads : int, default 2
        Threads of numba (hashlearn) and of OpenMP (faiss).
    seed : int, default 0
        Seeds the codes, the held-out split and the LSH hasher.
    flip_probability : float, default 0.02
        Probability that a bit of a clustered copy is flipped.
    near_duplicate_queries : float, default 0.5
        Fraction of the clustered queries that are fresh noisy copies of stored items
        (near-duplicate search); the others are held-out items (new content).
    clustered_source : {"auto", "cifar10-gist", "synthetic"}, default "auto"
        Where the clustered codes' features come from: ``auto`` uses CIFAR-10 GIST-512
        when the data directory or the cache has it (no download), else the synthetic
        mixture; ``cifar10-gist`` requires it.
    max_seconds : float, default 30.0
        A timed call projected (from the previous size) to take longer is skipped.
    check_queries : int, default 32
        Queries on which the exact scan itself is checked against numpy.
    data_dir : str or None
        The data directory (``$HASHLEARN_DATA`` when None).
    indexes : tuple of str or None
        Run only the contenders of these names (default: all).
    """

    sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    bits: tuple[int, ...] = (32, 64, 128, 256)
    ks: tuple[int, ...] = (1, 10, 100)
    radii: tuple[int, ...] = (0, 1, 2, 3)
    data: tuple[str, ...] = DATA_KINDS
    n_queries: int = 1000
    repeats: int = 3
    threads: int = 2
    seed: int = 0
    flip_probability: float = 0.02
    near_duplicate_queries: float = 0.5
    clustered_source: str = "auto"
    max_seconds: float = 30.0
    check_queries: int = 32
    data_dir: str | None = None
    indexes: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        # Frozen: the checked values replace the given ones through object.__setattr__.
        put = object.__setattr__
        put(self, "sizes", _int_tuple(self.sizes, "sizes", low=1, high=MAX_SIZE))
        put(self, "bits", _int_tuple(self.bits, "bits", low=1, high=4096))
        put(self, "ks", _int_tuple(self.ks, "k", low=1, high=100_000))
        put(self, "radii", _int_tuple(self.radii, "radii", low=0, high=4096))
        if isinstance(self.data, str) or not isinstance(self.data, Iterable):
            raise TypeError(f"data must be a sequence of names, got {self.data!r}")
        data = tuple(dict.fromkeys(self.data))
        unknown = [name for name in data if name not in DATA_KINDS]
        if unknown or not data:
            raise ValueError(
                f"data must name one or more of {', '.join(DATA_KINDS)}, got "
                f"{', '.join(map(str, self.data)) or 'nothing'}"
            )
        put(self, "data", data)
        put(self, "n_queries", check_int(self.n_queries, "n_queries", low=1, high=100_000))
        put(self, "repeats", check_int(self.repeats, "repeats", low=1, high=100))
        put(self, "threads", check_int(self.threads, "threads", low=1, high=1024))
        put(self, "seed", check_int(self.seed, "seed", low=0))
        put(self, "check_queries", check_int(self.check_queries, "check_queries", low=0))
        put(self, "flip_probability", _fraction(self.flip_probability, "flip_probability", 0.5))
        put(
            self,
            "near_duplicate_queries",
            _fraction(self.near_duplicate_queries, "near_duplicate_queries", 1),
        )
        seconds = self.max_seconds
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, numbers.Real)
            or not 0 < seconds < math.inf
        ):
            raise ValueError(f"max_seconds must be a positive number, got {seconds!r}")
        put(self, "max_seconds", float(seconds))
        if self.clustered_source not in CLUSTERED_SOURCES:
            raise ValueError(
                f"clustered_source must be one of {', '.join(CLUSTERED_SOURCES)}, "
                f"got {self.clustered_source!r}"
            )
        if self.indexes is not None:
            if isinstance(self.indexes, str):
                raise TypeError("indexes must be a sequence of names, not a string")
            put(self, "indexes", tuple(self.indexes))

    def as_dict(self) -> dict[str, Any]:
        """The configuration as plain JSON values (tuples become lists)."""
        out: dict[str, Any] = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            out[item.name] = list(value) if isinstance(value, tuple) else value
        return out


#: A run of a few seconds: the smoke test of the benchmark and of its report.
QUICK_CONFIG = SearchBenchmarkConfig(
    sizes=(1_000, 4_000),
    bits=(32, 64, 128),
    ks=(1, 10),
    radii=(0, 1, 2),
    n_queries=32,
    repeats=1,
    check_queries=8,
    clustered_source="synthetic",
)

# Command-line option (argparse destination) -> SearchBenchmarkConfig field.
_OPTION_FIELDS = {
    "sizes": "sizes",
    "bits": "bits",
    "k": "ks",
    "radii": "radii",
    "data": "data",
    "threads": "threads",
    "queries": "n_queries",
    "repeats": "repeats",
    "max_seconds": "max_seconds",
    "clustered_source": "clustered_source",
    "near_duplicates": "near_duplicate_queries",
    "indexes": "indexes",
    "seed": "seed",
    "data_dir": "data_dir",
}


def config_from_options(options: Any, *, quick: bool = False) -> SearchBenchmarkConfig:
    """The default (or ``--quick``) configuration with the options that were given.

    Parameters
    ----------
    options : argparse.Namespace or any object
        Attributes named like the command-line options of ``python -m benchmarks search``
        (``sizes``, ``k``, ``queries``, ``near_duplicates``, ...); attributes that are
        missing or None keep the default.
    quick : bool, default False
        Start from :data:`QUICK_CONFIG` instead of the full grid.

    Returns
    -------
    SearchBenchmarkConfig

    Raises
    ------
    ValueError, TypeError
        A value the configuration does not accept.
    """
    base = QUICK_CONFIG if quick else SearchBenchmarkConfig()
    overrides: dict[str, Any] = {}
    for option, field_name in _OPTION_FIELDS.items():
        value = getattr(options, option, None)
        if value is not None:
            overrides[field_name] = str(value) if field_name == "data_dir" else value
    return dataclasses.replace(base, **overrides)

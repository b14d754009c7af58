"""The search benchmark: every hashlearn index beside faiss's binary indexes, in one run.

What is measured
----------------
For each kind of data (``uniform``, ``clustered``), code length, database size ``N`` and
task (k-NN for each ``k``; range search for each radius), every *contender* answers the
same ``n_queries`` queries in one batch call:

* hashlearn: :class:`~hashlearn.index.LinearScanIndex`, :class:`~hashlearn.index.
  HashTableIndex` (``n_bits <= 64``), ``MultiTableIndex`` and ``MultiIndexHashing`` (when
  their modules exist), and the hashlearn wrappers of faiss (``FaissBinaryFlat``,
  ``FaissBinaryHash``, ``FaissBinaryMultiHash``, when present);
* raw faiss, called directly: ``IndexBinaryFlat`` (k-NN and range), ``IndexBinaryHash``
  (range) and ``IndexBinaryMultiHash`` (range).

Each record holds queries per second (best of ``repeats`` timed calls after one untimed
single-query warm-up, the calls of all contenders interleaved round by round; a first
call longer than ``max_seconds / repeats`` is not repeated), the build time (``add``
plus one single-query search, so that structures built on first use count; best of up to
``repeats`` builds while they take under 2 s in all), bytes per code (memory the index
holds / ``N``, see below), the candidates examined per query where the index reports them
(``N`` for the scans), the ratio to the matching faiss index (``queries/s of hashlearn /
queries/s of faiss``: above 1 means hashlearn is faster) and to the exact scan, and
whether the results are **identical** to the exact scan. Threads: ``threads`` for numba
and for faiss's OpenMP (see :func:`passive_openmp` for the wait policy).

The multi-table structures share one layout: ``MultiIndexHashing`` picks its substring
count ``m`` (``round(n_bits / log2 N)``; substrings covering every bit, lengths differing
by at most one), and ``MultiTableIndex``, faiss's ``IndexBinaryMultiHash`` and the
wrapper get ``m`` disjoint tables of ``n_bits // m`` bits; ``MultiTableIndex`` is made
exact (``grow="exact"`` for k-NN, the pigeonhole probe
radius for range search).

Identity
--------
The exact answer is :class:`~hashlearn.index.LinearScanIndex`'s, itself checked on
``check_queries`` queries (spread over the batch) against an independent numpy
computation (:func:`hashlearn.codes.hamming_distances`, then the ``(distance, id)``
order by a stable sort).

* hashlearn indexes follow one contract (results sorted by ``(distance, id)``, ties
  broken by the smaller id, also at the ``k``-th place), so their arrays must be *equal*
  to the exact scan's: k-NN distances and ids, range ``lims``, distances and ids.
* faiss orders ties arbitrarily and returns range results unsorted. k-NN: distances must
  be equal, the ids below the ``k``-th distance must be the exact ones and the ids at the
  ``k``-th distance must be distinct items truly at that distance (any choice among equal
  distances is right). Range: each query's set of ``(id, distance)`` pairs must be equal.
  (faiss's range radius is strict, ``d < radius``: hashlearn's radius ``r`` is asked of
  faiss as ``r + 1``.)

Radius search with ``IndexBinaryHash(d, b)`` (``b = min(n_bits, 63)``, the code's first
``b`` bits; faiss's key mask is undefined for ``b = 64``) is exact with ``nflip = r``;
with ``IndexBinaryMultiHash(d, nhash, b)`` it is exact with ``nflip = r // nhash``
(pigeonhole over ``nhash`` disjoint substrings). Both are set that way, and their k-NN
(exact only when ``nflip`` reaches the ``k``-th neighbour) is not measured. So every
contender is expected to be exact: a record with ``identical: false`` is a bug (or an
approximate index, which says so in ``exact``).

Memory
------
hashlearn indexes: the bytes of every numpy array the index object holds (found by walking
its attributes; arrays sharing one buffer counted once; the statistics of the last query
excluded). faiss: the size of ``faiss.serialize_index_binary(index)``, which counts the
codes, ids and bucket keys but not the hash map's node overhead, so it understates the
memory of the hash indexes somewhat. The hashlearn wrappers of faiss: that size plus the
copy of the codes the wrapper keeps.

Data
----
* ``uniform``: independent uniformly random codes (database and queries).
* ``clustered``: codes of real features, CIFAR-10 GIST-512
  (:func:`hashlearn.datasets.load_cifar10_gist`, from the data directory or the cache,
  never downloaded), else a synthetic Gaussian mixture (recorded as such). An LSH hasher
  (:class:`~hashlearn.hashers.SignRandomProjection`, fitted on the database images)
  encodes everything. The database is the images' codes followed by copies of them with
  every bit flipped with probability ``flip_probability`` until ``N`` codes (databases of
  every size are prefixes of the largest). Queries, none of them stored: half are
  held-out images (new content, whose nearest codes are typically many bits away), half
  are near-duplicates, fresh noisy copies (same ``flip_probability``) of images stored at
  every size, so that range searches of small radii have results to check.

Skipped measurements are recorded with their reason, never dropped silently: an index
that does not support a code length (``HashTableIndex`` above 64 bits, faiss for lengths
that are not whole bytes), a module not installed yet, or a call projected to exceed
``max_seconds`` (from its time at the previous size, scaled linearly in ``N``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import importlib
import inspect
import json
import math
import numbers
import os
import platform
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DATA_KINDS",
    "QUICK_CONFIG",
    "Contender",
    "FaissContender",
    "HashlearnContender",
    "SearchBenchmarkConfig",
    "clustered_codes",
    "compare_knn",
    "compare_range",
    "cpu_model",
    "default_contenders",
    "multihash_substrings",
    "passive_openmp",
    "read_records",
    "run_search_benchmark",
    "uniform_codes",
]

DATA_KINDS = ("uniform", "clustered")
CLUSTERED_SOURCES = ("auto", "cifar10-gist", "synthetic")
RECORDS_NAME = "records.jsonl"
RUN_NAME = "run.json"
_MAX_SIZE = 10**8


# -- configuration ----------------------------------------------------------------------------
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
        Kinds of codes (see the module docstring).
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
        from hashlearn._validation import check_int

        put = object.__setattr__
        put(self, "sizes", _int_tuple(self.sizes, "sizes", low=1, high=_MAX_SIZE))
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
        p = self.flip_probability
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 0.5:
            raise ValueError(f"flip_probability must be a number in [0, 0.5], got {p!r}")
        put(self, "flip_probability", float(p))
        f = self.near_duplicate_queries
        if isinstance(f, bool) or not isinstance(f, numbers.Real) or not 0 <= f <= 1:
            raise ValueError(f"near_duplicate_queries must be a number in [0, 1], got {f!r}")
        put(self, "near_duplicate_queries", float(f))
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
        """Plain JSON values."""
        return {key: list(v) if isinstance(v, tuple) else v for key, v in self._items()}

    def _items(self) -> Iterable[tuple[str, Any]]:
        for item in dataclasses.fields(self):
            yield item.name, getattr(self, item.name)


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

    ``options`` is an :class:`argparse.Namespace` (or any object) whose attributes are
    named like the command-line options of ``hashlearn bench-search``; attributes that are
    missing or None keep the default. Raises ``ValueError`` / ``TypeError`` for bad values.
    """
    base = QUICK_CONFIG if quick else SearchBenchmarkConfig()
    overrides: dict[str, Any] = {}
    for option, field_name in _OPTION_FIELDS.items():
        value = getattr(options, option, None)
        if value is not None:
            overrides[field_name] = str(value) if field_name == "data_dir" else value
    return dataclasses.replace(base, **overrides)


# -- data ----------------------------------------------------------------------------------------
def _mask_padding(codes: np.ndarray, n_bits: int) -> np.ndarray:
    rest = n_bits % 8
    if rest:
        codes[:, -1] &= np.uint8((1 << rest) - 1)
    return codes


def uniform_codes(n: int, n_bits: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` independent uniformly random packed codes of ``n_bits`` bits."""
    codes = rng.integers(0, 256, size=(n, (n_bits + 7) // 8), dtype=np.uint8)
    return _mask_padding(codes, n_bits)


def _flip_noise(
    codes: np.ndarray, n_bits: int, probability: float, rng: np.random.Generator
) -> np.ndarray:
    """``codes`` with every bit flipped independently with ``probability`` (a copy)."""
    out = codes.copy()
    if probability <= 0:
        return out
    block = max(1, 2**24 // max(1, n_bits))  # about 16 MiB of float32 per block
    for start in range(0, out.shape[0], block):
        stop = min(start + block, out.shape[0])
        flips = rng.random((stop - start, n_bits), dtype=np.float32) < probability
        out[start:stop] ^= np.packbits(flips, axis=1, bitorder="little")
    return out


def clustered_codes(
    base: np.ndarray,
    n: int,
    n_bits: int,
    probability: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """``n`` codes: ``base`` itself, then copies of it with noise bits, in order.

    Row ``i`` is ``base[i]`` for ``i < len(base)`` and ``base[i % len(base)]`` with every
    bit flipped with ``probability`` after that.
    """
    n_base = base.shape[0]
    if n <= n_base:
        return np.ascontiguousarray(base[:n])
    copies = np.resize(np.arange(n_base), n - n_base)
    noisy = _flip_noise(base[copies], n_bits, probability, rng)
    return np.concatenate([base, noisy])


def _synthetic_features(n: int, rng: np.random.Generator) -> np.ndarray:
    """A Gaussian mixture standing in for real features: 100 clusters in 128-d."""
    n_clusters, dim = 100, 128
    centres = rng.standard_normal((n_clusters, dim)).astype(np.float32)
    sizes = rng.dirichlet(np.full(n_clusters, 2.0))
    labels = rng.choice(n_clusters, size=n, p=sizes)
    noise = rng.standard_normal((n, dim)).astype(np.float32)
    return centres[labels] + 0.6 * noise


@dataclass
class _Features:
    X: np.ndarray
    name: str
    source: str


def _load_features(config: SearchBenchmarkConfig, n_needed: int) -> _Features:
    """CIFAR-10 GIST-512 when available without a download, else the synthetic mixture."""
    rng = np.random.default_rng([config.seed, 7])
    if config.clustered_source != "synthetic":
        from hashlearn import datasets

        found = datasets.find_cifar10_source(config.data_dir)
        if found is not None:
            dataset = datasets.load_cifar10_gist(config.data_dir, download=False)
            return _Features(
                np.asarray(dataset.X, dtype=np.float32), "cifar10-gist", dataset.source
            )
        if config.clustered_source == "cifar10-gist":
            raise FileNotFoundError(
                "clustered_source='cifar10-gist' but CIFAR-10 was found neither in the data "
                "directory (--data-dir or HASHLEARN_DATA) nor in the cache"
            )
    n = max(n_needed, min(60_000, max(config.sizes) + config.n_queries))
    return _Features(
        _synthetic_features(n, rng),
        "synthetic-mixture",
        f"SYNTHETIC: {n:,} points from a mixture of 100 Gaussians in 128-d (CIFAR-10 GIST "
        f"{'not requested' if config.clustered_source == 'synthetic' else 'not found'}); "
        "not real features",
    )


@dataclass
class _Data:
    """One kind of data at one code length: the largest database and the queries."""

    kind: str
    n_bits: int
    database: np.ndarray
    queries: np.ndarray
    description: dict[str, Any]


def _make_data(
    kind: str, n_bits: int, config: SearchBenchmarkConfig, features: _Features | None
) -> _Data:
    n_max = max(config.sizes)
    if kind == "uniform":
        rng = np.random.default_rng([config.seed, n_bits, 0])
        database = uniform_codes(n_max, n_bits, rng)
        queries = uniform_codes(config.n_queries, n_bits, rng)
        return _Data(
            kind,
            n_bits,
            database,
            queries,
            {"name": "uniform", "source": "independent uniformly random codes"},
        )
    assert features is not None
    from hashlearn.hashers import SignRandomProjection

    X = features.X
    if X.shape[0] <= config.n_queries:
        raise ValueError(
            f"n_queries must be smaller than the {X.shape[0]:,} feature rows available for "
            f"clustered data, got {config.n_queries:,}"
        )
    n_near = round(config.near_duplicate_queries * config.n_queries)
    n_novel = config.n_queries - n_near
    order = np.random.default_rng([config.seed, 1]).permutation(X.shape[0])
    held_out, held_in = order[:n_novel], order[n_novel:]
    hasher = SignRandomProjection(n_bits=n_bits, random_state=config.seed).fit(X[held_in])
    base = hasher.encode(X[held_in])
    rng = np.random.default_rng([config.seed, n_bits, 2])
    database = clustered_codes(base, n_max, n_bits, config.flip_probability, rng)
    # Near-duplicate queries: fresh noisy copies of items stored at every size (the first
    # min(sizes) rows), drawn like the database's copies but never stored themselves.
    query_rng = np.random.default_rng([config.seed, n_bits, 3])
    sources = query_rng.integers(0, min(min(config.sizes), base.shape[0]), size=n_near)
    near = _flip_noise(base[sources], n_bits, config.flip_probability, query_rng)
    novel = hasher.encode(X[held_out]) if n_novel else near[:0]
    queries = np.concatenate([novel, near])
    return _Data(
        kind,
        n_bits,
        database,
        queries,
        {
            "name": f"clustered ({features.name})",
            "features": features.name,
            "source": features.source,
            "hasher": f"SignRandomProjection(n_bits=<bits>, random_state={config.seed})",
            "distinct_items": int(base.shape[0]),
            "flip_probability": config.flip_probability,
            "queries": (
                f"{n_novel:,} held-out items (never in the database) + {n_near:,} "
                "near-duplicates (fresh noisy copies of stored items, not stored themselves)"
            ),
        },
    )


# -- contenders ------------------------------------------------------------------------------------
def _array_bytes(obj: Any) -> int:
    """Bytes of the numpy arrays reachable from ``obj``'s attributes (shared buffers once).

    Walks attributes, dicts, lists and tuples (six levels deep), skipping the statistics
    of the last query (attributes named ``last_*``) and the hasher.
    """
    seen_objects: set[int] = set()
    seen_buffers: set[int] = set()

    def walk(value: Any, depth: int) -> int:
        if depth > 6 or id(value) in seen_objects:
            return 0
        seen_objects.add(id(value))
        if isinstance(value, np.ndarray):
            base = value
            while isinstance(base.base, np.ndarray):
                base = base.base
            if id(base) in seen_buffers:
                return 0
            seen_buffers.add(id(base))
            return int(base.nbytes)
        if value is None or isinstance(value, (str, bytes, numbers.Number, type)):
            return 0
        if isinstance(value, dict):
            return sum(walk(item, depth + 1) for item in value.values())
        if isinstance(value, (list, tuple, set, frozenset)):
            return sum(walk(item, depth + 1) for item in value)
        attributes = getattr(value, "__dict__", None)
        if not isinstance(attributes, dict):
            return 0
        return sum(
            walk(item, depth + 1)
            for name, item in attributes.items()
            if not name.startswith("last_") and name not in {"_hasher", "hasher"}
        )

    return walk(obj, 0)


def _mean_candidates(stats: Any) -> float | None:
    if stats is None:
        return None
    if isinstance(stats, dict):
        value = stats.get("candidates")
    else:
        value = getattr(stats, "candidates", None)
    if value is None:
        return None
    array = np.asarray(value, dtype=float)
    return float(array.mean()) if array.size else 0.0


def _accepts(factory: Callable[..., Any], name: str) -> bool:
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    return name in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def _with_slack(codes: np.ndarray) -> np.ndarray:
    """``codes`` copied into a buffer followed by 8 zero bytes.

    faiss's hash indexes read each key as an unaligned 64-bit word inside the code, which
    runs past the last code when the key ends less than 8 bytes before it; the slack keeps
    those reads inside memory we own (the extra bytes are masked off by faiss).
    """
    n, width = codes.shape
    buffer = np.zeros(n * width + 8, dtype=np.uint8)
    view = buffer[: n * width].reshape(n, width)
    view[...] = codes
    return view


#: faiss computes its key mask as ``(1 << b) - 1``, undefined for ``b = 64``.
MAX_FAISS_KEY_BITS = 63


def multihash_substrings(n_bits: int, n: int) -> int:
    """Substrings for multi-index hashing: ``round(n_bits / log2(N))`` (Norouzi et al.).

    At least ``ceil(n_bits / 63)`` so that every substring fits a faiss key.
    """
    m = max(1, math.floor(n_bits / math.log2(max(n, 2)) + 0.5))
    return min(n_bits, max(m, -(-n_bits // MAX_FAISS_KEY_BITS)))


class Contender:
    """One index under test: how to build it, query it and read what it reports.

    Attributes set by subclasses: ``name``; ``family`` (``"hashlearn"``, ``"faiss"`` or
    ``"faiss-wrapper"``); ``tasks`` (``"knn"``, ``"range"``); ``matches``, the name of the
    faiss contender each task is compared with; ``exact``, whether results are promised
    to equal the exact scan's (None: not promised); ``tie_rule``, whether results follow
    hashlearn's ``(distance, id)`` order (compared array for array) or not (compared as
    faiss results, see :func:`compare_knn` and :func:`compare_range`).

    Only :meth:`knn` and :meth:`range` are timed; everything else happens outside the
    timed calls.
    """

    name = "contender"
    family = "hashlearn"
    tasks: frozenset[str] = frozenset({"knn", "range"})
    matches: dict[str, str] = {}  # noqa: RUF012 (read-only class default)
    exact: bool | None = True
    tie_rule = True

    def unsupported(self, n_bits: int) -> str | None:
        """Why this contender cannot index ``n_bits``-bit codes here, or None."""
        return None

    def build(
        self, database: np.ndarray, n_bits: int, threads: int, context: dict[str, Any]
    ) -> Any:
        """A new index holding ``database`` (``context`` is shared by one database's builds)."""
        raise NotImplementedError

    def prepare_queries(self, queries: np.ndarray) -> np.ndarray:
        """The queries as this contender takes them (untimed; default: as they are)."""
        return queries

    def configure(self, index: Any, task: str, value: int) -> None:
        """Set per-task parameters before the timed calls (default: nothing)."""

    def knn(self, index: Any, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(distances, ids)`` of the ``k`` nearest codes."""
        raise NotImplementedError

    def range(
        self, index: Any, queries: np.ndarray, radius: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(lims, distances, ids)`` of every code within ``radius`` (inclusive)."""
        raise NotImplementedError

    def before_query(self, index: Any) -> None:
        """Reset per-call statistics (default: nothing)."""

    def candidates(self, index: Any, task: str, n: int) -> float | None:
        """Mean candidates examined per query in the last call, if the index reports it."""
        return None

    def probes(self, index: Any, task: str) -> float | None:
        """Mean bucket keys looked up (or compared) per query in the last call, if known."""
        return None

    def memory(self, index: Any) -> tuple[int, str]:
        """Bytes the index holds and how they were measured."""
        return _array_bytes(index), "numpy arrays held by the index"

    def params(self, index: Any, task: str, value: int) -> dict[str, Any]:
        """Parameters worth recording."""
        return {}


class HashlearnContender(Contender):
    """A :class:`~hashlearn.index.BinaryIndex` subclass, imported when first needed.

    Parameters
    ----------
    name : str
    module, class_name : str
        Where the class lives (a missing module or class is a recorded skip).
    cls : type, optional
        The class itself (then ``module`` and ``class_name`` only describe it).
    max_bits : int, optional
        Longest code the class takes.
    matches : dict, optional
        Task -> name of the faiss contender it is compared with.
    kwargs : callable ``(n_bits, n, context) -> dict``, optional
        Constructor keyword arguments (``n_threads`` is added when the class takes it).
    configure : callable ``(index, task, value)``, optional
        Per-task settings made before the timed calls.
    publish : callable ``(index, context)``, optional
        Share facts about the built index with the contenders built after it.
    family, exact, tasks, scans_everything
        See :class:`Contender`; ``scans_everything`` reports ``N`` candidates per query.
    """

    def __init__(
        self,
        name: str,
        module: str,
        class_name: str,
        *,
        cls: type | None = None,
        max_bits: int | None = None,
        matches: dict[str, str] | None = None,
        kwargs: Callable[[int, int, dict[str, Any]], dict[str, Any]] | None = None,
        configure: Callable[[Any, str, int], None] | None = None,
        publish: Callable[[Any, dict[str, Any]], None] | None = None,
        family: str = "hashlearn",
        exact: bool | None = True,
        tasks: Iterable[str] = ("knn", "range"),
        scans_everything: bool = False,
    ) -> None:
        self.name = name
        self.module = module
        self.class_name = class_name
        self._cls = cls
        self.max_bits = max_bits
        self.matches = dict(matches or {})
        self._kwargs = kwargs
        self._configure = configure
        self._publish = publish
        self.family = family
        self.exact = exact
        self.tasks = frozenset(tasks)
        self.scans_everything = scans_everything

    def _class(self) -> type:
        if self._cls is None:
            self._cls = getattr(importlib.import_module(self.module), self.class_name)
        return self._cls

    def unsupported(self, n_bits: int) -> str | None:
        try:
            cls = self._class()
        except ImportError as exc:
            return f"{self.module} cannot be imported ({exc})"
        except AttributeError:
            return f"{self.module} has no {self.class_name}"
        if self.max_bits is not None and n_bits > self.max_bits:
            return f"{cls.__name__} takes n_bits <= {self.max_bits}, got {n_bits}"
        return None

    def build(
        self, database: np.ndarray, n_bits: int, threads: int, context: dict[str, Any]
    ) -> Any:
        cls = self._class()
        kwargs = self._kwargs(n_bits, database.shape[0], context) if self._kwargs else {}
        if _accepts(cls, "n_threads"):
            kwargs.setdefault("n_threads", threads)
        index = cls(n_bits, **kwargs).add(database)
        index.search(database[:1], 1)  # structures built on first use count as build time
        if self._publish is not None:
            self._publish(index, context)
        return index

    def configure(self, index: Any, task: str, value: int) -> None:
        if self._configure is not None:
            self._configure(index, task, value)

    def knn(self, index: Any, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        result: tuple[np.ndarray, np.ndarray] = index.search(queries, k)
        return result

    def range(
        self, index: Any, queries: np.ndarray, radius: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        result: tuple[np.ndarray, np.ndarray, np.ndarray] = index.range_search(queries, radius)
        return result

    def candidates(self, index: Any, task: str, n: int) -> float | None:
        if self.scans_everything:
            return float(n)
        for attribute in ("last_stats_", "last_probe_"):
            found = _mean_candidates(getattr(index, attribute, None))
            if found is not None:
                return found
        return None

    def probes(self, index: Any, task: str) -> float | None:
        stats = getattr(index, "last_stats_", None)
        probed = getattr(stats, "buckets_probed", None)
        if probed is None:
            return None
        array = np.asarray(probed, dtype=float)
        return float(array.mean()) if array.size else 0.0

    def memory(self, index: Any) -> tuple[int, str]:
        inner = getattr(index, "faiss_index", None)
        if self.family == "faiss-wrapper" and inner is not None:
            size, how = _faiss_memory(inner)
            codes = int(index.codes.nbytes)  # the wrapper keeps its own copy of the codes
            return size + codes, f"{how} + the wrapper's copy of the codes"
        return super().memory(index)

    def params(self, index: Any, task: str, value: int) -> dict[str, Any]:
        out: dict[str, Any] = {"repr": repr(index)}
        for attribute in (
            "n_substrings_",
            "n_substrings",
            "n_tables",
            "bits_per_table",
            "probe_radius",
            "grow",
            "b",
            "nhash",
            "nflip",
        ):
            found = getattr(index, attribute, None)
            if isinstance(found, (int, np.integer)) and not isinstance(found, bool):
                out[attribute] = int(found)
            elif isinstance(found, str):
                out[attribute] = found
        return out


def _faiss_memory(index: Any) -> tuple[int, str]:
    import faiss

    size = int(faiss.serialize_index_binary(index).size)
    return size, "faiss.serialize_index_binary size (no hash-map node overhead)"


class FaissContender(Contender):
    """Raw faiss, called directly: ``IndexBinaryFlat``, ``IndexBinaryHash`` or
    ``IndexBinaryMultiHash``.

    ``IndexBinaryHash(d, b)`` keys the first ``b = min(n_bits, 63)`` bits and probes with
    ``nflip = radius``; ``IndexBinaryMultiHash(d, nhash, b)`` uses the substring count of
    hashlearn's multi-index hashing index when it published one, else
    :func:`multihash_substrings`, ``b = n_bits // nhash`` and ``nflip = radius // nhash``:
    both settings make range search exact. Only the range search of the hash indexes is
    measured (their k-NN is exact only with ``nflip`` large enough for the ``k``-th
    neighbour, which no fixed setting guarantees).
    """

    family = "faiss"
    tie_rule = False

    def __init__(self, kind: str) -> None:
        if kind not in ("IndexBinaryFlat", "IndexBinaryHash", "IndexBinaryMultiHash"):
            raise ValueError(f"unknown faiss binary index {kind!r}")
        self.kind = kind
        self.name = f"faiss.{kind}"
        flat = kind == "IndexBinaryFlat"
        self.tasks = frozenset({"knn", "range"}) if flat else frozenset({"range"})

    def unsupported(self, n_bits: int) -> str | None:
        try:
            import faiss  # noqa: F401
        except ImportError:
            return "faiss is not installed (pip install 'hashlearn[faiss]')"
        if n_bits % 8:
            return "faiss binary indexes need a whole number of bytes per code"
        return None

    def build(
        self, database: np.ndarray, n_bits: int, threads: int, context: dict[str, Any]
    ) -> Any:
        import faiss

        index: Any
        if self.kind == "IndexBinaryFlat":
            index = faiss.IndexBinaryFlat(n_bits)
            index.add(np.ascontiguousarray(database))
            index.search(np.ascontiguousarray(database[:1]), 1)  # as for hashlearn's
            return index
        if self.kind == "IndexBinaryHash":
            index = faiss.IndexBinaryHash(n_bits, min(n_bits, MAX_FAISS_KEY_BITS))
        else:
            nhash = _substrings(n_bits, database.shape[0], context)
            index = faiss.IndexBinaryMultiHash(n_bits, nhash, n_bits // nhash)
        index.add(_with_slack(database))
        index.search(_with_slack(database[:1]), 1)  # as for hashlearn's
        return index

    def prepare_queries(self, queries: np.ndarray) -> np.ndarray:
        if self.kind == "IndexBinaryFlat":
            return np.ascontiguousarray(queries)
        return _with_slack(queries)

    def configure(self, index: Any, task: str, value: int) -> None:
        if self.kind == "IndexBinaryHash":
            index.nflip = min(value, index.b)
        elif self.kind == "IndexBinaryMultiHash":
            index.nflip = value // index.nhash

    def knn(self, index: Any, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        distances, ids = index.search(queries, k)
        return distances, ids

    def range(
        self, index: Any, queries: np.ndarray, radius: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lims, distances, ids = index.range_search(queries, radius + 1)  # faiss: d < radius
        return lims, distances, ids

    def before_query(self, index: Any) -> None:
        if self.kind != "IndexBinaryFlat":
            import faiss

            faiss.cvar.indexBinaryHash_stats.reset()  # type: ignore[attr-defined]

    def candidates(self, index: Any, task: str, n: int) -> float | None:
        if self.kind == "IndexBinaryFlat":
            return float(n)
        import faiss

        stats = faiss.cvar.indexBinaryHash_stats  # type: ignore[attr-defined]
        return float(stats.ndis) / stats.nq if stats.nq else None

    def memory(self, index: Any) -> tuple[int, str]:
        return _faiss_memory(index)

    def params(self, index: Any, task: str, value: int) -> dict[str, Any]:
        if self.kind == "IndexBinaryHash":
            return {"b": int(index.b), "nflip": int(index.nflip)}
        if self.kind == "IndexBinaryMultiHash":
            return {"nhash": int(index.nhash), "b": int(index.b), "nflip": int(index.nflip)}
        return {}


def _publish_substrings(index: Any, context: dict[str, Any]) -> None:
    for attribute in ("n_substrings_", "n_substrings"):
        value = getattr(index, attribute, None)
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            context["n_substrings"] = int(value)
            return


def _set_nflip(per_table: bool) -> Callable[[Any, str, int], None]:
    def configure(index: Any, task: str, value: int) -> None:
        if task == "range":
            index.nflip = value // index.nhash if per_table else value

    return configure


def _substrings(n_bits: int, n: int, context: dict[str, Any]) -> int:
    nhash = context.get("n_substrings") or multihash_substrings(n_bits, n)
    return max(int(nhash), -(-n_bits // MAX_FAISS_KEY_BITS))


def _multi_table_kwargs(n_bits: int, n: int, context: dict[str, Any]) -> dict[str, Any]:
    """The same layout as multi-index hashing: ``m`` disjoint tables of ``n_bits // m`` bits."""
    n_tables = _substrings(n_bits, n, context)
    return {"n_tables": n_tables, "bits_per_table": n_bits // n_tables}


def _configure_multi_table(index: Any, task: str, value: int) -> None:
    """Settings that make ``MultiTableIndex`` exact: grow to the k-th neighbour; pigeonhole."""
    if task == "knn":
        index.grow = "exact"
    else:
        index.probe_radius = index.probe_radius_for(value)


def _hash_wrapper_kwargs(n_bits: int, n: int, context: dict[str, Any]) -> dict[str, Any]:
    return {"b": min(n_bits, MAX_FAISS_KEY_BITS)}


def _multihash_wrapper_kwargs(n_bits: int, n: int, context: dict[str, Any]) -> dict[str, Any]:
    nhash = _substrings(n_bits, n, context)
    return {"nhash": nhash, "b": n_bits // nhash}


def default_contenders() -> list[Contender]:
    """Every contender, hashlearn and faiss interleaved (the order of each timing round)."""
    flat = "faiss.IndexBinaryFlat"
    multihash = "faiss.IndexBinaryMultiHash"
    backend = "hashlearn.index.faiss_backend"
    return [
        HashlearnContender(
            "LinearScanIndex",
            "hashlearn.index.linear_scan",
            "LinearScanIndex",
            matches={"knn": flat, "range": flat},
            scans_everything=True,
        ),
        FaissContender("IndexBinaryFlat"),
        HashlearnContender(
            "HashTableIndex",
            "hashlearn.index.hash_table",
            "HashTableIndex",
            max_bits=64,
            matches={"knn": flat, "range": "faiss.IndexBinaryHash"},
        ),
        FaissContender("IndexBinaryHash"),
        HashlearnContender(
            "MultiIndexHashing",
            "hashlearn.index.multi_index",
            "MultiIndexHashing",
            matches={"knn": flat, "range": multihash},
            publish=_publish_substrings,
        ),
        FaissContender("IndexBinaryMultiHash"),
        HashlearnContender(
            "MultiTableIndex",
            "hashlearn.index.multi_table",
            "MultiTableIndex",
            matches={"knn": flat, "range": multihash},
            kwargs=_multi_table_kwargs,
            configure=_configure_multi_table,
        ),
        HashlearnContender(
            "FaissBinaryFlat",
            backend,
            "FaissBinaryFlat",
            matches={"knn": flat, "range": flat},
            family="faiss-wrapper",
        ),
        HashlearnContender(
            "FaissBinaryHash",
            backend,
            "FaissBinaryHash",
            matches={"range": "faiss.IndexBinaryHash"},
            family="faiss-wrapper",
            kwargs=_hash_wrapper_kwargs,
            configure=_set_nflip(per_table=False),
            tasks=("range",),
        ),
        HashlearnContender(
            "FaissBinaryMultiHash",
            backend,
            "FaissBinaryMultiHash",
            matches={"range": multihash},
            family="faiss-wrapper",
            kwargs=_multihash_wrapper_kwargs,
            configure=_set_nflip(per_table=True),
            tasks=("range",),
        ),
    ]


# -- identity --------------------------------------------------------------------------------------
def _true_distances(
    queries: np.ndarray, database: np.ndarray, rows: np.ndarray, ids: np.ndarray
) -> np.ndarray:
    """``popcount(queries[rows] XOR database[ids])`` pair by pair."""
    if rows.size == 0:
        return np.empty(0, dtype=np.int64)
    xor = np.bitwise_xor(queries[rows], database[ids])
    return np.unpackbits(xor, axis=1).sum(axis=1, dtype=np.int64)


def compare_knn(
    distances: np.ndarray,
    ids: np.ndarray,
    exact_distances: np.ndarray,
    exact_ids: np.ndarray,
    queries: np.ndarray,
    database: np.ndarray,
    *,
    tie_rule: bool = True,
) -> dict[str, Any]:
    """Whether k-NN results equal the exact ones.

    With ``tie_rule`` (hashlearn's contract) both arrays must be equal. Without it (faiss),
    each row is first put in ``(distance, id)`` order; distances must then be equal, ids
    below the row's ``k``-th distance equal, and ids at the ``k``-th distance distinct items
    truly at that distance.

    Returns
    -------
    dict
        ``identical`` (bool), ``rows_differ`` (rows that fail), ``rows_tie_choice`` (rows
        equal only up to the choice among ties at the ``k``-th distance, faiss only).
    """
    d = np.asarray(distances).astype(np.int64)
    i = np.asarray(ids).astype(np.int64)
    d0 = np.asarray(exact_distances).astype(np.int64)
    i0 = np.asarray(exact_ids).astype(np.int64)
    if d.shape != d0.shape or i.shape != i0.shape:
        return {
            "identical": False,
            "rows_differ": int(d0.shape[0]),
            "rows_tie_choice": 0,
            "why": f"shape {d.shape} instead of {d0.shape}",
        }
    if tie_rule:
        bad = ~((d == d0).all(axis=1) & (i == i0).all(axis=1))
        return {"identical": not bad.any(), "rows_differ": int(bad.sum()), "rows_tie_choice": 0}
    # Missing entries (id -1; faiss puts INT32_MAX in their distance) go last, as -1.
    missing = i < 0
    key = np.where(missing, np.iinfo(np.int64).max, d)
    order = np.lexsort((np.where(missing, np.iinfo(np.int64).max, i), key), axis=1)
    d = np.take_along_axis(np.where(missing, -1, d), order, axis=1)
    i = np.take_along_axis(i, order, axis=1)
    same_d = (d == d0).all(axis=1)
    same_i = (i == i0).all(axis=1)
    kth = d0[:, -1:] if d0.shape[1] else np.zeros((d0.shape[0], 1), dtype=np.int64)
    below = d0 < kth
    ok_below = ((i == i0) | ~below).all(axis=1)
    rows, cols = np.nonzero((i >= 0) & (i < database.shape[0]))
    true = np.full(d.shape, -2, dtype=np.int64)
    true[rows, cols] = _true_distances(queries, database, rows, i[rows, cols])
    padded = i < 0
    ok_true = ((true == d) | (padded & (d0 < 0))).all(axis=1)
    distinct = np.array([np.unique(row[row >= 0]).size == (row >= 0).sum() for row in i])
    good = same_d & ok_below & ok_true & distinct
    return {
        "identical": bool(good.all()),
        "rows_differ": int((~good).sum()),
        "rows_tie_choice": int((good & ~same_i).sum()),
    }


def compare_range(
    lims: np.ndarray,
    distances: np.ndarray,
    ids: np.ndarray,
    exact: tuple[np.ndarray, ...],
    *,
    tie_rule: bool = True,
) -> dict[str, Any]:
    """Whether range results equal the exact ones.

    With ``tie_rule`` the three CSR arrays must be equal (hashlearn's order). Without it
    each query's ``(distance, id)`` pairs are sorted first: the result *sets* (and each
    item's distance) must be equal.

    Returns
    -------
    dict
        ``identical``, ``queries_differ``, ``missing`` and ``extra`` (pairs).
    """
    lims0, d0, i0 = (np.asarray(a).astype(np.int64) for a in exact)
    lims = np.asarray(lims).astype(np.int64)
    d = np.asarray(distances).astype(np.int64)
    i = np.asarray(ids).astype(np.int64)
    n_queries = lims0.shape[0] - 1
    if lims.shape != lims0.shape:
        return {
            "identical": False,
            "queries_differ": n_queries,
            "missing": None,
            "extra": None,
            "why": f"lims of shape {lims.shape} instead of {lims0.shape}",
        }
    if not tie_rule and d.size:
        query = np.repeat(np.arange(n_queries), np.diff(lims))
        order = np.lexsort((i, d, query))
        d, i = d[order], i[order]
    if np.array_equal(lims, lims0) and np.array_equal(d, d0) and np.array_equal(i, i0):
        return {"identical": True, "queries_differ": 0, "missing": 0, "extra": 0}
    n0 = max(1, int(i0.max(initial=0)) + 1, int(i.max(initial=0)) + 1)
    query0 = np.repeat(np.arange(n_queries), np.diff(lims0))
    query = np.repeat(np.arange(n_queries), np.diff(lims))
    pairs0 = (query0 * n0 + i0) * 4097 + d0
    pairs = (query * n0 + i) * 4097 + d
    missing = np.setdiff1d(pairs0, pairs)
    extra = np.setdiff1d(pairs, pairs0)
    bad_queries = np.union1d(missing // 4097 // n0, extra // 4097 // n0)
    if not tie_rule or (missing.size or extra.size):
        differ = int(bad_queries.size)
    else:  # same sets, wrong order
        per_query = [
            not (
                np.array_equal(d[lims[q] : lims[q + 1]], d0[lims0[q] : lims0[q + 1]])
                and np.array_equal(i[lims[q] : lims[q + 1]], i0[lims0[q] : lims0[q + 1]])
            )
            for q in range(n_queries)
        ]
        differ = int(sum(per_query))
    return {
        "identical": False,
        "queries_differ": differ,
        "missing": int(missing.size),
        "extra": int(extra.size),
    }


def _recall_knn(ids: np.ndarray, exact_ids: np.ndarray) -> float:
    hits = total = 0
    for row, row0 in zip(ids, exact_ids, strict=True):
        want = row0[row0 >= 0]
        hits += np.intersect1d(row[row >= 0], want).size
        total += want.size
    return hits / total if total else 1.0


def _recall_range(lims: np.ndarray, ids: np.ndarray, exact: tuple[np.ndarray, ...]) -> float:
    lims0, _, i0 = exact
    total = int(lims0[-1])
    if not total:
        return 1.0
    hits = 0
    for q in range(lims0.shape[0] - 1):
        hits += np.intersect1d(ids[lims[q] : lims[q + 1]], i0[lims0[q] : lims0[q + 1]]).size
    return hits / total


def _reference_check(
    task: str,
    value: int,
    result: tuple[np.ndarray, ...],
    queries: np.ndarray,
    database: np.ndarray,
    n_check: int,
) -> dict[str, Any]:
    """Check the exact scan on ``n_check`` queries (spread evenly) against numpy.

    The reference: :func:`hashlearn.codes.hamming_distances` to every code, then the
    ``(distance, id)`` order by a stable sort of the codes within reach (ids ascend).
    """
    from hashlearn.codes import hamming_distances

    n_queries = queries.shape[0]
    n_check = min(n_check, n_queries)
    if n_check == 0:
        return {"identical": None, "checked_queries": 0}
    rows = np.unique(np.linspace(0, n_queries - 1, n_check).round().astype(np.int64))
    block = max(1, 2**24 // max(1, database.shape[0]))
    problems = 0
    for start in range(0, rows.shape[0], block):
        chosen = rows[start : start + block]
        D = hamming_distances(queries[chosen], database)
        for row, q in enumerate(chosen):
            d = D[row]
            if task == "knn":
                kk = min(value, d.shape[0])
                kth = np.partition(d, kk - 1)[kk - 1]
                near = np.flatnonzero(d <= kth)  # ascending ids
                top = near[np.argsort(d[near], kind="stable")][:kk]
                want_d = np.full(value, -1, dtype=np.int64)
                want_i = np.full(value, -1, dtype=np.int64)
                want_d[:kk], want_i[:kk] = d[top], top
                ok = np.array_equal(result[0][q], want_d) and np.array_equal(result[1][q], want_i)
            else:
                lims, dist, ids = result
                near = np.flatnonzero(d <= value)
                inside = near[np.argsort(d[near], kind="stable")]
                ok = np.array_equal(ids[lims[q] : lims[q + 1]], inside) and np.array_equal(
                    dist[lims[q] : lims[q + 1]], d[inside]
                )
            problems += not ok
    return {
        "identical": problems == 0,
        "checked_queries": int(rows.shape[0]),
        "queries_differ": problems,
    }


# -- the run -------------------------------------------------------------------------------------
@dataclass
class _Built:
    contender: Contender
    index: Any = None
    queries: Any = None
    build_seconds: list[float] = field(default_factory=list)
    memory_bytes: int | None = None
    memory_method: str | None = None
    error: str | None = None
    status: str | None = None
    warnings: list[str] = field(default_factory=list)


def _timed(call: Callable[[], Any], caught: list[str] | None = None) -> tuple[float, Any]:
    """Seconds taken by ``call()`` (garbage collection paused) and its result.

    Warnings raised by the call are appended to ``caught`` (messages) instead of printed.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        with warnings.catch_warnings(record=True) as found:
            warnings.simplefilter("always")
            start = time.perf_counter()
            result = call()
            seconds = time.perf_counter() - start
    finally:
        if enabled:
            gc.enable()
    if caught is not None:
        for item in found:
            message = f"{item.category.__name__}: {item.message}"
            if message not in caught:
                caught.append(message)
    return seconds, result


def _task_key(task: str, value: int) -> str:
    return f"knn k={value}" if task == "knn" else f"range r={value}"


@dataclass
class _Budget:
    """Per (contender, data, bits, task) timing history, to skip calls that would be too slow."""

    max_seconds: float
    history: dict[tuple[str, str, int, str, int], tuple[int, float]] = field(default_factory=dict)

    def reason(self, key: tuple[str, str, int, str, int], n: int, larger: list[Any]) -> str | None:
        for smaller_key in [key, *larger]:
            seen = self.history.get(smaller_key)
            if seen is None:
                continue
            n_seen, seconds = seen
            projected = seconds * max(1.0, n / n_seen)
            if projected > self.max_seconds:
                where = f"N={n_seen:,}" + ("" if smaller_key == key else f", {smaller_key[3]}")
                return (
                    f"projected {projected:,.0f} s per call (measured {seconds:,.1f} s at "
                    f"{where}{', scaled linearly in N' if n > n_seen else ''}) exceeds "
                    f"max_seconds={self.max_seconds:g}"
                )
        return None


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, np.generic):
        return _finite(value.item())
    return value


def _write_jsonl(path: Path, records: Sequence[dict[str, Any]]) -> None:
    from hashlearn._io import atomic_write

    text = "".join(json.dumps(_finite(r), allow_nan=False) + "\n" for r in records)
    atomic_write(path, lambda handle: handle.write(text.encode()))


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    from hashlearn._io import atomic_write

    text = json.dumps(_finite(payload), indent=2, allow_nan=False)
    atomic_write(path, lambda handle: handle.write(text.encode()))


def read_records(folder: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run description (``run.json``) and the records (``records.jsonl``) of a run."""
    folder = Path(folder)
    records_path = folder / RECORDS_NAME
    if not records_path.is_file():
        raise FileNotFoundError(f"no {RECORDS_NAME} in {folder}: run the search benchmark first")
    records = []
    for number, line in enumerate(records_path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ValueError(f"corrupt {records_path}, line {number}: {exc}") from exc
    run_path = folder / RUN_NAME
    run = json.loads(run_path.read_text()) if run_path.is_file() else {}
    return run, records


def passive_openmp() -> bool:
    """Ask OpenMP runtimes started from now on to sleep, not spin, between parallel regions.

    numba (threading layer ``omp``) and faiss each load their own OpenMP runtime. By
    default an idle OpenMP thread busy-waits for a while after each parallel region, so
    when calls of the two alternate on few cores, each runtime's spinning threads steal
    the cores the other needs (measured here: 2 cores, 64 queries on 2,000 codes, the
    median call went from 0.3 ms to 13 ms when interleaved). ``OMP_WAIT_POLICY=PASSIVE``
    removes that interference at the cost of a few microseconds per call. It only affects
    runtimes loaded after this call: call it before importing scikit-learn (which loads
    its OpenMP runtime on import, and numba's ``omp`` layer may share it), numba kernels
    or faiss. A value the user set is kept.

    Returns
    -------
    bool
        Whether ``OMP_WAIT_POLICY`` is now ``PASSIVE``.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return os.environ["OMP_WAIT_POLICY"].upper() == "PASSIVE"


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _set_threads(threads: int) -> Callable[[], None]:
    """Set numba's and faiss's thread counts; returns a function that restores them."""
    import numba

    pool = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    if threads > pool:
        raise ValueError(
            f"threads must be in [1, {pool}] (numba's pool, NUMBA_NUM_THREADS={pool}), "
            f"got {threads}"
        )
    previous_numba = numba.get_num_threads()
    numba.set_num_threads(threads)
    restore_faiss: Callable[[], None] = lambda: None  # noqa: E731
    try:
        import faiss

        previous_faiss = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(threads)
        restore_faiss = lambda: faiss.omp_set_num_threads(previous_faiss)  # noqa: E731
    except ImportError:
        pass

    def restore() -> None:
        numba.set_num_threads(previous_numba)
        restore_faiss()

    return restore


def run_search_benchmark(
    config: SearchBenchmarkConfig,
    out: str | Path | None = None,
    *,
    contenders: Sequence[Contender] | None = None,
    progress: bool | Callable[[str], None] = False,
) -> list[dict[str, Any]]:
    """Run the search benchmark; returns the records (and writes them under ``out``).

    Parameters
    ----------
    config : SearchBenchmarkConfig
    out : path, optional
        Folder for ``records.jsonl`` (rewritten atomically after every database, so an
        interrupted run keeps what it finished) and ``run.json`` (configuration, machine,
        versions, data sources, total time).
    contenders : sequence of Contender, optional
        Default :func:`default_contenders` (filtered by ``config.indexes``). The exact
        scan is always run first: it is the reference of the identity checks.
    progress : bool or callable
        Print one line per measurement (or pass each line to the callable).

    Returns
    -------
    list of dict
        One record per (data, n_bits, N, task, contender), skipped ones included with
        ``status`` and ``reason``.
    """
    if not isinstance(config, SearchBenchmarkConfig):
        raise TypeError(f"config must be a SearchBenchmarkConfig, got {type(config).__name__}")
    say = _reporter(progress)
    chosen = list(default_contenders() if contenders is None else contenders)
    if config.indexes is not None:
        names = {c.name for c in chosen}
        unknown = [name for name in config.indexes if name not in names]
        if unknown:
            raise ValueError(
                f"indexes: unknown name(s) {', '.join(unknown)}; "
                f"choose from {', '.join(sorted(names))}"
            )
        chosen = [c for c in chosen if c.name in config.indexes or c.name == "LinearScanIndex"]
    if not any(c.name == "LinearScanIndex" for c in chosen):
        chosen.insert(0, default_contenders()[0])
    chosen.sort(key=lambda c: c.name != "LinearScanIndex")  # the reference runs first

    folder = Path(out) if out is not None else None
    if folder is not None and folder.exists() and not folder.is_dir():
        raise ValueError(f"out must be a folder, but {folder} is a file")
    restore = _set_threads(config.threads)  # checks the thread count before any work
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    records: list[dict[str, Any]] = []
    budget = _Budget(config.max_seconds)
    from hashlearn.experiments.tutorial import environment, peak_memory_mib

    run: dict[str, Any] = {
        "protocol": "search-benchmark",
        "config": config.as_dict(),
        "environment": environment(),
        "threads": {"numba": config.threads, "faiss_omp": config.threads},
        "data": {},
        "contenders": [
            {"name": c.name, "family": c.family, "tasks": sorted(c.tasks)} for c in chosen
        ],
    }
    run["environment"]["cpu_model"] = cpu_model()
    run["environment"]["omp_wait_policy"] = os.environ.get("OMP_WAIT_POLICY")
    try:
        import faiss

        run["environment"]["faiss"] = faiss.__version__
    except ImportError:
        run["environment"]["faiss"] = None
    try:
        import numba

        run["environment"]["numba"] = numba.__version__
    except ImportError:  # pragma: no cover - numba is a dependency of the kernels
        pass
    try:
        features = None
        if "clustered" in config.data:
            features = _load_features(config, config.n_queries + 1)
            say(f"clustered data: {features.source}")
        n_cells = len(config.data) * len(config.bits) * len(config.sizes)
        cell = 0
        for kind in config.data:
            for n_bits in config.bits:
                data = _make_data(kind, n_bits, config, features)
                run["data"][kind] = data.description
                for n in config.sizes:
                    cell += 1
                    say(f"[{cell}/{n_cells}] {kind}, {n_bits} bits, N={n:,}")
                    records.extend(_run_cell(config, data, n, chosen, budget, say))
                    if folder is not None:
                        _write_jsonl(folder / RECORDS_NAME, records)
    finally:
        restore()
        run["total_seconds"] = time.perf_counter() - started
        run["peak_memory_mib"] = peak_memory_mib()
        run["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %z")
        run["n_records"] = len(records)
        if folder is not None:
            _write_jsonl(folder / RECORDS_NAME, records)
            _write_json(folder / RUN_NAME, run)
    return records


def _reporter(progress: bool | Callable[[str], None]) -> Callable[[str], None]:
    if callable(progress):
        return progress
    if progress:
        return lambda message: print(message, flush=True)
    return lambda message: None


def _run_cell(
    config: SearchBenchmarkConfig,
    data: _Data,
    n: int,
    contenders: Sequence[Contender],
    budget: _Budget,
    say: Callable[[str], None],
) -> list[dict[str, Any]]:
    """Build every contender on the first ``n`` codes, then time every task, interleaved."""
    database = np.ascontiguousarray(data.database[:n])
    n_bits = data.n_bits
    base = {
        "data": data.kind,
        "data_name": data.description["name"],
        "n": n,
        "n_bits": n_bits,
        "n_queries": int(data.queries.shape[0]),
        "threads": config.threads,
    }
    entries = [_Built(contender) for contender in contenders]
    for entry in entries:
        entry.error = entry.contender.unsupported(n_bits)
        if entry.error:
            entry.status = "skipped"
            say(f"  skip  {entry.contender.name:<28} {entry.error}")
    # Builds, round by round (each contender once per round) while they stay cheap.
    context: dict[str, Any] = {}
    for round_number in range(config.repeats):
        for entry in entries:
            if entry.error or (round_number and sum(entry.build_seconds) > 2.0):
                continue
            entry.index = None  # free the previous copy first
            try:
                seconds, index = _timed(
                    functools.partial(
                        entry.contender.build, database, n_bits, config.threads, context
                    ),
                    entry.warnings,
                )
            except Exception as exc:  # a broken contender is recorded, not fatal
                entry.error = f"build failed: {type(exc).__name__}: {exc}"
                entry.status = "error"
                say(f"  error {entry.contender.name:<28} {entry.error}")
                continue
            entry.index = index
            entry.build_seconds.append(seconds)
    for entry in entries:
        if entry.error is None:
            entry.memory_bytes, entry.memory_method = entry.contender.memory(entry.index)
            entry.queries = entry.contender.prepare_queries(data.queries)
            say(
                f"  built {entry.contender.name:<28} {min(entry.build_seconds):8.3f} s, "
                f"{entry.memory_bytes / n:7.2f} bytes/code"
            )

    tasks = [("knn", k) for k in config.ks] + [("range", r) for r in config.radii]
    records: list[dict[str, Any]] = []
    gc.collect()  # once per database: it takes ~0.1 s, never inside a timed call
    for task, value in tasks:
        records.extend(_run_task(config, data, database, task, value, entries, budget, base, say))
    _add_ratios(records)
    for entry in entries:
        entry.index = None
    return records


def _run_task(
    config: SearchBenchmarkConfig,
    data: _Data,
    database: np.ndarray,
    task: str,
    value: int,
    entries: list[_Built],
    budget: _Budget,
    base: dict[str, Any],
    say: Callable[[str], None],
) -> list[dict[str, Any]]:
    n, n_bits, n_queries = database.shape[0], data.n_bits, data.queries.shape[0]
    label = _task_key(task, value)
    rows: list[dict[str, Any]] = []
    active: list[tuple[_Built, dict[str, Any]]] = []
    for entry in entries:
        contender = entry.contender
        row: dict[str, Any] = {
            **base,
            "task": task,
            "k": value if task == "knn" else None,
            "radius": value if task == "range" else None,
            "index": contender.name,
            "family": contender.family,
            "exact": contender.exact,
            "matches": contender.matches.get(task),
        }
        rows.append(row)
        if task not in contender.tasks:
            row.update(status="skipped", reason=f"{contender.name} does not take part in {task}")
            continue
        if entry.error:
            row.update(status=entry.status, reason=entry.error)
            continue
        row.update(
            build_seconds=min(entry.build_seconds),
            build_seconds_all=entry.build_seconds,
            memory_bytes=entry.memory_bytes,
            bytes_per_code=None if entry.memory_bytes is None else entry.memory_bytes / n,
            memory_method=entry.memory_method,
        )
        key = (contender.name, data.kind, n_bits, task, value)
        smaller = [
            (contender.name, data.kind, n_bits, task, v)
            for v in (config.ks if task == "knn" else config.radii)
            if v < value
        ]
        reason = budget.reason(key, n, smaller)
        if reason:
            row.update(status="skipped", reason=reason)
            say(f"  {label:<10} {contender.name:<28} skipped: {reason}")
            continue
        try:
            contender.configure(entry.index, task, value)
        except Exception as exc:
            row.update(status="error", reason=f"configure failed: {type(exc).__name__}: {exc}")
            continue
        row["times"] = []
        row["warnings"] = list(entry.warnings)
        active.append((entry, row))

    for entry, row in active:  # untimed warm-up: compiles kernels, fills caches
        method = entry.contender.knn if task == "knn" else entry.contender.range
        with contextlib.suppress(Exception):  # the timed call below records any error
            _timed(
                functools.partial(method, entry.index, entry.queries[:1], value), row["warnings"]
            )
    exact: tuple[np.ndarray, ...] | None = None
    for round_number in range(config.repeats):
        for entry, row in list(active):
            contender = entry.contender
            queries = entry.queries
            contender.before_query(entry.index)
            method = contender.knn if task == "knn" else contender.range
            call = functools.partial(method, entry.index, queries, value)
            try:
                seconds, result = _timed(call, row["warnings"])
            except Exception as exc:
                row.update(status="error", reason=f"{type(exc).__name__}: {exc}")
                say(f"  {label:<10} {contender.name:<28} error: {row['reason']}")
                active.remove((entry, row))
                continue
            row["times"].append(seconds)
            if round_number == 0:
                row["candidates_per_query"] = contender.candidates(entry.index, task, n)
                row["probes_per_query"] = contender.probes(entry.index, task)
                row["params"] = contender.params(entry.index, task, value)
                exact = _check(
                    row, contender, task, value, result, exact, data.queries, database, config
                )
                budget.history[(contender.name, data.kind, n_bits, task, value)] = (n, seconds)
                if config.repeats > 1 and seconds > config.max_seconds / config.repeats:
                    row["note"] = (
                        f"timed once: the first call took {seconds:.1f} s "
                        "(more than max_seconds / repeats)"
                    )
                    active.remove((entry, row))
            del result
    for _, row in active:
        times = row["times"]
        best = min(times)
        row.update(
            status="ok",
            query_seconds=best,
            query_seconds_median=float(np.median(times)),
            repeats=len(times),
            queries_per_second=n_queries / best if best > 0 else None,
        )
    for row in rows:
        if row.get("times") and row.get("status") is None:  # timed once (see "note")
            best = min(row["times"])
            row.update(
                status="ok",
                query_seconds=best,
                query_seconds_median=best,
                repeats=1,
                queries_per_second=n_queries / best if best > 0 else None,
            )
        if not row.get("warnings"):
            row.pop("warnings", None)
        if row.get("status") == "ok":
            mark = "identical" if row.get("identical") else "NOT IDENTICAL"
            candidates = row.get("candidates_per_query")
            extra = f", {candidates:,.0f} candidates/query" if candidates is not None else ""
            say(
                f"  {label:<10} {row['index']:<28} {row['queries_per_second']:>12,.0f} "
                f"queries/s ({row['query_seconds']:.3f} s){extra}, {mark}"
            )
    return rows


def _check(
    row: dict[str, Any],
    contender: Contender,
    task: str,
    value: int,
    result: Any,
    exact: tuple[np.ndarray, ...] | None,
    queries: np.ndarray,
    database: np.ndarray,
    config: SearchBenchmarkConfig,
) -> tuple[np.ndarray, ...] | None:
    """Fill the identity fields of ``row``; returns the exact result (set by the scan)."""
    if contender.name == "LinearScanIndex":
        exact = tuple(np.asarray(a) for a in result)
        check = _reference_check(task, value, exact, queries, database, config.check_queries)
        row["identical"] = check["identical"]
        row["identity"] = {"against": "numpy reference", **check}
        row["recall"] = 1.0 if check["identical"] is not False else None
        if task == "range":
            row["results_per_query"] = float(exact[0][-1]) / max(1, queries.shape[0])
        return exact
    if exact is None:
        row["identical"] = None
        row["identity"] = {"against": None, "why": "the exact scan did not run"}
        return exact
    if task == "knn":
        check = compare_knn(
            result[0],
            result[1],
            exact[0],
            exact[1],
            queries,
            database,
            tie_rule=contender.tie_rule,
        )
        row["recall"] = _recall_knn(np.asarray(result[1]), exact[1])
    else:
        check = compare_range(result[0], result[1], result[2], exact, tie_rule=contender.tie_rule)
        row["recall"] = _recall_range(np.asarray(result[0]), np.asarray(result[2]), exact)
        row["results_per_query"] = float(exact[0][-1]) / max(1, queries.shape[0])
    row["identical"] = check["identical"]
    row["identity"] = {
        "against": "LinearScanIndex",
        "rule": "(distance, id) order" if contender.tie_rule else "faiss: ties in any order",
        **check,
    }
    return exact


def _add_ratios(records: list[dict[str, Any]]) -> None:
    """Ratios of queries/s to the matching faiss index and to the exact scan, per task."""
    groups: dict[tuple[Any, ...], dict[str, dict[str, Any]]] = {}
    for row in records:
        key = (row["task"], row["k"], row["radius"])
        groups.setdefault(key, {})[row["index"]] = row
    for group in groups.values():
        scan = group.get("LinearScanIndex", {}).get("queries_per_second")
        for row in group.values():
            qps = row.get("queries_per_second")
            match = row.get("matches")
            theirs = group.get(match, {}).get("queries_per_second") if match else None
            row["ratio_to_faiss"] = qps / theirs if qps and theirs else None
            row["ratio_to_linear_scan"] = (
                qps / scan if qps and scan and row["index"] != "LinearScanIndex" else None
            )

"""The contenders: every index under test, how each is built, set and queried.

* hashlearn: :class:`~hashlearn.index.LinearScanIndex`, :class:`~hashlearn.index.
  HashTableIndex` (``n_bits <= 64``), ``MultiTableIndex`` and ``MultiIndexHashing`` (when
  their modules exist), and the hashlearn wrappers of faiss (``FaissBinaryFlat``,
  ``FaissBinaryHash``, ``FaissBinaryMultiHash``, when present);
* raw faiss, called directly: ``IndexBinaryFlat`` (k-NN and range), ``IndexBinaryHash``
  (range) and ``IndexBinaryMultiHash`` (range).

The multi-table structures share one layout: ``MultiIndexHashing`` picks its substring
count ``m`` (``round(n_bits / log2 N)``; substrings covering every bit, lengths differing
by at most one), and ``MultiTableIndex``, faiss's ``IndexBinaryMultiHash`` and the
wrapper get ``m`` disjoint tables of ``n_bits // m`` bits; ``MultiTableIndex`` is made
exact (``grow="exact"`` for k-NN, the pigeonhole probe radius for range search).

Radius search with ``IndexBinaryHash(d, b)`` (``b = min(n_bits, 63)``, the code's first
``b`` bits; faiss's key mask is undefined for ``b = 64``) is exact with ``nflip = r``;
with ``IndexBinaryMultiHash(d, nhash, b)`` it is exact with ``nflip = r // nhash``
(pigeonhole over ``nhash`` disjoint substrings). Both are set that way, and their k-NN
(exact only when ``nflip`` reaches the ``k``-th neighbour) is not measured. So every
contender is expected to be exact: a record with ``identical: false`` is a bug (or an
approximate index, which says so in ``exact``).

Memory: hashlearn indexes hold the bytes of every numpy array the index object holds
(found by walking its attributes; arrays sharing one buffer counted once; the statistics
of the last query excluded). faiss: the size of ``faiss.serialize_index_binary(index)``,
which counts the codes, ids and bucket keys but not the hash map's node overhead, so it
understates the memory of the hash indexes somewhat. The hashlearn wrappers of faiss:
that size plus the copy of the codes the wrapper keeps.

Every hashlearn constructor argument and index attribute the benchmark names is in the
last section of this module ("How each index is built and set"), so that a renamed
parameter is changed in one place.
"""

from __future__ import annotations

import importlib
import inspect
import math
import numbers
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

__all__ = [
    "MAX_FAISS_KEY_BITS",
    "Contender",
    "FaissContender",
    "HashlearnContender",
    "default_contenders",
    "multihash_substrings",
]


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
        for attribute in RECORDED_PARAMETERS:
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


# -- How each index is built and set ----------------------------------------------------------
# Every hashlearn constructor argument and index attribute named by the benchmark is below
# (raw faiss's own attributes, b / nhash / nflip of faiss.IndexBinary*Hash, are in
# FaissContender), except the statistics read by HashlearnContender (last_stats_,
# last_probe_) and the faiss wrappers' faiss_index and codes (HashlearnContender.memory).

#: Index attributes recorded in each measurement's ``params`` (those the index has).
RECORDED_PARAMETERS = (
    "n_tables_",
    "n_tables",
    "bits_per_table",
    "probe_radius",
    "grow",
)


def _publish_substrings(index: Any, context: dict[str, Any]) -> None:
    """Share MultiIndexHashing's table count, so the other multi-table structures
    (built after it on the same database) use the same layout."""
    for attribute in ("n_tables_", "n_tables"):
        value = getattr(index, attribute, None)
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            context["n_tables"] = int(value)
            return


def _set_probe_radius(per_table: bool) -> Callable[[Any, str, int], None]:
    """Make the hashlearn faiss wrappers' range search exact: probe up to ``radius`` flips
    (``FaissBinaryHash``), or ``radius // n_tables`` per table (``FaissBinaryMultiHash``)."""

    def configure(index: Any, task: str, value: int) -> None:
        if task == "range":
            index.probe_radius = value // index.n_tables if per_table else value

    return configure


def _substrings(n_bits: int, n: int, context: dict[str, Any]) -> int:
    """The shared table count: MultiIndexHashing's, else its formula; every table fits a key."""
    n_tables = context.get("n_tables") or multihash_substrings(n_bits, n)
    return max(int(n_tables), -(-n_bits // MAX_FAISS_KEY_BITS))


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
    """``FaissBinaryHash`` keyed on the first ``min(n_bits, 63)`` bits, as raw faiss."""
    return {"bits_per_table": min(n_bits, MAX_FAISS_KEY_BITS)}


def _multihash_wrapper_kwargs(n_bits: int, n: int, context: dict[str, Any]) -> dict[str, Any]:
    """``FaissBinaryMultiHash`` with the shared layout: ``m`` tables of ``n_bits // m`` bits."""
    n_tables = _substrings(n_bits, n, context)
    return {"n_tables": n_tables, "bits_per_table": n_bits // n_tables}


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
            configure=_set_probe_radius(per_table=False),
            tasks=("range",),
        ),
        HashlearnContender(
            "FaissBinaryMultiHash",
            backend,
            "FaissBinaryMultiHash",
            matches={"range": multihash},
            family="faiss-wrapper",
            kwargs=_multihash_wrapper_kwargs,
            configure=_set_probe_radius(per_table=True),
            tasks=("range",),
        ),
    ]

"""Measurements of one fitted hasher for a record: memory, times, code statistics,
hash-table lookups within a radius, and the warnings its fit and its evaluation raised."""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np

from hashlearn import codes as codes_module
from hashlearn._environment import peak_memory_mib

__all__ = ["PeakMemory", "code_statistics", "radius_search", "timer", "warning_summary"]


def _rss_mib() -> float | None:
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakMemory:
    """Peak resident memory while a block runs, sampled every 5 ms by a thread (Linux).

    Elsewhere the process's lifetime peak (``getrusage``) is reported instead.
    """

    def __init__(self) -> None:
        self.peak: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while not self._stop.is_set():
            value = _rss_mib()
            if value is not None and (self.peak is None or value > self.peak):
                self.peak = value
            self._stop.wait(0.005)

    def __enter__(self) -> PeakMemory:
        if _rss_mib() is None:
            return self
        self.peak = _rss_mib()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            value = _rss_mib()
            if value is not None and self.peak is not None:
                self.peak = max(self.peak, value)
        else:
            self.peak = peak_memory_mib()


@contextmanager
def timer(times: dict[str, float], key: str) -> Iterator[None]:
    """Store the seconds the block took in ``times[key]``."""
    start = time.perf_counter()
    yield
    times[key] = time.perf_counter() - start


def _bucket_statistics(database_codes: np.ndarray) -> dict[str, Any]:
    """Occupancy of the buckets a hash table keyed by the whole code would have."""
    if database_codes.shape[0] == 0:
        return {"n_buckets": 0}
    rows = np.ascontiguousarray(database_codes)
    keys = rows.view(np.dtype((np.void, rows.shape[1]))).ravel()
    _, counts = np.unique(keys, return_counts=True)
    edges = 2 ** np.arange(0, int(np.log2(counts.max())) + 2)
    histogram, _ = np.histogram(counts, bins=edges)
    return {
        "n_buckets": int(counts.size),
        "bucket_occupancy": {
            "max": int(counts.max()),
            "mean": float(counts.mean()),
            "median": float(np.median(counts)),
            "singleton_fraction": float((counts == 1).mean()),
        },
        "occupancy_histogram": {
            "size": edges[:-1].astype(int).tolist(),
            "count": histogram.astype(int).tolist(),
        },
    }


def code_statistics(database_codes: np.ndarray, n_bits: int) -> dict[str, Any]:
    """Bit balance, constant bits, bit correlation and bucket occupancy of the database codes."""
    balance = codes_module.bit_balance(database_codes, n_bits)
    stats = codes_module.code_statistics(database_codes, n_bits)
    return {
        "bit_balance": balance.tolist(),
        "balance_error": float(np.abs(balance - 0.5).mean()),
        "n_constant_bits": int(stats["n_constant_bits"]),
        "mean_abs_correlation": _none_if_nan(stats["mean_abs_correlation"]),
        **_bucket_statistics(database_codes),
    }


_RADIUS_QUERIES = 1000


def radius_search(
    database_codes: np.ndarray,
    query_codes: np.ndarray,
    n_bits: int,
    max_radius: int,
    precision: Mapping[str, Any],
) -> dict[str, Any] | None:
    """Time hash-table lookups within each radius (codes of at most 64 bits).

    At most ``_RADIUS_QUERIES`` queries (evenly spaced over the query set) are timed: the
    results of a wide radius over 10,000 queries would take gigabytes, and the time per
    query is what is measured (precision per radius comes from the evaluation of every
    query).
    """
    from hashlearn.index import HashTableIndex
    from hashlearn.index.hash_table import ProbeCostWarning

    if n_bits > 64:
        return None
    if query_codes.shape[0] > _RADIUS_QUERIES:
        chosen = np.linspace(0, query_codes.shape[0] - 1, _RADIUS_QUERIES).astype(np.int64)
        query_codes = query_codes[chosen]
    table = HashTableIndex(n_bits)
    table.add(database_codes)
    radii = list(range(min(max_radius, n_bits) + 1))
    query_ms, candidates = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProbeCostWarning)
        for radius in radii:
            table.range_search(query_codes[:1], radius)  # load the compiled kernels
            start = time.perf_counter()
            lims, _, _ = table.range_search(query_codes, radius)
            elapsed = time.perf_counter() - start
            query_ms.append(1e3 * elapsed / max(query_codes.shape[0], 1))
            candidates.append(float(np.diff(lims).mean()) if query_codes.shape[0] else 0.0)
    within = [precision.get(str(r)) for r in radii]
    return {
        "radius": radii,
        "n_queries_timed": int(query_codes.shape[0]),
        "precision": [None if w is None else w["value"] for w in within],
        "empty_fraction": [None if w is None else w["empty_fraction"] for w in within],
        "mean_candidates": candidates,
        "query_ms": query_ms,
    }


#: At most this many distinct warnings of one kind (fit, evaluation) are kept per record.
_MAX_WARNINGS = 10


def warning_summary(caught: list[warnings.WarningMessage]) -> list[dict[str, Any]]:
    """Distinct warnings, in the order first raised, with how often each was raised.

    The records keep what fitting raised (``fit_warnings``) and what evaluating raised
    (``evaluation_warnings``): a ``ConvergenceWarning`` or a ``SortedLabelsWarning`` says
    something about the number next to it, so it belongs in the record and the report
    rather than repeated on the terminal by every record.
    """
    counts: dict[tuple[str, str], int] = {}
    for message in caught:
        key = (message.category.__name__, str(message.message)[:500])
        counts[key] = counts.get(key, 0) + 1
    return [
        {"category": category, "message": text, "count": count}
        for (category, text), count in list(counts.items())[:_MAX_WARNINGS]
    ]


def _none_if_nan(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None

"""Timing and the run loop: every contender on every (data, bits, N, task), records written.

Each record holds queries per second (best of ``repeats`` timed calls after one untimed
single-query warm-up, the calls of all contenders interleaved round by round; a first
call longer than ``max_seconds / repeats`` is not repeated), the build time (``add``
plus one single-query search, so that structures built on first use count; best of up to
``repeats`` builds while they take under 2 s in all), bytes per code (memory the index
holds / ``N``), the candidates examined per query where the index reports them (``N`` for
the scans), the ratio to the matching faiss index (``queries/s of hashlearn / queries/s of
faiss``: above 1 means hashlearn is faster) and to the exact scan, and whether the results
are **identical** to the exact scan (:mod:`benchmarks.search.identity`). Threads:
``threads`` for numba and for faiss's OpenMP (see :func:`passive_openmp` for the wait
policy).

Skipped measurements are recorded with their reason, never dropped silently: an index
that does not support a code length (``HashTableIndex`` above 64 bits, faiss for lengths
that are not whole bytes), a module not installed yet, or a call projected to exceed
``max_seconds`` (from its time at the previous size, scaled linearly in ``N``).

The run folder's files are written through :mod:`hashlearn._io` and read back with
:func:`hashlearn.records.read_search_records`.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hashlearn._environment import environment, peak_memory_mib
from hashlearn._io import write_json, write_jsonl
from hashlearn._progress import Progress, progress_printer
from hashlearn.records import RECORDS_NAME, RUN_NAME, SEARCH_PROTOCOL

from .._common import cpu_model
from .config import SearchBenchmarkConfig
from .contenders import Contender, default_contenders
from .data import Data, load_features, make_data
from .identity import fill_identity

__all__ = ["passive_openmp", "run_search_benchmark"]

Say = Callable[[str], None]


@dataclass
class _Built:
    """One contender's index on the current database, and what building it showed."""

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
        """Why the call ``key`` at size ``n`` is skipped (None: it runs).

        Projected from the same call at a smaller size, or from the calls of smaller
        ``k`` / radius (``larger``'s keys) measured at this or a smaller size.
        """
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


def _choose(
    config: SearchBenchmarkConfig, contenders: Sequence[Contender] | None
) -> list[Contender]:
    """The contenders to run (``config.indexes``), the exact scan always first."""
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
    return chosen


def _describe_run(config: SearchBenchmarkConfig, chosen: Sequence[Contender]) -> dict[str, Any]:
    """The start of ``run.json``: configuration, machine, versions, contenders."""
    run: dict[str, Any] = {
        "protocol": SEARCH_PROTOCOL,
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
    return run


def run_search_benchmark(
    config: SearchBenchmarkConfig,
    out: str | Path | None = None,
    *,
    contenders: Sequence[Contender] | None = None,
    progress: Progress = False,
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
        Default :func:`~benchmarks.search.contenders.default_contenders` (filtered by
        ``config.indexes``). The exact scan is always run first: it is the reference of
        the identity checks.
    progress : bool or callable
        Show one line per measurement on standard error (or pass each line to the callable).

    Returns
    -------
    list of dict
        One record per (data, n_bits, N, task, contender), skipped ones included with
        ``status`` and ``reason``.
    """
    if not isinstance(config, SearchBenchmarkConfig):
        raise TypeError(f"config must be a SearchBenchmarkConfig, got {type(config).__name__}")
    say = progress_printer(progress)
    chosen = _choose(config, contenders)
    folder = Path(out) if out is not None else None
    if folder is not None and folder.exists() and not folder.is_dir():
        raise ValueError(f"out must be a folder, but {folder} is a file")
    restore = _set_threads(config.threads)  # checks the thread count before any work
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    records: list[dict[str, Any]] = []
    budget = _Budget(config.max_seconds)
    run = _describe_run(config, chosen)
    try:
        features = None
        if "clustered" in config.data:
            features = load_features(config, config.n_queries + 1)
            say(f"clustered data: {features.source}")
        n_cells = len(config.data) * len(config.bits) * len(config.sizes)
        cell = 0
        for kind in config.data:
            for n_bits in config.bits:
                data = make_data(kind, n_bits, config, features)
                run["data"][kind] = data.description
                for n in config.sizes:
                    cell += 1
                    say(f"[{cell}/{n_cells}] {kind}, {n_bits} bits, N={n:,}")
                    records.extend(_run_cell(config, data, n, chosen, budget, say))
                    if folder is not None:
                        write_jsonl(folder / RECORDS_NAME, records)
    finally:
        restore()
        run["total_seconds"] = time.perf_counter() - started
        run["peak_memory_mib"] = peak_memory_mib()
        run["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %z")
        run["n_records"] = len(records)
        if folder is not None:
            write_jsonl(folder / RECORDS_NAME, records)
            write_json(folder / RUN_NAME, run)
    return records


def _build_all(
    config: SearchBenchmarkConfig,
    database: np.ndarray,
    n_bits: int,
    entries: list[_Built],
    say: Say,
) -> None:
    """Build every contender, round by round (each once per round) while builds stay cheap."""
    context: dict[str, Any] = {}  # shared by one database's builds (see Contender.build)
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


def _run_cell(
    config: SearchBenchmarkConfig,
    data: Data,
    n: int,
    contenders: Sequence[Contender],
    budget: _Budget,
    say: Say,
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
    _build_all(config, database, n_bits, entries, say)
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
    data: Data,
    database: np.ndarray,
    task: str,
    value: int,
    entries: list[_Built],
    budget: _Budget,
    base: dict[str, Any],
    say: Say,
) -> list[dict[str, Any]]:
    """One task (``k`` or radius ``value``) on one database: a record per contender."""
    rows, active = _task_rows(config, data, database, task, value, entries, budget, base, say)
    for entry, row in active:  # untimed warm-up: compiles kernels, fills caches
        method = entry.contender.knn if task == "knn" else entry.contender.range
        with contextlib.suppress(Exception):  # the timed call below records any error
            _timed(
                functools.partial(method, entry.index, entry.queries[:1], value), row["warnings"]
            )
    _time_rounds(config, data, database, task, value, active, budget, say)
    _finish_rows(rows, active, int(data.queries.shape[0]), _task_key(task, value), say)
    return rows


def _task_rows(
    config: SearchBenchmarkConfig,
    data: Data,
    database: np.ndarray,
    task: str,
    value: int,
    entries: list[_Built],
    budget: _Budget,
    base: dict[str, Any],
    say: Say,
) -> tuple[list[dict[str, Any]], list[tuple[_Built, dict[str, Any]]]]:
    """Every contender's record for this task, and the (contender, record) pairs to time.

    Contenders that do not take part, failed to build or are projected too slow get their
    ``status`` and ``reason`` here; the others are configured for the task.
    """
    n, n_bits = database.shape[0], data.n_bits
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
    return rows, active


def _time_rounds(
    config: SearchBenchmarkConfig,
    data: Data,
    database: np.ndarray,
    task: str,
    value: int,
    active: list[tuple[_Built, dict[str, Any]]],
    budget: _Budget,
    say: Say,
) -> None:
    """The timed calls, contenders interleaved round by round; results checked in round 0.

    A contender whose call fails, or whose first call is too slow to repeat, leaves
    ``active`` (the caller's list, changed in place).
    """
    n, n_bits = database.shape[0], data.n_bits
    label = _task_key(task, value)
    exact: tuple[np.ndarray, ...] | None = None
    for round_number in range(config.repeats):
        for entry, row in list(active):
            contender = entry.contender
            contender.before_query(entry.index)
            method = contender.knn if task == "knn" else contender.range
            call = functools.partial(method, entry.index, entry.queries, value)
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
                exact = fill_identity(
                    row,
                    contender,
                    task,
                    value,
                    result,
                    exact,
                    data.queries,
                    database,
                    config.check_queries,
                )
                budget.history[(contender.name, data.kind, n_bits, task, value)] = (n, seconds)
                if config.repeats > 1 and seconds > config.max_seconds / config.repeats:
                    row["note"] = (
                        f"timed once: the first call took {seconds:.1f} s "
                        "(more than max_seconds / repeats)"
                    )
                    active.remove((entry, row))
            del result


def _finish_rows(
    rows: list[dict[str, Any]],
    active: list[tuple[_Built, dict[str, Any]]],
    n_queries: int,
    label: str,
    say: Say,
) -> None:
    """Best and median times and queries/s of the measured records, one progress line each."""
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

"""The load clients, and what one row of a run measures.

A row is ``clients`` threads, each with one keep-alive :class:`http.client.HTTPConnection`
(opened before the clock starts), sending the workload's requests back to back for
``seconds``, in slices between which the benchmark times the same work in process (the
clients wait then, and that time is not counted). Each client starts at its own place in
the list of bodies, so concurrent clients ask different queries. A request counts as an
**error** when it raises (the connection is then reopened) or answers anything but 200.
Every ``check_every``-th answer of each client (its first included) is parsed and
compared with the in-process answer: a **mismatch** is an answer whose result ids differ.

Throughput is what completed divided by the wall time of the slices, each from its start
signal until the last client finished its last request (which may run past the slice).
Beside it, the CPU seconds the server process and this (client) process used during the
slices, as a percentage of their wall time: a server near 100 % is bound by its one
Python process (threads the index's compiled kernels start can take it past 100 %).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from .server import cpu_seconds
from .workload import Workload

__all__ = ["run_row"]

MAX_EXAMPLES = 5


@dataclass
class _Tally:
    """What one client saw."""

    latencies: list[float] = field(default_factory=list)
    sent: int = 0
    ok: int = 0
    errors: int = 0
    examples: list[str] = field(default_factory=list)
    checked: int = 0
    mismatches: int = 0

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(what[:300])


@dataclass
class _Start:
    """The start signal: every client waits at ``barrier``; ``deadline`` is set before."""

    barrier: threading.Barrier
    deadline: float = 0.0


def _check(tally: _Tally, data: bytes, expected: list[list[int]]) -> None:
    tally.checked += 1
    try:
        results = json.loads(data)["results"]
        same = [row["ids"] for row in results] == expected
    except (ValueError, KeyError, TypeError):
        same = False
    if not same:
        tally.mismatches += 1


def _client(
    address: tuple[str, int],
    path: str,
    workload: Workload,
    first: int,
    start: _Start,
    tally: _Tally,
    check_every: int,
) -> None:
    """Send requests until the deadline, tallying latencies, errors and checked answers."""
    headers = {"Content-Type": "application/json"}
    connection = http.client.HTTPConnection(*address, timeout=60)
    try:
        connection.connect()
    except OSError as exc:
        tally.error(f"connect: {exc!r}")
    start.barrier.wait()
    n_bodies = len(workload.bodies)
    while time.perf_counter() < start.deadline:
        which = (first + tally.sent) % n_bodies
        began = time.perf_counter()
        try:
            connection.request("POST", path, workload.bodies[which], headers)
            answer = connection.getresponse()
            data = answer.read()
        except (OSError, http.client.HTTPException) as exc:
            tally.error(f"{type(exc).__name__}: {exc}")
            connection.close()
            connection = http.client.HTTPConnection(*address, timeout=60)
            tally.sent += 1
            continue
        tally.latencies.append(time.perf_counter() - began)
        if answer.status != 200:
            tally.error(f"HTTP {answer.status}: {data[:200].decode(errors='replace')}")
        else:
            tally.ok += 1
            if tally.sent % check_every == 0:
                _check(tally, data, workload.expected[which])
        tally.sent += 1
    connection.close()


def _percentiles_ms(latencies: list[float]) -> dict[str, float | None]:
    if not latencies:
        return {"p50": None, "p90": None, "p99": None, "max": None, "mean": None}
    values = np.asarray(latencies) * 1e3
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return {
        "p50": round(float(p50), 3),
        "p90": round(float(p90), 3),
        "p99": round(float(p99), 3),
        "max": round(float(values.max()), 3),
        "mean": round(float(values.mean()), 3),
    }


def _slice(
    address: tuple[str, int],
    path: str,
    workload: Workload,
    tallies: list[_Tally],
    seconds: float,
    check_every: int,
) -> float:
    """One stretch of load: a thread per tally, all started at once; returns wall seconds."""
    clients = len(tallies)
    start = _Start(threading.Barrier(clients + 1))
    stride = max(len(workload.bodies) // clients, 1)
    threads = [
        threading.Thread(
            target=_client,
            args=(address, path, workload, i * stride, start, tally, check_every),
            name=f"load-client-{i}",
            daemon=True,
        )
        for i, tally in enumerate(tallies)
    ]
    for thread in threads:
        thread.start()
    start.deadline = time.perf_counter() + seconds
    began = time.perf_counter()
    start.barrier.wait()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began


def run_row(
    url: str,
    bundle: str,
    workload: Workload,
    *,
    clients: int,
    seconds: float,
    slices: int = 1,
    between: Callable[[], None] | None = None,
    server_pid: int | None = None,
    check_every: int = 50,
) -> dict[str, Any]:
    """Load the server with ``clients`` concurrent clients for ``seconds``; one row's record.

    The load runs in ``slices`` equal stretches with ``between()`` called after each (the
    benchmark times the in-process work there, so that both see the same background load;
    the clients are idle meanwhile and that time is not counted). ``check_every`` >= 1:
    every how many answers of a client one is checked against the in-process answer.
    """
    parts = urlsplit(url)
    address = (parts.hostname or "127.0.0.1", parts.port or 80)
    path = f"/api/v1/bundles/{bundle}/search"
    tallies = [_Tally() for _ in range(clients)]
    elapsed = client_cpu = 0.0
    server_cpu: float | None = 0.0
    for _ in range(slices):
        server_before = cpu_seconds(server_pid) if server_pid is not None else None
        client_before = time.process_time()
        elapsed += _slice(address, path, workload, tallies, seconds / slices, check_every)
        client_cpu += time.process_time() - client_before
        server_after = cpu_seconds(server_pid) if server_pid is not None else None
        if server_cpu is not None and server_before is not None and server_after is not None:
            server_cpu += server_after - server_before
        else:
            server_cpu = None
        if between is not None:
            between()

    latencies = [value for tally in tallies for value in tally.latencies]  # every answer
    errors = sum(tally.errors for tally in tallies)
    requests = sum(tally.ok for tally in tallies)  # answered 200
    return {
        "query": workload.kind,
        "per_request": workload.per_request,
        "k": workload.k,
        "clients": clients,
        "seconds": seconds,
        "slices": slices,
        "elapsed_s": round(elapsed, 4),
        "requests": requests,
        "queries": requests * workload.per_request,
        "requests_per_second": round(requests / elapsed, 1),
        "queries_per_second": round(requests * workload.per_request / elapsed, 1),
        "latency_ms": _percentiles_ms(latencies),
        "errors": errors,
        "error_examples": [example for tally in tallies for example in tally.examples][
            :MAX_EXAMPLES
        ],
        "checked": sum(tally.checked for tally in tallies),
        "mismatches": sum(tally.mismatches for tally in tallies),
        "server_cpu_percent": None if server_cpu is None else round(100 * server_cpu / elapsed, 1),
        "client_cpu_percent": round(100 * client_cpu / elapsed, 1),
    }

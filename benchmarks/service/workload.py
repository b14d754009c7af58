"""The queries of a load run, their request bodies, and the same work timed in process.

Every row of a run draws on one seeded set of stored item ids. A *workload* is those ids
cut into requests of ``per_request`` queries: by stored id (``{"ids": [...], "k": k}``),
or by vector (the same items' stored vectors, ``{"vectors": [[...], ...], "k": k}``, as
a client holding float32 features would send them). The in-process timings run exactly
the parsed bodies the server receives, so the throughputs compare like with like
(:class:`InProcess`):

* ``service``: :meth:`BundleService.queries` then :meth:`BundleService.search`, as the
  search route calls them (stored-id queries leave themselves out of their results);
* ``index``: the bare ``index.search`` on codes prepared beforehand (for vector queries,
  ``hasher.encode`` and then ``index.search``), the cost floor of the same answers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["InProcess", "Workload", "make_workload", "query_ids", "service_call"]

QUERY_KINDS = ("ids", "vectors")


@dataclass(frozen=True)
class Workload:
    """The requests of one kind of row, with the answer the service must give to each.

    Attributes
    ----------
    kind : str
        ``"ids"`` or ``"vectors"``.
    per_request : int
        Queries per request.
    k : int
    bodies : tuple of bytes
        The JSON request bodies.
    payloads : tuple of dict
        The same bodies parsed (what the server's schema hands the engine).
    expected : tuple of list of list of int
        Per body, the result ids of each query as the in-process service returns them.
    """

    kind: str
    per_request: int
    k: int
    bodies: tuple[bytes, ...]
    payloads: tuple[dict[str, Any], ...]
    expected: tuple[list[list[int]], ...]

    @property
    def name(self) -> str:
        """``"ids x1"``, ``"ids x100"``, ``"vectors x100"``: what a table row is."""
        return f"{self.kind} x{self.per_request}"


def query_ids(n_items: int, n_queries: int, seed: int) -> np.ndarray:
    """``n_queries`` distinct stored ids (all of them when there are fewer), seeded."""
    rng = np.random.default_rng(seed)
    return rng.permutation(n_items)[: min(n_queries, n_items)].astype(np.int64)


def _chunks(ids: np.ndarray, per_request: int) -> list[np.ndarray]:
    """``ids`` cut into requests of ``per_request``, wrapping round to fill the last one."""
    n_requests = -(-ids.size // per_request)
    positions = np.arange(n_requests * per_request) % ids.size
    return [ids[positions[i : i + per_request]] for i in range(0, positions.size, per_request)]


def service_call(service: Any, payload: dict[str, Any], k: int) -> list[Any]:
    """What the search route does with a parsed body: resolve the queries, then search."""
    codes, vectors, ids = service.queries(ids=payload.get("ids"), vectors=payload.get("vectors"))
    return list(service.search(codes, k=k, self_ids=ids, query_vectors=vectors))


def make_workload(
    service: Any, ids: np.ndarray, *, kind: str, per_request: int, k: int
) -> Workload:
    """The requests of ``ids`` by stored id or by vector, and their expected answers.

    Raises
    ------
    ValueError
        For an unknown ``kind``, or vector queries on a bundle kept without vectors.
    """
    if kind not in QUERY_KINDS:
        raise ValueError(f"kind must be one of {QUERY_KINDS}, got {kind!r}")
    vectors = service.bundle.vectors
    if kind == "vectors" and vectors is None:
        raise ValueError(
            f"bundle {service.name!r} keeps no vectors (built with --no-vectors): "
            "there is no vector row"
        )
    bodies = []
    for chunk in _chunks(ids, per_request):
        if kind == "ids":
            body: dict[str, Any] = {"ids": chunk.tolist(), "k": k}
        else:
            # float32 rows as a client would send them: numpy's tolist (float64 values).
            body = {"vectors": np.asarray(vectors[chunk]).tolist(), "k": k}
        bodies.append(json.dumps(body, separators=(",", ":")).encode())
    payloads = tuple(json.loads(body) for body in bodies)
    expected = tuple(
        [result.ids for result in service_call(service, payload, k)] for payload in payloads
    )
    return Workload(kind, per_request, k, tuple(bodies), payloads, expected)


class InProcess:
    """The workload's bodies timed in this process, in slices that accumulate.

    Two ways, each single-threaded (the engine holds one lock per bundle around the
    index, so more threads would not search faster): ``"service"``, the engine as the
    search route calls it, and ``"index"``, the bare index on codes prepared beforehand
    (for vector queries, ``hasher.encode`` then ``index.search``). Each call of
    :meth:`run` times both for ``seconds`` each, going on round the bodies where the last
    call stopped, so that slices interleaved with the load rows add up to one timing.
    """

    def __init__(self, service: Any, workload: Workload) -> None:
        self.workload = workload
        index = service.bundle.index
        hasher = service.bundle.hasher
        k = workload.k
        payloads: Sequence[dict[str, Any]] = workload.payloads
        if workload.kind == "ids":
            id_arrays = [np.asarray(p["ids"], dtype=np.int64) for p in payloads]
            codes = [np.asarray(index.codes[ids]) for ids in id_arrays]

            def bare(i: int) -> Any:
                return index.search(codes[i], k + 1)  # + 1: the query itself is dropped

        else:
            arrays = [np.asarray(p["vectors"], dtype=np.float64) for p in payloads]

            def bare(i: int) -> Any:
                return index.search(np.asarray(hasher.encode(arrays[i])), k)

        self._calls: dict[str, Callable[[int], Any]] = {
            "service": lambda i: service_call(service, payloads[i], k),
            "index": bare,
        }
        self._done = dict.fromkeys(self._calls, 0)
        self._elapsed = dict.fromkeys(self._calls, 0.0)
        for call in self._calls.values():
            call(0)  # warm-up: compiled kernels, caches

    def run(self, seconds: float) -> None:
        """Time each way for ``seconds`` (at least one call each)."""
        n_bodies = len(self.workload.payloads)
        for name, call in self._calls.items():
            done = self._done[name]
            start = time.perf_counter()
            while True:
                call(done % n_bodies)
                done += 1
                elapsed = time.perf_counter() - start
                if elapsed >= seconds:
                    break
            self._done[name] = done
            self._elapsed[name] += elapsed

    def summary(self) -> dict[str, dict[str, float]]:
        """Per way: calls, seconds, queries/s and milliseconds per call so far."""
        out = {}
        for name, calls in self._done.items():
            elapsed = self._elapsed[name]
            out[name] = {
                "calls": calls,
                "elapsed_s": round(elapsed, 4),
                "queries_per_second": round(calls * self.workload.per_request / elapsed, 1)
                if elapsed
                else 0.0,
                "ms_per_call": round(1e3 * elapsed / calls, 4) if calls else 0.0,
            }
        return out

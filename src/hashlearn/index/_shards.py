"""The shards of a :class:`~hashlearn.index.ShardedIndex`: what runs on the Dask workers,
and the client-side store that holds the shards' futures, searches them and merges.

Shard ``s`` holds the codes with global ids ``offsets[s] .. offsets[s] + sizes[s] - 1``;
see :mod:`hashlearn.index.sharded` for how a search is fanned out and merged. A shard
whose worker died (and which the cluster cannot recompute) is *lost*: the store reports
it and every operation that needs it raises :class:`ShardLostError`. A shard with lineage
(opened from an index folder, or built from a dask array) is recomputed by the scheduler
on another worker instead, and a search that lost tasks with its worker is run again,
within the timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from hashlearn.codes import n_bytes
from hashlearn.index._base import BinaryIndex, RangeResultLimitError

if TYPE_CHECKING:
    import distributed

__all__ = ["IndexFactory", "ShardLostError"]

# Queries larger than this are scattered to the cluster once instead of being embedded in
# every per-shard task.
_SCATTER_BYTES = 2**20
# How many group results one merge task on the workers combines (the client merges the
# last ones).
_MERGE_FAN_IN = 8

IndexFactory = Callable[[int], BinaryIndex]

# Future states of a shard the cluster no longer holds and will not recompute. A shard
# with lineage in state "lost" is being recomputed (the scheduler reruns its task) and
# is not lost; "cancelled" and "error" are final for every shard.
_LOST_STATES = frozenset({"cancelled", "lost", "error"})
_FINAL_STATES = frozenset({"cancelled", "error"})
# How many times a search is submitted again after a worker died under it (each attempt
# also within the timeout); Dask itself reruns a task up to ``allowed-failures`` times.
_SEARCH_ATTEMPTS = 3


class ShardLostError(RuntimeError):
    """Shards of a :class:`~hashlearn.index.ShardedIndex` are gone from the cluster.

    Raised by every operation that needs them (``search``, ``range_search``, ``add``,
    ``codes``, ``save``, ``rebalance``) once a worker holding them died and the cluster
    could not recompute them. ``lost`` lists ``(shard, first_id, n_codes)``.
    """

    def __init__(self, message: str, lost: Sequence[tuple[int, int, int]]) -> None:
        super().__init__(message)
        self.lost = tuple(lost)


# -- what runs on the workers --------------------------------------------------------------
def _build_shard(factory: IndexFactory, n_bits: int, codes: np.ndarray) -> BinaryIndex:
    index = factory(n_bits)
    index.add(codes)
    return index


def _shard_size(shard: BinaryIndex) -> int:
    return shard.ntotal


def _shard_codes(shard: BinaryIndex) -> np.ndarray:
    return np.ascontiguousarray(shard.codes)


def _assemble_shard(
    factory: IndexFactory, n_bits: int, bounds: Sequence[tuple[int, int]], *shards: BinaryIndex
) -> BinaryIndex:
    """A new shard from rows ``bounds[i]`` of ``shards[i]``, concatenated in order."""
    pieces = [shard.codes[start:stop] for shard, (start, stop) in zip(shards, bounds, strict=True)]
    return _build_shard(factory, n_bits, np.concatenate(pieces))


def _search_shards(
    queries: np.ndarray,
    k: int,
    n_total: int,
    offsets: Sequence[int],
    *shards: BinaryIndex,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k over several shards held by one worker, with global ids (see :func:`_merge_topk`)."""
    missing = max(shard.n_bits for shard in shards) + 1
    parts = []
    for shard, offset in zip(shards, offsets, strict=True):
        distances, indices = shard.search(queries, k)
        kk = min(k, shard.ntotal)
        distances, indices = distances[:, :kk], indices[:, :kk]
        # Approximate indexes may return fewer than min(k, ntotal) results: give the
        # missing entries a distance beyond any real one so that merges keep them last.
        absent = indices < 0
        parts.append(
            (
                np.where(absent, np.int32(missing), distances).astype(np.int32, copy=False),
                np.where(absent, np.int64(-1), indices + offset),
            )
        )
    return _merge_topk(k, n_total, *parts)


def _merge_topk(
    k: int, n_total: int, *parts: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` smallest ``(distance, global id)`` pairs per row of several top-k results.

    Sorting by the single key ``distance * (n_total + 1) + id`` is the ``(distance, id)``
    order (ids are in ``[-1, n_total)``); missing entries (id ``-1``, a distance above
    ``n_bits``) sort after every real one.
    """
    if len(parts) == 1:
        return parts[0]
    distances = np.concatenate([part[0] for part in parts], axis=1)
    indices = np.concatenate([part[1] for part in parts], axis=1)
    key = distances.astype(np.int64) * np.int64(n_total + 1) + indices
    order = np.argsort(key, axis=1)[:, :k]
    return np.take_along_axis(distances, order, axis=1), np.take_along_axis(indices, order, axis=1)


class OverBudget(NamedTuple):
    """What a group of shards returns instead of results once one shard alone counted more
    than the budget: the results it found and the queries it had answered by then."""

    n_found: int
    n_queries_done: int


def _range_search_shards(
    queries: np.ndarray,
    radius: int,
    budget: int | None,
    offsets: Sequence[int],
    *shards: BinaryIndex,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | OverBudget:
    """Range search over several shards held by one worker, with global ids.

    Each shard searches under the whole ``budget`` (if one shard alone passes it, so does
    the sum): a shard that would return more refuses before allocating its results, and
    the group returns an :class:`OverBudget` instead.
    """
    parts: list[Any] = []
    for shard, offset in zip(shards, offsets, strict=True):
        try:
            lims, distances, indices = shard.range_search(queries, radius, max_results=budget)
        except RangeResultLimitError as exc:
            return OverBudget(exc.n_found, exc.n_queries_done)
        parts.append((lims, distances, indices + offset))
    return _merge_ranges(*parts)


def _merge_ranges(*parts: Any) -> Any:
    """Merge CSR range results over disjoint sets of ids: sort by ``(query, distance, id)``;
    an :class:`OverBudget` part makes the merge one too."""
    over = [part for part in parts if isinstance(part, OverBudget)]
    if over:
        return max(over)
    if len(parts) == 1:
        return parts[0]
    n_queries = parts[0][0].shape[0] - 1
    rows = np.concatenate(
        [np.repeat(np.arange(n_queries, dtype=np.int64), np.diff(part[0])) for part in parts]
    )
    distances = np.concatenate([part[1] for part in parts])
    indices = np.concatenate([part[2] for part in parts])
    order = np.lexsort((indices, distances, rows))
    lims = np.zeros(n_queries + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_queries), out=lims[1:])
    return lims, distances[order], indices[order]


# -- where the codes live: shards on the workers ---------------------------------------------
class _Shard:
    """Client-side handle of one shard: its future, its global id range, and its lineage.

    ``folder`` is the index folder the shard was opened from (None otherwise);
    ``recomputable`` says whether the cluster can rebuild the shard when its worker dies
    (a folder, or a dask graph) rather than losing it (codes scattered from numpy).
    """

    __slots__ = ("folder", "future", "offset", "recomputable", "size")

    def __init__(
        self,
        future: Any,
        offset: int,
        size: int,
        *,
        folder: str | None = None,
        recomputable: bool = False,
    ) -> None:
        self.future = future
        self.offset = offset
        self.size = size
        self.folder = folder
        self.recomputable = recomputable or folder is not None

    @property
    def lost(self) -> bool:
        """Whether the cluster no longer holds this shard and will not rebuild it."""
        status = self.future.status
        return status in (_FINAL_STATES if self.recomputable else _LOST_STATES)


class _ShardStore:
    """The :class:`~hashlearn.index._base.CodeStore` of a :class:`ShardedIndex`.

    The codes are held by shards on the workers; the client keeps only their handles. It
    appends (one shard per piece), gathers the codes back (:meth:`view`), and runs the
    per-worker searches and their merges.
    """

    def __init__(
        self,
        client: distributed.Client,
        distributed_module: Any,
        factory: IndexFactory,
        n_bits: int,
        n_shards: int | None,
        timeout: float | None,
    ) -> None:
        self.client = client
        self.distributed = distributed_module
        self.factory = factory
        self.n_bits = n_bits
        self.n_shards = n_shards
        self.timeout = timeout
        self.shards: list[_Shard] = []

    # -- the CodeStore protocol --------------------------------------------------------
    @property
    def size(self) -> int:
        """Codes still held: lost shards do not count (see :meth:`lost`)."""
        return sum(shard.size for shard in self.shards if not shard.lost)

    # -- lost shards ---------------------------------------------------------------------
    def lost(self) -> list[tuple[int, int, int]]:
        """``(shard, first_id, n_codes)`` of every shard the cluster no longer holds."""
        return [
            (number, shard.offset, shard.size)
            for number, shard in enumerate(self.shards)
            if shard.lost
        ]

    def require_intact(self, action: str) -> None:
        """Raise :class:`ShardLostError` naming the lost shards when there are any."""
        lost = self.lost()
        if not lost:
            return
        n_codes = sum(size for _, _, size in lost)
        shown = ", ".join(
            f"shard {number} (ids {first}..{first + size - 1})" for number, first, size in lost[:5]
        )
        more = f" and {len(lost) - 5} more" if len(lost) > 5 else ""
        raise ShardLostError(
            f"cannot {action}: {len(lost)} of {len(self.shards)} shards of this ShardedIndex "
            f"were lost ({n_codes} codes: {shown}{more}), most likely because the Dask worker "
            f"holding them died; {self._why_lost([number for number, _, _ in lost])}. "
            "Rebuild the index: index.reset() and add the codes again, or "
            "ShardedIndex.load(path) / ShardedIndex.open_folder(path) from a saved copy "
            "(build from a dask array or open from index folders, or client.replicate the "
            "shards, to survive a worker's death)",
            lost,
        )

    def _why_lost(self, numbers: list[int]) -> str:
        """Why the shards ``numbers`` cannot be recomputed, for :meth:`require_intact`."""
        for number in numbers:
            shard = self.shards[number]
            if shard.folder is not None and shard.future.status == "error":
                try:
                    problem = repr(shard.future.exception(timeout=self.timeout))
                except Exception as exc:  # the reason is a courtesy: never mask the error
                    problem = repr(exc)
                return (
                    f"shard {number} could not be reopened from its folder {shard.folder} "
                    f"({problem})"
                )
        return "shards built from numpy codes have no lineage to recompute them from"

    def require_back(self, action: str, waited: float | None) -> None:
        """Raise :class:`TimeoutError` naming the shards not held by any worker right now.

        Called when a wait timed out: shards whose worker died and that are being
        recomputed (or wait for a worker to run on) are why, when there are any.
        """
        away = [
            (number, shard)
            for number, shard in enumerate(self.shards)
            if shard.future.status != "finished"
        ]
        if not away:
            return
        shown = ", ".join(
            f"shard {number} (ids {shard.offset}..{shard.offset + shard.size - 1}"
            + (f", folder {shard.folder})" if shard.folder else ")")
            for number, shard in away[:5]
        )
        more = f" and {len(away) - 5} more" if len(away) > 5 else ""
        raise TimeoutError(
            f"cannot {action} within the timeout of {waited} s: {len(away)} of "
            f"{len(self.shards)} shards are not back on a worker ({shown}{more}); their "
            "worker died and the cluster is rebuilding them elsewhere, or has no worker left "
            "to run them on. Check the cluster (client.nthreads()), then search again or "
            "raise index.timeout"
        )

    def append(self, rows: np.ndarray) -> None:
        """Split ``rows`` into ``n_shards`` pieces, scatter them and index them on the workers."""
        n_pieces = min(self.resolve_n_shards(None), rows.shape[0])
        pieces = np.array_split(rows, n_pieces)
        scattered = self.client.scatter(pieces, hash=False, timeout=self.timeout)
        futures = [
            self.client.submit(_build_shard, self.factory, self.n_bits, piece, pure=False)
            for piece in scattered
        ]
        self.wait(futures, gather=False)
        self.append_shards(futures, [piece.shape[0] for piece in pieces])

    def view(self) -> np.ndarray:
        """Every code, gathered from the shards to the client (which needs the memory)."""
        self.require_intact("gather the codes")
        futures = [
            self.client.submit(_shard_codes, shard.future, pure=False) for shard in self.shards
        ]
        pieces = self.wait(futures)
        if not pieces:
            return np.zeros((0, n_bytes(self.n_bits)), dtype=np.uint8)
        return np.concatenate(pieces)

    def clear(self) -> None:
        self.shards = []

    # -- adding ------------------------------------------------------------------------
    def append_dask(self, codes: Any) -> None:
        """One shard per row chunk of the dask array ``codes``, built where it is computed."""
        import dask

        self.require_intact("add codes")
        build = dask.delayed(_build_shard, pure=False)
        blocks = codes.to_delayed().ravel()
        futures = self.client.compute([build(self.factory, self.n_bits, block) for block in blocks])
        sizes = self.wait([self.client.submit(_shard_size, f, pure=False) for f in futures])
        self.append_shards(futures, sizes, recomputable=True)

    def append_shards(
        self,
        futures: list[Any],
        sizes: Sequence[int],
        *,
        folders: Sequence[str] | None = None,
        recomputable: bool = False,
    ) -> None:
        offset = self.size
        paths: Sequence[str | None] = [None] * len(futures) if folders is None else folders
        for future, size, folder in zip(futures, sizes, paths, strict=True):
            if size:
                self.shards.append(
                    _Shard(future, offset, int(size), folder=folder, recomputable=recomputable)
                )
                offset += int(size)

    # -- cluster helpers ------------------------------------------------------------------
    def resolve_n_shards(self, n_shards: int | None) -> int:
        if n_shards is not None:
            return n_shards
        if self.n_shards is not None:
            return self.n_shards
        return max(1, sum(self.client.nthreads().values()))

    def wait(
        self, futures: list[Any], *, gather: bool = True, timeout: float | None = None
    ) -> list[Any]:
        """Wait for ``futures`` (within ``timeout``, default :attr:`timeout`); raise the
        first task error.

        With ``gather=True`` their results are transferred to the client and returned;
        otherwise (shards) they stay on the workers.
        """
        if not futures:
            return []
        timeout = self.timeout if timeout is None else timeout
        try:
            self.distributed.wait(futures, timeout=timeout)
            if gather:
                return list(self.client.gather(futures))
            for future in futures:
                if future.status != "finished":
                    future.result(timeout=timeout)  # raises the task's exception
        except Exception as exc:
            # A worker that dies during the call cancels the tasks that needed its shards:
            # name the lost shards rather than Dask's cancelled futures, and the shards
            # still being rebuilt rather than Dask's bare timeout.
            self.require_intact("finish the operation")
            if isinstance(exc, TimeoutError):
                self.require_back("finish the operation", timeout)
            raise
        return []

    def retrying(self, run: Callable[[float | None], Any]) -> Any:
        """``run(timeout)``, submitted again when a worker died under it, all within
        :attr:`timeout`.

        A worker that dies while running a search task makes Dask rerun the task (and
        rebuild the shards with lineage it held); what it cannot rerun (a task whose
        input was scattered data of the dead worker, or one that killed too many workers)
        ends cancelled or as ``KilledWorker``. Then, as long as no shard is lost for good,
        the whole search is submitted again. Lost shards raise :class:`ShardLostError`,
        an exhausted timeout :class:`TimeoutError` naming the shards not back.
        """
        from distributed.scheduler import KilledWorker

        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        for attempt in range(_SEARCH_ATTEMPTS):
            left = None if deadline is None else max(deadline - time.monotonic(), 1e-3)
            try:
                return run(left)
            except (CancelledError, KilledWorker):
                self.require_intact("search")
                out_of_time = deadline is not None and time.monotonic() >= deadline
                if attempt == _SEARCH_ATTEMPTS - 1 or out_of_time:
                    self.require_back("search", self.timeout)
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def groups(self) -> list[list[_Shard]]:
        """Shards grouped by the worker holding them, at most one group per worker thread.

        Each group is searched by one task on its worker, so a search costs about one task
        per worker thread however many shards there are. Groups of a worker are balanced
        by code count (largest shard first into the lightest group).
        """
        holders = self.client.who_has([shard.future for shard in self.shards])
        threads = self.client.nthreads()
        by_worker: dict[str | None, list[_Shard]] = {}
        for shard in self.shards:
            where = holders.get(shard.future.key) or ()
            by_worker.setdefault(where[0] if where else None, []).append(shard)
        groups: list[list[_Shard]] = []
        for worker, shards in by_worker.items():
            n_groups = max(1, min(len(shards), threads.get(worker, 1) if worker else 1))
            mine: list[list[_Shard]] = [[] for _ in range(n_groups)]
            loads = [0] * n_groups
            for shard in sorted(shards, key=lambda s: -s.size):
                lightest = loads.index(min(loads))
                mine[lightest].append(shard)
                loads[lightest] += shard.size
            groups.extend(mine)
        return groups

    def reduce(
        self,
        parts: list[Any],
        merge: Callable[..., Any],
        *arguments: int,
        timeout: float | None = None,
    ) -> Any:
        """Merge per-group results: on the workers ``_MERGE_FAN_IN`` at a time, then locally."""
        while len(parts) > _MERGE_FAN_IN:
            parts = [
                self.client.submit(merge, *arguments, *parts[i : i + _MERGE_FAN_IN], pure=False)
                for i in range(0, len(parts), _MERGE_FAN_IN)
            ]
        return merge(*arguments, *self.wait(parts, timeout=timeout))

    def send_queries(self, queries: np.ndarray) -> Any:
        if queries.nbytes > _SCATTER_BYTES:
            return self.client.scatter(queries, hash=False, timeout=self.timeout)
        return queries

    # -- searching -------------------------------------------------------------------------
    def fan_out(self, task: Callable[..., Any], *arguments: Any) -> list[Any]:
        """One ``task(*arguments, offsets, *shards)`` per group of shards (one per worker
        thread), submitted to the cluster; returns the futures."""
        return [
            self.client.submit(
                task,
                *arguments,
                [shard.offset for shard in group],
                *(shard.future for shard in group),
                pure=False,
            )
            for group in self.groups()
        ]

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Merged top-k over every shard; missing entries are ``-1`` in both arrays."""
        n_total = self.size

        def run(timeout: float | None) -> tuple[np.ndarray, np.ndarray]:
            parts = self.fan_out(_search_shards, self.send_queries(queries), k, n_total)
            return self.reduce(parts, _merge_topk, k, n_total, timeout=timeout)

        distances, indices = self.retrying(run)
        return np.where(indices < 0, np.int32(-1), distances), indices

    def range_search(
        self, queries: np.ndarray, radius: int, budget: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | OverBudget:
        """Merged range results over every shard, in CSR layout, or :class:`OverBudget`
        when a shard alone would pass ``budget``."""

        def run(timeout: float | None) -> Any:
            parts = self.fan_out(_range_search_shards, self.send_queries(queries), radius, budget)
            return self.reduce(parts, _merge_ranges, timeout=timeout)

        merged = self.retrying(run)
        if isinstance(merged, OverBudget):
            return merged
        lims, distances, indices = merged
        return (
            lims.astype(np.int64, copy=False),
            distances.astype(np.int32, copy=False),
            indices.astype(np.int64, copy=False),
        )

    def rebalance(self, n_shards: int | None) -> None:
        """Regroup the codes into contiguous shards of (almost) equal size, worker to worker."""
        self.require_intact("rebalance")
        total = self.size
        if total == 0:
            return
        n_groups = min(self.resolve_n_shards(n_shards), total)
        sizes = [total // n_groups + (1 if g < total % n_groups else 0) for g in range(n_groups)]
        workers = sorted(self.client.nthreads())
        futures = []
        start = 0
        for group, size in enumerate(sizes):
            stop = start + size
            members = [s for s in self.shards if s.offset < stop and s.offset + s.size > start]
            bounds = [
                (max(start, s.offset) - s.offset, min(stop, s.offset + s.size) - s.offset)
                for s in members
            ]
            placement = {"workers": [workers[group % len(workers)]]} if workers else {}
            futures.append(
                self.client.submit(
                    _assemble_shard,
                    self.factory,
                    self.n_bits,
                    bounds,
                    *(s.future for s in members),
                    pure=False,
                    allow_other_workers=True,
                    **placement,
                )
            )
            start = stop
        self.wait(futures, gather=False)
        # A regrouped shard can be rebuilt when every shard it was assembled from can.
        recomputable = all(shard.recomputable for shard in self.shards)
        self.shards = []
        self.append_shards(futures, sizes, recomputable=recomputable)

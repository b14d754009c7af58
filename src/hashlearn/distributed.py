"""Scale-out on Dask: encode chunked features in parallel, search an index sharded over workers.

Two pieces, both optional (they need the ``dask`` extra, ``pip install 'hashlearn[dask]'``;
``import hashlearn`` and ``import hashlearn.distributed`` never import dask):

* :func:`encode_dask` encodes a :class:`dask.array.Array` of features, chunk by chunk, with
  a fitted hasher and returns a lazy dask array of packed codes.
* :class:`ShardedIndex` keeps a :class:`~hashlearn.index.BinaryIndex` per shard *on the Dask
  workers* and answers ``search`` / ``range_search`` by querying every shard in parallel and
  merging the per-shard results, so its output is identical to one index of the same type
  holding every code.

How the sharded search works
----------------------------
Shard ``s`` holds the codes with global ids ``offsets[s] .. offsets[s] + sizes[s] - 1`` (a
contiguous run, in insertion order), so a shard's local id ``j`` is global id
``offsets[s] + j``. For a query batch, the shards are grouped by the worker that holds them
(at most one group per worker thread) and each group is searched by one task on its
worker, so a search costs about one task per worker thread however many shards exist. A
group task searches its shards, turns local ids into global ids and merges them; the
client merges the group results (with a tree of merge tasks on the workers first when
there are many groups). Every merge sorts by the key ``distance * (ntotal + 1) + id``,
which is exactly the ``(distance, id)`` order of :mod:`hashlearn.index._base`, so ties
break by the smaller global id, also at the ``k``-th position, whatever the grouping.
Only query codes and merged results travel; shards stay where they are.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hashlearn.codes import check_codes, n_bytes
from hashlearn.index._base import (
    BinaryIndex,
    check_k,
    check_radius,
    pad_results,
    require_hasher,
)
from hashlearn.index.linear_scan import LinearScanIndex

if TYPE_CHECKING:
    import dask.array
    import distributed

__all__ = ["ShardedIndex", "encode_dask"]

INSTALL_HINT = "pip install 'hashlearn[dask]'"

# Queries larger than this are scattered to the cluster once instead of being embedded in
# every per-shard task.
_SCATTER_BYTES = 2**20
# How many group results one merge task on the workers combines (the client merges the
# last ones).
_MERGE_FAN_IN = 8

IndexFactory = Callable[[int], BinaryIndex]


def _require_dask(feature: str) -> tuple[Any, Any]:
    """Import ``dask.array`` and ``distributed``, or explain which extra to install."""
    try:
        import dask.array as da
        import distributed
    except ImportError as exc:
        raise ImportError(
            f"{feature} needs dask and distributed, which are not installed; "
            f"install them with: {INSTALL_HINT} ({exc})"
        ) from exc
    return da, distributed


def _is_dask_collection(value: Any) -> bool:
    try:
        import dask
    except ImportError:
        return False
    return bool(dask.is_dask_collection(value))


# -- encoding ------------------------------------------------------------------------------
def _check_hasher(hasher: Any, what: str) -> tuple[int, int | None]:
    """Check ``hasher`` is a fitted hasher; return its ``n_bits`` and ``n_features_in_``."""
    if not callable(getattr(hasher, "encode", None)):
        raise TypeError(
            f"hasher must be a fitted hasher with an encode(X) method returning packed codes, "
            f"got {type(hasher).__name__}"
        )
    n_bits = getattr(hasher, "n_bits", None)
    if isinstance(n_bits, bool) or not isinstance(n_bits, numbers.Integral):
        raise TypeError(
            f"hasher must have an int n_bits attribute (the code length), got {n_bits!r}"
        )
    if callable(getattr(hasher, "fit", None)):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(
            hasher,
            msg=(
                f"{what} needs a fitted hasher: this %(name)s instance is not fitted yet; "
                "call fit(X) first"
            ),
        )
    n_features = getattr(hasher, "n_features_in_", None)
    return int(n_bits), (int(n_features) if isinstance(n_features, numbers.Integral) else None)


def _encode_block(block: np.ndarray, hasher: Any, width: int) -> np.ndarray:
    """Encode one row block (runs on a worker); empty blocks give empty codes."""
    if block.shape[0] == 0:
        return np.zeros((0, width), dtype=np.uint8)
    return np.asarray(hasher.encode(block))


def encode_dask(hasher: Any, X: Any) -> dask.array.Array:
    """Encode a chunked feature matrix with a fitted hasher, one task per row chunk.

    Parameters
    ----------
    hasher : fitted hasher
        Any fitted hashlearn hasher (or an object with ``encode(X)`` and ``n_bits``). It is
        shipped to the workers with the task graph.
    X : dask.array.Array or array-like, shape (n_samples, n_features)
        Features chunked by rows. Several column chunks are allowed (each row block is
        joined before encoding). A numpy array (or anything :func:`numpy.asarray` accepts)
        is wrapped with :func:`dask.array.from_array` and automatic row chunks; wrap it
        yourself to choose the chunks.

    Returns
    -------
    codes : dask.array.Array of uint8, shape (n_samples, ceil(n_bits / 8))
        Lazy packed codes, chunked like ``X``'s rows with a single column chunk; block
        ``i`` equals ``hasher.encode(X_block_i)``, so the computed array equals
        ``hasher.encode(X)``.

    Raises
    ------
    ImportError
        When dask is missing (install ``hashlearn[dask]``).
    TypeError
        When ``hasher`` is not a hasher or ``X`` does not hold numbers.
    ValueError
        When ``hasher`` is not fitted, ``X`` is not 2-D, or its feature count differs from
        the one seen at fit.

    Notes
    -----
    Shapes, dtype and the feature count are checked here, eagerly; the values themselves
    (NaN, infinity) are checked by ``hasher.encode`` when each block is computed, so such
    errors surface at compute time.

    A numpy ``X`` is embedded in the task graph, so on a distributed cluster it travels
    through the scheduler; for large data, create ``X`` on the workers instead (e.g.
    :func:`dask.array.from_zarr`, or from scattered futures).

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> from hashlearn.hashers import LSH
    >>> X = np.random.default_rng(0).normal(size=(1000, 16))
    >>> hasher = LSH(n_bits=12, random_state=0).fit(X)
    >>> codes = encode_dask(hasher, da.from_array(X, chunks=(250, 16)))
    >>> codes.chunks
    ((250, 250, 250, 250), (2,))
    >>> bool((codes.compute(scheduler="sync") == hasher.encode(X)).all())
    True
    """
    da, _ = _require_dask("encode_dask")
    n_bits, n_features = _check_hasher(hasher, "encode_dask")
    if not _is_dask_collection(X):
        if hasattr(X, "toarray") and not isinstance(X, np.ndarray):
            raise TypeError("X must be a dense array; sparse input is not supported here")
        try:
            array = np.asarray(X)
        except Exception as exc:
            raise ValueError(f"X could not be converted to an array: {exc}") from exc
        # Anything but 2-D is refused below, from its shape alone.
        X = da.from_array(array, chunks=("auto", -1)) if array.ndim == 2 else array
    elif not isinstance(X, da.Array):
        raise TypeError(
            f"X must be a dask array or a numpy array, got the dask collection {type(X).__name__}"
        )
    if X.ndim != 2:
        raise ValueError(
            f"X must be 2-D of shape (n_samples, n_features), got {X.ndim}-D shape {X.shape}. "
            "Reshape your data, e.g. X.reshape(1, -1) for one sample"
        )
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_) or np.issubdtype(
        X.dtype, np.complexfloating
    ):
        raise TypeError(f"X must hold real numbers, got dtype {X.dtype}")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(hasher).__name__} is expecting "
            f"{n_features} features as input (the number seen at fit)"
        )
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    width = n_bytes(n_bits)
    return X.map_blocks(
        _encode_block,
        hasher,
        width,
        dtype=np.uint8,
        chunks=(X.chunks[0], (width,)),
        meta=np.empty((0, width), dtype=np.uint8),
        token="hashlearn-encode",
    )


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


def _range_search_shards(
    queries: np.ndarray, radius: int, offsets: Sequence[int], *shards: BinaryIndex
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Range search over several shards held by one worker, with global ids."""
    parts = []
    for shard, offset in zip(shards, offsets, strict=True):
        lims, distances, indices = shard.range_search(queries, radius)
        parts.append((lims, distances, indices + offset))
    return _merge_ranges(*parts)


def _merge_ranges(
    *parts: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge CSR range results over disjoint sets of ids: sort by ``(query, distance, id)``."""
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


# -- the sharded index ---------------------------------------------------------------------
class _Shard:
    """Client-side handle of one shard: its future and its global id range."""

    __slots__ = ("future", "offset", "size")

    def __init__(self, future: Any, offset: int, size: int) -> None:
        self.future = future
        self.offset = offset
        self.size = size


class ShardedIndex:
    """A binary index split into shards that live on Dask workers.

    Each shard is an ordinary hashlearn index (``index_cls(n_bits)``) built and kept in a
    worker's memory, referenced from the client by a :class:`distributed.Future`. Only
    query codes and per-shard results travel; the codes stay on the workers.

    ``search`` and ``range_search`` follow the search contract of
    :mod:`hashlearn.index._base` and return **exactly** what one index of type
    ``index_cls`` holding every code (added in the same order) returns, for exact
    indexes: ids are global (``0 .. ntotal - 1`` in insertion order across all adds),
    results are sorted by ``(distance, id)`` with ties broken by the smaller id, ``search``
    pads with ``-1`` when ``k > ntotal``, and an empty index returns padding / empty lists.
    With an approximate ``index_cls``, each shard's guarantee holds for its own codes and
    the merge is exact.

    Parameters
    ----------
    client : distributed.Client
        A synchronous client of the cluster that holds the shards (``None``: the current
        default client, :func:`distributed.get_client`).
    n_bits : int
        Code length in bits.
    index_cls : BinaryIndex subclass or callable, default LinearScanIndex
        Builds one (empty) shard: called as ``index_cls(n_bits)`` on the workers, so it must
        be picklable (a class, a module-level function or a :func:`functools.partial`).
    n_shards : int, optional
        Into how many shards each :meth:`add` of *numpy* codes is split (at most one code
        per shard). Default: the number of worker threads at the time of the add. Dask
        arrays are sharded by their row chunks instead.
    hasher : fitted hasher, optional
        Enables :meth:`add_vectors` / :meth:`search_vectors` and is saved by :meth:`save`.
        It stays on the client (and is shipped with encoding tasks).
    timeout : float, optional
        Seconds to wait for any cluster operation before raising :class:`TimeoutError`
        (default: wait indefinitely).

    Attributes
    ----------
    ntotal : int
        Number of codes stored (over all shards).
    n_shards : int
        Number of shards currently held; it grows with every ``add`` (see Notes).
    shard_sizes : tuple of int
        Codes per shard, in global id order.

    Notes
    -----
    * Every ``add`` creates new shards and never modifies existing ones (shards are
      immutable results of tasks, as Dask expects). Searches run one task per worker
      thread whatever the number of shards, but each shard is still searched separately
      within it: after many small adds, call :meth:`rebalance` to regroup them. ``add``
      returns once the new shards are built, so bad codes raise there.
    * Ids are contiguous per shard and merges sort by ``(distance, global id)``, so the
      results do not depend on how the codes are split or where the shards live.
    * Shards built from numpy codes come from data scattered to the workers, which has no
      lineage: if their worker dies they are lost (searches then raise). Shards built from a
      dask array are recomputed from its graph. Use ``client.replicate`` for redundancy.
    * Not thread-safe: do not call ``add`` / ``rebalance`` concurrently with other methods.

    Examples
    --------
    >>> from distributed import Client, LocalCluster
    >>> from hashlearn.codes import pack_bits
    >>> cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
    ...                        dashboard_address=None)
    >>> client = Client(cluster)
    >>> rng = np.random.default_rng(0)
    >>> database = pack_bits(rng.integers(0, 2, size=(1000, 32)))
    >>> index = ShardedIndex(client, n_bits=32).add(database)
    >>> distances, ids = index.search(database[:3], k=5)
    >>> ids[:, 0]
    array([0, 1, 2])
    >>> index
    ShardedIndex(n_bits=32, ntotal=1000, n_shards=2, index_cls=LinearScanIndex)
    >>> client.close()
    >>> cluster.close()
    """

    def __init__(
        self,
        client: distributed.Client | None,
        n_bits: int,
        *,
        index_cls: IndexFactory = LinearScanIndex,
        n_shards: int | None = None,
        hasher: Any = None,
        timeout: float | None = None,
    ) -> None:
        da, distributed = _require_dask("ShardedIndex")
        if client is None:
            try:
                client = distributed.get_client()
            except ValueError as exc:
                raise ValueError(
                    "ShardedIndex needs a distributed.Client: pass client=Client(...) or "
                    "create one first"
                ) from exc
        if not isinstance(client, distributed.Client):
            raise TypeError(f"client must be a distributed.Client, got {type(client).__name__}")
        if client.asynchronous:
            raise ValueError("client must be synchronous; asynchronous clients are not supported")
        if not callable(index_cls):
            raise TypeError(
                f"index_cls must be a BinaryIndex subclass or a callable n_bits -> BinaryIndex, "
                f"got {index_cls!r}"
            )
        template = index_cls(n_bits)
        if not isinstance(template, BinaryIndex):
            raise TypeError(
                f"index_cls must build a hashlearn BinaryIndex, but index_cls({n_bits!r}) "
                f"returned {type(template).__name__}"
            )
        if template.n_bits != n_bits:
            raise ValueError(
                f"index_cls({n_bits}) built an index of n_bits={template.n_bits}; they must match"
            )
        if n_shards is not None:
            from hashlearn._validation import check_int

            n_shards = check_int(n_shards, "n_shards", low=1)
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real):
                raise TypeError(f"timeout must be a number of seconds or None, got {timeout!r}")
            if not timeout > 0:
                raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        self._client = client
        self._distributed = distributed
        self._da = da
        self._factory = index_cls
        self._template = template
        self._n_bits = template.n_bits
        self._n_shards = n_shards
        self.timeout = None if timeout is None else float(timeout)
        self._shards: list[_Shard] = []
        self._hasher: Any = None
        self.hasher = hasher

    # -- properties -------------------------------------------------------------------
    @property
    def client(self) -> distributed.Client:
        """The client of the cluster holding the shards."""
        return self._client

    @property
    def n_bits(self) -> int:
        """Code length in bits."""
        return self._n_bits

    @property
    def index_cls(self) -> IndexFactory:
        """What builds one shard: ``index_cls(n_bits)``."""
        return self._factory

    @property
    def ntotal(self) -> int:
        """Number of codes stored, over all shards."""
        return sum(shard.size for shard in self._shards)

    def __len__(self) -> int:
        return self.ntotal

    @property
    def n_shards(self) -> int:
        """Number of shards currently held (each a non-empty index on a worker)."""
        return len(self._shards)

    @property
    def shard_sizes(self) -> tuple[int, ...]:
        """Codes per shard, in global id order."""
        return tuple(shard.size for shard in self._shards)

    @property
    def hasher(self) -> Any:
        """The hasher used by :meth:`add_vectors` / :meth:`search_vectors` (or None)."""
        return self._hasher

    @hasher.setter
    def hasher(self, hasher: Any) -> None:
        self._template.hasher = hasher  # validates the encode method and n_bits
        self._template.hasher = None
        self._hasher = hasher

    def __repr__(self) -> str:
        kind = getattr(self._factory, "__name__", None) or type(self._template).__name__
        return (
            f"ShardedIndex(n_bits={self._n_bits}, ntotal={self.ntotal}, "
            f"n_shards={self.n_shards}, index_cls={kind})"
        )

    # -- cluster helpers ------------------------------------------------------------------
    def _workers(self) -> list[str]:
        return sorted(self._client.nthreads())

    def _resolve_n_shards(self, n_shards: int | None) -> int:
        if n_shards is not None:
            return n_shards
        if self._n_shards is not None:
            return self._n_shards
        return max(1, sum(self._client.nthreads().values()))

    def _wait(self, futures: list[Any], *, gather: bool = True) -> list[Any]:
        """Wait for ``futures`` (within :attr:`timeout`); raise the first task error.

        With ``gather=True`` their results are transferred to the client and returned;
        otherwise (shards) they stay on the workers.
        """
        if not futures:
            return []
        self._distributed.wait(futures, timeout=self.timeout)
        if gather:
            return list(self._client.gather(futures))
        for future in futures:
            if future.status != "finished":
                future.result(timeout=self.timeout)  # raises the task's exception
        return []

    def _append_shards(self, futures: list[Any], sizes: Sequence[int]) -> None:
        offset = self.ntotal
        for future, size in zip(futures, sizes, strict=True):
            if size:
                self._shards.append(_Shard(future, offset, int(size)))
                offset += int(size)

    def _check_codes(self, codes: Any, name: str) -> np.ndarray:
        array = np.asarray(codes)
        width = n_bytes(self._n_bits)
        if array.dtype == np.uint8 and array.ndim == 2 and array.shape[1] != width:
            what = "queries" if name.startswith("query") else "codes"
            raise ValueError(
                f"{name} has {array.shape[1]} bytes per code, but this ShardedIndex holds "
                f"codes of n_bits={self._n_bits} ({width} bytes per code); {what} of the "
                "wrong width cannot be compared"
            )
        return check_codes(array, self._n_bits, name=name)

    def _local_queries(self, query_codes: Any) -> np.ndarray:
        if _is_dask_collection(query_codes):
            query_codes = self._client.compute(query_codes).result(timeout=self.timeout)
        return self._check_codes(query_codes, "query_codes")

    def _groups(self) -> list[list[_Shard]]:
        """Shards grouped by the worker holding them, at most one group per worker thread.

        Each group is searched by one task on its worker, so a search costs about one task
        per worker thread however many shards there are. Groups of a worker are balanced
        by code count (largest shard first into the lightest group).
        """
        holders = self._client.who_has([shard.future for shard in self._shards])
        threads = self._client.nthreads()
        by_worker: dict[str | None, list[_Shard]] = {}
        for shard in self._shards:
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

    def _reduce(self, parts: list[Any], merge: Callable[..., Any], *arguments: int) -> Any:
        """Merge per-group results: on the workers ``_MERGE_FAN_IN`` at a time, then locally."""
        client = self._client
        while len(parts) > _MERGE_FAN_IN:
            parts = [
                client.submit(merge, *arguments, *parts[i : i + _MERGE_FAN_IN], pure=False)
                for i in range(0, len(parts), _MERGE_FAN_IN)
            ]
        return merge(*arguments, *self._wait(parts))

    def _send_queries(self, queries: np.ndarray) -> Any:
        if queries.nbytes > _SCATTER_BYTES:
            return self._client.scatter(queries, hash=False, timeout=self.timeout)
        return queries

    # -- the public contract ------------------------------------------------------------
    def add(self, codes: Any) -> ShardedIndex:
        """Append packed codes as new shards; their global ids continue from :attr:`ntotal`.

        Parameters
        ----------
        codes : ndarray or dask.array.Array of uint8, shape (n, ceil(n_bits / 8))
            A numpy array is split into ``n_shards`` contiguous pieces of (almost) equal
            size, scattered to the workers and indexed there. A dask array becomes one
            shard per row chunk (empty chunks are skipped), each built on the worker that
            computes the chunk: the codes never pass through the client.

        Returns
        -------
        self
        """
        if _is_dask_collection(codes):
            return self._add_dask(codes)
        array = self._check_codes(codes, "codes")
        if array.shape[0] == 0:
            return self
        n_pieces = min(self._resolve_n_shards(None), array.shape[0])
        pieces = np.array_split(array, n_pieces)
        scattered = self._client.scatter(pieces, hash=False, timeout=self.timeout)
        futures = [
            self._client.submit(_build_shard, self._factory, self._n_bits, piece, pure=False)
            for piece in scattered
        ]
        self._wait(futures, gather=False)
        self._append_shards(futures, [piece.shape[0] for piece in pieces])
        return self

    def _add_dask(self, codes: Any) -> ShardedIndex:
        da = self._da
        if not isinstance(codes, da.Array):
            raise TypeError(
                f"codes must be a numpy or dask array, got the dask collection "
                f"{type(codes).__name__}"
            )
        import dask

        # Check dtype, dimensions and width from the metadata, without computing (the
        # values, e.g. padding bits, are checked by each shard's add on its worker).
        width = n_bytes(self._n_bits)
        meta_shape = (0, width) if codes.ndim == 2 else (0,) * codes.ndim
        self._check_codes(np.empty(meta_shape, dtype=codes.dtype), "codes")
        if not math.isnan(codes.shape[1]) and codes.shape[1] != width:
            self._check_codes(np.empty((0, codes.shape[1]), dtype=np.uint8), "codes")
        if len(codes.chunks[1]) > 1:
            codes = codes.rechunk({1: -1})
        build = dask.delayed(_build_shard, pure=False)
        blocks = codes.to_delayed().ravel()
        futures = self._client.compute(
            [build(self._factory, self._n_bits, block) for block in blocks]
        )
        sizes = self._wait([self._client.submit(_shard_size, f, pure=False) for f in futures])
        self._append_shards(futures, sizes)
        return self

    def search(self, query_codes: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest codes of each query over all shards.

        Parameters
        ----------
        query_codes : ndarray (or dask array) of uint8, shape (n_queries, ceil(n_bits / 8))
            A dask array is computed on the cluster first (queries come to the client).
        k : int
            Number of neighbours, ``>= 1``.

        Returns
        -------
        distances : ndarray of int32, shape (n_queries, k)
        indices : ndarray of int64, shape (n_queries, k)
            Global ids sorted by ``(distance, id)``; padded with ``-1`` (in both arrays)
            when fewer than ``k`` results exist.
        """
        queries = self._local_queries(query_codes)
        k = check_k(k)
        if not self._shards or queries.shape[0] == 0:
            empty = np.empty((queries.shape[0], 0), dtype=np.int64)
            return pad_results(empty.astype(np.int32), empty, k)
        sent = self._send_queries(queries)
        n_total = self.ntotal
        parts = [
            self._client.submit(
                _search_shards,
                sent,
                k,
                n_total,
                [shard.offset for shard in group],
                *(shard.future for shard in group),
                pure=False,
            )
            for group in self._groups()
        ]
        distances, indices = self._reduce(parts, _merge_topk, k, n_total)
        distances = np.where(indices < 0, np.int32(-1), distances)
        return pad_results(distances, indices, k)

    def range_search(
        self, query_codes: Any, radius: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every stored code within Hamming distance ``radius`` of each query, over all shards.

        Parameters
        ----------
        query_codes : ndarray (or dask array) of uint8, shape (n_queries, ceil(n_bits / 8))
        radius : int
            Largest Hamming distance returned, ``>= 0`` (values above ``n_bits`` act as
            ``n_bits``).

        Returns
        -------
        lims : ndarray of int64, shape (n_queries + 1,)
        distances : ndarray of int32, shape (lims[-1],)
        indices : ndarray of int64, shape (lims[-1],)
            Query ``i``'s results are ``[lims[i]:lims[i + 1]]``, global ids sorted by
            ``(distance, id)``.
        """
        queries = self._local_queries(query_codes)
        radius = check_radius(radius, self._n_bits)
        if not self._shards or queries.shape[0] == 0:
            return (
                np.zeros(queries.shape[0] + 1, dtype=np.int64),
                np.empty(0, dtype=np.int32),
                np.empty(0, dtype=np.int64),
            )
        sent = self._send_queries(queries)
        parts = [
            self._client.submit(
                _range_search_shards,
                sent,
                radius,
                [shard.offset for shard in group],
                *(shard.future for shard in group),
                pure=False,
            )
            for group in self._groups()
        ]
        lims, distances, indices = self._reduce(parts, _merge_ranges)
        return (
            lims.astype(np.int64, copy=False),
            distances.astype(np.int32, copy=False),
            indices.astype(np.int64, copy=False),
        )

    def reset(self) -> ShardedIndex:
        """Release every shard (the hasher is kept); returns ``self``."""
        self._shards = []
        return self

    def rebalance(self, n_shards: int | None = None) -> ShardedIndex:
        """Regroup the codes into ``n_shards`` contiguous shards of (almost) equal size.

        Codes move between workers, never through the client; new shard ``g`` is placed
        preferably on worker ``g mod n_workers``. Ids and search results do not change.

        Parameters
        ----------
        n_shards : int, optional
            Default: the ``n_shards`` given to the constructor, else the number of worker
            threads. Capped at :attr:`ntotal`.

        Returns
        -------
        self
        """
        if n_shards is not None:
            from hashlearn._validation import check_int

            n_shards = check_int(n_shards, "n_shards", low=1)
        total = self.ntotal
        if total == 0:
            return self
        n_groups = min(self._resolve_n_shards(n_shards), total)
        sizes = [total // n_groups + (1 if g < total % n_groups else 0) for g in range(n_groups)]
        workers = self._workers()
        futures = []
        start = 0
        for group, size in enumerate(sizes):
            stop = start + size
            members = [s for s in self._shards if s.offset < stop and s.offset + s.size > start]
            bounds = [
                (max(start, s.offset) - s.offset, min(stop, s.offset + s.size) - s.offset)
                for s in members
            ]
            placement = {"workers": [workers[group % len(workers)]]} if workers else {}
            futures.append(
                self._client.submit(
                    _assemble_shard,
                    self._factory,
                    self._n_bits,
                    bounds,
                    *(s.future for s in members),
                    pure=False,
                    allow_other_workers=True,
                    **placement,
                )
            )
            start = stop
        self._wait(futures, gather=False)
        self._shards = []
        self._append_shards(futures, sizes)
        return self

    # -- with the hasher -----------------------------------------------------------------
    def _require_hasher(self, method: str) -> Any:
        return require_hasher(self._hasher, "ShardedIndex", method)

    def add_vectors(self, X: Any) -> ShardedIndex:
        """Encode ``X`` with :attr:`hasher` and :meth:`add` the codes; returns ``self``.

        A dask array is encoded on the workers (:func:`encode_dask`) and sharded by its
        row chunks; a numpy array is encoded on the client.
        """
        hasher = self._require_hasher("add_vectors")
        if _is_dask_collection(X):
            return self.add(encode_dask(hasher, X))
        return self.add(hasher.encode(X))

    def _encode_queries(self, X: Any, method: str) -> np.ndarray:
        hasher = self._require_hasher(method)
        if _is_dask_collection(X):
            return np.asarray(
                self._client.compute(encode_dask(hasher, X)).result(timeout=self.timeout)
            )
        return np.asarray(hasher.encode(X))

    def search_vectors(self, X: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Encode ``X`` with :attr:`hasher`, then :meth:`search` the codes."""
        return self.search(self._encode_queries(X, "search_vectors"), k)

    def range_search_vectors(
        self, X: Any, radius: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Encode ``X`` with :attr:`hasher`, then :meth:`range_search` the codes."""
        return self.range_search(self._encode_queries(X, "range_search_vectors"), radius)

    # -- local copies and persistence ----------------------------------------------------------
    def gather(self) -> BinaryIndex:
        """One local index (``index_cls(n_bits)``) holding every code, with the same ids.

        The codes of all shards are transferred to the client, which must have the memory
        for them. The hasher, when set, is attached to the returned index.
        """
        index = self._factory(self._n_bits)
        futures = [
            self._client.submit(_shard_codes, shard.future, pure=False) for shard in self._shards
        ]
        pieces = self._wait(futures)
        if pieces:
            index.add(np.concatenate(pieces))
        index.hasher = self._hasher
        return index

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save every code (and the hasher, when set) to one hashlearn file; returns the path.

        The file is the one :meth:`gather` ``().save(path)`` writes: an ordinary index file
        of the shard type, so :func:`hashlearn.load` reads it back as a local index and
        :meth:`load` re-shards it onto a cluster. The sharding itself is not saved. All
        codes pass through the client's memory.
        """
        return self.gather().save(path)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        client: distributed.Client | None,
        *,
        index_cls: IndexFactory | None = None,
        n_shards: int | None = None,
        timeout: float | None = None,
    ) -> ShardedIndex:
        """Load an index file (from :meth:`save` or any ``BinaryIndex.save``) onto a cluster.

        Parameters
        ----------
        path : str or path-like
            A hashlearn index file.
        client : distributed.Client
            The cluster that will hold the shards (``None``: the default client).
        index_cls : BinaryIndex subclass or callable, optional
            What builds each shard; default: the class of the saved index.
        n_shards : int, optional
            Into how many shards to split the codes (default: the number of worker threads).
        timeout : float, optional
            As in the constructor.

        Returns
        -------
        ShardedIndex
            With the same codes, ids and hasher as the saved index.
        """
        from hashlearn.persistence import load

        local = load(path)
        if not isinstance(local, BinaryIndex):
            raise TypeError(
                f"{path} holds a {type(local).__name__}, not an index; ShardedIndex.load "
                "reads files written by ShardedIndex.save or an index's save"
            )
        sharded = cls(
            client,
            local.n_bits,
            index_cls=type(local) if index_cls is None else index_cls,
            n_shards=n_shards,
            hasher=local.hasher,
            timeout=timeout,
        )
        return sharded.add(local.codes)

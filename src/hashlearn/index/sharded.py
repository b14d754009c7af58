"""Scale-out on Dask: encode chunked features in parallel, search an index sharded over workers.

Two pieces, both optional (they need the ``dask`` extra, ``pip install 'hashlearn[dask]'``;
``import hashlearn`` and ``import hashlearn.index`` never import dask):

* :func:`encode_dask` encodes a :class:`dask.array.Array` of features, chunk by chunk, with
  a fitted hasher and returns a lazy dask array of packed codes.
* :class:`ShardedIndex`, itself a :class:`~hashlearn.index.BinaryIndex` whose codes live
  on the Dask workers, keeps an index per shard *on the workers* and answers ``search`` /
  ``range_search`` by querying every shard in parallel and merging the per-shard results,
  so its output is identical to one index of the same type holding every code.

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
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hashlearn._validation import check_int
from hashlearn.codes import n_bytes
from hashlearn.index._base import MAX_RANGE_RESULTS, BinaryIndex
from hashlearn.index._shard_folders import open_shards, read_manifest, write_sharded_folder
from hashlearn.index._shards import IndexFactory, OverBudget, ShardLostError, _ShardStore
from hashlearn.index.linear_scan import LinearScanIndex
from hashlearn.persistence import load as _load

if TYPE_CHECKING:
    import dask.array
    import distributed

__all__ = ["ShardLostError", "ShardedIndex", "encode_dask"]

INSTALL_HINT = "pip install 'hashlearn[dask]'"


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


# -- the sharded index ---------------------------------------------------------------------
def _check_timeout(timeout: Any) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real):
        raise TypeError(f"timeout must be a number of seconds or None, got {timeout!r}")
    if not timeout > 0:
        raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
    return float(timeout)


def _check_factory(index_cls: Any, n_bits: Any) -> BinaryIndex:
    """An empty index built by ``index_cls(n_bits)``, after checking what it is."""
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
    return template


class ShardedIndex(BinaryIndex):
    """A binary index split into shards that live on Dask workers.

    Each shard is an ordinary hashlearn index (``index_cls(n_bits)``) built and kept in a
    worker's memory, referenced from the client by a :class:`distributed.Future`. Only
    query codes and per-shard results travel; the codes stay on the workers.

    A :class:`~hashlearn.index.BinaryIndex` like the others: ``search`` and
    ``range_search`` follow the search contract of :mod:`hashlearn.index._base` and
    return **exactly** what one index of type ``index_cls`` holding every code (added in
    the same order) returns, for exact indexes: ids are global (``0 .. ntotal - 1`` in
    insertion order across all adds), results are sorted by ``(distance, id)`` with ties
    broken by the smaller id, ``search`` caps ``k`` at :attr:`ntotal`, and an empty
    index returns empty rows and lists. With an approximate ``index_cls``, each
    shard's guarantee holds for its own codes and the merge is exact.

    Parameters
    ----------
    n_bits : int
        Code length in bits (``index_cls`` may narrow the range).
    client : distributed.Client, optional
        A synchronous client of the cluster that holds the shards (default: the current
        client, :func:`distributed.get_client`).
    index_cls : BinaryIndex subclass or callable, default LinearScanIndex
        Builds one (empty) shard: called as ``index_cls(n_bits)`` on the workers, so it must
        be picklable (a class, a module-level function or a :func:`functools.partial`).
    n_shards : int, optional
        Into how many shards each :meth:`add` of *numpy* codes is split (at most one code
        per shard). Default: the number of worker threads at the time of the add. Dask
        arrays are sharded by their row chunks instead.
    timeout : float, optional
        Seconds to wait for any cluster operation before raising :class:`TimeoutError`
        (default: wait indefinitely).
    hasher : fitted hasher, optional
        Enables :meth:`add_vectors` / :meth:`search_vectors` and is saved by :meth:`save`.
        It stays on the client (and is shipped with encoding tasks).

    Attributes
    ----------
    ntotal : int
        Number of codes held over all shards; codes of lost shards no longer count.
    degraded : bool
        Whether shards were lost because a worker holding them died; every operation
        that needs them then raises :class:`ShardLostError` naming them.
    lost_shards : tuple of (shard, first_id, n_codes)
        The lost shards.
    n_shards : int
        Number of shards currently held; it grows with every ``add`` (see Notes).
    shard_sizes : tuple of int
        Codes per shard, in global id order.
    codes : ndarray of uint8, shape (ntotal, ceil(n_bits / 8))
        Every code, gathered from the workers on each access (the client needs the memory).

    Notes
    -----
    * Every ``add`` creates new shards and never modifies existing ones (shards are
      immutable results of tasks, as Dask expects). Searches run one task per worker
      thread whatever the number of shards, but each shard is still searched separately
      within it: after many small adds, call :meth:`rebalance` to regroup them. ``add``
      returns once the new shards are built, so bad codes raise there.
    * Ids are contiguous per shard and merges sort by ``(distance, global id)``, so the
      results do not depend on how the codes are split or where the shards live.
    * Shards opened from index folders (:meth:`open_folder`) have lineage: when their
      worker dies, Dask reopens them on another worker and a search under way is run
      again, within ``timeout`` (else :class:`TimeoutError` naming the shards not back;
      :class:`ShardLostError` when a folder cannot be reopened).
    * Shards built from numpy codes come from data scattered to the workers, which has no
      lineage: if their worker dies they are lost. The index then says so
      (:attr:`degraded`, :attr:`lost_shards`, its ``repr``, an :attr:`ntotal` without
      them) and ``search``, ``range_search``, ``add``, ``codes``, ``save`` and
      ``rebalance`` raise :class:`ShardLostError` naming the lost shards and how to
      rebuild, also when the worker dies during the call. Shards built from a dask array
      are recomputed from its graph. Use ``client.replicate`` for redundancy.
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
    >>> index = ShardedIndex(32, client=client).add(database)
    >>> distances, ids = index.search(database[:3], k=5)
    >>> ids[:, 0]
    array([0, 1, 2])
    >>> index
    ShardedIndex(n_bits=32, n_shards=2, index_cls=LinearScanIndex, ntotal=1000)
    >>> client.close()
    >>> cluster.close()
    """

    _store: _ShardStore

    def __init__(
        self,
        n_bits: int,
        *,
        client: distributed.Client | None = None,
        index_cls: IndexFactory = LinearScanIndex,
        n_shards: int | None = None,
        timeout: float | None = None,
        hasher: Any = None,
    ) -> None:
        self._da, self._distributed = _require_dask("ShardedIndex")
        self._client = self._check_client(client)
        self._template = _check_factory(index_cls, n_bits)
        self._factory = index_cls
        if n_shards is not None:
            n_shards = check_int(n_shards, "n_shards", low=1)
        self._default_n_shards = n_shards
        self._timeout = _check_timeout(timeout)
        super().__init__(self._template.n_bits, hasher=hasher)

    def _check_client(self, client: Any) -> distributed.Client:
        distributed = self._distributed
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
        return client

    # -- BinaryIndex hooks: the codes live in shards on the workers ---------------------------
    def _new_store(self) -> _ShardStore:
        return _ShardStore(
            self._client,
            self._distributed,
            self._factory,
            self._template.n_bits,
            self._default_n_shards,
            self._timeout,
        )

    def _repr_fields(self) -> dict[str, str]:
        kind = getattr(self._factory, "__name__", None) or type(self._template).__name__
        fields = {"n_shards": str(self.n_shards), "index_cls": kind}
        lost = self._store.lost()
        if lost:
            fields["DEGRADED"] = f"{len(lost)} shards lost ({sum(s for _, _, s in lost)} codes)"
        return fields

    def _add(self, codes: np.ndarray, first_id: int) -> None:
        """Nothing left to do: the store built the new shards on the workers."""

    def _search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self._store.search(queries, k)

    def _range_search(
        self, queries: np.ndarray, radius: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        result = self._store.range_search(queries, radius)
        assert not isinstance(result, OverBudget)  # no budget, no refusal
        return result

    def _budgeted_range_search(
        self, queries: np.ndarray, radius: int, budget: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # One fan-out for every query: each shard searches under the whole budget and
        # refuses before allocating when it alone would pass it; the merged count is
        # checked here. Splitting the queries into blocks of budget // ntotal would send
        # one query per round trip from 10^8 codes. Results in transit: at most one
        # budget per group of shards.
        result = self._store.range_search(queries, radius, budget)
        if isinstance(result, OverBudget):
            raise self._over_budget(
                radius, queries.shape[0], budget, result.n_found, result.n_queries_done
            )
        if result[0][-1] > budget:
            raise self._counted_past_budget(radius, budget, result[0])
        return result

    def _check_codes(self, codes: Any, name: str) -> np.ndarray:
        # Every search and add validates its codes first: refuse them on a degraded index
        # before anything is sent to the cluster.
        action = "search" if name.startswith("query") else "add codes"
        self._store.require_intact(action)
        return super()._check_codes(codes, name)

    def _encode(self, X: Any, method: str) -> Any:
        """A dask ``X`` is encoded on the workers (:func:`encode_dask`), lazily."""
        hasher = self._require_hasher(method)
        if _is_dask_collection(X):
            return encode_dask(hasher, X)
        return hasher.encode(X)

    def _local_queries(self, query_codes: Any) -> Any:
        """Query codes on the client: a dask array is computed on the cluster first."""
        if _is_dask_collection(query_codes):
            return self._client.compute(query_codes).result(timeout=self.timeout)
        return query_codes

    # -- properties -------------------------------------------------------------------
    @property
    def client(self) -> distributed.Client:
        """The client of the cluster holding the shards."""
        return self._client

    @property
    def index_cls(self) -> IndexFactory:
        """What builds one shard: ``index_cls(n_bits)``."""
        return self._factory

    @property
    def n_shards(self) -> int:
        """Number of shards (each a non-empty index on a worker), lost ones included."""
        return len(self._store.shards)

    @property
    def degraded(self) -> bool:
        """Whether shards were lost (a worker holding them died): see :attr:`lost_shards`."""
        return bool(self._store.lost())

    @property
    def lost_shards(self) -> tuple[tuple[int, int, int], ...]:
        """``(shard, first_id, n_codes)`` of each shard the cluster no longer holds."""
        return tuple(self._store.lost())

    @property
    def shard_sizes(self) -> tuple[int, ...]:
        """Codes per shard, in global id order."""
        return tuple(shard.size for shard in self._store.shards)

    @property
    def timeout(self) -> float | None:
        """Seconds to wait for a cluster operation (None: indefinitely); settable."""
        return self._timeout

    @timeout.setter
    def timeout(self, timeout: float | None) -> None:
        self._timeout = self._store.timeout = _check_timeout(timeout)

    # -- the public contract, with dask arrays ----------------------------------------------
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
        if not _is_dask_collection(codes):
            super().add(codes)
            return self
        if not isinstance(codes, self._da.Array):
            raise TypeError(
                f"codes must be a numpy or dask array, got the dask collection "
                f"{type(codes).__name__}"
            )
        # Check dtype, dimensions and width from the metadata, without computing (the
        # values, e.g. padding bits, are checked by each shard's add on its worker).
        width = n_bytes(self._n_bits)
        meta_shape = (0, width) if codes.ndim == 2 else (0,) * codes.ndim
        self._check_codes(np.empty(meta_shape, dtype=codes.dtype), "codes")
        if not math.isnan(codes.shape[1]) and codes.shape[1] != width:
            self._check_codes(np.empty((0, codes.shape[1]), dtype=np.uint8), "codes")
        if len(codes.chunks[1]) > 1:
            codes = codes.rechunk({1: -1})
        self._store.append_dask(codes)
        return self

    def search(self, query_codes: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest codes of each query over all shards (global ids).

        As :meth:`BinaryIndex.search <hashlearn.index.BinaryIndex.search>`; a dask array
        of query codes is computed on the cluster first (queries come to the client).
        """
        return super().search(self._local_queries(query_codes), k)

    def range_search(
        self, query_codes: Any, radius: int, *, max_results: int | None = MAX_RANGE_RESULTS
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every stored code within Hamming distance ``radius`` of each query, over all shards.

        As :meth:`BinaryIndex.range_search <hashlearn.index.BinaryIndex.range_search>`
        (with its ``max_results`` budget, counted over all shards); a dask array of query
        codes is computed on the cluster first.
        """
        return super().range_search(
            self._local_queries(query_codes), radius, max_results=max_results
        )

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
            n_shards = check_int(n_shards, "n_shards", low=1)
        self._store.rebalance(n_shards)
        return self

    # -- local copies and persistence ----------------------------------------------------------
    def gather(self) -> BinaryIndex:
        """One local index (``index_cls(n_bits)``) holding every code, with the same ids.

        The codes of all shards are transferred to the client, which must have the memory
        for them. The hasher, when set, is attached to the returned index.
        """
        index = self._factory(self._n_bits)
        codes = self._store.view()
        if codes.shape[0]:
            index.add(codes)
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

    def save_folder(self, path: str | os.PathLike[str]) -> Path:
        """Save the index as a folder of index folders, one per shard, written where they live.

        Each shard is written as an index folder (``path/shard-00000``, ...) by a task on
        the worker holding it, so no code passes through the client; the client then
        writes ``path/manifest.json`` (layout in :mod:`hashlearn.index._shard_folders`)
        and the hasher, when set. The folder appears complete or not at all: it is built
        beside ``path`` and renamed into place, and a sharded folder already at ``path``
        is replaced only once the new one is complete. Reopen it with :meth:`open_folder`.

        ``path`` must name the same place on the client and on every worker: shared
        storage (NFS and the like), or a local disk for a :class:`~distributed.LocalCluster`.

        Returns
        -------
        pathlib.Path
            ``path``.

        Raises
        ------
        TypeError
            The shard type cannot be saved as an index folder (the message names those
            that can), or the hasher cannot be saved.
        FileExistsError
            ``path`` exists and is not a sharded index folder.
        ShardLostError
            Shards are lost.
        """
        return write_sharded_folder(self._store, path, type(self._template), self._hasher)

    @classmethod
    def build_folder(
        cls,
        path: str | os.PathLike[str],
        codes: str | os.PathLike[str],
        n_bits: int,
        client: distributed.Client | None = None,
        *,
        n_shards: int | None = None,
        index_cls: type[BinaryIndex] | None = None,
        n_tables: int | None = None,
        hasher: Any = None,
        chunk_size: int = 1 << 20,
        timeout: float | None = None,
    ) -> Path:
        """Build a sharded folder from a ``.npy`` of codes, each shard on a worker.

        The rows of ``codes`` are split into ``n_shards`` contiguous runs (default: one per
        worker thread); one task per run, spread over the workers, maps the codes file and
        writes the run's index folder with :func:`~hashlearn.index.build_index_folder`, a
        chunk at a time, so no code passes through the client and no worker holds more
        than a chunk. The client writes the manifest last; the folder appears complete or
        not at all. Open it with :meth:`open_folder`.

        Parameters
        ----------
        path : str or path-like
            The sharded folder to write (on storage every worker reaches at that path).
        codes : str or path-like
            A ``.npy`` of packed codes, readable by every worker at that path.
        n_bits : int
            The code length.
        client : distributed.Client, optional
            The cluster that builds the shards (default: the current client).
        n_shards : int, optional
            Number of shards (default: the number of worker threads).
        index_cls : {MultiIndexHashing, LinearScanIndex}, optional
            The shard type (default: :class:`~hashlearn.index.MultiIndexHashing`).
        n_tables, chunk_size
            As in :func:`~hashlearn.index.build_index_folder`.
        hasher : fitted hasher, optional
            Saved with the manifest and attached by :meth:`open_folder`.
        timeout : float, optional
            Seconds to wait for the shards to be built.

        Returns
        -------
        pathlib.Path
            ``path``.
        """
        from hashlearn.index._shard_folders import build_sharded_folder
        from hashlearn.index.multi_index import MultiIndexHashing

        _, distributed = _require_dask("ShardedIndex.build_folder")
        if client is None:
            client = distributed.get_client()
        n_bits = check_int(n_bits, "n_bits", low=1)
        if n_shards is None:
            n_shards = max(1, sum(client.nthreads().values()))
        n_shards = check_int(n_shards, "n_shards", low=1)
        shard_cls = MultiIndexHashing if index_cls is None else index_cls
        options: dict[str, Any] = {"index_cls": shard_cls, "chunk_size": chunk_size}
        if n_tables is not None:
            options["n_tables"] = n_tables
        if hasher is not None:
            shard_cls(n_bits).hasher = hasher  # checks it produces n_bits codes

        def wait(futures: list[Any]) -> None:
            distributed.wait(futures, timeout=_check_timeout(timeout))
            for future in futures:
                future.result()  # raises a shard's error

        return build_sharded_folder(client, wait, path, codes, n_bits, n_shards, options, hasher)

    @classmethod
    def open_folder(
        cls,
        path: str | os.PathLike[str],
        client: distributed.Client | None = None,
        *,
        timeout: float | None = None,
    ) -> ShardedIndex:
        """Open a folder written by :meth:`save_folder`: every worker maps its own shards.

        The client reads only ``path/manifest.json``; one task per shard (spread over the
        workers in turn) maps the shard's index folder with
        :func:`~hashlearn.index.load_index_folder` (``mmap=True``), so opening costs
        milliseconds per shard and the codes never pass through the client. ``path`` must
        be readable at the same place by every worker.

        The shards are read-only maps; :meth:`add` still works (it creates new shards in
        memory, built with the shard class and its default parameters). Because each shard
        is a task with a path as its input, a worker that dies does not lose its shards:
        Dask reopens them on another worker (see the class Notes).

        Parameters
        ----------
        path : str or path-like
            The sharded index folder.
        client : distributed.Client, optional
            The cluster that will hold the shards (default: the current client).
        timeout : float, optional
            As in the constructor.

        Returns
        -------
        ShardedIndex
            With the saved shards (same ids, same sizes), shard class and hasher.

        Raises
        ------
        FileNotFoundError
            No folder at ``path``.
        hashlearn.persistence.FileFormatError
            No or a malformed manifest, a missing shard folder, a shard folder that is
            incomplete or disagrees with the manifest (the message names it), or a shard
            class that cannot be opened from folders.
        """
        manifest, shard_class, hasher = read_manifest(path)
        sharded = cls(
            manifest["n_bits"], client=client, index_cls=shard_class, timeout=timeout, hasher=hasher
        )
        open_shards(sharded._store, path, manifest)
        return sharded

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        client: distributed.Client | None = None,
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
        client : distributed.Client, optional
            The cluster that will hold the shards (default: the current client).
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
        local = _load(path)
        if not isinstance(local, BinaryIndex):
            raise TypeError(
                f"{path} holds a {type(local).__name__}, not an index; ShardedIndex.load "
                "reads files written by ShardedIndex.save or an index's save"
            )
        sharded = cls(
            local.n_bits,
            client=client,
            index_cls=type(local) if index_cls is None else index_cls,
            n_shards=n_shards,
            timeout=timeout,
            hasher=local.hasher,
        )
        return sharded.add(local.codes)

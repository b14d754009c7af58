"""What every binary index shares: the search contract, validation, storage, persistence.

The search contract
-------------------
``index.add(codes)`` appends packed codes (:mod:`hashlearn.codes`); item ids are
``0 .. ntotal - 1`` in insertion order, and successive calls append.

``index.search(query_codes, k) -> (distances, indices)`` returns two
``(n_queries, min(k, ntotal))`` arrays, ``int32`` Hamming distances and ``int64`` database
ids. ``k`` is capped at the number of stored codes: asking for more neighbours than exist
returns every code, never columns of padding (so ``k=10**9`` over 1,000 codes costs what
``k=1000`` costs). A row holds fewer than ``min(k, ntotal)`` real results only when an
approximate index finds fewer; the missing entries are ``-1`` in *both* arrays.

``index.range_search(query_codes, radius) -> (lims, distances, indices)`` returns every
item within Hamming distance ``radius`` in CSR layout: query ``i``'s results are
``distances[lims[i]:lims[i + 1]]`` and ``indices[lims[i]:lims[i + 1]]``; ``lims`` is
``int64`` of shape ``(n_queries + 1,)``. A range search has a result budget,
``max_results`` (default :data:`MAX_RANGE_RESULTS`, ``None`` for none): a call that would
return more raises :class:`RangeResultLimitError` instead of filling the memory. When the
budget could be exceeded (``n_queries * ntotal > max_results``) the queries are answered
in blocks of at most ``max(1, max_results // ntotal)`` and the count checked after each
block, so a call holds at most about ``max_results + ntotal`` results at any time.
:class:`~hashlearn.index.LinearScanIndex` and :class:`~hashlearn.index.MultiIndexHashing`
count every query's results before they allocate them, so they answer all the queries at
once and refuse before allocating (from 10^8 codes, blocks would be single queries, each a
pass over the codes).

**Tie rule.** Every result list is sorted by ``(distance, database id)``: equal distances
are broken by the smaller database id, always, including at the ``k``-th position of
``search`` (the ``k`` results are the ``k`` smallest pairs ``(distance, id)``).

An empty index is legal: ``search`` returns ``(n_queries, 0)`` arrays and
``range_search`` empty lists.
"""

from __future__ import annotations

import dataclasses
import numbers
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sized
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from hashlearn import _validation
from hashlearn._progress import Progress, progress_bar
from hashlearn.codes import check_codes, n_bytes
from hashlearn.index._folder import read_folder, write_folder
from hashlearn.persistence import FileFormatError, nest_state, unnest_state
from hashlearn.persistence import save as _save

__all__ = [
    "MAX_RANGE_RESULTS",
    "BinaryIndex",
    "CodeStore",
    "RangeResultLimitError",
    "check_max_results",
    "check_radius",
    "load_index_folder",
]

#: Codes per chunk when :meth:`BinaryIndex.add_chunks` reads a ``.npy`` file (8 MiB of
#: 64-bit codes: large enough that the per-call cost vanishes, small next to any index).
ADD_CHUNK_SIZE = 1 << 20

#: Default result budget of one ``range_search`` call: 10**8 results are about 1.2 GB
#: (an int32 distance and an int64 id each).
MAX_RANGE_RESULTS = 10**8


class RangeResultLimitError(ValueError):
    """A range search would return more results than its ``max_results`` budget.

    Lower the radius, search fewer queries per call, or raise ``max_results``
    (``None`` lifts the budget). Attributes ``max_results``, ``n_found`` (results counted
    when the budget was hit) and ``n_queries_done`` (queries answered by then).
    """

    def __init__(self, message: str, *, max_results: int, n_found: int, n_queries_done: int):
        super().__init__(message)
        self.max_results = max_results
        self.n_found = n_found
        self.n_queries_done = n_queries_done


def check_radius(radius: Any, n_bits: int) -> int:
    """Return ``radius`` as an int in ``[0, n_bits]``: the radius rule of every index.

    The type and sign are checked by :func:`hashlearn._validation.check_radius`; radii
    above ``n_bits`` mean "everything" and are clipped to ``n_bits``.
    """
    return min(_validation.check_radius(radius), n_bits)


def check_max_results(max_results: Any) -> int | None:
    """Return ``max_results`` (a range search's result budget) as an int ``>= 1`` or None."""
    if max_results is None:
        return None
    if isinstance(max_results, bool) or not isinstance(max_results, numbers.Integral):
        raise TypeError(
            f"max_results must be an int >= 1 (the most results one range search may "
            f"return) or None (no budget), got {max_results!r}"
        )
    if max_results < 1:
        raise ValueError(
            f"max_results must be an int >= 1 (the most results one range search may "
            f"return) or None (no budget), got {int(max_results)}"
        )
    return int(max_results)


def _concatenate_stats(parts: list[Any]) -> Any:
    """One per-query statistics record from the records of consecutive query blocks.

    Array fields (per query along axis 0) are concatenated; other fields are taken from
    the first block.
    """
    first = parts[0] if parts else None
    if first is None or isinstance(first, type) or not dataclasses.is_dataclass(first):
        return parts[-1] if parts else None
    merged = {}
    for field in dataclasses.fields(first):
        values = [getattr(part, field.name) for part in parts]
        merged[field.name] = (
            np.concatenate(values) if isinstance(values[0], np.ndarray) else values[0]
        )
    return dataclasses.replace(first, **merged)


def _pad_results(
    distances: np.ndarray, indices: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pad ``(n, m)`` result arrays with ``-1`` columns to ``(n, k)`` (``m <= k``).

    Returns ``int32`` distances and ``int64`` indices.
    """
    n, m = indices.shape
    if m == k:
        return distances.astype(np.int32, copy=False), indices.astype(np.int64, copy=False)
    out_d = np.full((n, k), -1, dtype=np.int32)
    out_i = np.full((n, k), -1, dtype=np.int64)
    out_d[:, :m] = distances
    out_i[:, :m] = indices
    return out_d, out_i


class CodeStore(Protocol):
    """Where an index keeps its codes (see :meth:`BinaryIndex._new_store`).

    The default, an in-memory growable buffer, suits every local index; a store may keep
    the codes elsewhere (on cluster workers, for :class:`~hashlearn.index.ShardedIndex`)
    as long as it answers these four.
    """

    @property
    def size(self) -> int:
        """Number of codes held."""
        ...

    def append(self, rows: np.ndarray) -> None:
        """Append validated, non-empty codes (ids continue from :attr:`size`)."""

    def view(self) -> np.ndarray:
        """Every code held, ``uint8 (size, width)`` in id order (do not write to it)."""
        ...

    def clear(self) -> None:
        """Drop every code."""


class _CodeStore:
    """Growable ``(n, width)`` uint8 buffer: appends are amortised O(appended rows)."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.size = 0
        self._buffer = np.zeros((0, width), dtype=np.uint8)

    def append(self, rows: np.ndarray) -> None:
        needed = self.size + rows.shape[0]
        if needed > self._buffer.shape[0]:
            capacity = max(needed, 2 * self._buffer.shape[0], 1024)
            grown = np.zeros((capacity, self.width), dtype=np.uint8)
            grown[: self.size] = self._buffer[: self.size]
            self._buffer = grown
        self._buffer[self.size : needed, : rows.shape[1]] = rows
        self.size = needed

    def view(self) -> np.ndarray:
        """The stored rows (a C-contiguous view; do not write to it)."""
        return self._buffer[: self.size]

    def clear(self) -> None:
        self.size = 0
        self._buffer = np.zeros((0, self.width), dtype=np.uint8)

    @classmethod
    def adopt(cls, rows: np.ndarray) -> _CodeStore:
        """A store that takes ``rows`` (writable, C-contiguous, full width) without a copy."""
        store = cls(rows.shape[1])
        store._buffer = np.ascontiguousarray(rows)
        store.size = rows.shape[0]
        return store


class _MappedStore:
    """Codes mapped read-only from an index folder: searched in place, never appended to.

    Appending would either write into the folder (which other processes may be reading)
    or silently copy the whole mapped index into memory; both are worse than saying so.
    """

    def __init__(self, rows: np.ndarray, folder: Path, owner: str) -> None:
        self._rows = rows
        self._folder = folder
        self._owner = owner

    @property
    def size(self) -> int:
        return int(self._rows.shape[0])

    def append(self, rows: np.ndarray) -> None:
        raise ValueError(
            f"this {self._owner} maps its codes read-only from {self._folder}; to add codes, "
            f"open it with load_index_folder({str(self._folder)!r}, mmap=False), add, and "
            "save_folder() again"
        )

    def view(self) -> np.ndarray:
        return self._rows

    def clear(self) -> None:
        self._rows = self._rows[:0]


class BinaryIndex(ABC):
    """Base class of hashlearn's binary-code indexes (not to be used directly).

    Subclasses implement ``_add``, ``_search``, ``_range_search`` and ``_reset`` on
    validated input; this class validates, pads, and saves. See the module docstring
    for the search contract and the ``(distance, id)`` tie rule. Codes live in the
    :class:`CodeStore` that :meth:`_new_store` returns (in memory by default).

    Parameters
    ----------
    n_bits : int
        Code length in bits, in ``[1, 4096]`` (subclasses may narrow it).
    hasher : hasher, optional
        The fitted (or to-be-fitted) hasher that produced the codes. When set,
        :meth:`add_vectors` and :meth:`search_vectors` encode with it, and :meth:`save`
        stores it beside the index.
    """

    _persistence_kind = "index"
    # Whether save_folder / load_index_folder handle this class (its structures are arrays).
    _folder_support = False
    _max_bits = 4096

    def __init__(self, n_bits: int, *, hasher: Any = None) -> None:
        self._n_bits = _validation.check_n_bits(n_bits, max_bits=self._max_bits)
        self._n_bytes = n_bytes(self._n_bits)
        self._store: CodeStore = self._new_store()
        self.hasher = hasher

    # -- properties -------------------------------------------------------------------
    @property
    def n_bits(self) -> int:
        """Code length in bits."""
        return self._n_bits

    @property
    def ntotal(self) -> int:
        """Number of codes stored."""
        return self._store.size

    def __len__(self) -> int:
        return self.ntotal

    @property
    def codes(self) -> np.ndarray:
        """The stored codes, ``uint8 (ntotal, ceil(n_bits / 8))``, a read-only view."""
        view = self._store.view()[:, : self._n_bytes]
        view = view.view()
        view.flags.writeable = False
        return view

    @property
    def hasher(self) -> Any:
        """The hasher used by :meth:`add_vectors` / :meth:`search_vectors` (or None)."""
        return self._hasher

    @hasher.setter
    def hasher(self, hasher: Any) -> None:
        if hasher is not None:
            if not callable(getattr(hasher, "encode", None)):
                raise TypeError(
                    f"hasher must have an encode(X) method returning packed codes, "
                    f"got {type(hasher).__name__}"
                )
            hasher_bits = getattr(hasher, "n_bits", None)
            if isinstance(hasher_bits, (int, np.integer)) and hasher_bits != self._n_bits:
                raise ValueError(
                    f"hasher produces codes of n_bits={hasher_bits} but this index holds "
                    f"n_bits={self._n_bits}; they must match"
                )
        self._hasher = hasher

    def __repr__(self) -> str:
        fields = [f"n_bits={self._n_bits}"]
        fields += [f"{name}={text}" for name, text in self._repr_fields().items()]
        fields.append(f"ntotal={self.ntotal}")
        return f"{type(self).__name__}({', '.join(fields)})"

    # -- the public contract ------------------------------------------------------------
    def add(self, codes: Any) -> BinaryIndex:
        """Append packed codes; their ids continue from :attr:`ntotal`.

        Parameters
        ----------
        codes : ndarray of uint8, shape (n, ceil(n_bits / 8))
            Packed codes (see :mod:`hashlearn.codes`); ``n = 0`` is allowed.

        Returns
        -------
        self
        """
        array = self._check_codes(codes, "codes")
        if array.shape[0]:
            first_id = self.ntotal
            self._store.append(array)
            self._add(array, first_id)
        return self

    def search(self, query_codes: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest codes of each query by Hamming distance.

        Parameters
        ----------
        query_codes : ndarray of uint8, shape (n_queries, ceil(n_bits / 8))
        k : int
            Number of neighbours, ``>= 1``; values above :attr:`ntotal` act as
            :attr:`ntotal` (every stored code is returned).

        Returns
        -------
        distances : ndarray of int32, shape (n_queries, min(k, ntotal))
        indices : ndarray of int64, shape (n_queries, min(k, ntotal))
            Sorted by ``(distance, database id)``; padded with ``-1`` (in both arrays)
            where an approximate index finds fewer results.
        """
        queries = self._check_codes(query_codes, "query_codes")
        k = min(_validation.check_k(k), self.ntotal)
        if k == 0 or queries.shape[0] == 0:
            self._empty_search_stats(queries.shape[0])
            empty = np.empty((queries.shape[0], 0), dtype=np.int64)
            return _pad_results(empty.astype(np.int32), empty, k)
        distances, indices = self._search(queries, k)
        return _pad_results(distances, indices, k)

    def range_search(
        self, query_codes: Any, radius: int, *, max_results: int | None = MAX_RANGE_RESULTS
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every stored code within Hamming distance ``radius`` of each query.

        Parameters
        ----------
        query_codes : ndarray of uint8, shape (n_queries, ceil(n_bits / 8))
        radius : int
            Largest Hamming distance returned, ``>= 0`` (values above ``n_bits`` act
            as ``n_bits``).
        max_results : int or None, default MAX_RANGE_RESULTS (10**8)
            The most results (over all queries) this call may return; ``None``: no budget.

        Returns
        -------
        lims : ndarray of int64, shape (n_queries + 1,)
        distances : ndarray of int32, shape (lims[-1],)
        indices : ndarray of int64, shape (lims[-1],)
            Query ``i``'s results are ``[lims[i]:lims[i + 1]]``, sorted by
            ``(distance, database id)``.

        Raises
        ------
        RangeResultLimitError
            When the results would exceed ``max_results`` (nothing is returned; see the
            module docstring for the memory held before the budget is hit).
        """
        queries = self._check_codes(query_codes, "query_codes")
        radius = check_radius(radius, self._n_bits)
        budget = check_max_results(max_results)
        n_queries = queries.shape[0]
        if self.ntotal == 0 or n_queries == 0:
            self._empty_search_stats(n_queries)
            return (
                np.zeros(n_queries + 1, dtype=np.int64),
                np.empty(0, dtype=np.int32),
                np.empty(0, dtype=np.int64),
            )
        if budget is None or n_queries * self.ntotal <= budget:
            return self._range_search(queries, radius)
        return self._budgeted_range_search(queries, radius, budget)

    def _counted_past_budget(
        self, radius: int, budget: int, lims: np.ndarray
    ) -> RangeResultLimitError:
        """The refusal of a search that counted its results (CSR offsets ``lims``) before
        writing any and found more than ``budget``: at the first query that passes it."""
        n_queries = lims.shape[0] - 1
        done = min(int(np.searchsorted(lims[1:], budget, side="right")) + 1, n_queries)
        return self._over_budget(radius, n_queries, budget, int(lims[done]), done)

    @staticmethod
    def _over_budget(
        radius: int, n_queries: int, budget: int, found: int, done: int
    ) -> RangeResultLimitError:
        return RangeResultLimitError(
            f"range_search(radius={radius}) over {n_queries} queries would return "
            f"more than max_results={budget} results ({found} for the first {done} "
            "queries); lower the radius, search fewer queries per call, or pass a "
            "larger max_results (None: no budget)",
            max_results=budget,
            n_found=found,
            n_queries_done=done,
        )

    def _budgeted_range_search(
        self, queries: np.ndarray, radius: int, budget: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Range search in query blocks, refusing once more than ``budget`` results exist."""
        n_queries = queries.shape[0]
        block = max(1, budget // self.ntotal)
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        stats: list[Any] = []
        found = 0
        for start in range(0, n_queries, block):
            part = self._range_search(queries[start : start + block], radius)
            found += int(part[0][-1])
            if found > budget:
                done = min(start + block, n_queries)
                raise self._over_budget(radius, n_queries, budget, found, done)
            parts.append(part)
            stats.append(getattr(self, "last_stats_", None))
        if stats[0] is not None:
            self.last_stats_ = _concatenate_stats(stats)
        lims = np.zeros(n_queries + 1, dtype=np.int64)
        np.cumsum(np.concatenate([np.diff(part[0]) for part in parts]), out=lims[1:])
        return (
            lims,
            np.concatenate([part[1] for part in parts]).astype(np.int32, copy=False),
            np.concatenate([part[2] for part in parts]).astype(np.int64, copy=False),
        )

    def reset(self) -> BinaryIndex:
        """Remove every stored code (the hasher is kept); returns ``self``.

        A mapped index (:func:`load_index_folder`) lets its folder go and becomes an empty
        in-memory index.
        """
        if isinstance(self._store, _MappedStore):
            self._store = self._new_store()
        else:
            self._store.clear()
        self._reset()
        return self

    def add_chunks(
        self,
        chunks: Iterable[Any] | str | os.PathLike[str],
        *,
        chunk_size: int = ADD_CHUNK_SIZE,
        progress: Progress = False,
    ) -> BinaryIndex:
        """:meth:`add` codes chunk by chunk, holding one chunk of the input at a time.

        Parameters
        ----------
        chunks : iterable of code arrays, or path of a ``.npy`` file of codes
            Each chunk is what :meth:`add` takes. A path is mapped
            (``np.load(mmap_mode="r")``) and read ``chunk_size`` rows at a time, so a
            codes file larger than the memory can be added.
        chunk_size : int, default 2**20
            Rows per chunk when ``chunks`` is a path.
        progress : bool or callable, default False
            A tqdm bar on standard error (True), a callable receiving one message per
            chunk, or nothing (False).

        Returns
        -------
        self

        Notes
        -----
        Chunks are added as they come: when a chunk is refused (wrong width, not codes),
        the chunks before it stay added and :attr:`ntotal` says how many codes that is.
        """
        total: int | None = None
        source: Iterable[Any]
        if isinstance(chunks, str | os.PathLike):
            source, total = self._file_chunks(chunks, chunk_size)
        else:
            source = chunks
            total = len(chunks) if isinstance(chunks, Sized) else None
        tick, close = progress_bar(
            progress, total, desc=f"add to {type(self).__name__}", unit="chunk"
        )
        try:
            for chunk in source:
                self.add(chunk)
                tick(f"{self.ntotal} codes")
        finally:
            close()
        return self

    def _file_chunks(
        self, path: str | os.PathLike[str], chunk_size: int
    ) -> tuple[Iterable[np.ndarray], int]:
        """Row blocks of a mapped ``.npy`` file of codes, and how many blocks there are."""
        if (
            isinstance(chunk_size, bool)
            or not isinstance(chunk_size, numbers.Integral)
            or chunk_size < 1
        ):
            raise ValueError(f"chunk_size must be an int >= 1, got {chunk_size!r}")
        codes = np.load(path, mmap_mode="r", allow_pickle=False)
        if codes.dtype != np.uint8 or codes.ndim != 2 or codes.shape[1] != self._n_bytes:
            raise ValueError(
                f"{os.fspath(path)} holds {codes.dtype} {codes.shape}, but this "
                f"{type(self).__name__} takes packed codes, uint8 (n, {self._n_bytes}) "
                f"for n_bits={self._n_bits}"
            )
        step = int(chunk_size)
        starts = range(0, codes.shape[0], step)
        return (np.asarray(codes[start : start + step]) for start in starts), len(starts)

    # -- with the hasher -----------------------------------------------------------------
    def _require_hasher(self, method: str) -> Any:
        """:attr:`hasher`, or a ValueError saying that ``method`` needs one and how to set it."""
        if self._hasher is None:
            raise ValueError(
                f"{method} needs a hasher: pass hasher=... to {type(self).__name__}() or set "
                "index.hasher, or encode the vectors yourself and call the code-based method"
            )
        return self._hasher

    def _encode(self, X: Any, method: str) -> Any:
        """Codes of ``X`` by :attr:`hasher`, for the vector method ``method``."""
        return self._require_hasher(method).encode(X)

    def add_vectors(self, X: Any) -> BinaryIndex:
        """Encode ``X`` with :attr:`hasher` and :meth:`add` the codes; returns ``self``."""
        return self.add(self._encode(X, "add_vectors"))

    def search_vectors(self, X: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Encode ``X`` with :attr:`hasher`, then :meth:`search` the codes."""
        return self.search(self._encode(X, "search_vectors"), k)

    def range_search_vectors(
        self, X: Any, radius: int, *, max_results: int | None = MAX_RANGE_RESULTS
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Encode ``X`` with :attr:`hasher`, then :meth:`range_search` the codes."""
        return self.range_search(
            self._encode(X, "range_search_vectors"), radius, max_results=max_results
        )

    # -- validation ------------------------------------------------------------------------
    def _check_codes(self, codes: Any, name: str) -> np.ndarray:
        array = np.asarray(codes)
        if array.dtype == np.uint8 and array.ndim == 2 and array.shape[1] != self._n_bytes:
            what = "queries" if name.startswith("query") else "codes"
            raise ValueError(
                f"{name} has {array.shape[1]} bytes per code, but this "
                f"{type(self).__name__} holds codes of n_bits={self._n_bits} "
                f"({self._n_bytes} bytes per code); {what} of the wrong width cannot be "
                "compared"
            )
        return check_codes(array, self._n_bits, name=name)

    # -- persistence ------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the index (and its hasher, when set) without pickle; returns the path.

        Reload with :func:`hashlearn.load`.
        """
        return _save(self, path)

    def save_folder(self, path: str | os.PathLike[str]) -> Path:
        """Save the index as a folder of plain ``.npy`` arrays that can be mapped.

        The folder (layout in :mod:`hashlearn.index._folder`) appears complete or not at
        all: it is written beside ``path`` and renamed into place, and an index folder
        already at ``path`` is replaced only once the new one is complete. Reopen it with
        :func:`load_index_folder`. Returns ``path``.

        Raises
        ------
        TypeError
            The index class cannot be saved as a folder (only
            :class:`~hashlearn.index.LinearScanIndex`,
            :class:`~hashlearn.index.HashTableIndex` and
            :class:`~hashlearn.index.MultiIndexHashing` can), or its hasher cannot be saved.
        FileExistsError
            ``path`` exists and is not an index folder.
        """
        if not self._folder_support:
            raise TypeError(
                f"{type(self).__name__} cannot be saved as an index folder (LinearScanIndex, "
                "HashTableIndex and MultiIndexHashing can); use save(path) for a single file"
            )
        if self._hasher is not None and not callable(getattr(self._hasher, "_get_state", None)):
            raise TypeError(
                f"cannot save {type(self).__name__}: its hasher {type(self._hasher).__name__} "
                "cannot be saved by hashlearn; set index.hasher = None to save the codes alone"
            )
        params = self._folder_params()
        arrays = {"codes": self._store.view(), **self._folder_arrays()}
        return write_folder(
            path,
            class_name=type(self).__name__,
            params=params,
            n_bits=self._n_bits,
            ntotal=self.ntotal,
            arrays=arrays,
            hasher=self._hasher,
        )

    def _folder_params(self) -> dict[str, Any]:
        """The constructor arguments an index folder stores (JSON values)."""
        return {"n_bits": self._n_bits}

    def _folder_arrays(self) -> dict[str, np.ndarray]:
        """Arrays beside ``codes`` in an index folder (default: none)."""
        return {}

    def _open_folder(self, codes: np.ndarray, arrays: dict[str, np.ndarray], folder: Path) -> None:
        """Take the codes (and structures) of an index folder as this index's own."""
        if codes.dtype != np.uint8 or codes.shape[1] != self._storage_width():
            raise ValueError(
                f"codes.npy holds {codes.dtype} rows of {codes.shape[1]} bytes, "
                f"{type(self).__name__} with n_bits={self._n_bits} stores uint8 rows of "
                f"{self._storage_width()}"
            )
        if isinstance(codes, np.memmap):
            self._store = _MappedStore(codes, folder, type(self).__name__)
        else:
            self._store = _CodeStore.adopt(codes)

    def __reduce_ex__(self, protocol: Any) -> Any:
        # A mapped index pickles as its folder's path: unpickling maps the folder again
        # instead of copying every code into the pickle (Dask pickles a shard it moves
        # between workers). Other indexes pickle as usual.
        if isinstance(self._store, _MappedStore):
            return (_reopen_mapped, (str(self._store._folder), self.ntotal, self._hasher))
        return super().__reduce_ex__(protocol)

    def _get_state(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, np.ndarray]]:
        params: dict[str, Any] = {"n_bits": self._n_bits}
        attributes: dict[str, Any] = {"ntotal": self.ntotal, "hasher": None}
        arrays: dict[str, np.ndarray] = {"codes": np.ascontiguousarray(self.codes)}
        if self._hasher is not None:
            if not callable(getattr(self._hasher, "_get_state", None)):
                raise TypeError(
                    f"cannot save {type(self).__name__}: its hasher "
                    f"{type(self._hasher).__name__} cannot be saved by hashlearn; set "
                    "index.hasher = None to save the codes alone"
                )
            meta, hasher_arrays = nest_state("hasher", self._hasher)
            attributes["hasher"] = meta
            arrays.update(hasher_arrays)
        self._extra_state(attributes, arrays)
        return params, attributes, arrays

    @classmethod
    def _from_state(
        cls, params: dict[str, Any], attributes: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> BinaryIndex:
        index = cls(**params)
        stored = arrays.get("codes")
        if stored is None:
            raise ValueError(f"corrupt {cls.__name__} file: the 'codes' array is missing")
        try:
            stored = check_codes(stored, index.n_bits, name="stored codes")
        except (TypeError, ValueError) as exc:
            raise ValueError(f"corrupt {cls.__name__} file: {exc}") from exc
        ntotal = attributes.get("ntotal", stored.shape[0])
        if isinstance(ntotal, bool) or not isinstance(ntotal, int) or stored.shape[0] != ntotal:
            raise ValueError(
                f"corrupt {cls.__name__} file: ntotal={attributes.get('ntotal')} but "
                f"{stored.shape[0]} codes are stored"
            )
        if attributes.get("hasher"):
            index.hasher = unnest_state("hasher", attributes["hasher"], arrays, kind="hasher")
        index._restore(stored, attributes, arrays)
        return index

    def _extra_state(  # noqa: B027 (optional hook)
        self, attributes: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> None:
        """Add subclass state to what :meth:`save` writes (default: nothing)."""

    def _restore(
        self, codes: np.ndarray, attributes: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> None:
        """Rebuild the index from saved state (default: add the codes again)."""
        if codes.shape[0]:
            self._store.append(codes)
            self._add(codes, 0)

    # -- what subclasses provide -----------------------------------------------------------
    def _new_store(self) -> CodeStore:
        """Where the codes live (default: a growable in-memory buffer, see :class:`CodeStore`)."""
        return _CodeStore(self._storage_width())

    def _repr_fields(self) -> dict[str, str]:
        """Parameters ``repr`` shows between ``n_bits`` and ``ntotal``, as text (default: none)."""
        return {}

    def _storage_width(self) -> int:
        """Bytes per stored row (``>= ceil(n_bits / 8)``; extra bytes stay zero)."""
        return self._n_bytes

    def _empty_search_stats(self, n_queries: int) -> None:  # noqa: B027 (optional hook)
        """Record statistics for a search that had nothing to do (default: nothing)."""

    @abstractmethod
    def _add(self, codes: np.ndarray, first_id: int) -> None:
        """Update subclass structures after validated, non-empty ``codes`` were stored.

        ``codes`` received ids ``first_id .. first_id + len(codes) - 1``.
        """

    @abstractmethod
    def _search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """k-NN on validated non-empty input, ``1 <= k <= ntotal``; may return fewer
        than k columns (the rest is padded with ``-1``)."""

    @abstractmethod
    def _range_search(
        self, queries: np.ndarray, radius: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Range search on validated non-empty input, ``0 <= radius <= n_bits``."""

    def _reset(self) -> None:  # noqa: B027 (optional hook)
        """Clear subclass structures (the code store is already cleared)."""


def _reopen_mapped(folder: str, ntotal: int, hasher: Any) -> BinaryIndex:
    """Unpickle a mapped index: map its folder again (see ``BinaryIndex.__reduce_ex__``)."""
    index = load_index_folder(folder, mmap=True)
    if index.ntotal != ntotal:
        raise FileFormatError(
            f"cannot unpickle the index mapped from {folder}: the folder now holds "
            f"{index.ntotal} codes, the pickled index held {ntotal} (it was saved again)"
        )
    index.hasher = hasher
    return index


def load_index_folder(path: str | os.PathLike[str], *, mmap: bool = True) -> BinaryIndex:
    """Open an index folder written by :meth:`BinaryIndex.save_folder`.

    Parameters
    ----------
    path : path-like
        The folder.
    mmap : bool, default True
        Map the arrays read-only (``np.load(mmap_mode="r")``) instead of reading them:
        opening costs milliseconds whatever the size, and searches read the pages they
        touch. A mapped index cannot :meth:`~BinaryIndex.add` (it raises ``ValueError``;
        open with ``mmap=False`` to add, then save again). ``False`` reads every array
        into memory.

    Returns
    -------
    BinaryIndex
        The index, of the class the folder names, with its hasher when one was saved.

    Raises
    ------
    FileNotFoundError
        No folder at ``path``.
    hashlearn.persistence.FileFormatError
        The folder is incomplete (no ``manifest.json``, a missing or truncated array), of
        another format version, or its arrays disagree with the manifest or the class.

    Notes
    -----
    Opening checks shapes, dtypes and sizes, not the content (that would read the whole
    index): a folder edited by hand can give wrong answers.
    """
    cls, manifest, arrays, hasher = read_folder(path, mmap=mmap)
    folder = Path(path)
    try:
        index = cls(**manifest["params"])
        if index.n_bits != manifest.get("n_bits"):
            raise ValueError(f"n_bits={manifest.get('n_bits')!r} disagrees with the params")
        codes = arrays.pop("codes")
        index._open_folder(codes, arrays, folder)
        index.hasher = hasher
    except (TypeError, ValueError, KeyError) as exc:
        raise FileFormatError(f"{folder}: {exc}") from exc
    return index

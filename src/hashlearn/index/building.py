"""Index folders built from codes larger than the memory, one chunk at a time.

:meth:`~hashlearn.index.BinaryIndex.save_folder` writes an index that is already in
memory. :func:`build_index_folder` writes the folder straight from a codes file (or an
array, a Dask array, an iterator of chunks), holding one chunk of codes at a time, so an
index of 10^9 codes is built on a machine with less memory than the index:

* ``codes.npy`` is created as a memory-mapped file and filled chunk by chunk (each chunk
  validated as packed codes of ``n_bits``, rows padded to whole 64-bit words);
* for :class:`~hashlearn.index.MultiIndexHashing`, each substring table is a counting sort
  (:mod:`hashlearn.index._kernels.counting`) in passes over the mapped codes: a histogram
  of the substring keys, then every id written at its key's next position in a
  memory-mapped ``mih_ids.npy`` (a first histogram pass over every table counts its
  distinct keys, so that the bucket arrays are mapped files written in place too).
  Memory: one chunk, plus a few integers per possible key (``2**length`` for substrings
  of ``length`` bits, at most ``2**MAX_KEY_BITS``); the page cache holds what it can of
  the mapped files and writes the rest back.

The folder is written like every index folder: in a staging folder beside ``path``,
flushed, the manifest last, then renamed into place, so a crash or an error part-way
leaves the previous folder at ``path`` as it was. :func:`append_to_index_folder` rebuilds
a folder with more codes the same way (the old folder is read while the new one is
written, and replaced only when that is complete).

The result is the folder :meth:`save_folder` would write for the same codes (the same
arrays, byte for byte: tested), opened with :func:`~hashlearn.index.load_index_folder`.
"""

from __future__ import annotations

import itertools
import numbers
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from hashlearn._io import atomic_folder
from hashlearn._progress import Progress, progress_bar
from hashlearn._validation import check_int
from hashlearn.codes import check_codes, n_bytes
from hashlearn.index._base import ADD_CHUNK_SIZE, BinaryIndex
from hashlearn.index._folder import check_target, read_folder, write_manifest
from hashlearn.index._kernels import mih
from hashlearn.index._kernels.counting import key_histogram, scatter_ids
from hashlearn.index.linear_scan import LinearScanIndex
from hashlearn.index.multi_index import (
    TABLE_ARRAYS,
    MultiIndexHashing,
    folder_table_arrays,
    recommended_n_tables,
    substring_layout,
)

__all__ = ["MAX_KEY_BITS", "append_to_index_folder", "build_index_folder"]

#: Longest substring (table key) the counting sort takes: its histogram and cursor are
#: ``2**MAX_KEY_BITS`` int64 each (512 MiB at 26 bits).
MAX_KEY_BITS = 26

_BUILDABLE = (LinearScanIndex, MultiIndexHashing)


class _Source:
    """Codes to write: their number and a way to read them ``chunk_size`` rows at a time."""

    def __init__(self, n: int, chunks: Callable[[int], Iterator[np.ndarray]]) -> None:
        self.n = n
        self.chunks = chunks


def _array_source(codes: Any, what: str) -> _Source:
    """An array-like with ``shape`` and row slicing (ndarray, memmap, Dask array, zarr)."""
    shape = tuple(codes.shape)
    if len(shape) != 2:
        raise ValueError(f"{what} must be 2-D packed codes (n, n_bytes), got shape {shape}")
    n = int(shape[0])

    def chunks(size: int) -> Iterator[np.ndarray]:
        for start in range(0, n, size):
            yield np.asarray(codes[start : start + size])

    return _Source(n, chunks)


def _spill(chunks: Iterable[Any], staging: Path, n_bits: int) -> _Source:
    """Write an iterator of chunks to a raw file in ``staging``: its length is not known."""
    width = n_bytes(n_bits)
    spill = staging / ".chunks.raw"
    n = 0
    with spill.open("wb") as handle:
        for number, chunk in enumerate(chunks):
            rows = check_codes(chunk, n_bits, name=f"chunk {number}")
            handle.write(rows.tobytes())
            n += rows.shape[0]
    raw = np.memmap(spill, dtype=np.uint8, mode="r", shape=(n, width)) if n else None
    return _array_source(raw if raw is not None else np.zeros((0, width), np.uint8), "chunks")


def _source(codes: Any, staging: Path, n_bits: int) -> _Source:
    if isinstance(codes, str | os.PathLike):
        array = np.load(codes, mmap_mode="r", allow_pickle=False)
        return _array_source(array, os.fspath(codes))
    if hasattr(codes, "shape") and hasattr(codes, "__getitem__"):
        return _array_source(codes, "codes")
    if isinstance(codes, Iterable):
        return _spill(codes, staging, n_bits)
    raise TypeError(
        "codes must be the path of a .npy of packed codes, an array (numpy, memory map, "
        f"Dask) or an iterable of code chunks, got {type(codes).__name__}"
    )


def _check_chunk_size(chunk_size: Any) -> int:
    if (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, numbers.Integral)
        or chunk_size < 1
    ):
        raise ValueError(f"chunk_size must be an int >= 1, got {chunk_size!r}")
    return int(chunk_size)


def _resolve_tables(n_bits: int, n: int, n_tables: int | None) -> int:
    """The number of substrings: the given one, else the paper's choice, with substrings
    of at most :data:`MAX_KEY_BITS` bits (the counting sort's histogram)."""
    shortest_allowed = -(-n_bits // MAX_KEY_BITS)
    if n_tables is None:
        return min(max(recommended_n_tables(n_bits, n), shortest_allowed), n_bits)
    if n_tables < shortest_allowed:
        raise ValueError(
            f"n_tables={n_tables} gives substrings of {-(-n_bits // n_tables)} bits, but "
            f"build_index_folder sorts substrings of at most {MAX_KEY_BITS} bits (its "
            f"histogram has 2**bits entries); use n_tables >= {shortest_allowed}"
        )
    return n_tables


def build_index_folder(
    path: str | os.PathLike[str],
    codes: Any,
    n_bits: int,
    *,
    index_cls: type[BinaryIndex] = MultiIndexHashing,
    n_tables: int | None = None,
    n_threads: int | None = None,
    hasher: Any = None,
    chunk_size: int = ADD_CHUNK_SIZE,
    progress: Progress = False,
) -> Path:
    """Write an index folder of ``codes`` holding one chunk of them in memory at a time.

    Parameters
    ----------
    path : path-like
        The folder to write; an index folder already there is replaced once the new one is
        complete (anything else at ``path`` is refused).
    codes : path of a ``.npy``, array-like or iterable of arrays
        Packed codes ``uint8 (n, ceil(n_bits / 8))``: a ``.npy`` file (mapped, never read
        whole), a numpy array or memory map, a Dask array (computed a chunk at a time), or
        an iterable of chunks (written to a scratch file in the staging folder first, since
        their number is not known in advance).
    n_bits : int
        The code length.
    index_cls : {MultiIndexHashing, LinearScanIndex}, default MultiIndexHashing
        The index the folder holds. Other classes: build them in memory
        (:meth:`~hashlearn.index.BinaryIndex.add_chunks`) and ``save_folder``.
    n_tables : int, optional
        Substrings of :class:`~hashlearn.index.MultiIndexHashing` (default: its
        :func:`~hashlearn.index.multi_index.recommended_n_tables` for the number of codes,
        raised so that no substring exceeds :data:`MAX_KEY_BITS` bits).
    n_threads : int, optional
        Stored with the index, as its constructor takes it.
    hasher : fitted hasher, optional
        Saved in the folder (``hasher.hlz``); it must produce ``n_bits`` codes.
    chunk_size : int, default 2**20
        Codes read, validated and sorted at a time.
    progress : bool or callable, default False
        A tqdm bar on standard error (True), a callable receiving one message per chunk
        pass, or nothing.

    Returns
    -------
    Path
        ``path``; open it with :func:`~hashlearn.index.load_index_folder`.

    Raises
    ------
    TypeError
        ``index_cls`` cannot be built out of core, or ``codes`` is not codes.
    ValueError
        A chunk is not packed codes of ``n_bits`` (its number is named), or ``n_tables``
        gives substrings longer than :data:`MAX_KEY_BITS` bits.
    FileExistsError
        ``path`` exists and is not an index folder.
    """
    n_bits = check_int(n_bits, "n_bits", low=1)
    chunk_size = _check_chunk_size(chunk_size)
    if index_cls not in _BUILDABLE:
        raise TypeError(
            f"build_index_folder builds LinearScanIndex and MultiIndexHashing folders, not "
            f"{getattr(index_cls, '__name__', index_cls)!r}; build other indexes in memory "
            "with index.add_chunks(...) and write them with index.save_folder(path)"
        )
    template: BinaryIndex
    if index_cls is MultiIndexHashing:
        template = MultiIndexHashing(n_bits, n_tables=n_tables, n_threads=n_threads)
    else:
        template = LinearScanIndex(n_bits, n_threads=n_threads)
    template.hasher = hasher  # checks its n_bits
    target = check_target(path)
    with atomic_folder(target) as staging:
        _build(staging, _source(codes, staging, n_bits), template, chunk_size, progress)
    return target


def append_to_index_folder(
    path: str | os.PathLike[str],
    codes: Any,
    *,
    chunk_size: int = ADD_CHUNK_SIZE,
    progress: Progress = False,
) -> Path:
    """Rebuild the index folder at ``path`` with ``codes`` added after its own.

    The new codes get ids ``ntotal ..`` as :meth:`~hashlearn.index.BinaryIndex.add` gives
    them. The folder's class, parameters and hasher are kept, and a
    :class:`~hashlearn.index.MultiIndexHashing` keeps its number of tables. The new folder
    is written beside the old one (the disk needs room for both) and replaces it only
    when complete: a crash or a refused chunk leaves the old folder as it was. Processes
    that mapped the old folder keep reading it until they reopen. ``codes``,
    ``chunk_size`` and ``progress`` are as in :func:`build_index_folder`.

    Returns
    -------
    Path
        ``path``.
    """
    chunk_size = _check_chunk_size(chunk_size)
    cls, manifest, arrays, hasher = read_folder(path, mmap=True)
    if cls not in _BUILDABLE:
        raise TypeError(
            f"{path} holds a {cls.__name__}; append_to_index_folder rebuilds LinearScanIndex "
            "and MultiIndexHashing folders (open others with mmap=False, add, save_folder)"
        )
    template = cls(**manifest["params"])
    template.hasher = hasher
    old_codes = arrays["codes"][:, : n_bytes(template.n_bits)]
    target = Path(path)
    with atomic_folder(target) as staging:
        new = _source(codes, staging, template.n_bits)
        old = _array_source(old_codes, str(target / "codes.npy"))

        def chunks(size: int) -> Iterator[np.ndarray]:
            return itertools.chain(old.chunks(size), new.chunks(size))

        _build(staging, _Source(old.n + new.n, chunks), template, chunk_size, progress)
    return target


def _build(
    staging: Path, source: _Source, template: BinaryIndex, chunk_size: int, progress: Progress
) -> None:
    n_bits = template.n_bits
    n = source.n
    n_chunks = -(-n // chunk_size)
    m = 0
    if isinstance(template, MultiIndexHashing) and n:
        m = _resolve_tables(n_bits, n, template.n_tables)
    tick, close = progress_bar(
        progress,
        n_chunks * (1 + 2 * m),
        desc=f"build {type(template).__name__} folder",
        unit="chunk",
    )
    try:
        codes = _write_codes(staging, source, n_bits, template._storage_width(), chunk_size, tick)
        arrays: dict[str, np.ndarray] = {"codes": codes}
        params = template._folder_params()
        if isinstance(template, MultiIndexHashing):
            if n:
                arrays.update(_write_tables(staging, codes, n_bits, m, chunk_size, tick))
                params["n_tables"] = m
            else:
                arrays.update(_save_small(staging, template._folder_arrays()))
        write_manifest(
            staging,
            class_name=type(template).__name__,
            params=params,
            n_bits=n_bits,
            ntotal=n,
            arrays=arrays,
            hasher=template.hasher,
        )
    finally:
        close()
    (staging / ".chunks.raw").unlink(missing_ok=True)


def _write_codes(
    staging: Path,
    source: _Source,
    n_bits: int,
    width: int,
    chunk_size: int,
    tick: Callable[[str], None],
) -> np.ndarray:
    """``codes.npy`` filled from ``source`` chunk by chunk (rows zero-padded to ``width``)."""
    out = np.lib.format.open_memmap(
        staging / "codes.npy", mode="w+", dtype=np.uint8, shape=(source.n, width)
    )
    used = n_bytes(n_bits)
    written = 0
    for number, chunk in enumerate(source.chunks(chunk_size)):
        rows = check_codes(chunk, n_bits, name=f"codes chunk {number} (rows {written}..)")
        if written + rows.shape[0] > source.n:
            raise ValueError(f"the codes hold more rows than the {source.n} announced")
        out[written : written + rows.shape[0], :used] = rows
        written += rows.shape[0]
        tick(f"{written} codes written")
    if written != source.n:
        raise ValueError(f"the codes held {written} rows, {source.n} were announced")
    out.flush()
    return out


def _key_counts(
    words: np.ndarray,
    start: int,
    length: int,
    chunk_size: int,
    tick: Callable[[str], None],
    message: str,
) -> np.ndarray:
    """How many codes carry each value of bits ``start .. start + length - 1``."""
    counts = np.zeros(2**length, dtype=np.int64)
    for first in range(0, words.shape[0], chunk_size):
        key_histogram(np.asarray(words[first : first + chunk_size]), start, length, counts)
        tick(message)
    return counts


def _write_tables(
    staging: Path,
    codes: np.ndarray,
    n_bits: int,
    m: int,
    chunk_size: int,
    tick: Callable[[str], None],
) -> dict[str, np.ndarray]:
    """The ``m`` substring tables of the mapped ``codes``, sorted by counting (module doc).

    A first pass counts each table's distinct keys, so that the bucket arrays (16 bytes
    per distinct key per table: 10 GB for ten tables of 10^8 uniform 256-bit codes) are
    written in place in mapped files rather than held until every table is sorted.
    """
    n = codes.shape[0]
    words = codes.view(np.uint64)
    starts, lengths = substring_layout(n_bits, m)

    def mapped(name: str, dtype: Any, shape: tuple[int, ...]) -> np.memmap:
        return np.lib.format.open_memmap(
            staging / f"{name}.npy", mode="w+", dtype=dtype, shape=shape
        )

    n_buckets = np.zeros(m, dtype=np.int64)
    for i in range(m):
        message = f"table {i + 1}/{m}: distinct keys"
        counts = _key_counts(words, int(starts[i]), int(lengths[i]), chunk_size, tick, message)
        n_buckets[i] = np.count_nonzero(counts)
    del counts
    names = iter(TABLE_ARRAYS)
    ids = mapped(next(names), np.int32 if n < 2**31 else np.int64, (m, n))
    width = int(n_buckets.max())
    bucket_keys = mapped(next(names), np.uint64, (m, width))
    bucket_offsets = mapped(next(names), np.int64, (m, width + 1))
    for i in range(m):
        start, length = int(starts[i]), int(lengths[i])
        message = f"table {i + 1}/{m}: keys counted"
        counts = _key_counts(words, start, length, chunk_size, tick, message)
        present = np.flatnonzero(counts)
        cursor = np.cumsum(counts) - counts
        del counts
        bucket_keys[i, : n_buckets[i]] = present
        bucket_offsets[i, : n_buckets[i]] = cursor[present]
        bucket_offsets[i, n_buckets[i] :] = n
        del present
        row = np.asarray(ids[i])
        for first in range(0, n, chunk_size):
            chunk = np.asarray(words[first : first + chunk_size])
            scatter_ids(chunk, first, start, length, cursor, row)
            tick(f"table {i + 1}/{m}: ids placed")
        del cursor
    for array in (ids, bucket_keys, bucket_offsets):
        array.flush()
    occupancy = mih.occupancy_index(bucket_keys, n_buckets, int(lengths.max()), n)
    arrays = folder_table_arrays(ids, bucket_keys, bucket_offsets, n_buckets, occupancy)
    small = {
        name: array for name, array in arrays.items() if array is n_buckets or array is occupancy
    }
    _save_small(staging, small)
    return arrays


def _save_small(staging: Path, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    for name, array in arrays.items():
        with (staging / f"{name}.npy").open("wb") as handle:
            np.save(handle, array, allow_pickle=False)
    return arrays

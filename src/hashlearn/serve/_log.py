"""A durable append-only log of the search service's writes, and the codec of its add records.

``hashlearn serve BUNDLE --writable`` acknowledges an add only once it is on disk: the
server appends it to an :class:`AppendLog` (``write`` then ``fsync``) before answering, and
at start replays :meth:`AppendLog.records` into the in-memory index, so a ``kill -9`` or a
power cut right after an acknowledgement loses nothing. Each payload is usually an
:class:`AddRecord` (:meth:`AddRecord.to_bytes`); the log itself stores opaque bytes.

Log file format (version 1)
---------------------------
All integers are unsigned little-endian. CRC-32 is ``zlib.crc32`` (the ISO-HDLC / PKZIP
polynomial ``0xEDB88320``, initial value 0, final XOR), written as ``u32``.

The file starts with a 24-byte header:

======  =====  ==================================================================
offset  bytes  field
======  =====  ==================================================================
0       8      magic ``89 48 4C 4C 4F 47 0D 0A`` (``b"\\x89HLLOG\\r\\n"``)
8       4      format version, ``u32`` = 1
12      8      salt: 8 random bytes chosen when the file is created
20      4      ``crc32(bytes 0..19)``
======  =====  ==================================================================

Records follow back to back, from byte 24 to the end of the file. A record is a 32-byte
header and its payload:

======  =====  ==================================================================
offset  bytes  field
======  =====  ==================================================================
0       4      marker ``b"HLRC"``
4       4      payload length ``n``, ``u32``
8       8      batch number, ``u64``: 0 for the first :meth:`AppendLog.append` call
               of the file, then +1 per call
16      4      index of the record in its batch, ``u32``, from 0
20      4      flags, ``u32``: bit 0 set on the last record of its batch; every other
               bit is 0
24      4      ``crc32(payload)``
28      4      ``crc32(record bytes 0..27)`` seeded with the salt, that is
               ``zlib.crc32(header[:28], zlib.crc32(salt))``
32      ``n``  payload
======  =====  ==================================================================

A record is *intact* when its marker, header CRC and payload CRC match, its flags have no
unknown bit and its payload lies inside the file. The salted header CRC keeps log bytes
copied from another log (or planted in a payload by someone who cannot read this file)
from passing as records of this one.

Reading. From byte 24, intact records must come in sequence (batch 0 record 0, 1, ... to
the one flagged *last*, then batch 1 record 0, ...); one out of sequence is an error. The
log holds the **complete batches** only, so an append is atomic: after a crash all of its
payloads are replayed or none. The *committed end* is the end of the last complete batch.

Recovery, on open. The bytes after the committed end (the tail) are the last append,
which never finished and so was never acknowledged, **unless** the tail holds anywhere
(found by scanning for the marker) an intact record of a batch numbered above the one in
progress: batch ``k + 1`` is written only once batch ``k`` is fsynced, so that proves
acknowledged records damaged, and opening raises :class:`CorruptLogError` with the file
and the offset of the first damaged record, changing nothing. Otherwise the tail is
truncated (and fsynced) with a :class:`TornTailWarning` giving the bytes dropped. Intact
records of the batch in progress after a damaged one go too: after a power cut a disk
may keep a later page of an unfsynced write and lose an earlier one (so damage inside
the file's last batch reads as a torn write, as damage to a lone last record must). A
file shorter than 24 bytes that is a prefix of a header (a creation cut before its
fsync) is initialised again, with a warning unless it is empty.

Limits: one payload is at most ``max_payload_bytes`` (64 MiB unless set, at most
``2**32 - 1``); a length read from disk is checked against the file size before any
payload is read. Locking uses ``fcntl.flock``, so the log needs a POSIX system and a
local file system (``flock`` is advisory and not reliable on every network file system).

Add record format (version 1)
-----------------------------
An :class:`AddRecord` is serialised as:

======  =====  ==================================================================
offset  bytes  field
======  =====  ==================================================================
0       4      magic ``b"HLAD"``
4       4      ``J``, the length of the JSON header, ``u32``, at most 4096
8       ``J``  UTF-8 JSON object, exactly these keys: ``version`` (1), ``first_id``
               (int >= 0), ``n`` (items, int >= 1), ``codes`` (an array spec),
               ``labels``, ``vectors`` (an array spec or null) and ``texts`` (null
               or ``{"nbytes": int}``). An array spec is ``{"dtype": str, "shape":
               [int, ...]}``.
8+J     ...    the arrays, each C-order, back to back with no padding: ``codes``
               (``"|u1"``, shape ``[n, w]``), then ``labels`` (``"<i8"`` shape
               ``[n]``, or ``"|u1"`` shape ``[n, L]`` with values 0 and 1), then
               ``vectors`` (``"<f4"`` shape ``[n, d]``, finite), then, when texts
               are present, their UTF-8 byte lengths (``"<i8"``, ``n`` values) and
               the ``nbytes`` bytes of the texts' UTF-8 encodings, concatenated
======  =====  ==================================================================

``w``, ``L`` and ``d`` are at least 1. The record's size must be exactly what its header
declares; nothing follows. Item ``i`` of the record gets the id ``first_id + i``.
"""

from __future__ import annotations

import fcntl
import json
import mmap
import os
import struct
import sys
import threading
import warnings
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "AddRecord",
    "AppendLog",
    "CorruptLogError",
    "LogFailedError",
    "LogInUseError",
    "TornTailWarning",
]

#: The default largest payload :meth:`AppendLog.append` accepts (64 MiB).
MAX_PAYLOAD_BYTES = 64 * 2**20

FILE_MAGIC = b"\x89HLLOG\r\n"
FORMAT_VERSION = 1
RECORD_MARKER = b"HLRC"
#: Flag bit of the last record of a batch.
LAST_IN_BATCH = 1
_FILE_HEADER = struct.Struct("<8sI8sI")
_RECORD_HEADER = struct.Struct("<4sIQIIII")
_HEADER_CRC = struct.Struct("<I")
# The largest payload length the u32 field can hold.
_LENGTH_LIMIT = 2**32 - 1
_BYTES = bytes | bytearray | memoryview


class CorruptLogError(ValueError):
    """The log file is not a hashlearn log, or acknowledged records in it are damaged.

    ``path`` is the file and ``offset`` the byte offset of the damage.
    """

    def __init__(self, path: Path, offset: int, problem: str) -> None:
        super().__init__(f"{path}: {problem} (at byte offset {offset})")
        self.path = path
        self.offset = offset


class LogInUseError(RuntimeError):
    """Another process (or another :class:`AppendLog` of this one) has the log open."""


class LogFailedError(RuntimeError):
    """A write or fsync of the log failed: the log accepts no more appends until reopened."""


class TornTailWarning(UserWarning):
    """Opening the log dropped the bytes of an append that never finished."""


def _sync(fd: int) -> None:
    """Flush ``fd``'s data to stable storage (on macOS ``fsync`` leaves it in the drive's cache)."""
    if sys.platform == "darwin":
        fcntl.fcntl(fd, fcntl.F_FULLFSYNC)
    else:
        os.fsync(fd)


def _sync_directory(directory: Path) -> None:
    """Make a new directory entry durable: fsync the folder that holds it."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes | bytearray, offset: int) -> None:
    view = memoryview(data)
    done = 0
    while done < len(view):
        # pwrite may write less than asked (a signal, a full disk); 0 means no progress.
        written = os.pwrite(fd, view[done:], offset + done)
        if written <= 0:
            raise OSError(f"pwrite wrote {written} bytes at offset {offset + done}")
        done += written


def _file_header(salt: bytes) -> bytes:
    body = _FILE_HEADER.pack(FILE_MAGIC, FORMAT_VERSION, salt, 0)[:-4]
    return body + _HEADER_CRC.pack(zlib.crc32(body))


def _record_header(
    seed: int, length: int, batch: int, index: int, last: bool, payload_crc: int
) -> bytes:
    flags = LAST_IN_BATCH if last else 0
    body = _RECORD_HEADER.pack(RECORD_MARKER, length, batch, index, flags, payload_crc, 0)[:-4]
    return body + _HEADER_CRC.pack(zlib.crc32(body, seed))


def _parse_record(
    buf: mmap.mmap, pos: int, end: int, seed: int
) -> tuple[int, int, int, bool] | str:
    """``(length, batch, index, last)`` of the intact record at ``pos``, or why there is none."""
    if end - pos < _RECORD_HEADER.size:
        return f"a record header cut short ({end - pos} of {_RECORD_HEADER.size} bytes)"
    header = buf[pos : pos + _RECORD_HEADER.size]
    marker, length, batch, index, flags, payload_crc, header_crc = _RECORD_HEADER.unpack(header)
    if marker != RECORD_MARKER:
        return f"no record marker (found {marker!r})"
    if zlib.crc32(header[:-4], seed) != header_crc:
        return "a record header whose checksum does not match"
    if flags & ~LAST_IN_BATCH:
        return f"a record header with unknown flags {flags:#x}"
    start = pos + _RECORD_HEADER.size
    # Checked before anything of that length is read: the header CRC could be a 1 in 2**32 fluke.
    if length > end - start:
        return f"a payload of {length} bytes running past the end of the file ({end - start} left)"
    if zlib.crc32(buf[start : start + length]) != payload_crc:
        return "a payload whose checksum does not match"
    return length, batch, index, bool(flags & LAST_IN_BATCH)


@dataclass
class _Pending:
    """One :meth:`AppendLog.append` call waiting for its group's write and fsync."""

    payloads: list[bytes]
    crcs: list[int]
    done: bool = False
    error: BaseException | None = None


def _frames(seed: int, batch: int, group: list[_Pending]) -> bytearray:
    """The records of ``group``'s batches, numbered from ``batch``."""
    frames = bytearray()
    for number, ticket in enumerate(group, start=batch):
        last = len(ticket.payloads) - 1
        for index, (payload, crc) in enumerate(zip(ticket.payloads, ticket.crcs, strict=True)):
            frames += _record_header(seed, len(payload), number, index, index == last, crc)
            frames += payload
    return frames


class AppendLog:
    """An append-only, checksummed, fsynced log file of opaque byte records.

    The file format, the crash-recovery rules and the limits are in the module docstring
    (:mod:`hashlearn.serve._log`). Opening creates the file (and fsyncs its folder) if it
    does not exist, takes an exclusive lock on it, checks every record and truncates an
    append that never finished. One process writes a log at a time.

    Parameters
    ----------
    path : str or os.PathLike
        The log file. Its folder must exist.
    max_payload_bytes : int, default=MAX_PAYLOAD_BYTES (64 MiB)
        The largest payload :meth:`append` accepts, in ``[0, 2**32 - 1]``. Only appends are
        limited; reading accepts any intact record, whatever limit wrote it.

    Attributes
    ----------
    path : pathlib.Path
    max_payload_bytes : int

    Raises
    ------
    LogInUseError
        Another process, or another open :class:`AppendLog` in this one, holds the log.
    CorruptLogError
        The file is not a hashlearn log (wrong magic, unknown version, damaged header), or
        an acknowledged record is damaged (see the module docstring).

    Warns
    -----
    TornTailWarning
        The bytes of an append that never finished were truncated away.

    Notes
    -----
    :meth:`append` is thread-safe and commits in groups: calls that arrive while a write is
    in progress are written together by the next write and share its fsync, each still its
    own atomic batch. After a failed write or fsync the log refuses appends (the kernel may
    have dropped the dirty pages, so a retried fsync could claim a success that is not on
    disk): close it and open it again, which rechecks the file. A forked child process
    cannot append to its parent's log (:class:`LogInUseError`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = tempfile.mkdtemp()
    >>> with AppendLog(pathlib.Path(folder) / "adds.log") as log:
    ...     log.append([b"first", b"second"])
    ...     list(log.records())
    [b'first', b'second']
    """

    def __init__(
        self, path: str | os.PathLike[str], *, max_payload_bytes: int = MAX_PAYLOAD_BYTES
    ) -> None:
        if (
            isinstance(max_payload_bytes, bool)
            or not isinstance(max_payload_bytes, int)
            or not 0 <= max_payload_bytes <= _LENGTH_LIMIT
        ):
            raise ValueError(
                f"max_payload_bytes must be an int in [0, {_LENGTH_LIMIT}], "
                f"got {max_payload_bytes!r}"
            )
        self.path = Path(path)
        self.max_payload_bytes = max_payload_bytes
        self._cond = threading.Condition(threading.Lock())
        self._queue: list[_Pending] = []
        self._writing = False
        self._closed = False
        self._failure: BaseException | None = None
        self._pid = os.getpid()
        self._fd, created = self._open_locked()
        try:
            self._seed, self._end, self._next_batch, self._n_records = self._recover(created)
        except BaseException:
            os.close(self._fd)
            raise

    def _open_locked(self) -> tuple[int, bool]:
        if not self.path.parent.is_dir():
            raise FileNotFoundError(f"path: the folder of {self.path} does not exist")
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            created = True
        except FileExistsError:
            fd = os.open(self.path, os.O_RDWR)
            created = False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LogInUseError(
                f"{self.path} is in use by another process (or by another AppendLog of this "
                "one): a log has one writer at a time; close the other one first"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        return fd, created

    def _initialise(self) -> int:
        """Write a fresh file header, fsync it and its folder; return the CRC seed."""
        salt = os.urandom(8)
        os.ftruncate(self._fd, 0)
        _write_all(self._fd, _file_header(salt), 0)
        _sync(self._fd)
        _sync_directory(self.path.parent)
        return zlib.crc32(salt)

    def _read_file_header(self, size: int) -> int | None:
        """The CRC seed of a valid header, or None for a header whose creation never finished."""
        raw = os.pread(self._fd, _FILE_HEADER.size, 0)
        if size < _FILE_HEADER.size:
            known = FILE_MAGIC + struct.pack("<I", FORMAT_VERSION)
            if raw[: len(known)] == known[: len(raw)]:
                return None
            raise CorruptLogError(
                self.path, 0, f"not a hashlearn append log: {size} bytes that begin {raw[:8]!r}"
            )
        magic, version, salt, crc = _FILE_HEADER.unpack(raw)
        if magic != FILE_MAGIC:
            problem = f"not a hashlearn append log: magic {magic!r}, expected {FILE_MAGIC!r}"
            raise CorruptLogError(self.path, 0, problem)
        if version != FORMAT_VERSION:
            problem = f"log format version {version}; this hashlearn reads {FORMAT_VERSION}"
            raise CorruptLogError(self.path, 8, problem)
        if zlib.crc32(raw[:-4]) != crc:
            raise CorruptLogError(self.path, 20, "the file header's checksum does not match")
        return zlib.crc32(salt)

    def _recover(self, created: bool) -> tuple[int, int, int, int]:
        """Check the file; return (seed, committed end, next batch number, records)."""
        size = os.fstat(self._fd).st_size
        seed = None if created else self._read_file_header(size)
        if seed is None:
            if size:
                warnings.warn(
                    f"{self.path}: a log whose creation never finished ({size} bytes of its "
                    "header); it held no records and was initialised again",
                    TornTailWarning,
                    stacklevel=3,
                )
            return self._initialise(), _FILE_HEADER.size, 0, 0
        if size == _FILE_HEADER.size:
            return seed, size, 0, 0
        with mmap.mmap(self._fd, size, access=mmap.ACCESS_READ) as buf:
            end, next_batch, n_records, reason, bad = self._scan(buf, size, seed)
        if end < size:
            os.ftruncate(self._fd, end)
            _sync(self._fd)
            what = f"{reason} at byte offset {bad}" if reason else "no record ending its batch"
            warnings.warn(
                f"{self.path}: dropped {size - end} bytes from byte offset {end}, an append "
                f"(batch {next_batch}) that never finished and so was never acknowledged "
                f"({what})",
                TornTailWarning,
                stacklevel=3,
            )
        return seed, end, next_batch, n_records

    def _scan(self, buf: mmap.mmap, size: int, seed: int) -> tuple[int, int, int, str | None, int]:
        """Walk the records: (committed end, next batch, records, why it stopped, where)."""
        pos = end = _FILE_HEADER.size
        next_batch = n_records = in_batch = 0
        while pos < size:
            parsed = _parse_record(buf, pos, size, seed)
            if isinstance(parsed, str):
                self._refuse_if_acknowledged_after(buf, pos, size, seed, next_batch, parsed)
                return end, next_batch, n_records, parsed, pos
            length, batch, index, last = parsed
            if (batch, index) != (next_batch, in_batch):
                problem = f"record {index} of batch {batch} is out of sequence"
                expected = f"expected record {in_batch} of batch {next_batch}"
                raise CorruptLogError(self.path, pos, f"{problem} ({expected})")
            pos += _RECORD_HEADER.size + length
            in_batch += 1
            if last:
                end, next_batch, n_records, in_batch = pos, next_batch + 1, n_records + in_batch, 0
        return end, next_batch, n_records, None, pos

    def _refuse_if_acknowledged_after(
        self, buf: mmap.mmap, bad: int, size: int, seed: int, batch: int, reason: str
    ) -> None:
        """Raise if an intact record of a batch after ``batch`` follows the damage at ``bad``."""
        candidate = buf.find(RECORD_MARKER, bad + 1)
        while candidate != -1:
            parsed = _parse_record(buf, candidate, size, seed)
            if not isinstance(parsed, str) and parsed[1] > batch:
                raise CorruptLogError(
                    self.path,
                    bad,
                    f"{reason}, yet an intact record of the later batch {parsed[1]} follows at "
                    f"byte offset {candidate}: acknowledged records are damaged. Nothing was "
                    "changed; restore the file from a copy, or cut it at that offset knowingly",
                )
            candidate = buf.find(RECORD_MARKER, candidate + 1)

    def _checked_payloads(self, payloads: Sequence[bytes]) -> tuple[list[bytes], list[int]]:
        if isinstance(payloads, _BYTES | str) or not isinstance(payloads, Sequence):
            raise TypeError(
                "payloads must be a sequence of bytes objects (wrap a single payload in a "
                f"list), got {type(payloads).__name__}"
            )
        checked = []
        for i, payload in enumerate(payloads):
            if not isinstance(payload, _BYTES):
                raise TypeError(f"payloads[{i}] must be bytes, got {type(payload).__name__}")
            data = bytes(payload)
            if len(data) > self.max_payload_bytes:
                raise ValueError(
                    f"payloads[{i}] is {len(data)} bytes, over the log's limit of "
                    f"max_payload_bytes={self.max_payload_bytes}; nothing was appended"
                )
            checked.append(data)
        return checked, [zlib.crc32(data) for data in checked]

    def append(self, payloads: Sequence[bytes]) -> None:
        """Append ``payloads`` as one atomic batch; return once they are fsynced.

        Parameters
        ----------
        payloads : sequence of bytes
            The records, each at most ``max_payload_bytes``. An empty sequence writes
            nothing. All are checked before anything is written.

        Raises
        ------
        TypeError, ValueError
            A payload is not bytes or is over the limit (nothing is written).
        LogFailedError
            The write or fsync failed (this batch is not acknowledged), or an earlier one
            did: the log must be closed and opened again.
        """
        checked, crcs = self._checked_payloads(payloads)
        with self._cond:
            self._check_usable()
            if not checked:
                return
            ticket = _Pending(checked, crcs)
            self._queue.append(ticket)
            while not ticket.done:
                if self._writing:
                    self._cond.wait()
                else:
                    self._lead_group_commit()
        if ticket.error is not None:
            raise LogFailedError(
                f"{self.path}: appending a batch of {len(checked)} records failed "
                f"({ticket.error!r}); it was not acknowledged and the log accepts no more "
                "appends: close it and open it again"
            ) from ticket.error

    def _check_usable(self) -> None:
        if self._closed:
            raise ValueError(f"{self.path}: the log is closed")
        if os.getpid() != self._pid:  # a forked child shares the lock but not the counters
            raise LogInUseError(f"{self.path} was opened by process {self._pid}, not this one")
        if self._failure is not None:
            raise LogFailedError(
                f"{self.path}: an earlier append failed ({self._failure!r}); the log accepts "
                "no more appends: close it and open it again"
            ) from self._failure

    def _lead_group_commit(self) -> None:
        """Write every queued batch with one write and one fsync (called holding the lock)."""
        group, self._queue = self._queue, []
        if self._failure is not None:  # queued behind a group that failed
            for ticket in group:
                ticket.done, ticket.error = True, self._failure
            self._cond.notify_all()
            return
        self._writing = True  # only this thread touches the file and the counters now
        self._cond.release()
        error: BaseException | None = None
        frames = bytearray()
        try:
            frames = _frames(self._seed, self._next_batch, group)
            _write_all(self._fd, frames, self._end)
            _sync(self._fd)
        except BaseException as exc:  # KeyboardInterrupt too: the waiters must not hang
            error = exc
            self._undo_partial_write()
        finally:
            self._cond.acquire()
        if error is None:
            self._end += len(frames)
            self._next_batch += len(group)
            self._n_records += sum(len(ticket.payloads) for ticket in group)
        else:
            self._failure = error
        for ticket in group:
            ticket.done, ticket.error = True, error
        self._writing = False
        self._cond.notify_all()
        if error is not None and not isinstance(error, Exception):
            raise error

    def _undo_partial_write(self) -> None:
        # Best effort, so that a failed append is not replayed later; reopening rechecks anyway.
        try:
            os.ftruncate(self._fd, self._end)
            _sync(self._fd)
        except OSError:
            pass

    def records(self) -> Iterator[bytes]:
        """Iterate over the payloads of every complete batch, oldest first.

        The records are those committed when the call is made; appends made while
        iterating are not included. Every record's checksums are checked again.

        Raises
        ------
        CorruptLogError
            A record changed on disk since the log was opened.
        """
        with self._cond:
            if self._closed:
                raise ValueError(f"{self.path}: the log is closed")
            end, seed = self._end, self._seed
            buf = mmap.mmap(self._fd, end, access=mmap.ACCESS_READ)
        return self._iterate(buf, end, seed)

    def _iterate(self, buf: mmap.mmap, end: int, seed: int) -> Iterator[bytes]:
        with buf:
            pos = _FILE_HEADER.size
            while pos < end:
                parsed = _parse_record(buf, pos, end, seed)
                if isinstance(parsed, str):
                    raise CorruptLogError(self.path, pos, f"{parsed}, in a record read before")
                start = pos + _RECORD_HEADER.size
                pos = start + parsed[0]
                yield buf[start:pos]

    @property
    def n_records(self) -> int:
        """The number of records in complete batches."""
        with self._cond:
            return self._n_records

    def close(self) -> None:
        """Wait for appends in progress, release the lock and close the file (idempotent)."""
        with self._cond:
            if self._closed:
                return
            while self._writing or self._queue:
                self._cond.wait()
            self._closed = True
            os.close(self._fd)

    def __enter__(self) -> AppendLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# -- the add record codec ------------------------------------------------------------------

ADD_MAGIC = b"HLAD"
ADD_VERSION = 1
#: The largest JSON header :meth:`AddRecord.from_bytes` parses.
MAX_ADD_HEADER_BYTES = 4096
_ADD_PREFIX = struct.Struct("<4sI")
_MAX_ID = 2**63 - 1
_ADD_KEYS = {"version", "first_id", "n", "codes", "labels", "vectors", "texts"}
# (field, {dtype on disk: number of dimensions}) in the order the arrays are stored.
_ARRAY_FIELDS: tuple[tuple[str, dict[str, int]], ...] = (
    ("codes", {"|u1": 2}),
    ("labels", {"<i8": 1, "|u1": 2}),
    ("vectors", {"<f4": 2}),
)


def _exact_int(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not low <= int(value) <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {int(value)}")
    return int(value)


def _check_array(
    value: Any, name: str, dtype: type, ndim: int, n_items: int | None = None
) -> np.ndarray:
    """``value`` as a C-contiguous array, checked: ``n_items`` rows (None: any number >= 1)."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(value).__name__}")
    if value.dtype != dtype:
        raise TypeError(f"{name} must have dtype {np.dtype(dtype)}, got {value.dtype}")
    rows = value.shape[0] if value.ndim else 0
    if value.ndim != ndim or 0 in value.shape or rows != (n_items or rows):
        wanted = "(m,)" if ndim == 1 else "(m, k), k >= 1,"
        rows_wanted = f"m={n_items}" if n_items else "m >= 1"
        raise ValueError(f"{name} must have shape {wanted} with {rows_wanted}; got {value.shape}")
    return np.ascontiguousarray(value)


@dataclass(frozen=True, eq=False)
class AddRecord:
    """One add of the writable search service: ``m`` items with consecutive ids.

    The byte format of :meth:`to_bytes` is in the module docstring. Arrays are stored as
    given (C-contiguous copies only when they are not), so do not modify them afterwards;
    those of :meth:`from_bytes` are read-only.

    Parameters
    ----------
    first_id : int
        The id of the first item (``>= 0``); item ``i`` gets ``first_id + i``.
    codes : numpy.ndarray of uint8, shape (m, n_bytes)
        Packed codes (:mod:`hashlearn.codes`), ``m >= 1``.
    labels : numpy.ndarray or None, default=None
        int64 class labels of shape ``(m,)``, or a uint8 0/1 label-indicator matrix of
        shape ``(m, n_labels)`` (multi-label).
    vectors : numpy.ndarray of float32 or None, default=None
        The items' finite vectors, shape ``(m, n_features)``, for re-ranking.
    texts : list of str or None, default=None
        One text per item (titles, documents), ``m`` of them.

    Examples
    --------
    >>> import numpy as np
    >>> record = AddRecord(7, np.array([[1, 2], [3, 4]], dtype=np.uint8), texts=["a", "b"])
    >>> again = AddRecord.from_bytes(record.to_bytes())
    >>> again.first_id, again.codes.tolist(), again.texts
    (7, [[1, 2], [3, 4]], ['a', 'b'])
    """

    first_id: int
    codes: np.ndarray
    labels: np.ndarray | None = None
    vectors: np.ndarray | None = None
    texts: list[str] | None = None
    _encoded_texts: list[bytes] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "codes", _check_array(self.codes, "codes", np.uint8, 2))
        n_items = self.n_items
        first_id = _exact_int(self.first_id, "first_id", 0, _MAX_ID - (n_items - 1))
        object.__setattr__(self, "first_id", first_id)
        if self.labels is not None:
            self._set_labels(n_items)
        if self.vectors is not None:
            vectors = _check_array(self.vectors, "vectors", np.float32, 2, n_items)
            if not np.isfinite(vectors).all():
                raise ValueError("vectors contains NaN or infinity")
            object.__setattr__(self, "vectors", vectors)
        if self.texts is not None:
            self._set_texts(n_items)

    def _set_labels(self, n_items: int) -> None:
        labels = self.labels
        if isinstance(labels, np.ndarray) and labels.ndim == 2:
            labels = _check_array(labels, "labels", np.uint8, 2, n_items)
            if labels.max() > 1:
                raise ValueError("2-D labels must be a 0/1 label-indicator matrix, got values > 1")
        else:
            labels = _check_array(labels, "labels", np.int64, 1, n_items)
        object.__setattr__(self, "labels", labels)

    def _set_texts(self, n_items: int) -> None:
        texts = self.texts
        if not isinstance(texts, list | tuple) or len(texts) != n_items:
            raise ValueError(
                f"texts must be a list of {n_items} strings (one per item), got "
                f"{len(texts) if isinstance(texts, list | tuple) else type(texts).__name__}"
            )
        encoded = []
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{i}] must be a str, got {type(text).__name__}")
            try:
                encoded.append(text.encode("utf-8"))
            except UnicodeEncodeError as exc:
                raise ValueError(f"texts[{i}] is not valid Unicode text: {exc}") from None
        object.__setattr__(self, "texts", list(texts))
        object.__setattr__(self, "_encoded_texts", encoded)

    @property
    def n_items(self) -> int:
        """``m``, the number of items."""
        return int(self.codes.shape[0])

    def to_bytes(self) -> bytes:
        """The record in the add record format (module docstring)."""
        header: dict[str, Any] = {"version": ADD_VERSION, "first_id": self.first_id}
        header["n"] = self.n_items
        parts = []
        for name, dtypes in _ARRAY_FIELDS:
            array = getattr(self, name)
            if array is None:
                header[name] = None
                continue
            dtype = next(code for code, ndim in dtypes.items() if ndim == array.ndim)
            header[name] = {"dtype": dtype, "shape": list(array.shape)}
            parts.append(np.ascontiguousarray(array, dtype=np.dtype(dtype)).tobytes())
        header["texts"] = None
        if self._encoded_texts is not None:
            lengths = np.array([len(text) for text in self._encoded_texts], dtype="<i8")
            blob = b"".join(self._encoded_texts)
            header["texts"] = {"nbytes": len(blob)}
            parts += [lengths.tobytes(), blob]
        text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode("utf-8")
        return _ADD_PREFIX.pack(ADD_MAGIC, len(text)) + text + b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> AddRecord:
        """Parse :meth:`to_bytes` output, checking everything.

        Raises
        ------
        TypeError
            ``data`` is not bytes-like.
        ValueError
            ``data`` is not a valid add record (the message says what is wrong). The sizes
            its header declares are checked against ``len(data)`` before any allocation.
        """
        if not isinstance(data, _BYTES):
            raise TypeError(f"data must be bytes, got {type(data).__name__}")
        data = bytes(data)
        header, offset = _read_add_header(data)
        n_items = header["n"]
        specs = [_array_spec(header[name], name, kinds, n_items) for name, kinds in _ARRAY_FIELDS]
        text_bytes = _text_spec(header["texts"])
        if text_bytes is not None:
            specs.append(("<i8", (n_items,), 8 * n_items))  # the texts' UTF-8 lengths
        expected = offset + sum(spec[2] for spec in specs if spec) + (text_bytes or 0)
        if expected != len(data):
            raise ValueError(f"add record is {len(data)} bytes but its header declares {expected}")
        arrays: list[np.ndarray | None] = []
        for spec in specs:
            if spec is None:
                arrays.append(None)
                continue
            dtype, shape, nbytes = np.dtype(spec[0]), spec[1], spec[2]
            array = np.frombuffer(data, dtype, nbytes // dtype.itemsize, offset).reshape(shape)
            arrays.append(array.astype(dtype.newbyteorder("="), copy=False))
            offset += nbytes
        texts = None
        if text_bytes is not None:
            texts = _read_texts(data, arrays.pop(), offset, text_bytes)
        try:
            return cls(header["first_id"], arrays[0], arrays[1], arrays[2], texts)  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise ValueError(f"invalid add record: {exc}") from None


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"add record header repeats a key: {sorted(keys)}")
    return dict(pairs)


def _read_add_header(data: bytes) -> tuple[dict[str, Any], int]:
    """The validated JSON header of an add record and the offset of its first array."""
    if len(data) < _ADD_PREFIX.size:
        raise ValueError(f"add record of {len(data)} bytes is shorter than its 8-byte prefix")
    magic, length = _ADD_PREFIX.unpack_from(data)
    if magic != ADD_MAGIC:
        raise ValueError(f"not an add record: magic {magic!r}, expected {ADD_MAGIC!r}")
    if length > MAX_ADD_HEADER_BYTES or length > len(data) - _ADD_PREFIX.size:
        raise ValueError(
            f"add record header length {length} is over {MAX_ADD_HEADER_BYTES} bytes or past "
            f"the end of the {len(data)}-byte record"
        )
    try:
        header = json.loads(
            data[_ADD_PREFIX.size : _ADD_PREFIX.size + length].decode("utf-8"),
            object_pairs_hook=_reject_duplicates,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ValueError(f"add record header is not valid JSON: {exc}") from None
    if not isinstance(header, dict) or set(header) != _ADD_KEYS:
        keys = sorted(header) if isinstance(header, dict) else type(header).__name__
        raise ValueError(f"add record header must have the keys {sorted(_ADD_KEYS)}, got {keys}")
    if header["version"] != ADD_VERSION or isinstance(header["version"], bool):
        raise ValueError(
            f"add record version {header['version']!r}; this hashlearn reads {ADD_VERSION}"
        )
    try:
        header["n"] = _exact_int(header["n"], "n", 1, _MAX_ID)
        header["first_id"] = _exact_int(header["first_id"], "first_id", 0, _MAX_ID)
    except TypeError as exc:
        raise ValueError(f"add record header: {exc}") from None
    return header, _ADD_PREFIX.size + length


def _array_spec(
    spec: Any, name: str, dtypes: dict[str, int], n_items: int
) -> tuple[str, tuple[int, ...], int] | None:
    """(dtype, shape, nbytes) of a header's array spec, checked; None for an absent array."""
    if spec is None:
        if name == "codes":
            raise ValueError("add record header: codes is required")
        return None
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape"}:
        raise ValueError(f"add record header: {name} must be {{'dtype', 'shape'}}, got {spec!r}")
    dtype, shape = spec["dtype"], spec["shape"]
    if dtype not in dtypes:
        raise ValueError(
            f"add record header: {name} dtype must be one of {sorted(dtypes)}, got {dtype!r}"
        )
    if (
        not isinstance(shape, list)
        or len(shape) != dtypes[dtype]
        or not all(isinstance(dim, int) and not isinstance(dim, bool) for dim in shape)
        or shape[0] != n_items
        or min(shape) < 1
    ):
        raise ValueError(
            f"add record header: {name} shape must be {dtypes[dtype]} positive ints starting "
            f"with n={n_items}, got {shape!r}"
        )
    nbytes = np.dtype(dtype).itemsize
    for dim in shape:
        nbytes *= dim  # Python ints: a huge declared shape cannot overflow
    return dtype, tuple(shape), nbytes


def _text_spec(spec: Any) -> int | None:
    if spec is None:
        return None
    nbytes = spec.get("nbytes") if isinstance(spec, dict) and set(spec) == {"nbytes"} else None
    if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes < 0:
        raise ValueError(
            f"add record header: texts must be null or {{'nbytes': int >= 0}}, got {spec!r}"
        )
    return nbytes


def _read_texts(data: bytes, lengths: Any, offset: int, nbytes: int) -> list[str]:
    sizes = lengths.tolist()
    if min(sizes) < 0 or sum(sizes) != nbytes:
        raise ValueError(f"add record text lengths are negative or do not add up to {nbytes}")
    texts = []
    for i, size in enumerate(sizes):
        try:
            texts.append(data[offset : offset + size].decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ValueError(f"add record text {i} is not valid UTF-8: {exc}") from None
        offset += size
    return texts

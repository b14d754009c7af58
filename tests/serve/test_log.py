"""The service's append-only log: framing, crash recovery, locking, group commit, the add codec.

The file layout is read here by :func:`read_by_spec`, a reader written from the module
docstring alone, so the documented format and the code cannot drift apart. THE fault test
(:func:`test_every_acknowledged_record_survives_sigkill`) kills a writing process with
SIGKILL right after acknowledgements and checks that reopening keeps every one.
"""

from __future__ import annotations

import contextlib
import doctest
import json
import os
import random
import re
import stat
import struct
import subprocess
import sys
import threading
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest

import hashlearn
from hashlearn.serve import _log
from hashlearn.serve._log import (
    AddRecord,
    AppendLog,
    CorruptLogError,
    LogFailedError,
    LogInUseError,
    TornTailWarning,
)

SRC = str(Path(hashlearn.__file__).resolve().parents[1])


def read_by_spec(path: Path) -> tuple[bytes, list[tuple[int, int, int, bool, bytes]]]:
    """(salt, [(offset, batch, index, last, payload)]) of a clean log, by the docstring's tables."""
    data = path.read_bytes()
    magic, version, salt, crc = struct.unpack_from("<8sI8sI", data)
    assert (magic, version) == (b"\x89HLLOG\r\n", 1)
    assert crc == zlib.crc32(data[:20])
    records, pos = [], 24
    while pos < len(data):
        marker, length, batch, index, flags, payload_crc, header_crc = struct.unpack_from(
            "<4sIQIIII", data, pos
        )
        assert marker == b"HLRC"
        assert header_crc == zlib.crc32(data[pos : pos + 28], zlib.crc32(salt))
        payload = data[pos + 32 : pos + 32 + length]
        assert len(payload) == length and zlib.crc32(payload) == payload_crc
        records.append((pos, batch, index, bool(flags & 1), payload))
        pos += 32 + length
    return salt, records


def make_log(path: Path, batches: list[list[bytes]]) -> list[int]:
    """Write ``batches``; return the byte offset where each batch starts."""
    starts = []
    with AppendLog(path) as log:
        for batch in batches:
            starts.append(os.path.getsize(path))
            log.append(batch)
    return starts


def open_quietly(path: Path) -> AppendLog:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TornTailWarning)
        return AppendLog(path)


def contents(path: Path) -> list[bytes]:
    with open_quietly(path) as log:
        return list(log.records())


def flip(path: Path, offset: int, data: bytes | None = None) -> None:
    raw = bytearray(path.read_bytes())
    if data is None:
        raw[offset] ^= 0xFF
    else:
        raw[offset : offset + len(data)] = data
    path.write_bytes(bytes(raw))


# -- framing and round trips -----------------------------------------------------------------


def test_round_trip_follows_the_documented_layout(tmp_path):
    path = tmp_path / "adds.log"
    batches = [[b"a", b"", b"ccc"], [bytes(range(256)) * 40], [b"x", b"y"]]
    make_log(path, batches)
    with AppendLog(path) as log:
        assert list(log.records()) == [p for batch in batches for p in batch]
        assert log.n_records == 6
        log.append([b"after reopening"])
    salt, records = read_by_spec(path)
    assert len(salt) == 8
    assert [(batch, index, last) for _, batch, index, last, _ in records] == [
        (0, 0, False),
        (0, 1, False),
        (0, 2, True),
        (1, 0, True),
        (2, 0, False),
        (2, 1, True),
        (3, 0, True),
    ]
    assert records[-1][4] == b"after reopening"
    assert contents(path)[-1] == b"after reopening"


def test_an_empty_batch_writes_nothing(tmp_path, monkeypatch):
    path = tmp_path / "adds.log"
    with AppendLog(path) as log:
        calls = []
        monkeypatch.setattr(os, "fsync", calls.append)
        log.append([])
        assert calls == [] and os.path.getsize(path) == 24 and log.n_records == 0


def test_records_is_a_snapshot(tmp_path):
    with AppendLog(tmp_path / "adds.log") as log:
        log.append([b"one"])
        records = log.records()
        log.append([b"two"])
        assert list(records) == [b"one"]
        assert list(log.records()) == [b"one", b"two"]


def test_the_docstring_examples_run():
    assert doctest.testmod(_log, optionflags=doctest.ELLIPSIS).failed == 0


# -- crash recovery ----------------------------------------------------------------------------


def test_a_torn_last_batch_is_truncated_at_every_byte(tmp_path):
    """Cut the file at every byte of a three-record last batch: all of that batch goes."""
    path = tmp_path / "adds.log"
    start = make_log(path, [[b"first"], [b"second", b"third"], [b"p" * 5, b"q" * 7, b"r" * 9]])[-1]
    full = path.read_bytes()
    for cut in range(start, len(full)):
        torn = tmp_path / f"torn-{cut}.log"
        torn.write_bytes(full[:cut])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            log = AppendLog(torn)
        if cut > start:
            assert len(caught) == 1 and caught[0].category is TornTailWarning
            assert f"dropped {cut - start} bytes from byte offset {start}" in str(caught[0].message)
        else:
            assert caught == []
        with log:
            assert list(log.records()) == [b"first", b"second", b"third"]
            assert os.path.getsize(torn) == start
            log.append([b"new"])
        assert contents(torn) == [b"first", b"second", b"third", b"new"]
        torn.unlink()


@pytest.mark.parametrize("where", ["payload", "payload crc", "length", "marker"])
def test_damage_to_the_last_record_is_a_torn_write(tmp_path, where):
    path = tmp_path / "adds.log"
    start = make_log(path, [[b"kept"], [b"damaged payload"]])[-1]
    flip(path, start + {"payload": 40, "payload crc": 24, "length": 4, "marker": 0}[where])
    with pytest.warns(TornTailWarning, match="never acknowledged"):
        log = AppendLog(path)
    with log:
        assert list(log.records()) == [b"kept"]


def test_damage_inside_the_last_batch_drops_the_whole_batch(tmp_path):
    """After a power cut a later page of an unfsynced write may survive an earlier one."""
    path = tmp_path / "adds.log"
    start = make_log(path, [[b"kept"], [b"a" * 50, b"b" * 50, b"c" * 50]])[-1]
    flip(path, start + 32 + 82, bytes(20))  # inside the second record; the third is intact
    with pytest.warns(TornTailWarning, match="a payload whose checksum does not match"):
        log = AppendLog(path)
    with log:
        assert list(log.records()) == [b"kept"]


@pytest.mark.parametrize("where", ["payload", "length", "header crc", "zeroed sector"])
def test_damage_before_acknowledged_batches_raises_with_the_offset(tmp_path, where):
    path = tmp_path / "adds.log"
    starts = make_log(path, [[b"zero"], [b"one" * 30], [b"two"], [b"three"]])
    offset = starts[1]
    if where == "zeroed sector":
        flip(path, offset, bytes(60))
    else:
        flip(path, offset + {"payload": 40, "length": 5, "header crc": 29}[where])
    before = path.read_bytes()
    with pytest.raises(CorruptLogError) as raised:
        AppendLog(path)
    assert raised.value.offset == offset and raised.value.path == path
    assert str(path) in str(raised.value) and f"byte offset {offset}" in str(raised.value)
    assert "later batch 2" in str(raised.value)
    assert path.read_bytes() == before  # nothing is dropped behind the user's back


def test_a_record_out_of_sequence_raises(tmp_path):
    path = tmp_path / "adds.log"
    starts = make_log(path, [[b"zero"], [b"one"]])
    data = path.read_bytes()
    path.write_bytes(data + data[starts[0] : starts[1]])  # batch 0 again, intact
    with pytest.raises(CorruptLogError, match="record 0 of batch 0 is out of sequence"):
        AppendLog(path)


def test_records_of_another_log_do_not_count_as_later_batches(tmp_path):
    """The salted header CRC: a later batch copied from another log cannot block recovery."""
    other = tmp_path / "other.log"
    other_starts = make_log(other, [[b"o"]] * 6)
    foreign = other.read_bytes()[other_starts[5] :]  # batch 5, intact in its own log
    path = tmp_path / "adds.log"
    start = make_log(path, [[b"kept"], [b"torn" * 10]])[-1]
    path.write_bytes(path.read_bytes()[: start + 40] + foreign)
    with pytest.warns(TornTailWarning):
        log = AppendLog(path)
    with log:
        assert list(log.records()) == [b"kept"]


def test_a_huge_length_on_disk_is_checked_against_the_file_size(tmp_path):
    path = tmp_path / "adds.log"
    make_log(path, [[b"kept"]])
    salt, _ = read_by_spec(path)
    body = struct.pack("<4sIQIII", b"HLRC", 2**32 - 1, 1, 0, 1, 0)
    with path.open("ab") as handle:  # an intact header whose payload was never written
        handle.write(body + struct.pack("<I", zlib.crc32(body, zlib.crc32(salt))) + b"abc")
    with pytest.warns(TornTailWarning, match="4294967295 bytes running past the end"):
        log = AppendLog(path)
    with log:
        assert list(log.records()) == [b"kept"]


def test_records_checks_the_bytes_again(tmp_path):
    path = tmp_path / "adds.log"
    start = make_log(path, [[b"zero"], [b"one"]])[1]
    with AppendLog(path) as log:
        flip(path, start + 33)
        with pytest.raises(CorruptLogError, match=f"byte offset {start}"):
            list(log.records())


# -- the file header ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "data", "message"),
    [
        (0, b"PK\x03\x04", "not a hashlearn append log: magic"),
        (8, struct.pack("<I", 2), "log format version 2; this hashlearn reads 1"),
        (14, None, "file header's checksum does not match"),
    ],
)
def test_a_bad_file_header_raises(tmp_path, offset, data, message):
    path = tmp_path / "adds.log"
    make_log(path, [[b"zero"]])
    flip(path, offset, data)
    with pytest.raises(CorruptLogError, match=message):
        AppendLog(path)


def test_a_short_file_that_is_not_a_log_raises(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"hello")
    with pytest.raises(CorruptLogError, match="not a hashlearn append log: 5 bytes"):
        AppendLog(path)
    assert path.read_bytes() == b"hello"


@pytest.mark.parametrize("kept", [0, 5, 12, 23])
def test_a_creation_cut_short_is_initialised_again(tmp_path, kept):
    path = tmp_path / "adds.log"
    make_log(path, [])
    path.write_bytes(path.read_bytes()[:kept])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        log = AppendLog(path)
    assert [w.category for w in caught] == ([TornTailWarning] if kept else [])
    with log:
        log.append([b"works"])
    assert contents(path) == [b"works"]


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"folder of .* does not exist"):
        AppendLog(tmp_path / "nowhere" / "adds.log")


# -- durability: fsync -------------------------------------------------------------------------


def test_append_returns_only_after_an_fsync_of_the_whole_batch(tmp_path, monkeypatch):
    path = tmp_path / "adds.log"
    log = AppendLog(path)
    events = []
    real_pwrite, real_fsync = os.pwrite, os.fsync

    def pwrite(fd, data, offset):
        events.append("write")
        return real_pwrite(fd, data, offset)

    def fsync(fd):
        # The batch must be fully written when fsync is called, and fsync must come last.
        events.append(("fsync", os.path.getsize(path)))
        real_fsync(fd)

    monkeypatch.setattr(os, "pwrite", pwrite)
    monkeypatch.setattr(os, "fsync", fsync)
    log.append([b"a" * 10, b"b" * 20, b"c" * 30])
    assert events[-1] == ("fsync", 24 + 3 * 32 + 60)
    assert events.count(("fsync", 24 + 3 * 32 + 60)) == 1 and "write" in events[:-1]
    assert sum(1 for event in events if event != "write") == 1  # one fsync per batch
    log.close()


def test_creation_and_truncation_are_fsynced(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    path = tmp_path / "adds.log"
    AppendLog(path).close()
    assert synced == ["file", "folder"]
    synced.clear()
    start = make_log(path, [[b"kept"], [b"torn"]])[-1]
    path.write_bytes(path.read_bytes()[: start + 3])
    synced.clear()
    with pytest.warns(TornTailWarning):
        AppendLog(path).close()
    assert synced == ["file"]


def test_a_failed_fsync_is_reported_and_stops_appends(tmp_path, monkeypatch):
    path = tmp_path / "adds.log"
    log = AppendLog(path)
    log.append([b"durable"])
    real_fsync = os.fsync
    failures = [OSError(5, "Input/output error")]

    def fsync(fd):
        if failures:
            raise failures.pop()
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(LogFailedError, match="was not acknowledged") as raised:
        log.append([b"lost"])
    assert isinstance(raised.value.__cause__, OSError)
    with pytest.raises(LogFailedError, match="an earlier append failed"):
        log.append([b"refused"])
    log.close()
    assert contents(path) == [b"durable"]  # the failed batch was cut off again


# -- locking and threads -----------------------------------------------------------------------


def test_a_second_process_gets_a_clear_error(tmp_path):
    path = tmp_path / "adds.log"
    code = (
        "import sys; from hashlearn.serve._log import AppendLog; "
        "AppendLog(sys.argv[1]).append([b'from the child'])"
    )
    env = {**os.environ, "PYTHONPATH": SRC}
    with AppendLog(path) as log:
        log.append([b"parent"])
        child = subprocess.run(
            [sys.executable, "-c", code, str(path)], env=env, capture_output=True, text=True
        )
        assert child.returncode != 0
        assert f"LogInUseError: {path} is in use by another process" in child.stderr
    subprocess.run([sys.executable, "-c", code, str(path)], env=env, check=True)
    assert contents(path) == [b"parent", b"from the child"]


def test_a_second_open_in_this_process_conflicts_until_closed(tmp_path):
    path = tmp_path / "adds.log"
    with AppendLog(path), pytest.raises(LogInUseError, match="is in use by another process"):
        AppendLog(path)
    AppendLog(path).close()


def test_a_forked_child_cannot_append(tmp_path):
    path = tmp_path / "adds.log"
    with AppendLog(path) as log:
        pid = os.fork()
        if pid == 0:  # the child: exit status 7 means the documented refusal
            try:
                log.append([b"from the child"])
            except LogInUseError as exc:
                os._exit(7 if "was opened by process" in str(exc) else 1)
            os._exit(0)
        assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 7
        log.append([b"parent"])
    assert contents(path) == [b"parent"]


def test_concurrent_appends_are_all_present_and_atomic(tmp_path):
    path = tmp_path / "adds.log"
    n_threads, n_appends = 8, 40
    with AppendLog(path) as log:

        def work(thread):
            for i in range(n_appends):
                log.append([f"{thread}:{i}:a".encode(), f"{thread}:{i}:b".encode()])

        threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert log.n_records == 2 * n_threads * n_appends
    records = [record.decode() for record in contents(path)]
    pairs = list(zip(records[::2], records[1::2], strict=True))
    assert all(a[:-1] == b[:-1] and a.endswith("a") for a, b in pairs)  # batches stay whole
    for thread in range(n_threads):
        mine = [int(a.split(":")[1]) for a, _ in pairs if a.startswith(f"{thread}:")]
        assert mine == list(range(n_appends))  # each thread's appends in its order


def test_appends_waiting_on_a_write_share_the_next_fsync(tmp_path, monkeypatch):
    path = tmp_path / "adds.log"
    log = AppendLog(path)
    release, calls = threading.Event(), []
    real_fsync = os.fsync

    def fsync(fd):
        calls.append(fd)
        release.wait(10)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    threads = [threading.Thread(target=log.append, args=([str(i).encode()],)) for i in range(6)]
    deadline = time.monotonic() + 10
    threads[0].start()
    while not calls and time.monotonic() < deadline:  # the first append is inside its fsync
        time.sleep(0.001)
    for thread in threads[1:]:
        thread.start()
    while len(log._queue) < 5 and time.monotonic() < deadline:
        time.sleep(0.001)
    release.set()
    for thread in threads:
        thread.join()
    assert len(calls) == 2  # one for the first append, one shared by the five queued behind it
    log.close()
    assert sorted(contents(path)) == [str(i).encode() for i in range(6)]


# -- argument checks ---------------------------------------------------------------------------


def test_a_payload_over_the_limit_is_refused_and_nothing_is_written(tmp_path):
    path = tmp_path / "adds.log"
    with AppendLog(path, max_payload_bytes=10) as log:
        with pytest.raises(ValueError, match=r"payloads\[1\] is 11 bytes, over .*=10"):
            log.append([b"fits", b"x" * 11])
        assert log.n_records == 0 and os.path.getsize(path) == 24
        log.append([b"x" * 10])
    with AppendLog(path, max_payload_bytes=0) as log:  # reading accepts what was written
        assert list(log.records()) == [b"x" * 10]


@pytest.mark.parametrize("limit", [-1, 2**32, True, 1.5])
def test_max_payload_bytes_is_checked(tmp_path, limit):
    with pytest.raises(ValueError, match="max_payload_bytes must be an int in"):
        AppendLog(tmp_path / "adds.log", max_payload_bytes=limit)


@pytest.mark.parametrize(
    ("payloads", "message"),
    [
        (b"abc", "wrap a single payload in a list"),
        ("abc", "got str"),
        ((p for p in [b"a"]), "got generator"),
        ([b"ok", 1], r"payloads\[1\] must be bytes, got int"),
        (["text"], r"payloads\[0\] must be bytes, got str"),
    ],
)
def test_append_checks_its_argument(tmp_path, payloads, message):
    with AppendLog(tmp_path / "adds.log") as log:
        with pytest.raises(TypeError, match=message):
            log.append(payloads)
        assert log.n_records == 0


def test_a_closed_log_refuses_work(tmp_path):
    log = AppendLog(tmp_path / "adds.log")
    log.close()
    log.close()
    with pytest.raises(ValueError, match="the log is closed"):
        log.append([b"late"])
    with pytest.raises(ValueError, match="the log is closed"):
        log.records()


# -- THE fault test ----------------------------------------------------------------------------

WRITER = """
import os, random, sys, time
from hashlearn.serve._log import AppendLog

# Short, slow writes: the kernel may write less than asked, and a slow write makes the
# SIGKILL land mid-write (a torn tail) in most rounds rather than during the fsync.
real_pwrite = os.pwrite
def short_pwrite(fd, data, offset):
    time.sleep(0.0005)
    return real_pwrite(fd, data[:4096], offset)
os.pwrite = short_pwrite

def payload(seq):
    rng = random.Random(seq)
    return seq.to_bytes(8, "little") + rng.randbytes(rng.randrange(0, 30000))

path, seq = sys.argv[1], int(sys.argv[2])
with AppendLog(path) as log:
    while True:
        batch = [payload(seq + i) for i in range(1 + seq % 3)]
        log.append(batch)
        seq += len(batch)
        print(seq - 1, flush=True)  # acknowledged: every record up to seq - 1 is durable
"""


def _payload(seq: int) -> bytes:
    rng = random.Random(seq)
    return seq.to_bytes(8, "little") + rng.randbytes(rng.randrange(0, 30000))


def test_every_acknowledged_record_survives_sigkill(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER, encoding="utf-8")
    path = tmp_path / "adds.log"
    env = {**os.environ, "PYTHONPATH": SRC}
    acknowledged, present = -1, 0
    for round_ in range(3):
        child = subprocess.Popen(
            [sys.executable, str(script), str(path), str(present)], stdout=subprocess.PIPE, env=env
        )
        assert child.stdout is not None
        for line in child.stdout:
            acknowledged = int(line)
            if acknowledged >= present + 40:
                break
        # SIGKILL a moment after an acknowledgement: the child is writing further batches.
        time.sleep(random.Random(round_).uniform(0.002, 0.01))
        child.kill()
        child.wait()
        child.stdout.close()
        assert child.returncode == -9
        records = contents(path)
        assert len(records) > acknowledged
        for seq, record in enumerate(records):
            assert record == _payload(seq), f"record {seq} damaged"
        present = len(records)


# -- the add record codec ----------------------------------------------------------------------


def full_record(m: int = 3) -> AddRecord:
    rng = np.random.default_rng(0)
    return AddRecord(
        first_id=2**63 - m,
        codes=rng.integers(0, 256, (m, 5), dtype=np.uint8),
        labels=rng.integers(0, 2, (m, 4), dtype=np.uint8),
        vectors=rng.standard_normal((m, 6)).astype(np.float32),
        texts=["", "naïve café ✓", "x" * 300][:m],
    )


def test_add_record_round_trip():
    record = full_record()
    again = AddRecord.from_bytes(record.to_bytes())
    assert again.first_id == record.first_id and again.texts == record.texts
    for name in ("codes", "labels", "vectors"):
        before, after = getattr(record, name), getattr(again, name)
        assert after.dtype == before.dtype and np.array_equal(after, before)
        assert not after.flags.writeable
    single = AddRecord(0, np.ones((2, 1), np.uint8), labels=np.array([-3, 7], np.int64))
    again = AddRecord.from_bytes(bytearray(single.to_bytes()))
    assert again.labels.tolist() == [-3, 7] and again.vectors is None and again.texts is None
    assert again.n_items == 2


def test_add_records_travel_through_the_log(tmp_path):
    path = tmp_path / "adds.log"
    with AppendLog(path) as log:
        log.append([full_record(3).to_bytes(), full_record(1).to_bytes()])
    replayed = [AddRecord.from_bytes(record) for record in contents(path)]
    assert [r.n_items for r in replayed] == [3, 1]
    assert np.array_equal(replayed[0].vectors, full_record(3).vectors)


CODES = np.zeros((2, 3), np.uint8)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"codes": CODES.astype(np.int64)}, TypeError, "codes must have dtype uint8, got int64"),
        ({"codes": CODES[0]}, ValueError, r"codes must have shape \(m, k\)"),
        ({"codes": CODES[:0]}, ValueError, r"with m >= 1; got \(0, 3\)"),
        ({"codes": [[1, 2]]}, TypeError, "codes must be a numpy array"),
        ({"first_id": -1}, ValueError, "first_id must be in"),
        ({"first_id": 2**63 - 1}, ValueError, "first_id must be in"),
        ({"first_id": True}, TypeError, "first_id must be an int"),
        (
            {"labels": np.array([1], np.int64)},
            ValueError,
            r"labels must have shape \(m,\) with m=2",
        ),
        ({"labels": np.array([1.0, 2.0])}, TypeError, "labels must have dtype int64"),
        ({"labels": np.full((2, 3), 2, np.uint8)}, ValueError, "0/1 label-indicator"),
        ({"vectors": np.full((2, 2), np.nan, np.float32)}, ValueError, "NaN or infinity"),
        ({"vectors": np.ones((2, 2))}, TypeError, "vectors must have dtype float32"),
        ({"texts": ["one"]}, ValueError, "texts must be a list of 2 strings"),
        ({"texts": ["one", 2]}, TypeError, r"texts\[1\] must be a str"),
        ({"texts": ["one", "\ud800"]}, ValueError, r"texts\[1\] is not valid Unicode"),
    ],
)
def test_add_record_checks_its_fields(kwargs, error, message):
    with pytest.raises(error, match=message):
        AddRecord(**{"first_id": 0, "codes": CODES, **kwargs})


def forge(header: dict, body: bytes = b"") -> bytes:
    base = {"version": 1, "first_id": 0, "n": 2, "codes": {"dtype": "|u1", "shape": [2, 3]}}
    text = json.dumps({**base, "labels": None, "vectors": None, "texts": None, **header}).encode()
    return b"HLAD" + struct.pack("<I", len(text)) + text + body


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"HLA", "shorter than its 8-byte prefix"),
        (b"HLXX" + bytes(20), "not an add record: magic"),
        (b"HLAD" + struct.pack("<I", 10**6) + bytes(10), "header length 1000000"),
        (b"HLAD" + struct.pack("<I", 3) + b"{x}", "not valid JSON"),
        (b"HLAD" + struct.pack("<I", 2) + b"\xff\xfe", "not valid JSON"),
        (b"HLAD" + struct.pack("<I", 2) + b"[]", "must have the keys"),
        (forge({"extra": 1}, bytes(6)), "must have the keys"),
        (forge({"version": 2}, bytes(6)), "add record version 2"),
        (forge({"n": 0}, bytes(6)), "n must be in"),
        (forge({"first_id": "0"}, bytes(6)), "first_id must be an int"),
        (forge({"codes": None}), "codes is required"),
        (forge({"codes": {"dtype": "<i8", "shape": [2, 3]}}, bytes(48)), "codes dtype must be"),
        (forge({"codes": {"dtype": "|u1", "shape": [3, 2]}}, bytes(6)), "starting with n=2"),
        (forge({"codes": {"dtype": "|u1", "shape": [2, 0]}}), "positive ints"),
        (forge({"codes": {"dtype": "|u1", "shape": [2, True]}}, bytes(2)), "positive ints"),
        (forge({"codes": {"dtype": "|u1", "shape": [2, 2**60]}}, bytes(6)), "declares"),
        (forge({"n": 2**40, "codes": {"dtype": "|u1", "shape": [2**40, 8]}}), "declares"),
        (forge({"codes": {"dtype": "|u1"}}, bytes(6)), re.escape("must be {'dtype', 'shape'}")),
        (forge({"vectors": {"dtype": "<f8", "shape": [2, 1]}}, bytes(22)), "vectors dtype"),
        (forge({"labels": {"dtype": "<i8", "shape": [2, 1]}}, bytes(22)), "labels shape"),
        (forge({}, bytes(7)), "bytes but its header declares"),
        (forge({"texts": {"nbytes": -1}}, bytes(22)), "texts must be null or"),
        (forge({"texts": {"nbytes": 2}}, bytes(6) + struct.pack("<2q", 3, -1) + b"ab"), "negat"),
        (forge({"texts": {"nbytes": 2}}, bytes(6) + struct.pack("<2q", 1, 0) + b"ab"), "add up"),
        (forge({"texts": {"nbytes": 2}}, bytes(6) + struct.pack("<2q", 1, 1) + b"a\xff"), "UTF-8"),
        (
            forge(
                {"vectors": {"dtype": "<f4", "shape": [2, 1]}}, bytes(6) + b"\x00\x00\xc0\x7f" * 2
            ),
            "invalid add record: vectors contains NaN",
        ),
        (
            forge({"labels": {"dtype": "|u1", "shape": [2, 1]}}, bytes(6) + b"\x05\x00"),
            "invalid add record: 2-D labels must be a 0/1",
        ),
    ],
)
def test_add_record_garbage_is_a_value_error(data, message):
    with pytest.raises(ValueError, match=message):
        AddRecord.from_bytes(data)


def test_a_duplicated_header_key_is_refused():
    header = b'{"n":2,"n":3}'
    with pytest.raises(ValueError, match="repeats a key"):
        AddRecord.from_bytes(b"HLAD" + struct.pack("<I", len(header)) + header)


def test_every_truncation_and_many_flips_of_an_add_record_are_handled():
    data = full_record().to_bytes()
    for cut in range(len(data)):
        with pytest.raises(ValueError):
            AddRecord.from_bytes(data[:cut])
    rng = np.random.default_rng(1)
    for _ in range(400):
        damaged = bytearray(data)
        damaged[rng.integers(len(data))] = rng.integers(256)
        with contextlib.suppress(ValueError):  # any other exception fails the test
            AddRecord.from_bytes(bytes(damaged))


def test_from_bytes_wants_bytes():
    with pytest.raises(TypeError, match="data must be bytes, got str"):
        AddRecord.from_bytes("HLAD")  # type: ignore[arg-type]

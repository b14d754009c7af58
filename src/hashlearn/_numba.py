"""numba primitives shared by every compiled kernel: popcount, threads, two compilations.

Kernels read codes as rows of 64-bit words (:func:`hashlearn.codes.as_words`); the Hamming
distance of two words is ``popcount(a XOR b)``, computed with the hardware ``popcnt``
instruction through LLVM's ``ctpop`` (:func:`popcount64`). Threaded kernels split queries
across numba's threads; :func:`threads` sets the count for the enclosed calls from an
index's ``n_threads`` parameter. Compilation happens on first use and is cached on disk
by numba, never at ``import hashlearn``.

Caching is decided once, here: :data:`CACHE` is passed as ``cache=`` by every ``numba.njit``
in hashlearn. numba caches next to the source (``__pycache__``), else in ``NUMBA_CACHE_DIR``
or the user's cache folder; on a read-only install without a writable home it finds none, and
asking it to cache would raise "cannot cache function" at import. Then :data:`CACHE` is False:
kernels compile on first use in every process, and one :class:`NumbaCacheWarning` says so
and how to cache (set ``NUMBA_CACHE_DIR`` to a writable folder). hashlearn does not set
``NUMBA_CACHE_DIR`` itself: a temporary folder would not outlive the process, so it would
cost the same compilations, and changing the environment would reach the user's own kernels.
"""

from __future__ import annotations

import types as types_module
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numba
import numpy as np
from numba.core import types
from numba.extending import intrinsic

__all__ = [
    "CACHE",
    "SERIAL_WORK",
    "NumbaCacheWarning",
    "check_n_threads",
    "compile_both",
    "parallel",
    "pick",
    "popcount64",
    "serial",
    "thread_count",
    "threads",
]

# Work (queries x codes x words) below which a scan runs on one thread. Waking the thread
# pool costs tens of microseconds, and OpenMP's idle threads then spin for a while on both
# cores, slowing whatever runs next (BLAS in a re-ranker, say); a single query against
# 10^5 codes takes well under a millisecond on one thread.
SERIAL_WORK = 2**22


class NumbaCacheWarning(RuntimeWarning):
    """numba finds no writable cache folder: kernels compile in every process."""


def _cache_available() -> bool:
    """Whether numba can cache kernels of this install; warn once when it cannot.

    numba looks for a cache folder when a function is decorated with ``cache=True``; a
    probe defined here asks it for hashlearn's folder without compiling anything.
    """

    def probe() -> int:
        return 0

    try:
        numba.njit(cache=True)(probe)
    except RuntimeError as error:
        if "cannot cache" not in str(error):
            raise
        warnings.warn(
            "numba cannot cache hashlearn's compiled kernels: no writable __pycache__ next to "
            f"{__file__} and no writable user cache folder; kernels compile on first use in "
            "every process (seconds each). Set NUMBA_CACHE_DIR to a writable folder to "
            "cache them.",
            NumbaCacheWarning,
            stacklevel=2,
        )
        return False
    return True


#: ``cache=`` for every ``numba.njit`` in hashlearn: False where numba has no cache folder.
CACHE = _cache_available()

parallel = numba.njit(parallel=True, nogil=True, cache=CACHE, boundscheck=False)
serial = numba.njit(nogil=True, cache=CACHE, boundscheck=False)


def compile_both(py_func: Any) -> tuple[Any, Any]:
    """``(serial, threaded)`` compilations of one kernel.

    numba's disk cache names entries after the function's qualified name and does not tell
    the two compilations apart, so the serial one is compiled from a copy of the function
    under its own name; otherwise each would load whichever the other cached first.
    """
    copy = types_module.FunctionType(
        py_func.__code__,
        py_func.__globals__,
        f"{py_func.__name__}_serial",
        py_func.__defaults__,
        py_func.__closure__,
    )
    copy.__qualname__ = f"{py_func.__qualname__}_serial"
    copy.__module__ = py_func.__module__
    return serial(copy), parallel(py_func)


def pick(pair: tuple[Any, Any], work: int) -> Any:
    """The serial or the threaded compilation of a kernel, by the amount of work."""
    return pair[int(work >= SERIAL_WORK)]


@intrinsic
def _ctpop_u64(typingctx, value):
    """LLVM's ``ctpop`` on a uint64: the hardware popcount instruction."""
    if value != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return types.uint64(types.uint64), codegen


@numba.njit(inline="always", nogil=True, cache=CACHE)
def popcount64(value):
    """Number of set bits of a ``uint64`` (one ``popcnt`` instruction)."""
    return np.int64(_ctpop_u64(value))  # type: ignore[call-arg]


def check_n_threads(n_threads: Any) -> int | None:
    """Validate an ``n_threads`` parameter: None, -1 (all of numba's pool) or an int >= 1."""
    if n_threads is None:
        return None
    if isinstance(n_threads, bool) or not isinstance(n_threads, (int, np.integer)):
        raise TypeError(f"n_threads must be None, -1 or an int >= 1, got {n_threads!r}")
    if n_threads == -1 or n_threads >= 1:
        return int(n_threads)
    raise ValueError(f"n_threads must be None, -1 or an int >= 1, got {int(n_threads)}")


def thread_count(n_threads: int | None) -> int:
    """Threads to run with: ``n_threads`` capped at numba's pool; the pool for None / -1."""
    pool = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    if n_threads is None or n_threads == -1:
        return pool
    return max(1, min(int(n_threads), pool))


@contextmanager
def threads(n_threads: int | None) -> Iterator[int]:
    """Run the enclosed kernels on ``thread_count(n_threads)`` threads, then restore.

    numba's thread count is per calling thread, so this does not affect other threads.
    """
    previous = numba.get_num_threads()
    count = thread_count(n_threads)
    numba.set_num_threads(count)
    try:
        yield count
    finally:
        numba.set_num_threads(previous)

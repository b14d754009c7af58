"""What every benchmark script records: the machine, the date, and its JSON output.

Imported as ``_common`` by the scripts (they run as ``python benchmarks/NAME.py``, so this
folder is on ``sys.path``) and as ``benchmarks._common`` by the search benchmark package.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
from typing import Any

import numpy as np


def blas_info() -> str:
    """The BLAS libraries numpy/scipy use and their thread counts (via threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        return "unknown"
    pools = [
        f"{pool.get('internal_api')} ({pool.get('num_threads')} threads)"
        for pool in threadpool_info()
        if pool.get("user_api") == "blas"
    ]
    return ", ".join(dict.fromkeys(pools)) or "none found"  # numpy and scipy may share one


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def now() -> str:
    """The local date and time, ISO 8601, to the second."""
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def machine() -> dict[str, Any]:
    """Facts about this machine and the numerical stack, recorded with every result."""
    import sklearn

    return {
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit_learn": sklearn.__version__,
        "blas": blas_info(),
    }


def write_json(path: str | os.PathLike[str], result: dict[str, Any]) -> None:
    """Write a benchmark's results as strict JSON, atomically, and say where."""
    from hashlearn._io import write_json as write_strict_json

    write_strict_json(path, result)
    print(f"wrote {path}")


def best_of_ms(call: Any, repeat: int) -> float:
    """Smallest wall time of ``repeat`` calls of ``call()``, in milliseconds, after one
    warm-up call (compilation, caches)."""
    import time

    call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)

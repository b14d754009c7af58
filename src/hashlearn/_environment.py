"""The facts stored with every result: versions, machine, git revision, peak memory."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["environment", "git_revision", "numba_threads", "peak_memory_mib"]


def peak_memory_mib() -> float | None:
    """Peak resident memory of this process so far, in MiB (None where unavailable)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB else


def git_revision() -> str | None:
    """Short git revision of the hashlearn checkout, or None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def numba_threads() -> int | None:
    """numba's thread count for this thread (None when its threading layer is unusable)."""
    try:
        import numba

        return int(numba.get_num_threads())
    except Exception:  # numba is a dependency, but its threading layer may be unusable
        return None


def environment() -> dict[str, Any]:
    """Library, Python and machine facts stored with every result."""
    import numpy as np
    import scipy
    import sklearn

    from hashlearn._version import __version__

    return {
        "hashlearn": __version__,
        "git_revision": git_revision(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit_learn": sklearn.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "numba_threads": numba_threads(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }

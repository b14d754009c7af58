"""MATLAB v7.3 (HDF5) files, which scipy cannot read: read them with h5py when installed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["read_v73"]


def read_v73(path: Path, variables: tuple[str, ...], fix: str) -> tuple[Any, ...]:
    """The named variables of a MATLAB v7.3 file, as arrays in MATLAB's orientation.

    Raises ImportError naming ``pip install h5py`` when h5py is missing, and ValueError
    (ending with ``fix``, what the user should do) for an unreadable file or a missing
    variable.
    """
    try:
        import h5py
    except ImportError:
        raise ImportError(
            f"{path} is a MATLAB v7.3 (HDF5) file, which scipy cannot read; install h5py "
            "(pip install h5py) or re-save the file in MATLAB with save(..., '-v7')"
        ) from None
    try:
        with h5py.File(path, "r") as handle:
            missing = [name for name in variables if name not in handle]
            if missing:
                raise ValueError(f"{path} lacks the variable(s) {', '.join(missing)}; {fix}")
            # MATLAB writes column-major arrays, so h5py sees each one transposed.
            return tuple(np.asarray(handle[name]).T for name in variables)
    except (OSError, KeyError) as exc:
        raise ValueError(
            f"{path} could not be read as a MATLAB v7.3 file with variables "
            f"{', '.join(variables)} ({exc}); {fix}"
        ) from exc

"""Training checkpoints: tensors as arrays in an uncompressed ``.npz``, never pickled.

A checkpoint holds everything the trainer needs to continue an interrupted fit exactly:
the network and loss weights, the optimizer's moments, the generators' states, the best
network so far, the curve and the epoch. It is written atomically after each epoch (a
temporary file, then a rename), so a killed fit leaves the previous epoch's checkpoint.
It is read with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any, cast

import numpy as np

from hashlearn._io import atomic_write, dumps_json

__all__ = ["CheckpointError", "read_checkpoint", "tensors_from", "tensors_to", "write_checkpoint"]


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read, or that belongs to another training run."""


def tensors_to(prefix: str, state: dict[str, Any]) -> dict[str, np.ndarray]:
    """``{prefix/name: array}`` from a ``state_dict`` of tensors."""
    return {f"{prefix}/{name}": tensor.detach().cpu().numpy() for name, tensor in state.items()}


def tensors_from(prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """The ``state_dict`` stored under ``prefix`` by :func:`tensors_to`."""
    import torch

    start = f"{prefix}/"
    return {
        name[len(start) :]: torch.from_numpy(np.array(value))
        for name, value in arrays.items()
        if name.startswith(start)
    }


def _optimizer_arrays(state: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    arrays: dict[str, np.ndarray] = {}
    scalars: dict[str, Any] = {}
    for index, values in state["state"].items():
        for name, value in values.items():
            key = f"optimizer/{index}/{name}"
            if hasattr(value, "detach"):
                arrays[key] = value.detach().cpu().numpy()
            else:
                scalars[key] = value
    return arrays, {"param_groups": state["param_groups"], "scalars": scalars}


def _optimizer_state(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> dict[str, Any]:
    import torch

    state: dict[int, dict[str, Any]] = {}
    for key, value in arrays.items():
        if key.startswith("optimizer/"):
            _, index, name = key.split("/", 2)
            state.setdefault(int(index), {})[name] = torch.from_numpy(np.array(value))
    for key, value in meta["scalars"].items():
        _, index, name = key.split("/", 2)
        state.setdefault(int(index), {})[name] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def write_checkpoint(
    path: str | os.PathLike[str],
    *,
    meta: dict[str, Any],
    network: dict[str, Any],
    best: dict[str, Any] | None,
    loss: dict[str, Any],
    optimizer: dict[str, Any],
    generators: dict[str, Any],
) -> Path:
    """Write one checkpoint atomically (see the module docstring)."""
    arrays = {**tensors_to("network", network), **tensors_to("loss", loss)}
    if best is not None:
        arrays.update(tensors_to("best", best))
    optimizer_arrays, optimizer_meta = _optimizer_arrays(optimizer)
    arrays.update(optimizer_arrays)
    for name, state in generators.items():
        arrays[f"generator/{name}"] = state.cpu().numpy()
    document = {**meta, "optimizer": optimizer_meta, "has_best": best is not None}
    arrays["meta"] = np.frombuffer(dumps_json(document, strict=True).encode(), dtype=np.uint8)
    return atomic_write(path, lambda handle: np.savez(handle, **cast(dict[str, Any], arrays)))


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint: ``meta``, the state dicts and the generator states.

    Raises
    ------
    CheckpointError
        When the file is not a readable checkpoint (naming the file).
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        meta = json.loads(arrays.pop("meta").tobytes().decode())
        if not isinstance(meta, dict):
            raise ValueError("its metadata is not an object")
        import torch

        return {
            "meta": meta,
            "network": tensors_from("network", arrays),
            "best": tensors_from("best", arrays) if meta.get("has_best") else None,
            "loss": tensors_from("loss", arrays),
            "optimizer": _optimizer_state(arrays, meta["optimizer"]),
            "generators": {
                name.split("/", 1)[1]: torch.from_numpy(np.array(value))
                for name, value in arrays.items()
                if name.startswith("generator/")
            },
        }
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        raise CheckpointError(
            f"{path} is not a readable hashlearn training checkpoint ({exc}); delete it to "
            "train from the start"
        ) from exc

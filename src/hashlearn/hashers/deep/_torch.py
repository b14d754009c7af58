"""torch, imported only when a deep hasher is used: the install hint, devices, seeds.

``import hashlearn`` and ``import hashlearn.hashers`` never import torch; the deep
hashers import it through :func:`require_torch` when they fit, encode or load.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["DEEP_INSTALL_HINT", "require_torch", "resolve_device", "torch_generator"]

DEEP_INSTALL_HINT = "pip install 'hashlearn[deep]'"

DEVICES = ("auto", "cpu", "cuda")


def require_torch(feature: str = "deep hashing") -> ModuleType:
    """Import torch, or raise an ImportError naming the extra to install."""
    try:
        import torch
    except ImportError as exc:
        raise ImportError(
            f"{feature} needs PyTorch, which is not installed; install it with: "
            f"{DEEP_INSTALL_HINT} ({exc})"
        ) from exc
    return torch


def resolve_device(device: Any) -> Any:
    """``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``
    as a :class:`torch.device`; anything else is a ValueError naming what is allowed."""
    torch = require_torch()
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str) or not (
        device in DEVICES or (device.startswith("cuda:") and device[5:].isdigit())
    ):
        raise ValueError(f"device must be one of 'auto', 'cpu', 'cuda', 'cuda:N', got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was asked for, but torch sees no CUDA device "
            f"(torch {torch.__version__}); use device='cpu' or 'auto'"
        )
    return torch.device(device)


def torch_generator(rng: np.random.Generator, device: Any = "cpu") -> Any:
    """A :class:`torch.Generator` on ``device`` seeded from ``rng`` (one draw of 63 bits)."""
    torch = require_torch()
    generator = torch.Generator(device=device)
    generator.manual_seed(int(rng.integers(0, 2**63 - 1)))
    return generator

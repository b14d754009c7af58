"""torch and torchvision, imported only when a feature that needs them is used.

``import hashlearn`` never imports torch: the modules that need it (CNN features, deep
hashers) call :func:`require_torch` or :func:`require_torchvision` when they run, and a
missing install is an ImportError naming the extra to install. This is a leaf so that
``features`` (CNN embeddings) and ``hashers.deep`` share one guard and one device rule
without importing each other.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

__all__ = ["DEEP_INSTALL_HINT", "DEVICES", "require_torch", "require_torchvision", "resolve_device"]

DEEP_INSTALL_HINT = "pip install 'hashlearn[deep]'"

#: The device names accepted besides ``"cuda:N"``.
DEVICES = ("auto", "cpu", "cuda")


def require_torch(feature: str = "deep hashing") -> ModuleType:
    """Import torch, or raise an ImportError naming the extra to install.

    Parameters
    ----------
    feature : str, default "deep hashing"
        What needs torch, for the message.
    """
    try:
        import torch
    except ImportError as exc:
        raise ImportError(
            f"{feature} needs PyTorch, which is not installed; install it with: "
            f"{DEEP_INSTALL_HINT} ({exc})"
        ) from exc
    return torch


def require_torchvision(feature: str = "CNN features") -> ModuleType:
    """Import torchvision (and torch), or raise an ImportError naming the extra to install.

    Parameters
    ----------
    feature : str, default "CNN features"
        What needs torchvision, for the message.
    """
    require_torch(feature)
    try:
        import torchvision
    except ImportError as exc:
        raise ImportError(
            f"{feature} needs torchvision, which is not installed; install it with: "
            f"{DEEP_INSTALL_HINT} ({exc})"
        ) from exc
    return torchvision


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

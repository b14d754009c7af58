"""torch for the deep hashers: the import guard and devices (from the leaf
:mod:`hashlearn._torch`, shared with the CNN features) and seeded generators.

``import hashlearn`` and ``import hashlearn.hashers`` never import torch; the deep
hashers import it through :func:`require_torch` when they fit, encode or load.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hashlearn._torch import DEEP_INSTALL_HINT, require_torch, resolve_device

__all__ = ["DEEP_INSTALL_HINT", "require_torch", "resolve_device", "torch_generator"]


def torch_generator(rng: np.random.Generator, device: Any = "cpu") -> Any:
    """A :class:`torch.Generator` on ``device`` seeded from ``rng`` (one draw of 63 bits)."""
    torch = require_torch()
    generator = torch.Generator(device=device)
    generator.manual_seed(int(rng.integers(0, 2**63 - 1)))
    return generator

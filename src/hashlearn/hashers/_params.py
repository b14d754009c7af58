"""Parameter checks shared by several hashers (messages name the parameter and the value)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = ["check_non_negative", "check_positive_or_none", "missing_labels_error"]


def check_positive_or_none(value: Any, name: str) -> float | None:
    """None stays None; a positive finite real becomes a float; anything else raises."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive float or None, got {value!r}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite float or None, got {value}")
    return float(value)


def check_non_negative(value: Any, name: str) -> float:
    """A finite real ``>= 0`` as a float; anything else raises naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a non-negative float, got {value!r}")
    if not (np.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a non-negative finite float, got {value}")
    return float(value)


def missing_labels_error(owner: str, reason: str = "it is supervised") -> ValueError:
    """The error a supervised hasher raises when ``fit`` gets ``y=None``.

    ``reason`` says why ``owner`` needs labels; the message then says what to pass.
    """
    return ValueError(
        f"{owner} requires y to be passed, but the target y is None; {reason}: give "
        "class labels (1-D) or a 0/1 label-indicator matrix (2-D)"
    )

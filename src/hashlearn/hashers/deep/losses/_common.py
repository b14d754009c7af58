"""Pieces several deep hashing objectives share: argument checks, the straight-through
sign, and the match between input and code similarities used by the unsupervised ones."""

from __future__ import annotations

import math
from typing import Any

from hashlearn.hashers.deep._torch import require_torch

require_torch()  # a clear ImportError naming the extra when torch is missing
import torch  # noqa: E402

__all__ = [
    "binary",
    "label_cross_entropy",
    "off_diagonal_mean",
    "require_generator",
    "require_inputs",
    "require_labels",
    "seeded_linear",
    "similarity_matching",
    "straight_through_sign",
]


def require_labels(method: str, codes: Any, labels: Any, n_classes: int | None) -> Any:
    """``labels`` as a float ``(batch, n_classes)`` matrix in ``codes``' dtype, or a
    ValueError naming what a supervised objective needs."""
    if labels is None:
        raise ValueError(
            f"{method} is supervised: labels must be a (batch, n_classes) 0/1 matrix, got None"
        )
    width = n_classes if n_classes is not None else labels.shape[-1]
    if labels.ndim != 2 or labels.shape[0] != codes.shape[0] or labels.shape[1] != width:
        raise ValueError(
            f"{method}: labels must have shape ({codes.shape[0]}, {width}) for a batch of "
            f"{codes.shape[0]} codes, got {tuple(labels.shape)}"
        )
    return labels.to(codes.dtype)


def require_inputs(method: str, codes: Any, inputs: Any) -> Any:
    """The batch's inputs flattened to float32 ``(batch, features)``, detached (they are
    data, not parameters); a ValueError when they are missing or of another batch."""
    if inputs is None or inputs.ndim < 1 or inputs.shape[0] != codes.shape[0]:
        got = None if inputs is None else tuple(inputs.shape)
        raise ValueError(
            f"{method} matches input similarities: inputs must be the batch of "
            f"{codes.shape[0]} inputs the backbone received, got shape {got}"
        )
    return inputs.detach().reshape(inputs.shape[0], -1).float()


def require_generator(method: str, generator: Any) -> Any:
    """``generator`` when it is a :class:`torch.Generator`, else a TypeError (the method
    draws random values, and a generator is the only source it may use)."""
    if not isinstance(generator, torch.Generator):
        raise TypeError(
            f"{method} draws random values: generator must be a torch.Generator, "
            f"got {type(generator).__name__}"
        )
    return generator


def check_non_negative(name: str, value: Any) -> float:
    """``value`` as a float, or a ValueError when it is not ``>= 0`` (NaN included)."""
    if not float(value) >= 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return float(value)


def binary(values: Any) -> Any:
    """``+1`` where ``values >= 0``, else ``-1`` (the one sign rule), in ``values``' dtype."""
    return torch.where(values >= 0, 1.0, -1.0).to(values.dtype)


def straight_through_sign(values: Any) -> Any:
    """:func:`binary` in the forward pass, the identity in the backward pass."""
    return values + (binary(values) - values).detach()


def off_diagonal_mean(matrix: Any) -> Any:
    """Mean of a square matrix's entries off the diagonal (0, still differentiable, when
    the matrix is 1 x 1)."""
    n = matrix.shape[0]
    mask = 1 - torch.eye(n, device=matrix.device, dtype=matrix.dtype)
    return (matrix * mask).sum() / max(n * (n - 1), 1)


def similarity_matching(codes: Any, features: Any) -> Any:
    """Mean over pairs ``i != j`` of ``(cos(codes_i, codes_j) - cos(features_i, features_j))^2``.

    Computed in float32 even under autocast: flattened images have many features, and
    their squared norms overflow float16.
    """
    with torch.autocast(device_type=codes.device.type, enabled=False):
        normalised_codes = torch.nn.functional.normalize(codes.float(), dim=1)
        normalised_features = torch.nn.functional.normalize(features.float(), dim=1)
        code_cosines = normalised_codes @ normalised_codes.T
        feature_cosines = normalised_features @ normalised_features.T
        return off_diagonal_mean((code_cosines - feature_cosines).pow(2))


def seeded_linear(n_in: int, n_out: int, generator: Any, *, bias: bool = True) -> Any:
    """``torch.nn.Linear(n_in, n_out)`` with weights ``U(-1/sqrt(n_in), 1/sqrt(n_in))``
    drawn from ``generator`` (torch's default bound, without its global generator) and a
    zero bias."""
    layer = torch.nn.utils.skip_init(torch.nn.Linear, n_in, n_out, bias=bias)
    bound = 1 / math.sqrt(n_in)
    weights = torch.rand(n_out, n_in, generator=generator, device=generator.device)
    with torch.no_grad():
        layer.weight.copy_((2 * weights - 1) * bound)
        if bias:
            layer.bias.zero_()
    return layer


def label_cross_entropy(logits: Any, labels: Any) -> Any:
    """Cross-entropy of a classifier against 0/1 labels, in float32: a multi-label
    point's ``m`` labels weigh ``1 / m`` each, and points without a label are left out of
    the mean."""
    with torch.autocast(device_type=logits.device.type, enabled=False):
        logits = logits.float()
        counts = labels.sum(dim=1)
        has_label = (counts > 0).to(logits.dtype)
        distribution = labels.float() / counts.clamp(min=1).unsqueeze(1)
        per_point = torch.nn.functional.cross_entropy(logits, distribution, reduction="none")
        return (per_point * has_label).sum() / has_label.sum().clamp(min=1)

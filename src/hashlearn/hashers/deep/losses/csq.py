"""Central Similarity Quantization, CSQ (Yuan et al., CVPR 2020).

Each class gets a hash centre ``c`` in ``{-1, +1}^n_bits``, far from the other centres, and
each point is pulled towards its centre: with ``t = tanh(h)`` the relaxed code of a point
and ``c`` its centre::

    L = mean over points and bits of BCE((t + 1) / 2, (c + 1) / 2)
        + lambda * mean over points and bits of log cosh(|t| - 1)

Hash centres
------------
- When ``n_bits`` is a power of 2 and ``n_classes <= 2 * n_bits``: the first
  ``n_classes`` rows of ``[H; -H]``, ``H`` the ``n_bits x n_bits`` Hadamard matrix
  (Sylvester's construction). Two such centres differ in ``n_bits / 2`` bits (or all of
  them, for a row and its negation).
- Otherwise every bit of every centre is drawn from Bernoulli(1/2) with the loss's
  generator; the draw is repeated (at most 200 times) until the smallest Hamming distance
  between two centres reaches ``ceil(n_bits * 20 / 64)`` (the threshold of the authors'
  released tutorial, 20 of 64 bits); when no draw reaches it, the draw with the largest
  smallest distance is kept.
- Multi-label points: the centre of a point is the sign of the mean of its labels'
  centres; a bit where that mean is 0 (a tie) takes the bit of one random vector drawn
  with the generator when the loss is built (the authors' code does the same). A point
  with no label has no centre and only the quantisation term applies to it.

Defaults, and where they differ from the paper
-----------------------------------------------
- ``lambda = 1e-4`` (DeepHash-pytorch's value). The authors' released training script
  uses ``0.05`` with a squared penalty ``(|t| - 1)^2`` instead of log cosh, and adds a
  pairwise likelihood term weighted 0.2 that the paper's objective does not have.
- The paper's network ends in ``tanh``; here :meth:`CSQLoss.quantize` leaves ``h`` as it
  is and the loss applies ``tanh`` itself, because ``(tanh(h) + 1) / 2 = sigmoid(2h)``
  lets the cross-entropy be computed from the logits ``2h``: the same value, but finite
  and with a gradient where ``tanh`` saturates in floating point (a point stuck on the
  wrong side of its centre still gets pulled back). The sign of ``h`` is the code, as
  the trainer encodes it.

References
----------
L. Yuan, T. Wang, X. Zhang, F. E. H. Tay, Z. Jie, W. Liu and J. Feng. Central Similarity
Quantization for Efficient Image and Video Retrieval. CVPR 2020.
https://arxiv.org/abs/1908.00347
"""

from __future__ import annotations

import math
from typing import Any

from hashlearn.hashers.deep._torch import require_torch
from hashlearn.hashers.deep.losses._base import HashLoss
from hashlearn.hashers.deep.losses._common import (
    check_non_negative,
    require_generator,
    require_labels,
)

require_torch()  # a clear ImportError naming the extra when torch is missing
import torch  # noqa: E402

__all__ = ["CSQLoss", "hash_centers"]

#: Draws of random centres before keeping the best one.
_CENTER_DRAWS = 200
#: Smallest Hamming distance between random centres, as a fraction of the code length.
_MIN_DISTANCE_FRACTION = 20 / 64


def _hadamard(n: int) -> Any:
    """The ``n x n`` Sylvester Hadamard matrix (``n`` a power of 2), float32."""
    matrix = torch.ones(1, 1)
    while matrix.shape[0] < n:
        matrix = torch.cat(
            [torch.cat([matrix, matrix], dim=1), torch.cat([matrix, -matrix], dim=1)], dim=0
        )
    return matrix


def _smallest_distance(centers: Any) -> int:
    """The smallest Hamming distance between two rows of a +-1 matrix."""
    n_centers, n_bits = centers.shape
    if n_centers < 2:
        return n_bits
    distances = (n_bits - centers @ centers.T) / 2
    distances.fill_diagonal_(float(n_bits + 1))
    return int(distances.min())


def hash_centers(n_classes: int, n_bits: int, generator: Any) -> Any:
    """CSQ's hash centres, float32 ``(n_classes, n_bits)`` of +-1 (see the module
    docstring: Hadamard rows when they suffice, else the best of up to 200 Bernoulli
    draws with ``generator``)."""
    if n_classes < 1 or n_bits < 1:
        raise ValueError(f"n_classes and n_bits must be >= 1, got {n_classes!r} and {n_bits!r}")
    if n_bits & (n_bits - 1) == 0 and n_classes <= 2 * n_bits:
        hadamard = _hadamard(n_bits)
        return torch.cat([hadamard, -hadamard], dim=0)[:n_classes].contiguous()
    target = math.ceil(n_bits * _MIN_DISTANCE_FRACTION)
    best, best_distance = None, -1
    for _ in range(_CENTER_DRAWS):
        bits = torch.randint(
            0, 2, (n_classes, n_bits), generator=generator, device=generator.device
        )
        centers = (2 * bits - 1).float().cpu()
        distance = _smallest_distance(centers)
        if distance > best_distance:
            best, best_distance = centers, distance
        if distance >= target:
            break
    return best


class CSQLoss(HashLoss):
    """The CSQ objective with its hash centres (see the module docstring).

    Parameters
    ----------
    lambda_q : float, default 1e-4
        Weight of the quantisation term ``log cosh(|tanh(h)| - 1)``.

    Attributes
    ----------
    centers : torch.Tensor, (n_classes, n_bits)
        The hash centres (+-1, float); not persistent, rebuilt from the generator.
    tie_breaker : torch.Tensor, (n_bits,)
        The random +-1 bits that multi-label centres take where their labels' centres
        cancel out; not persistent.
    """

    supervised = True

    # Buffers (registered in __init__), declared for the type checker.
    centers: torch.Tensor
    tie_breaker: torch.Tensor

    def __init__(
        self,
        n_bits: int,
        n_classes: int | None,
        n_train: int,
        generator: Any,
        *,
        lambda_q: float = 1e-4,
    ) -> None:
        super().__init__(n_bits, n_classes, n_train, generator)
        assert n_classes is not None  # HashLoss refuses None for supervised losses
        generator = require_generator("CSQLoss", generator)
        self.lambda_q = check_non_negative("lambda_q", lambda_q)
        self.register_buffer(
            "centers", hash_centers(n_classes, n_bits, generator), persistent=False
        )
        tie = torch.randint(0, 2, (n_bits,), generator=generator, device=generator.device)
        self.register_buffer("tie_breaker", (2 * tie - 1).float().cpu(), persistent=False)

    def targets(self, labels: Any) -> tuple[Any, Any]:
        """The centre of each point as 0/1 targets ``(batch, n_bits)``, and a 0/1 float
        mask ``(batch,)`` of the points that have a label (and so a centre)."""
        labels = labels.to(self.centers.dtype)
        summed = labels @ self.centers
        centers = torch.where(summed == 0, self.tie_breaker, torch.sign(summed))
        has_label = (labels.sum(dim=1) > 0).to(self.centers.dtype)
        return (centers + 1) / 2, has_label

    def forward(self, codes: Any, labels: Any, index: Any, inputs: Any) -> Any:
        labels = require_labels("CSQLoss", codes, labels, self.n_classes)
        targets, has_label = self.targets(labels)
        logits = 2 * codes.float()
        per_point = torch.nn.functional.binary_cross_entropy_with_logits(
            logits, targets, reduction="none"
        ).mean(dim=1)
        central = (per_point * has_label).sum() / has_label.sum().clamp(min=1)
        # |tanh(h)| - 1 lies in (-1, 0], where cosh cannot overflow.
        quantization = torch.log(torch.cosh(torch.tanh(codes.float()).abs() - 1)).mean()
        return central + self.lambda_q * quantization

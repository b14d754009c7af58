"""Bi-half: Deep Unsupervised Image Hashing by Maximizing Bit Entropy (Li and van Gemert,
AAAI 2021).

The code layer (the bi-half layer) gives each bit maximal entropy within a mini-batch:
for every bit, the half of the batch with the largest outputs gets ``+1`` and the rest
``-1`` (the optimal transport of the outputs onto a half-half distribution). Its backward
pass is the straight-through gradient plus a pull of the outputs towards their codes::

    dL/dh = dL/db + gamma * (h - b) / (batch * n_bits)

With a batch of odd size ``n``, ``floor(n / 2)`` points get ``+1`` per bit and
``ceil(n / 2)`` get ``-1`` (the authors' rule); ties between equal outputs go to the
earlier point of the batch, so the layer is deterministic. A batch of one point gets
``-1`` everywhere, and its loss is 0 (it has no pair).

The objective for image retrieval matches the similarities of the codes to those of the
inputs: the mean over the pairs ``(i, j)``, ``i != j``, of the batch of::

    (cos(b_i, b_j) - cos(x_i, x_j))^2

with ``x`` the inputs the backbone received, flattened.

Defaults, and where they differ from the paper
-----------------------------------------------
- ``gamma = 6``, the authors' released value.
- The authors compare the features of a frozen pretrained VGG-16 (its fc7 layer); here
  the loss sees the backbone's inputs, so ``x`` is whatever the trainer feeds it (image
  pixels, or the feature vectors of an ``mlp`` backbone; feed pretrained CNN features to
  follow the paper).
- All pairs of the batch are used; the authors' code pairs the first half of the batch
  with the second half (``batch / 2`` pairs), which is the same objective in expectation.
- At encoding time the trainer's codes are ``sign(h)``, not the batch-dependent bi-half
  codes, as in the authors' evaluation.

References
----------
Y. Li and J. van Gemert. Deep Unsupervised Image Hashing by Maximizing Bit Entropy.
AAAI 2021. https://arxiv.org/abs/2012.12334
"""

from __future__ import annotations

from typing import Any

from hashlearn.hashers.deep._torch import require_torch
from hashlearn.hashers.deep.losses._base import HashLoss
from hashlearn.hashers.deep.losses._common import (
    check_non_negative,
    require_inputs,
    similarity_matching,
)

require_torch()  # a clear ImportError naming the extra when torch is missing
import torch  # noqa: E402

__all__ = ["BiHalfLoss", "bi_half"]

# torch is imported at run time (an optional dependency), so mypy cannot see its classes
# as base classes; an Any alias lets the autograd function subclass it.
_Function: Any = torch.autograd.Function


class _BiHalf(_Function):
    """The bi-half layer as an autograd function (forward and backward as documented)."""

    @staticmethod
    def forward(ctx: Any, h: Any, gamma: float) -> Any:
        n = h.shape[0]
        order = torch.sort(h, dim=0, descending=True, stable=True).indices
        n_plus = n // 2
        values = torch.full_like(h, -1.0)
        values[:n_plus] = 1.0
        codes = torch.empty_like(h).scatter_(0, order, values)
        ctx.save_for_backward(h, codes)
        ctx.gamma = gamma
        return codes

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        h, codes = ctx.saved_tensors
        return grad + ctx.gamma * (h - codes) / max(codes.numel(), 1), None


def bi_half(h: Any, gamma: float = 6.0) -> Any:
    """The bi-half layer on ``(batch, n_bits)`` outputs (see the module docstring)."""
    return _BiHalf.apply(h, float(gamma))


class BiHalfLoss(HashLoss):
    """The Bi-half layer and its unsupervised objective (see the module docstring).

    Parameters
    ----------
    gamma : float, default 6.0
        Strength of the backward pull of the outputs towards their codes.
    """

    supervised = False

    def __init__(
        self,
        n_bits: int,
        n_classes: int | None,
        n_train: int,
        generator: Any,
        *,
        gamma: float = 6.0,
    ) -> None:
        super().__init__(n_bits, n_classes, n_train, generator)
        self.gamma = check_non_negative("gamma", gamma)

    def quantize(self, h: Any) -> Any:
        return bi_half(h, self.gamma)

    def forward(self, codes: Any, labels: Any, index: Any, inputs: Any) -> Any:
        features = require_inputs("BiHalfLoss", codes, inputs)
        return similarity_matching(codes, features)

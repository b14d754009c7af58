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
inputs, plus the quantisation term whose gradient is that pull::

    L = mean over pairs i != j of (cos(b_i, b_j) - cos(x_i, x_j))^2
        + (gamma / 2) * mean over points and bits of (h - b)^2

with ``x`` the inputs the backbone received, flattened, and ``b`` the bi-half codes taken
as constants in the second term. :class:`BiHalfLoss` computes ``L`` this way (codes with
a straight-through gradient, the pull as an explicit term), which gives exactly the
gradient of the authors' layer (:func:`bi_half` with ``gamma``), and makes the reported
training and validation loss the objective being descended. The authors report only the
first term; without the second, the loss the trainer sees *rises* while the network
improves (the pull trades similarity fit for codes near ``+-1``), so early stopping on the
held-out loss kept the first epoch's network. Measured on 5,000 MNIST training images,
32 bits, ``mlp`` over the pixels, 10 epochs: with the first term only, the held-out loss
rose every epoch, epoch 1 was kept, mAP 0.45; with ``L``, it fell every epoch but the
last, epoch 9 was kept, mAP 0.49 (ITQ on the same pixels 0.43).

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
- The loss includes the quantisation term (see above); the authors' code leaves it
  implicit in the layer's backward pass. The gradients are the same.

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

    # ``quantize`` keeps ``h`` (the base class's): the quantisation term needs it.

    def forward(self, codes: Any, labels: Any, index: Any, inputs: Any) -> Any:
        h = codes
        features = require_inputs("BiHalfLoss", h, inputs)
        balanced = bi_half(h, 0.0)  # straight-through: the gradient passes unchanged
        pull = 0.5 * self.gamma * (h.float() - balanced.detach().float()).pow(2).mean()
        return similarity_matching(balanced, features) + pull

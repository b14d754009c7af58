"""GreedyHash (Su, Zhang, Han and Tian, NeurIPS 2018).

The code layer is ``b = sign(h)`` in the forward pass with the straight-through gradient
(``db/dh = 1``) in the backward pass: the greedy step of the paper, which updates ``h`` as
if ``b`` were continuous. A penalty keeps the outputs near ``+-1``, so the layer's
gradient stays close to the true one::

    P = mean over points and bits of |h - sign(h)|^3 = mean of | |h| - 1 |^3

Two objectives, one class each (``supervised`` is a class attribute):

- :class:`GreedyHashLoss` (supervised): a linear classifier without bias on the codes,
  ``logits = b W^T`` with ``W`` of shape ``(n_classes, n_bits)``, trained with the codes'
  network, and ``L = cross-entropy(logits, labels) + alpha * P``. Single-label points use
  their class; multi-label points use their labels as a distribution (each of their ``m``
  labels weighs ``1 / m``), and points without labels only get the penalty. The
  classifier's weights are drawn from ``U(-1 / sqrt(n_bits), 1 / sqrt(n_bits))`` with the
  loss's generator (torch's default for a linear layer, without its global generator); the
  trainer optimises them with the network's (they are the loss's parameters).
- :class:`GreedyHashUnsupervisedLoss`: the codes' similarities match the inputs', with
  ``L = mean over pairs i != j of (cos(b_i, b_j) - cos(x_i, x_j))^2 + alpha * P``, ``x``
  the inputs the backbone received, flattened.

Defaults, and where they differ from the paper
-----------------------------------------------
- ``alpha = 0.1``, the authors' released value for CIFAR-10, supervised and unsupervised
  (their ImageNet script uses 1).
- :meth:`quantize` leaves ``h`` as it is and the loss applies the straight-through sign
  itself, because the penalty ``P`` needs ``h`` and the loss only receives what
  ``quantize`` returns. The sign of ``h`` is the code, as the trainer encodes it.
- The unsupervised objective of the paper compares the features of a frozen pretrained
  VGG-16 (fc7); here the loss sees the backbone's inputs (feed pretrained CNN features
  to an ``mlp`` backbone to follow the paper). All pairs of the batch are used; the
  authors' code pairs the first half with the second half, the same objective in
  expectation.

References
----------
S. Su, C. Zhang, K. Han and Y. Tian. Greedy Hash: Towards Fast Optimization for Accurate
Hash Coding in CNN. NeurIPS 2018.
https://papers.nips.cc/paper/7360-greedy-hash-towards-fast-optimization-for-accurate-hash-coding-in-cnn
"""

from __future__ import annotations

from typing import Any

from hashlearn.hashers.deep._torch import require_torch
from hashlearn.hashers.deep.losses._base import HashLoss
from hashlearn.hashers.deep.losses._common import (
    check_non_negative,
    label_cross_entropy,
    require_generator,
    require_inputs,
    require_labels,
    seeded_linear,
    similarity_matching,
    straight_through_sign,
)

require_torch()  # a clear ImportError naming the extra when torch is missing

__all__ = ["GreedyHashLoss", "GreedyHashUnsupervisedLoss", "greedy_penalty"]


def greedy_penalty(h: Any) -> Any:
    """``mean(| |h| - 1 |^3)``, GreedyHash's penalty on the outputs."""
    return (h.abs() - 1).abs().pow(3).mean()


class GreedyHashLoss(HashLoss):
    """Supervised GreedyHash: a classifier on the sign codes plus the penalty (see the
    module docstring).

    Parameters
    ----------
    alpha : float, default 0.1
        Weight of the penalty ``| |h| - 1 |^3``.

    Attributes
    ----------
    classifier : torch.nn.Linear
        ``n_bits -> n_classes``, no bias; trained with the network.
    """

    supervised = True

    def __init__(
        self,
        n_bits: int,
        n_classes: int | None,
        n_train: int,
        generator: Any,
        *,
        alpha: float = 0.1,
    ) -> None:
        super().__init__(n_bits, n_classes, n_train, generator)
        assert n_classes is not None  # HashLoss refuses None for supervised losses
        generator = require_generator("GreedyHashLoss", generator)
        self.alpha = check_non_negative("alpha", alpha)
        self.classifier = seeded_linear(n_bits, n_classes, generator, bias=False)

    def forward(self, codes: Any, labels: Any, index: Any, inputs: Any) -> Any:
        labels = require_labels("GreedyHashLoss", codes, labels, self.n_classes)
        logits = self.classifier(straight_through_sign(codes))
        classification = label_cross_entropy(logits, labels)
        return classification + self.alpha * greedy_penalty(codes)


class GreedyHashUnsupervisedLoss(HashLoss):
    """Unsupervised GreedyHash: codes' similarities match the inputs', plus the penalty
    (see the module docstring).

    Parameters
    ----------
    alpha : float, default 0.1
        Weight of the penalty ``| |h| - 1 |^3``.
    """

    supervised = False

    def __init__(
        self,
        n_bits: int,
        n_classes: int | None,
        n_train: int,
        generator: Any,
        *,
        alpha: float = 0.1,
    ) -> None:
        super().__init__(n_bits, n_classes, n_train, generator)
        self.alpha = check_non_negative("alpha", alpha)

    def forward(self, codes: Any, labels: Any, index: Any, inputs: Any) -> Any:
        features = require_inputs("GreedyHashUnsupervisedLoss", codes, inputs)
        matching = similarity_matching(straight_through_sign(codes), features)
        return matching + self.alpha * greedy_penalty(codes)

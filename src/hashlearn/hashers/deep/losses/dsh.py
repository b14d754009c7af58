"""Deep Supervised Hashing (Liu, Wang, Shan and Chen, CVPR 2016).

For the pairs ``(i, j)`` of a mini-batch, with ``s_ij = 1`` when they share a label::

    L = mean over pairs of  s_ij / 2 * ||b_i - b_j||^2
                          + (1 - s_ij) / 2 * max(margin - ||b_i - b_j||^2, 0)
        + alpha * mean over points of || |b_i| - 1 ||_1

with ``b`` the real-valued outputs (relaxed codes), ``margin = 2 * n_bits`` and
``alpha = 0.01`` as in the paper. The paper sums the regulariser over the two points of
each pair; averaging it per point (as here) is the same objective up to the batch size
that scales alpha, which the paper tunes anyway.
"""

from __future__ import annotations

from typing import Any

from hashlearn.hashers.deep._torch import require_torch
from hashlearn.hashers.deep.losses._base import HashLoss, similarity
from hashlearn.hashers.deep.losses._common import off_diagonal_mean

require_torch()  # a clear ImportError naming the extra when torch is missing
import torch  # noqa: E402

__all__ = ["DSHLoss"]


class DSHLoss(HashLoss):
    """The DSH objective (see the module docstring).

    Parameters
    ----------
    margin : float, optional
        Margin for dissimilar pairs; None (default) means ``2 * n_bits``, the paper's.
    alpha : float, default 0.01
        Weight of the regulariser pulling each output to +-1.
    """

    def __init__(
        self,
        n_bits: int,
        n_classes: int | None,
        n_train: int,
        generator: Any,
        *,
        margin: float | None = None,
        alpha: float = 0.01,
    ) -> None:
        super().__init__(n_bits, n_classes, n_train, generator)
        self.margin = 2.0 * n_bits if margin is None else float(margin)
        self.alpha = float(alpha)

    def forward(self, codes: Any, labels: Any, index: Any, inputs: Any) -> Any:
        same = similarity(labels, labels)
        # Squared distances directly (cdist's square root has no gradient at 0).
        squared = (codes.unsqueeze(1) - codes.unsqueeze(0)).pow(2).sum(dim=2)
        pairs = 0.5 * same * squared + 0.5 * (1 - same) * torch.clamp(self.margin - squared, min=0)
        pair_loss = off_diagonal_mean(pairs)
        regulariser = (codes.abs() - 1).abs().sum(dim=1).mean()
        return pair_loss + self.alpha * regulariser

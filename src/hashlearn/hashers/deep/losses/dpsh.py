"""Deep Pairwise-Supervised Hashing, DPSH (Li, Wang and Kang, IJCAI 2016).

The paper's objective over the training set, with ``u`` the real-valued outputs, ``b =
sign(u)``, ``theta_ij = u_i^T u_j / 2`` and ``s_ij = 1`` when points share a label::

    L = - sum over pairs of (s_ij * theta_ij - log(1 + exp(theta_ij)))
        + eta * sum over points of ||b_i - u_i||^2

A mini-batch pairs each of its points with every training point: the loss keeps a memory
of the latest output ``U`` and label of every training point (filled through ``index``;
points not seen yet have ``U = 0``, so their pairs add the constant ``log 2`` and no
gradient). Each batch writes its detached outputs into the memory first, then::

    L_batch = [ sum over i in batch, j in train of (log(1 + exp(theta_ij)) - s_ij * theta_ij)
                + eta * sum over i in batch of ||b_i - u_i||^2 ] / (batch * n_train)

the authors' released normalisation. ``log(1 + exp(theta))`` is computed as softplus,
which cannot overflow, and ``b`` follows the one sign rule (``u >= 0 -> +1``).

Defaults, and where they differ from the paper
-----------------------------------------------
- ``eta = 10``, the authors' released value for CIFAR-10 (their NUS-WIDE script uses 50).
- The memory is training-time state: its buffers are not saved with the weights, and a
  resumed training run refills it during its first epoch.

References
----------
W.-J. Li, S. Wang and W.-C. Kang. Feature Learning based Deep Supervised Hashing with
Pairwise Labels. IJCAI 2016. https://arxiv.org/abs/1511.03855
"""

from __future__ import annotations

from typing import Any

from hashlearn.hashers.deep._torch import require_torch
from hashlearn.hashers.deep.losses._base import HashLoss, similarity
from hashlearn.hashers.deep.losses._common import binary, check_non_negative, require_labels

require_torch()  # a clear ImportError naming the extra when torch is missing
import torch  # noqa: E402

__all__ = ["DPSHLoss"]


class DPSHLoss(HashLoss):
    """The DPSH objective with its memory of every training output (see the module
    docstring).

    Parameters
    ----------
    eta : float, default 10.0
        Weight of the quantisation term ``||b - u||^2``.

    Attributes
    ----------
    memory_codes : torch.Tensor, (n_train, n_bits)
        The latest output of every training point (zeros until seen); not persistent.
    memory_labels : torch.Tensor, (n_train, n_classes)
        Their labels; not persistent.
    """

    supervised = True

    # Buffers (registered in __init__), declared for the type checker.
    memory_codes: torch.Tensor
    memory_labels: torch.Tensor

    def __init__(
        self,
        n_bits: int,
        n_classes: int | None,
        n_train: int,
        generator: Any,
        *,
        eta: float = 10.0,
    ) -> None:
        super().__init__(n_bits, n_classes, n_train, generator)
        assert n_classes is not None  # HashLoss refuses None for supervised losses
        if n_train < 1:
            raise ValueError(f"n_train must be >= 1, got {n_train!r}")
        self.eta = check_non_negative("eta", eta)
        # Persistent: a training checkpoint keeps the memory, so a resumed fit continues
        # exactly (the saved model holds only the network, never the loss).
        self.register_buffer("memory_codes", torch.zeros(n_train, n_bits))
        self.register_buffer("memory_labels", torch.zeros(n_train, n_classes))

    def _check_index(self, index: Any, batch: int) -> Any:
        if index is None or index.ndim != 1 or index.shape[0] != batch:
            got = None if index is None else tuple(index.shape)
            raise ValueError(
                f"DPSHLoss keeps a memory of training outputs: index must hold the batch's "
                f"{batch} positions in the training set, got shape {got}"
            )
        index = index.to(device=self.memory_codes.device, dtype=torch.int64)
        if batch:
            # One host sync per batch buys a readable error instead of CUDA's device-side
            # assert (or, on CPU, an IndexError naming no parameter).
            low, high = int(index.min()), int(index.max())
            if low < 0 or high >= self.n_train:
                raise ValueError(
                    f"index values must be in [0, {self.n_train}), got [{low}, {high}]"
                )
        return index

    def forward(self, codes: Any, labels: Any, index: Any, inputs: Any) -> Any:
        labels = require_labels("DPSHLoss", codes, labels, self.n_classes)
        index = self._check_index(index, codes.shape[0])
        with torch.no_grad():
            self.memory_codes[index] = codes.detach().to(self.memory_codes.dtype)
            self.memory_labels[index] = labels.to(self.memory_labels.dtype)
        theta = 0.5 * (codes @ self.memory_codes.T.to(codes.dtype))
        same = similarity(labels.to(self.memory_labels.dtype), self.memory_labels)
        likelihood = (torch.nn.functional.softplus(theta) - same * theta).sum()
        quantization = (binary(codes) - codes).pow(2).sum()
        return (likelihood + self.eta * quantization) / max(codes.shape[0] * self.n_train, 1)

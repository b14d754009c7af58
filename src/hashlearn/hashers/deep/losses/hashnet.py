"""HashNet: Deep Learning to Hash by Continuation (Cao, Long, Wang and Yu, ICCV 2017).

The code layer is ``b = tanh(beta * h)``, and ``beta`` grows while training, so the layer
starts smooth and ends close to ``sign(h)`` (continuation); its sign is always that of
``h``, the sign the trainer encodes with. For the ordered pairs ``(i, j)``, ``i != j``, of
a mini-batch, with ``s_ij = 1`` when they share a label and ``t_ij = alpha * <b_i, b_j>``,
the objective is the weighted negative log-likelihood of the similarities::

    L = 1 / |S| * sum over pairs of  w_ij * (log(1 + exp(t_ij)) - s_ij * t_ij)

    w_ij = |S| / |S_1| if s_ij = 1,  |S| / |S_0| if s_ij = 0

``S_1`` and ``S_0`` are the similar and dissimilar pairs of the batch (``S`` all of them),
so ``L`` is the mean loss of the similar pairs plus the mean loss of the dissimilar ones:
the few similar pairs of a many-class dataset weigh as much as the many dissimilar ones.
``log(1 + exp(t))`` is computed as softplus, which cannot overflow.

Defaults, and where they differ from the paper
-----------------------------------------------
- ``alpha = 10 / n_bits``, the value of the authors' released code (``sigmoid_param``).
- The schedule ``beta = beta_init * (1 + gamma * t) ** power``, ``t`` the number of training
  batches seen, recomputed every ``step_size`` batches, with ``beta_init = 1``,
  ``gamma = 0.005``, ``power = 0.5`` and ``step_size = 200``: the paper's form
  ``beta_t = beta_0 * sqrt(1 + gamma * t)`` with the released code's constants. A batch
  counts when the loss is in training mode with gradients enabled, so evaluating the loss
  under :func:`torch.no_grad` does not advance it; :meth:`HashNetLoss.state` reports it.
- The weights count the pairs of each mini-batch (the weighted loss contributed to the
  authors' repository, and DeepHash-pytorch's); the paper counts the pairs of the whole
  training set, and the released training scripts use a fixed ratio per dataset instead
  (``class_num``: 100 for ImageNet, 5 for NUS-WIDE, 1 for COCO).
- On multi-label data the authors' Caffe code also scales ``w_ij`` by a continuous
  similarity of the two label vectors (``continous_similarity``); that factor is not
  applied here (every similar pair weighs the same).
- All pairs of one batch are used; the authors' code draws two batches and pairs one with
  the other, which is the same objective in expectation.

References
----------
Z. Cao, M. Long, J. Wang and P. S. Yu. HashNet: Deep Learning to Hash by Continuation.
ICCV 2017. https://arxiv.org/abs/1702.00758
"""

from __future__ import annotations

from typing import Any

from hashlearn.hashers.deep._torch import require_torch
from hashlearn.hashers.deep.losses._base import HashLoss, similarity
from hashlearn.hashers.deep.losses._common import check_non_negative, require_labels

require_torch()  # a clear ImportError naming the extra when torch is missing
import torch  # noqa: E402

__all__ = ["HashNetLoss"]


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return value


class HashNetLoss(HashLoss):
    """The HashNet objective and its continuation layer (see the module docstring).

    Parameters
    ----------
    alpha : float, optional
        Scale of the inner products inside the sigmoid; None (default) means
        ``10 / n_bits``.
    beta_init : float, default 1.0
        ``beta`` before any training batch.
    gamma : float, default 0.005
        Growth rate of the schedule ``beta_init * (1 + gamma * t) ** power``.
    power : float, default 0.5
        Exponent of the schedule (0.5: the paper's square root).
    step_size : int, default 200
        ``beta`` is recomputed every ``step_size`` training batches.

    Attributes
    ----------
    steps : int
        Training batches seen (the ``t`` of the schedule).
    """

    supervised = True

    def __init__(
        self,
        n_bits: int,
        n_classes: int | None,
        n_train: int,
        generator: Any,
        *,
        alpha: float | None = None,
        beta_init: float = 1.0,
        gamma: float = 0.005,
        power: float = 0.5,
        step_size: int = 200,
    ) -> None:
        super().__init__(n_bits, n_classes, n_train, generator)
        self.alpha = 10.0 / n_bits if alpha is None else _positive("alpha", alpha)
        self.beta_init = _positive("beta_init", beta_init)
        self.gamma = check_non_negative("gamma", gamma)
        self.power = _positive("power", power)
        if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"step_size must be an int >= 1, got {step_size!r}")
        self.step_size = step_size
        self.steps = 0

    @property
    def beta(self) -> float:
        """The scale of the code layer now: the schedule at the last multiple of
        ``step_size`` training batches."""
        t = self.steps - self.steps % self.step_size
        return self.beta_init * (1.0 + self.gamma * t) ** self.power

    def quantize(self, h: Any) -> Any:
        return torch.tanh(self.beta * h)

    def forward(self, codes: Any, labels: Any, index: Any, inputs: Any) -> Any:
        labels = require_labels("HashNetLoss", codes, labels, self.n_classes)
        n = codes.shape[0]
        same = similarity(labels, labels).float()
        # float32 from here: the pair losses are summed, and the loss is a float32 scalar
        # even when the codes come from a float16 or bfloat16 network.
        products = (self.alpha * (codes @ codes.T)).float()
        pair_losses = torch.nn.functional.softplus(products) - same * products
        off_diagonal = 1 - torch.eye(n, device=codes.device)
        similar = same * off_diagonal
        dissimilar = (1 - same) * off_diagonal
        loss = (pair_losses * similar).sum() / similar.sum().clamp(min=1) + (
            pair_losses * dissimilar
        ).sum() / dissimilar.sum().clamp(min=1)
        if self.training and torch.is_grad_enabled():
            self.steps += 1
        return loss

    def state(self) -> dict[str, Any]:
        return {"beta": self.beta, "steps": self.steps}

    # The schedule's position travels with the state_dict (training checkpoints), so a
    # resumed training continues the continuation where it stopped.
    def get_extra_state(self) -> Any:
        return torch.tensor(self.steps, dtype=torch.int64)

    def set_extra_state(self, state: Any) -> None:
        self.steps = int(state)

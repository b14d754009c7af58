"""What every deep hashing objective provides to the one trainer.

A method is a :class:`HashLoss` (this module's base class) plus defaults. The trainer
feeds each batch through the backbone, which outputs real values ``h`` of shape
``(batch, n_bits)``; the loss turns them into training codes (:meth:`HashLoss.quantize`)
and a scalar objective (:meth:`HashLoss.forward`). Codes at encoding time are always
``h >= 0 -> 1`` (the one sign rule of :mod:`hashlearn.codes`), whatever the loss did in
training.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

from hashlearn.hashers.deep._torch import require_torch

require_torch()  # a clear ImportError naming the extra when torch is missing
import torch  # noqa: E402

__all__ = ["HashLoss", "similarity"]


def similarity(labels_a: Any, labels_b: Any) -> Any:
    """``S[i, j] = 1`` when rows ``i`` and ``j`` share a label, else 0 (float)."""
    return (labels_a @ labels_b.T > 0).to(labels_a.dtype)


class HashLoss(torch.nn.Module):
    """Base class of the deep hashing objectives (one small module per method).

    Parameters
    ----------
    n_bits : int
        Code length.
    n_classes : int or None
        Number of label columns (classes, or labels of a multi-label set); None for an
        unsupervised method.
    n_train : int
        Number of training points (methods that keep a memory of every training output,
        such as DPSH, size it with this).
    generator : torch.Generator
        The only source of randomness a loss may use (hash centres, random targets).
    **params
        The method's own hyperparameters (keyword-only in subclasses, with defaults).

    Notes
    -----
    ``labels`` reach :meth:`forward` as a float ``(batch, n_classes)`` 0/1 matrix (one-hot
    for single-label data), or None for unsupervised methods. ``index`` holds the batch's
    positions in the training set (``int64 (batch,)``). Two points are similar when they
    share a label (:func:`similarity`).
    """

    #: Whether the method uses labels (the estimator refuses ``y=None`` when True).
    supervised: ClassVar[bool] = True
    #: Whether the loss takes ``n_inputs=`` (the input vectors' length): losses that
    #: reconstruct their inputs (VDSH, NASH) size their decoder with it.
    needs_input_size: ClassVar[bool] = False
    #: Whether each bit is thresholded at its median over the training outputs instead
    #: of at 0 (VDSH): the estimator folds the medians into the network's last bias after
    #: training, so encoding keeps the one sign rule.
    median_thresholds: ClassVar[bool] = False

    def __init__(self, n_bits: int, n_classes: int | None, n_train: int, generator: Any) -> None:
        super().__init__()
        if self.supervised and (n_classes is None or n_classes < 1):
            raise ValueError(
                f"{type(self).__name__} is supervised: n_classes must be >= 1, got {n_classes!r}"
            )
        self.n_bits = n_bits
        self.n_classes = n_classes
        self.n_train = n_train

    def quantize(self, h: Any) -> Any:
        """The training-time code layer applied to the backbone's output (default: ``h``).

        HashNet (``tanh(beta * h)``) replaces it; Bi-half, GreedyHash and CSQ keep ``h``
        and apply their code layer inside :meth:`forward`, where their penalties need
        ``h`` itself.
        """
        return h

    @abstractmethod
    def forward(self, codes: Any, labels: Any, index: Any, inputs: Any) -> Any:
        """The scalar objective of a batch.

        ``codes = quantize(h)``; ``labels`` as in the class notes (None when unsupervised);
        ``index`` the batch's positions in the training set; ``inputs`` the batch the
        backbone received (normalised, augmented; unsupervised methods that match the
        input similarities, such as Bi-half and GreedyHash, flatten and use it).
        """

    def start_epoch(self, epoch: int, n_epochs: int) -> None:
        """Called before each epoch (0-based); HashNet's continuation raises beta here."""

    def state(self) -> dict[str, Any]:
        """Plain values describing the loss's schedule now (written into the curve)."""
        return {}

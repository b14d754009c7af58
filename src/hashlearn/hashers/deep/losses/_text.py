"""What the generative text hashers (VDSH, NASH) share: a bag-of-words decoder, a label
head for their supervised variants, and layers initialised from the loss's generator.

Both methods are variational autoencoders over a document's words. The backbone (an
``mlp`` over the document's TF-IDF or word-count vector) is the encoder; the decoder turns
a latent code ``z`` into a distribution over the vocabulary,
``p(w | z) = softmax(z E + b)_w``, and the reconstruction term is the negative
log-likelihood of the document's words::

    R(x, z) = - sum over words w of t_w * log p(w | z)

where the target ``t`` is one of :data:`RECONSTRUCTIONS`:

- ``"presence"``: ``t_w = 1`` for every distinct word of the document (``x_w > 0``) and 0
  otherwise, whatever the input's weights. This is the likelihood the VDSH authors' code
  computes (it gathers ``log p`` at the document's word indices).
  Measured on ``20ng-text`` at 32 bits (width 1000, 50 epochs, beta 1 against 0.02):
  P@100 0.465 against 0.437 for NASH-DN, 0.396 against 0.320 for VDSH.
- ``"weights"``: ``t_w = x_w``, each word weighted by its input value, so word counts give
  the multinomial likelihood and TF-IDF weights a document's informative words more.

The decoder (``E``, ``b``) and the other heads are parameters of the loss, trained with
the network, and drawn from the loss's generator (never torch's global one), so a seed
gives the same model.
"""

from __future__ import annotations

from typing import Any, ClassVar

from hashlearn.hashers.deep._torch import require_torch
from hashlearn.hashers.deep.losses._common import (
    check_non_negative,
    label_cross_entropy,
    require_inputs,
    require_labels,
    seeded_linear,
)

require_torch()  # a clear ImportError naming the extra when torch is missing
import torch  # noqa: E402

__all__ = [
    "RECONSTRUCTIONS",
    "BagOfWordsDecoder",
    "LabelHead",
    "SupervisedText",
    "check_input_size",
    "check_reconstruction",
]

#: What the decoder reconstructs (see the module docstring).
RECONSTRUCTIONS = ("presence", "weights")


def check_input_size(method: str, n_inputs: Any) -> int:
    """The vocabulary size (the input vectors' length), or a ValueError."""
    if isinstance(n_inputs, bool) or not isinstance(n_inputs, int) or n_inputs < 1:
        raise ValueError(f"{method} needs n_inputs (the vocabulary size) >= 1, got {n_inputs!r}")
    return n_inputs


def check_reconstruction(reconstruct: Any) -> str:
    """One of :data:`RECONSTRUCTIONS`, or a ValueError naming them."""
    if reconstruct not in RECONSTRUCTIONS:
        raise ValueError(f"reconstruct must be one of {RECONSTRUCTIONS}, got {reconstruct!r}")
    return str(reconstruct)


class BagOfWordsDecoder(torch.nn.Module):
    """``p(w | z) = softmax(z E + b)_w`` and the reconstruction term of the module docstring.

    Parameters
    ----------
    n_bits : int
        Latent size.
    n_inputs : int
        Vocabulary size.
    generator : torch.Generator
        Draws ``E``.
    reconstruct : {"presence", "weights"}, default "presence"
        The target ``t`` (see the module docstring).
    """

    def __init__(
        self, n_bits: int, n_inputs: int, generator: Any, reconstruct: str = "presence"
    ) -> None:
        super().__init__()
        self.reconstruct = check_reconstruction(reconstruct)
        self.layer = seeded_linear(n_bits, n_inputs, generator)

    def reconstruction(self, z: Any, words: Any) -> Any:
        """Mean over the batch of ``- sum_w t_w log p(w | z)`` (float32 under autocast)."""
        target = (words > 0).float() if self.reconstruct == "presence" else words
        with torch.autocast(device_type=z.device.type, enabled=False):
            log_p = torch.log_softmax(self.layer(z.float()), dim=1)
            return -(target * log_p).sum(dim=1).mean()


class LabelHead(torch.nn.Module):
    """The supervised variants' classifier on the latent code: cross-entropy against the
    labels (a multi-label point's ``m`` labels weigh ``1 / m`` each; points without a label
    are left out of the mean)."""

    def __init__(self, n_bits: int, n_classes: int, generator: Any) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.layer = seeded_linear(n_bits, n_classes, generator)

    def loss(self, method: str, z: Any, labels: Any) -> Any:
        labels = require_labels(method, z, labels, self.n_classes)
        return label_cross_entropy(self.layer(z.float()), labels)


class SupervisedText:
    """The supervised variant of a text loss (put first among the bases): its objective
    plus ``alpha`` times a :class:`LabelHead`'s cross-entropy on the latent code ``z``.

    The text loss it extends provides ``_elbo(codes, inputs) -> (value, z)``.
    """

    supervised: ClassVar[bool] = True

    def __init__(
        self,
        n_bits: int,
        n_classes: int | None,
        n_train: int,
        generator: Any,
        *,
        alpha: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(n_bits, n_classes, n_train, generator, **kwargs)  # type: ignore[call-arg]
        assert n_classes is not None  # HashLoss refuses None for supervised losses
        self.alpha = check_non_negative("alpha", alpha)
        self.head = LabelHead(n_bits, n_classes, generator)

    def forward(self, codes: Any, labels: Any, index: Any, inputs: Any) -> Any:
        elbo, z = self._elbo(codes, inputs)  # type: ignore[attr-defined]
        return elbo + self.alpha * self.head.loss(type(self).__name__, z, labels)


def document_words(method: str, codes: Any, inputs: Any) -> Any:
    """The batch's word weights (the raw inputs), refusing negative values: a document's
    words have counts or TF-IDF weights, never below 0."""
    words = require_inputs(method, codes, inputs)
    if bool((words < 0).any()):
        raise ValueError(
            f"{method} reconstructs the documents' words: inputs must be non-negative word "
            "counts or TF-IDF weights, got a negative value (do not centre or standardise "
            "bag-of-words inputs; the network normalises them itself)"
        )
    return words

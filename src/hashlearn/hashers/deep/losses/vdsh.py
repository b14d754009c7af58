"""VDSH: Variational Deep Semantic Hashing (Chaidaroon and Fang, SIGIR 2017).

A variational autoencoder with a Gaussian latent code, binarised after training. The
encoder (the backbone, an ``mlp`` over the document vector) gives the mean ``mu = h``;
the log-variance comes from a linear map of the input words,
``log sigma^2 = x W + c``. In training ``z = mu + sigma * eps`` (``eps ~ N(0, 1)``, the
reparameterisation trick), and the objective is::

    L = R(x, z) + beta * KL(N(mu, sigma^2) || N(0, 1))

with ``R`` the bag-of-words reconstruction of :mod:`hashlearn.hashers.deep.losses._text`
and ``KL = -1/2 sum_k (1 + log sigma_k^2 - mu_k^2 - sigma_k^2)``, averaged over the batch.
:class:`VDSHSupervisedLoss` adds ``alpha`` times a classifier's cross-entropy on ``z``
(the paper's VDSH-S). In evaluation ``z = mu``.

The code of a document is ``mu`` thresholded at each bit's median over the training
documents, as in the paper: the loss sets :attr:`median_thresholds`, and the estimator
folds the medians into the network's last bias after training, so that the trainer's one
sign rule (``>= 0 -> 1``) gives exactly the median-thresholded bits.

Defaults, and where they differ from the paper
-----------------------------------------------
- The log-variance is a linear function of the input words, not a second head on the
  encoder's last hidden layer: the backbone's outputs are the ``n_bits`` means, and the
  loss only sees them and the inputs.
- ``beta = 1``, the evidence lower bound (the authors anneal it from 0 to 1 over the first
  5,000 documents; here it is 1 from the start).
- The reconstruction counts each distinct word of the document once
  (``reconstruct="presence"``), as the authors' code does; ``"weights"`` weights each word
  by its input value instead (:mod:`hashlearn.hashers.deep.losses._text`).

References
----------
S. Chaidaroon and Y. Fang. Variational Deep Semantic Hashing for Text Documents.
SIGIR 2017. https://arxiv.org/abs/1708.03436
"""

from __future__ import annotations

from typing import Any, ClassVar

from hashlearn.hashers.deep._torch import require_torch
from hashlearn.hashers.deep.losses._base import HashLoss
from hashlearn.hashers.deep.losses._common import (
    check_non_negative,
    require_generator,
    seeded_linear,
)
from hashlearn.hashers.deep.losses._text import (
    BagOfWordsDecoder,
    SupervisedText,
    check_input_size,
    document_words,
)

require_torch()  # a clear ImportError naming the extra when torch is missing
import torch  # noqa: E402

__all__ = ["VDSHLoss", "VDSHSupervisedLoss", "gaussian_kl"]


def gaussian_kl(mu: Any, log_variance: Any) -> Any:
    """``KL(N(mu, sigma^2) || N(0, 1))`` summed over dimensions, averaged over the batch."""
    mu, log_variance = mu.float(), log_variance.float()
    per_dim = 1 + log_variance - mu.pow(2) - log_variance.exp()
    return -0.5 * per_dim.sum(dim=1).mean()


class VDSHLoss(HashLoss):
    """Unsupervised VDSH (see the module docstring).

    Parameters
    ----------
    n_inputs : int
        Vocabulary size (the trainer passes the input vectors' length).
    beta : float, default 1.0
        Weight of the KL term.
    reconstruct : {"presence", "weights"}, default "presence"
        What the decoder reconstructs (:mod:`hashlearn.hashers.deep.losses._text`).
    """

    supervised: ClassVar[bool] = False
    #: The trainer passes ``n_inputs`` (the vocabulary size) to this loss.
    needs_input_size: ClassVar[bool] = True
    #: Codes are the means thresholded at their training medians (see the module docstring).
    median_thresholds: ClassVar[bool] = True

    def __init__(
        self,
        n_bits: int,
        n_classes: int | None,
        n_train: int,
        generator: Any,
        *,
        n_inputs: int,
        beta: float = 1.0,
        reconstruct: str = "presence",
    ) -> None:
        super().__init__(n_bits, n_classes, n_train, generator)
        method = type(self).__name__
        self.generator = require_generator(method, generator)
        n_inputs = check_input_size(method, n_inputs)
        self.beta = check_non_negative("beta", beta)
        self.decoder = BagOfWordsDecoder(n_bits, n_inputs, generator, reconstruct)
        self.log_variance = seeded_linear(n_inputs, n_bits, generator)
        with torch.no_grad():
            self.log_variance.weight.mul_(0.01)

    def _elbo(self, codes: Any, inputs: Any) -> tuple[Any, Any]:
        words = document_words(type(self).__name__, codes, inputs)
        mu = codes.float()
        log_variance = self.log_variance(words).clamp(-10.0, 10.0)
        z = mu
        if self.training:
            eps = torch.randn(mu.shape, generator=self.generator, device=mu.device)
            z = mu + torch.exp(0.5 * log_variance) * eps
        value = self.decoder.reconstruction(z, words) + self.beta * gaussian_kl(mu, log_variance)
        return value, z

    def forward(self, codes: Any, labels: Any, index: Any, inputs: Any) -> Any:
        return self._elbo(codes, inputs)[0]


class VDSHSupervisedLoss(SupervisedText, VDSHLoss):
    """VDSH-S: the unsupervised objective plus ``alpha`` times a classifier's
    cross-entropy on the latent code (see the module docstring).

    Parameters
    ----------
    alpha : float, default 1.0
        Weight of the classification term.
    **kwargs
        As :class:`VDSHLoss`.
    """

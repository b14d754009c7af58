"""NASH: end-to-end Neural Architecture for Semantic Hashing (Shen, Su, Chapfuwa, Wang,
Wang, Carin and Henao, ACL 2018).

A variational autoencoder whose latent code *is* the binary code. The encoder (the
backbone, an ``mlp`` over the document vector) gives ``q(z_k = 1 | x) = sigmoid(h_k)``;
in training each bit is sampled, ``z_k = 1[u_k < sigmoid(h_k)]`` with ``u ~ U(0, 1)``,
and the gradient passes straight through the sampling (``dz/d sigmoid(h) = 1``). Before
decoding, Gaussian noise is added to the code (the paper's rate-distortion view):
``z' = z + sigma * eps`` with ``eps ~ N(0, 1)``, where ``sigma`` is one learned value per
bit (``noise="fixed"``, the paper's NASH-N has a fixed one; learned here, starting from
``noise_std``) or a function of the document (``noise="data"``, NASH-DN:
``sigma(x) = softplus(x W + c)``), or no noise (``noise=None``, plain NASH). The
objective is::

    L = R(x, z') + beta * KL(q(z | x) || Bernoulli(1/2))

with ``R`` the bag-of-words reconstruction of :mod:`hashlearn.hashers.deep.losses._text`
and the KL summed over bits (``sum_k q log 2q + (1 - q) log 2(1 - q)``), averaged over
the batch. :class:`NASHSupervisedLoss` adds ``alpha`` times a classifier's cross-entropy
on ``z`` (the paper's supervised variant). In evaluation (validation and encoding) the
code is deterministic: ``z_k = 1[h_k >= 0]`` (``sigmoid(h) >= 1/2``), no noise, which is
the trainer's one sign rule.

Defaults, and where they differ from the paper
-----------------------------------------------
- ``noise="data"``: NASH-DN, the paper's best variant. The paper does not state the form
  of ``sigma(x)``; here it is a softplus of a linear map of the input words.
- ``beta = 1``, the evidence lower bound.
- ``noise_std = 0.1`` as the starting value.
- The reconstruction counts each distinct word of the document once
  (``reconstruct="presence"``), the likelihood of the VDSH authors' code (NASH's paper
  does not say which it uses); ``"weights"`` weights each word by its input value
  instead, so word counts give the multinomial likelihood
  (:mod:`hashlearn.hashers.deep.losses._text`).
- Codes are 0/1 in the decoder, as in the paper.

References
----------
D. Shen, Q. Su, P. Chapfuwa, W. Wang, G. Wang, L. Carin and R. Henao. NASH: Toward
End-to-End Neural Architecture for Generative Semantic Hashing. ACL 2018.
https://arxiv.org/abs/1805.05361
"""

from __future__ import annotations

import math
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

__all__ = ["NOISES", "NASHLoss", "NASHSupervisedLoss", "bernoulli_kl"]

#: The noise added to the code before decoding (None: no noise).
NOISES = ("data", "fixed", None)


def bernoulli_kl(probabilities: Any) -> Any:
    """``KL(Bernoulli(q) || Bernoulli(1/2))`` summed over bits, averaged over the batch."""
    q = probabilities.float().clamp(1e-7, 1 - 1e-7)
    per_bit = q * torch.log(2 * q) + (1 - q) * torch.log(2 * (1 - q))
    return per_bit.sum(dim=1).mean()


class NASHLoss(HashLoss):
    """Unsupervised NASH (see the module docstring).

    Parameters
    ----------
    n_inputs : int
        Vocabulary size (the trainer passes the input vectors' length).
    noise : {"data", "fixed"} or None, default "data"
        The noise added to the sampled code before decoding (None: no noise).
    noise_std : float, default 0.1
        Starting standard deviation of the noise.
    beta : float, default 1.0
        Weight of the KL term.
    reconstruct : {"presence", "weights"}, default "presence"
        What the decoder reconstructs (:mod:`hashlearn.hashers.deep.losses._text`).
    """

    supervised: ClassVar[bool] = False
    #: The trainer passes ``n_inputs`` (the vocabulary size) to this loss.
    needs_input_size: ClassVar[bool] = True

    def __init__(
        self,
        n_bits: int,
        n_classes: int | None,
        n_train: int,
        generator: Any,
        *,
        n_inputs: int,
        noise: str = "data",
        noise_std: float = 0.1,
        beta: float = 1.0,
        reconstruct: str = "presence",
    ) -> None:
        super().__init__(n_bits, n_classes, n_train, generator)
        method = type(self).__name__
        self.generator = require_generator(method, generator)
        n_inputs = check_input_size(method, n_inputs)
        if noise not in NOISES:
            raise ValueError(f"noise must be one of {NOISES}, got {noise!r}")
        self.noise = noise
        self.beta = check_non_negative("beta", beta)
        if not float(noise_std) > 0:
            raise ValueError(f"noise_std must be > 0, got {noise_std!r}")
        self.decoder = BagOfWordsDecoder(n_bits, n_inputs, generator, reconstruct)
        # softplus(start) = noise_std: the noise begins at the requested size.
        start = math.log(math.expm1(float(noise_std)))
        if noise == "data":
            self.noise_layer = seeded_linear(n_inputs, n_bits, generator)
            with torch.no_grad():
                self.noise_layer.weight.mul_(0.01)
                self.noise_layer.bias.fill_(start)
        elif noise == "fixed":
            self.noise_scale = torch.nn.Parameter(
                torch.full((n_bits,), start, device=generator.device)
            )

    def _latent(self, h: Any, words: Any) -> tuple[Any, Any]:
        """``(q, z')``: the bit probabilities and the (noisy) code the decoder reads."""
        q = torch.sigmoid(h.float())
        if not self.training:
            return q, (h >= 0).float()
        u = torch.rand(q.shape, generator=self.generator, device=q.device)
        sampled = (u < q).float()
        z = q + (sampled - q).detach()  # straight through the sampling
        if self.noise is None:
            return q, z
        if self.noise == "data":
            sigma = torch.nn.functional.softplus(self.noise_layer(words))
        else:
            sigma = torch.nn.functional.softplus(self.noise_scale).expand_as(z)
        eps = torch.randn(z.shape, generator=self.generator, device=z.device)
        return q, z + sigma * eps

    def _elbo(self, codes: Any, inputs: Any) -> tuple[Any, Any]:
        words = document_words(type(self).__name__, codes, inputs)
        q, z = self._latent(codes, words)
        return self.decoder.reconstruction(z, words) + self.beta * bernoulli_kl(q), z

    def forward(self, codes: Any, labels: Any, index: Any, inputs: Any) -> Any:
        return self._elbo(codes, inputs)[0]


class NASHSupervisedLoss(SupervisedText, NASHLoss):
    """Supervised NASH: the unsupervised objective plus ``alpha`` times a classifier's
    cross-entropy on the code (see the module docstring).

    Parameters
    ----------
    alpha : float, default 1.0
        Weight of the classification term.
    **kwargs
        As :class:`NASHLoss`.
    """

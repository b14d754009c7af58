"""Generative semantic hashing for documents: VDSH and NASH as deep hashers.

Both are variational autoencoders over bag-of-words vectors (TF-IDF or word counts, dense
or ``scipy.sparse``: sparse rows are densified one batch at a time), trained by the one
deep trainer with an ``mlp`` encoder; their objectives are in
:mod:`hashlearn.hashers.deep.losses.vdsh` and :mod:`hashlearn.hashers.deep.losses.nash`.
Like every deep hasher they are scikit-learn estimators, saved without pickle, and
unsupervised by default (``supervised=True`` adds a classifier on the code, the papers'
supervised variants). Model selection uses the held-out loss (unsupervised) or the
held-out mAP (supervised) of a validation split of the training documents.
"""

from __future__ import annotations

from typing import Any, ClassVar

from hashlearn._registry import register
from hashlearn._validation import check_word_weights
from hashlearn.hashers.deep.estimators import DeepHasher, _document

__all__ = ["NASH", "VDSH"]


class _TextHasher(DeepHasher):
    """What VDSH and NASH share: the supervised switch and its loss class."""

    _unsupervised_loss: ClassVar[str]
    _supervised_loss: ClassVar[str]
    # Word weights are fed as they are: standardising them would scale a rare word's
    # weight by its tiny standard deviation (measured on 20ng-text, NASH-DN 32 bits, 8
    # epochs: P@100 0.209 standardised, 0.222 as they are).
    _standardise_inputs = False
    # An encoder of 500 units (the VDSH authors' size; 1,000 gave no more on 20ng-text,
    # NASH-DN 32 bits, 30 epochs: P@100 0.493 against 0.495, in twice the time) and 30
    # epochs; each method adds its learning rate (the trainer's 1e-3 leaves both far from
    # converged).
    _training_defaults: ClassVar[dict[str, Any]] = {"width": 500, "epochs": 30}
    supervised: bool
    alpha: float

    def _check_params(self) -> None:
        super()._check_params()
        if not isinstance(self.supervised, bool):
            raise TypeError(f"supervised must be a bool, got {self.supervised!r}")

    def _inputs(self, X: Any, backbone: str, *, fitted: bool) -> Any:
        inputs = super()._inputs(X, backbone, fitted=fitted)
        if not fitted:
            # The decoder reconstructs each document's words weighted by its inputs.
            check_word_weights(inputs.array, type(self).__name__)
        return inputs

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags

    def _loss_class(self) -> Any:
        import importlib

        module = importlib.import_module(f"hashlearn.hashers.deep.losses.{self._loss[0]}")
        name = self._supervised_loss if self.supervised else self._unsupervised_loss
        return getattr(module, name)

    def _loss_arguments(self) -> dict[str, Any]:
        arguments = {
            name: getattr(self, name)
            for name in self._loss_defaults
            if name not in ("supervised", "alpha")
        }
        if self.supervised:
            arguments["alpha"] = self.alpha
        return arguments


@register
@_document
class VDSH(_TextHasher):
    """Variational Deep Semantic Hashing: a Gaussian VAE over the words, codes at the medians.

    The encoder's outputs are the latent means; each bit is the mean thresholded at its
    median over the training documents (:mod:`hashlearn.hashers.deep.losses.vdsh`).

    Parameters
    ----------
    n_bits : int, default 32
        Code length.
    beta : float, default 1.0
        Weight of the KL term (1 is the evidence lower bound; see the note below).
    reconstruct : {"presence", "weights"}, default "presence"
        What the decoder reconstructs: each distinct word of a document once (the
        authors' code), or each word weighted by its input value.
    supervised : bool, default False
        Add a classifier on the latent code (VDSH-S); ``y`` is required then.
    alpha : float, default 1.0
        Weight of the classification term (supervised only).
    {common}

    Notes
    -----
    With ``reconstruct="presence"`` the reconstruction sums over a document's distinct
    words (about a hundred for a 20 Newsgroups post) and ``beta=1`` is the evidence lower
    bound. With ``reconstruct="weights"`` over L2-normalised TF-IDF rows, whose weights sum
    to about 6, use ``beta`` near 0.02: at 1 the KL term wins and the codes carry nothing.
    On ``20ng-text`` at 32 bits (width 1000, 50 epochs) the presence reconstruction gave
    P@100 0.396 against 0.320 for the weighted one (beta 0.02).

    References
    ----------
    S. Chaidaroon and Y. Fang. Variational Deep Semantic Hashing for Text Documents.
    SIGIR 2017.
    """

    _loss = ("vdsh", "VDSHLoss")
    # 20ng-text, 32 bits, 30 epochs, P@100: 0.396 at 1e-3 (1,000 units, 50 epochs), 0.423 at
    # 3e-3, 0.367 at 1e-2 (a better held-out loss, worse codes).
    _training_defaults: ClassVar[dict[str, Any]] = {
        **_TextHasher._training_defaults,
        "learning_rate": 3e-3,
    }
    _unsupervised_loss = "VDSHLoss"
    _supervised_loss = "VDSHSupervisedLoss"
    _loss_defaults: ClassVar[dict[str, Any]] = {
        "beta": 1.0,
        "reconstruct": "presence",
        "supervised": False,
        "alpha": 1.0,
    }


@register
@_document
class NASH(_TextHasher):
    """NASH: the binary code is the latent variable of a VAE over the words.

    Bits are sampled from the encoder's Bernoulli probabilities with a straight-through
    gradient, and noise is added before decoding (:mod:`hashlearn.hashers.deep.losses.nash`).

    Parameters
    ----------
    n_bits : int, default 32
        Code length.
    noise : {"data", "fixed"} or None, default "data"
        Noise added to the sampled code before decoding: data-dependent (NASH-DN), one
        learned scale per bit (NASH-N), or none (None: plain NASH).
    noise_std : float, default 0.1
        Starting standard deviation of the noise.
    beta : float, default 1.0
        Weight of the KL term (1 is the evidence lower bound; see :class:`VDSH`).
    reconstruct : {"presence", "weights"}, default "presence"
        What the decoder reconstructs (see :class:`VDSH`).
    supervised : bool, default False
        Add a classifier on the code (the paper's supervised NASH); ``y`` is required then.
    alpha : float, default 1.0
        Weight of the classification term (supervised only).
    {common}

    Notes
    -----
    On ``20ng-text`` at 32 bits (width 1000, 50 epochs) the presence reconstruction with
    ``beta=1`` gave P@100 0.465 against 0.437 for the weighted one with ``beta=0.02``.

    References
    ----------
    D. Shen, Q. Su, P. Chapfuwa, W. Wang, G. Wang, L. Carin and R. Henao. NASH: Toward
    End-to-End Neural Architecture for Generative Semantic Hashing. ACL 2018.
    """

    _loss = ("nash", "NASHLoss")
    # 20ng-text, NASH-DN 32 bits, 30 epochs, P@100: 0.378 at 1e-3, 0.495 at 3e-3, 0.519 at
    # 1e-2, 0.468 at 3e-2; 60 epochs at 1e-2 gave 0.495, a better held-out loss but no
    # better codes, so 30 epochs.
    _training_defaults: ClassVar[dict[str, Any]] = {
        **_TextHasher._training_defaults,
        "learning_rate": 1e-2,
    }
    _unsupervised_loss = "NASHLoss"
    _supervised_loss = "NASHSupervisedLoss"
    _loss_defaults: ClassVar[dict[str, Any]] = {
        "noise": "data",
        "noise_std": 0.1,
        "beta": 1.0,
        "reconstruct": "presence",
        "supervised": False,
        "alpha": 1.0,
    }

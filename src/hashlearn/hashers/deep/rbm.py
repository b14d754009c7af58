"""Stacked restricted Boltzmann machines: SemanticHashing (text) and RBMHashing (images).

Both learn a stack of RBMs bottom to top by contrastive divergence, then fine-tune the
encoder with backprop, and code a point by the signs of its code layer's inputs
(``input >= 0``, a code unit's probability ``>= 0.5``, is bit 1). The training is in
:mod:`hashlearn.hashers.deep._rbm_training` and needs torch (``pip install
'hashlearn[deep]'``); the fitted encoder is plain numpy arrays, so encoding, saving and
loading need numpy only. This module imports no torch.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from hashlearn._progress import progress_bar
from hashlearn._registry import register
from hashlearn._torch import DEVICES
from hashlearn._validation import check_n_bits, check_word_weights
from hashlearn.hashers._base import BaseHasher, check_magnitude, check_state_array
from hashlearn.hashers.deep.config import _int, _real
from hashlearn.hashers.deep.curve import TrainingCurve

__all__ = ["RBMHashing", "SemanticHashing", "hidden_sizes"]

#: Rows encoded per numpy chunk (bounds the memory of the hidden activations).
ENCODE_CHUNK = 4096
#: SemanticHashing trains on X rescaled so that its median document holds this many words.
REFERENCE_LENGTH = 100.0
#: SemanticHashing trains on a dense X holding fewer non-zeros than this share as sparse.
SPARSE_BELOW = 0.1
BOTTOMS = {"replicated-softmax": "softmax", "constrained-poisson": "poisson"}


def hidden_sizes(hidden: Any) -> tuple[int, ...]:
    """The hidden layer sizes a ``hidden`` parameter names (the code layer excluded).

    ``hidden`` is a tuple or list of positive ints, one positive int (one hidden layer), or
    a string of ints joined by ``-`` (``"500-500"``, the form a benchmark spec can carry);
    an empty tuple or string means no hidden layer (one RBM, straight to the code layer).

    Raises
    ------
    ValueError, TypeError
        Naming the value and the forms allowed.
    """
    allowed = "a tuple of positive ints, one positive int, or a string like '500-500'"
    if isinstance(hidden, str):
        parts = [part.strip() for part in hidden.split("-")] if hidden.strip() else []
        if not all(part.isdigit() for part in parts):
            raise ValueError(f"hidden must be {allowed}, got {hidden!r}")
        sizes = [int(part) for part in parts]
    elif isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
        sizes = [int(hidden)]
    elif isinstance(hidden, tuple | list):
        if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in hidden):
            raise TypeError(f"hidden must be {allowed}, got {hidden!r}")
        sizes = [int(v) for v in hidden]
    else:
        raise TypeError(f"hidden must be {allowed}, got {hidden!r}")
    if any(size < 1 for size in sizes):
        raise ValueError(f"hidden must be {allowed}, got {hidden!r} (a size below 1)")
    return tuple(sizes)


class _StackedRBMHasher(BaseHasher):
    """What both stacked-RBM hashers share: parameters, the numpy encoder, persistence.

    Fitted attributes
    -----------------
    coefs_ : list of ndarray
        The encoder's weights, ``(n_in, n_out)`` per layer, the last ``n_out = n_bits``.
    intercepts_ : list of ndarray
        The encoder's hidden biases, ``(n_out,)`` per layer.
    training_curve_ : TrainingCurve
        One row per epoch: CD reconstruction errors per RBM, then the fine-tuning loss.
    n_features_in_ : int
    """

    #: The networks compute in float32 and standardise or divide by the inputs' scale:
    #: beyond this range of largest |X| their statistics overflow or underflow (as for
    #: the other deep hashers).
    _scale_range = (1e-15, 1e15)

    _persist_lists: ClassVar[tuple[str, ...]] = ("coefs_", "intercepts_")
    #: The bottom layer's visible units, as :mod:`~hashlearn.hashers.deep._rbm_training`
    #: names them.
    _bottom_kind: str

    n_bits: int
    hidden: Any
    pretrain_epochs: int
    finetune_epochs: int
    batch_size: int
    learning_rate: float
    momentum: float
    weight_decay: float
    finetune_learning_rate: float
    device: str
    progress: Any

    coefs_: list[np.ndarray]
    intercepts_: list[np.ndarray]
    training_curve_: TrainingCurve

    # -- parameters -----------------------------------------------------------------------
    def _check_params(self) -> None:
        """Check every parameter (called by fit, by loading and when a spec is built)."""
        check_n_bits(self.n_bits)
        hidden_sizes(self.hidden)
        _int(self.pretrain_epochs, "pretrain_epochs", 1)
        _int(self.finetune_epochs, "finetune_epochs", 0)
        _int(self.batch_size, "batch_size", 1)
        _real(self.learning_rate, "learning_rate", low=0, low_open=True)
        _real(self.momentum, "momentum", low=0, high=0.99)
        _real(self.weight_decay, "weight_decay", low=0)
        _real(self.finetune_learning_rate, "finetune_learning_rate", low=0, low_open=True)
        if not isinstance(self.device, str) or not (
            self.device in DEVICES
            or (self.device.startswith("cuda:") and self.device[5:].isdigit())
        ):
            raise ValueError(
                f"device must be one of 'auto', 'cpu', 'cuda', 'cuda:N', got {self.device!r}"
            )
        if not (isinstance(self.progress, bool) or callable(self.progress)):
            raise TypeError(f"progress must be a bool or a callable, got {self.progress!r}")

    def _sizes(self) -> tuple[int, ...]:
        """Every layer's units, bottom to top: the hidden layers, then the code layer."""
        return (*hidden_sizes(self.hidden), int(self.n_bits))

    def _settings(self, **extra: Any) -> Any:
        from hashlearn.hashers.deep._rbm_training import Settings

        return Settings(
            sizes=self._sizes(),
            bottom=self._bottom_kind,
            pretrain_epochs=self.pretrain_epochs,
            finetune_epochs=self.finetune_epochs,
            batch_size=self.batch_size,
            learning_rate=float(self.learning_rate),
            momentum=float(self.momentum),
            weight_decay=float(self.weight_decay),
            finetune_learning_rate=float(self.finetune_learning_rate),
            **extra,
        )

    # -- fit ------------------------------------------------------------------------------------
    def _fit(self, X: Any, y: Any, rng: np.random.Generator, **fit_params: Any) -> None:
        self._check_params()
        from hashlearn.hashers.deep._torch import require_torch, resolve_device

        require_torch(type(self).__name__)
        # The RBMs compute in float32: refuse values whose squares leave its range.
        check_magnitude(X, type(self).__name__, None, dtype=np.float32)
        device = resolve_device(self.device)
        from hashlearn.hashers.deep import _rbm_training as training

        curve = training.start_curve(device)
        total = len(self._sizes()) * self.pretrain_epochs + self._finetune_epochs(y)
        tick, close = progress_bar(self.progress, total, desc=type(self).__name__, unit="epoch")
        try:
            coefs, intercepts = self._train(X, y, rng, device, curve, tick)
        finally:
            close()
        self.coefs_ = [np.ascontiguousarray(w, dtype=np.float32) for w in coefs]
        self.intercepts_ = [np.ascontiguousarray(b, dtype=np.float32) for b in intercepts]
        self.training_curve_ = curve

    def _finetune_epochs(self, y: Any) -> int:
        """The fine-tuning epochs a fit with labels ``y`` runs."""
        return int(self.finetune_epochs)

    def _train(
        self,
        X: Any,
        y: Any,
        rng: np.random.Generator,
        device: Any,
        curve: TrainingCurve,
        tick: Callable[[str], None],
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Train on validated ``X``: the encoder's weights and biases, bottom to top."""
        raise NotImplementedError

    @staticmethod
    def _arrays(encoder: list[tuple[Any, Any]]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        weights = [w.detach().cpu().numpy().copy() for w, _ in encoder]
        biases = [b.detach().cpu().numpy().copy() for _, b in encoder]
        return weights, biases

    # -- encoding -------------------------------------------------------------------------------
    def _encoder_input(self, X: Any) -> Any:
        """``X`` as the bottom layer takes it (validated, same features as at fit)."""
        return X

    def _project(self, X: Any) -> np.ndarray:
        """The code layer's inputs, ``float64 (n, n_bits)``, computed with numpy alone."""
        inputs = self._encoder_input(X)
        coefs = [w.astype(np.float64) for w in self.coefs_]
        intercepts = [b.astype(np.float64) for b in self.intercepts_]
        length_scaled = self._bottom_kind == "softmax"
        out = np.empty((inputs.shape[0], int(self.n_bits)))
        for start in range(0, inputs.shape[0], ENCODE_CHUNK):
            activations = inputs[start : start + ENCODE_CHUNK]
            for index, (weights, bias) in enumerate(zip(coefs, intercepts, strict=True)):
                pre = np.asarray(activations @ weights)
                if index == 0 and length_scaled:
                    pre += np.asarray(activations.sum(axis=1)).reshape(-1, 1) * bias
                else:
                    pre += bias
                activations = expit(pre) if index < len(coefs) - 1 else pre
            out[start : start + ENCODE_CHUNK] = activations
        return out

    # -- scikit-learn and persistence ---------------------------------------------------------
    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        tags.target_tags.required = False
        return tags

    def _portable_params(self) -> dict[str, Any]:
        params = dict(self.get_params(deep=False))
        if not isinstance(params["progress"], bool):
            params["progress"] = False  # a callable shows progress; it is not the model
        if isinstance(params["hidden"], tuple | list):
            params["hidden"] = [int(v) for v in params["hidden"]]
        return params

    def _save_extra_attribute(
        self, name: str, value: Any, attributes: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> None:
        if name in self._persist_lists:
            for index, array in enumerate(value):
                arrays[f"{name[:-1]}.{index}"] = np.asarray(array)
            attributes[f"n_{name}"] = len(value)
        elif name == "training_curve_":
            attributes["training_curve"] = value.to_dict()
        else:
            super()._save_extra_attribute(name, value, attributes, arrays)

    @classmethod
    def _from_state(
        cls, params: dict[str, Any], attributes: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> BaseHasher:
        attributes, arrays = dict(attributes), dict(arrays)
        lists: dict[str, list[np.ndarray]] = {}
        curve: Any = None
        try:
            for name in cls._persist_lists:
                count = attributes.pop(f"n_{name}")
                if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 64:
                    raise ValueError(f"n_{name} must be an int in [1, 64], got {count!r}")
                lists[name] = [arrays.pop(f"{name[:-1]}.{i}") for i in range(count)]
            curve = TrainingCurve.from_dict(attributes.pop("training_curve"))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(
                f"corrupt or incompatible {cls.__name__} file: {exc!r} is missing or "
                "malformed; save the model again"
            ) from exc
        if isinstance(params.get("hidden"), list):
            params = {**params, "hidden": tuple(params["hidden"])}
        loaded = super()._from_state(params, attributes, arrays)
        for name, value in lists.items():
            setattr(loaded, name, value)
        loaded.training_curve_ = curve
        try:
            loaded._check_encoder()
        except ValueError as exc:
            raise ValueError(
                f"corrupt or incompatible {cls.__name__} file: {exc}; save the model again"
            ) from exc
        return loaded

    def _check_loaded_state(self) -> None:
        super()._check_loaded_state()
        self._check_params()

    def _check_encoder(self) -> None:
        """The encoder's arrays chain ``n_features_in_ -> hidden -> n_bits`` as the
        parameters say, and hold finite floats."""
        sizes = (self.n_features_in_, *self._sizes())
        if len(self.coefs_) != len(sizes) - 1 or len(self.intercepts_) != len(sizes) - 1:
            raise ValueError(
                f"the encoder has {len(self.coefs_)} layers; hidden={self.hidden!r} and "
                f"n_bits={self.n_bits} make {len(sizes) - 1}"
            )
        for index, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            for name, array, shape in (
                ("coefs_", self.coefs_[index], (n_in, n_out)),
                ("intercepts_", self.intercepts_[index], (n_out,)),
            ):
                if not isinstance(array, np.ndarray) or array.shape != shape:
                    raise ValueError(f"{name}[{index}] must have shape {shape}")
                if array.dtype.kind != "f" or not np.isfinite(array).all():
                    raise ValueError(f"{name}[{index}] must hold finite floats")


_COMMON_DOC = """pretrain_epochs : int, default {pretrain}
        CD-1 epochs of each RBM.
    finetune_epochs : int, default {finetune}
        Epochs of fine-tuning ({finetune_what}); 0 keeps the pretrained stack.
    batch_size : int, default 100
        Mini-batch size of both stages (the papers' 100).
    learning_rate : float, default {rate}
        CD step size of every RBM.
    momentum : float, default 0.9
        CD momentum, after 0.5 during each RBM's first 5 epochs (Hinton's practical guide).
    weight_decay : float, default 2e-4
        L2 penalty on the RBM weights during CD (not on biases).
    finetune_learning_rate : float, default 1e-3
        Adam's step size during fine-tuning.
    device : {{"auto", "cpu", "cuda", "cuda:N"}}, default "auto"
        Where to train (encoding is numpy, on the CPU).
    progress : bool or callable, default False
        A progress bar per epoch (True), or a callable receiving one line per epoch.
    random_state : int, Generator or None
        Seeds the weights, the batch order and the CD samples{noise}: the same seed gives
        the same codes on the CPU with the same number of torch threads."""


def _document(**values: str) -> Callable[[type], type]:
    def decorate(cls: type) -> type:
        cls.__doc__ = (cls.__doc__ or "").replace("{common}", _COMMON_DOC.format(**values))
        return cls

    return decorate


@register
@_document(
    pretrain="20",
    finetune="20",
    finetune_what="the unrolled autoencoder",
    rate="0.05",
    noise=", the code-layer noise",
)
class SemanticHashing(_StackedRBMHasher):
    """Semantic hashing: a deep autoencoder of word counts pretrained as a stack of RBMs.

    The bottom RBM models a document's word counts, the ones above are Bernoulli RBMs,
    the top one has ``n_bits`` units. They are pretrained one at a time with CD-1, then
    unrolled into an autoencoder fine-tuned by backprop on the cross-entropy between the
    document's word distribution and the decoder's softmax; Gaussian noise added to the
    code layer's input during fine-tuning (fixed per document, the paper's
    *deterministic* noise) drives the logistic code units to 0 or 1. A document's code is
    its code layer's inputs thresholded at 0 (probability 0.5). Sparse ``X`` is never
    densified (its mini-batches reach the device as sparse tensors; encoding goes one
    chunk of rows at a time), and a dense ``X`` that is mostly zeros (under 10% non-zero)
    is trained on as sparse.

    Parameters
    ----------
    n_bits : int, default 32
        Code length: the units of the top RBM.
    bottom : {"replicated-softmax", "constrained-poisson"}, default "replicated-softmax"
        Visible units of the bottom RBM. Both reconstruct a document of ``D`` words as
        ``D * softmax`` over the vocabulary; the replicated softmax model (Salakhutdinov
        and Hinton, NIPS 2009) also multiplies the hidden biases by ``D``, the
        constrained Poisson model of the semantic-hashing paper does not. The default is
        the replicated softmax: a bottom hidden unit's input is then ``D (p . w + b)``
        for the word proportions ``p``, so which side of 0.5 it falls on depends on what
        the document says, not on how long it is (with no hidden layer, doubling every
        count leaves the code unchanged), where the constrained Poisson model's fixed
        bias lets long documents switch on more units; it is also the properly
        normalised model of the two (its NIPS 2009 paper).
    hidden : tuple of int, int or str, default (500, 500)
        Hidden layers between the words and the code layer, bottom to top (``"500-500"``
        in a benchmark spec; see :func:`hidden_sizes`). The paper's 20 Newsgroups network
        is 2000-500-500-``n_bits`` on a 2,000-word vocabulary: the default keeps its
        hidden layers.
    noise_std : float, default 4.0
        Standard deviation of the code layer's noise in fine-tuning (the paper's variance
        of 16); 0 turns the trick off.
    {common}

    Attributes
    ----------
    coefs_ : list of ndarray
        Encoder weights per layer, ``(n_in, n_out)``; the first maps raw ``X``.
    intercepts_ : list of ndarray
        Encoder biases per layer (the first is multiplied by the row sum of ``X`` with
        the replicated softmax bottom).
    training_curve_ : TrainingCurve
        One row per epoch (``stage`` ``"pretrain"`` with its ``layer``, or
        ``"finetune"``): ``loss`` is the RBM's reconstruction error (nats per document for
        the word layer, mean squared error per unit above) or the fine-tuning
        cross-entropy (nats per document), ``seconds``, inputs per second.
    n_features_in_ : int
        Vocabulary size.

    Notes
    -----
    ``X`` holds word counts or TF-IDF weights (any non-negative values; negative ones are
    refused). Where this implementation differs from the paper, and why:

    * The network is trained on ``X`` rescaled so that the median document holds 100
      words, and the scale is folded into the first layer afterwards (the codes are
      those of raw ``X``): L2-normalised TF-IDF, whose rows sum to a few units, then
      trains like counts (20 Newsgroups TF-IDF, 32 bits, seed 0: P@100 0.107 without
      it, the bottom RBM hardly learning; 0.462 with it).
    * Each RBM's CD step is ``learning_rate`` times 100 over the larger of the median
      squared norm of its inputs and half its hidden units (the replicated softmax hidden
      biases: also over the squared median document length), so that the same
      ``learning_rate`` suits raw counts, L2-normalised TF-IDF and hidden probabilities
      (see :func:`hashlearn.hashers.deep._rbm_training._rates`).
    * Fine-tuning uses Adam on mini-batches of ``batch_size`` documents rather than the
      paper's conjugate gradients on batches of 1,000: one optimizer for every hasher of
      the library, and no line search on a 2-core machine.
    * CD reconstructs the visible units by their means (expected counts) rather than
      samples, as Hinton's practical guide recommends.
    * Default epochs (20 + 20) are far fewer than the paper's, to fit minutes on two CPU
      cores; raise them on a GPU.

    References
    ----------
    R. Salakhutdinov and G. Hinton. Semantic hashing. International Journal of Approximate
    Reasoning 50(7), 2009.

    R. Salakhutdinov and G. Hinton. Replicated softmax: an undirected topic model. NIPS
    2009.

    G. Hinton. A practical guide to training restricted Boltzmann machines. UTML TR
    2010-003, 2010.

    Examples
    --------
    >>> import numpy as np
    >>> counts = np.random.default_rng(0).poisson(0.3, size=(200, 50))
    >>> hasher = SemanticHashing(8, hidden=(16,), pretrain_epochs=2, finetune_epochs=2,
    ...                          random_state=0).fit(counts)
    >>> hasher.encode(counts[:3]).shape
    (3, 1)
    """

    _accepts_sparse = True

    def __init__(
        self,
        n_bits: int = 32,
        *,
        bottom: str = "replicated-softmax",
        hidden: Any = (500, 500),
        noise_std: float = 4.0,
        pretrain_epochs: int = 20,
        finetune_epochs: int = 20,
        batch_size: int = 100,
        learning_rate: float = 0.05,
        momentum: float = 0.9,
        weight_decay: float = 2e-4,
        finetune_learning_rate: float = 1e-3,
        device: str = "auto",
        progress: Any = False,
        random_state: Any = None,
    ) -> None:
        self.n_bits = n_bits
        self.bottom = bottom
        self.hidden = hidden
        self.noise_std = noise_std
        self.pretrain_epochs = pretrain_epochs
        self.finetune_epochs = finetune_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.finetune_learning_rate = finetune_learning_rate
        self.device = device
        self.progress = progress
        self.random_state = random_state

    @property
    def _bottom_kind(self) -> str:  # type: ignore[override]
        return BOTTOMS.get(self.bottom, "softmax")

    def _check_params(self) -> None:
        super()._check_params()
        if self.bottom not in BOTTOMS:
            raise ValueError(f"bottom must be one of {', '.join(BOTTOMS)}, got {self.bottom!r}")
        _real(self.noise_std, "noise_std", low=0)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags

    def _encoder_input(self, X: Any) -> Any:
        check_word_weights(X, type(self).__name__)
        return X

    def _train(
        self,
        X: Any,
        y: Any,
        rng: np.random.Generator,
        device: Any,
        curve: TrainingCurve,
        tick: Callable[[str], None],
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        from hashlearn.hashers.deep import _rbm_training as training

        check_word_weights(X, type(self).__name__)
        lengths = np.asarray(X.sum(axis=1), dtype=np.float64).ravel()
        if not (lengths > 0).any():
            raise ValueError(
                f"X holds no words: every row of X sums to 0, so {type(self).__name__} has "
                "nothing to model; pass word counts or TF-IDF weights"
            )
        # The network sees X rescaled so that the median non-empty document holds
        # REFERENCE_LENGTH words: counts and L2-normalised TF-IDF (rows summing to a few
        # units) then train alike. The scale is folded into the first layer at the end.
        scale = REFERENCE_LENGTH / float(np.median(lengths[lengths > 0]))
        if not sp.issparse(X) and np.count_nonzero(X) < SPARSE_BELOW * X.size:
            X = sp.csr_matrix(X)  # dense bag-of-words: its products then cost its non-zeros
        source = training.Source(X, device, scale)
        settings = self._settings(noise_std=float(self.noise_std))
        layers = training.pretrain(source, settings, rng, curve, tick)
        if self.finetune_epochs > 0:
            encoder = training.finetune_autoencoder(layers, source, settings, rng, curve, tick)
        else:
            encoder = [(layer.weights, layer.hidden_bias) for layer in layers]
        coefs, intercepts = self._arrays(encoder)
        coefs[0] *= scale  # (X * scale) @ W == X @ (scale * W)
        if self._bottom_kind == "softmax":
            intercepts[0] *= scale  # its bias is multiplied by the scaled row sum
        return coefs, intercepts


@register
@_document(
    pretrain="20",
    finetune="50",
    finetune_what="NCA on the code layer, only when y is given",
    rate="0.05",
    noise="",
)
class RBMHashing(_StackedRBMHasher):
    """RBM hashing: stacked RBMs on real-valued features, fine-tuned with NCA on labels.

    The features are standardised (training mean and standard deviation), then a
    Gaussian-Bernoulli RBM (unit-variance visible units) and Bernoulli RBMs above it are
    pretrained with CD-1, the top one with ``n_bits`` units. With labels ``y`` the encoder
    is then fine-tuned by neighbourhood components analysis on its logistic code units:
    within each mini-batch, a point picks a stochastic neighbour with probability
    ``softmax(-squared distance)`` and the loss is minus the probability that the
    neighbour shares one of its labels (a 0/1 label matrix for multi-label data). Without
    labels (``y=None``) the pretrained stack is the encoder, as the paper's unsupervised
    variant. A point's code is its code layer's inputs thresholded at 0.

    Parameters
    ----------
    n_bits : int, default 32
        Code length: the units of the top RBM.
    hidden : tuple of int, int or str, default (512, 256)
        Hidden layers between the features and the code layer, bottom to top (``"512-256"``
        in a benchmark spec; see :func:`hidden_sizes`): the paper's 512-512-256-N network
        on 512-D GIST.
    {common}

    Attributes
    ----------
    mean_, scale_ : ndarray of shape (n_features,)
        The standardisation learned at fit (a constant feature gets scale 1).
    coefs_ : list of ndarray
        Encoder weights per layer, ``(n_in, n_out)``, on standardised features.
    intercepts_ : list of ndarray
        Encoder biases per layer.
    training_curve_ : TrainingCurve
        One row per epoch (``stage`` ``"pretrain"`` with its ``layer``, or
        ``"finetune"``): ``loss`` is the RBM's mean squared reconstruction error per unit
        or minus the mean same-label neighbour probability of NCA, ``seconds``, inputs
        per second.
    n_features_in_ : int

    Notes
    -----
    Where this implementation differs from the paper, and why: the NCA objective is
    evaluated within mini-batches of ``batch_size`` points (the full objective compares
    every pair of the training set), optimised with Adam; the distances are between the
    logistic code units, which are the bits' relaxation. The CD reconstruction of the
    Gaussian layer is its mean, as Hinton's practical guide recommends.

    References
    ----------
    A. Torralba, R. Fergus and Y. Weiss. Small codes and large image databases for
    recognition. CVPR 2008.

    R. Salakhutdinov and G. Hinton. Learning a nonlinear embedding by preserving class
    neighbourhood structure. AISTATS 2007.

    J. Goldberger, S. Roweis, G. Hinton and R. Salakhutdinov. Neighbourhood components
    analysis. NIPS 2004.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 16))
    >>> y = (X[:, 0] > 0).astype(int)
    >>> hasher = RBMHashing(8, hidden=(16,), pretrain_epochs=2, finetune_epochs=2,
    ...                     random_state=0).fit(X, y)
    >>> hasher.encode(X[:3]).shape
    (3, 1)
    """

    _bottom_kind = "gaussian"

    mean_: np.ndarray
    scale_: np.ndarray

    def __init__(
        self,
        n_bits: int = 32,
        *,
        hidden: Any = (512, 256),
        pretrain_epochs: int = 20,
        finetune_epochs: int = 50,
        batch_size: int = 100,
        learning_rate: float = 0.05,
        momentum: float = 0.9,
        weight_decay: float = 2e-4,
        finetune_learning_rate: float = 1e-3,
        device: str = "auto",
        progress: Any = False,
        random_state: Any = None,
    ) -> None:
        self.n_bits = n_bits
        self.hidden = hidden
        self.pretrain_epochs = pretrain_epochs
        self.finetune_epochs = finetune_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.finetune_learning_rate = finetune_learning_rate
        self.device = device
        self.progress = progress
        self.random_state = random_state

    def _finetune_epochs(self, y: Any) -> int:
        return 0 if y is None else int(self.finetune_epochs)

    def _encoder_input(self, X: Any) -> Any:
        return (X - self.mean_) / self.scale_

    def _train(
        self,
        X: Any,
        y: Any,
        rng: np.random.Generator,
        device: Any,
        curve: TrainingCurve,
        tick: Callable[[str], None],
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        from sklearn.preprocessing import StandardScaler

        from hashlearn.hashers.deep import _rbm_training as training
        from hashlearn.hashers.deep.data import label_matrix

        labels = None if y is None else label_matrix(y, X.shape[0])[0]
        scaler = StandardScaler().fit(X)
        self.mean_ = np.asarray(scaler.mean_, dtype=np.float64)
        self.scale_ = np.asarray(scaler.scale_, dtype=np.float64)
        source = training.Source(self._encoder_input(X), device)
        settings = self._settings()
        layers = training.pretrain(source, settings, rng, curve, tick)
        if labels is not None and self.finetune_epochs > 0:
            encoder = training.finetune_nca(layers, source, labels, settings, rng, curve, tick)
        else:
            encoder = [(layer.weights, layer.hidden_bias) for layer in layers]
        return self._arrays(encoder)

    def _check_loaded_state(self) -> None:
        super()._check_loaded_state()
        check_state_array(self, "mean_", (self.n_features_in_,))
        check_state_array(self, "scale_", (self.n_features_in_,))
        if not (self.scale_ > 0).all():
            raise ValueError("scale_ must be positive")

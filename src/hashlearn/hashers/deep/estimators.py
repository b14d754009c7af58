"""Deep hashers as scikit-learn estimators: one base class, one subclass per method.

This module imports no torch: the classes can be listed, built, cloned and registered for
``hashlearn bench`` without it. ``fit``, ``encode`` and loading import torch and raise an
ImportError naming ``pip install 'hashlearn[deep]'`` when it is missing.
"""

from __future__ import annotations

import hashlib
import importlib
import numbers
from inspect import Parameter, Signature
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted

from hashlearn import codes as codes_module
from hashlearn._registry import register
from hashlearn._validation import check_n_bits, check_random_state
from hashlearn.hashers._base import BaseHasher, check_magnitude

__all__ = [
    "CSQ",
    "DPSH",
    "DSH",
    "BiHalf",
    "BiHalfHashing",
    "CentralSimilarityQuantization",
    "DeepHasher",
    "DeepPairwiseSupervisedHashing",
    "DeepSupervisedHashing",
    "GreedyHash",
    "HashNet",
]

#: Losses that use no labels (their modules import torch, so this is known here too).
_UNSUPERVISED_LOSSES = frozenset({"BiHalfLoss", "GreedyHashUnsupervisedLoss"})

#: TrainConfig fields, which every deep hasher takes as constructor parameters.
TRAIN_PARAMETERS = (
    "epochs",
    "batch_size",
    "learning_rate",
    "weight_decay",
    "schedule",
    "warmup_epochs",
    "validation_fraction",
    "validation_database",
    "patience",
    "augment",
    "amp",
)


class DeepHasher(BaseHasher):
    """Base class of the deep hashers: a backbone trained with a method's loss.

    Subclasses name their loss (``_loss``: module and class in
    :mod:`hashlearn.hashers.deep.losses`) and its hyperparameters (``_loss_parameters``,
    constructor parameters of the subclass). Everything else is here and in the one
    trainer (:mod:`hashlearn.hashers.deep.trainer`).

    Fitted attributes
    -----------------
    n_features_in_ : int
        Values per input (``C * H * W`` for images).
    input_shape_ : tuple of int
        ``(C, H, W)`` for images, ``(d,)`` for vectors.
    backbone_ : str
        The backbone trained (``backbone="auto"`` resolved).
    classes_ : tuple or None
        The classes of ``y`` (None for multi-label or unsupervised training).
    network_ : torch.nn.Module
        The trained network (on the CPU after fit; moved to ``device`` to encode).
    training_curve_ : TrainingCurve
        Loss, validation score, time and speed per epoch, device, best epoch.
    """

    _loss: ClassVar[tuple[str, str]]
    #: The method's own constructor parameters (passed to its loss) and their defaults.
    _loss_defaults: ClassVar[dict[str, Any]] = {}
    #: Training parameters whose default differs for this method (keys of COMMON_DEFAULTS).
    _training_defaults: ClassVar[dict[str, Any]] = {}
    _default_image_backbone: ClassVar[str] = "dsh-cnn"
    #: Feature vectors are normalised by their training mean and standard deviation, in
    #: float32: beyond this range of largest |X| the statistics overflow or underflow.
    _scale_range = (1e-15, 1e15)
    #: Sparse vectors (TF-IDF, word counts) stay sparse, densified one batch at a time;
    #: only the ``mlp`` backbone takes them (an image backbone refuses them).
    _accepts_sparse = True
    #: Whether the network standardises feature vectors by their training mean and
    #: standard deviation (bag-of-words hashers feed word weights as they are).
    _standardise_inputs: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_loss" in cls.__dict__:
            cls.__init__ = _make_init(cls)  # type: ignore[method-assign]

    # -- configuration -------------------------------------------------------------------
    def _train_config(self) -> Any:
        from hashlearn.hashers.deep.config import TrainConfig

        return TrainConfig(**{name: getattr(self, name) for name in TRAIN_PARAMETERS})

    def _check_params(self) -> None:
        """Check every parameter (called by fit and when a benchmark spec is built)."""
        from hashlearn.hashers.deep.backbones import BACKBONES

        check_n_bits(self.n_bits)
        self._train_config()
        if self.backbone != "auto" and self.backbone not in BACKBONES:
            raise ValueError(
                f"backbone must be 'auto' or one of {', '.join(BACKBONES)}, got {self.backbone!r}"
            )
        if self.width is not None and (
            isinstance(self.width, bool)
            or not isinstance(self.width, numbers.Integral)
            or self.width < 1
        ):
            raise ValueError(f"width must be None or an int >= 1, got {self.width!r}")
        if self.weights is not None and not isinstance(self.weights, str):
            raise TypeError(f"weights must be None or a file path (str), got {self.weights!r}")
        if self.checkpoint is not None and not isinstance(self.checkpoint, str):
            raise TypeError(
                f"checkpoint must be None or a file path (str), got {self.checkpoint!r}"
            )

    def _resolved_backbone(self, X: Any) -> str:
        if self.backbone != "auto":
            return str(self.backbone)
        if sp.issparse(X):
            return "mlp"
        array = np.asarray(X) if not hasattr(X, "dtype") else X
        if array.ndim >= 3 or (array.dtype == np.uint8 and self.image_shape is not None):
            return self._default_image_backbone
        if array.dtype == np.uint8 and array.ndim == 2 and array.shape[1] in (3072, 784):
            return self._default_image_backbone
        return "mlp"

    def _inputs(self, X: Any, backbone: str, *, fitted: bool) -> Any:
        from hashlearn.hashers.deep.backbones import IMAGE_BACKBONES
        from hashlearn.hashers.deep.data import as_inputs

        def magnitude(array: np.ndarray) -> None:
            # The network computes in float32: refuse values whose squares leave its range.
            owner = type(self).__name__
            check_magnitude(array, owner, self._scale_range, fitting=not fitted, dtype=np.float32)

        inputs = as_inputs(
            X,
            images=backbone in IMAGE_BACKBONES,
            image_shape=self.image_shape,
            n_features=self.n_features_in_ if fitted else None,
            owner=type(self).__name__,
            check=magnitude,
        )
        if fitted and inputs.shape != tuple(self.input_shape_):
            raise ValueError(
                f"X holds inputs of shape {inputs.shape}, but {type(self).__name__} was "
                f"fitted on inputs of shape {tuple(self.input_shape_)}"
            )
        return inputs

    # -- fit -------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, **fit_params: Any) -> DeepHasher:
        """Train the network on ``X`` (images or vectors) and labels ``y``.

        Parameters
        ----------
        X : array-like
            uint8 images ``(n, H, W, C)``, ``(n, C, H, W)``, ``(n, H, W)`` or flattened
            ``(n, H * W * C)`` rows (see ``image_shape``), or float feature vectors.
        y : array-like of shape (n,) or (n, n_labels), optional
            Class labels or a 0/1 label matrix; required by supervised methods.

        Returns
        -------
        self
        """
        if fit_params:
            raise TypeError(f"unexpected fit parameters: {sorted(fit_params)}")
        from hashlearn.hashers.deep._torch import require_torch, resolve_device

        torch = require_torch(type(self).__name__)
        self._check_params()
        backbone = self._resolved_backbone(X)
        inputs = self._inputs(X, backbone, fitted=False)
        if len(inputs) < 2:
            raise ValueError(
                f"{type(self).__name__} trains on pairs and batches: it needs at least 2 "
                f"samples, got n_samples = {len(inputs)}"
            )
        labels, classes = self._labels(y, len(inputs))
        rng = check_random_state(self.random_state)
        device = resolve_device(self.device)
        # Weights and dropout draw from torch's default generators: seed them from
        # random_state inside a fork, so the caller's global state is left as it was.
        cuda = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            seed = int(rng.integers(0, 2**63 - 1))
            torch.random.default_generator.manual_seed(seed)
            if cuda:
                torch.cuda.manual_seed(seed)
            self._train(inputs, labels, backbone, device, rng)
        self.backbone_ = backbone
        self.classes_ = classes
        self.n_features_in_ = int(np.prod(inputs.shape))
        self.input_shape_ = tuple(int(v) for v in inputs.shape)
        return self

    def _labels(self, y: Any, n: int) -> tuple[np.ndarray | None, tuple[Any, ...] | None]:
        from hashlearn.hashers.deep.data import label_matrix

        if not self._supervised():
            return None, None
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None: "
                "a supervised method trains on labels (class labels or a 0/1 label matrix)"
            )
        return label_matrix(y, n)

    def _loss_arguments(self) -> dict[str, Any]:
        """Keyword arguments of the loss: the method's own parameters."""
        return {name: getattr(self, name) for name in self._loss_defaults}

    def _loss_class(self) -> Any:
        module, name = self._loss
        return getattr(importlib.import_module(f"hashlearn.hashers.deep.losses.{module}"), name)

    def _train(
        self, inputs: Any, labels: Any, backbone: str, device: Any, rng: np.random.Generator
    ) -> None:
        from hashlearn.hashers.deep import trainer
        from hashlearn.hashers.deep._torch import torch_generator
        from hashlearn.hashers.deep.backbones import build_backbone

        config = self._train_config()
        rows = trainer.split_validation(len(inputs), labels, config.validation_fraction, rng)
        mean, std = _statistics(inputs, rows[0])
        if not self._standardise_inputs:
            mean, std = np.zeros_like(mean), np.ones_like(std)
        network = build_backbone(
            backbone,
            self.n_bits,
            input_shape=inputs.shape,
            mean=mean,
            std=std,
            width=self.width,
            weights=self.weights,
        ).to(device)
        loss_class = self._loss_class()
        # Losses with a decoder over the inputs (VDSH, NASH) need the input size.
        sized = {"n_inputs": int(np.prod(inputs.shape))} if loss_class.needs_input_size else {}
        loss = loss_class(
            self.n_bits,
            None if labels is None else labels.shape[1],
            int(rows[0].size),
            torch_generator(rng, device),
            **self._loss_arguments(),
            **sized,
        ).to(device)
        identity = {
            "method": type(self).__name__,
            # How progress is shown, and where the checkpoint lives, change nothing trained.
            "params": repr(
                sorted(
                    (name, value)
                    for name, value in self.get_params(deep=False).items()
                    if name not in ("progress", "checkpoint")
                )
            ),
            "data": _digest(inputs.array, labels),
        }
        self.training_curve_ = trainer.train(
            network,
            loss,
            inputs,
            labels,
            config,
            device=device,
            rng=rng,
            rows=rows,
            progress=self.progress,
            checkpoint=self.checkpoint,
            identity=identity,
        )
        if loss_class.median_thresholds:
            _fold_medians(network, inputs.take(rows[0]), self.n_bits, device)
        self.network_ = network.cpu().eval()

    # -- encoding ----------------------------------------------------------------------------
    def project(self, X: Any) -> np.ndarray:
        """The network's real outputs, ``float32 (n, n_bits)``; bit j is 1 where column j >= 0."""
        check_is_fitted(self, "network_")
        from hashlearn.hashers.deep._torch import require_torch, resolve_device
        from hashlearn.hashers.deep.trainer import network_outputs

        require_torch(type(self).__name__)
        inputs = self._inputs(X, self.backbone_, fitted=True)
        device = resolve_device(self.device)
        network = self.network_.to(device)
        try:
            outputs = network_outputs(network, inputs, device)
        finally:
            self.network_ = network.cpu()
        if not np.isfinite(outputs).all():
            raise ValueError("the network's outputs overflowed to infinity or NaN on X")
        return outputs

    def encode(self, X: Any) -> np.ndarray:
        """Packed binary codes of ``X``: ``uint8 (n, ceil(n_bits / 8))``."""
        return codes_module.binarize(self.project(X))

    def transform(self, X: Any) -> np.ndarray:
        """Bits of ``X`` as 0/1: ``uint8 (n, n_bits)``."""
        return codes_module.signs_to_bits(self.project(X))

    def _fit(self, X: np.ndarray, y: Any, rng: np.random.Generator, **fit_params: Any) -> None:
        raise AssertionError("DeepHasher.fit trains the network itself")  # never called

    def _project(self, X: np.ndarray) -> np.ndarray:
        return self.project(X)

    def save(self, path: Any) -> Any:
        """Save the fitted hasher: parameters, weights as arrays (no pickle), the curve."""
        check_is_fitted(self, "network_")
        from hashlearn.persistence import save as _save

        return _save(self, path)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        tags.target_tags.required = self._supervised()
        return tags

    def _supervised(self) -> bool:
        """Whether fit needs labels, known without importing torch: the loss is a
        supervised one and, for GreedyHash, ``supervised`` is not False."""
        return self._loss[1] not in _UNSUPERVISED_LOSSES and getattr(self, "supervised", True)

    # -- persistence -------------------------------------------------------------------------
    def _portable_params(self) -> dict[str, Any]:
        params = dict(self.get_params(deep=False))
        if not isinstance(params["progress"], bool):
            params["progress"] = False  # a callable shows progress; it is not the model
        return params

    def _get_state(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, np.ndarray]]:
        from hashlearn.hashers.deep.persist import network_state

        return network_state(self)

    @classmethod
    def _from_state(
        cls, params: dict[str, Any], attributes: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> DeepHasher:
        from hashlearn.hashers.deep.persist import restore_network

        return restore_network(cls, params, attributes, arrays)


def _fold_medians(network: Any, inputs: Any, n_bits: int, device: Any) -> None:
    """Subtract each output's median over ``inputs`` from the network's last bias, so that
    ``output >= 0 -> 1`` thresholds every bit at its training median (VDSH's codes)."""
    import torch

    from hashlearn.hashers.deep.trainer import network_outputs

    medians = np.median(network_outputs(network, inputs, device), axis=0)
    last = [m for m in network.modules() if isinstance(m, torch.nn.Linear)]
    if not last or last[-1].out_features != n_bits or last[-1].bias is None:
        raise ValueError(
            "median thresholds need a backbone whose last layer is a linear layer with a "
            f"bias and {n_bits} outputs"
        )
    with torch.no_grad():
        last[-1].bias.sub_(torch.from_numpy(medians).to(last[-1].bias))


def _statistics(inputs: Any, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of the training rows: per channel for images (in
    ``[0, 1]`` units), per feature for vectors (a constant feature gets 1).

    Vectors' moments are computed in float64 from ``E[x]`` and ``E[x^2]`` (all training
    rows), the same way for dense rows and for a sparse matrix's stored values, so that
    sparse and dense inputs give the same network."""
    if inputs.images:
        sample = inputs.array[rows[:10_000]]
        pixels = sample.transpose(1, 0, 2, 3).reshape(sample.shape[1], -1) / 255.0
        mean, std = pixels.mean(axis=1), pixels.std(axis=1)
        return mean.astype(np.float32), np.where(std > 1e-6, std, 1.0).astype(np.float32)
    matrix = inputs.array[rows]
    if inputs.sparse:  # the rows are never densified
        matrix = matrix.astype(np.float64)
        mean = np.asarray(matrix.mean(axis=0)).ravel()
        square = np.asarray(matrix.multiply(matrix).mean(axis=0)).ravel()
    else:  # a block at a time: no float64 copy of the whole training set
        total = np.zeros(matrix.shape[1])
        total_square = np.zeros(matrix.shape[1])
        for start in range(0, matrix.shape[0], 8192):
            block = matrix[start : start + 8192].astype(np.float64)
            total += block.sum(axis=0)
            total_square += np.square(block).sum(axis=0)
        mean, square = total / matrix.shape[0], total_square / matrix.shape[0]
    std = np.sqrt(np.maximum(square - mean**2, 0.0))
    return mean.astype(np.float32), np.where(std > 1e-6, std, 1.0).astype(np.float32)


def _digest(array: Any, labels: np.ndarray | None) -> str:
    digest = hashlib.sha256()
    parts = (array.data, array.indices, array.indptr) if sp.issparse(array) else (array,)
    for part in parts:
        digest.update(np.ascontiguousarray(part).view(np.uint8).ravel().data)
    if labels is not None:
        digest.update(np.ascontiguousarray(labels).tobytes())
    return digest.hexdigest()[:16]


#: Parameters every deep hasher takes after its method's own (see :class:`DSH` for their
#: meaning), with their defaults.
COMMON_DEFAULTS: dict[str, Any] = {
    "backbone": "auto",
    "width": None,
    "weights": None,
    "image_shape": None,
    "epochs": 50,
    "batch_size": 128,
    "learning_rate": 1e-3,
    "weight_decay": 5e-4,
    "schedule": "cosine",
    "warmup_epochs": 0,
    "validation_fraction": 0.1,
    "validation_database": 5000,
    "patience": 10,
    "augment": True,
    "amp": True,
    "device": "auto",
    "checkpoint": None,
    "progress": False,
    "random_state": None,
}


def _make_init(cls: type[DeepHasher]) -> Any:
    """``__init__(self, n_bits=32, *, <method parameters>, <common parameters>)``.

    The deep hashers share 19 constructor parameters; writing them out in six signatures
    would be six copies to keep in step. The generated ``__init__`` stores its keyword
    arguments unchanged (the scikit-learn rule) and carries a real signature, which
    ``help()``, ``get_params`` and ``clone`` read.
    """
    unknown = sorted(set(cls._training_defaults) - set(COMMON_DEFAULTS))
    if unknown:
        raise TypeError(f"{cls.__name__}._training_defaults names no training parameter: {unknown}")
    defaults = {**cls._loss_defaults, **COMMON_DEFAULTS, **cls._training_defaults}
    signature = Signature(
        [
            Parameter("self", Parameter.POSITIONAL_OR_KEYWORD),
            Parameter("n_bits", Parameter.POSITIONAL_OR_KEYWORD, default=32),
            *(
                Parameter(name, Parameter.KEYWORD_ONLY, default=value)
                for name, value in defaults.items()
            ),
        ]
    )

    def __init__(self: DeepHasher, n_bits: int = 32, **params: Any) -> None:
        unknown = sorted(set(params) - set(defaults))
        if unknown:
            raise TypeError(
                f"{type(self).__name__}() got unexpected keyword arguments {unknown}; "
                f"its parameters: n_bits, {', '.join(defaults)}"
            )
        self.n_bits = n_bits
        for name, default in defaults.items():
            setattr(self, name, params.get(name, default))

    __init__.__signature__ = signature  # type: ignore[attr-defined]
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    __init__.__doc__ = f"Store the parameters of {cls.__name__} (see the class docstring)."
    return __init__


#: The training parameters the docstrings list together, with their defaults.
_DOCUMENTED_TRAINING = (
    *("epochs", "batch_size", "learning_rate", "weight_decay", "schedule"),
    *("warmup_epochs", "validation_fraction", "validation_database", "patience"),
    *("augment", "amp"),
)

_COMMON_DOC = """backbone : str, default "auto"
        ``"auto"`` (``{image}`` for images, ``mlp`` for vectors) or a name of
        :mod:`hashlearn.hashers.deep.backbones`.
    width : int or None, default {width}
        Channels or units of the backbone (the backbone's own default when None).
    weights : str, optional
        Local file of pretrained weights (torchvision backbones).
    image_shape : (height, width, channels), optional
        How to read flattened rows as images (CIFAR-10's 3,072 and MNIST's 784 columns
        are recognised without it).
    {training_names}
        Training (:class:`~hashlearn.hashers.deep.config.TrainConfig`; defaults
        {training}).
    device : {{"auto", "cpu", "cuda", "cuda:N"}}, default "auto"
        Where to train and encode.
    checkpoint : str, optional
        File keeping the training state after every epoch; a new fit with the same
        file, data and parameters resumes from it.
    progress : bool or callable, default False
        A progress bar per epoch (True), or a callable receiving one line per epoch.
    random_state : int, Generator or None
        Seeds the split, the weights, the batch order and the augmentation: the same seed
        gives the same codes on the CPU with the same number of torch threads."""


def _document(cls: type[DeepHasher]) -> type[DeepHasher]:
    """Fill ``{common}`` in the class docstring with the parameters every deep hasher has."""
    defaults = {**COMMON_DEFAULTS, **cls._training_defaults}
    training = ", ".join(
        f'"{value}"' if isinstance(value, str) else repr(value)
        for value in (defaults[name] for name in _DOCUMENTED_TRAINING)
    )
    common = _COMMON_DOC.format(
        image=cls._default_image_backbone,
        width=defaults["width"],
        training_names=", ".join(_DOCUMENTED_TRAINING),
        training=training,
    )
    cls.__doc__ = (cls.__doc__ or "").replace("{common}", common)
    return cls


@register
@_document
class DeepSupervisedHashing(DeepHasher):
    """Deep Supervised Hashing (DSH): a network trained on label pairs with a margin loss.

    Pairs of a mini-batch that share a label are pulled together and the others pushed
    beyond ``margin`` (squared Euclidean distance of the relaxed codes), with a regulariser
    pulling each output to +-1 (:mod:`hashlearn.hashers.deep.losses.dsh`). The backbone
    defaults to the paper's small CNN for images (``dsh-cnn``) and an MLP for vectors.

    Parameters
    ----------
    n_bits : int, default 32
        Code length.
    margin : float, optional
        Margin for dissimilar pairs; None means ``2 * n_bits`` (the paper's).
    alpha : float, default 0.01
        Weight of the regulariser (the paper's).
    {common}

    References
    ----------
    H. Liu, R. Wang, S. Shan and X. Chen. Deep Supervised Hashing for Fast Image
    Retrieval. CVPR 2016.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 16)).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(int)
    >>> hasher = DSH(n_bits=8, epochs=2, random_state=0).fit(X, y)
    >>> hasher.encode(X[:3]).shape
    (3, 1)
    """

    _loss = ("dsh", "DSHLoss")
    _loss_defaults: ClassVar[dict[str, Any]] = {"margin": None, "alpha": 0.01}


@register
@_document
class HashNet(DeepHasher):
    """HashNet: deep hashing by continuation, with a weighted pairwise likelihood.

    The code layer is ``tanh(beta * h)`` with ``beta`` growing during training (the
    continuation that makes the codes binary), and pairs are weighted so that the few
    similar pairs weigh as much as the many dissimilar ones
    (:mod:`hashlearn.hashers.deep.losses.hashnet`).

    Parameters
    ----------
    n_bits : int, default 32
        Code length.
    alpha : float, optional
        Scale of the inner products in the likelihood; None means ``10 / n_bits``.
    beta_init, gamma, power, step_size : float, float, float, int
        The continuation ``beta = beta_init * (1 + gamma * t) ** power``, ``t`` the
        training batches so far, updated every ``step_size`` batches (defaults 1.0,
        0.005, 0.5, 200: the authors' code).
    {common}

    References
    ----------
    Z. Cao, M. Long, J. Wang and P. S. Yu. HashNet: Deep Learning to Hash by
    Continuation. ICCV 2017.
    """

    _loss = ("hashnet", "HashNetLoss")
    _loss_defaults: ClassVar[dict[str, Any]] = {
        "alpha": None,
        "beta_init": 1.0,
        "gamma": 0.005,
        "power": 0.5,
        "step_size": 200,
    }


@register
@_document
class DeepPairwiseSupervisedHashing(DeepHasher):
    """DPSH: deep pairwise-supervised hashing, a pairwise likelihood with quantisation.

    Each batch is paired with every training point through a memory of all training
    outputs (:mod:`hashlearn.hashers.deep.losses.dpsh`).

    Parameters
    ----------
    n_bits : int, default 32
        Code length.
    eta : float, default 10.0
        Weight of the quantisation term (the authors').
    {common}

    References
    ----------
    W.-J. Li, S. Wang and W.-C. Kang. Feature Learning based Deep Supervised Hashing with
    Pairwise Labels. IJCAI 2016.
    """

    _loss = ("dpsh", "DPSHLoss")
    _loss_defaults: ClassVar[dict[str, Any]] = {"eta": 10.0}


@register
@_document
class CentralSimilarityQuantization(DeepHasher):
    """CSQ: each class gets a hash centre and each point is pulled towards its own.

    Centres come from a Hadamard matrix, or are drawn at random with the seed
    (:mod:`hashlearn.hashers.deep.losses.csq`).

    Parameters
    ----------
    n_bits : int, default 32
        Code length.
    lambda_q : float, default 1e-4
        Weight of the quantisation term.
    {common}

    References
    ----------
    L. Yuan, T. Wang, X. Zhang, F. E. H. Tay, Z. Jie, W. Liu and J. Feng. Central
    Similarity Quantization for Efficient Image and Video Retrieval. CVPR 2020.
    """

    _loss = ("csq", "CSQLoss")
    _loss_defaults: ClassVar[dict[str, Any]] = {"lambda_q": 1e-4}


@register
@_document
class BiHalfHashing(DeepHasher):
    """Bi-half (unsupervised): every bit split half-half within each batch.

    The bi-half layer gives each bit maximal entropy; the codes' similarities are fitted
    to the inputs' (:mod:`hashlearn.hashers.deep.losses.bihalf`). Labels are not used:
    the validation score is the loss on the validation split.

    Parameters
    ----------
    n_bits : int, default 32
        Code length.
    gamma : float, default 6.0
        Weight of the pull of the outputs towards their codes (the authors').
    {common}

    References
    ----------
    Y. Li and J. van Gemert. Deep Unsupervised Image Hashing by Maximizing Bit Entropy.
    AAAI 2021.
    """

    _loss = ("bihalf", "BiHalfLoss")
    _loss_defaults: ClassVar[dict[str, Any]] = {"gamma": 6.0}


@register
@_document
class GreedyHash(DeepHasher):
    """GreedyHash: the sign in the forward pass, a straight-through gradient backward.

    Supervised (``supervised=True``): a linear classifier on the codes plus a penalty
    pulling the outputs to +-1; unsupervised: the codes' similarities fitted to the
    inputs' (:mod:`hashlearn.hashers.deep.losses.greedyhash`).

    Parameters
    ----------
    n_bits : int, default 32
        Code length.
    alpha : float, default 0.1
        Weight of the penalty ``| |h| - 1 |^3``.
    supervised : bool, default True
        Train with labels (a classifier on the codes) or without (``y`` is ignored).
    {common}

    References
    ----------
    S. Su, C. Zhang, K. Han and Y. Tian. Greedy Hash: Towards Fast Optimization for
    Accurate Hash Coding in CNN. NeurIPS 2018.
    """

    _loss = ("greedyhash", "GreedyHashLoss")
    _loss_defaults: ClassVar[dict[str, Any]] = {"alpha": 0.1, "supervised": True}

    def _loss_class(self) -> Any:
        from hashlearn.hashers.deep.losses import greedyhash

        if not isinstance(self.supervised, bool):
            raise TypeError(f"supervised must be a bool, got {self.supervised!r}")
        return (
            greedyhash.GreedyHashLoss if self.supervised else greedyhash.GreedyHashUnsupervisedLoss
        )

    def _loss_arguments(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


DSH = DeepSupervisedHashing
DPSH = DeepPairwiseSupervisedHashing
CSQ = CentralSimilarityQuantization
BiHalf = BiHalfHashing

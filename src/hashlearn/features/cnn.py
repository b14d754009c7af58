"""CNN features: torchvision's AlexNet, VGG-16 and ResNet-18/50 as image descriptors.

The descriptor of an image is the network's penultimate layer: ``fc7`` after its ReLU for
AlexNet and VGG-16 (4,096 values), the global average pool for ResNet-18 (512) and
ResNet-50 (2,048). Images (uint8, any size) are moved to the device in batches, scaled to
``[0, 1]``, resized there to 224 x 224 (bilinear, antialiased when shrinking; the aspect
ratio is not kept, as deep-hashing papers do for CIFAR-10), normalised with ImageNet's
mean and standard deviation, and run in eval mode without gradients, in channels-last
layout, with mixed precision on CUDA.

Weights are a **local file**: hashlearn downloads nothing. Without one the network has
random weights (seeded by ``random_state``), whose features run end to end but are not
meaningful for retrieval. A weights file is a ``state_dict`` saved with ``torch.save`` (as
torchvision's own ``.pth`` files are), read with ``torch.load(weights_only=True)``, which
loads tensors and plain containers and never runs code from the file; or a ``.npz`` of
arrays named as the ``state_dict``'s keys, read without pickle. Anything else is refused
with a :class:`~hashlearn.persistence.FileFormatError`, and a ``state_dict`` for another
network (missing or unexpected keys, other shapes) with a ValueError listing what differs.

:func:`build_cnn`, :func:`replace_classifier` and :func:`resize_images` are also what the
deep hashers' torchvision backbones are built from.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hashlearn._progress import Progress, progress_bar
from hashlearn._torch import require_torch, require_torchvision, resolve_device
from hashlearn.persistence import FileFormatError

__all__ = [
    "CNN_FEATURES_VERSION",
    "CNN_MODELS",
    "FEATURE_DIMS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "INPUT_SIZE",
    "CNNFeatureExtractor",
    "build_cnn",
    "extract_features",
    "load_weights_file",
    "replace_classifier",
    "resize_images",
]

#: The torchvision networks available, by their torchvision names.
CNN_MODELS = ("alexnet", "vgg16", "resnet18", "resnet50")
#: Length of each network's feature vector (its penultimate layer).
FEATURE_DIMS = {"alexnet": 4096, "vgg16": 4096, "resnet18": 512, "resnet50": 2048}
#: Side of the square the images are resized to (the networks' ImageNet input).
INPUT_SIZE = 224
#: ImageNet's per-channel statistics (RGB, pixels in [0, 1]), as torchvision's weights use.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Changes whenever the preprocessing does, so that cached features are recomputed.
CNN_FEATURES_VERSION = 1
_FEATURE = "CNN features"
_LISTED = 5


def _check_model(model: Any) -> str:
    if model not in CNN_MODELS:
        raise ValueError(f"model must be one of {', '.join(CNN_MODELS)}, got {model!r}")
    return str(model)


def build_cnn(model: str, weights: str | os.PathLike[str] | None = None) -> Any:
    """torchvision's ``model`` classifier network, with weights from a local file or random.

    Parameters
    ----------
    model : {"alexnet", "vgg16", "resnet18", "resnet50"}
    weights : str or path-like, optional
        A local weights file (see :func:`load_weights_file`); checked against the network
        before it is loaded. None: torchvision's random initialisation, drawn from torch's
        default generator (seed it, e.g. under :func:`torch.random.fork_rng`, for
        reproducible weights).

    Returns
    -------
    torch.nn.Module
        The whole network, ending in its 1,000-class ImageNet layer, in training mode.

    Raises
    ------
    FileNotFoundError, hashlearn.persistence.FileFormatError
        See :func:`load_weights_file`.
    ValueError
        When the file's ``state_dict`` does not fit the network (keys or shapes).
    """
    _check_model(model)
    torch = require_torch(_FEATURE)
    constructor = getattr(require_torchvision(_FEATURE).models, model)
    if weights is None:
        return constructor(weights=None)
    path = Path(weights)
    state = load_weights_file(path)
    # Built on the meta device, the network allocates and initialises nothing (VGG-16's
    # random initialisation alone takes seconds); the file's tensors then become its own.
    with torch.device("meta"):
        network = constructor(weights=None)
    network.load_state_dict(_matching_state(state, network, path, model), assign=True)
    left = [name for name, tensor in network.state_dict(keep_vars=True).items() if tensor.is_meta]
    if left:
        raise ValueError(f"{path}: {model} tensors not set by the file: {_listed(left)}")
    return network


def load_weights_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``state_dict`` from a local file, never running code from it.

    Parameters
    ----------
    path : str or path-like
        A file written by ``torch.save(model.state_dict(), path)`` (also accepted: a
        checkpoint dict whose ``"state_dict"`` or ``"model"`` entry is one), read with
        ``torch.load(weights_only=True)``; or a ``.npz`` whose arrays are named as the
        ``state_dict``'s keys, read with ``allow_pickle=False``.

    Returns
    -------
    dict of str to torch.Tensor
        On the CPU.

    Raises
    ------
    FileNotFoundError
        When ``path`` is not a file.
    hashlearn.persistence.FileFormatError
        When the file cannot be read that way (an arbitrary pickle, a damaged file) or
        does not hold a mapping of names to tensors; the message names the file.
    """
    torch = require_torch(_FEATURE)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"weights file not found: {path} (weights are a local file; hashlearn downloads none)"
        )
    if path.suffix.lower() == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                loaded: Any = {name: torch.from_numpy(archive[name]) for name in archive.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise FileFormatError(
                f"{path} is not a readable .npz of numeric arrays (object arrays, which "
                f"need pickle, are refused): {exc}"
            ) from exc
    else:
        try:
            loaded = torch.load(path, map_location="cpu", weights_only=True)
        # torch.load fails on a damaged or foreign file with many exception types (a
        # KeyError from its legacy reader, for one): every one means "not weights".
        except Exception as exc:
            raise FileFormatError(
                f"{path} was refused: weights are read with torch.load(weights_only=True), "
                "which loads tensors and plain containers only and never runs code from the "
                "file; save the weights with torch.save(model.state_dict(), path) "
                f"({type(exc).__name__}: {_reason(exc)})"
            ) from exc
    return _as_state_dict(loaded, path)


def _reason(exc: BaseException) -> str:
    """The informative line of a torch.load error (its weights-only refusal opens with a
    paragraph advising ``weights_only=False``, which is exactly what must not be done)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    skipped = ("Weights only load failed", "Check the documentation")
    useful = [line for line in lines if not line.startswith(skipped)]
    return (useful or lines or [repr(exc)])[0]


def _as_state_dict(loaded: Any, path: Path) -> dict[str, Any]:
    torch = require_torch(_FEATURE)
    if isinstance(loaded, Mapping):
        for wrapper in ("state_dict", "model"):
            if isinstance(loaded.get(wrapper), Mapping):
                loaded = loaded[wrapper]
                break
    if not isinstance(loaded, Mapping):
        raise FileFormatError(
            f"{path} holds a {type(loaded).__name__}, not a state_dict (a mapping of "
            "parameter names to tensors); save one with torch.save(model.state_dict(), path)"
        )
    wrong = [
        f"{key!r}: {type(value).__name__}"
        for key, value in loaded.items()
        if not isinstance(key, str) or not isinstance(value, torch.Tensor)
    ]
    if wrong:
        raise FileFormatError(
            f"{path} is not a state_dict: every entry must map a name to a tensor, but "
            f"{len(wrong)} do not ({', '.join(wrong[:_LISTED])})"
        )
    if not loaded:
        raise FileFormatError(f"{path} holds an empty state_dict")
    return dict(loaded)


def _listed(names: list[str]) -> str:
    more = f" and {len(names) - _LISTED} more" if len(names) > _LISTED else ""
    return ", ".join(names[:_LISTED]) + more


def _matching_state(state: dict[str, Any], network: Any, path: Path, model: str) -> dict[str, Any]:
    """``state`` cast to the network's dtypes, or a ValueError saying how it differs."""
    expected = network.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s): {_listed(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s): {_listed(unexpected)}")
    shapes = [
        f"{key} is {tuple(state[key].shape)} in the file, {tuple(expected[key].shape)} in {model}"
        for key in sorted(set(state) & set(expected))
        if tuple(state[key].shape) != tuple(expected[key].shape)
    ]
    if shapes:
        problems.append(f"{len(shapes)} shape mismatch(es): {_listed(shapes)}")
    kinds = [
        f"{key} ({state[key].dtype})"
        for key in sorted(set(state) & set(expected))
        if expected[key].is_floating_point() and not state[key].is_floating_point()
    ]
    if kinds:
        problems.append(f"{len(kinds)} non-float tensor(s) for float parameters: {_listed(kinds)}")
    if problems:
        hint = ""
        if unexpected and all(key.startswith("module.") for key in unexpected):
            hint = (
                "; its keys start with 'module.' (saved from DataParallel): save "
                "model.module.state_dict() instead"
            )
        raise ValueError(
            f"{path} does not hold torchvision {model} weights: {'; '.join(problems)}{hint}"
        )
    return {key: state[key].to(expected[key].dtype) for key in expected}


def replace_classifier(network: Any, model: str, out_features: int | None) -> int:
    """Replace the network's last layer (the 1,000 ImageNet classes), in place.

    Parameters
    ----------
    network : torch.nn.Module
        A network of :func:`build_cnn`.
    model : {"alexnet", "vgg16", "resnet18", "resnet50"}
        Its name.
    out_features : int or None
        A new ``torch.nn.Linear`` with this many outputs (a hash layer, initialised from
        torch's default generator), or None for none: the network then outputs its
        penultimate layer, the features.

    Returns
    -------
    int
        The length of the penultimate layer (:data:`FEATURE_DIMS`).
    """
    _check_model(model)
    nn = require_torch(_FEATURE).nn
    if model.startswith("resnet"):
        width = int(network.fc.in_features)
        network.fc = nn.Identity() if out_features is None else nn.Linear(width, out_features)
    else:
        width = int(network.classifier[-1].in_features)
        last = len(network.classifier) - 1
        network.classifier[last] = (
            nn.Identity() if out_features is None else nn.Linear(width, out_features)
        )
    return width


def resize_images(x: Any, size: int = INPUT_SIZE) -> Any:
    """Resize a float batch ``(n, C, H, W)`` to ``(n, C, size, size)`` on its device.

    Bilinear, antialiased (which matters only when shrinking); a batch already of that
    size is returned as it is.
    """
    if tuple(x.shape[-2:]) == (size, size):
        return x
    functional = require_torch(_FEATURE).nn.functional
    return functional.interpolate(
        x, size=(size, size), mode="bilinear", align_corners=False, antialias=True
    )


def _as_nhwc(images: Any) -> np.ndarray:
    """``images`` as an (n, H, W, C) array, C 1 or 3, uint8 or float in [0, 1] (a view)."""
    array = np.asarray(images)
    if array.dtype != np.uint8 and not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"images must be uint8 (0..255) or float (0..1), got dtype {array.dtype}")
    if array.ndim == 3:
        array = array[..., np.newaxis]
    if array.ndim != 4:
        raise ValueError(
            "images must be (n, H, W, C), (n, C, H, W) or grayscale (n, H, W), got shape "
            f"{array.shape}"
        )
    if array.shape[-1] not in (1, 3):
        if array.shape[1] not in (1, 3):
            raise ValueError(
                f"images must have 1 or 3 channels, first or last, got shape {array.shape}"
            )
        array = array.transpose(0, 2, 3, 1)
    if array.shape[0] == 0 or array.shape[1] == 0 or array.shape[2] == 0:
        raise ValueError(f"images must hold at least one non-empty image, got {array.shape}")
    return array


def _torch_seed(random_state: Any) -> int:
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    if random_state is None:
        return int(np.random.default_rng().integers(0, 2**63 - 1))
    if isinstance(random_state, bool) or not isinstance(random_state, int | np.integer):
        raise TypeError(
            f"random_state must be an int, a numpy Generator or None, got {random_state!r}"
        )
    if random_state < 0:
        raise ValueError(f"random_state must be >= 0, got {random_state}")
    return int(random_state)


class CNNFeatureExtractor:
    """Penultimate-layer features of a torchvision network, computed in batches.

    Parameters
    ----------
    model : {"alexnet", "vgg16", "resnet18", "resnet50"}, default "resnet18"
    weights : str or path-like, optional
        A local weights file (:func:`load_weights_file`). None: random weights, seeded by
        ``random_state``: they run end to end, but their features are not meaningful for
        retrieval.
    random_state : int, numpy Generator or None, default 0
        Seed of the random weights (ignored with ``weights``); torch's global generator is
        left as it was.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default "auto"
        Where the network runs; ``"auto"``: CUDA when available.
    batch_size : int, default 64
        Images per forward pass.
    amp : bool, default True
        Mixed precision on CUDA (bfloat16 where supported, else float16); the CPU always
        computes in float32.
    progress : bool or callable, default False
        A progress bar over the batches (see :mod:`hashlearn._progress`).

    Attributes
    ----------
    network : torch.nn.Module
        The network without its last layer, in eval mode, on ``device``.
    n_features : int
        Length of each feature vector (:data:`FEATURE_DIMS`).
    device : torch.device
    amp_dtype : torch.dtype or None
        The mixed-precision type on CUDA, None when computing in float32.
    seconds : float or None
        Wall time of the last :meth:`transform` (transfers, resizing and network).
    images_per_second : float or None
        Images of the last :meth:`transform` per second of ``seconds``.

    Examples
    --------
    >>> import numpy as np
    >>> extractor = CNNFeatureExtractor("resnet18", device="cpu")  # doctest: +SKIP
    >>> extractor.transform(np.zeros((2, 32, 32, 3), np.uint8)).shape  # doctest: +SKIP
    (2, 512)
    """

    def __init__(
        self,
        model: str = "resnet18",
        *,
        weights: str | os.PathLike[str] | None = None,
        random_state: int | np.random.Generator | None = 0,
        device: Any = "auto",
        batch_size: int = 64,
        amp: bool = True,
        progress: Progress = False,
    ) -> None:
        self.model = _check_model(model)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        torch = require_torch(_FEATURE)
        self.device = resolve_device(device)
        self.batch_size = batch_size
        self.progress = progress
        if weights is None:
            seed = _torch_seed(random_state)
            # Only the CPU generator draws the initial weights; forking it leaves the
            # caller's global state untouched.
            with torch.random.fork_rng(devices=[]):
                torch.default_generator.manual_seed(seed)
                network = build_cnn(model)
        else:
            network = build_cnn(model, weights)
        self.n_features = replace_classifier(network, model, None)
        network.eval().requires_grad_(False)
        self.network = network.to(self.device, memory_format=torch.channels_last)
        self.amp_dtype: Any = None
        if amp and self.device.type == "cuda":
            bf16 = torch.cuda.is_bf16_supported()
            self.amp_dtype = torch.bfloat16 if bf16 else torch.float16
        self.seconds: float | None = None
        self.images_per_second: float | None = None

    def transform(self, images: Any) -> np.ndarray:
        """Features of ``images``.

        Parameters
        ----------
        images : array-like
            uint8 pixels (0..255) or floats in [0, 1], shaped (n, H, W, C), (n, C, H, W)
            (read as channels-last when the last axis has 1 or 3 entries) or (n, H, W)
            for grayscale; C is 1 (repeated to RGB) or 3 (RGB). Any H and W.

        Returns
        -------
        ndarray of float32, shape (n, n_features)
        """
        torch = require_torch(_FEATURE)
        array = _as_nhwc(images)
        n = array.shape[0]
        out = np.empty((n, self.n_features), dtype=np.float32)
        mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)
        tick, close = progress_bar(
            self.progress, math.ceil(n / self.batch_size), desc=f"{self.model}", unit="batch"
        )
        start = time.perf_counter()
        try:
            with torch.inference_mode():
                for first in range(0, n, self.batch_size):
                    batch = array[first : first + self.batch_size]
                    x = self._network_input(batch, mean, std)
                    with self._autocast():
                        features = self.network(x)
                    out[first : first + len(batch)] = features.float().cpu().numpy()
                    tick(f"{first + len(batch)}/{n}")
        finally:
            close()
        self.seconds = time.perf_counter() - start
        self.images_per_second = n / self.seconds if self.seconds > 0 else float("inf")
        if not np.isfinite(out).all():
            raise ValueError(
                f"{self.model} produced non-finite features on {self.device}"
                + (" under mixed precision; retry with amp=False" if self.amp_dtype else "")
            )
        return out

    def _network_input(self, batch: np.ndarray, mean: Any, std: Any) -> Any:
        """One batch as the network's input: float, RGB, 224 x 224, normalised."""
        torch = require_torch(_FEATURE)
        # A contiguous, writable copy only when needed (torch refuses read-only memory).
        contiguous = np.require(batch, requirements=["C", "W"])
        x = torch.from_numpy(contiguous).to(self.device, non_blocking=True)
        x = x.permute(0, 3, 1, 2)
        if batch.dtype == np.uint8:
            x = x.float() / 255.0
        else:
            x = x.float()
            if not bool(torch.isfinite(x).all()) or x.min() < 0 or x.max() > 1:
                raise ValueError(
                    "float images must be finite and in [0, 1]; pass uint8 pixels (0..255) "
                    "as they are"
                )
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        # Normalising commutes with the resize (each output pixel is a weighted mean of
        # input pixels), and costs less before it on images smaller than 224 x 224.
        x = resize_images((x - mean) / std)
        return x.contiguous(memory_format=torch.channels_last)

    def _autocast(self) -> Any:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        torch = require_torch(_FEATURE)
        return torch.autocast(device_type="cuda", dtype=self.amp_dtype)


def extract_features(
    images: Any,
    model: str = "resnet18",
    *,
    weights: str | os.PathLike[str] | None = None,
    random_state: int | np.random.Generator | None = 0,
    device: Any = "auto",
    batch_size: int = 64,
    amp: bool = True,
    progress: Progress = False,
) -> np.ndarray:
    """Penultimate-layer features of ``images`` (see :class:`CNNFeatureExtractor`).

    Parameters
    ----------
    images : array-like
        uint8 or [0, 1] float images, (n, H, W, C), (n, C, H, W) or (n, H, W).
    model, weights, random_state, device, batch_size, amp, progress
        As for :class:`CNNFeatureExtractor`.

    Returns
    -------
    ndarray of float32, shape (n, FEATURE_DIMS[model])

    Examples
    --------
    >>> import numpy as np
    >>> images = np.zeros((2, 32, 32, 3), np.uint8)
    >>> extract_features(images, "resnet18", device="cpu").shape  # doctest: +SKIP
    (2, 512)
    """
    extractor = CNNFeatureExtractor(
        model,
        weights=weights,
        random_state=random_state,
        device=device,
        batch_size=batch_size,
        amp=amp,
        progress=progress,
    )
    return extractor.transform(images)

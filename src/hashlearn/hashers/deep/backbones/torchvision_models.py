"""torchvision's AlexNet, VGG-16 and ResNet-18/50 as hashing backbones.

The network is torchvision's, built by :func:`hashlearn.features.cnn.build_cnn` (random
weights, or a local weights file checked against the architecture), with its 1,000-class
layer replaced by the hash layer ``nn.Linear(penultimate, n_bits)``. In front of it the
inputs, float in ``[0, 1]`` of shape ``(n, C, H, W)``, are normalised, repeated to three
channels when grayscale, and resized to 224 x 224 inside the module (on the training
device, batch by batch), as :mod:`hashlearn.features.cnn` does for features.
"""

from __future__ import annotations

from typing import Any

from hashlearn.features.cnn import (
    CNN_MODELS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    INPUT_SIZE,
    build_cnn,
    replace_classifier,
    resize_images,
)
from hashlearn.hashers.deep._torch import require_torch
from hashlearn.hashers.deep.backbones.small import Normalize

torch = require_torch()
nn = torch.nn
# Typed Any: torch is imported at run time (never by ``import hashlearn``), so mypy cannot
# see nn.Module as a class to derive from.
_Module: Any = nn.Module

__all__ = ["RepeatToRGB", "Resize", "build_torchvision"]


class RepeatToRGB(_Module):
    """Grayscale batches ``(n, 1, H, W)`` repeated to three channels; RGB ones unchanged."""

    def forward(self, x: Any) -> Any:
        return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


class Resize(_Module):
    """Batches resized to ``size`` x ``size`` (:func:`hashlearn.features.cnn.resize_images`)."""

    def __init__(self, size: int = INPUT_SIZE) -> None:
        super().__init__()
        self.size = size

    def forward(self, x: Any) -> Any:
        return resize_images(x, self.size)


def build_torchvision(
    name: str,
    n_bits: int,
    *,
    input_shape: tuple[int, ...],
    mean: Any,
    std: Any,
    weights: str | None = None,
) -> Any:
    """torchvision's ``name`` network ending in an ``n_bits`` hash layer.

    Parameters
    ----------
    name : {"alexnet", "vgg16", "resnet18", "resnet50"}
    n_bits : int
        Outputs of the hash layer.
    input_shape : tuple of int
        ``(channels, height, width)`` of the input images; 1 (grayscale) or 3 channels,
        any size (images are resized to 224 x 224 inside the network).
    mean, std : array-like
        Per-channel statistics of the training images (``channels`` values each),
        used when ``weights`` is None. With ``weights`` the network sees what its weights
        were trained on: RGB normalised by ImageNet's statistics.
    weights : str, optional
        A local weights file (:func:`hashlearn.features.cnn.load_weights_file`); None:
        random weights.

    Returns
    -------
    torch.nn.Sequential
        Normalisation, RGB repetition (first, with ``weights``), resizing, then the
        network with the hash layer last. Parameters are drawn from torch's default
        generator (the trainer seeds it).
    """
    if name not in CNN_MODELS:
        raise ValueError(f"name must be one of {', '.join(CNN_MODELS)}, got {name!r}")
    if len(input_shape) != 3 or input_shape[0] not in (1, 3):
        raise ValueError(
            f"the {name} backbone takes images of 1 or 3 channels (channels, height, width), "
            f"got input shape {input_shape}; use backbone='mlp' for feature vectors"
        )
    network = build_cnn(name, weights)
    replace_classifier(network, name, n_bits)
    # Normalised before resizing: the same result (each resized pixel is a weighted mean
    # of input pixels) on 49 times fewer pixels for CIFAR-10's 32 x 32 images.
    if weights is None:
        # The statistics are per input channel, so they apply before the RGB repetition.
        return nn.Sequential(Normalize(mean, std, image=True), RepeatToRGB(), Resize(), network)
    imagenet = Normalize(IMAGENET_MEAN, IMAGENET_STD, image=True)
    return nn.Sequential(RepeatToRGB(), imagenet, Resize(), network)

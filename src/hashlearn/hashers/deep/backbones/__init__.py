"""Backbones: networks from an input (image or feature vector) to ``n_bits`` real outputs.

Every backbone is built by :func:`build_backbone` and ends in a linear layer with
``n_bits`` outputs (the hash layer); the sign of each output is a bit. The first layer
normalises the input with statistics stored in the network (so they are saved with its
weights): per-channel mean and standard deviation of the training images, per-feature
ones for vectors, or ImageNet's for pretrained torchvision weights.

========================  ==========  ========================================================
name                      input       network
========================  ==========  ========================================================
``dsh-cnn``               images      the DSH paper's network (Liu et al., CVPR 2016): three
                                      5x5 convolutions (32, 32, 64 channels) with pooling,
                                      a 500-unit layer, the hash layer; ``width`` scales the
                                      channels (1 = the paper's)
``fast-cnn``              images      a fast modern small CNN for 32x32 images (conv-BN-GELU
                                      blocks with max pooling in the style of the airbench
                                      CIFAR-10 speed-run networks), ``width`` base channels
``mlp``                   vectors     two hidden layers of ``width`` units (default 1024),
                                      ReLU, batch norm and dropout
``alexnet``, ``vgg16``,   images      torchvision's networks with their classifier's last
``resnet18``, ``resnet50``            layer replaced by the hash layer, inputs resized to
                                      224x224; ``weights`` a local file of pretrained weights
========================  ==========  ========================================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["BACKBONES", "IMAGE_BACKBONES", "build_backbone"]

#: Backbones over images (the others take feature vectors).
IMAGE_BACKBONES = ("dsh-cnn", "fast-cnn", "alexnet", "vgg16", "resnet18", "resnet50")
#: Every backbone name.
BACKBONES = (*IMAGE_BACKBONES, "mlp")
_TORCHVISION = ("alexnet", "vgg16", "resnet18", "resnet50")


def build_backbone(
    name: str,
    n_bits: int,
    *,
    input_shape: tuple[int, ...],
    mean: Any,
    std: Any,
    width: int | None = None,
    weights: str | None = None,
) -> Any:
    """A :class:`torch.nn.Module` from inputs of ``input_shape`` to ``n_bits`` outputs.

    Parameters
    ----------
    name : str
        One of :data:`BACKBONES`.
    n_bits : int
        Outputs of the hash layer.
    input_shape : tuple of int
        ``(channels, height, width)`` for images, ``(n_features,)`` for vectors.
    mean, std : array-like
        Input normalisation, per channel (images) or per feature (vectors); ignored by
        torchvision backbones loaded with ``weights`` (they use ImageNet's).
    width : int, optional
        Channels or units (see the table above); None: the backbone's default.
    weights : str, optional
        A local file of pretrained weights (torchvision backbones only).

    Parameter initialisation draws from torch's default generator: call this under a
    seeded :func:`torch.random.fork_rng` (the trainer does) for reproducible weights.
    """
    if name not in BACKBONES:
        raise ValueError(f"backbone must be one of {', '.join(BACKBONES)}, got {name!r}")
    if weights is not None and name not in _TORCHVISION:
        raise ValueError(
            f"weights= loads pretrained torchvision weights ({', '.join(_TORCHVISION)}); "
            f"the {name!r} backbone is trained from scratch"
        )
    builder: Callable[..., Any]
    if name in _TORCHVISION:
        from hashlearn.hashers.deep.backbones.torchvision_models import build_torchvision

        return build_torchvision(
            name, n_bits, input_shape=input_shape, mean=mean, std=std, weights=weights
        )
    from hashlearn.hashers.deep.backbones import small

    builder = {"dsh-cnn": small.dsh_cnn, "fast-cnn": small.fast_cnn, "mlp": small.mlp}[name]
    return builder(n_bits, input_shape=input_shape, mean=mean, std=std, width=width)

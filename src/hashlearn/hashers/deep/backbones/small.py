"""Backbones trained from scratch: the DSH paper's CNN, a fast modern small CNN, an MLP."""

from __future__ import annotations

from typing import Any

import numpy as np

from hashlearn.hashers.deep._torch import require_torch

require_torch()  # a clear ImportError naming the extra when torch is missing
import torch  # noqa: E402
from torch import nn  # noqa: E402

__all__ = ["Normalize", "dsh_cnn", "fast_cnn", "mlp"]


class Normalize(nn.Module):
    """``(x - mean) / std`` with the statistics as buffers (saved with the weights).

    Images arrive as float in ``[0, 1]``, ``(n, C, H, W)``; statistics are per channel.
    Vectors arrive as float ``(n, d)``; statistics are per feature.
    """

    def __init__(self, mean: Any, std: Any, image: bool) -> None:
        super().__init__()
        mean_t = torch.as_tensor(np.asarray(mean, dtype=np.float32))
        std_t = torch.as_tensor(np.asarray(std, dtype=np.float32))
        if image:
            mean_t, std_t = mean_t.view(1, -1, 1, 1), std_t.view(1, -1, 1, 1)
        self.register_buffer("mean", mean_t)
        self.register_buffer("std", std_t)

    def forward(self, x: Any) -> Any:
        return (x - self.mean) / self.std


def _flat_size(features: Any, input_shape: tuple[int, ...]) -> int:
    with torch.no_grad():
        return int(features(torch.zeros(1, *input_shape)).flatten(1).shape[1])


def _check_image_shape(input_shape: tuple[int, ...], name: str) -> None:
    if len(input_shape) != 3:
        raise ValueError(
            f"the {name} backbone takes images (channels, height, width), got input shape "
            f"{input_shape}; use backbone='mlp' for feature vectors"
        )


def dsh_cnn(
    n_bits: int, *, input_shape: tuple[int, ...], mean: Any, std: Any, width: int | None = None
) -> Any:
    """The DSH paper's network (Liu et al., CVPR 2016, Fig. 2; Caffe's CIFAR-10 "quick").

    conv 5x5 (32) -> max pool 3/2 -> ReLU -> conv 5x5 (32) -> ReLU -> avg pool 3/2 ->
    conv 5x5 (64) -> ReLU -> avg pool 3/2 -> fully connected 500 -> ReLU -> ``n_bits``.
    Pooling rounds up as Caffe's does (32x32 inputs end at 4x4). ``width`` multiplies the
    channel counts (default 1, the paper's).
    """
    _check_image_shape(input_shape, "dsh-cnn")
    scale = 1 if width is None else width
    c1, c2, c3 = 32 * scale, 32 * scale, 64 * scale
    features = nn.Sequential(
        nn.Conv2d(input_shape[0], c1, 5, padding=2),
        nn.MaxPool2d(3, 2, ceil_mode=True),
        nn.ReLU(),
        nn.Conv2d(c1, c2, 5, padding=2),
        nn.ReLU(),
        nn.AvgPool2d(3, 2, ceil_mode=True),
        nn.Conv2d(c2, c3, 5, padding=2),
        nn.ReLU(),
        nn.AvgPool2d(3, 2, ceil_mode=True),
    )
    flat = _flat_size(features, input_shape)
    return nn.Sequential(
        Normalize(mean, std, image=True),
        features,
        nn.Flatten(),
        nn.Linear(flat, 500),
        nn.ReLU(),
        nn.Linear(500, n_bits),
    )


def _conv_bn(c_in: int, c_out: int) -> list[Any]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.GELU()]


def fast_cnn(
    n_bits: int, *, input_shape: tuple[int, ...], mean: Any, std: Any, width: int | None = None
) -> Any:
    """A fast small CNN for 32x32 images, after the airbench CIFAR-10 speed-run networks.

    A 3x3 stem of ``width`` channels (default 64), then three blocks of two 3x3 conv-BN-GELU
    layers with a 2x2 max pool after the first (``2 * width``, ``4 * width`` and
    ``4 * width`` channels), global max pooling and the hash layer. About 2 million
    parameters at ``width=64``; batch norm and no dropout, as in those networks.
    """
    _check_image_shape(input_shape, "fast-cnn")
    base = 64 if width is None else width
    widths = (2 * base, 4 * base, 4 * base)
    layers: list[Any] = [Normalize(mean, std, image=True), *_conv_bn(input_shape[0], base)]
    c_in = base
    for c_out in widths:
        layers += [
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
            nn.MaxPool2d(2),
            nn.BatchNorm2d(c_out),
            nn.GELU(),
            *_conv_bn(c_out, c_out),
        ]
        c_in = c_out
    layers += [nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(c_in, n_bits)]
    return nn.Sequential(*layers)


def mlp(
    n_bits: int, *, input_shape: tuple[int, ...], mean: Any, std: Any, width: int | None = None
) -> Any:
    """Two hidden layers of ``width`` units (default 1024): Linear-BN-ReLU-Dropout(0.2)."""
    if len(input_shape) != 1:
        raise ValueError(
            f"the mlp backbone takes feature vectors, got input shape {input_shape}; use "
            "backbone='dsh-cnn' or 'fast-cnn' for images"
        )
    units = 1024 if width is None else width
    layers: list[Any] = [Normalize(mean, std, image=False)]
    c_in = input_shape[0]
    for _ in range(2):
        layers += [nn.Linear(c_in, units), nn.BatchNorm1d(units), nn.ReLU(), nn.Dropout(0.2)]
        c_in = units
    layers.append(nn.Linear(c_in, n_bits))
    return nn.Sequential(*layers)

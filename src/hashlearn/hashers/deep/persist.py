"""Saving and loading deep hashers: weights as arrays in the hashlearn file format.

The file holds the constructor parameters, the fitted attributes (input shape, backbone,
classes, the training curve), the list of the network's ``state_dict`` keys and one array
per key (``network.0``, ``network.1``, ...). Loading rebuilds the network from the
parameters and the input shape, then accepts the arrays only when their keys, shapes and
dtypes are exactly the rebuilt network's: a file cannot add, drop or reshape a weight.
Nothing is unpickled, and a ``weights=`` file named by the parameters is not read again
(its values are in the saved arrays).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["network_state", "restore_network"]

_PLAIN = (str, bool, int, float, type(None))


def network_state(hasher: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, np.ndarray]]:
    """``(params, attributes, arrays)`` of a fitted deep hasher (see the module docstring)."""
    state = hasher.network_.state_dict()
    keys = list(state)
    classes = hasher.classes_
    attributes = {
        "n_features_in_": int(hasher.n_features_in_),
        "input_shape_": list(hasher.input_shape_),
        "backbone_": hasher.backbone_,
        "classes_": None if classes is None else [_plain_class(c) for c in classes],
        "training_curve_": hasher.training_curve_.to_dict(),
        "state_keys_": keys,
    }
    arrays = {f"network.{i}": state[key].detach().cpu().numpy() for i, key in enumerate(keys)}
    return hasher._saved_params(), attributes, arrays


def _plain_class(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, str | int | float | bool):
        raise TypeError(f"cannot save a class label of type {type(value).__name__}")
    return value


def _check_attributes(attributes: dict[str, Any]) -> None:
    shape = attributes.get("input_shape_")
    if (
        not isinstance(shape, list)
        or len(shape) not in (1, 3)
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in shape)
    ):
        raise ValueError(f"input_shape_ must be a list of 1 or 3 positive ints, got {shape!r}")
    n_features = attributes.get("n_features_in_")
    if not isinstance(n_features, int) or n_features != int(np.prod(shape)):
        raise ValueError(f"n_features_in_={n_features!r} does not match input_shape_={shape}")
    if not isinstance(attributes.get("backbone_"), str):
        raise ValueError("backbone_ must be a string")
    keys = attributes.get("state_keys_")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ValueError("state_keys_ must be a list of strings")
    classes = attributes.get("classes_")
    if classes is not None and (
        not isinstance(classes, list) or not all(isinstance(c, _PLAIN) for c in classes)
    ):
        raise ValueError("classes_ must be null or a list of plain values")
    if not isinstance(attributes.get("training_curve_"), dict):
        raise ValueError("training_curve_ must be an object")
    unknown = set(attributes) - {
        "n_features_in_",
        "input_shape_",
        "backbone_",
        "classes_",
        "training_curve_",
        "state_keys_",
    }
    if unknown:
        raise ValueError(f"unknown attributes {sorted(unknown)}")


def _state_dict(network: Any, keys: list[str], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    import torch

    expected = network.state_dict()
    if keys != list(expected):
        raise ValueError(
            f"the saved weights name {len(keys)} tensors that differ from the "
            f"{len(expected)} of the rebuilt network"
        )
    if set(arrays) != {f"network.{i}" for i in range(len(keys))}:
        raise ValueError("the weight arrays do not match the list of weights")
    state = {}
    for i, key in enumerate(keys):
        array = arrays[f"network.{i}"]
        want = expected[key]
        if tuple(array.shape) != tuple(want.shape) or array.dtype != want.cpu().numpy().dtype:
            raise ValueError(
                f"weight {key} has shape {array.shape} and dtype {array.dtype}; the network "
                f"expects {tuple(want.shape)} and {want.cpu().numpy().dtype}"
            )
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise ValueError(f"weight {key} holds NaN or infinity")
        state[key] = torch.from_numpy(np.array(array))
    return state


def restore_network(
    cls: type, params: dict[str, Any], attributes: dict[str, Any], arrays: dict[str, np.ndarray]
) -> Any:
    """The fitted hasher a file describes (see the module docstring)."""
    from hashlearn.hashers.deep._torch import require_torch
    from hashlearn.hashers.deep.backbones import BACKBONES, build_backbone
    from hashlearn.hashers.deep.curve import TrainingCurve

    torch = require_torch(cls.__name__)
    try:
        if isinstance(params.get("image_shape"), list):
            params = {**params, "image_shape": tuple(params["image_shape"])}
        hasher = cls(**params)
        hasher._check_params()
        _check_attributes(attributes)
        backbone = attributes["backbone_"]
        if backbone not in BACKBONES:
            raise ValueError(f"backbone_ {backbone!r} is not a known backbone")
        shape = tuple(attributes["input_shape_"])
        channels = shape[0]  # the normalisation's size: channels of images, features of vectors
        with torch.random.fork_rng(devices=[]):
            network = build_backbone(
                backbone,
                hasher.n_bits,
                input_shape=shape,
                mean=np.zeros(channels, np.float32),
                std=np.ones(channels, np.float32),
                width=hasher.width,
                weights=None,
            )
        network.load_state_dict(_state_dict(network, attributes["state_keys_"], arrays))
        hasher.network_ = network.eval()
        hasher.n_features_in_ = attributes["n_features_in_"]
        hasher.input_shape_ = shape
        hasher.backbone_ = backbone
        classes = attributes["classes_"]
        hasher.classes_ = None if classes is None else tuple(classes)
        hasher.training_curve_ = TrainingCurve.from_dict(attributes["training_curve_"])
    except (TypeError, ValueError, KeyError, RuntimeError) as exc:
        raise ValueError(
            f"corrupt or incompatible {cls.__name__} file: {exc}; save the model again"
        ) from exc
    return hasher

"""torchvision backbones of the deep hashers: the hash layer, inputs, local weights."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from hashlearn.features.cnn import IMAGENET_MEAN, IMAGENET_STD, build_cnn  # noqa: E402
from hashlearn.hashers.deep.backbones import build_backbone  # noqa: E402


def _build(name, n_bits, shape, seed=0, **kwargs):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        channels = shape[0]
        return build_backbone(
            name, n_bits, input_shape=shape, mean=[0.5] * channels, std=[0.25] * channels, **kwargs
        ).eval()


@pytest.mark.parametrize(
    ("name", "shape"),
    [("resnet18", (3, 32, 32)), ("alexnet", (1, 28, 28)), ("resnet50", (3, 20, 24))],
)
def test_the_hash_layer_replaces_the_classifier(name, shape):
    network = _build(name, 12, shape)
    with torch.no_grad():
        out = network(torch.rand(2, *shape))
    assert out.shape == (2, 12) and torch.isfinite(out).all()
    linears = [m for m in network.modules() if isinstance(m, torch.nn.Linear)]
    assert linears[-1].out_features == 12
    assert not any(m.out_features == 1000 for m in linears)


def test_vgg16_builds_with_its_hash_layer():
    network = _build("vgg16", 7, (3, 32, 32))
    assert network[-1].classifier[-1].out_features == 7
    assert network[-1].classifier[-1].in_features == 4096


def test_grayscale_inputs_are_repeated_to_rgb_after_their_own_normalisation():
    """Random weights: the statistics given are per input channel, applied before RGB."""
    network = _build("resnet18", 8, (1, 16, 16))
    x = torch.rand(2, 1, 16, 16)
    normalised = (x - 0.5) / 0.25
    with torch.no_grad():
        expected = network[-1](
            torch.nn.functional.interpolate(
                normalised.expand(-1, 3, -1, -1),
                size=(224, 224),
                mode="bilinear",
                align_corners=False,
                antialias=True,
            )
        )
        np.testing.assert_allclose(network(x).numpy(), expected.numpy(), rtol=1e-4, atol=1e-5)


def test_a_weights_file_is_loaded_and_imagenet_statistics_used(tmp_path):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        source = build_cnn("resnet18")
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)
    network = _build("resnet18", 16, (3, 32, 32), weights=str(path))
    body = network[-1]
    for key, value in source.state_dict().items():
        if not key.startswith("fc."):
            assert torch.equal(body.state_dict()[key], value), key
    normalise = next(m for m in network if hasattr(m, "mean"))
    np.testing.assert_allclose(normalise.mean.flatten().numpy(), IMAGENET_MEAN, rtol=1e-6)
    np.testing.assert_allclose(normalise.std.flatten().numpy(), IMAGENET_STD, rtol=1e-6)


def test_the_same_seed_gives_the_same_network():
    a = _build("resnet18", 8, (3, 32, 32), seed=5)
    b = _build("resnet18", 8, (3, 32, 32), seed=5)
    c = _build("resnet18", 8, (3, 32, 32), seed=6)
    for (key, value), other in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(value, other), key
    assert not torch.equal(a[-1].fc.weight, c[-1].fc.weight)


@pytest.mark.parametrize("shape", [(64,), (2, 32, 32), (3, 32)])
def test_inputs_that_are_not_rgb_or_grayscale_images_are_refused(shape):
    with pytest.raises(ValueError, match="takes images of 1 or 3 channels"):
        build_backbone("resnet18", 8, input_shape=shape, mean=[0.0], std=[1.0])

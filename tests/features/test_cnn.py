"""CNN features: every torchvision network, the image layouts, local weights files.

No pretrained weights can be downloaded here, so the weights path is tested with random
weights saved to a file: loaded back through ``weights=``, they must give exactly the
features of the network that saved them. Hostile weights files (pickle payloads, junk)
are in tests/hostile/test_files.py.
"""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from hashlearn.features import cnn  # noqa: E402
from hashlearn.features.cnn import (  # noqa: E402
    CNNFeatureExtractor,
    build_cnn,
    extract_features,
    load_weights_file,
)
from hashlearn.persistence import FileFormatError  # noqa: E402


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, size=(2, 32, 32, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory):
    """A resnet18 state_dict saved with torch.save, and the seed that drew its weights."""
    path = tmp_path_factory.mktemp("weights") / "resnet18.pth"
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(7)
        torch.save(build_cnn("resnet18").state_dict(), path)
    return path, 7


@pytest.fixture(scope="module")
def resnet18():
    """ResNet-18 with random weights of seed 0, on the CPU."""
    return CNNFeatureExtractor("resnet18", device="cpu")


@pytest.fixture(scope="module")
def resnet18_features(resnet18, images):
    return resnet18.transform(images)


@pytest.mark.parametrize("model", cnn.CNN_MODELS)
def test_every_model_extracts_its_penultimate_layer(model, images):
    extractor = CNNFeatureExtractor(model, device="cpu", batch_size=2)
    features = extractor.transform(images)
    assert features.dtype == np.float32
    assert features.shape == (2, cnn.FEATURE_DIMS[model]) == (2, extractor.n_features)
    assert np.isfinite(features).all() and features.std() > 0
    assert not np.array_equal(features[0], features[1])
    assert extractor.images_per_second > 0 and extractor.seconds > 0
    if model in ("alexnet", "vgg16"):  # fc7 after its ReLU
        assert (features >= 0).all()


def test_layouts_and_value_ranges_give_the_same_features(resnet18, images, resnet18_features):
    first = resnet18_features[:1]
    np.testing.assert_array_equal(resnet18.transform(images[:1].transpose(0, 3, 1, 2)), first)
    np.testing.assert_allclose(
        resnet18.transform(images[:1].astype(np.float32) / 255), first, rtol=1e-4, atol=1e-5
    )
    gray = images[:1, :, :, 0]
    np.testing.assert_array_equal(
        resnet18.transform(gray), resnet18.transform(np.repeat(gray[..., None], 3, axis=-1))
    )


def test_batches_do_not_change_the_features(images, resnet18_features):
    one_by_one = CNNFeatureExtractor("resnet18", device="cpu", batch_size=1).transform(images)
    np.testing.assert_allclose(one_by_one, resnet18_features, rtol=1e-4, atol=1e-5)


def test_any_image_size_is_resized_to_224(images):
    resized = []

    def record(x, size=cnn.INPUT_SIZE):
        out = original(x, size)
        resized.append((tuple(x.shape), tuple(out.shape)))
        return out

    original = cnn.resize_images
    large = np.random.default_rng(1).integers(0, 256, size=(1, 300, 250, 3), dtype=np.uint8)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cnn, "resize_images", record)
        assert extract_features(large, "resnet18", device="cpu").shape == (1, 512)
    assert resized == [((1, 3, 300, 250), (1, 3, 224, 224))]


def test_random_weights_follow_the_seed_and_leave_the_global_generator_alone(
    images, resnet18_features
):
    state = torch.get_rng_state()
    again = extract_features(images[:1], "resnet18", device="cpu", random_state=0)
    other = extract_features(images[:1], "resnet18", device="cpu", random_state=1)
    assert torch.equal(torch.get_rng_state(), state)
    np.testing.assert_array_equal(again, resnet18_features[:1])
    assert not np.allclose(other, resnet18_features[:1])


def test_a_saved_state_dict_gives_the_features_of_the_network_that_saved_it(
    images, resnet18_file, resnet18_features
):
    path, seed = resnet18_file
    loaded = extract_features(images[:1], "resnet18", weights=path, device="cpu")
    saved = extract_features(images[:1], "resnet18", device="cpu", random_state=seed)
    np.testing.assert_array_equal(loaded, saved)
    assert not np.allclose(loaded, resnet18_features[:1])  # seed 0's weights, not seed 7's


def test_npz_and_checkpoint_dicts_are_read_too(images, resnet18_file, tmp_path):
    path, _ = resnet18_file
    state = torch.load(path, weights_only=True)
    expected = extract_features(images[:1], "resnet18", weights=path, device="cpu")
    npz = tmp_path / "resnet18.npz"
    np.savez(npz, **{key: value.numpy() for key, value in state.items()})
    checkpoint = tmp_path / "checkpoint.pt"
    torch.save({"epoch": 3, "state_dict": state}, checkpoint)
    for source in (npz, checkpoint):
        np.testing.assert_array_equal(
            extract_features(images[:1], "resnet18", weights=source, device="cpu"), expected
        )


def _edited(resnet18_file, tmp_path, edit):
    state = dict(torch.load(resnet18_file[0], weights_only=True))
    edit(state)
    path = tmp_path / "edited.pth"
    torch.save(state, path)
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.pop("layer1.0.conv1.weight"), "1 missing key(s): layer1.0.conv1.weight"),
        (lambda s: s.update(extra=torch.zeros(1)), "1 unexpected key(s): extra"),
        (
            lambda s: s.update({"fc.weight": torch.zeros(10, 512)}),
            "fc.weight is (10, 512) in the file, (1000, 512) in resnet18",
        ),
        (
            lambda s: s.update({"conv1.weight": s["conv1.weight"].to(torch.int32)}),
            "non-float tensor(s) for float parameters: conv1.weight",
        ),
    ],
)
def test_weights_for_another_architecture_are_refused(resnet18_file, tmp_path, edit, message):
    path = _edited(resnet18_file, tmp_path, edit)
    with pytest.raises(ValueError, match="does not hold torchvision resnet18 weights") as info:
        build_cnn("resnet18", path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_another_networks_weights_are_refused_before_allocating_it(resnet18_file):
    with pytest.raises(ValueError, match="resnet50 weights") as info:
        build_cnn("resnet50", resnet18_file[0])
    assert "missing key(s)" in str(info.value) and "shape mismatch(es)" in str(info.value)


def test_a_data_parallel_prefix_is_explained(resnet18_file, tmp_path):
    def prefix(state):
        for key in list(state):
            state[f"module.{key}"] = state.pop(key)

    with pytest.raises(ValueError, match=r"model\.module\.state_dict\(\)"):
        build_cnn("resnet18", _edited(resnet18_file, tmp_path, prefix))


def test_weights_are_a_mapping_of_names_to_tensors(tmp_path):
    cases = {"list.pt": [torch.zeros(1)], "mixed.pt": {"a": torch.zeros(1), "b": 3}, "empty.pt": {}}
    for name, payload in cases.items():
        torch.save(payload, tmp_path / name)
        with pytest.raises(FileFormatError, match=re.escape(str(tmp_path / name))):
            load_weights_file(tmp_path / name)
    with pytest.raises(FileNotFoundError, match="weights file not found"):
        load_weights_file(tmp_path / "absent.pth")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"model": "resnet101"}, ValueError, "model must be one of alexnet, vgg16"),
        ({"batch_size": 0}, ValueError, "batch_size must be an int >= 1, got 0"),
        ({"device": "tpu"}, ValueError, "device must be one of"),
        ({"random_state": -1}, ValueError, "random_state must be >= 0"),
        ({"random_state": 1.5}, TypeError, "random_state must be an int"),
    ],
)
def test_bad_settings_are_refused_with_their_name(kwargs, error, message):
    with pytest.raises(error, match=message):
        CNNFeatureExtractor(**{"device": "cpu", **kwargs})


@pytest.mark.parametrize(
    ("images", "error", "message"),
    [
        (np.zeros((2, 8, 8, 3), np.int32), TypeError, "uint8 .* or float .*, got dtype int32"),
        (np.zeros((2, 8, 8, 5), np.uint8), ValueError, "1 or 3 channels"),
        (np.zeros((8, 8), np.uint8), ValueError, r"\(n, H, W, C\)"),
        (np.zeros((0, 8, 8, 3), np.uint8), ValueError, "at least one"),
        (np.full((1, 8, 8, 3), 255.0), ValueError, r"float images must be finite and in \[0, 1\]"),
        (np.full((1, 8, 8, 3), np.nan), ValueError, "finite"),
    ],
)
def test_bad_images_are_refused(resnet18, images, error, message):
    with pytest.raises(error, match=message):
        resnet18.transform(images)


@pytest.mark.parametrize("missing", ["torch", "torchvision"])
def test_a_missing_deep_extra_names_the_install(monkeypatch, images, missing):
    monkeypatch.setitem(sys.modules, missing, None)
    with pytest.raises(ImportError, match=r"pip install 'hashlearn\[deep\]'") as info:
        extract_features(images, device="cpu")
    assert ("PyTorch" if missing == "torch" else "torchvision") in str(info.value)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize(("amp", "min_cosine"), [(False, 0.999), (True, 0.98)])
def test_cuda_features_agree_with_the_cpu(images, resnet18_features, amp, min_cosine):
    """On CUDA (TF32 convolutions, and bfloat16 or float16 under AMP) the features are the
    CPU's up to rounding."""
    extractor = CNNFeatureExtractor("resnet18", device="cuda", amp=amp)
    assert (extractor.amp_dtype is not None) == amp
    features = extractor.transform(images)
    cosine = (features * resnet18_features).sum(1) / (
        np.linalg.norm(features, axis=1) * np.linalg.norm(resnet18_features, axis=1)
    )
    assert cosine.min() > min_cosine

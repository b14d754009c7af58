"""Tests of the GIST descriptor: the fast path against the float64 reference, and its properties."""

from __future__ import annotations

import io
import tarfile
from typing import Any

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer

from hashlearn.features.gist import (
    GIST,
    gabor_filters,
    gist_features,
)
from hashlearn.testing import gist_features_reference

SIZE = 32


def _random_rgb(n: int, seed: int = 0, size: int = SIZE) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def _grating(theta: float, frequency: float, size: int = SIZE) -> np.ndarray:
    """``sin(2 pi f (x cos(theta) + y sin(theta)))`` with x the column and y the row index."""
    y, x = np.mgrid[0:size, 0:size]
    return np.sin(2 * np.pi * frequency * (x * np.cos(theta) + y * np.sin(theta)))


def _structured_images(size: int = SIZE) -> np.ndarray:
    """Gray images with edges, smooth ramps, periodic texture and a flat region."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    disk = ((x - size / 2) ** 2 + (y - size / 3) ** 2 < (size / 4) ** 2) * 200.0 + 20.0
    ramp = 3.0 * x + y
    checker = ((x // 4 + y // 4) % 2) * 255.0
    grating = 100 * _grating(0.3, 0.12, size) + 128
    half_flat = np.where(x < size / 2, 50.0, 50.0 + 0.1 * y * x)
    return np.stack([disk, ramp, checker, grating, half_flat])


def _assert_close_to_reference(fast: np.ndarray, images: np.ndarray, **params: Any) -> None:
    reference = np.stack([gist_features_reference(image, **params) for image in images])
    assert fast.dtype == np.float32
    assert fast.shape == reference.shape
    # float32 rounding only: measured below 1e-5 relative on every feature (median 1e-7);
    # the margin leaves room for other BLAS libraries.
    np.testing.assert_allclose(fast, reference, rtol=5e-5, atol=1e-7 * np.abs(reference).max())
    median_rel = np.median(np.abs(fast - reference) / np.abs(reference).clip(1e-12))
    assert median_rel < 1e-5


# --------------------------------------------------------------------------------------
# shape, dtype, determinism, batching
# --------------------------------------------------------------------------------------


def test_shape_and_dtype_gist512() -> None:
    features = gist_features(_random_rgb(3))
    assert features.shape == (3, 512)
    assert features.dtype == np.float32
    assert np.isfinite(features).all()
    assert (features >= 0).all()  # block means of moduli


def test_feature_count_follows_parameters() -> None:
    images = _random_rgb(2, size=24)
    features = gist_features(images, orientations_per_scale=(4, 6), n_blocks=3)
    assert features.shape == (2, 9 * 10)


def test_deterministic() -> None:
    images = _random_rgb(5, seed=1)
    np.testing.assert_array_equal(gist_features(images), gist_features(images))


def test_batch_size_invariance() -> None:
    # Equal up to float32 rounding: BLAS may block products of other shapes differently.
    images = _random_rgb(15, seed=2)
    whole = gist_features(images, batch_size=len(images))
    for batch_size in (1, 7):
        np.testing.assert_allclose(
            gist_features(images, batch_size=batch_size), whole, rtol=2e-5, atol=1e-8
        )


def test_n_jobs_and_progress_do_not_change_the_result(capsys: pytest.CaptureFixture[str]) -> None:
    images = _random_rgb(4, seed=3)
    expected = gist_features(images)
    np.testing.assert_allclose(
        gist_features(images, n_jobs=1, progress=True, batch_size=2), expected, rtol=2e-5
    )
    np.testing.assert_allclose(gist_features(images, n_jobs=-1), expected, rtol=2e-5)
    assert "GIST" in capsys.readouterr().err


# --------------------------------------------------------------------------------------
# agreement with the float64 transcription of LMgist
# --------------------------------------------------------------------------------------


def test_matches_reference_on_random_rgb() -> None:
    images = _random_rgb(4, seed=4)
    _assert_close_to_reference(gist_features(images), images)


def test_matches_reference_on_random_float_gray() -> None:
    images = np.random.default_rng(5).random((3, SIZE, SIZE))
    _assert_close_to_reference(gist_features(images), images)


def test_matches_reference_on_structured_images() -> None:
    images = _structured_images()
    _assert_close_to_reference(gist_features(images), images)


@pytest.mark.parametrize(
    ("size", "params"),
    [
        # unequal blocks (fix(linspace(0, 30, 5)) = 0 7 15 22 30), other orientations
        (30, {"orientations_per_scale": (4, 6, 2), "n_blocks": 4, "boundary_extension": 16}),
        # odd sizes: odd Gabor grid (MATLAB's half-integer frequencies) and 'post' padding
        (27, {"n_blocks": 3, "boundary_extension": 5, "fc_prefilter": 2.5}),
        # no boundary extension at all
        (16, {"orientations_per_scale": (8, 8), "n_blocks": 2, "boundary_extension": 0}),
    ],
)
def test_matches_reference_with_other_parameters(size: int, params: dict) -> None:
    images = np.concatenate(
        [_random_rgb(2, seed=6, size=size).mean(axis=3), _structured_images(size)[:2]]
    )
    _assert_close_to_reference(gist_features(images, **params), images, **params)


def test_reference_steps_by_hand_on_zero_image() -> None:
    # log(0 + 1) = 0 everywhere, so whitening, normalisation and every response are zero.
    assert not gist_features_reference(np.zeros((SIZE, SIZE))).any()


# --------------------------------------------------------------------------------------
# properties derived by hand
# --------------------------------------------------------------------------------------


def test_invariant_to_global_brightness_scaling_and_offset() -> None:
    # Each image is rescaled by its own min and max to [0, 255] before anything else, so
    # a * img + b (a > 0) reaches the prefilter as the very same image.
    images = _random_rgb(3, seed=7).astype(np.float64)
    expected = gist_features(images)
    for transformed in (images * 0.5, images + 40.0, images * 0.01 - 3.0, images / 255.0):
        np.testing.assert_allclose(gist_features(transformed), expected, rtol=1e-5, atol=1e-8)


def test_rgb_is_the_mean_of_the_channels() -> None:
    images = _random_rgb(2, seed=8)
    gray = images.mean(axis=3)
    np.testing.assert_allclose(gist_features(images), gist_features(gray), rtol=1e-6)
    tinted = np.stack([gray, gray, gray], axis=3)
    np.testing.assert_allclose(gist_features(tinted), gist_features(gray), rtol=1e-6)


@pytest.mark.parametrize("step", range(8))
@pytest.mark.parametrize("scale", [0, 1, 2])
def test_grating_excites_the_matching_orientation(step: int, scale: int) -> None:
    # Grating at angle theta = pi * step / 8 (x = column, y = row): its spectrum peaks at
    # +-(fx, fy) = +-f (cos theta, sin theta). createGabor's orientation j (0-based) peaks
    # where angle(fx + 1j * fy) + pi * j / 8 = 0, i.e. at frequency angle -pi * j / 8, and a
    # grating is the same for theta and theta + pi, so the matching j is (-step) mod 8.
    # At the scale's centre frequency 0.3 / 1.85 ** scale cycles per pixel, that scale wins.
    frequency = 0.3 / 1.85**scale
    image = _grating(np.pi * step / 8, frequency)
    energy = gist_features(image[None])[0].reshape(4, 8, 16).sum(axis=2)  # (scale, orientation)
    assert energy[scale].argmax() == (-step) % 8
    assert energy.max(axis=1).argmax() == scale
    best, second = np.sort(energy[scale])[::-1][:2]
    assert best > 1.5 * second


def test_gabor_filter_peaks_where_derived() -> None:
    filters = gabor_filters((8, 8, 8, 8), 96)
    assert filters.shape == (32, 96, 96)
    assert filters.max() <= 1.0 and filters.min() >= 0.0
    centre = round(0.3 * 96)  # scale-1 centre frequency, in cycles per 96 pixels
    # orientation 0 peaks on +fx (row 0 = fy 0, column 29); orientation 4 on -fy.
    assert np.unravel_index(filters[0].argmax(), (96, 96)) == (0, centre)
    assert np.unravel_index(filters[4].argmax(), (96, 96)) == (96 - centre, 0)
    # scale 2, orientation 2 (filter 10): angle -pi/4, radius 0.3 / 1.85 * 96 = 15.6
    row, col = np.unravel_index(filters[10].argmax(), (96, 96))
    assert (row - 96, col) in {(-11, 11), (-11, 12), (-12, 11)}


def test_constant_image_gives_finite_zero_features() -> None:
    images = np.full((2, SIZE, SIZE, 3), 77, dtype=np.uint8)
    features = gist_features(images)
    assert np.isfinite(features).all()
    assert not features.any()  # a constant image is the zero image after rescaling


def test_single_bright_pixel_is_finite() -> None:
    image = np.zeros((1, SIZE, SIZE))
    image[0, 5, 9] = 1.0
    features = gist_features(image)
    assert np.isfinite(features).all() and features.any()
    _assert_close_to_reference(features, image)


# --------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("images", "error", "match"),
    [
        (np.zeros((0, SIZE, SIZE)), ValueError, "at least one image"),
        (np.zeros(SIZE), ValueError, "got 1-D"),
        (np.zeros((SIZE, SIZE)), ValueError, r"images\[None\]"),
        (np.zeros((2, SIZE, SIZE, 3, 1)), ValueError, "got 5-D"),
        (np.zeros((2, SIZE, SIZE, 4)), ValueError, "channels last"),
        (np.zeros((2, 3, SIZE, SIZE)), ValueError, "transpose"),
        (np.zeros((SIZE, SIZE, 3)), ValueError, r"images\[None\]"),
        (np.zeros((2, SIZE, SIZE + 1)), ValueError, "square"),
        (np.zeros((2, 3, 3)), ValueError, "at least n_blocks"),
        (np.zeros((2, SIZE, SIZE), dtype=complex), TypeError, "real-valued"),
        (np.full((2, SIZE, SIZE), "a"), TypeError, "numbers"),
    ],
)
def test_bad_images_raise(images: np.ndarray, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        gist_features(images)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_pixels_raise(bad: float) -> None:
    images = np.zeros((3, SIZE, SIZE, 3), dtype=np.float32)
    images[2, 4, 5, 1] = bad
    with pytest.raises(ValueError, match=r"NaN or infinity \(first in image 2\)"):
        gist_features(images)
    with pytest.raises(ValueError, match="NaN or infinity"):
        gist_features_reference(images[2])


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"orientations_per_scale": ()}, ValueError, "at least one scale"),
        ({"orientations_per_scale": 8}, TypeError, "sequence of positive ints"),
        ({"orientations_per_scale": (8, 0)}, ValueError, "positive ints"),
        ({"orientations_per_scale": (8, 2.5)}, TypeError, "must hold ints"),
        ({"n_blocks": 0}, ValueError, "n_blocks must be an int >= 1, got 0"),
        ({"n_blocks": 2.0}, TypeError, "n_blocks"),
        ({"fc_prefilter": 0}, ValueError, "fc_prefilter"),
        ({"fc_prefilter": float("nan")}, ValueError, "fc_prefilter"),
        ({"boundary_extension": -1}, ValueError, "boundary_extension must be an int >= 0"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"n_jobs": 0}, ValueError, "n_jobs"),
        ({"n_jobs": 1.5}, TypeError, "n_jobs"),
    ],
)
def test_bad_parameters_raise(params: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        gist_features(np.zeros((1, SIZE, SIZE)), **params)


def test_reference_validates_its_image() -> None:
    with pytest.raises(ValueError, match="one image"):
        gist_features_reference(np.zeros((2, SIZE, SIZE, 3)))
    with pytest.raises(ValueError, match="square"):
        gist_features_reference(np.zeros((SIZE, SIZE + 2)))


# --------------------------------------------------------------------------------------
# scikit-learn transformer
# --------------------------------------------------------------------------------------


def test_transformer_matches_function_and_infers_shape() -> None:
    images = _random_rgb(4, seed=9)
    expected = gist_features(images)
    rgb = GIST().fit(images.reshape(4, -1))
    assert rgb.image_shape_ == (SIZE, SIZE, 3)
    assert rgb.n_features_out_ == 512
    np.testing.assert_array_equal(rgb.transform(images.reshape(4, -1)), expected)
    gray = images.mean(axis=3)
    assert GIST().fit(gray.reshape(4, -1)).image_shape_ == (SIZE, SIZE)
    np.testing.assert_allclose(
        GIST().fit_transform(gray.reshape(4, -1)), gist_features(gray), rtol=1e-6
    )


def test_transformer_channel_first_rows() -> None:
    images = _random_rgb(3, seed=10)
    rows = images.transpose(0, 3, 1, 2).reshape(3, -1)  # raw CIFAR-10 batch layout
    features = GIST(image_shape=(3, SIZE, SIZE)).fit_transform(rows)
    np.testing.assert_array_equal(features, gist_features(images))


def test_transformer_in_a_pipeline_and_errors() -> None:
    images = _random_rgb(3, seed=11).reshape(3, -1)
    pipeline = make_pipeline(clone(GIST(n_blocks=2)), Normalizer())
    assert pipeline.fit_transform(images).shape == (3, 4 * 32)
    with pytest.raises(NotFittedError):
        GIST().transform(images)
    with pytest.raises(ValueError, match="cannot infer"):
        GIST().fit(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="image_shape"):
        GIST(image_shape=(SIZE, SIZE)).fit(images)
    fitted = GIST().fit(images)
    with pytest.raises(ValueError, match="features"):
        fitted.transform(images[:, :-3])
    with pytest.raises(ValueError, match="2-D"):
        fitted.transform(images[0])


# --------------------------------------------------------------------------------------
# real CIFAR-10 images
# --------------------------------------------------------------------------------------


@pytest.mark.realdata
def test_real_cifar10_images_match_reference(real_data_dir) -> None:
    from PIL import Image

    archive = real_data_dir / "cifar10" / "cifar10-jpeg.tar.gz"
    if not archive.is_file():
        pytest.skip(f"{archive} not found")
    images = []
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".jpg"):
                handle = tar.extractfile(member)
                assert handle is not None
                with Image.open(io.BytesIO(handle.read())) as image:
                    images.append(np.asarray(image.convert("RGB")))
                if len(images) == 6:
                    break
    stack = np.stack(images)
    assert stack.shape == (6, SIZE, SIZE, 3)
    _assert_close_to_reference(gist_features(stack), stack)

"""The toy 2-D gallery's fitting: points, grid, projections, skipped lengths and methods,
network settings, argument checks."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from sklearn.base import BaseEstimator

from hashlearn.experiments import toy2d
from hashlearn.experiments.methods import METHODS, MethodInfo, build_method
from hashlearn.experiments.toy2d import (
    NETWORK_SETTINGS,
    quadrant_labels,
    run_toy2d,
    toy_bits,
    toy_points,
)

SMALL = {"n_points": 200, "resolution": 40}


def test_points_are_uniform_on_the_rectangle_with_quadrant_labels():
    points, labels = toy_points(2000, seed=3)
    assert points.shape == (2000, 2)
    assert (points >= 0).all() and (points[:, 0] <= 1).all() and (points[:, 1] <= 0.5).all()
    # Uniform: each quadrant of the 2:1 rectangle holds about a quarter of the points.
    assert np.all(np.abs(np.bincount(labels, minlength=4) / 2000 - 0.25) < 0.04)
    expected = 2 * (points[:, 0] >= 0.5) + (points[:, 1] >= 0.25)
    np.testing.assert_array_equal(labels, expected)
    np.testing.assert_array_equal(toy_points(2000, seed=3)[0], points)


def test_quadrant_labels_on_the_corners():
    corners = np.array([[0.0, 0.0], [0.99, 0.0], [0.0, 0.49], [0.99, 0.49], [0.5, 0.25]])
    np.testing.assert_array_equal(quadrant_labels(corners), [0, 2, 1, 3, 3])


def test_linear_hasher_projections_on_the_grid_are_its_hyperplanes():
    gallery = run_toy2d("lsh", bits=3, seed=5, **SMALL)
    assert gallery.x_grid.shape == (40,) and gallery.y_grid.shape == (20,)
    # Pixel centres of the rectangle.
    np.testing.assert_allclose(gallery.x_grid[[0, -1]], [0.0125, 0.9875])
    np.testing.assert_allclose(gallery.y_grid[[0, -1]], [0.0125, 0.4875])
    panel = gallery.methods[0].panels[0]
    hasher = build_method("lsh", 3, 5).fit(gallery.points)
    xx, yy = np.meshgrid(gallery.x_grid, gallery.y_grid)
    expected = (
        hasher.components_[:, 0] * xx[..., None]
        + hasher.components_[:, 1] * yy[..., None]
        + hasher.intercept_
    )
    np.testing.assert_allclose(panel.projections, expected)
    assert panel.fit_seconds is not None and panel.fit_seconds >= 0


def test_same_seed_same_gallery():
    one = run_toy2d("lsh,sh", bits="2,3", seed=1, **SMALL)
    two = run_toy2d("lsh,sh", bits="2,3", seed=1, **SMALL)
    other = run_toy2d("lsh", bits=2, seed=2, **SMALL)
    for a, b in zip(one.methods, two.methods, strict=True):
        for pa, pb in zip(a.panels, b.panels, strict=True):
            np.testing.assert_array_equal(pa.projections, pb.projections)
    assert not np.array_equal(one.points, other.points)


def test_lengths_a_method_cannot_take_keep_the_reason():
    gallery = run_toy2d("pcah,sh", bits="2,4", **SMALL)
    pcah, sh = gallery.methods
    assert [panel.drawn for panel in pcah.panels] == [True, False]
    assert "n_bits <= n_features" in pcah.panels[1].reason
    assert pcah.panels[1].reason.startswith("ValueError: ")
    assert pcah.skipped is None  # drawn at 2 bits
    assert all(panel.drawn for panel in sh.panels)
    only_four = run_toy2d("pcah", bits=4, **SMALL)
    assert "n_bits <= n_features" in only_four.methods[0].skipped


class _Broken(BaseEstimator):
    """A hasher that cannot take 2-D input."""

    def __init__(self, n_bits=2, random_state=None):
        self.n_bits = n_bits
        self.random_state = random_state

    def fit(self, X, y=None):
        raise RuntimeError("needs images of shape (3, 32, 32)")


class _BitsOnly(BaseEstimator):
    """A hasher outside BaseHasher: no ``project``, bits from ``transform`` (x >= 0.5)."""

    def __init__(self, n_bits=1, random_state=None):
        self.n_bits = n_bits
        self.random_state = random_state

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.repeat((X[:, :1] >= 0.5).astype(np.uint8), self.n_bits, axis=1)


_NETWORK_FITS: list[tuple[int, str, int, int]] = []


class _Network(BaseEstimator):
    """Stands for a network-trained hasher: it has ``epochs`` and ``device``."""

    def __init__(self, n_bits=2, epochs=100, device="auto", batch_size=32, random_state=None):
        self.n_bits = n_bits
        self.epochs = epochs
        self.device = device
        self.batch_size = batch_size
        self.random_state = random_state

    def fit(self, X, y=None):
        torch = sys.modules["torch"]
        _NETWORK_FITS.append((self.epochs, self.device, self.batch_size, torch.get_num_threads()))
        return self

    def project(self, X):
        return np.tile(X[:, :1] - 0.5, self.n_bits)


def _register(monkeypatch, name, cls, supervised=False):
    def build(n_bits, random_state, **params):
        return cls(n_bits=n_bits, random_state=random_state, **params)

    info = MethodInfo(name, build, lambda params: name.upper(), supervised, "a test method")
    monkeypatch.setitem(METHODS, name, info)


def test_a_method_whose_fit_raises_is_skipped_with_the_error(monkeypatch):
    _register(monkeypatch, "broken", _Broken)
    gallery = run_toy2d("broken,lsh", bits="1,2", **SMALL)
    broken = gallery.methods[0]
    assert broken.skipped == "RuntimeError: needs images of shape (3, 32, 32)"
    assert gallery.methods[1].skipped is None


def test_a_hasher_with_bits_only_is_drawn_from_its_bits(monkeypatch):
    _register(monkeypatch, "bitsonly", _BitsOnly)
    panel = run_toy2d("bitsonly", bits=2, **SMALL).methods[0].panels[0]
    column = np.argmax(run_toy2d("lsh", bits=1, **SMALL).x_grid >= 0.5)
    assert (panel.projections[:, :column] < 0).all() and (panel.projections[:, column:] >= 0).all()


def test_network_methods_get_the_toy_settings_unless_the_spec_sets_them(monkeypatch):
    torch = pytest.importorskip("torch")
    _register(monkeypatch, "net", _Network)
    _NETWORK_FITS.clear()
    torch.set_num_threads(2)  # one thread while a network fits, then as it was
    try:
        gallery = run_toy2d(["net", "net:epochs=2"], bits=2, **SMALL)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)
    toy_epochs = NETWORK_SETTINGS["epochs"]
    assert [(toy_epochs, "cpu", 250, 1), (2, "cpu", 250, 1)] == _NETWORK_FITS
    default, own = gallery.methods
    assert f"epochs={toy_epochs}" in default.note and "device=cpu" in default.note
    assert "epochs" not in own.note and own.spec == "net:epochs=2"
    assert run_toy2d("lsh", bits=1, **SMALL).methods[0].note is None


def test_progress_reports_each_fit():
    messages = []
    run_toy2d("lsh,pcah", bits="2,4", progress=messages.append, **SMALL)
    assert len(messages) == 4
    assert messages[0].startswith("lsh 2 bits: ") and "not drawn" in messages[3]


def test_every_registered_method_by_default(monkeypatch):
    # Only the method list is checked: fitting is replaced.
    monkeypatch.setattr(toy2d, "_fit_method", lambda method, *args: method.name)
    monkeypatch.setattr(toy2d, "_with_toy_settings", lambda method, seed: (method, None, False))
    assert list(run_toy2d(**SMALL).methods) == list(METHODS)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bits": 0}, r"bits must be ints in \[1, 16\]"),
        ({"bits": "2,17"}, r"bits must be ints in \[1, 16\]"),
        ({"bits": "two"}, r"bits must be ints in \[1, 16\]"),
        ({"bits": "4,4"}, "bits must be distinct"),
        ({"methods": "nope"}, "unknown method 'nope'.*known methods: .*lsh"),
        ({"methods": "lsh,lsh"}, "lsh given more than once"),
        ({"methods": ""}, "methods must name at least one method"),
        ({"methods": "lsh:foo=1"}, "no spec parameter 'foo'"),
        ({"n_points": 5}, r"n_points must be an int in \[10, 100000\], got 5"),
        ({"resolution": 2.5}, r"resolution must be an int in \[20, 2000\], got 2.5"),
        ({"seed": -1}, r"seed must be an int in \[0, 4294967295\], got -1"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        run_toy2d(**{"methods": "lsh", **SMALL, **kwargs})


def test_bits_are_sorted():
    assert toy_bits("8,2,4") == (2, 4, 8)
    assert toy_bits(None) == (2, 4, 8)

"""VDSH and NASH (documents): their objectives by hand, median codes, sparse input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

torch = pytest.importorskip("torch")

from hashlearn.hashers.deep import DSH, NASH, VDSH  # noqa: E402
from hashlearn.hashers.deep.losses.nash import (  # noqa: E402
    NASHLoss,
    NASHSupervisedLoss,
    bernoulli_kl,
)
from hashlearn.hashers.deep.losses.vdsh import VDSHLoss, gaussian_kl  # noqa: E402

FAST = {"epochs": 2, "batch_size": 32, "width": 16, "random_state": 0}


def _generator(seed=0):
    return torch.Generator().manual_seed(seed)


def _documents(n=96, n_words=40, seed=0):
    """Word counts of documents from 3 topics (disjoint favourite words)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    topics = np.full((3, n_words), 0.2)
    for topic in range(3):
        topics[topic, topic * 10 : topic * 10 + 10] = 5.0
    topics /= topics.sum(axis=1, keepdims=True)
    counts = np.stack([rng.multinomial(30, topics[label]) for label in y]).astype(np.float32)
    return counts, y


# --- the objectives ------------------------------------------------------------------------


def test_bernoulli_kl_by_hand():
    assert float(bernoulli_kl(torch.full((2, 3), 0.5))) == pytest.approx(0.0, abs=1e-7)
    q = 0.9
    expected = 3 * (q * math.log(2 * q) + (1 - q) * math.log(2 * (1 - q)))
    assert float(bernoulli_kl(torch.full((4, 3), q))) == pytest.approx(expected, rel=1e-5)


def test_gaussian_kl_by_hand():
    assert float(gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3))) == pytest.approx(0.0)
    mu, log_variance = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, math.log(4.0)]])
    expected = -0.5 * ((1 + 0 - 1 - 1) + (1 + math.log(4.0) - 0 - 4))
    assert float(gaussian_kl(mu, log_variance)) == pytest.approx(expected, rel=1e-6)


def test_nash_evaluation_value_by_hand():
    """In eval mode the code is 1[h >= 0], no noise: the value is the reconstruction of the
    words from that code plus the KL of sigmoid(h)."""
    loss = NASHLoss(2, None, 4, _generator(), n_inputs=3, noise=None, reconstruct="weights")
    loss.eval()
    h = torch.tensor([[2.0, -1.0], [-0.5, 0.5]])
    words = torch.tensor([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]])
    layer = loss.decoder.layer
    log_p = torch.log_softmax(layer(torch.tensor([[1.0, 0.0], [0.0, 1.0]])), dim=1)
    reconstruction = -(words * log_p).sum(dim=1).mean()
    expected = reconstruction + bernoulli_kl(torch.sigmoid(h))
    value = loss(h, None, torch.arange(2), words).detach()
    assert float(value) == pytest.approx(float(expected.detach()), rel=1e-6)


def test_nash_training_samples_with_a_straight_through_gradient():
    loss = NASHLoss(4, None, 8, _generator(), n_inputs=5, noise=None).train()
    h = torch.zeros(64, 4, requires_grad=True)  # q = 1/2: about half the bits sampled on
    words = torch.ones(64, 5)
    value = loss(h, None, torch.arange(64), words)
    value.backward()
    assert h.grad is not None and bool(h.grad.abs().sum() > 0)
    # Two draws differ: the bits are sampled from the loss's generator.
    again = loss(torch.zeros(64, 4), None, torch.arange(64), words)
    assert float(again) != pytest.approx(float(value), abs=1e-9)


@pytest.mark.parametrize("noise", ["data", "fixed"])
def test_nash_noise_starts_at_noise_std(noise):
    loss = NASHLoss(3, None, 8, _generator(), n_inputs=4, noise=noise, noise_std=0.3)
    if noise == "data":
        sigma = torch.nn.functional.softplus(loss.noise_layer(torch.zeros(1, 4)))
    else:
        sigma = torch.nn.functional.softplus(loss.noise_scale)
    assert torch.allclose(sigma, torch.full_like(sigma, 0.3), atol=1e-6)


def test_supervised_nash_adds_the_classification_term():
    words = torch.tensor([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]])
    labels = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    h = torch.tensor([[2.0, -1.0], [-0.5, 0.5]])
    plain = NASHLoss(2, None, 2, _generator(), n_inputs=3, noise=None).eval()
    supervised = NASHSupervisedLoss(2, 2, 2, _generator(), n_inputs=3, noise=None, alpha=0.5)
    supervised.eval()
    codes = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    cross_entropy = torch.nn.functional.cross_entropy(supervised.head.layer(codes), labels)
    difference = supervised(h, labels, torch.arange(2), words) - plain(h, None, None, words)
    assert float(difference) == pytest.approx(0.5 * float(cross_entropy), rel=1e-5)


@pytest.mark.parametrize("cls", [NASHLoss, VDSHLoss])
def test_the_presence_reconstruction_counts_each_distinct_word_once(cls):
    """The default target is 1 for every word of the document, whatever its weight: the
    value equals the weighted one on the 0/1 presence of the words."""
    words = torch.tensor([[0.5, 0.0, 2.0], [0.0, 3.0, 0.1]])
    h = torch.tensor([[2.0, -1.0], [-0.5, 0.5]])
    # VDSH's KL reads the words (its log-variance): beta=0 leaves the reconstruction alone.
    extra = {"noise": None} if cls is NASHLoss else {"beta": 0.0}
    presence = cls(2, None, 2, _generator(), n_inputs=3, **extra).eval()
    weighted = cls(2, None, 2, _generator(), n_inputs=3, reconstruct="weights", **extra).eval()
    assert presence.decoder.reconstruct == "presence"
    value = presence(h, None, torch.arange(2), words)
    expected = weighted(h, None, torch.arange(2), (words > 0).float())
    assert float(value) == pytest.approx(float(expected), rel=1e-6)
    assert float(value) != pytest.approx(float(weighted(h, None, torch.arange(2), words)))


def test_vdsh_evaluation_decodes_the_mean():
    loss = VDSHLoss(2, None, 2, _generator(), n_inputs=3, beta=0.0).eval()
    mu = torch.tensor([[0.3, -0.2]])
    words = torch.tensor([[0.4, 2.0, 0.0]])
    log_p = torch.log_softmax(loss.decoder.layer(mu), dim=1)
    expected = -((words > 0).float() * log_p).sum()
    assert float(loss(mu, None, torch.arange(1), words)) == pytest.approx(float(expected), rel=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"n_inputs": 0}, ValueError),
        ({"n_inputs": 3, "noise": "loud"}, ValueError),
        ({"n_inputs": 3, "noise_std": 0.0}, ValueError),
        ({"n_inputs": 3, "beta": -1.0}, ValueError),
        ({"n_inputs": 3, "reconstruct": "counts"}, ValueError),
    ],
)
def test_nash_parameter_errors(kwargs, error):
    with pytest.raises(error):
        NASHLoss(2, None, 2, _generator(), **kwargs)


def test_negative_word_weights_are_refused_by_the_loss():
    loss = VDSHLoss(2, None, 2, _generator(), n_inputs=2)
    with pytest.raises(ValueError, match="non-negative"):
        loss(torch.zeros(1, 2), None, torch.arange(1), torch.tensor([[1.0, -1.0]]))


# --- the estimators ----------------------------------------------------------------------


def test_vdsh_codes_split_every_bit_at_its_training_median():
    X, _ = _documents()
    hasher = VDSH(8, validation_fraction=0, **FAST).fit(X)
    assert np.array_equal(hasher.transform(X).mean(axis=0), np.full(8, 0.5))


@pytest.mark.parametrize("cls", [VDSH, NASH])
def test_sparse_documents_train_as_dense_ones(cls):
    """The same network up to rounding: the input statistics are computed from the stored
    values of a sparse matrix (float64) and from the dense rows (float32)."""
    X, _ = _documents()
    from_sparse = cls(8, **FAST).fit(sp.csr_matrix(X))
    from_dense = cls(8, **FAST).fit(X)
    assert np.allclose(from_sparse.project(sp.csr_matrix(X)), from_dense.project(X), atol=1e-4)
    assert np.allclose(from_sparse.project(sp.csr_matrix(X)), from_sparse.project(X), atol=1e-6)


def test_a_deep_hasher_with_an_mlp_trains_on_sparse_vectors():
    X, y = _documents()
    outputs = DSH(8, **FAST).fit(sp.csr_matrix(X), y).project(sp.csr_matrix(X))
    assert np.allclose(outputs, DSH(8, **FAST).fit(X, y).project(X), atol=1e-4)


def test_an_image_backbone_refuses_sparse_input():
    X, y = _documents()
    with pytest.raises(TypeError, match="backbone='mlp'"):
        DSH(8, backbone="dsh-cnn", **FAST).fit(sp.csr_matrix(X), y)


@pytest.mark.parametrize("cls", [VDSH, NASH])
def test_negative_inputs_are_refused_before_training(cls):
    X, _ = _documents()
    X[5, 3] = -1.0
    with pytest.raises(ValueError, match="non-negative word counts"):
        cls(8, **FAST).fit(X)


@pytest.mark.parametrize("cls", [VDSH, NASH])
def test_supervised_variants_need_labels(cls):
    X, _ = _documents()
    with pytest.raises(ValueError, match="requires y"):
        cls(8, supervised=True, **FAST).fit(X)
    with pytest.raises(TypeError, match="supervised must be a bool"):
        cls(8, supervised="yes", **FAST).fit(X)


def test_nash_codes_separate_topics():
    """Documents of one topic share more bits than documents of different topics."""
    X, y = _documents(n=150)
    bits = NASH(16, epochs=15, batch_size=32, width=32, random_state=0).fit(X).transform(X)
    distances = (bits[:, None, :] != bits[None, :, :]).sum(axis=2)
    same = y[:, None] == y[None, :]
    off_diagonal = ~np.eye(len(y), dtype=bool)
    assert distances[same & off_diagonal].mean() < 0.8 * distances[~same].mean()


def test_text_hashers_save_and_load(tmp_path):
    from hashlearn import load

    X, y = _documents()
    for hasher in (VDSH(8, **FAST).fit(X), NASH(8, supervised=True, **FAST).fit(X, y)):
        path = hasher.save(tmp_path / f"{type(hasher).__name__}.hlz")
        assert np.array_equal(load(path).encode(X), hasher.encode(X))


@pytest.mark.parametrize("cls", [VDSH, NASH])
def test_the_reconstruction_target_reaches_the_loss(cls):
    X, _ = _documents()
    X[:, :5] *= 3.0  # weights that differ from presence
    with pytest.raises(ValueError, match="reconstruct must be one of"):
        cls(8, reconstruct="counts", **FAST).fit(X)
    presence = cls(8, **FAST).fit(X).project(X)
    weights = cls(8, reconstruct="weights", **FAST).fit(X).project(X)
    assert not np.allclose(presence, weights, atol=1e-3)


@pytest.mark.parametrize(("cls", "rate"), [(VDSH, 0.003), (NASH, 0.01)])
def test_text_hashers_have_their_own_training_defaults(cls, rate):
    """A narrower encoder and a larger learning rate than the image hashers' defaults, in the
    signature, in get_params and in the docstring."""
    hasher = cls()
    assert (hasher.width, hasher.learning_rate) == (500, rate)
    assert hasher.get_params()["learning_rate"] == rate
    assert (DSH().width, DSH().learning_rate) == (None, 1e-3)
    assert f"defaults\n        30, 128, {rate}," in cls.__doc__
    assert "defaults\n        50, 128, 0.001," in DSH.__doc__


def test_training_defaults_must_name_training_parameters():
    with pytest.raises(TypeError, match="names no training parameter"):

        class Broken(NASH):
            _loss = NASH._loss
            _training_defaults = {"learning_rte": 0.1}  # noqa: RUF012

"""Stacked RBMs: SemanticHashing (word counts) and RBMHashing (real features, NCA)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

import hashlearn
from hashlearn.experiments.methods import METHODS, build_method
from hashlearn.hashers.deep import RBMHashing, SemanticHashing
from hashlearn.hashers.deep.rbm import hidden_sizes

TEXT = {"hidden": (24,), "batch_size": 50, "device": "cpu"}
IMAGE = {"hidden": (32,), "batch_size": 50, "device": "cpu"}


@pytest.fixture(scope="module")
def documents():
    """300 documents of 20-120 words from 3 topics over a 60-word vocabulary."""
    rng = np.random.default_rng(0)
    topics = rng.dirichlet(np.full(60, 0.1), size=3)
    y = np.repeat(np.arange(3), 100)
    X = np.stack([rng.multinomial(rng.integers(20, 120), topics[c]) for c in y])
    return X.astype(np.float64), y


@pytest.fixture(scope="module")
def features():
    """300 points of 3 classes in 16-d, with a shared nuisance direction."""
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(3), 100)
    X = rng.normal(size=(300, 16)) + 2.5 * np.eye(16)[y] + 3 * rng.normal(size=(300, 1))
    return X, y


def _sigmoid(values):
    return 1 / (1 + np.exp(-values))


def _neighbour_probability(codes, labels):
    """NCA's mean same-class neighbour probability over all points (numpy, by definition)."""
    distances = ((codes[:, None, :] - codes[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(distances, np.inf)
    weights = np.exp(-(distances - distances.min(axis=1, keepdims=True)))
    probabilities = weights / weights.sum(axis=1, keepdims=True)
    return float((probabilities * (labels[:, None] == labels[None, :])).sum(axis=1).mean())


# -- the papers' mechanisms ---------------------------------------------------------------------
@pytest.mark.parametrize("bottom", ["replicated-softmax", "constrained-poisson"])
def test_contrastive_divergence_lowers_the_word_reconstruction_error(documents, bottom):
    X, _ = documents
    hasher = SemanticHashing(
        8, bottom=bottom, pretrain_epochs=8, finetune_epochs=0, random_state=0, **TEXT
    ).fit(X)
    errors = [row["loss"] for row in hasher.training_curve_.epochs if row["layer"] == 1]
    assert len(errors) == 8
    assert errors[-1] < 0.85 * errors[0]


def test_tf_idf_trains_like_counts(documents):
    """L2-normalised rows sum to a few units; rescaled to documents of 100 words, the
    bottom RBM learns from them as from counts."""
    X, _ = documents
    tfidf = X / np.linalg.norm(X, axis=1, keepdims=True)
    hasher = SemanticHashing(8, pretrain_epochs=8, finetune_epochs=0, random_state=0, **TEXT)
    errors = [row["loss"] for row in hasher.fit(tfidf).training_curve_.epochs if row["layer"] == 1]
    assert errors[-1] < 0.85 * errors[0]


def test_codes_do_not_depend_on_the_scale_of_x(documents):
    """Training sees X rescaled to a median length of 100 words and the scale is folded
    into the first layer: X / 8 (exact in floating point) gives the same model."""
    X, _ = documents
    params = {"pretrain_epochs": 2, "finetune_epochs": 2, "random_state": 0, **TEXT}
    raw = SemanticHashing(8, **params).fit(X)
    scaled = SemanticHashing(8, **params).fit(X / 8)
    np.testing.assert_array_equal(scaled.encode(X / 8), raw.encode(X))
    np.testing.assert_allclose(scaled.coefs_[0], 8 * raw.coefs_[0], rtol=1e-6)


def test_contrastive_divergence_lowers_the_gaussian_reconstruction_error(features):
    X, _ = features
    hasher = RBMHashing(8, pretrain_epochs=8, random_state=0, **IMAGE).fit(X)
    errors = [row["loss"] for row in hasher.training_curve_.epochs if row["layer"] == 1]
    assert errors[-1] < 0.9 * errors[0]


def test_noise_on_the_code_layer_drives_the_code_units_to_binary():
    """Documents mixing 6 topics in random proportions: without noise the autoencoder
    carries the proportions in mid-range code units; with the paper's noise it cannot, and
    the units go to 0 or 1."""
    rng = np.random.default_rng(0)
    topics = rng.dirichlet(np.full(60, 0.1), size=6)
    mixtures = rng.dirichlet(np.ones(6), size=300)
    X = np.stack([rng.multinomial(rng.integers(20, 120), p @ topics) for p in mixtures])

    def near_binary(noise_std):
        hasher = SemanticHashing(
            8,
            noise_std=noise_std,
            pretrain_epochs=3,
            finetune_epochs=30,
            finetune_learning_rate=1e-2,
            random_state=0,
            **TEXT,
        ).fit(X)
        units = _sigmoid(hasher.project(X))
        return float(np.mean((units < 0.1) | (units > 0.9)))

    with_noise, without = near_binary(4.0), near_binary(0.0)
    assert with_noise > 0.6
    assert without < 0.3


def test_nca_raises_the_same_class_neighbour_probability(features):
    X, y = features
    params = {"pretrain_epochs": 5, "finetune_learning_rate": 1e-2, "random_state": 0, **IMAGE}
    before = RBMHashing(8, finetune_epochs=0, **params).fit(X, y)
    after = RBMHashing(8, finetune_epochs=30, **params).fit(X, y)
    # The same seed pretrains the same stack; only the fine-tuning differs.
    np.testing.assert_array_equal(before.mean_, after.mean_)
    p_before = _neighbour_probability(_sigmoid(before.project(X)), y)
    p_after = _neighbour_probability(_sigmoid(after.project(X)), y)
    assert p_after > p_before + 0.2
    losses = [row["loss"] for row in after.training_curve_.epochs if row["stage"] == "finetune"]
    assert len(losses) == 30 and losses[-1] < losses[0] - 0.2


def test_nca_loss_by_hand():
    torch = pytest.importorskip("torch")
    from hashlearn.hashers.deep._rbm_training import neighbour_probability

    codes = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    # Multi-label: point 0 has labels {a}, 1 has {a, b}, 2 has {b}.
    labels = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    e1, e2 = np.exp(-1.0), np.exp(-2.0)
    expected = np.mean([e1 / (e1 + e2), 1.0, e1 / (e1 + e2)])
    assert float(neighbour_probability(codes, labels)) == pytest.approx(expected, rel=1e-6)


def test_multi_label_y_is_a_label_matrix(features):
    X, y = features
    labels = np.zeros((len(y), 4), dtype=int)
    labels[np.arange(len(y)), y] = 1
    labels[::2, 3] = 1  # a label shared across classes
    hasher = RBMHashing(8, pretrain_epochs=2, finetune_epochs=2, random_state=0, **IMAGE)
    assert hasher.fit(X, labels).encode(X).shape == (len(y), 1)


def test_without_labels_rbm_hashing_keeps_the_pretrained_stack(features):
    X, _ = features
    hasher = RBMHashing(8, pretrain_epochs=2, finetune_epochs=5, random_state=0, **IMAGE).fit(X)
    assert {row["stage"] for row in hasher.training_curve_.epochs} == {"pretrain"}
    assert len(hasher.training_curve_.epochs) == 4


def test_replicated_softmax_codes_depend_on_word_proportions_only(documents):
    """With one RBM, bit j is ``D (v/D . w_j + b_j) >= 0``: scaling every count keeps it;
    the constrained Poisson model's bias does not scale with D, so short documents drift."""
    X, _ = documents
    params = {"pretrain_epochs": 3, "finetune_epochs": 0, "random_state": 0, "hidden": ()}
    softmax = SemanticHashing(8, batch_size=50, device="cpu", **params).fit(X)
    np.testing.assert_array_equal(softmax.encode(0.01 * X), softmax.encode(X))
    np.testing.assert_array_equal(softmax.encode(7 * X), softmax.encode(X))
    poisson = SemanticHashing(
        8, bottom="constrained-poisson", batch_size=50, device="cpu", **params
    ).fit(X)
    assert not np.array_equal(poisson.encode(0.01 * X), poisson.encode(X))


# -- inputs, determinism, the curve -------------------------------------------------------------
def test_sparse_and_dense_documents_give_the_same_codes(documents):
    X, _ = documents
    params = {"pretrain_epochs": 3, "finetune_epochs": 3, "random_state": 0, **TEXT}
    dense = SemanticHashing(8, **params).fit(X)
    sparse = SemanticHashing(8, **params).fit(sp.csr_matrix(X))
    codes = dense.encode(X)
    np.testing.assert_array_equal(sparse.encode(sp.csr_matrix(X)), codes)
    np.testing.assert_array_equal(dense.encode(sp.csr_matrix(X)), codes)
    np.testing.assert_array_equal(sparse.encode(X), codes)


def test_same_seed_same_codes_another_seed_other_codes(documents):
    X, _ = documents
    params = {"pretrain_epochs": 2, "finetune_epochs": 2, **TEXT}
    a = SemanticHashing(16, random_state=3, **params).fit(X).encode(X)
    b = SemanticHashing(16, random_state=3, **params).fit(X).encode(X)
    c = SemanticHashing(16, random_state=4, **params).fit(X).encode(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_fit_leaves_torch_global_generator_alone(features):
    torch = pytest.importorskip("torch")
    X, y = features
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    RBMHashing(8, pretrain_epochs=1, finetune_epochs=1, random_state=0, **IMAGE).fit(X, y)
    np.testing.assert_array_equal(torch.rand(3).numpy(), expected.numpy())


def test_training_curve_and_progress(documents):
    X, _ = documents
    lines = []
    hasher = SemanticHashing(
        8,
        hidden=(16, 12),
        pretrain_epochs=2,
        finetune_epochs=3,
        batch_size=50,
        device="cpu",
        progress=lines.append,
        random_state=0,
    ).fit(X)
    rows = hasher.training_curve_.epochs
    assert [(row["stage"], row["layer"]) for row in rows] == [
        *[("pretrain", layer) for layer in (1, 1, 2, 2, 3, 3)],
        *[("finetune", None)] * 3,
    ]
    assert [row["epoch"] for row in rows] == list(range(1, 10))
    assert all(row["seconds"] > 0 and row["images_per_second"] > 0 for row in rows)
    assert hasher.training_curve_.device == "cpu" and hasher.training_curve_.best_epoch == 9
    assert len(lines) == 9 and "reconstruction error" in lines[0] and "cross-entropy" in lines[-1]
    assert [w.shape for w in hasher.coefs_] == [(60, 16), (16, 12), (12, 8)]


def test_hidden_sizes_forms():
    assert hidden_sizes((500, 500)) == hidden_sizes([500, 500]) == hidden_sizes("500-500")
    assert hidden_sizes(64) == (64,) and hidden_sizes(()) == hidden_sizes("") == ()
    with pytest.raises(ValueError, match=r"hidden must be .*'500-500'.*got 'a-b'"):
        hidden_sizes("a-b")
    with pytest.raises(ValueError, match="a size below 1"):
        hidden_sizes((10, 0))
    with pytest.raises(TypeError, match="hidden must be"):
        hidden_sizes(2.5)


# -- persistence --------------------------------------------------------------------------------
def test_save_and_load_need_no_torch(documents, tmp_path):
    X, _ = documents
    hasher = SemanticHashing(
        8,
        hidden="16-12",
        pretrain_epochs=2,
        finetune_epochs=2,
        random_state=0,
        **{k: v for k, v in TEXT.items() if k != "hidden"},
    ).fit(sp.csr_matrix(X))
    path = hasher.save(tmp_path / "srbm.hlz")
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "codes.npy", hasher.encode(X))
    code = (
        "import sys\n"
        "class NoTorch:\n"  # any import of torch now fails
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'torch':\n"
        "            raise ImportError('torch is blocked')\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "import numpy as np, hashlearn\n"
        f"h = hashlearn.load({str(path)!r})\n"
        f"X = np.load({str(tmp_path / 'X.npy')!r})\n"
        f"assert (h.encode(X) == np.load({str(tmp_path / 'codes.npy')!r})).all()\n"
        "assert len(h.training_curve_.epochs) == 8 and 'torch' not in sys.modules\n"
        "print(type(h).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "SemanticHashing"


def test_rbm_hashing_saves_its_standardisation(features, tmp_path):
    X, y = features
    hasher = RBMHashing(8, pretrain_epochs=2, finetune_epochs=2, random_state=0, **IMAGE)
    hasher.fit(X, y)
    loaded = hashlearn.load(hasher.save(tmp_path / "rbm.hlz"))
    np.testing.assert_array_equal(loaded.scale_, hasher.scale_)
    np.testing.assert_array_equal(loaded.encode(X), hasher.encode(X))
    assert loaded.training_curve_.to_dict() == hasher.training_curve_.to_dict()


def _one_layer_less(attributes, arrays):
    for name in ("coefs", "intercepts"):
        attributes[f"n_{name}_"] = 1
        del arrays[f"{name}.1"]


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda a, arr: arr.__setitem__("coefs.1", arr["coefs.1"][:, :4]), r"coefs_\[1\]"),
        (lambda a, arr: arr.pop("intercepts.0"), "intercepts.0"),
        (_one_layer_less, "the encoder has 1 layers; hidden=.* make 2"),
        (lambda a, arr: arr.__setitem__("coefs.0", arr["coefs.0"] * np.nan), "finite"),
    ],
)
def test_corrupt_state_is_refused(documents, corrupt, message):
    X, _ = documents
    hasher = SemanticHashing(8, pretrain_epochs=1, finetune_epochs=0, random_state=0, **TEXT).fit(X)
    params, attributes, arrays = hasher._get_state()
    corrupt(attributes, arrays)
    with pytest.raises(ValueError, match=message):
        SemanticHashing._from_state(params, attributes, arrays)


# -- errors ---------------------------------------------------------------------------------------
def test_negative_values_are_refused(documents):
    X, _ = documents
    bad = X.copy()
    bad[4, 7] = -1.0
    hasher = SemanticHashing(8, pretrain_epochs=1, finetune_epochs=0, **TEXT)
    with pytest.raises(ValueError, match=r"Negative values .* row 4, column 7"):
        hasher.fit(bad)
    with pytest.raises(ValueError, match=r"Negative values .* row 4, column 7"):
        hasher.fit(sp.csr_matrix(bad))
    hasher.fit(X)
    with pytest.raises(ValueError, match="Negative values"):
        hasher.encode(bad)


def test_documents_without_words_are_refused():
    with pytest.raises(ValueError, match="X holds no words"):
        SemanticHashing(8, **TEXT).fit(np.zeros((10, 5)))


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"bottom": "gaussian"}, ValueError, "bottom must be one of replicated-softmax"),
        ({"hidden": "64-x"}, ValueError, "hidden must be"),
        ({"noise_std": -1.0}, ValueError, "noise_std must be a finite number >= 0"),
        ({"momentum": 1.0}, ValueError, "momentum must be a finite number >= 0 and <= 0.99"),
        ({"pretrain_epochs": 0}, ValueError, "pretrain_epochs must be an int >= 1"),
        ({"finetune_epochs": 1.5}, TypeError, "finetune_epochs must be an int"),
        ({"learning_rate": 0.0}, ValueError, "learning_rate must be a finite number > 0"),
        ({"device": "tpu"}, ValueError, "device must be one of 'auto', 'cpu'"),
        ({"progress": "yes"}, TypeError, "progress must be a bool or a callable"),
    ],
)
def test_bad_parameters_are_named(documents, params, error, message):
    X, _ = documents
    with pytest.raises(error, match=message):
        SemanticHashing(8, **{**TEXT, **params}).fit(X)


def test_one_class_labels_are_refused(features):
    X, _ = features
    with pytest.raises(ValueError, match="y holds one class"):
        RBMHashing(8, **IMAGE).fit(X, np.zeros(len(X)))


def test_missing_torch_names_the_extra(documents, monkeypatch):
    X, _ = documents
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r"pip install 'hashlearn\[deep\]'"):
        SemanticHashing(8, **TEXT).fit(X)


# -- the benchmark's method registry ------------------------------------------------------------
def test_method_specs():
    assert not METHODS["srbm"].supervised and METHODS["srbm"].label({}) == "S-RBM"
    assert METHODS["rbm"].supervised and METHODS["rbm"].label({}) == "RBM"
    hasher = build_method("srbm:hidden=64-32,bottom=constrained-poisson", 32, 0)
    assert hidden_sizes(hasher.hidden) == (64, 32) and hasher.n_bits == 32
    with pytest.raises(ValueError, match="srbm: hidden must be"):
        build_method("srbm:hidden=64x32", 32, 0)
    assert isinstance(build_method("rbm:hidden=128", 16, 0), RBMHashing)

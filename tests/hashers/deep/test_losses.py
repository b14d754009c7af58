"""The deep hashing objectives: values computed by hand, finite gradients in corner cases,
the code layers' sign, HashNet's schedule, CSQ's centres, the bi-half layer, and a toy
optimisation per method that must separate classes (or clusters) in Hamming space."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
# The first optimizer built imports torch._dynamo (seconds, once): done at collection so
# that no test's time includes it.
pytest.importorskip("torch._dynamo")
from torch import optim  # noqa: E402

from hashlearn.hashers.deep.losses._common import similarity_matching  # noqa: E402
from hashlearn.hashers.deep.losses.bihalf import BiHalfLoss, bi_half  # noqa: E402
from hashlearn.hashers.deep.losses.csq import CSQLoss, hash_centers  # noqa: E402
from hashlearn.hashers.deep.losses.dpsh import DPSHLoss  # noqa: E402
from hashlearn.hashers.deep.losses.greedyhash import (  # noqa: E402
    GreedyHashLoss,
    GreedyHashUnsupervisedLoss,
)
from hashlearn.hashers.deep.losses.hashnet import HashNetLoss  # noqa: E402

SUPERVISED = [HashNetLoss, DPSHLoss, CSQLoss, GreedyHashLoss]
UNSUPERVISED = [BiHalfLoss, GreedyHashUnsupervisedLoss]
ALL = SUPERVISED + UNSUPERVISED
N_BITS = 16
N_CLASSES = 4


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread: on these tiny tensors the hand-offs between threads cost more
    than the work (the toy trainings ran 10x slower with two threads on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _generator(seed: int = 0):
    return torch.Generator().manual_seed(seed)


def _loss(cls, n_bits=N_BITS, n_classes=N_CLASSES, n_train=64, seed=0, **params):
    return cls(n_bits, n_classes if cls.supervised else None, n_train, _generator(seed), **params)


def _one_hot(classes, n_classes=N_CLASSES):
    return torch.nn.functional.one_hot(torch.as_tensor(classes), n_classes).float()


def _softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def _objective(loss, h, labels, inputs, index=None):
    index = torch.arange(h.shape[0]) if index is None else index
    return loss(loss.quantize(h), labels, index, inputs)


# --- every loss: a finite scalar with finite gradients, whatever the batch -------------


def _case(name: str):
    gen = _generator(1)
    h = torch.randn(6, N_BITS, generator=gen)
    classes = [0, 1, 2, 3, 0, 1]
    inputs = torch.randn(6, 3, 4, 4, generator=gen)
    labels = _one_hot(classes)
    if name == "identical points":
        h[1] = h[0]
        inputs[1] = inputs[0]
        labels[1] = labels[0]
    elif name == "all labels equal":
        labels = _one_hot([2] * 6)
    elif name == "all labels different":
        h, inputs = h[:4], inputs[:4]
        labels = _one_hot([0, 1, 2, 3])
    elif name == "multi-label and unlabelled":
        labels = torch.tensor([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0]] * 2).float()
    elif name == "saturated outputs":
        h = 1e3 * h
    elif name == "zero outputs":
        h = torch.zeros_like(h)
    elif name == "one point":
        h, inputs, labels = h[:1], inputs[:1], labels[:1]
    return h, labels, inputs


CASES = [
    "random",
    "identical points",
    "all labels equal",
    "all labels different",
    "multi-label and unlabelled",
    "saturated outputs",
    "zero outputs",
    "one point",
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("cls", ALL, ids=lambda cls: cls.__name__)
def test_loss_is_a_finite_scalar_with_finite_gradients(cls, case):
    h, labels, inputs = _case(case)
    h.requires_grad_(True)
    loss = _loss(cls)
    value = _objective(loss, h, labels if cls.supervised else None, inputs)
    assert value.ndim == 0
    assert torch.isfinite(value)
    value.backward()
    assert h.grad is not None and torch.isfinite(h.grad).all()


@pytest.mark.parametrize("cls", ALL, ids=lambda cls: cls.__name__)
def test_mixed_precision_gives_a_float32_loss_and_finite_gradients(cls):
    h, labels, inputs = _case("random")
    weights = torch.randn(N_BITS, N_BITS, generator=_generator(6), requires_grad=True)
    loss = _loss(cls)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        outputs = h @ weights  # the backbone's output: bfloat16 under autocast
        value = _objective(loss, outputs, labels if cls.supervised else None, 100 * inputs)
    assert outputs.dtype == torch.bfloat16
    assert value.dtype == torch.float32 and torch.isfinite(value)
    value.backward()
    assert torch.isfinite(weights.grad).all()


@pytest.mark.parametrize("cls", ALL, ids=lambda cls: cls.__name__)
def test_supervised_is_the_class_attribute(cls):
    assert cls.supervised is (cls in SUPERVISED)


@pytest.mark.parametrize("cls", SUPERVISED, ids=lambda cls: cls.__name__)
def test_supervised_losses_need_labels(cls):
    loss = _loss(cls)
    h = torch.randn(4, N_BITS)
    with pytest.raises(ValueError, match="labels"):
        loss(loss.quantize(h), None, torch.arange(4), None)
    with pytest.raises(ValueError, match=r"shape \(4, 4\)"):
        loss(loss.quantize(h), _one_hot([0, 1, 2]), torch.arange(4), None)


@pytest.mark.parametrize("cls", UNSUPERVISED, ids=lambda cls: cls.__name__)
def test_unsupervised_losses_need_the_inputs(cls):
    loss = _loss(cls)
    h = torch.randn(4, N_BITS)
    with pytest.raises(ValueError, match="inputs"):
        loss(loss.quantize(h), None, torch.arange(4), None)
    with pytest.raises(ValueError, match="inputs"):
        loss(loss.quantize(h), None, torch.arange(4), torch.randn(3, 5))


@pytest.mark.parametrize(
    ("cls", "params", "error"),
    [
        (HashNetLoss, {"alpha": 0.0}, ValueError),
        (HashNetLoss, {"step_size": 0}, ValueError),
        (HashNetLoss, {"gamma": -1.0}, ValueError),
        (DPSHLoss, {"eta": -1.0}, ValueError),
        (CSQLoss, {"lambda_q": -1.0}, ValueError),
        (BiHalfLoss, {"gamma": -1.0}, ValueError),
        (GreedyHashLoss, {"alpha": float("nan")}, ValueError),
    ],
)
def test_bad_hyperparameters_are_refused(cls, params, error):
    with pytest.raises(error, match=next(iter(params))):
        _loss(cls, **params)


@pytest.mark.parametrize("cls", [DPSHLoss, CSQLoss, GreedyHashLoss], ids=lambda c: c.__name__)
def test_methods_that_need_classes_refuse_none(cls):
    with pytest.raises(ValueError, match="n_classes"):
        cls(N_BITS, None, 10, _generator())


@pytest.mark.parametrize("cls", [CSQLoss, GreedyHashLoss], ids=lambda cls: cls.__name__)
def test_methods_that_draw_random_values_need_a_generator(cls):
    with pytest.raises(TypeError, match="generator"):
        cls(N_BITS, N_CLASSES, 10, None)


# --- the code layers' sign is the encoder's sign (h >= 0 -> +1) ------------------------


@pytest.mark.parametrize(
    "cls", [HashNetLoss, DPSHLoss, CSQLoss, GreedyHashLoss, GreedyHashUnsupervisedLoss]
)
def test_quantize_keeps_the_sign_of_h(cls):
    h = torch.randn(32, N_BITS, generator=_generator(2))
    h[0] = 0.0
    h[1] = -1e-30
    loss = _loss(cls)
    if cls is HashNetLoss:
        loss.steps = 10_000  # a large beta: tanh saturates
    assert torch.equal(loss.quantize(h) >= 0, h >= 0)


# --- HashNet ---------------------------------------------------------------------------


def test_hashnet_value_by_hand():
    # Points 0 and 1 share a class, point 2 does not; alpha = 1 and the codes given.
    codes = torch.tensor([[1.0, 0.0], [0.5, 1.0], [1.0, 2.0]])
    loss = HashNetLoss(2, 2, 3, _generator(), alpha=1.0)
    value = loss(codes, _one_hot([0, 0, 1], 2), torch.arange(3), None)
    similar = _softplus(0.5) - 0.5  # t_01 = 0.5, both orders
    dissimilar = (_softplus(1.0) + _softplus(2.5)) / 2  # t_02 = 1, t_12 = 2.5, both orders
    assert float(value) == pytest.approx(similar + dissimilar, rel=1e-6)


def test_hashnet_weights_balance_similar_and_dissimilar_pairs():
    # One similar pair among many dissimilar ones weighs as much as all of them together.
    codes = torch.zeros(5, 3)
    loss = HashNetLoss(3, 4, 5, _generator())
    value = loss(codes, _one_hot([0, 0, 1, 2, 3]), torch.arange(5), None)
    assert float(value) == pytest.approx(2 * math.log(2), rel=1e-6)


def test_hashnet_default_alpha_is_ten_over_the_code_length():
    assert HashNetLoss(48, 2, 3, _generator()).alpha == pytest.approx(10 / 48)


def test_hashnet_beta_follows_the_continuation_schedule():
    loss = HashNetLoss(4, 2, 8, _generator(), gamma=0.005, step_size=200)
    h = torch.randn(4, 4, requires_grad=True)
    labels = _one_hot([0, 1, 0, 1], 2)
    betas = []
    for _ in range(400):
        betas.append(loss.beta)
        loss(loss.quantize(h), labels, torch.arange(4), None)
    assert betas[0] == betas[199] == 1.0
    assert betas[200] == pytest.approx(math.sqrt(1 + 0.005 * 200))
    assert loss.state() == {"beta": pytest.approx(math.sqrt(3.0)), "steps": 400}
    assert torch.allclose(loss.quantize(h), torch.tanh(math.sqrt(3.0) * h))


def test_hashnet_schedule_counts_only_training_batches():
    loss = HashNetLoss(4, 2, 8, _generator(), step_size=1)
    h, labels = torch.randn(4, 4), _one_hot([0, 1, 0, 1], 2)
    with torch.no_grad():
        loss(loss.quantize(h), labels, torch.arange(4), None)
    loss.eval()
    loss(loss.quantize(h.requires_grad_(True)), labels, torch.arange(4), None)
    assert loss.steps == 0 and loss.beta == 1.0
    loss.train()
    loss(loss.quantize(h), labels, torch.arange(4), None)
    assert loss.steps == 1 and loss.beta == pytest.approx(math.sqrt(1.005))


# --- DPSH ------------------------------------------------------------------------------


def test_dpsh_value_by_hand_pairs_the_batch_with_the_memory():
    loss = DPSHLoss(2, 2, 3, _generator(), eta=0.5)
    codes = torch.tensor([[1.0, -0.5], [0.5, 0.5]])
    value = loss(codes, _one_hot([0, 0], 2), torch.tensor([0, 2]), None)
    # Training point 1 is not seen yet: its memory is zero (theta = 0, no shared label).
    thetas = [(0.625, 1), (0.0, 0), (0.125, 1), (0.125, 1), (0.0, 0), (0.25, 1)]
    likelihood = sum(_softplus(t) - s * t for t, s in thetas)
    quantization = 0.25 + 0.5  # ||sign(u) - u||^2 of the two points
    assert float(value) == pytest.approx((likelihood + 0.5 * quantization) / 6, rel=1e-6)
    assert torch.equal(loss.memory_codes, torch.tensor([[1.0, -0.5], [0, 0], [0.5, 0.5]]))


def test_dpsh_later_batches_see_earlier_outputs():
    loss = DPSHLoss(2, 2, 2, _generator(), eta=0.0)
    labels = _one_hot([0], 2)
    loss(torch.tensor([[2.0, 0.0]]), labels, torch.tensor([0]), None)
    u = torch.tensor([[0.0, 1.0]], requires_grad=True)
    loss(u, labels, torch.tensor([1]), None).backward()
    # theta_1j = u.U_j / 2 with the memory a constant, the batch's own row included (it is
    # written, detached, before the pairs are formed): U_0 = (2, 0) and U_1 = u = (0, 1).
    # dL/du = sum_j (sigmoid(theta_1j) - 1) * U_j / 2, over batch * n_train = 2.
    expected = [(1 / (1 + math.exp(0.0)) - 1) * 1.0 / 2, (1 / (1 + math.exp(-0.5)) - 1) * 0.5 / 2]
    assert u.grad[0].tolist() == pytest.approx(expected, rel=1e-6)


def test_dpsh_memory_is_training_state():
    """The memory travels in the loss's state_dict (training checkpoints resume exactly);
    a saved model holds only the network, so it never reaches a model file."""
    loss = DPSHLoss(4, 2, 10, _generator())
    assert set(loss.state_dict()) == {"memory_codes", "memory_labels"}
    assert loss.memory_codes.shape == (10, 4) and loss.memory_labels.shape == (10, 2)


@pytest.mark.parametrize(
    ("index", "match"),
    [(None, "index"), (torch.tensor([0, 1]), "index"), (torch.tensor([0, 1, 10]), r"\[0, 10\)")],
)
def test_dpsh_refuses_a_bad_index(index, match):
    loss = DPSHLoss(4, 2, 10, _generator())
    with pytest.raises(ValueError, match=match):
        loss(torch.randn(3, 4), _one_hot([0, 1, 0], 2), index, None)


# --- CSQ -------------------------------------------------------------------------------


def test_csq_value_by_hand():
    # 2 bits, 2 classes: the Hadamard centres (1, 1) and (1, -1).
    loss = CSQLoss(2, 2, 2, _generator(), lambda_q=0.5)
    h = torch.tensor([[0.0, 0.0], [1.0, -2.0]])
    value = loss(loss.quantize(h), _one_hot([0, 1], 2), torch.arange(2), None)
    # BCE((tanh(h) + 1) / 2, (c + 1) / 2) = BCE-with-logits(2h, (c + 1) / 2).
    central = (math.log(2) + (_softplus(-2.0) + _softplus(-4.0)) / 2) / 2

    def log_cosh(x: float) -> float:
        return math.log(math.cosh(x))

    q = [log_cosh(-1.0), log_cosh(-1.0), log_cosh(math.tanh(1) - 1), log_cosh(math.tanh(2) - 1)]
    assert float(value) == pytest.approx(central + 0.5 * sum(q) / 4, rel=1e-6)


def test_csq_centres_from_the_hadamard_matrix():
    centers = hash_centers(32, 16, _generator())
    assert centers.shape == (32, 16)
    gram = centers[:16] @ centers[:16].T
    assert torch.equal(gram, 16 * torch.eye(16))  # rows of H are orthogonal
    assert torch.equal(centers[16:], -centers[:16])  # then the negated rows


def test_csq_random_centres_when_the_hadamard_matrix_does_not_fit():
    for n_classes, n_bits in [(10, 12), (40, 16)]:  # not a power of 2; more than 2 * n_bits
        centers = hash_centers(n_classes, n_bits, _generator(3))
        assert centers.shape == (n_classes, n_bits)
        assert set(centers.unique().tolist()) == {-1.0, 1.0}
        assert len({tuple(row) for row in centers.tolist()}) == n_classes
    centers = hash_centers(10, 12, _generator(3))
    distances = (12 - centers @ centers.T) / 2
    assert distances[~torch.eye(10, dtype=torch.bool)].min() >= math.ceil(12 * 20 / 64)


def test_csq_centres_are_determined_by_the_generator_seed():
    first = CSQLoss(12, 10, 5, _generator(7))
    again = CSQLoss(12, 10, 5, _generator(7))
    other = CSQLoss(12, 10, 5, _generator(8))
    assert torch.equal(first.centers, again.centers)
    assert torch.equal(first.tie_breaker, again.tie_breaker)
    assert not torch.equal(first.centers, other.centers)
    assert "centers" not in first.state_dict()


def test_csq_multi_label_centre_is_the_sign_of_the_mean_with_random_ties():
    loss = CSQLoss(8, 4, 5, _generator())
    targets, has_label = loss.targets(torch.tensor([[1.0, 1.0, 0, 0], [0, 0, 1.0, 0]]))
    c0, c1 = loss.centers[0], loss.centers[1]
    expected = torch.where(c0 == c1, c0, loss.tie_breaker)
    assert torch.equal(targets[0], (expected + 1) / 2)
    assert torch.equal(targets[1], (loss.centers[2] + 1) / 2)
    assert has_label.tolist() == [1.0, 1.0]


def test_csq_points_without_labels_only_get_the_quantization_term():
    loss = CSQLoss(8, 4, 5, _generator(), lambda_q=0.0)
    h = torch.randn(3, 8, generator=_generator(4))
    labels = torch.tensor([[1.0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1.0, 0]])
    with_unlabelled = loss(h, labels, torch.arange(3), None)
    without = loss(h[[0, 2]], labels[[0, 2]], torch.arange(2), None)
    assert float(with_unlabelled) == pytest.approx(float(without), rel=1e-6)


def test_csq_keeps_a_gradient_where_tanh_saturates():
    loss = CSQLoss(2, 2, 2, _generator())
    h = torch.tensor([[-30.0, -30.0]], requires_grad=True)  # class 0's centre is (1, 1)
    loss(loss.quantize(h), _one_hot([0], 2), torch.arange(1), None).backward()
    assert (h.grad < -0.5).all()


# --- Bi-half ---------------------------------------------------------------------------


def test_bi_half_layer_by_hand():
    h = torch.tensor([[3.0, 0.0], [1.0, 2.0], [2.0, 1.0], [0.0, 3.0]])
    codes = bi_half(h)
    assert codes.tolist() == [[1, -1], [-1, 1], [1, -1], [-1, 1]]


@pytest.mark.parametrize("n", [2, 7, 10, 33])
def test_bi_half_gives_half_the_batch_plus_one_per_bit(n):
    h = torch.randn(n, N_BITS, generator=_generator(n))
    codes = bi_half(h)
    assert set(codes.unique().tolist()) <= {-1.0, 1.0}
    assert ((codes > 0).sum(dim=0) == n // 2).all()  # odd n: floor(n / 2) get +1
    # The +1 half holds the largest outputs of each bit.
    for bit in range(N_BITS):
        assert h[codes[:, bit] > 0, bit].min() > h[codes[:, bit] < 0, bit].max()


def test_bi_half_breaks_ties_by_position():
    codes = bi_half(torch.zeros(5, 3))
    assert codes[:, 0].tolist() == [1, 1, -1, -1, -1]


def test_bi_half_backward_is_straight_through_plus_the_gamma_pull():
    h = torch.tensor([[0.5, -2.0], [1.5, 0.2], [-0.3, 0.1]], requires_grad=True)
    weights = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    codes = bi_half(h, gamma=6.0)
    (codes * weights).sum().backward()
    expected = weights + 6.0 * (h.detach() - codes.detach()) / 6
    assert torch.allclose(h.grad, expected)


def test_bi_half_value_by_hand():
    loss = BiHalfLoss(2, None, 2, _generator(), gamma=6.0)
    # Bi-half codes [[1, 1], [-1, -1]] (cosine -1); inputs' cosine 1 / sqrt(2).
    h = torch.tensor([[0.5, 2.0], [-1.0, 0.0]])
    inputs = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    similarity_term = (-1.0 - 2**-0.5) ** 2
    pull = 0.5 * 6.0 * ((0.5 - 1) ** 2 + (2.0 - 1) ** 2 + (-1.0 + 1) ** 2 + (0.0 + 1) ** 2) / 4
    value = float(loss(loss.quantize(h), None, torch.arange(2), inputs))
    assert value == pytest.approx(similarity_term + pull, rel=1e-6)


def test_bi_half_loss_gradient_is_the_authors_layer():
    """The explicit quantisation term gives exactly the gradient of the authors' layer."""
    h = torch.randn(16, N_BITS, generator=_generator(3))
    inputs = torch.randn(16, 10, generator=_generator(4))
    loss = BiHalfLoss(N_BITS, None, 16, _generator(), gamma=6.0)
    ours = h.clone().requires_grad_(True)
    loss(loss.quantize(ours), None, torch.arange(16), inputs).backward()
    theirs = h.clone().requires_grad_(True)
    similarity_matching(bi_half(theirs, gamma=6.0), inputs).backward()
    assert torch.allclose(ours.grad, theirs.grad, atol=1e-7)


# --- GreedyHash ------------------------------------------------------------------------


def test_greedyhash_value_and_straight_through_gradient_by_hand():
    loss = GreedyHashLoss(2, 2, 1, _generator(), alpha=0.1)
    with torch.no_grad():
        loss.classifier.weight.copy_(torch.eye(2))
    h = torch.tensor([[0.5, -2.0]], requires_grad=True)  # codes (1, -1): logits (1, -1)
    value = loss(loss.quantize(h), _one_hot([0], 2), torch.arange(1), None)
    penalty = (0.5**3 + 1.0**3) / 2
    expected_value = math.log1p(math.exp(-2.0)) + 0.1 * penalty
    assert float(value.detach()) == pytest.approx(expected_value, rel=1e-6)
    value.backward()
    p = 1 / (1 + math.exp(-2.0))  # softmax probability of class 0
    # Straight through: dL/dh = W^T (softmax - y) + alpha * d penalty / dh.
    expected = [(p - 1) + 0.1 * 3 * (-0.5) ** 2 * -1 / 2, (1 - p) + 0.1 * 3 * 1.0 * -1 / 2]
    assert h.grad[0].tolist() == pytest.approx(expected, rel=1e-6)


def test_greedyhash_multi_label_targets_are_a_distribution():
    loss = GreedyHashLoss(2, 2, 1, _generator(), alpha=0.0)
    with torch.no_grad():
        loss.classifier.weight.copy_(torch.eye(2))
    h = torch.tensor([[0.5, -2.0], [1.0, 1.0]])
    labels = torch.tensor([[1.0, 1.0], [0.0, 0.0]])  # the second point has no label
    value = loss(loss.quantize(h), labels, torch.arange(2), None)
    p = 1 / (1 + math.exp(-2.0))
    assert float(value.detach()) == pytest.approx(
        -0.5 * math.log(p) - 0.5 * math.log(1 - p), rel=1e-6
    )


def test_greedyhash_classifier_comes_from_the_generator_only():
    state = torch.random.get_rng_state()
    first = GreedyHashLoss(N_BITS, N_CLASSES, 5, _generator(5))
    assert torch.equal(torch.random.get_rng_state(), state)
    again = GreedyHashLoss(N_BITS, N_CLASSES, 5, _generator(5))
    assert torch.equal(first.classifier.weight, again.classifier.weight)
    assert first.classifier.bias is None
    assert first.classifier.weight.abs().max() <= 1 / math.sqrt(N_BITS)
    assert [name for name, _ in first.named_parameters()] == ["classifier.weight"]


def test_greedyhash_unsupervised_value_by_hand():
    loss = GreedyHashUnsupervisedLoss(2, None, 2, _generator(), alpha=0.1)
    h = torch.tensor([[0.5, 2.0], [1.0, -1.0]])  # codes (1, 1), (1, -1): cosine 0
    inputs = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    penalty = (0.5**3 + 1.0 + 0.0 + 0.0) / 4
    value = loss(loss.quantize(h), None, torch.arange(2), inputs)
    assert float(value) == pytest.approx(0.5 + 0.1 * penalty, rel=1e-6)


# --- toy optimisation: classes (or clusters) end up apart in Hamming space -------------


def _hamming_gap(h, groups):
    bits = (h.detach() >= 0).float()
    distances = bits @ (1 - bits).T + (1 - bits) @ bits.T
    same = groups[:, None] == groups[None, :]
    off = ~torch.eye(len(groups), dtype=torch.bool)
    return distances[same & off].mean(), distances[~same].mean()


def _train(loss, labels, inputs, parameters, outputs, steps=200, lr=0.05):
    optimizer = optim.Adam([*parameters, *loss.parameters()], lr=lr)
    index = torch.arange(40)
    for _ in range(steps):
        optimizer.zero_grad()
        _objective(loss, outputs(), labels, inputs, index).backward()
        optimizer.step()
    return outputs()


@pytest.mark.parametrize("cls", SUPERVISED, ids=lambda cls: cls.__name__)
def test_toy_training_separates_the_classes(cls):
    # The outputs are free parameters. DPSH's eta is scaled down with the training set:
    # its quantisation term is per point while its likelihood sums over all n_train pairs,
    # and eta = 10 on 40 points weighs as eta = 1,250 would on CIFAR-10's 5,000.
    params = {"eta": 0.1} if cls is DPSHLoss else {}
    classes = torch.arange(40) % 4
    h = torch.nn.Parameter(0.1 * torch.randn(40, N_BITS, generator=_generator(11)))
    h = _train(_loss(cls, n_train=40, **params), _one_hot(classes), None, [h], lambda: h)
    same, different = _hamming_gap(h, classes)
    assert same + 2 < different, (float(same), float(different))


@pytest.mark.parametrize("cls", UNSUPERVISED, ids=lambda cls: cls.__name__)
def test_toy_training_separates_the_clusters(cls):
    # The outputs come from a linear hash layer on 4 clusters of inputs, as in the papers
    # (a layer on fixed features): unsupervised codes must follow the inputs.
    clusters = torch.arange(40) % 4
    gen = _generator(12)
    centres = 3 * torch.randn(4, 32, generator=gen)
    inputs = centres[clusters] + 0.3 * torch.randn(40, 32, generator=gen)
    weights = torch.nn.Parameter(0.1 * torch.randn(32, N_BITS, generator=_generator(11)))
    h = _train(_loss(cls, n_train=40), None, inputs, [weights], lambda: inputs @ weights)
    same, different = _hamming_gap(h, clusters)
    assert same + 2 < different, (float(same), float(different))

"""Training of the stacked RBMs (:mod:`hashlearn.hashers.deep.rbm`): CD-1, then fine-tuning.

Three steps, all on the estimator's ``device`` with every random draw seeded from its
``random_state``:

* **Pretraining** (:func:`pretrain`): one RBM per layer, trained by one-step contrastive
  divergence (CD-1) with momentum and weight decay, bottom to top; the hidden
  probabilities of one RBM are the data of the next (Hinton and Salakhutdinov, Science
  2006). The bottom RBM's visible units are word counts (``"softmax"``: replicated softmax;
  ``"poisson"``: constrained Poisson), real values (``"gaussian"``, unit variance on
  standardised inputs) or probabilities (``"bernoulli"``, the layers above).
* **Autoencoder fine-tuning** (:func:`finetune_autoencoder`): the stack unrolled into an
  encoder and a decoder (untied copies of the transposed weights), trained by backprop on
  the multinomial cross-entropy of the document's word distribution, with fixed Gaussian
  noise added to the code layer's input (Salakhutdinov and Hinton, semantic hashing).
* **NCA fine-tuning** (:func:`finetune_nca`): the encoder alone, trained to put the
  probability mass of each point's stochastic neighbours (a softmax over minus squared
  code distances within a mini-batch) on points that share a label (Torralba, Fergus and
  Weiss, after Goldberger et al.'s neighbourhood components analysis).

Sparse inputs stay sparse on the host; each mini-batch is densified on its way to the
device. This module imports torch; the estimators import it only when they fit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from hashlearn.hashers.deep._torch import require_torch, torch_generator
from hashlearn.hashers.deep.curve import TrainingCurve

require_torch()  # a clear ImportError naming the extra when torch is missing
import torch  # noqa: E402

__all__ = ["Settings", "Source", "finetune_autoencoder", "finetune_nca", "pretrain", "start_curve"]

#: Rows per chunk when a whole training set goes through a layer (no gradients kept).
CHUNK = 2048
#: Visible unit types whose data are word counts (the document length enters the model).
COUNT_KINDS = ("softmax", "poisson")
#: The mean squared input norm at which ``learning_rate`` is the plain CD step size (a
#: binarised MNIST digit's is about 100, where Hinton's code steps by 0.1).
REFERENCE_NORM = 100.0
#: How much smaller the Gaussian layer's CD steps are than the others' (see :func:`_rates`).
GAUSSIAN_STEP = 0.2
#: Momentum of each RBM's first epochs, before ``momentum`` (Hinton's practical guide).
INITIAL_MOMENTUM = 0.5
INITIAL_MOMENTUM_EPOCHS = 5


@dataclass(frozen=True)
class Settings:
    """What the estimator asked for (its parameters, checked there)."""

    sizes: tuple[int, ...]
    bottom: str
    pretrain_epochs: int
    finetune_epochs: int
    batch_size: int
    learning_rate: float
    momentum: float
    weight_decay: float
    finetune_learning_rate: float
    noise_std: float = 0.0


class Source:
    """Training inputs of one layer, served in mini-batches on the device.

    A dense array moves to the device once; a sparse matrix stays on the host as CSR and
    each batch travels as a sparse torch tensor (the whole corpus is never densified, and
    the products with it cost its non-zeros, not its vocabulary). Every value is
    multiplied by ``scale`` on its way.
    """

    def __init__(self, X: Any, device: Any, scale: float = 1.0) -> None:
        self.device = device
        self.scale = float(scale)
        self.host = sp.csr_matrix(X, dtype=np.float32) if sp.issparse(X) else None
        self.data = (
            None
            if self.host is not None
            else torch.as_tensor(np.asarray(X, dtype=np.float32), device=device)
        )
        self.n, self.n_features = int(X.shape[0]), int(X.shape[1])

    def batch(self, rows: np.ndarray) -> Any:
        """The rows ``rows`` as a float32 tensor on the device (sparse COO for sparse X)."""
        if self.host is not None:
            block = self.host[rows].tocoo()
            indices = torch.from_numpy(np.vstack([block.row, block.col]).astype(np.int64))
            values = torch.from_numpy(block.data * np.float32(self.scale))
            return torch.sparse_coo_tensor(
                indices,
                values,
                block.shape,
                device=self.device,
                is_coalesced=True,  # CSR rows in order, duplicates summed at validation
                check_invariants=False,
            )
        assert self.data is not None
        batch = self.data[torch.as_tensor(rows, device=self.device)]
        return batch * self.scale if self.scale != 1.0 else batch

    def chunks(self) -> Iterator[Any]:
        """Every row in order, :data:`CHUNK` at a time."""
        for start in range(0, self.n, CHUNK):
            yield self.batch(np.arange(start, min(start + CHUNK, self.n)))


# -- products that keep sparse batches sparse ------------------------------------------------
def _matmul(v: Any, weights: Any) -> Any:
    return torch.sparse.mm(v, weights) if v.is_sparse else v @ weights


def _transposed_matmul(v: Any, other: Any) -> Any:
    """``v.T @ other``."""
    return torch.sparse.mm(v.t(), other) if v.is_sparse else v.T @ other


def _row_sums(v: Any) -> Any:
    """``(n, 1)``: each row's sum (a document's length)."""
    if v.is_sparse:
        return torch.sparse.sum(v, 1).to_dense().reshape(-1, 1)
    return v.sum(1, keepdim=True)


def _column_sums(v: Any) -> Any:
    return torch.sparse.sum(v, 0).to_dense() if v.is_sparse else v.sum(0)


def _row_dot(v: Any, other: Any) -> Any:
    """``(n,)``: each row's dot product ``sum_j v_ij other_ij`` (``other`` dense)."""
    if not v.is_sparse:
        return (v * other).sum(1)
    rows, columns = v.indices()
    products = v.values() * other[rows, columns]
    return torch.zeros(v.shape[0], device=v.device, dtype=other.dtype).index_add_(0, rows, products)


def _squared_norms(v: Any) -> Any:
    if not v.is_sparse:
        return v.double().pow(2).sum(1)
    rows, _ = v.indices()
    squares = v.values().double().pow(2)
    return torch.zeros(v.shape[0], device=v.device, dtype=torch.float64).index_add_(
        0, rows, squares
    )


def _word_cross_entropy(v: Any, logits: Any, length: Any) -> Any:
    """Mean over documents of ``-sum_i (v_i / D) log softmax(logits)_i`` (an empty
    document contributes 0)."""
    log_q = torch.log_softmax(logits, dim=1)
    return -(_row_dot(v, log_q) / length.reshape(-1).clamp_min(1e-12)).mean()


@dataclass
class Layer:
    """One RBM: ``weights (n_visible, n_hidden)`` and the two biases, as torch tensors.

    The hidden input is ``v @ weights + hidden_bias``; for replicated softmax visible
    units the hidden bias is multiplied by the document length ``D = sum(v)`` (the bias
    of the ``D`` replicated softmax units that share the hidden units).
    """

    kind: str
    weights: Any
    hidden_bias: Any
    visible_bias: Any

    def hidden_input(self, v: Any) -> Any:
        """Pre-activations of the hidden units given visible values ``v``."""
        if self.kind == "softmax":
            return _matmul(v, self.weights) + _row_sums(v) * self.hidden_bias
        return _matmul(v, self.weights) + self.hidden_bias

    def visible_logits(self, h: Any) -> Any:
        return h @ self.weights.T + self.visible_bias

    def visible_mean(self, logits: Any, length: Any) -> Any:
        """Mean visible values given the logits: probabilities, Gaussian means, or the
        expected counts ``D * softmax`` of a document of length ``D`` (both count models)."""
        if self.kind == "bernoulli":
            return torch.sigmoid(logits)
        if self.kind == "gaussian":
            return logits
        return length * torch.softmax(logits, dim=1)

    def error(self, v: Any, logits: Any, mean: Any, length: Any) -> Any:
        """Reconstruction error of a batch: the multinomial cross-entropy of the word
        distribution for counts (nats per document), the mean squared error per unit
        otherwise."""
        if self.kind in COUNT_KINDS:
            return _word_cross_entropy(v, logits, length)
        return (v - mean).pow(2).mean()


def start_curve(device: Any) -> TrainingCurve:
    """An empty curve for a fit on ``device``."""
    return TrainingCurve(
        device=str(device), torch=torch.__version__, threads=torch.get_num_threads()
    )


def _row(
    curve: TrainingCurve,
    stage: str,
    layer: int | None,
    loss: float,
    seconds: float,
    n: int,
    rate: float,
) -> None:
    curve.epochs.append(
        {
            "epoch": len(curve.epochs) + 1,
            "stage": stage,
            "layer": layer,
            "loss": loss,
            "score": None,
            "seconds": seconds,
            "images_per_second": n / seconds if seconds > 0 else None,
            "learning_rate": rate,
        }
    )
    curve.best_epoch = len(curve.epochs)
    curve.seconds += seconds


def _batches(n: int, batch_size: int, generator: Any) -> list[np.ndarray]:
    """A shuffled epoch's row batches; the remainder joins the last batch (as the deep
    trainer does), so no batch is tiny."""
    order = torch.randperm(n, generator=generator).numpy()
    count = max(1, n // batch_size)
    return [
        order[i * batch_size : (i + 1) * batch_size if i < count - 1 else n] for i in range(count)
    ]


# -- pretraining ----------------------------------------------------------------------------------
def _statistics(kind: str, source: Source) -> tuple[np.ndarray, float, float]:
    """What the layer's training data say before any learning: ``(visible_bias, norm,
    length)``.

    ``visible_bias`` reconstructs the data's mean: log word frequencies (add-one smoothed)
    for counts, log-odds of the mean for probabilities, zero for standardised Gaussian
    inputs. ``norm`` is the median squared norm of an input and ``length`` the median sum
    (a document's length), which set the step sizes (:func:`_rates`); medians, because a
    few very long posts (20 Newsgroups has one of 12,516 words where the median is 62)
    would otherwise set every step.
    """
    total = torch.zeros(source.n_features, dtype=torch.float64, device=source.device)
    norms, lengths = [], []
    for chunk in source.chunks():
        total += _column_sums(chunk).double()
        norms.append(_squared_norms(chunk).cpu().numpy())
        lengths.append(_row_sums(chunk).double().reshape(-1).cpu().numpy())
    totals = total.cpu().numpy()
    norm, length = (
        float(np.median(np.concatenate(norms))),
        float(np.median(np.concatenate(lengths))),
    )
    if kind == "gaussian":
        bias = np.zeros(source.n_features)
    elif kind in COUNT_KINDS:
        bias = np.log((totals + 1.0) / (totals.sum() + totals.size))
    else:
        mean = np.clip(totals / source.n, 1e-3, 1 - 1e-3)
        bias = np.log(mean / (1 - mean))
    return bias.astype(np.float32), norm, length


def _rates(
    kind: str, learning_rate: float, norm: float, length: float, n_hidden: int
) -> tuple[float, ...]:
    """Step sizes of ``(weights, hidden biases, visible biases)``.

    A CD step on the weights moves a hidden unit's input by about ``rate * ||v||^2`` times
    its error, and a visible unit's reconstruction by about ``rate * ||h||^2`` (``||h||^2``
    is about ``n_hidden / 2`` for hidden units near 0.5). Every rate is therefore
    ``learning_rate * REFERENCE_NORM / max(norm, n_hidden / 2)``, so that
    ``learning_rate`` means the same for standardised GIST (``norm`` = 512),
    L2-normalised TF-IDF (1), raw counts (hundreds) and hidden probabilities. The
    Gaussian layer's rates are multiplied by :data:`GAUSSIAN_STEP`: its reconstruction is
    linear, with no logistic to absorb a large step (Hinton's guide advises smaller steps
    there; 0.2 did as well as any of 0.01 to 1 on CIFAR-10 GIST, T = 1,000). The
    replicated softmax hidden bias enters ``D`` times; its rate is divided by the squared
    median length, so it moves a median document's hidden input as much as an ordinary
    bias moves any input.
    ``norm`` and ``length`` are medians (:func:`_statistics`).
    """
    rate = learning_rate * REFERENCE_NORM / max(norm, n_hidden / 2, 1e-12)
    if kind == "gaussian":
        rate *= GAUSSIAN_STEP
    hidden = rate / max(length, 1e-12) ** 2 if kind == "softmax" else rate
    return rate, hidden, rate


def _cd_step(
    layer: Layer,
    v: Any,
    velocity: list[Any],
    rates: tuple[float, ...],
    momentum: float,
    weight_decay: float,
    generator: Any,
) -> Any:
    """One CD-1 update from the batch ``v``; returns its reconstruction error.

    Positive phase: hidden probabilities ``p0`` and a binary sample ``h0``; reconstruction:
    the mean visible values given ``h0`` (probabilities rather than samples, as Hinton's
    practical guide recommends); negative phase: hidden probabilities ``p1`` of the
    reconstruction. The step is ``momentum * previous + rate * (gradient - weight_decay *
    weights)`` (no decay on biases).
    """
    n = v.shape[0]
    length = _row_sums(v) if layer.kind in COUNT_KINDS else None
    p0 = torch.sigmoid(layer.hidden_input(v))
    h0 = (torch.rand(p0.shape, generator=generator, device=v.device) < p0).to(v.dtype)
    logits = layer.visible_logits(h0)
    v1 = layer.visible_mean(logits, length)
    p1 = torch.sigmoid(layer.hidden_input(v1))
    gradient_w = (_transposed_matmul(v, p0) - v1.T @ p1) / n
    if layer.kind == "softmax":  # the hidden bias enters D times
        assert length is not None
        gradient_b = (length * (p0 - p1)).sum(0) / n
    else:
        gradient_b = (p0 - p1).mean(0)
    gradient_c = (_column_sums(v) - v1.sum(0)) / n
    parameters = (layer.weights, layer.hidden_bias, layer.visible_bias)
    gradients = (gradient_w - weight_decay * layer.weights, gradient_b, gradient_c)
    for parameter, step, gradient, rate in zip(parameters, velocity, gradients, rates, strict=True):
        step.mul_(momentum).add_(gradient, alpha=rate)
        parameter.add_(step)
    return layer.error(v, logits, v1, length)


def _train_layer(
    layer: Layer,
    source: Source,
    settings: Settings,
    index: int,
    statistics: tuple[float, float],
    generators: tuple[Any, Any],
    curve: TrainingCurve,
    tick: Callable[[str], None],
) -> None:
    order_generator, sample_generator = generators
    rates = _rates(layer.kind, settings.learning_rate, *statistics, layer.hidden_bias.numel())
    velocity = [torch.zeros_like(p) for p in (layer.weights, layer.hidden_bias, layer.visible_bias)]
    for epoch in range(settings.pretrain_epochs):
        momentum = INITIAL_MOMENTUM if epoch < INITIAL_MOMENTUM_EPOCHS else settings.momentum
        started = time.perf_counter()
        total = torch.zeros((), device=source.device)
        batches = _batches(source.n, settings.batch_size, order_generator)
        for rows in batches:
            error = _cd_step(
                layer,
                source.batch(rows),
                velocity,
                rates,
                momentum,
                settings.weight_decay,
                sample_generator,
            )
            total += error
        loss = float(total) / len(batches)
        if not np.isfinite(loss):
            raise FloatingPointError(
                f"the reconstruction error of RBM {index + 1} became {loss} at epoch "
                f"{epoch + 1}; lower learning_rate"
            )
        seconds = time.perf_counter() - started
        _row(curve, "pretrain", index + 1, loss, seconds, source.n, rates[0])
        tick(f"RBM {index + 1} epoch {epoch + 1}: reconstruction error {loss:.4f}")


def pretrain(
    source: Source,
    settings: Settings,
    rng: np.random.Generator,
    curve: TrainingCurve,
    tick: Callable[[str], None],
) -> list[Layer]:
    """Train one RBM per layer of ``settings.sizes``, bottom to top (CD-1).

    Weights start as ``N(0, 0.01^2)`` draws from ``rng``, hidden biases at zero, visible
    biases at the data's mean (:func:`_statistics`).
    """
    device = source.device
    generators = (torch_generator(rng), torch_generator(rng, device))
    layers = []
    kind = settings.bottom
    for index, n_hidden in enumerate(settings.sizes):
        visible_bias, norm, length = _statistics(kind, source)
        layer = Layer(
            kind=kind,
            weights=_tensor(rng.normal(0.0, 0.01, (source.n_features, n_hidden)), device),
            hidden_bias=torch.zeros(n_hidden, device=device),
            visible_bias=_tensor(visible_bias, device),
        )
        _train_layer(layer, source, settings, index, (norm, length), generators, curve, tick)
        layers.append(layer)
        if index + 1 < len(settings.sizes):
            with torch.no_grad():
                hidden = torch.cat(
                    [torch.sigmoid(layer.hidden_input(chunk)) for chunk in source.chunks()]
                )
            source = Source(hidden, device)
            kind = "bernoulli"
    return layers


def _tensor(array: np.ndarray, device: Any) -> Any:
    return torch.as_tensor(np.asarray(array, dtype=np.float32), device=device)


# -- fine-tuning --------------------------------------------------------------------------------
def _encoder_parameters(layers: list[Layer]) -> list[tuple[Any, Any]]:
    return [
        (layer.weights.clone().requires_grad_(), layer.hidden_bias.clone().requires_grad_())
        for layer in layers
    ]


def _code_input(encoder: list[tuple[Any, Any]], bottom: str, v: Any) -> Any:
    """The code layer's input (pre-activation) of the batch ``v``: logistic hidden layers,
    the bottom one with the document-length-scaled bias of replicated softmax."""
    activations = v
    for index, (weights, bias) in enumerate(encoder):
        scale = _row_sums(activations) if index == 0 and bottom == "softmax" else 1.0
        pre = _matmul(activations, weights) + scale * bias
        if index == len(encoder) - 1:
            return pre
        activations = torch.sigmoid(pre)
    raise AssertionError("an encoder has at least one layer")


def _epochs(
    settings: Settings,
    source: Source,
    parameters: list[Any],
    loss_of: Callable[[np.ndarray], Any],
    generator: Any,
    curve: TrainingCurve,
    tick: Callable[[str], None],
    what: str,
) -> None:
    """``settings.finetune_epochs`` passes of Adam over ``loss_of(rows)``."""
    optimizer = torch.optim.Adam(parameters, lr=settings.finetune_learning_rate)
    for epoch in range(settings.finetune_epochs):
        started = time.perf_counter()
        total = torch.zeros((), device=source.device)
        batches = _batches(source.n, settings.batch_size, generator)
        for rows in batches:
            value = loss_of(rows)
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            optimizer.step()
            total += value.detach()
        loss = float(total) / len(batches)
        if not np.isfinite(loss):
            raise FloatingPointError(
                f"the fine-tuning loss became {loss} at epoch {epoch + 1}; lower "
                "finetune_learning_rate"
            )
        seconds = time.perf_counter() - started
        _row(curve, "finetune", None, loss, seconds, source.n, settings.finetune_learning_rate)
        tick(f"fine-tuning epoch {epoch + 1}: {what} {loss:.4f}")


def finetune_autoencoder(
    layers: list[Layer],
    source: Source,
    settings: Settings,
    rng: np.random.Generator,
    curve: TrainingCurve,
    tick: Callable[[str], None],
) -> list[tuple[Any, Any]]:
    """Fine-tune the unrolled autoencoder of a count-visible stack; returns the encoder.

    Encoder: the RBMs' weights and hidden biases; code layer ``sigmoid(input + noise)``,
    ``noise`` drawn once per training document and code unit from ``N(0, noise_std^2)``
    and the same at every epoch (the paper's *deterministic* noise: to carry information
    through it the code inputs must grow large, so the code units end up near 0 or 1).
    Decoder: the transposed weights and the visible biases, untied, logistic layers, a
    softmax over the words at the bottom. Loss: the cross-entropy between the document's
    word distribution ``v / sum(v)`` and the softmax (nats per document; an empty
    document contributes nothing).
    """
    device = source.device
    order_generator = torch_generator(rng)
    noise = torch.randn(
        (source.n, settings.sizes[-1]), generator=torch_generator(rng, device), device=device
    ).mul_(settings.noise_std)
    encoder = _encoder_parameters(layers)
    decoder = [
        (
            layer.weights.T.clone().contiguous().requires_grad_(),
            layer.visible_bias.clone().requires_grad_(),
        )
        for layer in reversed(layers)
    ]

    def loss_of(rows: np.ndarray) -> Any:
        v = source.batch(rows)
        index = torch.as_tensor(rows, device=device)
        activations = torch.sigmoid(_code_input(encoder, settings.bottom, v) + noise[index])
        for position, (weights, bias) in enumerate(decoder):
            logits = activations @ weights + bias
            if position < len(decoder) - 1:
                activations = torch.sigmoid(logits)
        return _word_cross_entropy(v, logits, _row_sums(v))

    parameters = [p for pair in (*encoder, *decoder) for p in pair]
    _epochs(settings, source, parameters, loss_of, order_generator, curve, tick, "cross-entropy")
    return encoder


def finetune_nca(
    layers: list[Layer],
    source: Source,
    labels: np.ndarray,
    settings: Settings,
    rng: np.random.Generator,
    curve: TrainingCurve,
    tick: Callable[[str], None],
) -> list[tuple[Any, Any]]:
    """Fine-tune the encoder with mini-batch NCA on its code units; returns the encoder.

    For each point ``i`` of a batch, ``p_ij = exp(-d_ij) / sum_{k != i} exp(-d_ik)`` over
    the other points of the batch, ``d_ij`` the squared Euclidean distance between the
    logistic code units ``sigmoid(code input)`` (the Hamming distance when they are
    binary). The loss is minus the mean over the batch of ``p_i = sum_j p_ij`` over the
    ``j`` sharing a label with ``i`` (NCA's expected number of correctly classified
    points, per point). ``labels`` is a 0/1 matrix ``(n, n_labels)``.
    """
    device = source.device
    order_generator = torch_generator(rng)
    targets = torch.as_tensor(labels, dtype=torch.float32, device=device)
    encoder = _encoder_parameters(layers)

    def loss_of(rows: np.ndarray) -> Any:
        codes = torch.sigmoid(_code_input(encoder, settings.bottom, source.batch(rows)))
        return -neighbour_probability(codes, targets[torch.as_tensor(rows, device=device)])

    parameters = [p for pair in encoder for p in pair]
    _epochs(settings, source, parameters, loss_of, order_generator, curve, tick, "minus NCA")
    return encoder


def neighbour_probability(codes: Any, labels: Any) -> Any:
    """NCA's mean probability that a point's stochastic neighbour shares one of its labels.

    ``codes`` ``(n, n_bits)``, ``labels`` 0/1 ``(n, n_labels)``; see :func:`finetune_nca`.
    """
    squared = (codes * codes).sum(1)
    distances = (squared[:, None] + squared[None, :] - 2.0 * codes @ codes.T).clamp_min(0.0)
    eye = torch.eye(codes.shape[0], dtype=torch.bool, device=codes.device)
    probabilities = torch.softmax(-distances.masked_fill(eye, float("inf")), dim=1)
    same = ((labels @ labels.T) > 0) & ~eye
    return (probabilities * same).sum(1).mean()

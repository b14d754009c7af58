"""The one training loop of every deep hasher.

A method is a loss module (:mod:`hashlearn.hashers.deep.losses`) plus defaults; this loop
is the same for all of them:

* **Seeds.** Every random draw comes from the estimator's ``random_state``: the split,
  the batch order (a CPU :class:`torch.Generator`), the augmentation (a generator on the
  device), and the weights and dropout (torch's default generator, seeded inside
  :func:`torch.random.fork_rng` so the caller's global state is left as it was). The same
  seed on the CPU gives the same codes.
* **Validation split.** ``validation_fraction`` of the training data (stratified by label)
  is held out; never the queries, which the estimator never sees during ``fit``. Each
  epoch ends with its score: mAP@all of the validation points ranking (at most
  ``validation_database``) training points for supervised methods, the loss on the
  validation points for unsupervised ones. The best epoch's network is kept; ``patience``
  epochs without a better score stop the training.
* **Speed.** Training data sits on the device once (images as uint8); batches are cut,
  converted to float and augmented there (:func:`~hashlearn.hashers.deep.data.augment`).
  Sparse vectors stay a CSR matrix on the host, densified one batch at a time.
  On CUDA: channels-last memory and bfloat16 autocast (``amp``).
* **Checkpoints.** With ``checkpoint=path`` the full training state is written after
  every epoch (:mod:`~hashlearn.hashers.deep.checkpoint`); a fit started again with the
  same path, data and parameters continues after the last finished epoch.
* **Curve.** Loss, validation score, seconds and images per second of every epoch, the
  device and the best epoch, kept on the estimator and written into the records.
"""

from __future__ import annotations

import copy
import hashlib
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hashlearn._progress import Progress, progress_bar
from hashlearn.codes import binarize
from hashlearn.evaluation import mean_average_precision
from hashlearn.hashers.deep._torch import require_torch, torch_generator
from hashlearn.hashers.deep.checkpoint import CheckpointError, read_checkpoint, write_checkpoint
from hashlearn.hashers.deep.config import TrainConfig
from hashlearn.hashers.deep.curve import TrainingCurve
from hashlearn.hashers.deep.data import Inputs, augment

require_torch()  # a clear ImportError naming the extra when torch is missing
import torch  # noqa: E402

__all__ = ["TrainingCurve", "network_outputs", "train"]

#: Inputs per forward pass when encoding (no gradients are kept, so it can be large).
ENCODE_BATCH = 512


# -- inputs on the device ----------------------------------------------------------------------
def _to_float(batch: Any, images: bool) -> Any:
    """A batch as float: images from uint8 to ``[0, 1]`` (channels-last on CUDA)."""
    if not images:
        return batch.float()
    batch = batch.float().div_(255.0)
    if batch.device.type == "cuda":
        batch = batch.contiguous(memory_format=torch.channels_last)
    return batch


class _TrainingData:
    """The training inputs, indexed by a batch's rows: a tensor on the device, or (sparse
    vectors) a CSR matrix on the host whose rows densify per batch."""

    def __init__(self, inputs: Inputs, device: Any) -> None:
        self.device = device
        self.shape = inputs.array.shape
        self.sparse = inputs if inputs.sparse else None
        self.tensor = None if inputs.sparse else torch.from_numpy(inputs.array).to(device)

    def __getitem__(self, rows: Any) -> Any:
        if self.sparse is None:
            assert self.tensor is not None
            return self.tensor[rows]
        batch = self.sparse.dense(rows.cpu().numpy())
        return torch.from_numpy(batch).to(self.device, non_blocking=True)


def network_outputs(network: Any, inputs: Inputs, device: Any) -> np.ndarray:
    """The network's real outputs for every input, ``float32 (n, n_bits)``, in eval mode."""
    network.eval()
    outputs = []
    with torch.no_grad():
        for start in range(0, len(inputs), ENCODE_BATCH):
            batch = torch.from_numpy(inputs.dense(slice(start, start + ENCODE_BATCH))).to(device)
            with _autocast(device, enabled=True):
                result = network(_to_float(batch, inputs.images))
            outputs.append(result.float().cpu().numpy())
    return np.concatenate(outputs)


def _autocast(device: Any, enabled: bool) -> Any:
    if device.type == "cuda" and enabled:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


# -- the split ---------------------------------------------------------------------------------
def split_validation(
    n: int, labels: np.ndarray | None, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``(train_rows, validation_rows)``: ``round(fraction * n)`` rows held out, stratified
    by label (the label pattern's rows for multi-label data) when labels are given."""
    n_validation = round(fraction * n)
    if n_validation == 0:
        return np.arange(n), np.empty(0, dtype=np.int64)
    if n - n_validation < 2:
        raise ValueError(
            f"validation_fraction={fraction} leaves {n - n_validation} training points of "
            f"{n}; lower it or give more data"
        )
    order = rng.permutation(n)
    if labels is None:
        return np.sort(order[n_validation:]), np.sort(order[:n_validation])
    # Stratify: take every k-th row of the permuted rows sorted by label pattern.
    keys = labels[order].argmax(axis=1) if labels.shape[1] else np.zeros(n)
    grouped = order[np.argsort(keys, kind="stable")]
    picks = np.round(np.linspace(0, n - 1, n_validation)).astype(np.int64)
    mask = np.zeros(n, dtype=bool)
    mask[grouped[picks]] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


# -- one epoch ---------------------------------------------------------------------------------
@dataclass
class _State:
    """Everything the loop changes (and a checkpoint saves)."""

    network: Any
    loss: Any
    optimizer: Any
    order_generator: Any
    augment_generator: Any
    curve: TrainingCurve
    device: Any
    best: dict[str, Any] | None = None
    best_score: float = -math.inf
    epoch: int = 0  # the next epoch to run


def _learning_rate(config: TrainConfig, step: int, total: int, per_epoch: int) -> float:
    warmup = config.warmup_epochs * per_epoch
    if step < warmup:
        return config.learning_rate * (step + 1) / warmup
    if config.schedule == "constant":
        return config.learning_rate
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * config.learning_rate * (1 + math.cos(math.pi * min(progress, 1.0)))


def _run_epoch(
    state: _State, data: Any, labels: Any, config: TrainConfig, device: Any, images: bool
) -> tuple[float, float]:
    """One pass over the training split; returns (mean loss, seconds)."""
    state.network.train()
    state.loss.train()
    n = data.shape[0]
    per_epoch = max(1, n // config.batch_size)
    order = torch.randperm(n, generator=state.order_generator).to(device)
    total_loss = 0.0
    started = time.perf_counter()
    for batch_number in range(per_epoch):
        rows = order[batch_number * config.batch_size : (batch_number + 1) * config.batch_size]
        if batch_number == per_epoch - 1:
            rows = order[batch_number * config.batch_size :]  # the remainder joins the last
        step = state.epoch * per_epoch + batch_number
        rate = _learning_rate(config, step, config.epochs * per_epoch, per_epoch)
        for group in state.optimizer.param_groups:
            group["lr"] = rate
        inputs = _to_float(data[rows], images)
        if images and config.augment:
            inputs = augment(inputs, state.augment_generator)
        with _autocast(device, config.amp):
            codes = state.loss.quantize(state.network(inputs).float())
            value = state.loss(codes, None if labels is None else labels[rows], rows, inputs)
        if not torch.isfinite(value):
            raise FloatingPointError(
                f"the training loss became {value.item()} at epoch {state.epoch + 1}; lower "
                "learning_rate or check the inputs"
            )
        state.optimizer.zero_grad(set_to_none=True)
        value.backward()
        state.optimizer.step()
        total_loss += float(value.detach())
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return total_loss / per_epoch, time.perf_counter() - started


def _score(
    state: _State,
    inputs: Inputs,
    labels: np.ndarray | None,
    rows: tuple[np.ndarray, np.ndarray],
    device: Any,
) -> float | None:
    """Validation mAP (supervised) or minus the mean validation loss (unsupervised)."""
    database_rows, validation_rows = rows
    if validation_rows.size == 0:
        return None
    held_out = inputs.take(validation_rows)
    outputs = network_outputs(state.network, held_out, device)
    if labels is not None and getattr(state.loss, "supervised", True):
        database = inputs.take(database_rows)
        database_codes = binarize(network_outputs(state.network, database, device))
        threads = torch.get_num_threads()
        try:
            result = mean_average_precision(
                binarize(outputs), database_codes, labels[validation_rows], labels[database_rows]
            )
        finally:
            # numba's first parallel call starts an OpenMP pool that resets the thread count
            # torch shares with it; results depend on it, so keep the caller's.
            torch.set_num_threads(threads)
        return float(result.value)
    state.loss.eval()
    with torch.no_grad():
        tensor = torch.from_numpy(outputs).to(device)
        x = _to_float(torch.from_numpy(held_out.dense(slice(None))).to(device), inputs.images)
        value = state.loss(state.loss.quantize(tensor), None, torch.arange(len(held_out)), x)
    return -float(value)


# -- checkpoints -------------------------------------------------------------------------------
def _fingerprint(meta: dict[str, Any]) -> str:
    text = repr(sorted(meta.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _save(state: _State, path: Path, fingerprint: str) -> None:
    write_checkpoint(
        path,
        meta={
            "fingerprint": fingerprint,
            "epoch": state.epoch,
            "best_score": state.best_score if math.isfinite(state.best_score) else None,
            "curve": state.curve.to_dict(),
        },
        network=state.network.state_dict(),
        best=state.best,
        loss=state.loss.state_dict(),
        optimizer=state.optimizer.state_dict(),
        generators={
            "order": state.order_generator.get_state(),
            "augment": state.augment_generator.get_state(),
            # Dropout draws from torch's default generators (forked by the estimator).
            "default": torch.get_rng_state(),
            **(
                {"cuda": torch.cuda.get_rng_state(state.device)}
                if state.device.type == "cuda"
                else {}
            ),
        },
    )


def _resume(state: _State, path: Path, fingerprint: str) -> None:
    saved = read_checkpoint(path)
    meta = saved["meta"]
    if meta.get("fingerprint") != fingerprint:
        raise CheckpointError(
            f"{path} is the checkpoint of another training run (other data, method or "
            "parameters); delete it or choose another checkpoint path"
        )
    state.network.load_state_dict(saved["network"])
    state.loss.load_state_dict(saved["loss"])
    state.optimizer.load_state_dict(saved["optimizer"])
    state.order_generator.set_state(saved["generators"]["order"])
    state.augment_generator.set_state(saved["generators"]["augment"])
    torch.set_rng_state(saved["generators"]["default"])
    if "cuda" in saved["generators"] and state.device.type == "cuda":
        torch.cuda.set_rng_state(saved["generators"]["cuda"], state.device)
    state.best = saved["best"]
    state.best_score = -math.inf if meta["best_score"] is None else float(meta["best_score"])
    state.curve = TrainingCurve.from_dict(meta["curve"])
    state.epoch = int(meta["epoch"])


# -- the loop ----------------------------------------------------------------------------------
def train(
    network: Any,
    loss: Any,
    inputs: Inputs,
    labels: np.ndarray | None,
    config: TrainConfig,
    *,
    device: Any,
    rng: np.random.Generator,
    rows: tuple[np.ndarray, np.ndarray],
    progress: Progress = False,
    checkpoint: str | Path | None = None,
    identity: dict[str, Any] | None = None,
) -> TrainingCurve:
    """Train ``network`` with ``loss`` on ``inputs``; the best network is loaded at the end.

    Parameters
    ----------
    network, loss : torch.nn.Module
        On ``device`` already. The optimizer (AdamW) updates both (a loss may hold
        parameters, e.g. GreedyHash's classifier).
    inputs : Inputs
        Every training point; ``rows = (train_rows, validation_rows)`` splits them
        (:func:`split_validation`).
    labels : ndarray of float32, shape (n, n_labels), or None
        0/1 labels (one-hot for classes).
    config : TrainConfig
    device : torch.device
    rng : numpy.random.Generator
        The source of the batch order and augmentation seeds.
    progress : bool or callable
        A bar (True), silence (False) or a callable receiving one line per epoch.
    checkpoint : path, optional
        Where to keep the training state after each epoch, and to resume from.
    identity : dict, optional
        What identifies this run in a checkpoint (method, parameters, data hash).

    Returns
    -------
    TrainingCurve
    """
    train_rows, validation_rows = rows
    data = _TrainingData(inputs.take(train_rows), device)
    train_labels = None if labels is None else torch.from_numpy(labels[train_rows]).to(device)
    params = [*network.parameters(), *loss.parameters()]
    state = _State(
        network=network,
        loss=loss,
        optimizer=torch.optim.AdamW(
            params, lr=config.learning_rate, weight_decay=config.weight_decay
        ),
        order_generator=torch_generator(rng),
        augment_generator=torch_generator(rng, device),
        curve=TrainingCurve(
            device=str(device), torch=torch.__version__, threads=torch.get_num_threads()
        ),
        device=device,
    )
    supervised = labels is not None and getattr(loss, "supervised", True)
    state.curve.metric = (
        "none"
        if validation_rows.size == 0
        else ("validation mAP" if supervised else "minus validation loss")
    )
    path = Path(checkpoint) if checkpoint is not None else None
    fingerprint = _fingerprint(
        {**(identity or {}), **config.to_dict(), "n": len(inputs), "shape": inputs.shape}
    )
    if path is not None and path.exists():
        _resume(state, path, fingerprint)
    database = (train_rows[: config.validation_database], validation_rows)
    tick, close = progress_bar(progress, config.epochs, desc="training", unit="epoch")
    started = time.perf_counter() - state.curve.seconds
    waited = _epochs_since_best(state.curve)
    try:
        while state.epoch < config.epochs and not state.curve.stopped_early:
            loss.start_epoch(state.epoch, config.epochs)
            mean_loss, seconds = _run_epoch(
                state, data, train_labels, config, device, inputs.images
            )
            score = _score(state, inputs, labels, database, device)
            state.curve.epochs.append(
                {
                    "epoch": state.epoch + 1,
                    "loss": mean_loss,
                    "score": score,
                    "seconds": seconds,
                    "images_per_second": len(train_rows) / seconds if seconds > 0 else None,
                    "learning_rate": state.optimizer.param_groups[0]["lr"],
                    **loss.state(),
                }
            )
            waited += 1
            if score is None or score > state.best_score:
                state.best_score = -math.inf if score is None else score
                state.best = copy.deepcopy(network.state_dict())
                state.curve.best_epoch = state.epoch + 1
                waited = 0
            state.epoch += 1
            if config.patience is not None and score is not None and waited >= config.patience:
                state.curve.stopped_early = True
            state.curve.seconds = time.perf_counter() - started
            if path is not None:
                _save(state, path, fingerprint)
            tick(_epoch_line(state.curve))
    finally:
        close()
    if state.best is not None:
        network.load_state_dict(state.best)
    return state.curve


def _epochs_since_best(curve: TrainingCurve) -> int:
    if curve.best_epoch is None or not curve.epochs:
        return 0
    return curve.epochs[-1]["epoch"] - curve.best_epoch


def _epoch_line(curve: TrainingCurve) -> str:
    row = curve.epochs[-1]
    score = "" if row["score"] is None else f", {curve.metric} {row['score']:.4f}"
    speed = row["images_per_second"] or 0.0
    return f"epoch {row['epoch']}: loss {row['loss']:.4f}{score}, {speed:,.0f} inputs/s"

"""The training hyperparameters of every deep hasher, as one frozen dataclass."""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["TrainConfig"]

SCHEDULES = ("cosine", "constant")


@dataclass(frozen=True)
class TrainConfig:
    """How the trainer optimises a deep hasher (the estimator builds it from its parameters).

    Parameters
    ----------
    epochs : int, default 50
        Passes over the training split.
    batch_size : int, default 128
        Training points per step (pairwise losses compare the points of a batch).
    learning_rate : float, default 1e-3
        Peak learning rate of Adam (AdamW with ``weight_decay``).
    weight_decay : float, default 5e-4
        Decoupled weight decay.
    schedule : {"cosine", "constant"}, default "cosine"
        Learning rate over the steps: cosine decay to 0 after ``warmup_epochs`` of linear
        warm-up, or constant.
    warmup_epochs : int, default 0
        Epochs of linear warm-up.
    validation_fraction : float, default 0.1
        Share of the training data held out for model selection and early stopping
        (stratified by label); 0 disables both (the last epoch's network is kept).
    validation_database : int, default 5000
        Training points (at most) that the validation queries rank when scoring mAP.
    patience : int or None, default 10
        Epochs without a better validation score before stopping; None: never stop early.
    augment : bool, default True
        Random crops (4-pixel padding) and horizontal flips of training images.
    amp : bool, default True
        Mixed precision (bfloat16 autocast) on CUDA; ignored on the CPU.
    """

    epochs: int = 50
    batch_size: int = 128
    learning_rate: float = 1e-3
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    warmup_epochs: int = 0
    validation_fraction: float = 0.1
    validation_database: int = 5000
    patience: int | None = 10
    augment: bool = True
    amp: bool = True

    def __post_init__(self) -> None:
        _int(self.epochs, "epochs", 1)
        _int(self.batch_size, "batch_size", 2)
        _int(self.warmup_epochs, "warmup_epochs", 0)
        _int(self.validation_database, "validation_database", 1)
        if self.patience is not None:
            _int(self.patience, "patience", 1)
        _real(self.learning_rate, "learning_rate", low=0, low_open=True)
        _real(self.weight_decay, "weight_decay", low=0)
        _real(self.validation_fraction, "validation_fraction", low=0, high=0.5)
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        for name in ("augment", "amp"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")

    def to_dict(self) -> dict[str, Any]:
        """The configuration as plain values (records, checkpoints)."""
        return asdict(self)


def _int(value: Any, name: str, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int >= {low}, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value}")


def _real(
    value: Any, name: str, *, low: float, high: float | None = None, low_open: bool = False
) -> None:
    allowed = f"{'>' if low_open else '>='} {low}" + (f" and <= {high}" if high is not None else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number {allowed}, got {value!r}")
    bad_low = value <= low if low_open else value < low
    if not math.isfinite(value) or bad_low or (high is not None and value > high):
        raise ValueError(f"{name} must be a finite number {allowed}, got {value}")

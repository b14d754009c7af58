"""The training curve every deep hasher keeps as ``training_curve_`` (no torch needed).

It lives apart from the trainer so that a hasher whose encoder is plain numpy arrays (the
stacked RBMs of :mod:`hashlearn.hashers.deep.rbm`) can be loaded, curve included, without
importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["TrainingCurve"]


@dataclass
class TrainingCurve:
    """What happened during a fit, epoch by epoch (kept as ``training_curve_``).

    Attributes
    ----------
    epochs : list of dict
        One per epoch: ``epoch``, ``loss`` (mean training loss), ``score`` (validation
        mAP, or minus the validation loss for unsupervised methods; None without a
        validation split), ``seconds`` (training time of the epoch),
        ``images_per_second``, ``learning_rate`` (at the epoch's end) and the loss's own
        schedule values (HashNet's ``beta``). The stacked RBMs add ``stage``
        (``"pretrain"`` or ``"finetune"``) and ``layer`` (the RBM, counted from the
        bottom; None when fine-tuning), and their ``loss`` is the RBM's reconstruction
        error when pretraining.
    device : str
        Where the network was trained.
    metric : str
        What ``score`` is: ``"validation mAP"``, ``"minus validation loss"`` or ``"none"``.
    best_epoch : int or None
        The epoch whose network was kept (the last one without a validation split).
    stopped_early : bool
        Whether ``patience`` ended the training.
    seconds : float
        Total training time, validation included.
    torch : str
        The torch version that trained.
    threads : int
        torch's CPU threads (codes on the CPU depend on it).
    """

    epochs: list[dict[str, Any]] = field(default_factory=list)
    device: str = "cpu"
    torch: str = ""
    threads: int = 0
    metric: str = "none"
    best_epoch: int | None = None
    stopped_early: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for records and files."""
        return {
            "epochs": [dict(row) for row in self.epochs],
            "device": self.device,
            "metric": self.metric,
            "best_epoch": self.best_epoch,
            "stopped_early": self.stopped_early,
            "seconds": self.seconds,
            "torch": self.torch,
            "threads": self.threads,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainingCurve:
        """The curve :meth:`to_dict` wrote."""
        return cls(
            epochs=[dict(row) for row in values.get("epochs", [])],
            device=str(values.get("device", "cpu")),
            metric=str(values.get("metric", "none")),
            best_epoch=values.get("best_epoch"),
            stopped_early=bool(values.get("stopped_early", False)),
            seconds=float(values.get("seconds", 0.0)),
            torch=str(values.get("torch", "")),
            threads=int(values.get("threads", 0)),
        )

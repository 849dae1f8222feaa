"""``TrainConfig``: every setting a feature-learning run depends on, validated.

The fields are the command-line flags of ``sigver train`` under their Python names
(``forg_loss`` is ``--forg-loss``; the first-task command spells it ``--loss-type L1/L2``).
``validate`` names the field in its errors (``epochs=0: must be >= 1``); the command line
re-words them with the flag.
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from typing import Any

from sigver.errors import ParameterError

# Published batch sizes: 32 for the first task, 256 for the contrastive task.
FIRST_TASK_BATCH = 32
SECOND_TASK_BATCH = 256
TASKS = ("signet", "multi", "single")
CONTRASTIVE_LOSSES = ("triplet", "ntxent")
FORGERY_LOSSES = ("eq3", "eq4")
# Settings that must match for ``resume`` to continue a run.
RESUME_KEYS = ("users", "model", "task", "loss_type", "margin", "temperature", "forg", "lamb",
               "forg_loss", "epochs", "batch_size", "lr", "lr_decay", "lr_decay_times",
               "momentum", "weight_decay", "input_size", "seed", "val_fraction", "init")


@dataclass
class TrainConfig:
    """Everything a training run depends on.

    Parameters
    ----------
    dataset_path
        The dataset store (``.npz`` file or folder).
    logdir
        Folder for the model files, ``checkpoint.pt``, ``history.json`` and
        ``preprocessing.json``.
    users
        Train on the users ``users[0] <= y < users[1]``.
    model
        Architecture name; None means that of ``checkpoint``, or ``signet`` without one.
    task
        ``signet`` (first task alone: SigNet, or SigNet-F with ``forg``), ``multi`` (first
        task, then the contrastive task from its best weights) or ``single`` (contrastive
        task from scratch).
    loss_type
        The contrastive loss: ``triplet`` (semi-hard mining, ``margin``) or ``ntxent``
        (``temperature``).
    forg, lamb, forg_loss
        SigNet-F: a forgery head weighted ``lamb``; the user loss over all samples
        (``eq3``) or over genuine samples only (``eq4``).
    epochs
        Epochs per task.
    batch_size
        One batch size for both tasks; None means 32 for the first task and 256 for the
        contrastive task.
    lr, lr_decay, lr_decay_times, momentum, weight_decay
        SGD (Nesterov) with a step decay by ``lr_decay``, ``lr_decay_times`` times.
    input_size
        ``(H, W)`` network input: random crops in training, the centre crop otherwise.
    checkpoint
        Starting weights (a model file); ``evaluate`` evaluates it.
    init
        Fine-tune from this model file, or ``"default"`` for the built-in model
        (docs/pretrained.md): its feature extractor is the starting point; its
        classification (and forgery) layer is kept when it has one output per selected
        user, else the heads start afresh. Not together with ``checkpoint``.
    seed
        Seeds the split, the batches, the crops and the initial weights.
    device, gpu_idx, amp, workers
        Where and how to compute: ``auto`` picks CUDA when available; ``amp`` enables
        mixed precision on CUDA; ``workers`` data-loading processes.
    tensorboard
        Folder for TensorBoard curves (needs the ``tensorboard`` package), or None.
    resume
        Continue from the last completed epoch recorded in ``logdir``.
    progress
        Show progress bars.
    trust_pickles
        Unpickle the store's ``user_mapping`` (only for files you trust).
    val_fraction
        Share of the samples held out for validation.
    """

    dataset_path: str
    logdir: str
    users: tuple[int, int] = (350, 881)
    model: str | None = None
    task: str = "multi"
    loss_type: str = "triplet"
    margin: float = 0.1
    temperature: float = 0.01
    forg: bool = False
    lamb: float = 0.95
    forg_loss: str = "eq4"
    epochs: int = 60
    batch_size: int | None = None
    lr: float = 0.001
    lr_decay: float = 0.1
    lr_decay_times: int = 3
    momentum: float = 0.9
    weight_decay: float = 1e-4
    input_size: tuple[int, int] = (150, 220)
    checkpoint: str | None = None
    init: str | None = None
    seed: int = 42
    device: str = "auto"
    gpu_idx: int | None = None
    amp: bool = True
    workers: int = 0
    tensorboard: str | None = None
    resume: bool = False
    progress: bool = True
    trust_pickles: bool = False
    val_fraction: float = 0.1

    def fingerprint(self) -> dict[str, Any]:
        """The settings a checkpoint records, compared on ``resume`` (JSON-ready)."""
        values = dataclasses.asdict(self)
        return {key: (list(values[key]) if isinstance(values[key], tuple) else values[key])
                for key in RESUME_KEYS}

    def validate(self) -> None:
        """Raise ``ParameterError`` naming the first field with an impossible value."""
        from sigver.featurelearning.models import available_models
        from sigver.validation import check_number

        choices = [("task", TASKS), ("loss_type", CONTRASTIVE_LOSSES),
                   ("forg_loss", FORGERY_LOSSES)]
        if self.model is not None:
            choices.append(("model", tuple(sorted(available_models))))
        for name, allowed in choices:
            if getattr(self, name) not in allowed:
                raise ParameterError(name, getattr(self, name),
                                     f"choose one of {', '.join(allowed)}")
        for name in ("users", "input_size"):
            _check_pair(name, getattr(self, name))
        if self.users[1] <= self.users[0]:
            raise ParameterError("users", self.users, "the end must be greater than the start")
        if min(self.input_size) < 1:
            raise ParameterError("input_size", self.input_size, "height and width must be >= 1")
        minimum = [("epochs", 1), ("lr_decay_times", 1), ("workers", 0), ("momentum", 0),
                   ("weight_decay", 0)]
        if self.batch_size is not None:
            minimum.append(("batch_size", 2))
        if self.gpu_idx is not None:
            minimum.append(("gpu_idx", 0))
        for name, low in minimum:
            if getattr(self, name) < low:
                raise ParameterError(name, getattr(self, name), f"must be >= {low}")
        for name in ("lr", "lr_decay", "margin", "temperature", "momentum", "weight_decay",
                     "lamb"):
            check_number(name, getattr(self, name))
        for name in ("lr", "lr_decay", "margin", "temperature"):
            if not getattr(self, name) > 0:
                raise ParameterError(name, getattr(self, name), "must be > 0")
        if not 0 <= self.lamb <= 1:
            raise ParameterError("lamb", self.lamb, "must be in [0, 1]")
        if self.init is not None and self.checkpoint is not None:
            raise ParameterError("init", self.init, "give either init or checkpoint (both are "
                                 "starting weights), not both")
        if not 0 < self.val_fraction < 1:
            raise ParameterError("val_fraction", self.val_fraction, "must be in (0, 1)")


def _check_pair(name: str, value: Any) -> None:
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                    for v in value)):
        raise ParameterError(name, value, "give two integers")

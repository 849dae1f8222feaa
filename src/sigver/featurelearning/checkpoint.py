"""``checkpoint.pt``: everything needed to continue a task after its last completed epoch.

A checkpoint holds the weights (model and heads), the optimizer, learning-rate scheduler
and gradient-scaler states, the run's random generator, the history and best metric so
far, and the settings it was written with; resuming with other settings is refused (the
run would silently become a different one). It also records the number of ranks (the
world size) that wrote it: resuming with another number continues the run, with a note,
since its later batches are then shared differently. It holds only tensors and plain values and
is read with ``torch.load(weights_only=True)``, so loading runs no pickled code.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sigver.errors import ParameterError, SigverError
from sigver.io import atomic_output

CHECKPOINT_FILE = "checkpoint.pt"


@dataclass
class TrainingState:
    """The objects a task's epochs change, saved and restored together."""

    model: nn.Module
    heads: dict[str, nn.Module]
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    generator: torch.Generator


@dataclass
class Progress:
    """Where a task stands: epochs completed, best metric and history so far."""

    epoch: int = 0
    best: float = float("-inf")
    history: list[dict[str, Any]] | None = None


class Checkpoint:
    """The checkpoint file of one task.

    Parameters
    ----------
    path
        The file (``checkpoint.pt`` in the task's folder).
    task
        The task's name; a checkpoint of another task is refused.
    settings
        JSON-ready settings that must be equal for the run to continue.
    world_size
        The number of training processes (ranks) of the run.
    """

    def __init__(self, path: str | os.PathLike, *, task: str, settings: dict[str, Any],
                 world_size: int = 1) -> None:
        self.path = Path(path)
        self.task = task
        self.settings = settings
        self.world_size = world_size

    def save(self, state: TrainingState, progress: Progress) -> None:
        """Write the checkpoint atomically (an interruption leaves the previous one)."""
        content = {
            "task": self.task, "config": json.dumps(self.settings),
            "epoch": progress.epoch, "best": progress.best,
            "history": progress.history or [],
            "model": state.model.state_dict(),
            "heads": {key: head.state_dict() for key, head in state.heads.items()},
            "optimizer": state.optimizer.state_dict(),
            "scheduler": state.scheduler.state_dict(),
            "scaler": state.scaler.state_dict(), "generator": state.generator.get_state(),
            "world_size": self.world_size,
        }
        with atomic_output(self.path) as tmp:
            torch.save(content, tmp)

    def restore(self, state: TrainingState, device: torch.device, *, announce: bool = True
                ) -> Progress | None:
        """Load the checkpoint into ``state``; None (and ``state`` untouched) without a
        file. ``announce``: print the note about a different world size."""
        if not self.path.is_file():
            return None
        try:
            content = torch.load(self.path, map_location=device, weights_only=True)
            saved = json.loads(content["config"])
            task = content["task"]
        except Exception as exc:  # any unreadable file is the same user-facing problem
            raise SigverError(f"{self.path}: unreadable checkpoint ({type(exc).__name__}); "
                              "delete it or train without resume") from None
        differing = [key for key in self.settings if saved.get(key) != self.settings[key]]
        if differing or task != self.task:
            what = ", ".join(differing) or f"task {task}, not {self.task}"
            raise ParameterError("resume", True, f"{self.path} was written with different "
                                 f"settings ({what}); use the original ones or a new logdir")
        state.model.load_state_dict(content["model"])
        for key, head in state.heads.items():
            head.load_state_dict(content["heads"][key])
        state.optimizer.load_state_dict(content["optimizer"])
        state.scheduler.load_state_dict(content["scheduler"])
        state.scaler.load_state_dict(content["scaler"])
        state.generator.set_state(content["generator"].cpu())
        written_by = content.get("world_size", 1)
        if written_by != self.world_size and announce:
            print(f"note: {self.path} was written by {written_by} process(es), resuming with "
                  f"{self.world_size}: the later batches are shared differently than in an "
                  "uninterrupted run")
        return Progress(epoch=content["epoch"], best=content["best"],
                        history=content["history"])

"""What the epoch loop needs from a task, and the helpers the tasks share."""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sigver.featurelearning.data import center_crop_batch, to_network_input
from sigver.featurelearning.split import TrainingData

# Samples per forward pass when embedding a validation set.
EMBED_BATCH = 256


class Task(Protocol):
    """One training objective.

    Attributes
    ----------
    name
        Names the task in the history, the logs and the checkpoint (``signet_f``, ...).
    metric_name
        The history key of the validation metric (higher is better).
    heads
        Trainable layers on top of the features, saved with the model (``clf``,
        ``forg``); empty for the contrastive tasks.
    data
        The training / validation split it trains on.
    """

    name: str
    metric_name: str
    heads: dict[str, nn.Module]
    data: TrainingData

    def plan(self, generator: torch.Generator) -> list[torch.Tensor]:
        """One epoch's batches (indices into ``data.train``), drawn from ``generator``."""
        ...

    def loss(self, features: torch.Tensor, y: torch.Tensor, yforg: torch.Tensor
             ) -> tuple[torch.Tensor, float]:
        """The batch loss and the batch accuracy (in [0, 1], NaN when undefined)."""
        ...

    def validate(self, model: nn.Module) -> float:
        """The validation metric of ``model`` (with the task's heads)."""
        ...


def embed(model: nn.Module, x: np.ndarray, *, input_size: tuple[int, int],
          device: torch.device) -> torch.Tensor:
    """Centre-crop features of uint8 images in eval mode (the validation view)."""
    was_training = model.training
    model.eval()
    outputs = []
    with torch.no_grad():
        for start in range(0, len(x), EMBED_BATCH):
            batch = center_crop_batch(x, start, start + EMBED_BATCH, input_size)
            outputs.append(model(to_network_input(batch, device)).float())
    model.train(was_training)
    return torch.cat(outputs)


def precision_at_1(query: torch.Tensor, query_y: torch.Tensor, ref: torch.Tensor,
                   ref_y: torch.Tensor, *, exclude_self: bool) -> float:
    """Share of queries whose nearest reference (cosine) has the same label.

    ``exclude_self``: the queries are the references, and a sample is not its own
    neighbour.
    """
    sims = F.normalize(query.float(), dim=1) @ F.normalize(ref.float(), dim=1).T
    if exclude_self:
        sims.fill_diagonal_(-math.inf)
    nearest = sims.argmax(1)
    return (ref_y[nearest] == query_y).float().mean().item()

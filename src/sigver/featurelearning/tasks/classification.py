"""The first task [1]: SigNet (user classification) and SigNet-F (plus forgery detection).

With a forgery head weighted ``lamb`` the loss is ``(1 - lamb) * CE + lamb * BCE``, the
user cross-entropy taken over all samples (Eq. 3) or over the genuine ones only (Eq. 4).
The validation metric is the user-classification accuracy on genuine signatures.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sigver.featurelearning.sampling import shuffled_batches
from sigver.featurelearning.split import TrainingData
from sigver.featurelearning.tasks.base import embed


class ClassificationTask:
    """SigNet / SigNet-F: a user-classification head, and a forgery head with ``forg``.

    Parameters
    ----------
    data
        The split to train on (with forgeries when ``forg``).
    feature_size
        Width of the model's features (the heads' input).
    batch_size, input_size, device
        Training batches, network input and where the heads live.
    forg, lamb, forg_loss
        Add the forgery head, its weight, and ``eq3`` / ``eq4`` for the user loss.
    """

    metric_name = "val_accuracy"

    def __init__(self, data: TrainingData, *, feature_size: int, batch_size: int,
                 input_size: tuple[int, int], device: torch.device, forg: bool = False,
                 lamb: float = 0.95, forg_loss: str = "eq4") -> None:
        self.data, self.batch_size = data, batch_size
        self.input_size, self.device = input_size, device
        self.forg, self.lamb, self.forg_loss = forg, lamb, forg_loss
        self.name = "signet_f" if forg else "signet"
        self.heads: dict[str, nn.Module] = {
            "clf": nn.Linear(feature_size, data.n_classes).to(device)}
        if forg:
            self.heads["forg"] = nn.Linear(feature_size, 1).to(device)

    def plan(self, generator: torch.Generator) -> list[torch.Tensor]:
        return shuffled_batches(len(self.data.train.y), batch_size=self.batch_size,
                                generator=generator)

    def loss(self, features: torch.Tensor, y: torch.Tensor, yforg: torch.Tensor
             ) -> tuple[torch.Tensor, float]:
        logits = self.heads["clf"](features)
        genuine = yforg == 0
        correct = (logits.argmax(1) == y)[genuine]
        accuracy = correct.float().mean().item() if correct.numel() else math.nan
        if not self.forg:
            return F.cross_entropy(logits, y), accuracy
        forg_logits = self.heads["forg"](features).squeeze(1)
        forg_loss = F.binary_cross_entropy_with_logits(forg_logits, (yforg > 0).float())
        if self.forg_loss == "eq3":
            class_loss = F.cross_entropy(logits, y)
        elif genuine.any():
            class_loss = F.cross_entropy(logits[genuine], y[genuine])
        else:  # a batch of forgeries only: keep the graph, add nothing
            class_loss = logits.sum() * 0
        return (1 - self.lamb) * class_loss + self.lamb * forg_loss, accuracy

    def validate(self, model: nn.Module) -> float:
        val = self.data.val
        genuine = np.flatnonzero(val.yforg.numpy() == 0)
        if genuine.size == 0:
            return math.nan
        features = embed(model, val.x[genuine], input_size=self.input_size,
                         device=self.device)
        with torch.no_grad():
            logits = self.heads["clf"](features)
        return (logits.argmax(1).cpu() == val.y[genuine]).float().mean().item()

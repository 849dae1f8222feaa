"""The contrastive task [3]: a metric-learning loss on genuine signatures.

Batches hold 2 samples of each of ``batch_size / 2`` users
(``sigver.featurelearning.sampling.m_per_class_batches``). The loss, and the miner that
picks the pairs or triplets it sees, are pytorch-metric-learning objects given to
``ContrastiveTask``; ``triplet_task`` (triplet margin loss on the semi-hard triplets,
Euclidean distance of L2-normalised embeddings) and ``ntxent_task`` (NT-Xent on cosine
similarity, every positive pair) build the published two. The validation metric is the
precision@1 of each validation embedding's nearest training embedding.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from pytorch_metric_learning import distances, losses, miners
from torch import nn

from sigver.errors import ParameterError
from sigver.featurelearning.sampling import m_per_class_batches, rank_shared_batches
from sigver.featurelearning.split import TrainingData
from sigver.featurelearning.tasks.base import embed, precision_at_1

SAMPLES_PER_USER = 2


class ContrastiveTask:
    """Train the features alone (no heads) with a metric-learning loss.

    Parameters
    ----------
    data
        The split to train on (genuine signatures).
    name
        Names the task in the history (``triplet``, ``ntxent``).
    loss_fn
        A pytorch-metric-learning loss, called ``loss_fn(embeddings, labels)`` or, with
        a miner, ``loss_fn(embeddings, labels, miner(embeddings, labels))``.
    miner
        A pytorch-metric-learning miner, or None for every pair of the batch.
    batch_size, input_size, device
        Training batches (see ``fit_batch_size``), network input, device.
    ranks
        Data-parallel processes: with several, each batch is made of one m-per-class
        batch per rank, from the rank's own share of the users (``rank_shared_batches``).
    """

    metric_name = "val_precision_at_1"

    def __init__(self, data: TrainingData, *, name: str, loss_fn: nn.Module,
                 miner: nn.Module | None = None, batch_size: int,
                 input_size: tuple[int, int], device: torch.device, ranks: int = 1) -> None:
        self.data, self.name = data, name
        self.loss_fn, self.miner = loss_fn, miner
        self.batch_size, self.input_size, self.device = batch_size, input_size, device
        self.ranks = ranks
        self.heads: dict[str, nn.Module] = {}

    def plan(self, generator: torch.Generator) -> list[torch.Tensor]:
        if self.ranks > 1:
            return rank_shared_batches(self.data.train.y, batch_size=self.batch_size,
                                       ranks=self.ranks, m=SAMPLES_PER_USER,
                                       generator=generator)
        return m_per_class_batches(self.data.train.y, batch_size=self.batch_size,
                                   m=SAMPLES_PER_USER, generator=generator)

    def loss(self, features: torch.Tensor, y: torch.Tensor, yforg: torch.Tensor
             ) -> tuple[torch.Tensor, float]:
        features = features.float()
        if self.miner is not None:
            loss = self.loss_fn(features, y, self.miner(features, y))
        else:
            loss = self.loss_fn(features, y)
        detached = features.detach()
        return loss, precision_at_1(detached, y, detached, y, exclude_self=True)

    def validate(self, model: nn.Module) -> float:
        train, val = self.data.train, self.data.val
        train_emb = embed(model, train.x, input_size=self.input_size, device=self.device)
        val_emb = embed(model, val.x, input_size=self.input_size, device=self.device)
        return precision_at_1(val_emb, val.y.to(self.device), train_emb,
                              train.y.to(self.device), exclude_self=False)


def triplet_task(data: TrainingData, *, margin: float = 0.1, **common: Any
                 ) -> ContrastiveTask:
    """Triplet margin loss on the batch's semi-hard triplets, d(a,p) < d(a,n) < d(a,p) +
    margin, with Euclidean distances of L2-normalised embeddings."""
    distance = distances.LpDistance(normalize_embeddings=True, p=2)
    miner = miners.TripletMarginMiner(margin=margin, distance=distance,
                                      type_of_triplets="semihard")
    loss_fn = losses.TripletMarginLoss(margin=margin, distance=distance)
    return ContrastiveTask(data, name="triplet", loss_fn=loss_fn, miner=miner, **common)


def ntxent_task(data: TrainingData, *, temperature: float = 0.01, **common: Any
                ) -> ContrastiveTask:
    """NT-Xent on cosine similarity over every positive pair of the batch."""
    return ContrastiveTask(data, name="ntxent",
                           loss_fn=losses.NTXentLoss(temperature=temperature), **common)


def fit_batch_size(requested: int, n_classes: int, ranks: int = 1) -> int:
    """The contrastive batch size: at most 2 samples of every user, an even number.

    With ``ranks`` processes, the batch is ``ranks`` equal parts of 2 samples of distinct
    users of each rank's share (``n_classes // ranks`` users at least). A larger request
    (few users) is cut down with a warning rather than refused, so the default 256 works
    on small sets.
    """
    unit = SAMPLES_PER_USER * ranks
    size = min(requested, unit * (n_classes // ranks))
    size -= size % unit
    if size < unit:
        raise ParameterError("batch_size", requested, f"the training set's {n_classes} "
                             f"users cannot be shared among {ranks} processes")
    if size != requested:
        shared = (f" shared among {ranks} processes (a multiple of {unit})" if ranks > 1
                  else "")
        warnings.warn(f"batch_size={requested}: contrastive batches hold 2 samples of "
                      f"distinct users and the training set has {n_classes} users"
                      f"{shared}; using batches of {size}", stacklevel=2)
    return size

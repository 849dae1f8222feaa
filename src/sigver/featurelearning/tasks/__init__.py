"""The training objectives of feature learning (README, "Feature learning").

- ``ClassificationTask``: the first task, SigNet (user classification) or SigNet-F (plus a
  forgery head, the loss of Eq. 3 or Eq. 4).
- ``ContrastiveTask``: the second task, a pytorch-metric-learning loss (and miner) on
  batches of 2 samples per user; ``triplet_task`` and ``ntxent_task`` build the two
  published ones.

Each task owns its heads, draws its batch plan, computes the batch loss and its
validation metric; the epoch loop (``sigver.featurelearning.loop``) runs any of them.
"""

from sigver.featurelearning.tasks.base import Task, embed, precision_at_1
from sigver.featurelearning.tasks.classification import ClassificationTask
from sigver.featurelearning.tasks.contrastive import (
    ContrastiveTask,
    fit_batch_size,
    ntxent_task,
    triplet_task,
)

__all__ = ["ClassificationTask", "ContrastiveTask", "Task", "embed", "fit_batch_size",
           "ntxent_task", "precision_at_1", "triplet_task"]

"""One SGD step of the first task on a fixed batch, in one process or as a rank of a DDP job.

``take_step(group, bn_mode)`` builds the same model, heads and batch in every process
(seeded), lets ``group`` pick this rank's share of the batch (``Group.shard``) and takes
the training loop's step (``EpochLoop.step``: DDP forward and backward, clipping, fused
Nesterov SGD) with batch norm in training mode (batch statistics) or in eval mode (running
statistics). Run by torchrun it saves each rank's weights:

    torchrun --nproc-per-node 2 ddp_step.py OUT_DIR   ->   OUT_DIR/{train,eval}_rank<R>.pt
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sigver.featurelearning.config import TrainConfig
from sigver.featurelearning.data import fast_layout, to_network_input
from sigver.featurelearning.distributed import Group, Ranks, process_group
from sigver.featurelearning.loop import EpochLoop
from sigver.featurelearning.models import create_model
from sigver.featurelearning.split import Split, TrainingData
from sigver.featurelearning.tasks import ClassificationTask

BATCH = 8  # the global batch: 2 ranks x 4
N_CLASSES = 4
# A large step, so that a wrong gradient moves the weights far more than the tolerance.
LR = 0.01
CPU = torch.device("cpu")


def setup(group: Group) -> tuple[EpochLoop, ClassificationTask, Any, Any]:
    """The loop, task, model and training state, identical in every process."""
    torch.manual_seed(0)
    model = fast_layout(create_model("signet_thin"))
    rng = np.random.RandomState(0)
    x = rng.randint(0, 256, (BATCH, 1, 150, 220)).astype(np.uint8)
    y = torch.from_numpy(rng.randint(0, N_CLASSES, BATCH))
    split = Split(x=x, y=y, yforg=torch.zeros(BATCH, dtype=torch.int64))
    data = TrainingData(train=split, val=split, n_classes=N_CLASSES)
    task = ClassificationTask(data, feature_size=model.feature_space_size, batch_size=BATCH,
                              input_size=(150, 220), device=CPU)
    config = TrainConfig(dataset_path="unused", logdir="unused", model="signet_thin",
                         lr=LR, device="cpu", progress=False)
    loop = EpochLoop(config, CPU, group=group)
    return loop, task, model, loop.initial_state(task, model, seed=0)


def take_step(group: Group, bn_mode: str,
              forward: Callable[..., Any] | None = None) -> dict[str, torch.Tensor]:
    """The model's and heads' state after one step on this rank's share of the batch.

    ``forward``: replaces the group's (given the model and task), for reference steps.
    """
    loop, task, model, state = setup(group)
    plan = [(torch.arange(BATCH), torch.zeros(BATCH, 2, dtype=torch.int64))]
    (idx, _), = group.shard(plan)
    split = task.data.train
    inputs = to_network_input(torch.from_numpy(split.x[idx.numpy()]), CPU)
    model.train(bn_mode == "train")
    step_forward = (group.wrap(model, task.heads, task.loss) if forward is None
                    else forward(model, task))
    loop.step(step_forward, state, inputs, split.y[idx], split.yforg[idx])
    weights = {f"model.{k}": v.detach().clone() for k, v in model.state_dict().items()}
    weights.update({f"clf.{k}": v.detach().clone()
                    for k, v in task.heads["clf"].state_dict().items()})
    return weights


def main(out_dir: str) -> None:
    ranks = Ranks.from_environment()
    with process_group(ranks, CPU) as group:
        for bn_mode in ("train", "eval"):
            torch.save(take_step(group, bn_mode),
                       Path(out_dir) / f"{bn_mode}_rank{ranks.rank}.pt")


if __name__ == "__main__":
    main(sys.argv[1])

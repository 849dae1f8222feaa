"""The epoch loop: one task's epochs, with its files and ``resume``.

Per epoch: draw the batch plan and random crops, take SGD steps (Nesterov, gradient values
clipped at 10, mixed precision on CUDA), step the learning-rate decay, compute the
validation metric in eval mode, then write ``model_last.pth``, ``model_best.pth`` (when
the metric is >= the best so far), ``history.json`` and ``checkpoint.pt``, in that order,
so that an interruption at any point resumes from the last completed epoch.

Under ``torchrun`` (``sigver.featurelearning.distributed``) every rank takes its share of
each batch, DDP averages the gradients, and rank 0 alone validates, writes and logs;
the others wait for it at the end of each epoch and of the task.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from sigver.errors import SigverError
from sigver.featurelearning.checkpoint import CHECKPOINT_FILE, Checkpoint, Progress, TrainingState
from sigver.featurelearning.config import TrainConfig
from sigver.featurelearning.data import to_network_input
from sigver.featurelearning.distributed import Group
from sigver.featurelearning.models import save_model_file
from sigver.featurelearning.sampling import PlannedBatches, crop_plan, iterate_batches
from sigver.featurelearning.tasks import Task
from sigver.io import atomic_output

History = list[dict[str, Any]]
EpochCallback = Callable[[dict[str, Any]], None]
CLIP_VALUE = 10.0


class EpochLoop:
    """Runs tasks' epochs for one training run.

    Parameters
    ----------
    config
        The run's settings (optimizer, schedule, epochs, crops, loading, resume).
    device
        Where the model is.
    on_epoch_end
        Called with each epoch's history record after its files are written; raising
        from it stops the run, which ``resume`` continues.
    writer
        A TensorBoard ``SummaryWriter``, or None (on ranks other than 0: None).
    group
        The ranks of a data-parallel run (default: a single process).
    """

    def __init__(self, config: TrainConfig, device: torch.device,
                 on_epoch_end: EpochCallback | None = None, writer: Any = None,
                 group: Group | None = None) -> None:
        self.config, self.device = config, device
        self.on_epoch_end = on_epoch_end
        self.writer = writer
        self.group = group or Group(device=device)
        self.amp = config.amp and device.type == "cuda"

    def run(self, task: Task, model: nn.Module, *, outdir: Path, seed: int,
            earlier_history: History) -> History:
        """Train ``task`` for ``config.epochs`` epochs (or what is left of them) and return
        its history; ``earlier_history`` (of the tasks before) is kept in the run's
        ``history.json``."""
        config, group = self.config, self.group
        if group.is_main:
            outdir.mkdir(parents=True, exist_ok=True)
        state = self.initial_state(task, model, seed)
        checkpoint = Checkpoint(outdir / CHECKPOINT_FILE, task=task.name,
                                settings=config.fingerprint(), world_size=group.world_size)
        progress = Progress(history=[])
        if config.resume:
            # Every rank reads the checkpoint (the logdir is shared), so all continue
            # from the same weights, optimizer state and generator.
            restored = checkpoint.restore(state, self.device, announce=group.is_main)
            if restored is not None:
                progress = restored
            if not group.all_equal(progress.epoch):
                raise SigverError(f"{checkpoint.path}: the ranks found different "
                                  "checkpoints; put --logdir on a file system they all share")
            if restored is not None and progress.epoch < config.epochs and group.is_main:
                print(f"{task.name}: resuming after epoch {progress.epoch}")
        # DDP copies rank 0's weights to the others here (they are equal already).
        forward = group.wrap(model, task.heads, task.loss)
        history = progress.history
        for epoch in range(progress.epoch, config.epochs):
            record = self._epoch(task, state, forward, epoch)
            state.scheduler.step()
            metric = task.validate(model) if group.is_main else math.nan
            record[task.metric_name] = metric = group.broadcast(metric)
            best = metric >= progress.best or (math.isnan(metric)
                                                and progress.best == -math.inf)
            # NaN (no validation sample) never beats a best, so the first epoch is kept.
            if best and not math.isnan(metric):
                progress.best = metric
            history.append(record)
            progress.epoch = epoch + 1
            if group.is_main:
                self._write_epoch(task, state, outdir, best, earlier_history + history,
                                  history if outdir != Path(config.logdir) else None)
                checkpoint.save(state, progress)
                self._log(task, record)
            group.barrier()
            if self.on_epoch_end is not None:
                self.on_epoch_end(record)
        group.barrier()
        return history

    def _write_epoch(self, task: Task, state: TrainingState, outdir: Path, best: bool,
                     run_history: History, task_history: History | None) -> None:
        clf, forg = task.heads.get("clf"), task.heads.get("forg")
        save_model_file(outdir / "model_last.pth", state.model, clf, forg)
        if best:
            save_model_file(outdir / "model_best.pth", state.model, clf, forg)
        _write_json(Path(self.config.logdir) / "history.json", run_history)
        if task_history is not None:
            _write_json(outdir / "history.json", task_history)

    def initial_state(self, task: Task, model: nn.Module, seed: int) -> TrainingState:
        """The optimizer (over the model's and the heads' weights), learning-rate decay,
        gradient scaler and the generator seeded with ``seed``."""
        config = self.config
        params = [p for m in (model, *task.heads.values()) for p in m.parameters()]
        # The fused kernel does weight decay, momentum and the update in one pass over
        # the weights: the unfused step reads SigNet's 18 M parameters five times.
        optimizer = torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                                    nesterov=True, weight_decay=config.weight_decay,
                                    fused=True)
        step = max(1, config.epochs // config.lr_decay_times)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step, gamma=config.lr_decay)
        return TrainingState(model=model, heads=task.heads, optimizer=optimizer,
                             scheduler=scheduler,
                             scaler=torch.amp.GradScaler("cuda", enabled=self.amp),
                             generator=torch.Generator().manual_seed(seed))

    def _epoch(self, task: Task, state: TrainingState, forward: Callable[..., Any],
               epoch: int) -> dict[str, Any]:
        config, model, optimizer, group = self.config, state.model, state.optimizer, self.group
        split = task.data.train
        plan = crop_plan(task.plan(state.generator), image_shape=tuple(split.x.shape[-2:]),
                         input_size=config.input_size, generator=state.generator)
        plan = group.shard(plan)
        dataset = PlannedBatches(split.x, split.y, split.yforg, plan, config.input_size)
        model.train()
        for head in task.heads.values():
            head.train()
        lr = optimizer.param_groups[0]["lr"]
        total_loss = total_acc = 0.0
        n_images = n_acc = 0
        started = time.perf_counter()
        bar = tqdm(total=len(plan), desc=f"{task.name} epoch {epoch + 1}/{config.epochs}",
                   unit="batch", disable=not (config.progress and group.is_main),
                   dynamic_ncols=True, leave=False)
        for images, y, yforg in iterate_batches(dataset, workers=config.workers,
                                                pin=self.device.type == "cuda"):
            inputs = to_network_input(images, self.device)
            y, yforg = y.to(self.device), yforg.to(self.device)
            loss, accuracy = self.step(forward, state, inputs, y, yforg)
            n = len(y)
            total_loss += loss.item() * n
            n_images += n
            if not math.isnan(accuracy):
                total_acc += accuracy * n
                n_acc += n
            # The ranks move in step (DDP waits for all at every step): rank 0's rate
            # times the world size is the job's.
            rate = n_images * group.world_size / max(time.perf_counter() - started, 1e-9)
            bar.set_postfix(loss=f"{total_loss / n_images:.4f}",
                            acc=f"{total_acc / max(n_acc, 1):.3f}", img_s=f"{rate:.1f}")
            bar.update()
        bar.close()
        seconds = group.max(time.perf_counter() - started)
        total_loss, n_images, total_acc, n_acc = group.sum([total_loss, n_images, total_acc,
                                                            n_acc])
        n_images, n_acc = int(n_images), int(n_acc)
        if n_images == 0:
            raise SigverError(f"{config.dataset_path}: too few training images for one batch")
        return {"task": task.name, "epoch": epoch + 1, "train_loss": total_loss / n_images,
                "train_accuracy": total_acc / n_acc if n_acc else None, "lr": lr,
                "seconds": seconds, "images_per_s": n_images / seconds}

    def step(self, forward: Callable[..., Any], state: TrainingState, inputs: torch.Tensor,
             y: torch.Tensor, yforg: torch.Tensor) -> tuple[torch.Tensor, float]:
        """One SGD step on a batch (this rank's share of it); the batch loss and accuracy.

        ``forward(inputs, y, yforg)`` returns the task's loss and accuracy (from
        ``Group.wrap``: under DDP, the backward pass averages the gradients of the ranks,
        so they are clipped and applied identically everywhere).
        """
        optimizer = state.optimizer
        with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
            loss, accuracy = forward(inputs, y, yforg)
        optimizer.zero_grad(set_to_none=True)
        state.scaler.scale(loss).backward()
        state.scaler.unscale_(optimizer)
        params = [p for group in optimizer.param_groups for p in group["params"]]
        torch.nn.utils.clip_grad_value_(params, CLIP_VALUE)
        state.scaler.step(optimizer)
        state.scaler.update()
        return loss, accuracy

    def _log(self, task: Task, record: dict[str, Any]) -> None:
        metric = record[task.metric_name]
        print(f"{task.name} epoch {record['epoch']}/{self.config.epochs}: "
              f"loss {record['train_loss']:.4f}, {task.metric_name} {metric:.4f}, "
              f"{record['images_per_s']:.1f} img/s")
        if self.writer is not None:
            for key in ("train_loss", "train_accuracy", task.metric_name, "lr",
                        "images_per_s"):
                if record.get(key) is not None:
                    self.writer.add_scalar(f"{task.name}/{key}", record[key], record["epoch"])
            self.writer.flush()


def _write_json(path: Path, content: Any) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(content, indent=1))

"""Feature learning (SPEC section 5): SigNet / SigNet-F, triplet / NT-Xent, multi-task.

The Python entry point is ``train(TrainConfig(...))``; ``python -m
sigver.featurelearning.train`` runs the first task alone with the published flags, and
``python -m sigver.featurelearning.contrastive_train`` (= ``sigver train``) runs the
multi-task or single-task contrastive training.

Output in ``logdir`` (one folder per task; the first task of a multi-task run goes to
``logdir/first_task``): ``model_last.pth`` after every epoch, ``model_best.pth`` when the
validation metric is >= the best so far (both in the published 3-tuple format),
``checkpoint.pt`` (optimizer, scheduler and random-generator state for ``--resume``) and
``history.json`` (one record per epoch of every task run so far).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_metric_learning import distances, losses, miners, samplers
from pytorch_metric_learning.utils import common_functions as pml_common
from sklearn.model_selection import train_test_split
from torch import nn
from tqdm.auto import tqdm

from sigver.cli import run_main
from sigver.datasets.util import load_dataset, select_users
from sigver.errors import SigverError
from sigver.featurelearning.data import (
    center_crop_batch,
    check_crop,
    crop_batch,
    fast_layout,
    random_crop_offsets,
    resolve_device,
    to_network_input,
)
from sigver.featurelearning.models import (
    available_models,
    create_model,
    load_model_parts,
    save_model_file,
)
from sigver.io import atomic_output

FIRST_TASK_BATCH = 32
SECOND_TASK_BATCH = 256
History = list[dict[str, Any]]
EpochCallback = Callable[[dict[str, Any]], None]
# Settings that must match for --resume to continue a run.
RESUME_KEYS = ("users", "model", "task", "loss_type", "margin", "temperature", "forg", "lamb",
               "forg_loss", "epochs", "batch_size", "lr", "lr_decay", "lr_decay_times",
               "momentum", "weight_decay", "input_size", "seed", "val_fraction")


@dataclass
class TrainConfig:
    """Everything a training run depends on (the command-line flags, as fields).

    ``task``: ``signet`` (first task alone: SigNet, or SigNet-F with ``forg``),
    ``multi`` (first task, then the contrastive task from its best weights) or
    ``single`` (contrastive task from scratch). ``batch_size`` None means 32 for the
    first task and 256 for the contrastive task. ``model`` None means the architecture of
    ``checkpoint``, or ``signet`` without one.
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
    test: bool = False
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
        """The settings a checkpoint records, compared on ``--resume``."""
        values = dataclasses.asdict(self)
        return {key: (list(values[key]) if isinstance(values[key], tuple) else values[key])
                for key in RESUME_KEYS}

    def validate(self) -> None:
        """Reject impossible settings with one-line errors naming the flag."""
        checks = [
            (self.model is None or self.model in available_models, f"--model: choose one of "
                                             f"{', '.join(available_models)}"),
            (self.task in ("signet", "multi", "single"), "--task: signet, multi or single"),
            (self.loss_type in ("triplet", "ntxent"), "--loss-type: triplet or ntxent"),
            (self.forg_loss in ("eq3", "eq4"), "--forg-loss: eq3 or eq4"),
            (self.epochs >= 1, f"--epochs must be >= 1, got {self.epochs}"),
            (self.batch_size is None or self.batch_size >= 2,
             f"--batch-size must be >= 2, got {self.batch_size}"),
            (self.lr > 0, f"--lr must be > 0, got {self.lr}"),
            (self.lr_decay_times >= 1, "--lr-decay-times must be >= 1"),
            (0 <= self.lamb <= 1, f"--lamb must be in [0, 1], got {self.lamb}"),
            (self.margin > 0, f"--margin must be > 0, got {self.margin}"),
            (self.temperature > 0, f"--temperature must be > 0, got {self.temperature}"),
            (self.workers >= 0, f"--workers must be >= 0, got {self.workers}"),
            (0 < self.val_fraction < 1, "the validation fraction must be in (0, 1)"),
            (not self.test or self.checkpoint, "--test needs --checkpoint FILE"),
        ]
        for ok, message in checks:
            if not ok:
                raise SigverError(message)


@dataclass
class TrainResult:
    """Where a run wrote its files, and its per-epoch history."""

    model_best: Path
    model_last: Path
    history: History


@dataclass
class _Split:
    """One side of the train / validation split, in memory."""

    x: np.ndarray
    y: torch.Tensor
    yforg: torch.Tensor


@dataclass
class _Data:
    train: _Split
    val: _Split
    n_classes: int


# ---------------------------------------------------------------------------- data


def _load_data(config: TrainConfig, genuine_only: bool) -> _Data:
    x, y, yforg, _, _ = load_dataset(config.dataset_path, trusted=config.trust_pickles)
    check_crop(x.shape[-2:], config.input_size)
    x, y, yforg = select_users((x, y, yforg), *config.users)
    if genuine_only:
        keep = yforg == 0
        x, y, yforg = x[keep], y[keep], yforg[keep]
    _, labels = np.unique(y, return_inverse=True)
    n_classes = int(labels.max()) + 1
    if n_classes < 2:
        raise SigverError(f"--users {config.users[0]} {config.users[1]}: training needs at "
                          f"least 2 users, found {n_classes}")
    index = np.arange(len(y))
    # Stratify on user (and forgery flag) so every user is trained on, when the sizes allow.
    strata = labels * 3 + yforg
    try:
        train_idx, val_idx = train_test_split(index, test_size=config.val_fraction,
                                              random_state=config.seed, stratify=strata)
    except ValueError:
        train_idx, val_idx = train_test_split(index, test_size=config.val_fraction,
                                              random_state=config.seed)
    train_idx, val_idx = np.sort(train_idx), np.sort(val_idx)

    def split(idx: np.ndarray) -> _Split:
        return _Split(x=np.ascontiguousarray(x[idx]), y=torch.from_numpy(labels[idx]),
                      yforg=torch.from_numpy(np.asarray(yforg[idx], dtype=np.int64)))

    return _Data(train=split(train_idx), val=split(val_idx), n_classes=n_classes)


class _PlannedBatches(torch.utils.data.Dataset):
    """Batches whose sample indices and crop offsets were drawn in the main process.

    Drawing the plan up front keeps the run identical for any number of loader workers;
    the workers only gather and crop the uint8 pixels.
    """

    def __init__(self, split: _Split, plan: list[tuple[torch.Tensor, torch.Tensor]],
                 input_size: tuple[int, int]) -> None:
        self.split = split
        self.plan = plan
        self.input_size = input_size

    def __len__(self) -> int:
        return len(self.plan)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        idx, offsets = self.plan[item]
        return (crop_batch(self.split.x, idx.numpy(), offsets, self.input_size),
                self.split.y[idx], self.split.yforg[idx])


def _iterate(dataset: _PlannedBatches, workers: int, pin: bool
             ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    if workers == 0:
        return (dataset[i] for i in range(len(dataset)))
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, shuffle=False,
                                         num_workers=workers, pin_memory=pin)
    return iter(loader)


def _chunks(order: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    batches = list(torch.split(order, batch_size))
    # Batch norm cannot train on a batch of one sample.
    if batches and len(batches[-1]) < 2:
        batches.pop()
    return batches


# --------------------------------------------------------------------------- tasks


class _Task:
    """One training objective: its heads, batches, loss and validation metric."""

    name: str
    metric_name: str
    heads: dict[str, nn.Module]
    batch_size: int
    data: _Data

    def plan(self, generator: torch.Generator, np_rng: np.random.RandomState
             ) -> list[torch.Tensor]:
        raise NotImplementedError

    def loss(self, features: torch.Tensor, y: torch.Tensor, yforg: torch.Tensor
             ) -> tuple[torch.Tensor, float]:
        """The batch loss and the batch accuracy (a float in [0, 1])."""
        raise NotImplementedError

    def validate(self, model: nn.Module) -> float:
        raise NotImplementedError


class _ClassificationTask(_Task):
    """First task, [1]: user classification, plus forgery detection with ``forg``."""

    def __init__(self, config: TrainConfig, data: _Data, device: torch.device,
                 feature_size: int) -> None:
        self.config, self.data, self.device = config, data, device
        self.name = "signet_f" if config.forg else "signet"
        self.metric_name = "val_accuracy"
        self.batch_size = config.batch_size or FIRST_TASK_BATCH
        self.heads = {"clf": nn.Linear(feature_size, data.n_classes).to(device)}
        if config.forg:
            self.heads["forg"] = nn.Linear(feature_size, 1).to(device)

    def plan(self, generator: torch.Generator, np_rng: np.random.RandomState
             ) -> list[torch.Tensor]:
        order = torch.randperm(len(self.data.train.y), generator=generator)
        return _chunks(order, self.batch_size)

    def loss(self, features: torch.Tensor, y: torch.Tensor, yforg: torch.Tensor
             ) -> tuple[torch.Tensor, float]:
        logits = self.heads["clf"](features)
        genuine = yforg == 0
        correct = (logits.argmax(1) == y)[genuine]
        accuracy = correct.float().mean().item() if correct.numel() else math.nan
        if not self.config.forg:
            return F.cross_entropy(logits, y), accuracy
        forg_logits = self.heads["forg"](features).squeeze(1)
        forg_loss = F.binary_cross_entropy_with_logits(forg_logits, (yforg > 0).float())
        if self.config.forg_loss == "eq3":
            class_loss = F.cross_entropy(logits, y)
        elif genuine.any():
            class_loss = F.cross_entropy(logits[genuine], y[genuine])
        else:
            class_loss = logits.sum() * 0
        lamb = self.config.lamb
        return (1 - lamb) * class_loss + lamb * forg_loss, accuracy

    def validate(self, model: nn.Module) -> float:
        val = self.data.val
        genuine = np.flatnonzero(val.yforg.numpy() == 0)
        if genuine.size == 0:
            return math.nan
        features = _embed(model, val.x[genuine], self.config, self.device)
        with torch.no_grad():
            logits = self.heads["clf"](features)
        return (logits.argmax(1).cpu() == val.y[genuine]).float().mean().item()


def _contrastive_batch_size(requested: int, n_classes: int) -> int:
    """Batches hold m = 2 samples of batch_size / 2 distinct users (a documented cap)."""
    size = min(requested, 2 * n_classes)
    size -= size % 2
    if size != requested:
        warnings.warn(f"--batch-size {requested}: contrastive batches hold 2 samples of "
                      f"distinct users and the training set has {n_classes} users; using "
                      f"batches of {size}", stacklevel=3)
    return size


class _ContrastiveTask(_Task):
    """Second task, [3]: triplet loss with semi-hard mining, or NT-Xent, genuine only."""

    def __init__(self, config: TrainConfig, data: _Data, device: torch.device) -> None:
        self.config, self.data, self.device = config, data, device
        self.name = config.loss_type
        self.metric_name = "val_precision_at_1"
        self.heads = {}
        n_train_classes = len(torch.unique(data.train.y))
        self.batch_size = _contrastive_batch_size(config.batch_size or SECOND_TASK_BATCH,
                                                  n_train_classes)
        if config.loss_type == "triplet":
            distance = distances.LpDistance(normalize_embeddings=True, p=2)
            self.miner = miners.TripletMarginMiner(margin=config.margin, distance=distance,
                                                   type_of_triplets="semihard")
            self.loss_fn = losses.TripletMarginLoss(margin=config.margin, distance=distance)
        else:
            self.miner = None
            self.loss_fn = losses.NTXentLoss(temperature=config.temperature)

    def plan(self, generator: torch.Generator, np_rng: np.random.RandomState
             ) -> list[torch.Tensor]:
        labels = self.data.train.y.numpy()
        sampler = samplers.MPerClassSampler(labels, m=2, batch_size=self.batch_size,
                                            length_before_new_iter=2 * len(labels))
        # The sampler draws from the library's module-level generator; lend it ours so
        # that runs are reproducible and resumable.
        saved, pml_common.NUMPY_RANDOM = pml_common.NUMPY_RANDOM, np_rng
        try:
            order = torch.as_tensor(list(iter(sampler)), dtype=torch.int64)
        finally:
            pml_common.NUMPY_RANDOM = saved
        return _chunks(order, self.batch_size)

    def loss(self, features: torch.Tensor, y: torch.Tensor, yforg: torch.Tensor
             ) -> tuple[torch.Tensor, float]:
        features = features.float()
        if self.miner is not None:
            loss = self.loss_fn(features, y, self.miner(features, y))
        else:
            loss = self.loss_fn(features, y)
        return loss, _precision_at_1(features.detach(), y, features.detach(), y,
                                     exclude_self=True)

    def validate(self, model: nn.Module) -> float:
        train_emb = _embed(model, self.data.train.x, self.config, self.device)
        val_emb = _embed(model, self.data.val.x, self.config, self.device)
        return _precision_at_1(val_emb, self.data.val.y.to(self.device), train_emb,
                               self.data.train.y.to(self.device), exclude_self=False)


def _precision_at_1(query: torch.Tensor, query_y: torch.Tensor, ref: torch.Tensor,
                    ref_y: torch.Tensor, exclude_self: bool) -> float:
    """Share of queries whose nearest reference (cosine) has the same label."""
    sims = F.normalize(query.float(), dim=1) @ F.normalize(ref.float(), dim=1).T
    if exclude_self:
        sims.fill_diagonal_(-math.inf)
    nearest = sims.argmax(1)
    return (ref_y[nearest] == query_y).float().mean().item()


def _embed(model: nn.Module, x: np.ndarray, config: TrainConfig,
           device: torch.device) -> torch.Tensor:
    """Centre-crop features in eval mode (the validation view of the data)."""
    was_training = model.training
    model.eval()
    outputs = []
    with torch.no_grad():
        for start in range(0, len(x), SECOND_TASK_BATCH):
            batch = center_crop_batch(x, start, start + SECOND_TASK_BATCH, config.input_size)
            outputs.append(model(to_network_input(batch, device)).float())
    model.train(was_training)
    return torch.cat(outputs)


# ---------------------------------------------------------------------- the loop


def _rng_state(np_rng: np.random.RandomState) -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np_rng.get_state()
    return {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
            "has_gauss": int(has_gauss), "cached": float(cached)}


def _set_rng_state(np_rng: np.random.RandomState, state: dict[str, Any]) -> None:
    np_rng.set_state((state["kind"], state["keys"].numpy().astype(np.uint32), state["pos"],
                      state["has_gauss"], state["cached"]))


def _write_json(path: Path, content: Any) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(content, indent=1))


class _Runner:
    """Runs one task's epochs with checkpoints, files, progress and logging."""

    def __init__(self, config: TrainConfig, device: torch.device, outdir: Path,
                 earlier_history: History, on_epoch_end: EpochCallback | None,
                 writer: Any) -> None:
        self.config, self.device, self.outdir = config, device, outdir
        self.earlier_history = earlier_history
        self.on_epoch_end = on_epoch_end
        self.writer = writer
        self.amp = config.amp and device.type == "cuda"

    def run(self, task: _Task, model: nn.Module, seed_offset: int) -> History:
        config = self.config
        self.outdir.mkdir(parents=True, exist_ok=True)
        params = [p for m in (model, *task.heads.values()) for p in m.parameters()]
        # The fused kernel does weight decay, momentum and the update in one pass over
        # the weights: the unfused step reads SigNet's 18 M parameters five times.
        optimizer = torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                                    nesterov=True, weight_decay=config.weight_decay,
                                    fused=True)
        step = max(1, config.epochs // config.lr_decay_times)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step, gamma=config.lr_decay)
        scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        generator = torch.Generator().manual_seed(config.seed + seed_offset)
        np_rng = np.random.RandomState(config.seed + seed_offset)
        history: History = []
        best = -math.inf
        start_epoch = 0
        checkpoint_path = self.outdir / "checkpoint.pt"
        if config.resume and checkpoint_path.is_file():
            state = self._load_checkpoint(checkpoint_path, task)
            model.load_state_dict(state["model"])
            for key, head in task.heads.items():
                head.load_state_dict(state["heads"][key])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            scaler.load_state_dict(state["scaler"])
            generator.set_state(state["generator"])
            _set_rng_state(np_rng, state["np_rng"])
            history, best, start_epoch = state["history"], state["best"], state["epoch"]
            if start_epoch < config.epochs:
                print(f"{task.name}: resuming after epoch {start_epoch}")

        for epoch in range(start_epoch, config.epochs):
            record = self._epoch(task, model, optimizer, scaler, generator, np_rng, epoch)
            scheduler.step()
            metric = task.validate(model)
            record[task.metric_name] = metric
            heads = task.heads
            save_model_file(self.outdir / "model_last.pth", model, heads.get("clf"),
                            heads.get("forg"))
            # NaN (no validation sample) never beats a best, so the first epoch is kept.
            if metric >= best or (math.isnan(metric) and best == -math.inf):
                best = metric if not math.isnan(metric) else best
                save_model_file(self.outdir / "model_best.pth", model, heads.get("clf"),
                                heads.get("forg"))
            history.append(record)
            _write_json(Path(config.logdir) / "history.json", self.earlier_history + history)
            if self.outdir != Path(config.logdir):
                _write_json(self.outdir / "history.json", history)
            self._save_checkpoint(checkpoint_path, task, model, optimizer, scheduler, scaler,
                                  generator, np_rng, history, best, epoch + 1)
            self._log(task, record)
            if self.on_epoch_end is not None:
                self.on_epoch_end(record)
        return history

    def _epoch(self, task: _Task, model: nn.Module, optimizer: torch.optim.Optimizer,
               scaler: torch.amp.GradScaler, generator: torch.Generator,
               np_rng: np.random.RandomState, epoch: int) -> dict[str, Any]:
        config = self.config
        split = task.data.train
        batches = task.plan(generator, np_rng)
        image_shape = tuple(split.x.shape[-2:])
        plan = [(idx, random_crop_offsets(len(idx), image_shape, config.input_size,
                                          generator)) for idx in batches]
        dataset = _PlannedBatches(split, plan, config.input_size)
        model.train()
        for head in task.heads.values():
            head.train()
        lr = optimizer.param_groups[0]["lr"]
        total_loss = total_acc = 0.0
        n_images = n_acc = 0
        started = time.perf_counter()
        bar = tqdm(total=len(plan), desc=f"{task.name} epoch {epoch + 1}/{config.epochs}",
                   unit="batch", disable=not config.progress, dynamic_ncols=True, leave=False)
        for images, y, yforg in _iterate(dataset, config.workers,
                                         pin=self.device.type == "cuda"):
            inputs = to_network_input(images, self.device)
            y, yforg = y.to(self.device), yforg.to(self.device)
            with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
                loss, accuracy = task.loss(model(inputs), y, yforg)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_value_(
                [p for group in optimizer.param_groups for p in group["params"]], 10)
            scaler.step(optimizer)
            scaler.update()
            n = len(y)
            total_loss += loss.item() * n
            n_images += n
            if not math.isnan(accuracy):
                total_acc += accuracy * n
                n_acc += n
            rate = n_images / max(time.perf_counter() - started, 1e-9)
            bar.set_postfix(loss=f"{total_loss / n_images:.4f}",
                            acc=f"{total_acc / max(n_acc, 1):.3f}", img_s=f"{rate:.1f}")
            bar.update()
        bar.close()
        seconds = time.perf_counter() - started
        if n_images == 0:
            raise SigverError(f"{config.dataset_path}: too few training images for one batch")
        return {"task": task.name, "epoch": epoch + 1, "train_loss": total_loss / n_images,
                "train_accuracy": total_acc / n_acc if n_acc else None, "lr": lr,
                "seconds": seconds, "images_per_s": n_images / seconds}

    def _save_checkpoint(self, path: Path, task: _Task, model: nn.Module,
                         optimizer: torch.optim.Optimizer, scheduler: Any,
                         scaler: torch.amp.GradScaler, generator: torch.Generator,
                         np_rng: np.random.RandomState, history: History, best: float,
                         epoch: int) -> None:
        state = {
            "task": task.name, "config": json.dumps(self.config.fingerprint()),
            "epoch": epoch, "best": best, "history": history,
            "model": model.state_dict(),
            "heads": {key: head.state_dict() for key, head in task.heads.items()},
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(), "generator": generator.get_state(),
            "np_rng": _rng_state(np_rng),
        }
        with atomic_output(path) as tmp:
            torch.save(state, tmp)

    def _load_checkpoint(self, path: Path, task: _Task) -> dict[str, Any]:
        try:
            state = torch.load(path, map_location=self.device, weights_only=True)
        except Exception as exc:  # any unreadable file is the same user-facing problem
            raise SigverError(f"{path}: unreadable checkpoint ({type(exc).__name__}); delete "
                              "it or run without --resume") from None
        saved = json.loads(state["config"])
        current = self.config.fingerprint()
        differing = [key for key in current if saved.get(key) != current[key]]
        if differing or state["task"] != task.name:
            what = ", ".join(differing) or f"task {state['task']} vs {task.name}"
            raise SigverError(f"{path}: --resume with different settings ({what}); use the "
                              "original flags or a new --logdir")
        state["generator"] = state["generator"].cpu()
        return state

    def _log(self, task: _Task, record: dict[str, Any]) -> None:
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


# ----------------------------------------------------------------------- entry points


def _tensorboard_writer(logdir: str | None) -> Any:
    if logdir is None:
        return None
    if importlib.util.find_spec("tensorboard") is None:
        raise SigverError("--tensorboard needs the tensorboard package: pip install "
                          "tensorboard")
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(logdir)


def _seed_everything(seed: int, device: torch.device) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    if device.type == "cuda":
        # CPU kernels are already deterministic (and the switch costs seconds of imports);
        # cuBLAS also needs this workspace setting, set before its first use.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)


def _initial_model(config: TrainConfig, device: torch.device, path: str | None) -> nn.Module:
    if path is None:
        model = create_model(config.model or "signet").to(device)
    else:
        model = load_model_parts(path, config.model, device).model
    return fast_layout(model)


def _evaluate_only(config: TrainConfig, device: torch.device) -> dict[str, float]:
    """``--test``: the validation metric(s) of ``--checkpoint``, no training."""
    parts = load_model_parts(config.checkpoint, config.model, device)
    results: dict[str, float] = {}
    data = _load_data(config, genuine_only=not config.forg)
    if config.task == "signet" or parts.classification_layer is not None:
        clf = parts.classification_layer
        if clf is None or clf.out_features != data.n_classes:
            have = "no" if clf is None else f"a {clf.out_features}-user"
            raise SigverError(f"{config.checkpoint}: has {have} classification layer; "
                              f"--users selects {data.n_classes} users")
        task = _ClassificationTask(config, data, device, parts.model.feature_space_size)
        task.heads["clf"] = clf
        results["val_accuracy"] = task.validate(parts.model)
    if config.task != "signet":
        genuine = _load_data(config, genuine_only=True)
        results["val_precision_at_1"] = _ContrastiveTask(config, genuine, device
                                                         ).validate(parts.model)
    for key, value in results.items():
        print(f"{config.checkpoint}: {key} {value:.4f}")
    return results


def train(config: TrainConfig, on_epoch_end: EpochCallback | None = None
          ) -> TrainResult | dict[str, float]:
    """Run a training (or, with ``config.test``, an evaluation) as the commands do.

    Parameters
    ----------
    config
        The run's settings.
    on_epoch_end
        Called with each epoch's history record after its files are written (e.g. for a
        live plot); raising from it stops the run, which ``resume`` can continue.

    Returns
    -------
    TrainResult or dict
        The final task's model files and the history of every task; with ``test``, the
        validation metrics of the checkpoint.
    """
    config.validate()
    device = resolve_device(config.device, config.gpu_idx)
    _seed_everything(config.seed, device)
    if config.test:
        return _evaluate_only(config, device)
    logdir = Path(config.logdir)
    logdir.mkdir(parents=True, exist_ok=True)
    writer = _tensorboard_writer(config.tensorboard)
    history: History = []
    try:
        model_path = config.checkpoint
        if config.task in ("signet", "multi"):
            data = _load_data(config, genuine_only=not config.forg)
            outdir = logdir if config.task == "signet" else logdir / "first_task"
            model = _initial_model(config, device, model_path)
            task = _ClassificationTask(config, data, device, model.feature_space_size)
            history += _Runner(config, device, outdir, [], on_epoch_end, writer
                               ).run(task, model, seed_offset=0)
            model_path = str(outdir / "model_best.pth")
        if config.task in ("multi", "single"):
            data = _load_data(config, genuine_only=True)
            torch.manual_seed(config.seed + 1)
            model = _initial_model(config, device, model_path)
            task = _ContrastiveTask(config, data, device)
            history += _Runner(config, device, logdir, list(history), on_epoch_end, writer
                               ).run(task, model, seed_offset=1)
    finally:
        if writer is not None:
            writer.close()
    return TrainResult(model_best=logdir / "model_best.pth",
                       model_last=logdir / "model_last.pth", history=history)


# ------------------------------------------------------------------------ commands


def build_parser(contrastive: bool) -> argparse.ArgumentParser:
    """The flags of ``contrastive_train`` (``contrastive=True``) or of ``train``."""
    prog = "python -m sigver.featurelearning." + ("contrastive_train" if contrastive
                                                   else "train")
    description = ("Train SigNet features: the first task (user classification, SigNet-F "
                   "with --forg), then a contrastive task (triplet or NT-Xent)."
                   if contrastive else
                   "Train SigNet / SigNet-F features by user classification (first task).")
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add = parser.add_argument
    add("--dataset-path", required=True, help="dataset store (.npz or folder)")
    add("--users", nargs=2, type=int, default=[350, 881], metavar=("A", "B"),
        help="train on users A <= y < B")
    add("--logdir", required=True, help="folder for model files, checkpoint and history")
    add("--model", choices=sorted(available_models), default=None,
        help="architecture (default: that of --checkpoint, else signet)")
    if contrastive:
        add("--task", choices=["multi", "single", "signet"], default="multi",
            help="multi: first task then contrastive; single: contrastive from scratch; "
                 "signet: first task alone")
        add("--loss-type", choices=["triplet", "ntxent"], default="triplet",
            help="contrastive loss")
        add("--margin", type=float, default=0.1, help="triplet margin")
        add("--temperature", type=float, default=0.01, help="NT-Xent temperature")
        add("--forg-loss", choices=["eq3", "eq4"], default="eq4",
            help="first task with --forg: user loss over all samples (Eq. 3) or genuine "
                 "only (Eq. 4)")
        add("--batch-size", type=int, default=None,
            help="one batch size for both tasks (default: 32 first task, 256 contrastive)")
    else:
        add("--loss-type", choices=["L1", "L2"], default="L2",
            help="with --forg: L1 = user loss over all samples (Eq. 3), L2 = genuine only "
                 "(Eq. 4)")
        add("--batch-size", type=int, default=FIRST_TASK_BATCH)
    add("--forg", action="store_true", help="SigNet-F: also learn to detect forgeries")
    add("--lamb", type=float, default=0.95, help="forgery-loss weight with --forg")
    add("--epochs", type=int, default=60, help="epochs per task")
    add("--lr", type=float, default=0.001, help="initial learning rate")
    add("--lr-decay", type=float, default=0.1, help="learning-rate factor at each decay")
    add("--lr-decay-times", type=int, default=3, help="decays over the run")
    add("--momentum", type=float, default=0.9, help="Nesterov momentum")
    add("--weight-decay", type=float, default=1e-4, help="L2 weight decay")
    add("--input-size", nargs=2, type=int, default=[150, 220], metavar=("H", "W"),
        help="network input (random crops in training, centre crop otherwise)")
    add("--checkpoint", default=None,
        help="starting weights (model file); with --test, the file to evaluate")
    add("--test", action="store_true", help="only evaluate --checkpoint on the validation set")
    add("--seed", type=int, default=42, help="seeds the split, sampling, crops and weights")
    add("--device", choices=["auto", "cpu", "cuda"], default="auto",
        help="auto: CUDA when available")
    add("--gpu-idx", type=int, default=0, help="CUDA device index")
    add("--no-amp", action="store_true", help="disable mixed precision on CUDA")
    add("--workers", type=int, default=0, help="data-loading worker processes")
    add("--tensorboard", default=None, metavar="DIR",
        help="log curves to TensorBoard in DIR (pip install tensorboard)")
    add("--resume", action="store_true",
        help="continue from the last completed epoch in --logdir")
    add("--trust-pickles", action="store_true",
        help="unpickle the store's user_mapping (only for files you trust)")
    add("--no-progress", action="store_true", help="hide the progress bars")
    add("--visdomport", type=int, default=None,
        help="accepted for compatibility; live curves now go to --tensorboard")
    return parser


def config_from_args(args: argparse.Namespace, contrastive: bool) -> TrainConfig:
    """Map parsed command-line flags onto a ``TrainConfig``."""
    if contrastive:
        task, forg_loss, loss_type = args.task, args.forg_loss, args.loss_type
        extra = {"margin": args.margin, "temperature": args.temperature}
    else:
        task, forg_loss, loss_type = "signet", {"L1": "eq3", "L2": "eq4"}[args.loss_type], \
            "triplet"
        extra = {}
    return TrainConfig(
        dataset_path=args.dataset_path, logdir=args.logdir, users=tuple(args.users),
        model=args.model, task=task, loss_type=loss_type, forg=args.forg, lamb=args.lamb,
        forg_loss=forg_loss, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        lr_decay=args.lr_decay, lr_decay_times=args.lr_decay_times, momentum=args.momentum,
        weight_decay=args.weight_decay, input_size=tuple(args.input_size),
        checkpoint=args.checkpoint, test=args.test, seed=args.seed, device=args.device,
        gpu_idx=args.gpu_idx, amp=not args.no_amp, workers=args.workers,
        tensorboard=args.tensorboard, resume=args.resume, progress=not args.no_progress,
        trust_pickles=args.trust_pickles, **extra)


def command(argv: Sequence[str] | None, contrastive: bool) -> int:
    """Shared body of the two training commands."""
    args = build_parser(contrastive).parse_args(argv)
    if args.visdomport is not None:
        print("note: --visdomport is ignored; live curves now go to TensorBoard "
              "(--tensorboard DIR)")
    result = train(config_from_args(args, contrastive))
    if isinstance(result, TrainResult):
        print(f"wrote {result.model_best} and {result.model_last}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sigver.featurelearning.train``: the first task alone."""
    return command(argv, contrastive=False)


if __name__ == "__main__":
    raise SystemExit(run_main(main))

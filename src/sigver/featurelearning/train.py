"""Feature learning: ``train(TrainConfig(...))`` and ``evaluate(TrainConfig(...))``.

``train`` runs the first task (SigNet / SigNet-F), the contrastive task (triplet or
NT-Xent), or both in turn (multi-task: the contrastive task starts from the first task's
best weights). Output in ``logdir`` (the first task of a multi-task run in
``logdir/first_task``): ``model_last.pth`` after every epoch, ``model_best.pth`` when the
validation metric is >= the best so far (both in the published 3-tuple format),
``preprocessing.json`` (the preprocessing settings of the training data),
``checkpoint.pt`` (for ``resume``) and ``history.json`` (one record per epoch of every
task run so far). ``evaluate`` only computes the validation metrics of ``checkpoint``.

Started by ``torchrun`` with several processes, ``train`` trains data-parallel with DDP
(``sigver.featurelearning.distributed``; docs/scaling.md): the batch size stays the
global one, and rank 0 alone writes the files above, prints and shows progress bars.

The pieces: ``config`` (the settings), ``split`` (the data), ``tasks`` (the objectives),
``sampling`` (the batch plans), ``loop`` (the epochs), ``checkpoint`` (resume) and
``distributed`` (torchrun). The commands ``python -m sigver.featurelearning.train``
(first task alone) and ``sigver train`` (= ``python -m
sigver.featurelearning.contrastive_train``) are in ``cli/train.py``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from sigver.datasets.util import read_store_settings
from sigver.errors import ParameterError
from sigver.featurelearning.config import FIRST_TASK_BATCH, SECOND_TASK_BATCH, TrainConfig
from sigver.featurelearning.data import fast_layout, resolve_device
from sigver.featurelearning.distributed import Group, Ranks, process_group, rank_device
from sigver.featurelearning.loop import EpochCallback, EpochLoop, History
from sigver.featurelearning.models import create_model, load_model_parts
from sigver.featurelearning.split import TrainingData, load_training_data
from sigver.featurelearning.tasks import (
    ClassificationTask,
    ContrastiveTask,
    fit_batch_size,
    ntxent_task,
    triplet_task,
)
from sigver.settings import PreprocessingSettings, resolve_settings, write_model_settings

__all__ = ["EvaluationResult", "TrainConfig", "TrainResult", "evaluate", "train"]


@dataclass
class TrainResult:
    """Where a run wrote its final task's model files, and the history of every task."""

    model_best: Path
    model_last: Path
    history: History


@dataclass
class EvaluationResult:
    """The validation metrics of a model file (``val_accuracy`` of the first task,
    ``val_precision_at_1`` of the contrastive task, as they apply)."""

    checkpoint: Path
    metrics: dict[str, float]


def train(config: TrainConfig, on_epoch_end: EpochCallback | None = None) -> TrainResult:
    """Run a training as ``sigver train`` does.

    Under ``torchrun`` (``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` in the environment)
    every rank calls it with the same settings; each returns the same result, and only
    rank 0 writes files and prints (its warnings are the only ones shown).

    Parameters
    ----------
    config
        The run's settings (``config.validate()`` is called first).
    on_epoch_end
        Called (on every rank) with each epoch's history record after its files are
        written (e.g. for a live plot); raising from it stops the run, which ``resume``
        can continue.

    Returns
    -------
    TrainResult
        The final task's model files and the history of every task.
    """
    config.validate()
    ranks = Ranks.from_environment()
    device = rank_device(config.device, config.gpu_idx, ranks)
    with contextlib.ExitStack() as stack:
        if not ranks.is_main:
            stack.enter_context(warnings.catch_warnings())
            warnings.simplefilter("ignore")
        group = stack.enter_context(process_group(ranks, device))
        history = _train(config, device, group, on_epoch_end)
    logdir = Path(config.logdir)
    return TrainResult(model_best=logdir / "model_best.pth",
                       model_last=logdir / "model_last.pth", history=history)


def _train(config: TrainConfig, device: torch.device, group: Group,
           on_epoch_end: EpochCallback | None) -> History:
    _seed_everything(config.seed, device)
    logdir = Path(config.logdir)
    writer = _tensorboard_writer(config.tensorboard, create=group.is_main)
    history: History = []
    try:
        loop = EpochLoop(config, device, on_epoch_end, writer, group)
        model_path = config.checkpoint or init_model_path(config.init)
        settings = None
        if config.task in ("signet", "multi"):
            outdir = logdir if config.task == "signet" else logdir / "first_task"
            data = _load(config, genuine_only=not config.forg)
            model = _initial_model(config, device, model_path)
            task = _first_task(config, data, device, model.feature_space_size)
            if config.init is not None:
                _reuse_heads(task, model_path, config, device)
            settings = _training_settings(config, data)
            if group.is_main:
                _record_settings(outdir, settings)
            history += loop.run(task, model, outdir=outdir, seed=config.seed,
                                earlier_history=[])
            model_path = str(outdir / "model_best.pth")
        if config.task in ("multi", "single"):
            data = _load(config, genuine_only=True)
            torch.manual_seed(config.seed + 1)
            model = _initial_model(config, device, model_path)
            task = _contrastive_task(config, data, device, ranks=group.world_size)
            settings = settings or _training_settings(config, data)
            if group.is_main:
                _record_settings(logdir, settings)
            history += loop.run(task, model, outdir=logdir, seed=config.seed + 1,
                                earlier_history=list(history))
    finally:
        if writer is not None:
            writer.close()
    return history


def evaluate(config: TrainConfig) -> EvaluationResult:
    """The validation metrics of ``config.checkpoint``, without training.

    The split is the one ``train`` uses with the same settings. ``task="signet"``, or a
    model file with a classification layer, gives ``val_accuracy`` (the layer must have
    one output per selected user); ``multi`` / ``single`` give ``val_precision_at_1``.
    """
    config.validate()
    if config.checkpoint is None:
        raise ParameterError("checkpoint", None, "give the model file to evaluate")
    device = resolve_device(config.device, config.gpu_idx)
    _seed_everything(config.seed, device)
    parts = load_model_parts(config.checkpoint, config.model, device)
    metrics: dict[str, float] = {}
    if config.task == "signet" or parts.classification_layer is not None:
        data = _load(config, genuine_only=not config.forg)
        clf = parts.classification_layer
        if clf is None or clf.out_features != data.n_classes:
            have = "no" if clf is None else f"a {clf.out_features}-user"
            raise ParameterError("users", config.users,
                                 f"selects {data.n_classes} users; {config.checkpoint} has "
                                 f"{have} classification layer")
        task = _first_task(config, data, device, parts.model.feature_space_size)
        task.heads["clf"] = clf
        metrics["val_accuracy"] = task.validate(parts.model)
    if config.task != "signet":
        genuine = _load(config, genuine_only=True)
        metrics["val_precision_at_1"] = _contrastive_task(config, genuine, device
                                                          ).validate(parts.model)
    return EvaluationResult(checkpoint=Path(config.checkpoint), metrics=metrics)


def _load(config: TrainConfig, genuine_only: bool) -> TrainingData:
    return load_training_data(config.dataset_path, users=config.users,
                              input_size=config.input_size, genuine_only=genuine_only,
                              val_fraction=config.val_fraction, seed=config.seed,
                              trusted=config.trust_pickles)


def _first_task(config: TrainConfig, data: TrainingData, device: torch.device,
                feature_size: int) -> ClassificationTask:
    return ClassificationTask(data, feature_size=feature_size,
                              batch_size=config.batch_size or FIRST_TASK_BATCH,
                              input_size=config.input_size, device=device, forg=config.forg,
                              lamb=config.lamb, forg_loss=config.forg_loss)


def _contrastive_task(config: TrainConfig, data: TrainingData, device: torch.device,
                      ranks: int = 1) -> ContrastiveTask:
    n_users = len(torch.unique(data.train.y))
    batch_size = fit_batch_size(config.batch_size or SECOND_TASK_BATCH, n_users, ranks)
    common = {"batch_size": batch_size, "input_size": config.input_size, "device": device,
              "ranks": ranks}
    if config.loss_type == "triplet":
        return triplet_task(data, margin=config.margin, **common)
    return ntxent_task(data, temperature=config.temperature, **common)


def _training_settings(config: TrainConfig, data: TrainingData) -> PreprocessingSettings:
    """The preprocessing settings of the training data, with the run's network input.

    A store that records none (a published one) gives the default canvas, with a
    warning, and the size of its images.
    """
    recorded = read_store_settings(config.dataset_path)
    if recorded is None:
        return resolve_settings(None, source=f"dataset store {config.dataset_path}",
                                img_size=data.train.x.shape[-2:],
                                input_size=config.input_size)
    # The model learns from crops of config.input_size (which fit in the stored images:
    # the data were loaded), whatever the store's default crop is.
    return replace(recorded, input_size=tuple(config.input_size))


def _record_settings(outdir: Path, settings: PreprocessingSettings) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    write_model_settings(outdir / "model_best.pth", settings)


def _tensorboard_writer(logdir: str | None, create: bool = True) -> object | None:
    """A ``SummaryWriter`` (checked on every rank, made by rank 0 only)."""
    if logdir is None:
        return None
    if importlib.util.find_spec("tensorboard") is None:
        raise ParameterError("tensorboard", logdir,
                             "needs the tensorboard package: pip install tensorboard")
    if not create:
        return None
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(logdir)


def _seed_everything(seed: int, device: torch.device) -> None:
    torch.manual_seed(seed)  # the initial weights
    if device.type == "cuda":
        # CPU kernels are already deterministic (and the switch costs seconds of imports);
        # cuBLAS also needs this workspace setting, set before its first use.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)


def init_model_path(init: str | None) -> str | None:
    """The model file ``TrainConfig.init`` names (``"default"``: the built-in model)."""
    if init is None:
        return None
    from sigver.pretrained import resolve_model

    return str(resolve_model(init))


def _reuse_heads(task: ClassificationTask, path: str | None, config: TrainConfig,
                 device: torch.device) -> None:
    """Keep the heads of the ``init`` model file where they fit the selected users (the
    same number of classes); otherwise the task's fresh heads stay."""
    parts = load_model_parts(path, config.model, device)
    clf = parts.classification_layer
    if clf is None or clf.out_features != task.heads["clf"].out_features:
        return
    task.heads["clf"] = clf
    if "forg" in task.heads and parts.forgery_layer is not None:
        task.heads["forg"] = parts.forgery_layer


def _initial_model(config: TrainConfig, device: torch.device, path: str | None) -> nn.Module:
    if path is None:
        model = create_model(config.model or "signet").to(device)
    else:
        model = load_model_parts(path, config.model, device).model
    return fast_layout(model)


if __name__ == "__main__":
    from ..cli import run_main
    from ..cli.train import first_task_main  # relative: the library never imports the CLI

    raise SystemExit(run_main(first_task_main))

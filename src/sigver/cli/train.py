"""``sigver train`` (= ``python -m sigver.featurelearning.contrastive_train``) and
``python -m sigver.featurelearning.train`` (the first task alone).

Both parse the published flags into a ``TrainConfig`` and call
``sigver.featurelearning.train.train``, or ``evaluate`` with ``--test``. The first-task
command keeps its published ``--loss-type L1|L2`` (the Eq. 3 / Eq. 4 choice, ``forg_loss``
in Python); the multi-task command's ``--loss-type`` names the contrastive loss and
``--forg-loss eq3|eq4`` the first task's choice.

Both train data-parallel when started by ``torchrun`` (docs/scaling.md), e.g.
``torchrun --nproc-per-node 4 -m sigver.featurelearning.contrastive_train ...``;
``--batch-size`` is then the global batch, shared among the processes.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from sigver.cli import checks
from sigver.cli.flags import as_flags

CONTRASTIVE_PROG = "sigver train"
FIRST_TASK_PROG = "python -m sigver.featurelearning.train"
# The first-task command's --loss-type values, as forg_loss values.
FIRST_TASK_LOSSES = {"L1": "eq3", "L2": "eq4"}


def build_parser(*, contrastive: bool = True, prog: str | None = None
                 ) -> argparse.ArgumentParser:
    """The flags of ``sigver train`` (``contrastive=True``) or of the first-task command."""
    from sigver.featurelearning.config import FIRST_TASK_BATCH
    from sigver.featurelearning.models import available_models

    if prog is None:
        prog = CONTRASTIVE_PROG if contrastive else FIRST_TASK_PROG
    description = ("Train SigNet features: the first task (user classification, SigNet-F "
                   "with --forg), then a contrastive task (triplet or NT-Xent)."
                   if contrastive else
                   "Train SigNet / SigNet-F features by user classification (first task).")
    description += (" Under torchrun (--nproc-per-node N) it trains data-parallel (DDP); "
                    "--batch-size is then the global batch.")
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add = parser.add_argument
    # Required flags have no default to show.
    add("--dataset-path", required=True, default=argparse.SUPPRESS,
        help="dataset store (.npz or folder)")
    add("--users", nargs=2, type=int, default=[350, 881], metavar=("A", "B"),
        help="train on users A <= y < B")
    add("--logdir", required=True, default=argparse.SUPPRESS,
        help="folder for model files, preprocessing.json, checkpoint and history")
    add("--model", choices=sorted(available_models), default=None,
        help="architecture; None: that of --checkpoint, else signet")
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
            help="one batch size for both tasks; None: 32 for the first task, 256 for the "
                 "contrastive task")
    else:
        add("--loss-type", choices=sorted(FIRST_TASK_LOSSES), default="L2",
            help="with --forg: L1 = user loss over all samples (Eq. 3), L2 = genuine only "
                 "(Eq. 4)")
        add("--batch-size", type=int, default=FIRST_TASK_BATCH, help="samples per batch")
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
    # No default shown: the help's one "default" is the value naming the built-in model.
    add("--init", default=argparse.SUPPRESS, metavar="MODEL",
        help="fine-tune from this model file, or 'default' for the built-in model trained "
             "on synthetic signatures (docs/pretrained.md); its heads are kept only when "
             "they fit the selected users; not with --checkpoint")
    add("--test", action="store_true", help="only evaluate --checkpoint on the validation set")
    add("--seed", type=int, default=42, help="seeds the split, sampling, crops and weights")
    add("--device", choices=["auto", "cpu", "cuda"], default="auto",
        help="auto: CUDA when available")
    add("--gpu-idx", type=int, default=0,
        help="CUDA device index (under torchrun: each process uses GPU LOCAL_RANK)")
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


def config_kwargs(args: argparse.Namespace, *, contrastive: bool) -> dict[str, Any]:
    """The ``TrainConfig`` keyword arguments of parsed flags."""
    if contrastive:
        task = {"task": args.task, "loss_type": args.loss_type, "forg_loss": args.forg_loss,
                "margin": args.margin, "temperature": args.temperature}
    else:
        task = {"task": "signet", "forg_loss": FIRST_TASK_LOSSES[args.loss_type]}
    return {
        "dataset_path": args.dataset_path, "logdir": args.logdir, "users": tuple(args.users),
        "model": args.model, "forg": args.forg, "lamb": args.lamb, "epochs": args.epochs,
        "batch_size": args.batch_size, "lr": args.lr, "lr_decay": args.lr_decay,
        "lr_decay_times": args.lr_decay_times, "momentum": args.momentum,
        "weight_decay": args.weight_decay, "input_size": tuple(args.input_size),
        "checkpoint": args.checkpoint, "init": getattr(args, "init", None),
        "seed": args.seed, "device": args.device,
        "gpu_idx": args.gpu_idx, "amp": not args.no_amp, "workers": args.workers,
        "tensorboard": args.tensorboard, "resume": args.resume,
        "progress": not args.no_progress, "trust_pickles": args.trust_pickles, **task}


def _command(argv: Sequence[str] | None, *, contrastive: bool, prog: str | None) -> int:
    parser = build_parser(contrastive=contrastive, prog=prog)
    args = parser.parse_args(argv)
    if args.test and args.checkpoint is None:
        parser.error("--test needs --checkpoint FILE")
    if args.visdomport is not None:
        print("note: --visdomport is ignored; live curves now go to TensorBoard "
              "(--tensorboard DIR)")
    from sigver.featurelearning.distributed import is_main_process
    from sigver.featurelearning.train import TrainConfig, evaluate, train

    config = TrainConfig(**config_kwargs(args, contrastive=contrastive))
    aliases = {"amp": "--no-amp", "progress": "--no-progress"}
    if not contrastive:
        aliases["forg_loss"] = "--loss-type"
    # Under torchrun every process runs this; rank 0 alone reports.
    report = print if is_main_process() else (lambda *_: None)
    with as_flags(parser, aliases):
        config.validate()  # the numbers first, then the files
        checks.input_file("--dataset-path", args.dataset_path, "store")
        checks.input_file("--checkpoint", args.checkpoint, "model")
        if config.init is not None:
            from sigver.featurelearning.train import init_model_path

            checks.input_file("--init", init_model_path(config.init), "model")
        if not args.test:
            checks.output_folder("--logdir", args.logdir)
            checks.output_folder("--tensorboard", args.tensorboard)
        if args.test:
            result = evaluate(config)
            for key, value in result.metrics.items():
                report(f"{result.checkpoint}: {key} {value:.4f}")
        else:
            trained = train(config)
            report(f"wrote {trained.model_best} and {trained.model_last}")
    return 0


def main(argv: Sequence[str] | None = None, *, prog: str = CONTRASTIVE_PROG) -> int:
    """``sigver train``: multi-task, single-task contrastive, or first-task training."""
    return _command(argv, contrastive=True, prog=prog)


def first_task_main(argv: Sequence[str] | None = None, *, prog: str = FIRST_TASK_PROG
                    ) -> int:
    """``python -m sigver.featurelearning.train``: the first task alone."""
    return _command(argv, contrastive=False, prog=prog)

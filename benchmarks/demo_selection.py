"""Choose the demo's training settings on writers the demo never reports on.

``sigver demo`` reports the WD / WI results of the exploitation writers of a store drawn
with ``--seed`` (42 by default; docs/demo.md averages seeds 42, 43 and 44). The training
settings of ``FULL`` are chosen here instead, on a store drawn with another seed
(``--seed``, by default ``SELECTION_SEED`` = 1000: other writers, other forgers), with
the demo's sizes and exactly the demo's stages (``sigver.demo.settings``: the same
``TrainConfig`` objects, the same protocol keyword arguments). For each candidate
(SigNet-F epochs x forgery-loss weight x triplet epochs) it trains, extracts the
features of that store and runs WD (the selection criterion: EER with user thresholds,
mean over the folds) and WI; the untrained baseline is the first row. Shorter
candidates are snapshots of longer runs (``train_with_snapshots``): the same
computation, a third of the training time.

    .venv/bin/python benchmarks/demo_selection.py [--seed 1000] [--lambs 0.2 0.5]
        [--out DIR] [--quick]

``--quick`` runs the grid at the sizes of ``sigver demo --quick`` (a check of the
script; its table means nothing).
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import tempfile
import time
from pathlib import Path

import torch

from sigver.demo.settings import (
    FULL,
    QUICK,
    SELECTION_SEED,
    DemoSettings,
    protocol_kwargs,
    synth_kwargs,
    train_configs,
)
from sigver.featurelearning.config import TrainConfig
from sigver.featurelearning.extract import extract_store
from sigver.featurelearning.models import create_model, save_model_file
from sigver.featurelearning.train import train
from sigver.preprocessing.process_dataset import process_dataset
from sigver.synthetic.generate import generate_images
from sigver.wd.protocol import run as run_wd
from sigver.wi.protocol import run as run_wi

FIRST_EPOCHS = (3, 6)
LAMBS = (0.2, 0.5)
TRIPLET_EPOCHS = (1, 2)


def train_with_snapshots(config: TrainConfig, epochs: tuple[int, ...],
                         snapshots: Path) -> dict[int, Path]:
    """Train ``config`` for ``max(epochs)`` epochs; ``{k: the run's folder as it was after
    epoch k}`` (``model_best.pth`` = the best of epochs 1..k).

    The demo's runs keep the learning rate constant (``lr_decay_times=1`` decays after the
    last epoch) and draw batches and crops from one seeded generator in order, so the
    first k epochs of a longer run are the k-epoch run: one run serves every k.
    """
    done = [0]
    folders = {}

    def snapshot(_record: dict) -> None:
        done[0] += 1
        if done[0] in epochs and done[0] < max(epochs):
            folders[done[0]] = snapshots / f"after_{done[0]}"
            shutil.copytree(config.logdir, folders[done[0]])

    train(dataclasses.replace(config, epochs=max(epochs)), on_epoch_end=snapshot)
    folders[max(epochs)] = Path(config.logdir)
    return folders


def evaluate(model_path: Path, store: Path, settings: DemoSettings) -> dict[str, float]:
    """WD and WI figures (mean and std over folds, in %) of one model on the store."""
    features = extract_store(model_path, store, device="cpu", progress=False)
    wd = run_wd(features, **protocol_kwargs(settings, "wd")).summary()
    wi = run_wi(features, **protocol_kwargs(settings, "wi")).summary()
    return {"wd_eer": 100 * wd["EER_userthresholds"][0],
            "wd_eer_std": 100 * wd["EER_userthresholds"][1],
            "wd_far_random": 100 * wd["FAR_random"][0],
            "wi_eer": 100 * wi["EER_userthresholds"][0],
            "wi_eer_std": 100 * wi["EER_userthresholds"][1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=SELECTION_SEED,
                        help=f"seed of the selection store and of training (default "
                             f"{SELECTION_SEED})")
    parser.add_argument("--out", type=Path, default=None,
                        help="working folder (default: a temporary one, deleted)")
    parser.add_argument("--lambs", type=float, nargs="+", default=list(LAMBS),
                        help=f"forgery-loss weights of the grid (default {LAMBS})")
    parser.add_argument("--quick", action="store_true",
                        help="the grid at the sizes of 'sigver demo --quick'")
    args = parser.parse_args()
    base = dataclasses.replace(QUICK if args.quick else FULL, seed=args.seed)
    base.validate()
    work = args.out or Path(tempfile.mkdtemp(prefix="demo-selection-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    print(f"selection store: {base.writers} writers, seed {base.seed} "
          f"({torch.get_num_threads()} torch threads)", flush=True)

    store = work / "data.npz"
    info = generate_images(work / "images", workers=0, progress=False, **synth_kwargs(base))
    process_dataset("gpds", work / "images", store, canvas_size=tuple(info["canvas_size"]),
                    workers=0, progress=False)
    shutil.rmtree(work / "images")
    print(f"store drawn and preprocessed in {time.perf_counter() - started:.0f} s",
          flush=True)

    torch.manual_seed(base.seed)
    untrained = work / "untrained.pth"
    save_model_file(untrained, create_model(base.model))
    rows = [("untrained", evaluate(untrained, store, base), 0.0)]
    print(f"untrained: {rows[0][1]}", flush=True)

    for lamb in args.lambs:
        # First task: one run of max(FIRST_EPOCHS) epochs, as the demo configures it.
        candidate = dataclasses.replace(base, lamb=lamb, first_epochs=max(FIRST_EPOCHS))
        first, _ = train_configs(candidate, store, work / f"lamb_{lamb}", device="cpu",
                                 progress=False)
        tic = time.perf_counter()
        firsts = train_with_snapshots(first, FIRST_EPOCHS, work / f"lamb_{lamb}_first")
        print(f"first task, lamb {lamb}: {time.perf_counter() - tic:.0f} s", flush=True)
        for first_epochs in FIRST_EPOCHS:
            candidate = dataclasses.replace(base, lamb=lamb, first_epochs=first_epochs,
                                            triplet_epochs=max(TRIPLET_EPOCHS))
            model_dir = work / f"lamb_{lamb}_first_{first_epochs}"
            _, second = train_configs(candidate, store, model_dir, device="cpu",
                                      progress=False)
            second = dataclasses.replace(
                second, checkpoint=str(firsts[first_epochs] / "model_best.pth"))
            tic = time.perf_counter()
            seconds = train_with_snapshots(second, TRIPLET_EPOCHS, model_dir / "snapshots")
            print(f"triplet task after {first_epochs} epochs: "
                  f"{time.perf_counter() - tic:.0f} s", flush=True)
            for triplet_epochs, folder in sorted(seconds.items()):
                tic = time.perf_counter()
                figures = evaluate(folder / "model_best.pth", store, candidate)
                name = (f"SigNet-F {first_epochs} ep, lamb {lamb}, "
                        f"triplet {triplet_epochs} ep")
                rows.append((name, figures, time.perf_counter() - tic))
                print(f"{name}: {figures} (evaluated in {rows[-1][2]:.0f} s)", flush=True)

    print(f"\nselection store seed {base.seed}, {base.exp_writers} exploitation writers "
          f"evaluated, {base.folds} folds; total {time.perf_counter() - started:.0f} s\n")
    print("| candidate | WD EER user thr. (%) | WD FAR random (%) | WI EER user thr. (%) |")
    print("|---|---|---|---|")
    for name, f, _ in rows:
        print(f"| {name} | {f['wd_eer']:.2f} ± {f['wd_eer_std']:.2f} | "
              f"{f['wd_far_random']:.2f} | {f['wi_eer']:.2f} ± {f['wi_eer_std']:.2f} |")
    best = min(rows[1:], key=lambda row: row[1]["wd_eer"])
    print(f"\nlowest WD EER (user thresholds): {best[0]}")
    if args.out is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()

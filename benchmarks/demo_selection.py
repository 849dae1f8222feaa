"""Choose the demo's training settings on writers the demo never reports on.

``sigver demo`` reports the WD / WI results of the exploitation writers of a store drawn
with ``--seed`` (42 by default; docs/demo.md averages seeds 42, 43 and 44). The training
settings of ``FULL`` are chosen here instead, on a store drawn with another seed
(``--seed``, 1000 by default: other writers, other forgers), with the demo's sizes and
exactly the demo's stages (``sigver.demo.settings``: the same ``TrainConfig`` objects, the
same protocol keyword arguments). For each candidate (SigNet-F epochs x forgery-loss weight
x triplet epochs) it trains, extracts the features of that store and runs WD (the
selection criterion: EER with user thresholds, mean over the folds) and WI; the untrained
baseline is the first row. Candidates that share the first task share its run: the first
task's ``TrainConfig`` is the same apart from its folder, so the run would be identical.

    .venv/bin/python benchmarks/demo_selection.py [--seed 1000] [--out DIR] [--quick]

``--quick`` runs the grid at the sizes of ``sigver demo --quick`` (a check of the
script; its table means nothing).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import shutil
import tempfile
import time
from pathlib import Path

import torch

from sigver.demo.settings import (
    FULL,
    QUICK,
    DemoSettings,
    protocol_kwargs,
    synth_kwargs,
    train_configs,
)
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


def candidates(base: DemoSettings) -> list[DemoSettings]:
    """The grid, ordered so that candidates sharing a first task are adjacent."""
    return [dataclasses.replace(base, first_epochs=first, lamb=lamb, triplet_epochs=triplet)
            for first, lamb, triplet in itertools.product(FIRST_EPOCHS, LAMBS,
                                                          TRIPLET_EPOCHS)]


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
    parser.add_argument("--seed", type=int, default=1000,
                        help="seed of the selection store and of training (default 1000)")
    parser.add_argument("--out", type=Path, default=None,
                        help="working folder (default: a temporary one, deleted)")
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

    first_runs: dict[str, Path] = {}
    for index, candidate in enumerate(candidates(base)):
        tic = time.perf_counter()
        first, second = train_configs(candidate, store, work / f"model_{index}",
                                      device="cpu", progress=False)
        key = repr(dataclasses.replace(first, logdir=""))
        if key not in first_runs:
            first_runs[key] = train(first).model_best
        second = dataclasses.replace(second, checkpoint=str(first_runs[key]))
        model = train(second).model_best
        figures = evaluate(model, store, candidate)
        name = (f"SigNet-F {candidate.first_epochs} ep, lamb {candidate.lamb}, "
                f"triplet {candidate.triplet_epochs} ep")
        rows.append((name, figures, time.perf_counter() - tic))
        print(f"{name}: {figures} ({rows[-1][2]:.0f} s)", flush=True)

    print(f"\nselection store seed {base.seed}, {base.exp_writers} exploitation writers "
          f"evaluated, {base.folds} folds; total {time.perf_counter() - started:.0f} s\n")
    print("| candidate | WD EER user thr. (%) | WD FAR random (%) | WI EER user thr. (%) "
          "| s |")
    print("|---|---|---|---|---|")
    for name, f, seconds in rows:
        print(f"| {name} | {f['wd_eer']:.2f} ± {f['wd_eer_std']:.2f} | "
              f"{f['wd_far_random']:.2f} | {f['wi_eer']:.2f} ± {f['wi_eer_std']:.2f} | "
              f"{seconds:.0f} |")
    best = min(rows[1:], key=lambda row: row[1]["wd_eer"])
    print(f"\nlowest WD EER (user thresholds): {best[0]}")
    if args.out is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()

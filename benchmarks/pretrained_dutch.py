"""The built-in model on real signatures: SigComp2011 Dutch, split in two halves.

The 64 writers, sorted by folder name, are split in two: the FIRST 32 (001-037) are the
lab's own small dataset (training data of rows c and d, development users of the
protocols), the LAST 32 (038-069) are evaluated and never trained on. Every image is
preprocessed once with the built-in model's settings (canvas 952 x 1360, 170 x 242; the
one scan wider than the canvas keeps its middle). Four feature models:

  (a) untrained   signet_thin with random weights (seed --seed)
  (b) built-in    sigver's built-in model: synthetic signatures only, no real data
  (c) scratch     signet_thin trained on the first half (SigNet-F) from random weights
  (d) fine-tuned  the built-in model fine-tuned on the first half (``--init default``),
                  the same epochs as (c)
  (c+p)           row c's weights with the built-in model's power normalisation of the
                  features: shows how much of (b) and (d) the normalisation alone gives

For each: the writer-dependent (WD) and writer-independent (WI) protocols on the last
half, 10 folds (the first half gives the WD negatives and the WI training pairs), mean
+- std of the EER with user thresholds and with a global threshold. Then ``sigver
enroll`` / ``sigver verify`` through the Python API with no model and no classifier
(the built-in ones) on the last half: each writer enrolls --references random genuine
files; their other genuine files, their skilled forgeries and one genuine file of every
other last-half writer are verified at the default threshold (FRR, FAR skilled, FAR
random).

    .venv/bin/python benchmarks/pretrained_dutch.py [--epochs 6] [--work out/pretrained_dutch]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

import sigver
from sigver.datasets.folder import FolderDataset
from sigver.datasets.util import load_dataset, read_store_settings
from sigver.featurelearning.extract import extract_store
from sigver.featurelearning.models import create_model, load_model_parts, save_model_file
from sigver.featurelearning.train import TrainConfig, train
from sigver.preprocessing.process_dataset import process_dataset
from sigver.pretrained import model_path as builtin_model
from sigver.settings import read_model_settings, write_model_settings
from sigver.wd.protocol import run as run_wd
from sigver.wi.protocol import run as run_wi
from verify_dutch import DATA

HALF = 32
ROWS = {"a": "untrained", "b": "built-in (synthetic only)", "c": "scratch on first half",
        "d": "built-in fine-tuned on first half",
        "c+p": "scratch on first half, features power-normalised"}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="the SigComp2011 Dutch tree")
    parser.add_argument("--work", type=Path, default=Path("out/pretrained_dutch"),
                        help="folder for the store, models and enrollment database")
    parser.add_argument("--epochs", type=int, default=6,
                        help="SigNet-F epochs of rows c and d on the first half")
    parser.add_argument("--lr-scratch", type=float, default=0.01,
                        help="learning rate of row c (the demo's)")
    parser.add_argument("--lr-finetune", type=float, default=0.001,
                        help="learning rate of row d (a tenth: the weights are trained)")
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--gen-for-train", type=int, default=6,
                        help="WD: genuine signatures per person to train on; WI: per "
                             "development user")
    parser.add_argument("--gen-for-test", type=int, default=6)
    parser.add_argument("--gen-for-ref", type=int, default=6, help="WI references")
    parser.add_argument("--forg-from-dev", type=int, default=10)
    parser.add_argument("--references", type=int, default=8,
                        help="genuine files enrolled per person (verification)")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--skip-training", action="store_true",
                        help="reuse the models of rows c and d in --work")
    return parser.parse_args()


def prepare_store(data: Path, work: Path) -> Path:
    """Every Dutch scan, preprocessed with the built-in model's settings (once)."""
    store = work / "dutch.npz"
    if not store.exists():
        settings = read_model_settings(builtin_model())
        process_dataset(FolderDataset(data, canvas_size=settings.canvas_size), None, store,
                        image_size=settings.img_size, input_size=settings.input_size,
                        crop_oversize=True, workers=1, progress=True)
    return store


def models(args: argparse.Namespace, store: Path) -> dict[str, Path]:
    """The model file of each row (training rows c and d unless already there)."""
    untrained = args.work / "untrained" / "model.pth"
    untrained.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    save_model_file(untrained, create_model("signet_thin"))
    write_model_settings(untrained, read_store_settings(store))
    common = {"dataset_path": str(store), "users": (0, HALF), "task": "signet",
              "forg": True, "lamb": 0.5, "epochs": args.epochs, "lr_decay_times": 1,
              "seed": args.seed, "device": "cpu", "progress": True}
    rows = {"a": untrained, "b": builtin_model()}
    for row, extra in (("c", {"model": "signet_thin", "lr": args.lr_scratch}),
                       ("d", {"init": "default", "lr": args.lr_finetune})):
        logdir = args.work / f"row_{row}"
        if not (args.skip_training and (logdir / "model_best.pth").exists()):
            started = time.perf_counter()
            train(TrainConfig(logdir=str(logdir), **common, **extra))
            print(f"row {row} ({ROWS[row]}): trained {args.epochs} epochs in "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
        rows[row] = logdir / "model_best.pth"
    rows["c+p"] = with_power(rows["c"], args.work / "row_c_power" / "model.pth",
                             load_model_parts(builtin_model()).model.feature_power)
    for row, path in rows.items():
        print(f"row {row}: {path}, feature power "
              f"{load_model_parts(path).model.feature_power}", flush=True)
    return rows


def with_power(source: Path, target: Path, power: float) -> Path:
    """A copy of model file ``source`` whose features are power-normalised."""
    target.parent.mkdir(parents=True, exist_ok=True)
    parts = load_model_parts(source)
    parts.model.feature_power = power
    save_model_file(target, parts.model, parts.classification_layer, parts.forgery_layer)
    write_model_settings(target, read_model_settings(source))
    return target


def protocol_table(args: argparse.Namespace, store: Path, rows: dict[str, Path]) -> None:
    exp, dev = (HALF, 2 * HALF), (0, HALF)
    lines = {"WD": [], "WI": []}
    for row, model in rows.items():
        features = extract_store(model, store, device="cpu", progress=False)
        wd = run_wd(features, exp_users=exp, dev_users=dev, num_gen_train=args.gen_for_train,
                    num_gen_test=args.gen_for_test, num_forg_from_dev=args.forg_from_dev,
                    folds=args.folds, seed=args.seed, method="exact", jobs=1)
        wi = run_wi(features, exp_users=exp, dev_users=dev, num_gen_train=args.gen_for_train,
                    num_gen_ref=args.gen_for_ref, num_gen_test=args.gen_for_test,
                    folds=args.folds, seed=args.seed)
        for name, result in (("WD", wd), ("WI", wi)):
            summary = result.summary()
            user, glob = summary["EER_userthresholds"], summary["EER"]
            lines[name].append((row, user[0], f"| ({row}) {ROWS[row]} | {100 * user[0]:.2f} "
                                f"± {100 * user[1]:.2f} | {100 * glob[0]:.2f} ± "
                                f"{100 * glob[1]:.2f} |"))
        print(f"row {row}: WD {100 * wd.summary()['EER_userthresholds'][0]:.2f} %, WI "
              f"{100 * wi.summary()['EER_userthresholds'][0]:.2f} %  [{uptime()}]", flush=True)
    for name, entries in lines.items():
        print(f"\n{name}, last 32 writers, {args.folds} folds, EER (%) mean ± std:")
        print("| model | EER, user thresholds | EER, global threshold |\n|---|---|---|")
        for _, _, line in entries:
            print(line)
        eer = {row: value for row, value, _ in entries}
        print(f"goals: (b) within 1.3x of (c): {eer['b'] / eer['c']:.2f}x "
              f"({'met' if eer['b'] <= 1.3 * eer['c'] else 'missed'}); (d) better than (c): "
              f"{100 * eer['d']:.2f} vs {100 * eer['c']:.2f} "
              f"({'met' if eer['d'] < eer['c'] else 'missed'})")


def verification(args: argparse.Namespace) -> None:
    reader = FolderDataset(args.data)
    writers = reader.get_user_list()[HALF:]
    files = {w: reader.user_files(w) for w in writers}
    db = args.work / "builtin.db"
    db.unlink(missing_ok=True)
    rng = np.random.RandomState(args.seed)
    plan = {}
    for writer in writers:
        genuine = [str(f) for f in files[writer].genuine]
        order = rng.permutation(len(genuine))
        plan[writer] = {"references": [genuine[i] for i in order[:args.references]],
                        "genuine": [genuine[i] for i in order[args.references:]],
                        "skilled": [str(f) for f in files[writer].skilled]}
    started = time.perf_counter()
    for writer, person in plan.items():
        # no model_path: the built-in model
        sigver.enroll(person["references"], str(writer), db=db, device="cpu",
                      crop_oversize=True)
    scores = {"genuine": [], "skilled": [], "random": []}
    with sigver.Verifier(db, device="cpu") as verifier:  # no classifier: the built-in one
        threshold = verifier.classifier.threshold
        for writer, person in plan.items():
            randoms = [plan[other]["genuine"][0] for other in plan if other != writer]
            for kind, paths in (("genuine", person["genuine"]),
                                ("skilled", person["skilled"]), ("random", randoms)):
                results = verifier.verify(paths, str(writer), crop_oversize=True)
                scores[kind] += [r.score for r in results]
    gen, sk, rnd = (np.array(scores[k]) for k in ("genuine", "skilled", "random"))
    print(f"\nsigver enroll / verify, built-in model and classifier, last 32 writers, "
          f"{args.references} references each, threshold {threshold:.4f} "
          f"[{time.perf_counter() - started:.0f} s]:")
    print(f"FRR {100 * np.mean(gen < threshold):.1f} % ({np.sum(gen < threshold)}/{len(gen)})"
          f", FAR skilled {100 * np.mean(sk >= threshold):.1f} % "
          f"({np.sum(sk >= threshold)}/{len(sk)}), FAR random "
          f"{100 * np.mean(rnd >= threshold):.1f} % ({np.sum(rnd >= threshold)}/{len(rnd)})")


def uptime() -> str:
    return "load " + " ".join(f"{v:.1f}" for v in os.getloadavg())


def main() -> None:
    args = parse_args()
    if not args.data.is_dir():  # before any work (the verification reads the scans)
        raise SystemExit(f"--data {args.data}: not a folder")
    torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    store = prepare_store(args.data, args.work)
    x, y, _, mapping, _ = load_dataset(store)
    names = [mapping[i] for i in range(len(mapping))]
    print(f"{store}: {len(x)} images; first half {names[0]}-{names[HALF - 1]}, last half "
          f"{names[HALF]}-{names[-1]}  [{uptime()}]", flush=True)
    rows = models(args, store)
    protocol_table(args, store, rows)
    verification(args)
    print(f"total {time.perf_counter() - t0:.0f} s  [{uptime()}]")


if __name__ == "__main__":
    main()

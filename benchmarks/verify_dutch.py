"""Enroll / verify on real signatures: SigComp2011 Dutch (64 writers; ``NNN/`` genuine,
10 writers with 23-24 and the others with 12; ``NNN_forg/`` skilled forgeries of NNN).

The writers with at least ``--references`` + 4 genuine signatures (up to
``--exp-writers``) play the people to verify; every other writer is development data.
Unless ``--model-path`` is given, a small SigNet is trained on the development writers'
genuine signatures (first task, a few epochs on the CPU); then the
writer-independent classifier is fitted on their features with its threshold at the EER
(``sigver wi fit``). Each exploitation writer enrolls ``--references`` random genuine
files (``sigver enroll``); its remaining genuine files, its skilled forgeries and one
genuine file of every other exploitation writer (random forgeries) are verified
(``sigver verify``). Prints the accuracy of the decisions per writer and overall, and
the time of each stage.

    .venv/bin/python benchmarks/verify_dutch.py               # trains a model (minutes)
    .venv/bin/python benchmarks/verify_dutch.py --model-path demo-out/model_best.pth
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

import sigver
from sigver.datasets.folder import FolderDataset, fit_canvas
from sigver.datasets.util import get_subset, load_dataset, read_store_settings, save_dataset
from sigver.featurelearning.extract import extract_store
from sigver.featurelearning.train import TrainConfig, train
from sigver.preprocessing.process_dataset import process_dataset
from sigver.verification.fit import fit_verifier
from sigver.verification.persistence import save_verifier

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sigcomp2011-dutch"
IMAGE_SIZE = (170, 242)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="the SigComp2011 Dutch tree")
    parser.add_argument("--work", type=Path, default=Path("out/verify_dutch"),
                        help="folder for the store, model, classifier and database")
    parser.add_argument("--exp-writers", type=int, default=10,
                        help="writers to enroll and verify (the first ones with enough "
                             "genuine signatures)")
    parser.add_argument("--references", type=int, default=10,
                        help="genuine files enrolled per writer")
    parser.add_argument("--model-path", help="use this model instead of training one")
    parser.add_argument("--model", default="signet_thin", help="architecture to train")
    parser.add_argument("--epochs", type=int, default=6, help="training epochs")
    parser.add_argument("--forg", action="store_true",
                        help="train SigNet-F (also learn to detect the development "
                             "writers' forgeries)")
    parser.add_argument("--fusion", default="max", choices=("max", "min", "mean", "median"))
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--workers", type=int, default=0, help="preprocessing processes")
    return parser.parse_args()


@dataclass
class DutchSplit:
    """The writers of SigComp2011 Dutch split in two, and their stores in ``work``."""

    files: dict
    writers: list
    exp_writers: list
    dev_writers: list
    canvas: tuple[int, int]
    everyone: Path
    store: Path


def prepare_dutch(data: Path, work: Path, references: int, n_exp: int,
                  workers: int) -> DutchSplit:
    """Split the writers (the first ``n_exp`` with ``references`` + 4 genuines are the
    people to verify) and write, once, the store of everyone and of the development
    writers (shared by the benchmarks that use ``work``)."""
    reader = FolderDataset(data)
    writers = reader.get_user_list()
    files = {w: reader.user_files(w) for w in writers}
    canvas = fit_canvas(reader.largest_image_size(), IMAGE_SIZE)
    # The people to verify need references plus held-out genuines: in SigComp2011 Dutch
    # only a few writers have 24 genuine signatures, the others 12.
    eligible = [w for w in writers if len(files[w].genuine) >= references + 4]
    exp_writers = eligible[:n_exp]
    dev_writers = [w for w in writers if w not in exp_writers]
    everyone, store = work / "all.npz", work / "dev.npz"
    if not everyone.exists():
        process_dataset(FolderDataset(data, canvas_size=canvas), None, everyone,
                        workers=workers, progress=False)
    if not store.exists():
        x, y, yforg, mapping, filenames = load_dataset(everyone)
        dev_index = [i for i, w in mapping.items() if w in dev_writers]
        dev_x, dev_y, dev_yforg, dev_files = get_subset((x, y, yforg, filenames), dev_index)
        save_dataset(store, dev_x, dev_y, dev_yforg, mapping, dev_files,
                     settings=read_store_settings(everyone))
    return DutchSplit(files, writers, exp_writers, dev_writers, canvas, everyone, store)


def stage(name: str, start: float) -> float:
    """Print a finished stage with its duration; return the time it ended."""
    now = time.perf_counter()
    print(f"{name}  [{now - start:.1f} s]", flush=True)
    return now


def main() -> None:
    args = parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    split = prepare_dutch(args.data, args.work, args.references, args.exp_writers,
                          args.workers)
    files, writers, exp_writers, dev_writers = (split.files, split.writers,
                                                split.exp_writers, split.dev_writers)
    canvas, store = split.canvas, split.store
    print(f"{args.data}: {len(writers)} writers, canvas {canvas[0]} x {canvas[1]}; "
          f"exploitation writers {', '.join(map(str, exp_writers))}; the "
          f"{len(dev_writers)} others are development writers")
    t = stage(f"preprocessed the development writers into {store}", t0)

    model = Path(args.model_path) if args.model_path else args.work / "model" / "model_best.pth"
    if not model.exists():
        train(TrainConfig(dataset_path=str(store), logdir=str(model.parent), task="signet",
                          users=(0, len(writers)), model=args.model, epochs=args.epochs,
                          forg=args.forg, device="cpu", progress=False))
    t = stage(f"model {model}", t)

    dev = extract_store(model, store, device="cpu", progress=False)
    verifier, calibration = fit_verifier(dev.as_tuple(), dev.model_sha256,
                                         num_gen_ref=args.references, fusion=args.fusion,
                                         seed=args.seed)
    classifier = args.work / "wi.skops"
    save_verifier(classifier, verifier)
    point = verifier.operating_point
    t = stage(f"wi fit: threshold {verifier.threshold:.4f} at the development EER "
              f"(FRR {100 * point['frr']:.1f}%, FAR skilled {100 * point['far_skilled']:.1f}%"
              f", FAR random {100 * point['far_random']:.1f}%)", t)

    db = args.work / "sigver.db"
    db.unlink(missing_ok=True)
    rng = np.random.RandomState(args.seed)
    plan = {}
    for writer in exp_writers:
        genuine = [str(f) for f in files[writer].genuine]
        skilled = [str(f) for f in files[writer].skilled]
        order = rng.permutation(len(genuine))
        plan[writer] = {"references": [genuine[i] for i in order[:args.references]],
                        "genuine": [genuine[i] for i in order[args.references:]],
                        "skilled": skilled}
    for writer, files in plan.items():
        sigver.enroll(files["references"], str(writer), db=db, model_path=model,
                      canvas_size=canvas, device="cpu")
    t = stage(f"enrolled {args.references} references for each of {len(plan)} writers", t)

    totals = {"genuine": [], "skilled": [], "random": []}
    print(f"\n{'writer':>8} {'genuine accepted':>17} {'skilled rejected':>17} "
          f"{'random rejected':>16} {'AUC gen/skilled':>16}")
    with sigver.Verifier(db, classifier, device="cpu") as service:
        for writer, files in plan.items():
            randoms = [plan[other]["genuine"][0] for other in plan if other != writer]
            scores = {}
            for kind, paths in (("genuine", files["genuine"]), ("skilled", files["skilled"]),
                                ("random", randoms)):
                results = service.verify(paths, str(writer))
                scores[kind] = np.array([r.score for r in results])
                totals[kind].append(scores[kind])
            thr = verifier.threshold
            accepted = int((scores["genuine"] >= thr).sum())
            rejected = int((scores["skilled"] < thr).sum())
            rejected_random = int((scores["random"] < thr).sum())
            auc = roc_auc_score(np.r_[np.ones(len(scores["genuine"])),
                                      np.zeros(len(scores["skilled"]))],
                                np.r_[scores["genuine"], scores["skilled"]])
            print(f"{writer!s:>8} {accepted:>10}/{len(scores['genuine']):<6} "
                  f"{rejected:>10}/{len(scores['skilled']):<6} "
                  f"{rejected_random:>9}/{len(scores['random']):<6} {auc:>16.3f}")
    n_verified = sum(len(np.concatenate(v)) for v in totals.values())
    t = stage(f"verified {n_verified} questioned signatures", t)

    gen, sk, rnd = (np.concatenate(totals[k]) for k in ("genuine", "skilled", "random"))
    thr = verifier.threshold
    frr, far_s, far_r = np.mean(gen < thr), np.mean(sk >= thr), np.mean(rnd >= thr)
    correct_gs = (np.sum(gen >= thr) + np.sum(sk < thr)) / (len(gen) + len(sk))
    print(f"\n{len(plan)} writers, {args.references} references each, threshold "
          f"{thr:.4f} (development EER):")
    print(f"  genuine accepted      {np.sum(gen >= thr):4d}/{len(gen):<4d}  "
          f"(FRR {100 * frr:.1f}%)")
    print(f"  skilled rejected      {np.sum(sk < thr):4d}/{len(sk):<4d}  "
          f"(FAR skilled {100 * far_s:.1f}%)")
    print(f"  random rejected       {np.sum(rnd < thr):4d}/{len(rnd):<4d}  "
          f"(FAR random {100 * far_r:.1f}%)")
    print(f"  accuracy, genuine + skilled: {100 * correct_gs:.1f}%  "
          f"(balanced: {100 * (1 - (frr + far_s) / 2):.1f}%)")
    print(f"  mean fused score: genuine {gen.mean():.3f}, skilled {sk.mean():.3f}, "
          f"random {rnd.mean():.3f}")
    print(f"  calibration on development writers: {len(calibration['genuine'])} genuine, "
          f"{len(calibration['skilled'])} skilled scores")
    print(f"total {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()

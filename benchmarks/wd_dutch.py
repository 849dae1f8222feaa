"""Writer-dependent vs writer-independent verification on SigComp2011 Dutch, side by side.

Same split as ``benchmarks/verify_dutch.py`` (the writers with at least ``--references``
+ 4 genuine signatures are the people to verify, every other writer is development
data; a small SigNet is trained on the development writers unless ``--model-path``).
The WI classifier is fitted on the development writers (``sigver wi fit``, threshold at
the development EER) and the WD background is built from their genuine signatures
(``sigver background``). Each person enrolls ``--references`` random genuine files; their
per-person SVM is trained against the background (what ``sigver serve`` does at
enrollment). Their remaining genuine files, their skilled forgeries and one genuine file
of every other person are scored by both methods at their default thresholds (WD: the
SVM's boundary 0; WI: the classifier's). Prints FRR, FAR skilled, FAR random per method.

    .venv/bin/python benchmarks/wd_dutch.py [--model-path M] [--epochs 6]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from sigver.featurelearning.extract import extract_store
from sigver.featurelearning.train import TrainConfig, train
from sigver.io import file_sha256
from sigver.verification.api import FeatureModel, prepare_images
from sigver.verification.background import build_background
from sigver.verification.fit import fit_verifier
from sigver.verification.wd import WD_THRESHOLD, fit_person_svm
from verify_dutch import DATA, IMAGE_SIZE, prepare_dutch


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="the SigComp2011 Dutch tree")
    parser.add_argument("--work", type=Path, default=Path("out/verify_dutch"),
                        help="folder for the store and model (shared with verify_dutch.py)")
    parser.add_argument("--exp-writers", type=int, default=10)
    parser.add_argument("--references", type=int, default=10,
                        help="genuine files enrolled per person")
    parser.add_argument("--model-path", help="use this model instead of training one")
    parser.add_argument("--epochs", type=int, default=6, help="training epochs")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--workers", type=int, default=0, help="preprocessing processes")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    split = prepare_dutch(args.data, args.work, args.references, args.exp_writers,
                          args.workers)
    files, writers, exp_writers, dev_writers = (split.files, split.writers,
                                                split.exp_writers, split.dev_writers)
    canvas, store = split.canvas, split.store
    model = Path(args.model_path) if args.model_path else args.work / "model" / "model_best.pth"
    if not model.exists():
        train(TrainConfig(dataset_path=str(store), logdir=str(model.parent), task="signet",
                          users=(0, len(writers)), model="signet_thin", epochs=args.epochs,
                          device="cpu", progress=False))
    print(f"{len(exp_writers)} people to verify, {len(dev_writers)} development writers, "
          f"model {model}  [{time.perf_counter() - t0:.0f} s]", flush=True)

    dev = extract_store(model, store, device="cpu", progress=False)
    wi, _ = fit_verifier(dev.as_tuple(), dev.model_sha256, num_gen_ref=args.references,
                         seed=args.seed)
    background = build_background(dev, per_writer=12, seed=args.seed)
    extractor = FeatureModel(model, file_sha256(model), device="cpu")

    def features(paths: list[str]) -> np.ndarray:
        return extractor.features(prepare_images(paths, canvas, IMAGE_SIZE))

    rng = np.random.RandomState(args.seed)
    plan = {}
    for writer in exp_writers:
        genuine = [str(f) for f in files[writer].genuine]
        order = rng.permutation(len(genuine))
        plan[writer] = {"references": features([genuine[i] for i in order[:args.references]]),
                        "genuine": features([genuine[i] for i in order[args.references:]]),
                        "skilled": features([str(f) for f in files[writer].skilled])}
    scores = {m: {"genuine": [], "skilled": [], "random": []} for m in ("wd", "wi")}
    for writer, person in plan.items():
        refs = person["references"]
        svm = fit_person_svm(refs, [f"{writer}-{i}" for i in range(len(refs))], background)
        randoms = np.stack([plan[o]["genuine"][0] for o in plan if o != writer])
        for kind, q in (("genuine", person["genuine"]), ("skilled", person["skilled"]),
                        ("random", randoms)):
            scores["wd"][kind].append(svm.decision_function(q))
            scores["wi"][kind].append(wi.score(q, refs)[0])
    print(f"\n{len(plan)} people, {args.references} references each; WD: per-person SVM "
          f"against {len(background.features)} background signatures of "
          f"{background.n_writers} writers, threshold {WD_THRESHOLD}; WI: threshold "
          f"{wi.threshold:.4f} (development EER)")
    print(f"{'method':>6} {'FRR':>7} {'FAR skilled':>12} {'FAR random':>11} {'counts':>18}")
    for method, threshold in (("wd", WD_THRESHOLD), ("wi", wi.threshold)):
        gen, sk, rnd = (np.concatenate(scores[method][k])
                        for k in ("genuine", "skilled", "random"))
        print(f"{method:>6} {100 * np.mean(gen < threshold):6.1f}% "
              f"{100 * np.mean(sk >= threshold):11.1f}% {100 * np.mean(rnd >= threshold):10.1f}%"
              f"  {len(gen)}/{len(sk)}/{len(rnd)}")
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()

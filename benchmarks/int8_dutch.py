"""int8 against float32 on real signatures: SigComp2011 Dutch, writer-dependent protocol.

Uses what ``benchmarks/verify_dutch.py`` leaves in its ``--work`` folder: the store of
every writer (``all.npz``), the development writers' store (``dev.npz``) and the model
trained on them (``model/model_best.pth``); run that first. The model is exported to
ONNX float32 and int8 (calibrated on ``--calibration-images`` development images), the
features of every writer are computed with PyTorch, ONNX float32 and ONNX int8, and the
writer-dependent protocol runs on the exploitation writers (the others give the random
negatives) with the same folds for the three feature sets.

    .venv/bin/python benchmarks/verify_dutch.py --work out/verify_dutch
    .venv/bin/python benchmarks/int8_dutch.py --work out/verify_dutch
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from sigver.datasets.util import load_dataset, read_store_settings
from sigver.deploy.engines import OnnxEngine, TorchEngine
from sigver.deploy.export import export_onnx
from sigver.wd.training import train_test_all_users

METRICS = ("EER_userthresholds", "EER", "mean_AUC", "FRR", "FAR_skilled", "FAR_random")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("out/verify_dutch"),
                        help="the --work folder of benchmarks/verify_dutch.py")
    parser.add_argument("--model-path", type=Path, help="default: WORK/model/model_best.pth")
    parser.add_argument("--calibration-images", type=int, default=256)
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--gen-for-train", type=int, default=12)
    parser.add_argument("--gen-for-test", type=int, default=8)
    parser.add_argument("--forg-from-dev", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1234)
    return parser.parse_args()


def wd_folds(features: np.ndarray, y: np.ndarray, yforg: np.ndarray, exp: np.ndarray,
             args: argparse.Namespace) -> dict[str, np.ndarray]:
    """Per-fold metrics of the writer-dependent protocol (one generator for all folds)."""
    exp_set = (features[exp], y[exp], yforg[exp])
    dev_set = (features[~exp], y[~exp], yforg[~exp])
    rng = np.random.RandomState(args.seed)
    folds = [train_test_all_users(exp_set, dev_set, "rbf", 1.0, 2 ** -11, args.gen_for_train,
                                  0, args.forg_from_dev, args.gen_for_test, 0.0, rng)[1]
             for _ in range(args.folds)]
    return {key: np.array([fold["all_metrics"][key] for fold in folds]) for key in METRICS}


def main() -> None:
    args = parse_args()
    model = args.model_path or args.work / "model" / "model_best.pth"
    x, y, yforg, _, _ = load_dataset(args.work / "all.npz")
    dev_users = np.unique(load_dataset(args.work / "dev.npz")[1])
    exp = ~np.isin(y, dev_users)
    print(f"{model}: {len(np.unique(y[exp]))} exploitation writers, {len(dev_users)} "
          f"development writers, {len(x)} images")
    # the store's settings, where the model folder records none
    settings = read_store_settings(args.work / "all.npz")
    fp32 = export_onnx(model, args.work / "model.onnx", settings=settings)
    started = time.perf_counter()
    int8 = export_onnx(model, args.work / "model.int8.onnx", settings=settings, int8=True,
                       calibration_data=args.work / "dev.npz",
                       calibration_images=args.calibration_images)
    print(f"int8 export (calibration on {int8.metadata.calibration['images']} development "
          f"images) {time.perf_counter() - started:.1f} s")
    engines = {"torch float32": TorchEngine(model, device="cpu"),
               "onnx float32": OnnxEngine(fp32.path), "onnx int8": OnnxEngine(int8.path)}
    features = {name: engine.features(x) for name, engine in engines.items()}
    reference = features["torch float32"]
    results = {name: wd_folds(f, y, yforg, exp, args) for name, f in features.items()}
    print(f"\nwriter-dependent protocol, {args.folds} folds (same draws for each), "
          f"mean over folds, %:")
    print(f"{'features':<14} {'max |diff|':>10} " + " ".join(f"{m:>18}" for m in METRICS))
    for name, metrics in results.items():
        error = np.abs(features[name] - reference).max()
        print(f"{name:<14} {error:10.1e} " + " ".join(
            f"{100 * metrics[m].mean():18.2f}" for m in METRICS))
    change = 100 * (results["onnx int8"]["EER_userthresholds"]
                    - results["onnx float32"]["EER_userthresholds"])
    same = all(np.array_equal(np.round(results["onnx float32"][m], 3),
                              np.round(results["torch float32"][m], 3)) for m in METRICS)
    print(f"\nint8 - float32, EER with user thresholds: {change.mean():+.2f} points "
          f"(per fold {', '.join(f'{c:+.2f}' for c in change)})")
    print(f"ONNX float32 metrics equal PyTorch's to 3 decimals on every fold: {same}")


if __name__ == "__main__":
    main()

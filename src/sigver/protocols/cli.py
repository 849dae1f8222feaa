"""Command-line plumbing shared by ``sigver.wd.test`` and ``sigver.wi.test``: the
published flags, loading (or extracting) features, running the folds and writing the
results."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sigver.datasets.util import select_users
from sigver.errors import SigverError
from sigver.features import FeatureSet, load_features
from sigver.io import file_sha256
from sigver.protocols.results import (
    format_console,
    save_results,
    write_markdown,
)
from sigver.protocols.splitting import FeatureTuple

SEED = 1234
FoldFunction = Callable[[FeatureTuple, FeatureTuple, np.random.RandomState], dict]


def add_feature_source_arguments(parser: argparse.ArgumentParser) -> None:
    """Where features come from (``load_feature_set``): a feature file, or a model and a
    dataset store; shared with ``sigver wi fit``."""
    source = parser.add_argument_group("features (either --features-path, or "
                                       "--model-path with --data-path)")
    source.add_argument("--model-path", help="model file (extract features with it)")
    source.add_argument("--data-path", help="dataset store (.npz file or folder)")
    source.add_argument("--features-path",
                        help="feature file from 'sigver extract' (no extraction)")
    source.add_argument("--input-size", nargs=2, type=int, default=(150, 220),
                        metavar=("H", "W"), help="CNN input size (default 150 220)")
    source.add_argument("--gpu-idx", type=int, default=0, help="CUDA device for extraction")
    source.add_argument("--batch-size", type=int, default=32, help="extraction batch size")
    source.add_argument("--trust-pickles", action="store_true",
                        help="unpickle the store's user_mapping (published stores)")


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of SPEC section 7 shared by both protocols, plus sigver's additions."""
    add_feature_source_arguments(parser)
    parser.add_argument("--save-path", help="write the per-fold results here (pickle) "
                        "and as JSON beside it (same name, .json)")
    parser.add_argument("--exp-users", nargs=2, type=int, default=(0, 300),
                        metavar=("FIRST", "END"), help="exploitation users, FIRST <= y < END")
    parser.add_argument("--dev-users", nargs=2, type=int, default=(5000, 7000),
                        metavar=("FIRST", "END"), help="development users, FIRST <= y < END")
    parser.add_argument("--gen-for-train", type=int, default=12)
    parser.add_argument("--gen-for-test", type=int, default=10)
    parser.add_argument("--svm-type", choices=("rbf", "linear"), default="rbf")
    parser.add_argument("--svm-c", type=float, default=1.0)
    parser.add_argument("--svm-gamma", type=float, default=2 ** -11)
    parser.add_argument("--thr", type=float, default=0.0, help="decision threshold of FRR/FAR")
    parser.add_argument("--folds", type=int, default=10)
    extra = parser.add_argument_group("sigver additions")
    extra.add_argument("--seed", type=int, default=SEED,
                       help=f"seed of the run's single generator (default {SEED})")
    extra.add_argument("--reference", action="store_true",
                       help="use the straightforward (slow) implementation")
    extra.add_argument("--markdown", help="Markdown table of mean +- std over folds "
                       "(default: beside --save-path, .md)")
    extra.add_argument("--plots", metavar="DIR",
                       help="write ROC, DET and score-histogram PNGs into DIR")
    extra.add_argument("--quiet", action="store_true", help="no progress bars")


def load_feature_set(args: argparse.Namespace) -> FeatureSet:
    """Features from ``--features-path``, or extracted with ``--model-path`` from
    ``--data-path``; when both a feature file and a model are named they must agree."""
    if args.features_path:
        features = load_features(args.features_path)
        if args.model_path:
            digest = file_sha256(args.model_path)
            if digest != features.model_sha256:
                raise SigverError(
                    f"--features-path {args.features_path} was extracted with model "
                    f"{features.model_sha256[:12]}..., not --model-path {args.model_path} "
                    f"({digest[:12]}...)")
        return features
    if not (args.model_path and args.data_path):
        raise SigverError("give --features-path, or --model-path with --data-path")
    import torch

    from sigver.featurelearning.extract import extract_store  # torch only when extracting

    device = f"cuda:{args.gpu_idx}" if torch.cuda.is_available() else "cpu"
    return extract_store(args.model_path, args.data_path, batch_size=args.batch_size,
                         device=device, input_size=tuple(args.input_size),
                         trusted=args.trust_pickles, progress=not args.quiet)


def split_users(features: FeatureSet,
                args: argparse.Namespace) -> tuple[FeatureTuple, FeatureTuple]:
    """The exploitation and development ``(features, y, yforg)`` sets."""
    (e0, e1), (d0, d1) = args.exp_users, args.dev_users
    if e0 < d1 and d0 < e1:
        raise SigverError(f"--exp-users {e0} {e1} and --dev-users {d0} {d1} overlap; "
                          "choose disjoint ranges")
    data = features.as_tuple()
    return (select_users(data, e0, e1, flag="--exp-users"),
            select_users(data, d0, d1, flag="--dev-users"))


def run_protocol(args: argparse.Namespace, name: str, fold: FoldFunction) -> list[dict]:
    """Run ``args.folds`` folds with one generator, print and write the results."""
    if args.folds < 1:
        raise SigverError(f"--folds {args.folds}: at least 1 fold is needed")
    if args.save_path and not Path(args.save_path).resolve().parent.is_dir():
        raise SigverError(f"--save-path {args.save_path}: folder does not exist")
    exp_set, dev_set = split_users(load_feature_set(args), args)
    print(f"{name}: {len(np.unique(exp_set[1]))} exploitation users, "
          f"{len(np.unique(dev_set[1]))} development users, "
          f"{exp_set[0].shape[1]}-d features")
    rng = np.random.RandomState(args.seed)
    folds = []
    for index in range(args.folds):
        start = time.perf_counter()
        result = fold(exp_set, dev_set, rng)
        metrics = result["all_metrics"]
        print(f"fold {index + 1}/{args.folds}: EER {100 * metrics['EER']:.2f}%, "
              f"EER (user thresholds) {100 * metrics['EER_userthresholds']:.2f}% "
              f"({time.perf_counter() - start:.1f} s)", flush=True)
        folds.append(result)
    if folds[0]["all_metrics"]["skipped_users"]:
        print(f"note: {folds[0]['all_metrics']['skipped_users']} user(s) have no skilled "
              "forgeries; they are left out of the skilled metrics (AUC, user-threshold "
              "EER) but count in FRR and FAR random")
    print(format_console(folds))
    if args.save_path:
        for path in save_results(args.save_path, folds):
            print(f"wrote {path}")
    markdown = args.markdown or (Path(args.save_path).with_suffix(".md")
                                 if args.save_path else None)
    if markdown:
        print(f"wrote {write_markdown(markdown, {name: folds}, title=f'{name} results')}")
    if args.plots:
        from sigver.protocols.plots import write_plots  # matplotlib only when plotting

        for path in write_plots(args.plots, {name: folds}):
            print(f"wrote {path}")
    return folds

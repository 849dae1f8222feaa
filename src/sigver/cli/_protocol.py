"""What ``sigver wd`` and ``sigver wi`` share: the published flags
(docs/protocols-and-metrics.md), the feature source (also ``sigver wi fit``'s), the
flag -> keyword mapping, the console output and the result files."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sigver.cli import checks
from sigver.cli._scheduler import add_scheduler_argument, scheduler_address
from sigver.cli.flags import as_flags
from sigver.features import FeatureSet, feature_set_from
from sigver.protocols.result import FoldResult, ProtocolResult, format_fold
from sigver.protocols.results import format_console, write_markdown
from sigver.protocols.runner import DEV_USERS, EXP_USERS, SEED, check_run, split_users

# Python parameters whose flag is not their name with dashes.
ALIASES = {"num_gen_train": "--gen-for-train", "num_gen_test": "--gen-for-test",
           "num_gen_ref": "--gen-for-ref", "num_forg_from_exp": "--forg-from-exp",
           "num_forg_from_dev": "--forg-from-dev", "C": "--svm-c", "gamma": "--svm-gamma",
           "global_threshold": "--thr", "trusted": "--trust-pickles",
           "path": "--save-path"}


def add_feature_source_arguments(parser: argparse.ArgumentParser) -> None:
    """Where features come from (``sigver.features.feature_set_from``): a feature file,
    or a model file and a dataset store."""
    source = parser.add_argument_group("features (either --features-path, or "
                                       "--model-path with --data-path)")
    source.add_argument("--model-path", help="model file (extract features with it)")
    source.add_argument("--data-path", help="dataset store (.npz file or folder)")
    source.add_argument("--features-path",
                        help="feature file from 'sigver extract' (no extraction)")
    source.add_argument("--input-size", nargs=2, type=int, default=None,
                        metavar=("H", "W"),
                        help="CNN input size when extracting (default: the one the store "
                             "records, else 150 220)")
    source.add_argument("--gpu-idx", type=int, default=0, help="CUDA device for extraction")
    source.add_argument("--batch-size", type=int, default=32, help="extraction batch size")
    source.add_argument("--trust-pickles", action="store_true",
                        help="unpickle the store's user_mapping (published stores)")


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """The published protocol flags shared by both protocols, plus sigver's additions
    (docs/protocols-and-metrics.md)."""
    add_feature_source_arguments(parser)
    parser.add_argument("--save-path", help="write the per-fold results here (pickle) "
                        "and as JSON beside it (same name, .json)")
    parser.add_argument("--exp-users", nargs=2, type=int, default=EXP_USERS,
                        metavar=("FIRST", "END"), help="exploitation users, FIRST <= y < END")
    parser.add_argument("--dev-users", nargs=2, type=int, default=DEV_USERS,
                        metavar=("FIRST", "END"), help="development users, FIRST <= y < END")
    parser.add_argument("--gen-for-train", type=int, default=12,
                        help="genuine signatures per user to train on")
    parser.add_argument("--gen-for-test", type=int, default=10,
                        help="genuine signatures (and skilled / random forgeries) per "
                             "exploitation user to test")
    parser.add_argument("--svm-type", choices=("rbf", "linear"), default="rbf",
                        help="SVM kernel")
    parser.add_argument("--svm-c", type=float, default=1.0, help="SVM C")
    parser.add_argument("--svm-gamma", type=float, default=2 ** -11, help="RBF gamma")
    parser.add_argument("--thr", type=float, default=0.0, help="decision threshold of FRR/FAR")
    parser.add_argument("--folds", type=int, default=10, help="folds (random splits)")
    extra = parser.add_argument_group("sigver additions")
    extra.add_argument("--seed", type=int, default=SEED,
                       help="seed of the run's single generator")
    extra.add_argument("--reference", action="store_true",
                       help="the straightforward implementation (exact, one user or query "
                            "at a time): the version the others are tested against")
    extra.add_argument("--markdown", help="Markdown table of mean +- std over folds "
                       "(when not given: beside --save-path, .md)")
    extra.add_argument("--plots", metavar="DIR",
                       help="write ROC, DET and score-histogram PNGs into DIR")
    extra.add_argument("--quiet", action="store_true", help="no progress bars")
    add_scheduler_argument(extra)


def check_feature_source(args: argparse.Namespace) -> None:
    """The feature-source flags name files of the right kind; numbers in range."""
    checks.input_file("--features-path", args.features_path, "features")
    if args.features_path is None:  # else the model file is only compared by its hash
        checks.input_file("--model-path", args.model_path, "model")
        checks.input_file("--data-path", args.data_path, "store")
    checks.number("--batch-size", args.batch_size, low=1)
    checks.number("--gpu-idx", args.gpu_idx, low=0)


def check_svm_flags(args: argparse.Namespace) -> None:
    """``--svm-c`` > 0 and, for the RBF kernel, ``--svm-gamma`` > 0."""
    checks.number("--svm-c", args.svm_c, low=0, low_open=True)
    if args.svm_type == "rbf":
        checks.number("--svm-gamma", args.svm_gamma, low=0, low_open=True)


def load_feature_set(args: argparse.Namespace, scheduler: Any = None) -> FeatureSet:
    """The features the flags name (``--features-path``, or extracted with
    ``--model-path`` from ``--data-path``; on the workers of the Dask client or address
    ``scheduler`` when given)."""
    device = "auto"
    if args.features_path is None and args.model_path is not None:
        import torch  # only when extracting

        device = f"cuda:{args.gpu_idx}" if torch.cuda.is_available() else "cpu"
    input_size = tuple(args.input_size) if args.input_size else None
    if (scheduler is not None and args.features_path is None
            and args.model_path is not None and args.data_path is not None):
        from sigver.cluster.extract import extract_store

        return extract_store(args.model_path, args.data_path, scheduler=scheduler,
                             input_size=input_size, device=device,
                             batch_size=args.batch_size, trusted=args.trust_pickles,
                             progress=not args.quiet)
    return feature_set_from(features_path=args.features_path, model_path=args.model_path,
                            data_path=args.data_path, input_size=input_size,
                            device=device, batch_size=args.batch_size,
                            trusted=args.trust_pickles, progress=not args.quiet)


def common_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of ``sigver.wd.run`` / ``sigver.wi.run`` that both take."""
    return {"exp_users": tuple(args.exp_users), "dev_users": tuple(args.dev_users),
            "svm_type": args.svm_type, "C": args.svm_c, "gamma": args.svm_gamma,
            "num_gen_train": args.gen_for_train, "num_gen_test": args.gen_for_test,
            "global_threshold": args.thr, "folds": args.folds, "seed": args.seed}


def _print_fold(index: int, fold: FoldResult, total: int) -> None:
    print(format_fold(fold, index, total), flush=True)


def run_protocol_command(parser: argparse.ArgumentParser, args: argparse.Namespace,
                         name: str, run: Callable[..., ProtocolResult],
                         check: Callable[[], None], kwargs: dict[str, Any]) -> ProtocolResult:
    """Check the flags, load the features, run protocol ``name`` (``WD`` / ``WI``) with
    ``kwargs`` (printing a line per fold and the summary) and write the files the flags
    ask for.

    ``check`` validates the protocol's parameters before any feature is loaded or
    extracted; library errors are reworded with the flags. With ``--scheduler`` the
    extraction and the protocol's parallel work run on that Dask cluster.
    """
    from sigver.cluster import use_scheduler

    with as_flags(parser, ALIASES):
        check_run(folds=args.folds, seed=args.seed)
        check_svm_flags(args)
        checks.number("--thr", args.thr)
        check()
        checks.output_file("--save-path", args.save_path)
        if args.save_path:
            checks.output_file("--save-path", Path(args.save_path).with_suffix(".json"))
        markdown = args.markdown or (Path(args.save_path).with_suffix(".md")
                                     if args.save_path else None)
        checks.output_file("--markdown" if args.markdown else "--save-path", markdown)
        checks.output_folder("--plots", args.plots)
        check_feature_source(args)
        with use_scheduler(scheduler_address(args)) as client:
            features = load_feature_set(args, scheduler=client)
            exp_y, dev_y = split_users((features.y,), exp_users=tuple(args.exp_users),
                                       dev_users=tuple(args.dev_users), y_idx=0)
            print(f"{name}: {len(np.unique(exp_y[0]))} exploitation users, "
                  f"{len(np.unique(dev_y[0]))} development users, "
                  f"{features.features.shape[1]}-d features")
            result = run(features, **kwargs,
                         on_fold=lambda index, fold: _print_fold(index, fold, args.folds))
        write_outputs(args, result)
    return result


def write_outputs(args: argparse.Namespace, result: ProtocolResult) -> None:
    """Print the summary and write ``--save-path``, ``--markdown`` and ``--plots``."""
    folds = result.to_published()
    skipped = result.folds[0].metrics.skipped_users
    if skipped:
        print(f"note: {skipped} user(s) have no skilled forgeries; they are left out of the "
              "skilled metrics (AUC, user-threshold EER) but count in FRR and FAR random")
    print(format_console(folds))
    name = result.protocol
    if args.save_path:
        for path in result.save(args.save_path):
            print(f"wrote {path}")
    markdown = args.markdown or (Path(args.save_path).with_suffix(".md")
                                 if args.save_path else None)
    if markdown:
        print(f"wrote {write_markdown(markdown, {name: folds}, title=f'{name} results')}")
    if args.plots:
        from sigver.protocols.plots import write_plots  # matplotlib only when plotting

        for path in write_plots(args.plots, {name: folds}):
            print(f"wrote {path}")

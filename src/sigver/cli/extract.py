"""``sigver extract`` / ``python -m sigver.featurelearning.extract``: CNN features of a
dataset store into a feature file (``sigver.featurelearning.extract.extract_store``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from sigver.cli import checks
from sigver.cli._scheduler import add_scheduler_argument, scheduler_address
from sigver.cli.common import HelpFormatter, one_line_warnings, parameters_as_flags
from sigver.deploy.engines import ENGINES
from sigver.errors import SigverError

PROG = "sigver extract"
MODULE_PROG = "python -m sigver.featurelearning.extract"
ALIASES = {"model_name": "--model", "trusted": "--trust-pickles"}


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """Flags of ``sigver extract``."""
    from sigver.featurelearning.models import available_models

    parser = argparse.ArgumentParser(
        prog=prog,
        description="Extract CNN features of a dataset store into a feature file "
                    "(float32 features with y, yforg, filenames, the model's SHA-256 and "
                    "the store's preprocessing settings).",
        formatter_class=HelpFormatter)
    parser.add_argument("--model-path", required=True,
                        help="model file (docs/models-and-training.md) or its ONNX export "
                             "('sigver export')")
    parser.add_argument("--data-path", required=True, help="dataset store (.npz or folder)")
    parser.add_argument("--out", required=True, help="feature file to write (.npz)")
    parser.add_argument("--model", choices=sorted(available_models), default=None,
                        help="architecture (default: inferred from the file)")
    parser.add_argument("--users", nargs=2, type=int, default=None, metavar=("A", "B"),
                        help="only users A <= y < B (default: all)")
    parser.add_argument("--input-size", nargs=2, type=int, default=None, metavar=("H", "W"),
                        help="centre crop fed to the network (default: the one the store "
                             "records; for a store without settings 150 220)")
    parser.add_argument("--batch-size", type=int, default=32, help="images per forward pass")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                        help="where the network runs")
    parser.add_argument("--engine", default="auto", choices=ENGINES,
                        help="what runs the network: PyTorch, ONNX Runtime, or auto (by "
                             "the model file's content)")
    parser.add_argument("--bf16", action="store_true",
                        help="bfloat16 autocast (faster where supported; slightly different "
                             "features)")
    parser.add_argument("--trust-pickles", action="store_true",
                        help="unpickle the store's user_mapping (only for files you trust)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_scheduler_argument(parser)
    return parser


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Run ``sigver extract``."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if not str(args.out).lower().endswith(".npz"):
        raise SigverError(f"--out {args.out}: feature files are .npz files")
    with parameters_as_flags(parser, ALIASES):  # a missing Dask is the first thing to say
        scheduler = scheduler_address(args)
    checks.input_file("--model-path", args.model_path, "model")
    checks.input_file("--data-path", args.data_path, "store")
    checks.output_file("--out", args.out)
    checks.number("--batch-size", args.batch_size, low=1)
    checks.user_range("--users", args.users)
    from sigver.featurelearning.extract import extract_store
    from sigver.features import save_features

    with checks.paths_as_flags({"--model-path": args.model_path,
                                "--data-path": args.data_path}), \
            parameters_as_flags(parser, ALIASES), one_line_warnings(parser, ALIASES):
        options = dict(batch_size=args.batch_size, device=args.device,
                       input_size=args.input_size, model_name=args.model,
                       users=tuple(args.users) if args.users else None,
                       trusted=args.trust_pickles, progress=not args.no_progress,
                       bf16=args.bf16)
        if scheduler is None:
            feature_set = extract_store(args.model_path, args.data_path, engine=args.engine,
                                        **options)
        else:
            from sigver.cluster.extract import extract_store as extract_on_cluster

            feature_set = extract_on_cluster(args.model_path, args.data_path,
                                             scheduler=scheduler, **options)
    save_features(args.out, feature_set)
    print(f"wrote {args.out}: {feature_set.features.shape[0]} x "
          f"{feature_set.features.shape[1]} features")
    return 0

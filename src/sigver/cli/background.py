"""``sigver background``: build the background file of writer-dependent verification
(other writers' genuine signatures, the negatives of each person's SVM)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from sigver.cli._protocol import add_feature_source_arguments, load_feature_set
from sigver.cli.common import HelpFormatter
from sigver.cli.flags import as_flags


def build_parser() -> argparse.ArgumentParser:
    """Flags of ``sigver background``."""
    parser = argparse.ArgumentParser(
        prog="sigver background",
        description="Build the background file for writer-dependent verification in "
                    "'sigver serve': genuine signatures of development writers (never the "
                    "people to verify), from a dataset store with its model or from a "
                    "feature file of 'sigver extract'.",
        formatter_class=HelpFormatter)
    add_feature_source_arguments(parser)
    parser.add_argument("--out", required=True, help="background file to write (.npz)")
    parser.add_argument("--per-writer", type=int, default=12,
                        help="genuine signatures kept per development writer")
    parser.add_argument("--seed", type=int, default=1234,
                        help="seed of the choice of signatures")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sigver background``."""
    from sigver.datasets.util import read_store_settings
    from sigver.verification.background import build_background, save_background

    parser = build_parser()
    args = parser.parse_args(argv)
    with as_flags(parser):
        features = load_feature_set(args)
        settings = features.settings
        if settings is None and args.data_path:
            settings = read_store_settings(args.data_path)
        background = build_background(features, per_writer=args.per_writer,
                                      settings=settings, seed=args.seed)
    save_background(args.out, background)
    print(f"background: {len(background.features)} genuine signatures of "
          f"{background.n_writers} writers, {background.feature_dim}-d features of model "
          f"{background.model_sha256[:12]}...; wrote {args.out}")
    return 0

"""``sigver wd`` / ``python -m sigver.wd.test``: the writer-dependent protocol over folds
with the published flags and defaults (docs/protocols-and-metrics.md), over ``sigver.wd.run``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from sigver.cli._protocol import (
    add_common_arguments,
    common_kwargs,
    run_protocol_command,
)
from sigver.cli.common import HelpFormatter
from sigver.errors import SigverError

PUBLISHED_PROG = "python -m sigver.wd.test"
# One line printed by 'sigver wd' when it runs the fast method (docs/reproducing.md).
FAST_NOTE = ("note: fast method (one feature scale per fold): EERs within a few tenths of a "
             "point of the published procedure (docs/reproducing.md); pass --exact for "
             "the published numbers")


def build_parser(prog: str = "sigver wd") -> argparse.ArgumentParser:
    """The WD command's parser.

    The published command (``python -m sigver.wd.test``) reproduces the published code
    by default and takes ``--fast``; ``sigver wd`` runs the fast method by default and
    takes ``--exact``.
    """
    parser = argparse.ArgumentParser(
        prog=prog, description="Writer-dependent SVMs (one per user) over random folds.",
        formatter_class=HelpFormatter)
    add_common_arguments(parser)
    if prog == PUBLISHED_PROG:
        parser.add_argument("--fast", action="store_true",
                            help="one feature scale per fold and a shared kernel block: "
                                 "many times faster, EERs within a few tenths of a point "
                                 "of the published procedure (docs/reproducing.md)")
    else:
        parser.add_argument("--exact", action="store_true",
                            help="each user's own scaling, as the published code: the "
                                 "published folds, scores and metrics for the seed")
    parser.add_argument("--forg-from-exp", type=int, default=0,
                        help="random negatives per other exploitation user")
    parser.add_argument("--forg-from-dev", type=int, default=14,
                        help="random negatives per development user")
    parser.add_argument("--jobs", type=int, default=0,
                        help="parallel workers over users (0: all cores; results do not "
                             "depend on it)")
    return parser


def main(argv: Sequence[str] | None = None, *, prog: str = "sigver wd") -> int:
    """Run the WD protocol with the flags in ``argv``."""
    from sigver.wd.protocol import run
    from sigver.wd.training import check_parameters

    parser = build_parser(prog)
    args = parser.parse_args(argv)
    method = _method(args)
    if method == "fast" and prog != PUBLISHED_PROG:
        print(FAST_NOTE)
    kwargs = {**common_kwargs(args), "method": method,
              "num_forg_from_exp": args.forg_from_exp,
              "num_forg_from_dev": args.forg_from_dev, "jobs": args.jobs,
              "progress": not args.quiet}

    def check() -> None:
        check_parameters(svm_type=args.svm_type, num_gen_train=args.gen_for_train,
                         num_forg_from_exp=args.forg_from_exp,
                         num_forg_from_dev=args.forg_from_dev, method=method)
        if args.jobs < 0:
            raise SigverError(f"--jobs {args.jobs}: must be >= 0 (0 = all cores)")

    run_protocol_command(parser, args, "WD", run, check, kwargs)
    return 0


def _method(args: argparse.Namespace) -> str:
    if args.reference:
        return "reference"
    if hasattr(args, "fast"):  # the published command
        return "fast" if args.fast else "exact"
    return "exact" if args.exact else "fast"

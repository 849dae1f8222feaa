"""``python -m sigver.wd.test`` / ``sigver wd``: the writer-dependent protocol over folds
(published flags and defaults, SPEC section 7)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from sigver.cli import run_main
from sigver.errors import SigverError
from sigver.protocols.cli import add_common_arguments, run_protocol
from sigver.wd.training import train_test_all_users


def build_parser(prog: str = "sigver wd") -> argparse.ArgumentParser:
    """The WD command's parser."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Writer-dependent SVMs (one per user) over random folds.")
    add_common_arguments(parser)
    parser.add_argument("--forg-from-exp", type=int, default=0,
                        help="random negatives per other exploitation user")
    parser.add_argument("--forg-from-dev", type=int, default=14,
                        help="random negatives per development user")
    parser.add_argument("--jobs", type=int, default=0,
                        help="parallel workers over users (default 0: all cores; "
                        "results do not depend on it)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the WD protocol."""
    args = build_parser().parse_args(argv)
    if args.jobs < 0:
        raise SigverError(f"--jobs {args.jobs}: must be >= 0 (0 = all cores)")

    def fold(exp_set, dev_set, rng):
        _, results = train_test_all_users(
            exp_set, dev_set, args.svm_type, args.svm_c, args.svm_gamma,
            args.gen_for_train, args.forg_from_exp, args.forg_from_dev, args.gen_for_test,
            args.thr, rng, method="reference" if args.reference else "fast",
            jobs=args.jobs, progress=not args.quiet)
        return results

    run_protocol(args, "WD", fold)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))

"""``python -m sigver.wi.test`` / ``sigver wi``: the writer-independent protocol over folds
(published flags and defaults, SPEC section 8)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from sigver.cli import run_main
from sigver.protocols.cli import add_common_arguments, run_protocol
from sigver.wi.classifier import FUSIONS
from sigver.wi.training import train_test_all_users


def build_parser(prog: str = "sigver wi") -> argparse.ArgumentParser:
    """The WI command's parser."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Writer-independent dichotomy SVM over random folds.")
    add_common_arguments(parser)
    parser.add_argument("--gen-for-ref", type=int, default=12,
                        help="reference genuines per exploitation user")
    parser.add_argument("--fusion", choices=tuple(FUSIONS), default="max",
                        help="fusion of the scores against the references")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the WI protocol."""
    args = build_parser().parse_args(argv)

    def fold(exp_set, dev_set, rng):
        _, results = train_test_all_users(
            exp_set, dev_set, args.svm_type, args.svm_c, args.svm_gamma,
            args.gen_for_train, args.gen_for_ref, args.gen_for_test, args.fusion, args.thr,
            rng, method="reference" if args.reference else "fast")
        return results

    run_protocol(args, "WI", fold)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))

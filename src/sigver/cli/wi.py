"""``sigver wi [test | fit] ...``: the writer-independent command family.

Without an action (or with ``test``) it is ``python -m sigver.wi.test``: the protocol
over folds with the published flags and defaults (docs/protocols-and-metrics.md), over
``sigver.wi.run``. ``fit`` trains the deployable classifier of ``sigver verify``
(``sigver.verification.fit``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

from sigver.cli import checks
from sigver.cli._protocol import (
    ALIASES,
    add_common_arguments,
    add_feature_source_arguments,
    check_feature_source,
    check_svm_flags,
    common_kwargs,
    load_feature_set,
    run_protocol_command,
)
from sigver.cli.common import HelpFormatter
from sigver.cli.flags import as_flags
from sigver.protocols.runner import SEED
from sigver.wi.classifier import FUSIONS

ACTIONS = ("test", "fit")


def build_parser(prog: str = "sigver wi") -> argparse.ArgumentParser:
    """The WI protocol's parser."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Writer-independent dichotomy SVM over random folds "
        "('sigver wi fit --help': train one for 'sigver verify').",
        formatter_class=HelpFormatter)
    add_common_arguments(parser)
    parser.add_argument("--gen-for-ref", type=int, default=12,
                        help="reference genuines per exploitation user")
    parser.add_argument("--fusion", choices=tuple(FUSIONS), default="max",
                        help="fusion of the scores against the references")
    return parser


def build_fit_parser(prog: str = "sigver wi fit") -> argparse.ArgumentParser:
    """Flags of ``sigver wi fit``."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Train the writer-independent classifier on development users, choose "
                    "its decision threshold (EER, or --target-far) and save it for "
                    "'sigver verify'.",
        formatter_class=HelpFormatter)
    add_feature_source_arguments(parser)
    parser.add_argument("--out", required=True,
                        help="classifier file to write (skops format, e.g. wi.skops)")
    parser.add_argument("--dev-users", nargs=2, type=int, default=None,
                        metavar=("FIRST", "END"),
                        help="development users FIRST <= y < END (when not given, all users of "
                             "the data; never include the people you will verify)")
    parser.add_argument("--gen-for-train", type=int, default=12,
                        help="genuines per development user for the SVM's pairs")
    parser.add_argument("--gen-for-ref", type=int, default=12,
                        help="references per person assumed when choosing the threshold")
    parser.add_argument("--svm-type", choices=("rbf", "linear"), default="rbf",
                        help="SVM kernel")
    parser.add_argument("--svm-c", type=float, default=1.0, help="SVM C")
    parser.add_argument("--svm-gamma", type=float, default=2 ** -11, help="RBF gamma")
    parser.add_argument("--fusion", choices=tuple(FUSIONS), default="max",
                        help="fusion of the scores against a person's references")
    parser.add_argument("--target-far", type=float, default=None,
                        help="threshold for this false-acceptance rate (e.g. 0.01) "
                             "instead of the EER")
    parser.add_argument("--calibration-folds", type=int, default=3,
                        help="groups of development users for cross-fitted calibration")
    parser.add_argument("--seed", type=int, default=SEED,
                        help="seed of the single random generator")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main(argv: Sequence[str] | None = None, *, prog: str = "sigver wi") -> int:
    """Dispatch ``sigver wi [test | fit]``; flags alone mean ``test``."""
    argv = list(argv or [])
    if argv and argv[0] in ACTIONS:
        action, rest = argv[0], argv[1:]
        return (fit_main(rest) if action == "fit" else test_main(rest, prog=f"{prog} test"))
    return test_main(argv, prog=prog)


def test_main(argv: Sequence[str] | None = None, *, prog: str = "sigver wi") -> int:
    """Run the WI protocol with the flags in ``argv``."""
    from sigver.wi.protocol import run
    from sigver.wi.training import check_parameters

    parser = build_parser(prog)
    args = parser.parse_args(argv)
    kwargs = {**common_kwargs(args), "num_gen_ref": args.gen_for_ref, "fusion": args.fusion,
              "method": "reference" if args.reference else "fast"}
    run_protocol_command(
        parser, args, "WI", run,
        lambda: check_parameters(svm_type=args.svm_type, fusion=args.fusion,
                                 method=kwargs["method"]),
        kwargs)
    return 0


def fit_main(argv: Sequence[str] | None = None) -> int:
    """Run ``sigver wi fit``: train, calibrate and save the verifier."""
    from sigver.datasets.util import select_users
    from sigver.verification.fit import fit_verifier
    from sigver.verification.persistence import save_verifier

    parser = build_fit_parser()
    args = parser.parse_args(argv)
    check_svm_flags(args)
    checks.number("--gen-for-train", args.gen_for_train, low=1)
    checks.number("--gen-for-ref", args.gen_for_ref, low=1)
    checks.user_range("--dev-users", args.dev_users)
    check_feature_source(args)
    checks.output_file("--out", args.out)
    with as_flags(parser, ALIASES):
        features = load_feature_set(args)
        dev_set = features.as_tuple()
        if args.dev_users is not None:
            dev_set = select_users(dev_set, *args.dev_users, param="dev_users")
        print(f"wi fit: {len(np.unique(dev_set[1]))} development users, "
              f"{dev_set[0].shape[1]}-d features", flush=True)
        verifier, calibration = fit_verifier(
            dev_set, features.model_sha256, svm_type=args.svm_type, C=args.svm_c,
            gamma=args.svm_gamma, num_gen_train=args.gen_for_train,
            num_gen_ref=args.gen_for_ref, fusion=args.fusion, target_far=args.target_far,
            calibration_folds=args.calibration_folds, seed=args.seed)
    save_verifier(args.out, verifier)
    point = verifier.operating_point
    rule = ("EER" if point["rule"] == "eer" else f"FAR <= {100 * point['target_far']:g}%")
    print(f"calibration ({len(calibration['genuine'])} genuine, "
          f"{len(calibration['skilled'])} skilled, {len(calibration['random'])} random "
          f"scores of unseen users): threshold {verifier.threshold:.4f} at {rule} "
          f"({point['negatives']} forgeries): FRR {100 * point['frr']:.2f}%, FAR skilled "
          f"{_percent(point['far_skilled'])}, FAR random {_percent(point['far_random'])}")
    print(f"wrote {args.out}")
    return 0


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"

"""``sigver verify``: is a questioned signature genuine? Scores each file against the
claimed person's enrolled references, with their writer-dependent SVM when the database
holds one (``sigver enroll --background``) or the writer-independent classifier, and
decides at the method's threshold (``sigver.verification.api.Verifier``)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sigver.cli import checks
from sigver.cli.common import HelpFormatter, one_line_warnings, parameters_as_flags
from sigver.deploy.engines import ENGINES
from sigver.verification.database import DEFAULT_DB
from sigver.verification.wd import METHODS

if TYPE_CHECKING:
    from sigver.verification.api import VerificationResult

PROG = "sigver verify"
METHOD_NAMES = {"wd": "the person's writer-dependent SVM",
                "wi": "the writer-independent classifier"}


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """Flags of ``sigver verify``."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Verify questioned signatures against a person's enrolled references: "
                    "prints the score, the decision (genuine / forgery) at the method's "
                    "threshold, and the classifier's score against each reference. The "
                    "files are prepared with the settings the database records.",
        formatter_class=HelpFormatter)
    parser.add_argument("files", nargs="+", metavar="FILE", help="questioned signature images")
    parser.add_argument("--db", default=DEFAULT_DB, help="enrollment database (SQLite)")
    parser.add_argument("--classifier",
                        help="classifier file from 'sigver wi fit' (default: the built-in "
                             "classifier, for a database enrolled with the built-in model)")
    parser.add_argument("--user", required=True, help="the claimed person's id")
    parser.add_argument("--model-path", help="feature model, PyTorch or its ONNX export "
                        "(default: the one the database recorded; it must be that model or "
                        "an export of it either way)")
    parser.add_argument("--engine", default="auto", choices=ENGINES,
                        help="what runs the network: PyTorch, ONNX Runtime, or auto (by "
                             "the model file's content)")
    parser.add_argument("--method", default="auto", choices=METHODS,
                        help="wd: the person's writer-dependent SVM (trained by 'sigver "
                             "enroll --background'); wi: the writer-independent classifier; "
                             "auto: wd when the person has one, else wi")
    parser.add_argument("--threshold", type=float, metavar="T",
                        help="decide at this score (default: the method's threshold, the "
                             "classifier's for wi, 0 for wd)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--summary", action="store_true",
                        help="one line per file (decision, score, threshold) and a tally")
    parser.add_argument("--fail-on-forgery", action="store_true",
                        help="exit with status 1 when any file is judged a forgery")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="where the network runs")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes reading and preprocessing images (0: all cores)")
    parser.add_argument("--crop-oversize", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="keep the middle of a signature larger than the canvas (as the "
                             "published code does) instead of refusing it (default: the "
                             "rule the database records)")
    return parser


def format_result(result: VerificationResult) -> str:
    """One questioned file as text: the verdict line, then one line per reference."""
    lines = [f"{result.file}: {result.decision.upper()} (score {result.score:.4f}, "
             f"threshold {result.threshold:.4f})"]
    if result.is_reference:
        lines.append("  note: this file is one of the references; its score means nothing")
    lines += [f"  {score:9.4f}  {ref}" for ref, score in result.reference_scores]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Run ``sigver verify``; the exit status is 1 with ``--fail-on-forgery`` when a file
    is judged a forgery."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.json and args.summary:
        parser.error("--json and --summary are two output formats: choose one")
    checks.input_file("--classifier", args.classifier, "classifier")
    checks.input_file("--model-path", args.model_path, "model")
    checks.workers("--workers", args.workers)
    from sigver.verification.api import Verifier  # the network only when verifying
    from sigver.verification.summary import exit_status, summary_lines

    if args.classifier is None:
        print("note: no --classifier: using the built-in writer-independent classifier "
              "(docs/pretrained.md)", file=sys.stderr)

    with checks.paths_as_flags({"--db": args.db, "--classifier": args.classifier,
                                "--model-path": args.model_path}), \
            parameters_as_flags(parser), one_line_warnings(parser), \
            Verifier(args.db, args.classifier, model_path=args.model_path,
                     device=args.device, engine=args.engine) as verifier:
        results = verifier.verify(args.files, args.user, workers=args.workers,
                                  crop_oversize=args.crop_oversize, method=args.method,
                                  threshold=args.threshold)
        fusion = verifier.classifier.fusion
    method = results[0].method
    if args.json:
        print(json.dumps({"user": args.user, "db": str(args.db),
                          "classifier": str(args.classifier or "built-in"), "fusion": fusion,
                          "method": method, "results": [r.as_dict() for r in results]},
                         indent=2))
    elif args.summary:
        print("\n".join(summary_lines(results)))
    else:
        how = METHOD_NAMES[method]
        if method == "wi":
            how += f", fused by {fusion} over the references"
        print(f"user {args.user}: {len(results)} questioned file(s), scored by {how}")
        for result in results:
            print(format_result(result))
    return exit_status(results, args.fail_on_forgery)

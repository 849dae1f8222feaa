"""``sigver verify``: is a questioned signature genuine? Scores each file against the
claimed person's enrolled references with the writer-independent classifier and decides
at the classifier's stored threshold (``sigver.verification.api.Verifier``)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sigver.cli import checks
from sigver.cli.common import HelpFormatter, one_line_warnings, parameters_as_flags
from sigver.verification.database import DEFAULT_DB

if TYPE_CHECKING:
    from sigver.verification.api import VerificationResult

PROG = "sigver verify"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """Flags of ``sigver verify``."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Verify questioned signatures against a person's enrolled references: "
                    "prints the fused score, the decision (genuine / forgery) at the "
                    "classifier's threshold, and the score against each reference. The "
                    "files are prepared with the settings the database records.",
        formatter_class=HelpFormatter)
    parser.add_argument("files", nargs="+", metavar="FILE", help="questioned signature images")
    parser.add_argument("--db", default=DEFAULT_DB, help="enrollment database (SQLite)")
    parser.add_argument("--classifier", required=True,
                        help="classifier file from 'sigver wi fit'")
    parser.add_argument("--user", required=True, help="the claimed person's id")
    parser.add_argument("--model-path", help="feature model (default: the one the database "
                        "recorded; its SHA-256 must match either way)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
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
    """Run ``sigver verify``."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    checks.input_file("--classifier", args.classifier, "classifier")
    checks.input_file("--model-path", args.model_path, "model")
    checks.workers("--workers", args.workers)
    from sigver.verification.api import Verifier  # torch only when verifying

    with checks.paths_as_flags({"--db": args.db, "--classifier": args.classifier,
                                "--model-path": args.model_path}), \
            parameters_as_flags(parser), one_line_warnings(parser), \
            Verifier(args.db, args.classifier, model_path=args.model_path,
                     device=args.device) as verifier:
        results = verifier.verify(args.files, args.user, workers=args.workers,
                                  crop_oversize=args.crop_oversize)
        fusion = verifier.classifier.fusion
    if args.json:
        print(json.dumps({"user": args.user, "db": str(args.db),
                          "classifier": str(args.classifier), "fusion": fusion,
                          "results": [r.as_dict() for r in results]}, indent=2))
    else:
        print(f"user {args.user}: {len(results)} questioned file(s), scores fused by "
              f"{fusion} over each reference")
        for result in results:
            print(format_result(result))
    return 0

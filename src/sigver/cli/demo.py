"""``sigver demo``: forwards to the command module being moved here, after checking the
flags (``sigver.cli.checks``) so that a bad one stops the demo before it writes."""

from __future__ import annotations

from collections.abc import Sequence

from sigver.cli import checks


def main(argv: Sequence[str] | None = None) -> int:
    """Check the flags, then run ``sigver demo``."""
    from sigver.demo.pipeline import build_parser
    from sigver.demo.pipeline import main as run_demo_command

    args = build_parser().parse_args(argv)
    checks.output_folder("--out", args.out)
    checks.number("--seed", args.seed, low=0)
    checks.number("--first-epochs", args.first_epochs, low=1)
    checks.number("--triplet-epochs", args.triplet_epochs, low=1)
    checks.workers("--workers", args.workers)
    return run_demo_command(argv)

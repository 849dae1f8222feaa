"""``sigver demo`` (= ``make demo``, ``python -m sigver.demo``): the whole pipeline on
synthetic data, with a report, over ``sigver.demo.pipeline.run_demo``."""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Sequence

from sigver.cli import checks
from sigver.cli.common import HelpFormatter
from sigver.cli.flags import as_flags

PROG = "sigver demo"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """Flags of ``sigver demo``."""
    from sigver.demo.settings import FULL, QUICK
    from sigver.featurelearning.models import available_models

    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run the whole pipeline on built-in synthetic signatures (draw, "
                    "preprocess, train, extract, WD and WI against an untrained baseline) "
                    "and write DIR/report.md and DIR/report.html.",
        formatter_class=HelpFormatter)
    add = parser.add_argument
    add("--out", default="demo-out", metavar="DIR", help="output folder")
    add("--quick", action="store_true",
        help="a tiny run (seconds to a minute) that checks the pipeline; its numbers mean "
             "little")
    add("--seed", type=int, default=None,
        help=f"seed of the synthetic writers, of training and of the untrained baseline "
             f"(default {FULL.seed})")
    add("--first-epochs", type=int, default=None,
        help=f"epochs of the first task, SigNet-F (default {FULL.first_epochs}; with "
             f"--quick {QUICK.first_epochs})")
    add("--triplet-epochs", type=int, default=None,
        help=f"epochs of the triplet task (default {FULL.triplet_epochs}; with --quick "
             f"{QUICK.triplet_epochs})")
    add("--model", choices=sorted(available_models), default=None,
        help=f"architecture trained and used as the untrained baseline (default "
             f"{FULL.model})")
    add("--workers", type=int, default=0,
        help="processes for drawing and preprocessing (0: every core)")
    add("--device", choices=["auto", "cpu", "cuda"], default="auto",
        help="device for training and extraction")
    add("--keep-images", action="store_true",
        help="keep the synthetic scans (DIR/images, ~170 MB) after preprocessing")
    add("--no-progress", action="store_true", help="hide the progress bars")
    return parser


def main(argv: Sequence[str] | None = None, *, prog: str = PROG) -> int:
    """Run ``sigver demo``: the pipeline, then the metrics table and the claims."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    # a bad flag stops the demo before it writes anything
    checks.output_folder("--out", args.out)
    if args.seed is not None:
        checks.number("--seed", args.seed, low=0)
    for flag, value in (("--first-epochs", args.first_epochs),
                        ("--triplet-epochs", args.triplet_epochs)):
        if value is not None:
            checks.number(flag, value, low=1)
    checks.workers("--workers", args.workers)
    from sigver.demo.pipeline import format_table, metrics_table, run_demo, target_check
    from sigver.demo.settings import FULL, QUICK

    overrides = {name: value for name, value in (("seed", args.seed),
                                                 ("first_epochs", args.first_epochs),
                                                 ("triplet_epochs", args.triplet_epochs),
                                                 ("model", args.model)) if value is not None}
    settings = dataclasses.replace(QUICK if args.quick else FULL, **overrides)
    started = time.perf_counter()
    with as_flags(parser):
        result = run_demo(args.out, settings, workers=args.workers, device=args.device,
                          progress=not args.no_progress, keep_images=args.keep_images)
    print()
    print(format_table(*metrics_table(result.runs)))
    print()
    for claim, holds in target_check(result.runs):
        print(("ok   " if holds else "MISS ") + claim)
    print(f"\ntotal {time.perf_counter() - started:.0f} s; report: {result.report_md} "
          f"(self-contained: {result.report_html})")
    return 0

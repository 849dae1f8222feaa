"""``sigver synth``: draw a synthetic offline-signature dataset (``sigver.synthetic``).

    sigver synth --writers 20 --genuine 24 --skilled 30 --seed 0 --out synth.npz
    sigver synth --writers 20 --out synth_scans --format images
    sigver synth --preview sheet.png
    sigver synth --report --writers 50 --genuine 5 --skilled 5
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from sigver.cli import checks
from sigver.cli._scheduler import add_scheduler_argument, scheduler_address
from sigver.cli.common import HelpFormatter, one_line_warnings, parameters_as_flags
from sigver.datasets.util import is_npz_path
from sigver.errors import SigverError

PROG = "sigver synth"
# Python parameters whose names differ from the flags' destinations.
ALIASES = {"skill": "--forger-skill", "out_dir": "--out", "path": "--out"}


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The command-line flags of ``sigver synth``."""
    from sigver.synthetic.generate import DEFAULT_SKILL

    parser = argparse.ArgumentParser(
        prog=prog,
        description="Draw synthetic offline signature scans (genuine signatures and skilled "
                    "forgeries), as images in the gpds folder layout or as a processed "
                    "dataset store (which records its preprocessing settings). The same "
                    "seed gives byte-identical output for any number of workers.",
        formatter_class=HelpFormatter)
    parser.add_argument("--writers", type=int, default=20, help="number of writers")
    parser.add_argument("--genuine", type=int, default=24,
                        help="genuine signatures per writer")
    parser.add_argument("--skilled", type=int, default=30,
                        help="skilled forgeries per writer")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--out", type=Path,
                        help="output: a .npz file or folder store (--format npz), or a "
                             "folder of images (--format images)")
    parser.add_argument("--format", choices=["images", "npz"],
                        help="images: PNG scans in the gpds layout plus synth.json; npz: a "
                             "processed dataset store (default: npz when --out ends in "
                             ".npz, else images)")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes (0 = all cores)")
    add_scheduler_argument(parser)
    parser.add_argument("--forger-skill", type=float, default=DEFAULT_SKILL,
                        help="how close skilled forgeries are, 0..1")
    parser.add_argument("--preview", type=Path, metavar="FILE.png",
                        help="draw a sheet of genuine, skilled and random forgeries for a "
                             "few writers")
    parser.add_argument("--report", action="store_true",
                        help="print the HOG distance ordering (genuine < skilled < random) "
                             "of the processed signatures")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Run ``sigver synth``."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.out is None and args.preview is None and not args.report:
        raise SigverError("nothing to do: give --out PATH, --preview FILE.png or --report")
    checks.number("--genuine", args.genuine, low=1)
    checks.number("--skilled", args.skilled, low=0)
    checks.workers("--workers", args.workers)
    if args.out is not None:
        if (args.format or ("npz" if is_npz_path(args.out) else "images")) == "npz":
            checks.output_store("--out", args.out)
        else:
            checks.output_folder("--out", args.out)
    checks.output_file("--preview", args.preview)
    from sigver.synthetic.generate import generate_images, generate_store, synthesize
    from sigver.synthetic.measure import distance_report
    from sigver.synthetic.preview import preview_sheet

    progress = not args.no_progress
    common = dict(writers=args.writers, genuine=args.genuine, skilled=args.skilled,
                  seed=args.seed, workers=args.workers, skill=args.forger_skill,
                  progress=progress)
    try:
        with parameters_as_flags(parser, ALIASES), one_line_warnings(parser, ALIASES):
            common["scheduler"] = scheduler_address(args)
            data = None
            if args.out is not None:
                fmt = args.format or ("npz" if is_npz_path(args.out) else "images")
                if fmt == "images":
                    info = generate_images(args.out, **common)
                    print(f"wrote {info['files']} images of {args.writers} writers to {args.out}")
                    print("canvas for preprocessing: "
                          f"{info['canvas_size'][0]} x {info['canvas_size'][1]}; to make a "
                          f"dataset store run:\n  {info['command']}")
                else:
                    data = generate_store(args.out, **common)
                    print(f"wrote {len(data['y'])} processed signatures of {args.writers} "
                          f"writers to {args.out}")
            if args.preview is not None:
                preview_sheet(args.preview, writers=min(args.writers, 4), seed=args.seed,
                              skill=args.forger_skill)
                print(f"wrote preview sheet {args.preview}")
            if args.report:
                if data is None:
                    data = synthesize(**common)
                print(distance_report(data["x"], data["y"], data["yforg"]).summary())
    except SigverError:
        raise
    except ValueError as exc:  # e.g. too few signatures per writer for --report
        raise SigverError(str(exc)) from None
    return 0

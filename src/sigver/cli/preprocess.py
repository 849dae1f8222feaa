"""``sigver preprocess`` / ``python -m sigver.preprocessing.process_dataset``: a dataset
folder into a dataset store (``sigver.preprocessing.process_dataset``)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from sigver.cli import checks
from sigver.cli._scheduler import add_scheduler_argument, scheduler_address
from sigver.cli.common import HelpFormatter, one_line_warnings, parameters_as_flags
from sigver.datasets import available_datasets
from sigver.datasets.folder import FORGERY_PATTERNS, IMAGE_PATTERNS
from sigver.errors import SigverError

PROG = "sigver preprocess"
MODULE_PROG = "python -m sigver.preprocessing.process_dataset"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The command-line flags (published ones first)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Process a signature dataset folder into a dataset store. The store "
                    "records the preprocessing settings (canvas, sizes, oversize rule), "
                    "which training, extraction and enrollment take from it.",
        formatter_class=HelpFormatter)
    parser.add_argument("--dataset", required=True, choices=list(available_datasets),
                        help="folder layout of the dataset")
    parser.add_argument("--path", required=True, help="root folder of the dataset")
    parser.add_argument("--save-path", required=True,
                        help="output store: NAME.npz, or a folder of .npy files")
    parser.add_argument("--image-size", nargs=2, type=int, default=[170, 242],
                        metavar=("H", "W"), help="size of the stored images")
    parser.add_argument("--users", nargs=2, type=int, metavar=("A", "B"),
                        help="only users[A:B] of the sorted user list (default: all)")
    parser.add_argument("--canvas-size", nargs=2, type=int, metavar=("H", "W"),
                        help="canvas overriding the dataset's (default: the dataset's; "
                             "folder: fitted to the largest image)")
    parser.add_argument("--input-size", nargs=2, type=int, metavar=("H", "W"),
                        help="network input (centre crop) recorded with the store "
                             "(default: 150 220, or the image size where smaller)")
    parser.add_argument("--workers", type=int, default=0,
                        help="worker processes (0: every core)")
    add_scheduler_argument(parser)
    parser.add_argument("--skip-bad", action="store_true",
                        help="leave bad files out (listed in the store and the summary) "
                        "instead of stopping")
    parser.add_argument("--crop-oversize", action="store_true",
                        help="crop signatures larger than the canvas to their middle, as "
                        "the published code does, instead of treating them as bad input")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    group = parser.add_argument_group("brazilian")
    group.add_argument("--extension", default="jpg", help="image file extension")
    group = parser.add_argument_group("folder (your own data)")
    group.add_argument("--files", nargs="+", default=list(IMAGE_PATTERNS), metavar="GLOB",
                       help="signature files inside a writer folder")
    group.add_argument("--forgery", nargs="+", default=list(FORGERY_PATTERNS),
                       metavar="GLOB", help="skilled forgeries")
    group.add_argument("--simple", nargs="+", default=[], metavar="GLOB",
                       help="simple forgeries")
    group.add_argument("--forgery-suffix", default="_forg",
                       help="folder WRITER<suffix> holds forgeries of WRITER")
    group.add_argument("--writer-depth", type=int, choices=(1, 2), default=1,
                       help="1: the folders in --path are the writers; 2: they are groups "
                            "of writer folders (e.g. Bengali/001), writer ids GROUP/WRITER")
    return parser


@contextlib.contextmanager
def nested_writers_as_flags() -> Iterator[None]:
    """The folder reader's refusal of groups of writer folders, with this command's
    flags."""
    from sigver.datasets.folder import NestedWritersError

    try:
        yield
    except NestedWritersError as exc:
        raise SigverError(exc.for_command_line()) from None


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Run the command."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    checks.input_folder("--path", args.path, "dataset folder")
    checks.output_store("--save-path", args.save_path)
    checks.workers("--workers", args.workers)
    checks.user_range("--users", args.users)
    options: dict[str, Any] = {}
    if args.dataset.startswith("brazilian"):
        options["extension"] = args.extension
    elif args.dataset == "folder":
        options.update(files=args.files, forgery=args.forgery, simple=args.simple,
                       forgery_suffix=args.forgery_suffix, writer_depth=args.writer_depth)
    from sigver.preprocessing.process_dataset import process_dataset

    with parameters_as_flags(parser), one_line_warnings(parser), \
            nested_writers_as_flags():
        summary = process_dataset(args.dataset, args.path, args.save_path,
                                  image_size=args.image_size, users=args.users,
                                  canvas_size=args.canvas_size, input_size=args.input_size,
                                  workers=args.workers, skip_bad=args.skip_bad,
                                  crop_oversize=args.crop_oversize,
                                  progress=not args.no_progress,
                                  scheduler=scheduler_address(args), **options)
    print(summary.report())
    sys.stdout.flush()
    return 0

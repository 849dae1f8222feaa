"""``sigver enroll``: store a person's reference signatures in the enrollment database (or
list / remove enrolled users); the library is ``sigver.verification.api.enroll``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from sigver.cli import checks
from sigver.cli.common import HelpFormatter, one_line_warnings, parameters_as_flags
from sigver.deploy.engines import ENGINES
from sigver.errors import SigverError
from sigver.verification.database import DEFAULT_DB, EnrollmentDatabase
from sigver.verification.wd import MIN_REFERENCES

PROG = "sigver enroll"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """Flags of ``sigver enroll``."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Preprocess a person's reference signatures and store their features "
                    "in an SQLite enrollment database. Enrolling a file again is a no-op. "
                    "The preprocessing settings come from the database, else from the "
                    "model folder (preprocessing.json beside the model file, written by "
                    "'sigver train'), else they are the GPDS defaults (with a warning).",
        formatter_class=HelpFormatter)
    parser.add_argument("files", nargs="*", metavar="FILE", help="reference signature images")
    parser.add_argument("--db", default=DEFAULT_DB, help="enrollment database (SQLite)")
    parser.add_argument("--user", help="the person's id")
    parser.add_argument("--model-path", help="feature model file (PyTorch, or its ONNX "
                        "export) for a new database; later the database's own model is used "
                        "(and checked; an export of it is accepted). A new database without "
                        "one uses the built-in model (synthetic signatures only; "
                        "docs/pretrained.md)")
    parser.add_argument("--engine", default="auto", choices=ENGINES,
                        help="what runs the network: PyTorch, ONNX Runtime, or auto (by "
                             "the model file's content)")
    parser.add_argument("--background",
                        help="background file of the database's model ('sigver "
                             "background'): once the person has at least "
                             f"{MIN_REFERENCES} references, train and store their "
                             "writer-dependent SVM against it")
    parser.add_argument("--canvas-size", nargs=2, type=int, metavar=("H", "W"),
                        help="canvas the signatures are centred on, for a model that "
                             "records none (default: the recorded one; else 952 1360, the "
                             "GPDS canvas of the published SigNet); a value contradicting "
                             "the recorded one is refused")
    parser.add_argument("--img-size", nargs=2, type=int, metavar=("H", "W"),
                        help="size after resizing (default: the recorded one, else 170 242)")
    parser.add_argument("--input-size", nargs=2, type=int, metavar=("H", "W"),
                        help="centre crop fed to the network (default: the recorded one, "
                             "else 150 220)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="where the network runs")
    parser.add_argument("--batch-size", type=int, default=32, help="images per forward pass")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes reading and preprocessing images (0: all cores)")
    parser.add_argument("--crop-oversize", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="keep the middle of a signature larger than the canvas (as the "
                             "published code does) instead of refusing it (default: the "
                             "rule the database or model folder records, else refuse)")
    manage = parser.add_mutually_exclusive_group()
    manage.add_argument("--list", action="store_true",
                        help="list the enrolled users and the database's settings")
    manage.add_argument("--remove", action="store_true",
                        help="remove --user and all their references")
    return parser


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Run ``sigver enroll``."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if not (args.list or args.remove):
        checks.output_file("--db", args.db)
        checks.input_file("--model-path", args.model_path, "model")
        checks.number("--batch-size", args.batch_size, low=1)
        checks.workers("--workers", args.workers)
    with checks.paths_as_flags({"--db": args.db, "--model-path": args.model_path}), \
            parameters_as_flags(parser), one_line_warnings(parser):
        if args.list:
            return _list(args.db)
        if not args.user:
            raise SigverError("--user is required (the id of the person the files belong "
                              "to)")
        if args.remove:
            with EnrollmentDatabase(args.db) as database:
                removed = database.remove_user(args.user)
            print(f"removed user {args.user} and {removed} reference(s) from {args.db}")
            return 0
        if not args.files:
            raise SigverError("no reference files given (sigver enroll --user ID FILE...)")
        from sigver.verification.api import enroll  # torch only when enrolling

        if args.model_path is None and _new_database(args.db):
            print(f"note: no --model-path: {args.db} is enrolled with the built-in model "
                  "(trained on synthetic signatures; docs/pretrained.md)", file=sys.stderr)

        result = enroll(args.files, args.user, db=args.db, model_path=args.model_path,
                        canvas_size=args.canvas_size, img_size=args.img_size,
                        input_size=args.input_size, device=args.device,
                        workers=args.workers, batch_size=args.batch_size,
                        crop_oversize=args.crop_oversize, engine=args.engine,
                        background=args.background)
    for path in result.already_enrolled:
        print(f"{path}: already enrolled for {args.user}, skipped")
    print(f"enrolled {len(result.added)} new reference(s) for {args.user} in {args.db} "
          f"({result.total_references} in total)")
    if args.background and result.total_references >= MIN_REFERENCES:
        print(f"trained the writer-dependent SVM of {args.user} on their "
              f"{result.total_references} references against {args.background}")
    elif args.background:
        print(f"{args.user} has {result.total_references} reference(s); a writer-dependent "
              f"SVM needs at least {MIN_REFERENCES}, so verification uses the "
              "writer-independent classifier")
    return 0


def _new_database(db: str) -> bool:
    if not os.path.exists(db):
        return True
    with EnrollmentDatabase(db) as database:
        return database.settings() is None


def _list(db: str) -> int:
    with EnrollmentDatabase(db) as database:
        settings, users = database.settings(), database.users()
    if settings is None:
        print(f"{db}: nobody is enrolled yet")
        return 0
    rule = "cropped to the middle" if settings.crop_oversize else "refused"
    print(f"{db}: model {settings.model_path} (SHA-256 {settings.model_sha256[:12]}...), "
          f"{settings.feature_dim}-d features, canvas {settings.canvas_size[0]} x "
          f"{settings.canvas_size[1]}, image {settings.img_size[0]} x {settings.img_size[1]}, "
          f"input {settings.input_size[0]} x {settings.input_size[1]}, signatures larger "
          f"than the canvas {rule}")
    for name, count in users:
        print(f"{name}\t{count} reference(s)")
    return 0

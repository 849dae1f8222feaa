"""The command-line layer: every argument parser of sigver lives in this package.

``sigver SUBCOMMAND`` dispatches to ``sigver.cli.<module>.main``; the published module
commands (``python -m sigver.wd.test``, ``python -m sigver.featurelearning.
contrastive_train``, ...) are shims onto the same functions, so both spellings accept the
same flags. Each command parses its flags, calls the library with Python keyword
arguments, and turns the library's ``ParameterError`` (which names a Python parameter)
into a message that names the flag (``sigver.cli.flags``). No library module imports
this package.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from sigver import __version__
from sigver.errors import SigverError

# name -> (module with a ``main(argv)`` function, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "preprocess": ("sigver.cli.preprocess", "process a dataset folder into a dataset store"),
    "synth": ("sigver.cli.synth", "draw a synthetic signature dataset (scans or store)"),
    "train": ("sigver.cli.train",
              "learn SigNet features (first task, triplet / NT-Xent, multi-task)"),
    "extract": ("sigver.cli.extract", "extract CNN features of a dataset store"),
    "export": ("sigver.cli.export", "export a model file to ONNX (float32 or int8)"),
    "wd": ("sigver.cli.wd", "writer-dependent SVMs over folds (python -m sigver.wd.test)"),
    "wi": ("sigver.cli.wi", "writer-independent SVM over folds (python -m sigver.wi.test); "
           "'sigver wi fit' trains one for 'sigver verify'"),
    "demo": ("sigver.cli.demo", "run the whole pipeline on synthetic data, with a report"),
    "enroll": ("sigver.cli.enroll", "store a person's reference signatures (SQLite)"),
    "verify": ("sigver.cli.verify", "verify questioned signatures against a person"),
    "background": ("sigver.cli.background",
                   "build the background file of writer-dependent verification"),
    "keys": ("sigver.cli.keys", "create, list or revoke API keys of 'sigver serve'"),
    "serve": ("sigver.cli.serve", "the verification service: HTTP API and web page"),
}


def run_main(main_fn: Callable[[Sequence[str] | None], int | None],
             argv: Sequence[str] | None = None) -> int:
    """Run a command's ``main`` and turn user mistakes into one-line errors.

    Returns the process exit status: 0 on success, 2 for a user error, 130 when
    interrupted.
    """
    try:
        status = main_fn(argv)
    except SigverError as exc:
        print(f"sigver: error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        name = exc.filename if exc.filename is not None else ""
        print(f"sigver: error: {name}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sigver: interrupted", file=sys.stderr)
        return 130
    return int(status or 0)


def _parser() -> argparse.ArgumentParser:
    lines = [f"  {name:<12} {help_}" for name, (_, help_) in SUBCOMMANDS.items()]
    parser = argparse.ArgumentParser(
        prog="sigver",
        description="Offline handwritten signature verification toolkit.",
        epilog="subcommands:\n" + "\n".join(lines) + "\n\nRun 'sigver SUBCOMMAND --help' "
        "for the flags of one subcommand.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sigver {__version__}")
    parser.add_argument("subcommand", choices=sorted(SUBCOMMANDS), metavar="SUBCOMMAND")
    parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sigver`` console command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    if not argv:
        parser.print_help()
        return 2
    if argv[0] in SUBCOMMANDS:
        module_name, _ = SUBCOMMANDS[argv[0]]
        module = importlib.import_module(module_name)
        return run_main(module.main, argv[1:])
    parser.parse_args(argv)  # prints --help / --version, or the unknown-subcommand error
    return 2

"""The ``--scheduler`` flag of the data-parallel commands (preprocess, synth, extract, wd,
wi): their work on a running Dask cluster (``sigver.cluster``, docs/dask.md)."""

from __future__ import annotations

import argparse
import os

ENV = "DASK_SCHEDULER_ADDRESS"


def add_scheduler_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Add ``--scheduler ADDRESS``."""
    parser.add_argument(
        "--scheduler", metavar="ADDRESS", default=None,
        help=f"run the work on the Dask cluster of this scheduler (tcp://HOST:8786; when "
             f"not given: ${ENV} if set, else local processes). Needs 'pip install "
             "sigver[dask]' and the input files at the same path on every worker")


def scheduler_address(args: argparse.Namespace) -> str | None:
    """The scheduler the command uses: ``--scheduler``, else ``$DASK_SCHEDULER_ADDRESS``,
    else ``None`` (local processes). Checks that Dask is installed before any work starts
    (a ``ParameterError`` naming ``scheduler``)."""
    address = args.scheduler or os.environ.get(ENV) or None
    if address is not None:
        from sigver.cluster import require_dask

        require_dask()
    return address

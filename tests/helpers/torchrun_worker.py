"""Run ``sigver train`` as one rank of a torchrun job, recording what the rank does.

    torchrun ... torchrun_worker.py REPORT_DIR WATCHED_DIR [STOP_TASK STOP_EPOCH] -- FLAGS

The rank runs the command's ``main`` (what ``python -m
sigver.featurelearning.contrastive_train`` runs) with FLAGS and writes
``REPORT_DIR/rank<RANK>.json``: every file or folder it created, replaced, removed or
opened for writing under WATCHED_DIR (from Python's audit events, which every write of
sigver goes through: ``tempfile.mkstemp`` and ``os.replace``), everything it printed
(stdout and stderr, progress bars included), its exit status, and whether it stopped
after epoch STOP_EPOCH of STOP_TASK (an interruption, raised from ``on_epoch_end``).
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import sys
from pathlib import Path

WRITE_EVENTS = {"os.rename", "os.remove", "os.rmdir", "os.mkdir", "os.chmod",
                "tempfile.mkstemp", "tempfile.mkdtemp", "shutil.rmtree"}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class StopRunError(Exception):
    """The planned interruption."""


def _recorder(watched: str, writes: list[list[str]]):
    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = args
            writing = ((isinstance(mode, str) and any(c in mode for c in "wax+"))
                       or (isinstance(flags, int) and flags & WRITE_FLAGS))
        elif event in WRITE_EVENTS:
            path, writing = args[0], True
        else:
            return
        if writing and isinstance(path, (str, bytes, os.PathLike)):
            name = os.path.abspath(os.fsdecode(path))
            if name.startswith(watched):
                # os.replace (an "os.rename" event): the source, then the destination.
                target = [os.path.abspath(os.fsdecode(args[1]))] if event == "os.rename" else []
                writes.append([event, name, *target])
    return hook


def main() -> int:
    argv = sys.argv[1:]
    split = argv.index("--")
    report_dir, watched, *stop = argv[:split]
    flags = argv[split + 1:]
    rank = int(os.environ["RANK"])
    writes: list[list[str]] = []
    sys.addaudithook(_recorder(os.path.abspath(watched), writes))

    import sigver.featurelearning.train as training
    from sigver.cli import run_main
    from sigver.cli.train import main as train_main

    if stop:
        def interrupt(record: dict) -> None:
            if (record["task"], record["epoch"]) == (stop[0], int(stop[1])):
                raise StopRunError
        training.train = functools.partial(training.train, on_epoch_end=interrupt)
    output = io.StringIO()
    stopped = False
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        try:
            status = run_main(train_main, flags)
        except StopRunError:
            status, stopped = 0, True
    report = {"rank": rank, "status": status, "stopped": stopped, "writes": writes,
              "output": output.getvalue()}
    Path(report_dir, f"rank{rank}.json").write_text(json.dumps(report, indent=1))
    return status


if __name__ == "__main__":
    raise SystemExit(main())

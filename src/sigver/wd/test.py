"""``python -m sigver.wd.test``: the published module command of the writer-dependent
protocol, the same command as ``sigver wd`` (``cli/wd.py``); from Python, use
``sigver.wd.run``."""

if __name__ == "__main__":
    from functools import partial

    from ..cli import run_main  # relative: the library never imports the CLI
    from ..cli.wd import main

    raise SystemExit(run_main(partial(main, prog="python -m sigver.wd.test")))

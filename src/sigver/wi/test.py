"""``python -m sigver.wi.test``: the published module command of the writer-independent
protocol, the same command as ``sigver wi`` (``cli/wi.py``); from Python, use
``sigver.wi.run``."""

if __name__ == "__main__":
    from functools import partial

    from ..cli import run_main  # relative: the library never imports the CLI
    from ..cli.wi import test_main

    raise SystemExit(run_main(partial(test_main, prog="python -m sigver.wi.test")))

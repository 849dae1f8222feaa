"""``python -m sigver.demo``: the same command as ``sigver demo``."""

if __name__ == "__main__":
    from ..cli import demo, run_main  # relative: the library never imports the CLI

    raise SystemExit(run_main(lambda argv: demo.main(argv, prog="python -m sigver.demo")))

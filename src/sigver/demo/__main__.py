"""``python -m sigver.demo``: the same command as ``sigver demo``."""

from sigver.cli import run_main
from sigver.demo.pipeline import main

if __name__ == "__main__":
    raise SystemExit(run_main(main))

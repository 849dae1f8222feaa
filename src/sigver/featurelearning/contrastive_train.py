"""``python -m sigver.featurelearning.contrastive_train`` (= ``sigver train``).

Multi-task (default: first task, then triplet or NT-Xent from its best weights),
single-task (contrastive from scratch) or the first task alone (``--task signet``). The
training itself lives in ``sigver.featurelearning.train``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sigver.cli import run_main
from sigver.featurelearning.train import command


def main(argv: Sequence[str] | None = None) -> int:
    """Run the contrastive / multi-task training command."""
    return command(argv, contrastive=True)


if __name__ == "__main__":
    raise SystemExit(run_main(main))

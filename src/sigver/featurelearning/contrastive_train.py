"""``python -m sigver.featurelearning.contrastive_train`` (= ``sigver train``).

Multi-task (default: first task, then triplet or NT-Xent from its best weights),
single-task (contrastive from scratch) or the first task alone (``--task signet``). The
command's flags are parsed in ``cli/train.py``; the training itself is
``sigver.featurelearning.train``.
"""

if __name__ == "__main__":
    from functools import partial

    from ..cli import run_main, train  # relative: the library never imports the CLI

    raise SystemExit(run_main(partial(
        train.main, prog="python -m sigver.featurelearning.contrastive_train")))

"""Writer-dependent protocol: one SVM per user (docs/protocols-and-metrics.md).

``run(features, ...)`` runs the protocol over folds (``sigver.wd.protocol``);
``training.train_test_all_users`` is one fold with the published signature. Both are
imported on first use, so ``import sigver.wd`` stays cheap (no scikit-learn).
"""


def __getattr__(name: str):
    if name == "run":
        from sigver.wd.protocol import run

        return run
    raise AttributeError(f"module 'sigver.wd' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), "run"])

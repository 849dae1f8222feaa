"""Writer-independent protocol: one dichotomy SVM for everyone (docs/protocols-and-metrics.md).

``run(features, ...)`` runs the protocol over folds (``sigver.wi.protocol``);
``training.train_test_all_users`` is one fold with the published signature. Both are
imported on first use, so ``import sigver.wi`` stays cheap (no scikit-learn).
"""


def __getattr__(name: str):
    if name == "run":
        from sigver.wi.protocol import run

        return run
    raise AttributeError(f"module 'sigver.wi' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), "run"])

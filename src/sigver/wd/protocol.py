"""``sigver.wd.run``: the writer-dependent protocol over folds (docs/protocols-and-metrics.md) as a
Python function; ``sigver wd`` / ``python -m sigver.wd.test`` call it."""

from __future__ import annotations

from functools import partial

import numpy as np

from sigver.errors import ParameterError
from sigver.protocols.result import ProtocolResult
from sigver.protocols.runner import (
    DEV_USERS,
    EXP_USERS,
    SEED,
    Features,
    FoldCallback,
    as_feature_tuple,
    check_run,
    run_folds,
)
from sigver.wd.training import check_parameters, train_test_all_users


def run(features: Features, y: np.ndarray | None = None, yforg: np.ndarray | None = None,
        *, exp_users: tuple[int, int] = EXP_USERS, dev_users: tuple[int, int] = DEV_USERS,
        svm_type: str = "rbf", C: float = 1.0, gamma: float = 2 ** -11,
        num_gen_train: int = 12, num_forg_from_exp: int = 0, num_forg_from_dev: int = 14,
        num_gen_test: int = 10, global_threshold: float = 0.0, folds: int = 10,
        seed: int = SEED, method: str = "exact", jobs: int = 1, progress: bool = False,
        keep_classifiers: bool = False,
        on_fold: FoldCallback | None = None) -> ProtocolResult:
    """Run the writer-dependent protocol: one SVM per exploitation user, over folds.

    One ``np.random.RandomState(seed)`` draws every fold in turn, so a seed gives the
    same folds, scores and metrics as ``sigver wd --seed``.

    Parameters
    ----------
    features
        A ``FeatureSet`` (``sigver.features``), or an N x D feature array with ``y``
        (user of each row) and ``yforg`` (0 genuine, 1 skilled forgery).
    exp_users, dev_users
        ``(first, end)``: exploitation users ``first <= y < end`` (classified and
        tested) and development users (negatives); the ranges must not overlap.
    svm_type, C, gamma
        ``"rbf"`` or ``"linear"``, the SVM's C, and the RBF gamma.
    num_gen_train, num_gen_test
        Genuine signatures per user for training and for testing.
    num_forg_from_exp, num_forg_from_dev
        Random negatives per other exploitation user / per development user.
    global_threshold
        Decision threshold of FRR / FAR.
    folds, seed
        Number of folds and the seed of the run's single generator.
    method
        ``"exact"`` (the published computation: each user's own scaling; the same
        seed gives the published numbers), ``"fast"`` (one scale per fold, a shared
        kernel block: EERs within about 0.2 points, docs/reproducing.md) or
        ``"reference"`` (exact, straightforward, one user after the other).
    jobs
        joblib workers over users (1: in this process, 0: every core); the results do
        not depend on it.
    progress
        Show a progress bar per fold.
    keep_classifiers
        Keep each fold's ``{user: classifier}`` in ``FoldResult.classifiers``.
    on_fold
        Called as ``on_fold(index, fold_result)`` after each fold.

    Returns
    -------
    ProtocolResult
        Per fold the metrics, the scores and the exploitation users;
        ``.to_published()`` is the published ``--save-path`` structure.
    """
    check_parameters(svm_type=svm_type, num_gen_train=num_gen_train,
                     num_forg_from_exp=num_forg_from_exp,
                     num_forg_from_dev=num_forg_from_dev, method=method)
    check_run(folds=folds, seed=seed)
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs < 0:
        raise ParameterError("jobs", jobs, "must be >= 0 (0 = every core)")
    data = as_feature_tuple(features, y, yforg)
    params = {"svm_type": svm_type, "C": C, "gamma": gamma, "num_gen_train": num_gen_train,
              "num_forg_from_exp": num_forg_from_exp, "num_forg_from_dev": num_forg_from_dev,
              "num_gen_test": num_gen_test, "global_threshold": global_threshold}
    fold = partial(_fold, params=params, method=method, jobs=jobs, progress=progress)
    return run_folds("WD", fold, data, exp_users=exp_users, dev_users=dev_users,
                     folds=folds, seed=seed, params={**params, "method": method},
                     keep_classifiers=keep_classifiers, on_fold=on_fold)


def _fold(exp_set, dev_set, rng, *, params, method, jobs, progress):
    """One fold through the published positional signature."""
    p = params
    return train_test_all_users(
        exp_set, dev_set, p["svm_type"], p["C"], p["gamma"], p["num_gen_train"],
        p["num_forg_from_exp"], p["num_forg_from_dev"], p["num_gen_test"],
        p["global_threshold"], rng, method=method, jobs=jobs, progress=progress)

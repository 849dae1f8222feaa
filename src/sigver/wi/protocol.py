"""``sigver.wi.run``: the writer-independent protocol over folds
(docs/protocols-and-metrics.md) as a Python function; ``sigver wi`` / ``python -m
sigver.wi.test`` call it."""

from __future__ import annotations

from functools import partial

import numpy as np

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
from sigver.wi.training import check_parameters, train_test_all_users


def run(features: Features, y: np.ndarray | None = None, yforg: np.ndarray | None = None,
        *, exp_users: tuple[int, int] = EXP_USERS, dev_users: tuple[int, int] = DEV_USERS,
        svm_type: str = "rbf", C: float = 1.0, gamma: float = 2 ** -11,
        num_gen_train: int = 12, num_gen_ref: int = 12, num_gen_test: int = 10,
        fusion: str = "max", global_threshold: float = 0.0, folds: int = 10,
        seed: int = SEED, method: str = "fast", progress: bool = False,
        keep_classifiers: bool = False,
        on_fold: FoldCallback | None = None) -> ProtocolResult:
    """Run the writer-independent protocol: one dichotomy SVM trained on the development
    users, tested on the exploitation users, over folds.

    One ``np.random.RandomState(seed)`` draws every fold in turn, so a seed gives the
    same folds, scores and metrics as ``sigver wi --seed``.

    Parameters
    ----------
    features
        A ``FeatureSet`` (``sigver.features``), or an N x D feature array with ``y``
        (user of each row) and ``yforg`` (0 genuine, 1 skilled forgery).
    exp_users, dev_users
        ``(first, end)``: exploitation users ``first <= y < end`` (tested) and
        development users (the SVM's training pairs); the ranges must not overlap.
    svm_type, C, gamma
        ``"rbf"`` or ``"linear"``, the SVM's C, and the RBF gamma.
    num_gen_train
        Genuine signatures kept per development user to form pairs.
    num_gen_ref, num_gen_test
        Reference and test genuines per exploitation user.
    fusion
        Fusion of a questioned signature's scores over the references
        (``max``, ``min``, ``mean``, ``median``).
    global_threshold
        Decision threshold of FRR / FAR.
    folds, seed
        Number of folds and the seed of the run's single generator.
    method
        ``"fast"`` (batched scoring) or ``"reference"`` (one libsvm call per
        questioned signature); the same scores up to rounding.
    progress
        Show a progress bar over the folds.
    keep_classifiers
        Keep each fold's fitted ``DichotomyClassifier`` in ``FoldResult.classifiers``.
    on_fold
        Called as ``on_fold(index, fold_result)`` after each fold.

    Returns
    -------
    ProtocolResult
        Per fold the metrics, the scores and the exploitation users;
        ``.to_published()`` is the published ``--save-path`` structure.
    """
    check_parameters(svm_type=svm_type, fusion=fusion, method=method)
    check_run(folds=folds, seed=seed)
    data = as_feature_tuple(features, y, yforg)
    params = {"svm_type": svm_type, "C": C, "gamma": gamma, "num_gen_train": num_gen_train,
              "num_gen_ref": num_gen_ref, "num_gen_test": num_gen_test, "fusion": fusion,
              "global_threshold": global_threshold}
    fold = partial(_fold, params=params, method=method)
    return run_folds("WI", fold, data, exp_users=exp_users, dev_users=dev_users,
                     folds=folds, seed=seed, params={**params, "method": method},
                     keep_classifiers=keep_classifiers, progress=progress, on_fold=on_fold)


def _fold(exp_set, dev_set, rng, *, params, method):
    """One fold through the published positional signature."""
    p = params
    return train_test_all_users(
        exp_set, dev_set, p["svm_type"], p["C"], p["gamma"], p["num_gen_train"],
        p["num_gen_ref"], p["num_gen_test"], p["fusion"], p["global_threshold"], rng,
        method=method)

"""The fold loop shared by ``sigver.wd.run`` and ``sigver.wi.run``: select the
exploitation and development users, create the run's single generator and call the fold
function once per fold with it (docs/protocols-and-metrics.md)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from sigver.datasets.util import select_users
from sigver.errors import ParameterError
from sigver.features import FeatureSet
from sigver.protocols.result import FoldMetrics, FoldResult, Predictions, ProtocolResult
from sigver.protocols.splitting import FeatureTuple
from sigver.validation import check_number, check_svm

SEED = 1234
EXP_USERS = (0, 300)
DEV_USERS = (5000, 7000)

# ``fold(exp_set, dev_set, rng) -> (classifiers, {'all_metrics', 'predictions'})``
FoldFunction = Callable[[FeatureTuple, FeatureTuple, np.random.RandomState],
                        tuple[Any, dict]]
# Called after each fold with its 0-based index and result (e.g. to print progress).
FoldCallback = Callable[[int, FoldResult], None]
Features = FeatureSet | np.ndarray


def as_feature_tuple(features: Features, y: np.ndarray | None,
                     yforg: np.ndarray | None) -> FeatureTuple:
    """``(features, y, yforg)`` from a ``FeatureSet`` or from three arrays."""
    if isinstance(features, FeatureSet):
        if y is not None or yforg is not None:
            raise ParameterError("y", "given", "a FeatureSet carries its own y and yforg; "
                                 "pass them only with a plain feature array")
        return features.as_tuple()
    if y is None or yforg is None:
        raise ParameterError("y" if y is None else "yforg", None,
                             "needed with a plain feature array (or pass a FeatureSet)")
    x, y, yforg = np.asarray(features), np.asarray(y), np.asarray(yforg)
    if x.ndim != 2:
        raise ParameterError("features", f"shape {x.shape}", "must be N x D")
    for name, labels in (("y", y), ("yforg", yforg)):
        if labels.shape != (len(x),):
            raise ParameterError(name, f"shape {labels.shape}",
                                 f"needs one label per feature row ({len(x)},)")
    return x, y, yforg


def split_users(data: Sequence[np.ndarray], *, exp_users: tuple[int, int],
                dev_users: tuple[int, int], y_idx: int = 1
                ) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """The rows of the exploitation users (``first <= y < end`` of ``exp_users``) and of
    the development users; the two ranges must not overlap."""
    (e0, e1), (d0, d1) = exp_users, dev_users
    if e0 < d1 and d0 < e1:
        raise ParameterError("dev_users", (d0, d1),
                             f"overlaps the exploitation users {e0} {e1}; choose disjoint "
                             "ranges")
    return (select_users(data, e0, e1, param="exp_users", y_idx=y_idx),
            select_users(data, d0, d1, param="dev_users", y_idx=y_idx))


def check_run(*, folds: int, seed: int) -> None:
    """The run-level parameters shared by both protocols."""
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 1:
        raise ParameterError("folds", folds, "at least 1 fold is needed")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ParameterError("seed", seed, "must be an integer")


def run_folds(protocol: str, fold: FoldFunction, data: FeatureTuple, *,
              exp_users: tuple[int, int], dev_users: tuple[int, int], folds: int,
              seed: int, params: dict[str, Any], keep_classifiers: bool = False,
              progress: bool = False, on_fold: FoldCallback | None = None
              ) -> ProtocolResult:
    """Run ``folds`` folds of ``fold`` driven by one ``np.random.RandomState(seed)``.

    ``progress`` shows a bar over the folds; ``on_fold`` is called after each fold.
    """
    check_run(folds=folds, seed=seed)
    check_svm(C=params.get("C", 1.0), gamma=params.get("gamma", 1.0),
              svm_type=params.get("svm_type", "rbf"))
    check_number("global_threshold", params.get("global_threshold", 0.0))
    exp_set, dev_set = split_users(data, exp_users=tuple(exp_users),
                                   dev_users=tuple(dev_users))
    users = np.unique(exp_set[1])
    rng = np.random.RandomState(seed)
    results = []
    for index in tqdm(range(folds), desc=f"{protocol} folds", disable=not progress,
                      dynamic_ncols=True):
        start = time.perf_counter()
        classifiers, published = fold(exp_set, dev_set, rng)
        result = FoldResult(metrics=FoldMetrics.from_published(published["all_metrics"]),
                            predictions=Predictions.from_published(published["predictions"]),
                            users=users.copy(), seconds=time.perf_counter() - start,
                            classifiers=classifiers if keep_classifiers else None)
        results.append(result)
        if on_fold is not None:
            on_fold(index, result)
    run_params = {"exp_users": tuple(exp_users), "dev_users": tuple(dev_users),
                  **params, "folds": folds, "seed": seed}
    return ProtocolResult(protocol=protocol, folds=tuple(results), params=run_params)

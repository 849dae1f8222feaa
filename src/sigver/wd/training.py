"""Writer-dependent classifiers: one SVM per exploitation user (docs/protocols-and-metrics.md).

Three methods consume the same random draws (docs/reproducing.md):

* ``method="exact"`` (default): the published computation, each user's SVM on the
  user's own raw training rows scaled by their own standard deviation (scale-only
  ``StandardScaler``), so the same seed gives the published folds, scores and metrics.
  libsvm's solution is found through a working set with kernel values from BLAS
  (``sigver.wd.exact``; small training sets: libsvm on the whole kernel matrix): the
  same support vectors and decision values within libsvm's tolerance; users are spread
  over ``jobs`` joblib threads;
* ``method="reference"``: the straightforward version the exact method is tested
  against, a ``StandardScaler`` + ``SVC`` pipeline per user fitted on every training
  row, libsvm computing its own kernel, one user after the other;
* ``method="fast"``: every user of a fold shares the development negatives, so
  the features are scaled once with one scale for the fold (the root of the users' mean
  per-user variance, instead of each user's own training set's), kernel values are
  computed with BLAS in blocks shared by all users (in float32 for RBF, like libsvm's
  kernel cache), and each user's SVM is fitted by libsvm on a small working set checked
  against every negative (``sigver.wd.fast``). Users are fitted one after the other,
  the kernel blocks use every core.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from joblib import parallel_config
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from sigver.errors import ParameterError
from sigver.parallel import parallel_map
from sigver.performance.metrics import compute_metrics
from sigver.protocols.kernels import SVM_TYPES, make_svc
from sigver.protocols.splitting import (
    ExploitationSplit,
    FeatureTuple,
    check_disjoint,
    draw_dev_genuines,
    draw_tests,
    split_exploitation,
)
from sigver.protocols.testing import score_users
from sigver.wd import certify, exact
from sigver.wd.fast import FoldKernel, WDClassifier, fit_user

METHODS = ("exact", "fast", "reference")


@dataclass
class _FoldPlan:
    """Every draw of one WD fold, as row indices into the fold's training pool.

    The pool is the development negatives (first ``n_dev`` rows) followed by the
    exploitation training genuines of every user.
    """

    pool: np.ndarray
    n_dev: int
    positives: dict[int, np.ndarray]
    exp_negatives: dict[int, np.ndarray]
    # where the pool's rows come from (the exact method centres the pool in place)
    sources: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]

    def raw_rows(self, rows: np.ndarray) -> np.ndarray:
        """Pool rows as drawn, bit for bit, whatever was done to ``pool`` since."""
        dev_x, dev_idx, exp_x, train_rows = self.sources
        out = np.empty((len(rows), self.pool.shape[1]))
        dev = rows < self.n_dev
        out[dev] = dev_x[dev_idx[rows[dev]]]
        out[~dev] = exp_x[train_rows[rows[~dev] - self.n_dev]]
        return out


def _plan_fold(exp_set: FeatureTuple, dev_set: FeatureTuple, split: ExploitationSplit,
               num_forg_from_exp: int, num_forg_from_dev: int,
               rng: np.random.RandomState) -> _FoldPlan:
    """Draw the development negatives, then each user's exploitation negatives."""
    exp_x = exp_set[0]
    dev_rows = draw_dev_genuines(dev_set, num_forg_from_dev, rng, "num_forg_from_dev") \
        if num_forg_from_dev > 0 else {}
    dev_idx = (np.concatenate(list(dev_rows.values())) if dev_rows
               else np.empty(0, dtype=np.int64))
    users = [int(u) for u in split.users]
    train_rows = np.concatenate([split.train[u] for u in users])
    n_dev = len(dev_idx)
    pool = np.concatenate([dev_set[0][dev_idx], exp_x[train_rows]]).astype(np.float64)
    positives, offset = {}, n_dev
    for user in users:
        positives[user] = np.arange(offset, offset + len(split.train[user]))
        offset += len(split.train[user])
    exp_negatives = {}
    for user in users:
        # The published code visits the other users in the iteration order of a Python
        # set, which is not always ascending; the same set gives the same order.
        others = list(set(users) - {user})
        chosen = [rng.choice(positives[other], num_forg_from_exp, replace=False)
                  for other in others] if num_forg_from_exp > 0 else []
        exp_negatives[user] = (np.concatenate(chosen) if chosen
                               else np.empty(0, dtype=np.int64))
    return _FoldPlan(pool, n_dev, positives, exp_negatives,
                     (dev_set[0], dev_idx, exp_x, train_rows))


def train_wdclassifier_user(training_set: tuple[np.ndarray, np.ndarray], svm_type: str,
                            C: float, gamma: float) -> Pipeline:
    """The straightforward per-user classifier: scale-only standardisation + SVC, the
    genuine class weighted by negatives / positives."""
    x, labels = training_set
    skew = np.sum(labels == -1) / float(np.sum(labels == 1))
    model = make_pipeline(StandardScaler(with_mean=False),
                          make_svc(svm_type, C, gamma, class_weight={1: skew}))
    return model.fit(x, labels)


def _user_training_set(plan: _FoldPlan, user: int) -> tuple[np.ndarray, np.ndarray]:
    """A user's raw training rows (its genuines, then its negatives) and labels."""
    pos = plan.positives[user]
    neg = np.concatenate([plan.exp_negatives[user], np.arange(plan.n_dev)])
    x = plan.raw_rows(np.concatenate([pos, neg]))
    return x, np.concatenate([np.ones(len(pos)), -np.ones(len(neg))])


def _fit_reference(plan: _FoldPlan, users: list[int], svm_type: str, C: float,
                   gamma: float, jobs: int = 1) -> dict[int, Pipeline]:
    """Each user's own scaling and libsvm's own kernel on every training row: the
    straightforward classifiers, one user after the other unless ``jobs`` > 1 spreads
    them over joblib threads (libsvm releases the interpreter lock; each fit is the same
    computation in any thread)."""
    def fit(user: int) -> Pipeline:
        return train_wdclassifier_user(_user_training_set(plan, user), svm_type, C, gamma)

    if jobs == 1 or len(users) < 2:
        return {user: fit(user) for user in users}
    return dict(zip(users, _over_users(fit, users, jobs, False), strict=True))


def _over_users(fit, users: list[int], jobs: int, progress: bool) -> list:
    """``fit`` of every user over ``jobs`` joblib threads (libsvm and BLAS release the
    interpreter lock; the fold's arrays are shared, not copied), one BLAS thread each,
    so that a user's result does not depend on ``jobs``."""
    with parallel_config(prefer="threads"), threadpool_limits(limits=1, user_api="blas"):
        return parallel_map(fit, users, workers=jobs, desc="WD users", progress=progress)


def _fit_exact(plan: _FoldPlan, users: list[int], svm_type: str, C: float, gamma: float,
               jobs: int = 1, progress: bool = False) -> dict[int, exact.ExactWDClassifier]:
    """Each user's own scaling and libsvm's solution through a working set
    (``sigver.wd.exact``).

    Users are spread over ``jobs`` joblib threads (the fold's arrays shared, not
    copied). BLAS has one thread per worker whatever ``jobs`` is, so a user's
    computation, hence its classifier, does not depend on ``jobs``. Centres
    ``plan.pool`` in place for the RBF kernel.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        fold = exact.FoldRows(plan.pool, plan.n_dev, svm_type)

    def fit(user: int) -> exact.UserSVM:
        own = np.concatenate([plan.exp_negatives[user], plan.positives[user]])
        return exact.fit_user(fold, own, len(plan.positives[user]), C, gamma)

    fitted = _over_users(fit, users, jobs, progress)
    # the classifiers refer to this process's fold rows (a Dask worker sends back only
    # the solution), not to the squares that only fitting needs
    return {user: exact.ExactWDClassifier(fold.x, fold.centre, svm, svm_type, gamma)
            for user, svm in zip(users, fitted, strict=True)}


def _shared_scale(plan: _FoldPlan, users: list[int]) -> np.ndarray:
    """One scale for every user of the fold: the root of the users' mean feature variance.

    The straightforward path scales each user's training set by its own standard
    deviation; the shared kernel block needs a single scale. Averaging the per-user
    variances (computed exactly from running sums: the development negatives are common
    to all users) keeps the scale unbiased for the typical user, unlike the statistics of
    the negatives alone, which miss the spread the user's own genuines add.
    """
    dev = plan.pool[:plan.n_dev]
    dev_sum, dev_sq = dev.sum(axis=0), np.square(dev).sum(axis=0)
    variance = np.zeros(plan.pool.shape[1])
    for user in users:
        own = plan.pool[np.concatenate([plan.exp_negatives[user], plan.positives[user]])]
        n = plan.n_dev + len(own)
        mean = (dev_sum + own.sum(axis=0)) / n
        variance += np.maximum((dev_sq + np.square(own).sum(axis=0)) / n - mean ** 2, 0)
    scale = np.sqrt(variance / len(users))
    # constant features: no scaling, as StandardScaler does
    scale[scale < 10 * np.finfo(np.float64).eps] = 1.0
    return scale


def _fit_fast(plan: _FoldPlan, users: list[int], svm_type: str, C: float, gamma: float,
              progress: bool) -> dict[int, WDClassifier]:
    scale = _shared_scale(plan, users)
    scaled = plan.pool
    scaled /= scale  # in place: the fold's largest array, not used unscaled afterwards
    kernel = FoldKernel(scaled, plan.n_dev, svm_type, gamma)
    classifiers = {}
    # With every kernel value at hand, a user's products are small: one BLAS thread
    # (threads waiting on each other made them several times slower); a cache computes
    # blocks of rows per user, which use every core.
    with threadpool_limits(limits=1 if kernel.full is not None else None,
                           user_api="blas"):
        for user in tqdm(users, desc="WD users", disable=not progress, dynamic_ncols=True):
            own_rows = np.concatenate([plan.exp_negatives[user], plan.positives[user]])
            support, dual, intercept = fit_user(kernel, own_rows,
                                                len(plan.positives[user]), C)
            classifiers[user] = WDClassifier(scale, scaled, support, dual, intercept,
                                             svm_type, gamma)
    return classifiers


def check_parameters(*, svm_type: str, num_gen_train: int, num_forg_from_exp: int,
                     num_forg_from_dev: int, method: str) -> None:
    """Reject WD parameters no fold can run with (``ParameterError`` naming the parameter).

    The counts that depend on the data (enough genuines, users, forgeries) are checked
    while drawing.
    """
    if method not in METHODS:
        raise ParameterError("method", method, f"choose one of {', '.join(METHODS)}")
    if svm_type not in SVM_TYPES:
        raise ParameterError("svm_type", svm_type, f"choose one of {', '.join(SVM_TYPES)}")
    for param, value in (("num_forg_from_exp", num_forg_from_exp),
                         ("num_forg_from_dev", num_forg_from_dev)):
        if value < 0:
            raise ParameterError(param, value, "must be >= 0")
    if num_forg_from_exp == 0 and num_forg_from_dev == 0:
        raise ParameterError("num_forg_from_dev", num_forg_from_dev,
                             "no negatives: with none from the other exploitation users "
                             "either, the SVMs need negatives from at least one source")
    if num_forg_from_exp > num_gen_train:
        raise ParameterError("num_forg_from_exp", num_forg_from_exp,
                             f"exceeds the {num_gen_train} training genuines per user that "
                             "these negatives are drawn from")


def train_test_all_users(exp_set: FeatureTuple, dev_set: FeatureTuple, svm_type: str,
                         C: float, gamma: float, num_gen_train: int,
                         num_forg_from_exp: int, num_forg_from_dev: int, num_gen_test: int,
                         global_threshold: float = 0,
                         rng: np.random.RandomState | None = None, *,
                         method: str = "exact", jobs: int = 1,
                         progress: bool = False) -> tuple[dict, dict]:
    """Train and test the writer-dependent classifiers of one fold.

    Parameters
    ----------
    exp_set, dev_set
        ``(features, y, yforg)`` of the exploitation and development users.
    svm_type, C, gamma
        ``"rbf"`` or ``"linear"``, the SVM's C, and the RBF gamma.
    num_gen_train, num_gen_test
        Genuine signatures per user for training and for testing.
    num_forg_from_exp, num_forg_from_dev
        Random negatives per other exploitation user / per development user.
    global_threshold
        Decision threshold for FRR / FAR (``--thr``).
    rng
        The run's single generator; all draws of the fold come from it.
    method
        ``"exact"`` (the published computation: each user's own scaling, libsvm's
        solution through a working set, users in parallel), ``"fast"`` (one scale for
        the fold, shared kernel block: within the measured deviation of the published
        numbers) or ``"reference"`` (the straightforward per-user ``StandardScaler`` +
        ``SVC`` on every row, one user after the other; the exact method agrees with it
        to libsvm's tolerance).
    jobs
        joblib threads over users of the exact method (1: in this process, 0/None: all
        cores); the results do not depend on it. The fast method fits the users one
        after the other, its kernel blocks on every core.
    progress
        Show a progress bar.

    Returns
    -------
    classifiers, results
        ``{user: classifier}`` (each with ``decision_function``) and the fold's
        ``{'all_metrics': ..., 'predictions': ...}`` (docs/protocols-and-metrics.md).
    """
    check_parameters(svm_type=svm_type, num_gen_train=num_gen_train,
                     num_forg_from_exp=num_forg_from_exp,
                     num_forg_from_dev=num_forg_from_dev, method=method)
    rng = np.random.RandomState() if rng is None else rng
    check_disjoint(exp_set[1], dev_set[1])
    split = split_exploitation(exp_set, num_gen_train, num_gen_test, rng)
    plan = _plan_fold(exp_set, dev_set, split, num_forg_from_exp, num_forg_from_dev, rng)
    tests = draw_tests(split, num_gen_test, rng)
    users = [int(u) for u in split.users]
    if method == "reference":
        classifiers = _fit_reference(plan, users, svm_type, C, gamma)
    elif method == "exact":
        classifiers = _fit_exact(plan, users, svm_type, C, gamma, jobs, progress)
    else:
        classifiers = _fit_fast(plan, users, svm_type, C, gamma, progress)
    with threadpool_limits(limits=1, user_api="blas"):  # small per-user products
        predictions = score_users(
            tests, exp_set[0],
            lambda user, rows: classifiers[user].decision_function(rows))
    if method == "exact":
        metrics = _refit_uncertain(plan, tests, exp_set[0], classifiers, predictions,
                                   svm_type, C, gamma, global_threshold, jobs)
    else:
        metrics = compute_metrics(predictions["genuinePreds"], predictions["randomPreds"],
                                  predictions["skilledPreds"], global_threshold)
    return classifiers, {"all_metrics": metrics, "predictions": predictions}


def _refit_uncertain(plan: _FoldPlan, tests: list, features: np.ndarray,
                     classifiers: dict, predictions: dict, svm_type: str, C: float,
                     gamma: float, global_threshold: float, jobs: int) -> dict:
    """Refit with the straightforward pipeline the users whose rates the working set
    could have changed (``sigver.wd.certify``), in place, until none is left; the
    fold's metrics."""
    users = [test.user for test in tests]
    refitted: set[int] = set()
    while True:
        metrics = compute_metrics(predictions["genuinePreds"], predictions["randomPreds"],
                                  predictions["skilledPreds"], global_threshold)
        flagged = [user for user in certify.uncertain_users(
            predictions, users, decision_threshold=global_threshold,
            eer_threshold=metrics["global_threshold"], margin=certify.MARGIN[svm_type])
            if user not in refitted]
        if not flagged:  # the refitted users' classifiers are the reference's Pipelines
            return metrics
        again = [test for test in tests if test.user in set(flagged)]
        classifiers.update(_fit_reference(plan, flagged, svm_type, C, gamma, jobs))
        with threadpool_limits(limits=1, user_api="blas"):
            rescored = score_users(
                again, features,
                lambda user, rows: classifiers[user].decision_function(rows))
        for j, test in enumerate(again):
            i = users.index(test.user)
            for key in predictions:
                predictions[key][i] = rescored[key][j]
        refitted.update(flagged)

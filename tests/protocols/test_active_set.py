"""The working-set SVM against libsvm on the whole training set."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.svm import SVC

from sigver.protocols.active_set import fit_active_set
from sigver.protocols.kernels import kernel_matrix
from sigver.synthetic.features import make_features
from sigver.wi import classifier as wi_classifier
from sigver.wi.classifier import DichotomyClassifier
from sigver.wi.pairs import DichotomyPairs
from sigver.wi.training import make_dichotomy_pairs, make_dichotomy_training_set

# libsvm stops within 1e-3 of the optimum (its default tol, on the gradient); two
# solutions each within it of the optimum differ by a few 1e-3 in decision value
TOL = 1e-3
SPREAD = 5e-3


def assert_same_support(support, coef, ref_support, ref_coef):
    """The same support vectors, except rows whose coefficient is within libsvm's
    tolerance of 0 in the solution that has them (a row on the margin, which either
    solution may stop just short of)."""
    ours = dict(zip(support, coef, strict=True))
    theirs = dict(zip(ref_support, ref_coef, strict=True))
    differing = set(ours) ^ set(theirs)
    assert len(differing) <= max(1, len(theirs) // 100), differing
    for row in differing:
        assert abs(ours.get(row, theirs.get(row))) <= 2 * TOL, row


def _blobs(n, dim, seed):
    rng = np.random.default_rng(seed)
    x = np.r_[rng.normal(0, 1, (n, dim)), rng.normal(0.8, 1.2, (n, dim))]
    return x, np.r_[np.ones(n), -np.ones(n)]


def test_weighted_svm_equals_libsvm_on_the_whole_set():
    x, labels = _blobs(300, 5, seed=0)
    gamma, weights = 0.2, {1: 3.0}
    svc = SVC(kernel="rbf", C=1.0, gamma=gamma, class_weight=weights).fit(x, labels)
    # a 40-row first working set, 30 rows added per fit: several fits are needed
    solution = fit_active_set(lambda a, b: kernel_matrix(x[a], x[b], "rbf", gamma),
                              labels, C=1.0, class_weight=weights,
                              initial=np.arange(0, 600, 15), max_add=30)
    assert solution.rounds > 3
    assert solution.working_size < len(labels)
    assert_same_support(solution.support, solution.dual_coef, svc.support_,
                        svc.dual_coef_[0])
    ours = kernel_matrix(x, x[solution.support], "rbf", gamma) @ solution.dual_coef
    np.testing.assert_allclose(ours + solution.intercept, svc.decision_function(x),
                               atol=SPREAD)


def test_rows_outside_the_working_set_satisfy_the_optimality_condition():
    x, labels = _blobs(200, 4, seed=1)
    solution = fit_active_set(lambda a, b: kernel_matrix(x[a], x[b], "rbf", 0.3),
                              labels, C=2.0, initial=np.arange(0, 400, 20), max_add=25)
    f = kernel_matrix(x, x[solution.support], "rbf", 0.3) @ solution.dual_coef
    margins = labels * (f + solution.intercept)
    outside = np.setdiff1d(np.arange(len(labels)), solution.support)
    assert margins[outside].min() >= 1 - TOL
    assert np.all(np.abs(solution.dual_coef) <= 2.0 + 1e-9)


def test_without_shrinking_each_fit_is_checked_once_on_every_outside_row():
    x, labels = _blobs(200, 4, seed=2)
    checked = {True: [], False: []}

    def run(shrink):
        def decision(rows, support, coef):
            checked[shrink].append(len(rows))
            return kernel_matrix(x[rows], x[support], "rbf", 0.3) @ coef

        return fit_active_set(lambda a, b: kernel_matrix(x[a], x[b], "rbf", 0.3), labels,
                              C=1.0, initial=np.arange(0, 400, 20), max_add=25,
                              decision=decision, shrink=shrink)

    full, shrunk = run(False), run(True)
    assert full.rounds > 2
    assert len(checked[False]) == full.rounds  # no re-checks of candidates
    assert checked[False][-1] == len(labels) - full.working_size
    assert len(checked[True]) > shrunk.rounds  # candidates re-checked before every row
    assert_same_support(full.support, full.dual_coef, shrunk.support, shrunk.dual_coef)


def _dev_set(n_users=40, dim=64, seed=3):
    return make_features(n_users, 14, 4, dim=dim, seed=seed).as_tuple()


def test_pairs_are_the_training_set_in_the_same_draw_order():
    dev = _dev_set()
    diffs, labels = make_dichotomy_training_set(dev, 10, np.random.RandomState(4))
    left, right, pair_labels = make_dichotomy_pairs(dev, 10, np.random.RandomState(4))
    assert np.array_equal(labels, pair_labels)
    pairs = DichotomyPairs(dev[0], left, right)
    scale = diffs.std(axis=0)
    np.testing.assert_allclose(pairs.scale, np.where(scale > 0, scale, 1.0), rtol=1e-12)
    np.testing.assert_allclose(pairs.rows(np.arange(5, 50)), diffs[5:50] / pairs.scale,
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("svm_type", ["rbf", "linear"])
def test_fit_pairs_gives_libsvm_solution(monkeypatch, svm_type):
    monkeypatch.setattr(wi_classifier, "INITIAL_WORKING_SET", 150)
    monkeypatch.setattr(wi_classifier, "ADDED_PER_FIT", 100)
    dev = _dev_set()
    left, right, labels = make_dichotomy_pairs(dev, 10, np.random.RandomState(4))
    gamma = 1 / 64
    diffs = make_dichotomy_training_set(dev, 10, np.random.RandomState(4))[0]
    reference = DichotomyClassifier(svm_type, C=1.0, gamma=gamma).fit(diffs, labels)
    fast = DichotomyClassifier(svm_type, C=1.0, gamma=gamma).fit_pairs(
        dev[0], left, right, labels)
    assert fast.n_fits_ > 2  # the working set grew over several fits
    # As close to the optimum (libsvm with a 1e-7 tolerance) as libsvm with its default
    # tolerance: on the training vectors the solutions differ by a few 1e-3 (RBF), by a
    # few 1e-2 for the flatter linear problem, for libsvm's own solution too.
    scaled = diffs / reference.scaler_.scale_
    optimum = SVC(kernel=svm_type, C=1.0, gamma=gamma, tol=1e-7).fit(scaled, labels)
    best = optimum.decision_function(scaled)
    ours = np.abs(fast.decision_function(diffs) - best).max()
    libsvm = np.abs(reference.svm_.decision_function(scaled) - best).max()
    assert ours <= max(2 * libsvm, SPREAD), (ours, libsvm)
    if svm_type == "rbf":  # a unique dual optimum: the same support vectors
        assert_same_support(fast.support_, fast.dual_coef_, reference.svm_.support_,
                            reference.svm_.dual_coef_[0])
    with pytest.raises(ValueError, match="fitted by fit"):
        fast.reference_decision_function(diffs)


@pytest.mark.parametrize("block", [7, 64, 100_000])
def test_pair_scale_is_standard_scalers_over_uneven_blocks(monkeypatch, block):
    from sklearn.preprocessing import StandardScaler

    from sigver.wi import pairs as wi_pairs

    monkeypatch.setattr(wi_pairs, "SCALE_BLOCK", block)
    rng = np.random.default_rng(5)
    features = 1e3 + rng.normal(size=(60, 5))  # large values, small spread
    features[:, 2] = 7.0  # a constant feature: every dissimilarity 0, scale 1
    left, right = rng.integers(0, 60, 500), rng.integers(0, 60, 500)
    pairs = DichotomyPairs(features, left, right)
    expected = StandardScaler(with_mean=False).fit(np.abs(features[left] - features[right]))
    np.testing.assert_allclose(pairs.scale, expected.scale_, rtol=1e-12)
    assert pairs.scale[2] == 1.0

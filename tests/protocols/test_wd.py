"""Writer-dependent protocol: the fast path against the straightforward reference."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.svm import SVC

from sigver.errors import ParameterError, SigverError
from sigver.protocols.kernels import kernel_matrix
from sigver.synthetic.features import make_features
from sigver.wd import fast
from sigver.wd.training import train_test_all_users


def _sets(n_exp, n_dev, dim, seed=7, n_genuine=22, n_skilled=10, **kwargs):
    x, y, yforg = make_features(n_exp + n_dev, n_genuine, n_skilled, dim=dim, seed=seed,
                                **kwargs).as_tuple()
    exp, dev = y < n_exp, y >= n_exp
    return (x[exp], y[exp], yforg[exp]), (x[dev], y[dev], yforg[dev])


@pytest.mark.parametrize("svm_type", ["rbf", "linear"])
@pytest.mark.parametrize("memory", [1 << 20, 0])
def test_fold_kernel_values_equal_the_kernel_of_the_rows(monkeypatch, svm_type, memory):
    # memory 0: no full block, a cache of one 4-row chunk, evicted at each new row set;
    # 8-row blocks: the full block's negatives span several blocks, one straddling 30
    monkeypatch.setattr(fast, "CACHE_CHUNK", 4)
    monkeypatch.setattr(fast, "BLOCK_ROWS", 8)
    scaled = 3 + np.random.default_rng(0).normal(size=(40, 6))
    kernel = fast.FoldKernel(scaled, 30, svm_type, 0.2, memory=memory)
    assert (kernel.full is None) == (memory == 0)
    a, b = np.array([35, 2, 31, 7, 29, 12, 0]), np.array([5, 38, 2, 30, 17, 9])
    expected = kernel_matrix(scaled[a], scaled[b], svm_type, 0.2)
    for _ in range(2):
        np.testing.assert_allclose(kernel(a, b), expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(kernel(b, a), expected.T, rtol=1e-5, atol=1e-6)
    negatives = np.array([3, 29, 0, 11])
    for support in (b, a):  # 4 negatives, then 5 (one of them cached)
        coef = np.arange(len(support)) - 2.5
        np.testing.assert_allclose(
            kernel.decision(negatives, support, coef),
            kernel_matrix(scaled[negatives], scaled[support], svm_type, 0.2) @ coef,
            rtol=1e-5, atol=1e-5)
    if memory == 0:
        # only the support vectors' rows, the second set's 4 new rows evicting the first
        assert kernel.max_chunks == 1 and kernel.computed_rows == 8
    else:
        np.testing.assert_allclose(kernel.full, kernel_matrix(scaled, scaled[:30], svm_type,
                                                              0.2), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("svm_type", ["rbf", "linear"])
def test_fast_user_svm_equals_svc_on_the_same_scaled_rows(monkeypatch, svm_type):
    # 5 nearest negatives first, 10 added per fit: the working set grows over fits
    monkeypatch.setattr(fast, "NEAREST_NEGATIVES", 5)
    monkeypatch.setattr(fast, "ADDED_PER_FIT", 10)
    rng = np.random.default_rng(0)
    n_dev, gamma = 300, 0.2
    scaled = np.r_[rng.normal(size=(n_dev + 2, 6)), rng.normal(0.7, 0.6, size=(6, 6))]
    own = np.arange(n_dev, n_dev + 8)  # 2 exploitation negatives, then 6 positives
    support, dual, intercept = fast.fit_user(fast.FoldKernel(scaled, n_dev, svm_type, gamma),
                                             own, 6, C=1.0)
    labels = np.r_[-np.ones(n_dev + 2), np.ones(6)]
    kwargs = {"gamma": gamma} if svm_type == "rbf" else {}
    svc = SVC(kernel=svm_type, C=1.0, class_weight={1: (n_dev + 2) / 6}, **kwargs).fit(
        scaled, labels)
    queries = rng.normal(size=(9, 6))
    ours = kernel_matrix(queries, scaled[support], svm_type, gamma) @ dual + intercept
    # two solutions within libsvm's tolerance of the optimum (the genuines' weight of 50
    # scales the differences)
    np.testing.assert_allclose(ours, svc.decision_function(queries), atol=2e-2)
    assert len(support) < 60 and abs(len(support) - len(svc.support_)) <= 1
    assert len(np.intersect1d(support, svc.support_)) >= len(svc.support_) - 1


def test_fast_eer_within_0_2_points_of_the_reference_on_the_same_draws():
    # 25 test genuines and skilled forgeries per user and 4 folds: with fewer, single
    # flips of near-threshold scores move a small set's EER by more than the scaling
    # change does
    exp, dev = _sets(60, 120, dim=32, n_genuine=37, n_skilled=25)
    eers = {}
    for method in ("reference", "fast"):
        rng = np.random.RandomState(0)
        folds = [train_test_all_users(exp, dev, "rbf", 1, 1 / 32, 12, 0, 10, 25, 0, rng,
                                      method=method)[1]["all_metrics"] for _ in range(4)]
        eers[method] = {key: 100 * np.mean([f[key] for f in folds])
                        for key in ("EER", "EER_userthresholds")}
    for key in ("EER", "EER_userthresholds"):
        assert abs(eers["fast"][key] - eers["reference"][key]) <= 0.2, (key, eers)


def test_same_draws_and_results_whatever_the_worker_count():
    exp, dev = _sets(12, 20, dim=16, seed=3)
    args = (exp, dev, "rbf", 1, 1 / 16, 12, 1, 5, 10, 0)
    classifiers, one = train_test_all_users(*args, np.random.RandomState(5), jobs=1)
    _, two = train_test_all_users(*args, np.random.RandomState(5), jobs=2)
    for key, preds in one["predictions"].items():
        for a, b in zip(preds, two["predictions"][key], strict=True):
            np.testing.assert_allclose(a, b, atol=1e-10)
    user = sorted(classifiers)[0]
    scores = classifiers[user].decision_function(exp[0][exp[1] == user])
    assert scores.shape == (32,) and np.mean(scores[:22] > scores[22:].mean()) > 0.5


def test_reference_classifiers_are_pipelines_with_class_weight():
    exp, dev = _sets(12, 20, dim=8, seed=1)
    classifiers, results = train_test_all_users(exp, dev, "linear", 1, 0, 12, 0, 5, 10, 0,
                                                np.random.RandomState(0), method="reference")
    svc = classifiers[0][-1]
    assert svc.kernel == "linear" and svc.class_weight == {1: 20 * 5 / 12}
    assert len(results["predictions"]["genuinePreds"]) == 12


def test_bad_input_names_the_python_parameter():
    exp, dev = _sets(12, 20, dim=8)
    with pytest.raises(ParameterError, match="^num_forg_from_dev=0: no negatives"):
        train_test_all_users(exp, dev, "rbf", 1, 0.1, 12, 0, 0, 10)
    with pytest.raises(ParameterError, match="^num_forg_from_exp=13: exceeds the 12 training"):
        train_test_all_users(exp, dev, "rbf", 1, 0.1, 12, 13, 5, 10)
    with pytest.raises(ParameterError, match="^svm_type='poly': choose one of rbf, linear"):
        train_test_all_users(exp, dev, "poly", 1, 0.1, 12, 0, 5, 10)
    with pytest.raises(SigverError, match="exp_set and dev_set share 12 user"):
        train_test_all_users(exp, exp, "rbf", 1, 0.1, 12, 0, 5, 10)
    with pytest.raises(ParameterError,
                       match=r"^num_gen_train=12: with 11 test genuines, 23 .* user 0 has only 22"):
        train_test_all_users(exp, dev, "rbf", 1, 0.1, 12, 0, 5, 11)
    with pytest.raises(ParameterError, match="^num_forg_from_dev=23: .* user 12 has only 22"):
        train_test_all_users(exp, dev, "rbf", 1, 0.1, 12, 0, 23, 10)


@pytest.mark.parametrize("k", [0, 1, 7, 30, 40])
def test_largest_is_the_head_of_a_stable_descending_sort(k):
    # few distinct values: many ties, some straddling the k-th place
    values = np.random.default_rng(k).integers(0, 6, 30).astype(np.float32)
    expected = np.sort(np.argsort(-values, kind="stable")[:k])
    assert np.array_equal(fast.largest(values, k), expected)

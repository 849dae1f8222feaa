"""Writer-independent protocol: dichotomy training set, batched scoring vs libsvm."""

from __future__ import annotations

import numpy as np
import pytest

from sigver.errors import ParameterError
from sigver.synthetic.features import make_features
from sigver.wi.classifier import DichotomyClassifier, dichotomy, fuse
from sigver.wi.training import make_dichotomy_training_set, train_test_all_users


def _sets(n_exp=12, n_dev=16, dim=24, seed=2):
    x, y, yforg = make_features(n_exp + n_dev, 20, 10, dim=dim, seed=seed).as_tuple()
    exp, dev = y < n_exp, y >= n_exp
    return (x[exp], y[exp], yforg[exp]), (x[dev], y[dev], yforg[dev])


def test_dichotomy_training_set_counts_and_labels():
    _, dev = _sets()
    n = 7
    diffs, labels = make_dichotomy_training_set(dev, n, np.random.RandomState(0))
    per_user_pos, per_user_neg = n * (n - 1) // 2, (n - 1) * (n // 2)
    assert np.sum(labels == 1) == 16 * per_user_pos
    assert np.sum(labels == -1) == 16 * per_user_neg
    assert diffs.shape == (len(labels), 24) and np.all(diffs >= 0)
    # positives are same-writer pairs: smaller dissimilarities than negatives on average
    assert diffs[labels == 1].mean() < diffs[labels == -1].mean()


@pytest.mark.parametrize("fusion", ["max", "min", "mean", "median"])
def test_fast_scores_equal_reference_scores_on_the_same_draws(fusion):
    exp, dev = _sets()
    args = (exp, dev, "rbf", 1, 1 / 24, 8, 8, 6, fusion, 0)
    clf, fast = train_test_all_users(*args, np.random.RandomState(3), method="fast")
    _, ref = train_test_all_users(*args, np.random.RandomState(3), method="reference")
    for key in ("genuinePreds", "randomPreds", "skilledPreds"):
        for a, b in zip(fast["predictions"][key], ref["predictions"][key], strict=True):
            assert len(a) == 6
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert fast["all_metrics"]["EER"] == ref["all_metrics"]["EER"]
    assert clf.fusion == fusion


def test_classifier_batches_and_fusion():
    rng = np.random.default_rng(0)
    same = np.abs(rng.normal(0, 0.3, (60, 5)))
    other = np.abs(rng.normal(0, 1.5, (60, 5)))
    clf = DichotomyClassifier("linear", C=1.0, batch_rows=7).fit(
        np.r_[same, other], np.r_[np.ones(60), -np.ones(60)])
    queries = np.abs(rng.normal(0, 1, (23, 5)))
    np.testing.assert_allclose(clf.decision_function(queries),
                               clf.reference_decision_function(queries), atol=1e-9)
    questioned, references = rng.normal(size=(4, 5)), rng.normal(size=(3, 5))
    pairs = clf.pair_scores(questioned, references)
    assert pairs.shape == (4, 3)
    np.testing.assert_allclose(pairs[1, 2], clf.decision_function(
        dichotomy(questioned[1], references[2])[None])[0])
    np.testing.assert_allclose(clf.fused_scores(questioned, references), pairs.max(axis=1))
    np.testing.assert_allclose(fuse(pairs, "median"), np.median(pairs, axis=1))
    assert set(clf.predict(queries)) <= {-1, 1}
    claims = [(rng.normal(size=(n, 5)), rng.normal(size=(3, 5))) for n in (2, 1, 4, 3)]
    many = clf.fused_scores_many(claims)  # 7-row blocks: claims share and span blocks
    for (q, r), got in zip(claims, many, strict=True):
        np.testing.assert_allclose(got, clf.fused_scores(q, r), atol=1e-12)


def test_bad_input_names_the_python_parameter():
    exp, dev = _sets()
    with pytest.raises(ParameterError,
                       match=r"^num_gen_ref=15: with 6 test genuines, 21 .* only 20"):
        train_test_all_users(exp, dev, "rbf", 1, 0.1, 8, 15, 6, "max")
    with pytest.raises(ParameterError, match="^num_gen_ref=0: must be at least 1"):
        train_test_all_users(exp, dev, "rbf", 1, 0.1, 8, 0, 6, "max")
    with pytest.raises(ParameterError, match="^num_gen_train=21: .* only 20"):
        train_test_all_users(exp, dev, "rbf", 1, 0.1, 21, 8, 6, "max")
    with pytest.raises(ParameterError, match="^fusion='sum': choose one of max, min"):
        train_test_all_users(exp, dev, "rbf", 1, 0.1, 8, 8, 6, "sum")

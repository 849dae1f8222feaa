"""The users whose rates the exact method's working set could have changed."""

import numpy as np
import pytest

from sigver.wd import certify, exact
from sigver.wd import training as wd


def _predictions(genuine, random, skilled):
    return {"genuinePreds": [np.array(g, dtype=float) for g in genuine],
            "randomPreds": [np.array(r, dtype=float) for r in random],
            "skilledPreds": [np.array(s, dtype=float) for s in skilled]}


def _flagged(predictions, decision=0.0, eer=-0.5, margin=0.01):
    return certify.uncertain_users(predictions, [10, 11], decision_threshold=decision,
                                   eer_threshold=eer, margin=margin)


def test_far_from_everything_is_not_flagged():
    assert _flagged(_predictions([[1.0, 2.0], [1.5]], [[-2.0], [-3.0]],
                                 [[-1.0], [-1.2]])) == []


@pytest.mark.parametrize("case, expected", [
    # a random forgery's score near the decision threshold: FAR random
    (([[1.0], [1.5]], [[-2.0], [0.005]], [[-1.0], [-1.2]]), [11]),
    # a skilled score near the EER threshold (-0.5): the global EER
    (([[1.0], [1.5]], [[-2.0], [-3.0]], [[-0.495], [-1.2]]), [10]),
    # a random score near the EER threshold: the EER uses no random forgery
    (([[1.0], [1.5]], [[-0.5], [-3.0]], [[-1.0], [-1.2]]), []),
    # a genuine score near one of the same user's skilled scores: AUC, user EER
    (([[1.0, -1.195], [1.5]], [[-2.0], [-3.0]], [[-1.0], [-1.2]]), []),
    (([[1.0], [1.5, -1.195]], [[-2.0], [-3.0]], [[-1.0], [-1.2]]), [11]),
])
def test_each_comparison_flags_its_user(case, expected):
    assert _flagged(_predictions(*case)) == expected


def test_no_skilled_forgeries_only_thresholds_count():
    assert _flagged(_predictions([[0.3], [1.0]], [[-1.0], [-1.0]], [[], []])) == []


def _sets(n_exp=8, n_dev=30, dim=24, seed=5):
    rng = np.random.RandomState(seed)
    centres = rng.randn(n_exp + n_dev, dim)
    x, y, yforg = [], [], []
    for user, centre in enumerate(centres):
        for forgery in (0, 1):
            x.append(centre + (0.6 + 0.4 * forgery) * rng.randn(14, dim))
            y += [user] * 14
            yforg += [forgery] * 14
    x, y, yforg = np.vstack(x), np.array(y), np.array(yforg)
    exp = y < n_exp
    return (x[exp], y[exp], yforg[exp]), (x[~exp], y[~exp], yforg[~exp])


def _fold(method):
    exp, dev = _sets()
    return wd.train_test_all_users(exp, dev, "rbf", 1, 1 / 24, 8, 2, 8, 6, 0,
                                   np.random.RandomState(1), method=method)


def test_every_user_flagged_gives_the_reference_bit_for_bit(monkeypatch):
    monkeypatch.setattr(exact, "FULL_KERNEL_ROWS", 0)  # the working set on small sets
    monkeypatch.setitem(certify.MARGIN, "rbf", np.inf)
    classifiers, ours = _fold("exact")
    _, theirs = _fold("reference")
    assert not any(isinstance(c, exact.ExactWDClassifier) for c in classifiers.values())
    for key, preds in theirs["predictions"].items():
        for a, b in zip(preds, ours["predictions"][key], strict=True):
            assert np.array_equal(a, b), key
    assert ours["all_metrics"]["EER"] == theirs["all_metrics"]["EER"]


def test_no_margin_refits_nobody(monkeypatch):
    monkeypatch.setattr(exact, "FULL_KERNEL_ROWS", 0)
    monkeypatch.setitem(certify.MARGIN, "rbf", 0.0)
    classifiers, _ = _fold("exact")
    assert all(isinstance(c, exact.ExactWDClassifier) for c in classifiers.values())

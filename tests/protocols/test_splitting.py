"""Fold draws shared by the WD and WI protocols."""

from __future__ import annotations

import numpy as np
import pytest

from sigver.errors import ParameterError, SigverError
from sigver.protocols.splitting import (
    check_disjoint,
    draw_dev_genuines,
    draw_tests,
    split_exploitation,
)
from sigver.synthetic.features import make_features


def _set(n_users=8, n_genuine=8, n_skilled=5, first_user=0):
    fs = make_features(n_users, n_genuine, n_skilled, dim=4, first_user=first_user, seed=0)
    return fs.as_tuple()


def test_split_takes_first_and_last_of_a_shuffle_without_overlap():
    exp = _set()
    split = split_exploitation(exp, 3, 4, np.random.RandomState(0))
    _, y, yforg = exp
    for user in split.users:
        train, test = split.train[int(user)], split.test[int(user)]
        assert len(train) == 3 and len(test) == 4
        assert not set(train) & set(test)
        assert np.all((y[train] == user) & (yforg[train] == 0))
        assert np.all((y[test] == user) & (yforg[test] == 0))
        assert sorted(split.skilled[int(user)]) == list(np.flatnonzero((y == user) & (yforg == 1)))
    again = split_exploitation(exp, 3, 4, np.random.RandomState(0))
    assert all(np.array_equal(again.train[u], split.train[u]) for u in split.train)


def test_too_few_genuines_names_the_parameters_user_and_numbers():
    with pytest.raises(ParameterError,
                       match=r"^num_gen_ref=5: with 4 test genuines, 9 .* user 0 has only 8"):
        split_exploitation(_set(), 5, 4, np.random.RandomState(0), train_param="num_gen_ref")
    with pytest.raises(ParameterError, match="^num_gen_ref=0: must be at least 1"):
        split_exploitation(_set(), 0, 4, np.random.RandomState(0), train_param="num_gen_ref")


def test_tests_draw_skilled_and_one_genuine_of_distinct_other_users():
    exp = _set()
    split = split_exploitation(exp, 3, 4, np.random.RandomState(0))
    tests = draw_tests(split, 4, np.random.RandomState(1))
    _, y, yforg = exp
    for test in tests:
        # the published draw permutes the test genuines (docs/reproducing.md)
        assert sorted(test.genuine) == sorted(split.test[test.user])
        assert len(test.skilled) == 4 and len(set(test.skilled)) == 4
        assert set(test.skilled) <= set(split.skilled[test.user])
        owners = y[test.random]
        assert len(set(owners)) == 4 and test.user not in owners
        assert all(r in split.test[int(o)] for r, o in zip(test.random, owners, strict=True))


def test_users_without_skilled_forgeries_get_none_but_too_few_is_an_error():
    x, y, yforg = _set()
    keep = ~((y == 2) & (yforg == 1))
    split = split_exploitation((x[keep], y[keep], yforg[keep]), 3, 4, np.random.RandomState(0))
    tests = draw_tests(split, 4, np.random.RandomState(0))
    assert len(tests[2].skilled) == 0 and len(tests[1].skilled) == 4
    with pytest.raises(ParameterError,
                       match=r"^num_gen_test=6: 6 skilled forgeries .* user 0 has only 5"):
        draw_tests(split_exploitation(_set(), 1, 6, np.random.RandomState(0)), 6,
                   np.random.RandomState(0))


def test_random_forgeries_need_enough_other_users():
    split = split_exploitation(_set(n_users=4), 3, 4, np.random.RandomState(0))
    with pytest.raises(ParameterError, match="^num_gen_test=4: .* only 4 exploitation user"):
        draw_tests(split, 4, np.random.RandomState(0))


def test_overlap_and_short_development_users_are_errors():
    with pytest.raises(SigverError, match=r"share 1 user\(s\) \(e.g. user 3\)"):
        check_disjoint(np.array([1, 2, 3]), np.array([3, 4]))
    with pytest.raises(ParameterError, match=r"^num_forg_from_dev=9: .* user 0 has only 8"):
        draw_dev_genuines(_set(), 9, np.random.RandomState(0), "num_forg_from_dev")
    chosen = draw_dev_genuines(_set(), 5, np.random.RandomState(0), "num_forg_from_dev")
    assert all(len(set(rows)) == 5 for rows in chosen.values())

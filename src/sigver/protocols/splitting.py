"""Per-fold random draws shared by the WD and WI protocols (docs/protocols-and-metrics.md).

Every draw of a fold is made here, up front and in a fixed order, from the single
generator of the run; the straightforward and the fast classifiers then consume the same
draws, so their scores can be compared one to one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sigver.errors import ParameterError, SigverError

FeatureTuple = tuple[np.ndarray, np.ndarray, np.ndarray]


def check_disjoint(exp_y: np.ndarray, dev_y: np.ndarray) -> None:
    """Exploitation and development sets must not share a user."""
    shared = np.intersect1d(np.unique(exp_y), np.unique(dev_y))
    if len(shared):
        raise SigverError(f"exp_set and dev_set share {len(shared)} user(s) (e.g. user "
                          f"{shared[0]}): exploitation and development users must differ")


def genuine_indices(y: np.ndarray, yforg: np.ndarray, user: int) -> np.ndarray:
    """Row indices of a user's genuine signatures."""
    return np.flatnonzero((y == user) & (yforg == 0))


@dataclass
class ExploitationSplit:
    """A fold's split of the exploitation users.

    ``train[u]`` / ``test[u]`` / ``skilled[u]`` are row indices into the exploitation
    arrays: the training (WD) or reference (WI) genuines, the test genuines and all
    skilled forgeries of user ``u``.
    """

    users: np.ndarray
    train: dict[int, np.ndarray]
    test: dict[int, np.ndarray]
    skilled: dict[int, np.ndarray]


def split_exploitation(exp_set: FeatureTuple, num_train: int, num_test: int,
                       rng: np.random.RandomState,
                       train_param: str = "num_gen_train") -> ExploitationSplit:
    """Shuffle each user's genuines: the first ``num_train`` train, the last ``num_test``
    test (step 1 of docs/protocols-and-metrics.md).

    ``train_param`` names ``num_train`` in error messages (``num_gen_ref`` for WI).
    """
    _, y, yforg = exp_set
    users = np.unique(y)
    if len(users) == 0:
        raise SigverError("exp_set has no user: the exploitation set is empty")
    for param, value in ((train_param, num_train), ("num_gen_test", num_test)):
        if value < 1:
            raise ParameterError(param, value, "must be at least 1")
    split = ExploitationSplit(users=users, train={}, test={}, skilled={})
    for user in users:
        genuine = genuine_indices(y, yforg, user)
        if len(genuine) < num_train + num_test:
            raise ParameterError(
                train_param, num_train,
                f"with {num_test} test genuines, {num_train + num_test} genuine signatures "
                f"are needed per user, but user {user} has only {len(genuine)}")
        rng.shuffle(genuine)
        split.train[int(user)] = genuine[:num_train]
        split.test[int(user)] = genuine[-num_test:]
        split.skilled[int(user)] = np.flatnonzero((y == user) & (yforg == 1))
    return split


@dataclass
class UserTest:
    """Row indices (into the exploitation arrays) of one user's test signatures."""

    user: int
    genuine: np.ndarray
    random: np.ndarray
    skilled: np.ndarray


def draw_tests(split: ExploitationSplit, num_test: int,
               rng: np.random.RandomState) -> list[UserTest]:
    """The WD test step (docs/protocols-and-metrics.md): each user's test genuines,
    ``num_test`` of its skilled forgeries (without replacement) and ``num_test`` random
    forgeries, one test genuine of each of ``num_test`` distinct other users.

    A user without any skilled forgery gets an empty skilled set (the metrics leave it
    out of the skilled figures); one with some, but fewer than ``num_test``, is an error.
    """
    users = split.users
    if len(users) - 1 < num_test:
        raise ParameterError(
            "num_gen_test", num_test,
            f"the random forgeries of a user come from {num_test} other exploitation "
            f"users, but there are only {len(users)} exploitation user(s)")
    tests = []
    for user in users:
        user = int(user)
        skilled = split.skilled[user]
        if 0 < len(skilled) < num_test:
            raise ParameterError("num_gen_test", num_test,
                                 f"{num_test} skilled forgeries needed per user, but user "
                                 f"{user} has only {len(skilled)}")
        # The published order (docs/reproducing.md): skilled, then the test genuines
        # (a draw that only permutes them, but skipping it would shift every later
        # draw), then the other users and one test genuine of each.
        chosen_skilled = (rng.choice(skilled, num_test, replace=False) if len(skilled)
                          else skilled)
        genuine = rng.choice(split.test[user], num_test, replace=False)
        others = rng.choice(users[users != user], num_test, replace=False)
        random = np.array([rng.choice(split.test[int(other)]) for other in others],
                          dtype=np.int64)
        tests.append(UserTest(user, genuine, random, chosen_skilled))
    return tests


def draw_dev_genuines(dev_set: FeatureTuple, per_user: int, rng: np.random.RandomState,
                      param: str) -> dict[int, np.ndarray]:
    """``per_user`` random genuine rows of each development user (without replacement);
    ``param`` names ``per_user`` in error messages."""
    _, y, yforg = dev_set
    users = np.unique(y)
    if len(users) == 0:
        raise SigverError("dev_set has no user: the development set is empty")
    chosen = {}
    for user in users:
        genuine = genuine_indices(y, yforg, user)
        if len(genuine) < per_user:
            raise ParameterError(param, per_user,
                                 f"{per_user} genuine signatures needed per development "
                                 f"user, but user {user} has only {len(genuine)}")
        chosen[int(user)] = rng.choice(genuine, per_user, replace=False)
    return chosen

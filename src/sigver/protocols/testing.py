"""Per-user testing shared by the WD and WI protocols (step 4 of docs/protocols-and-metrics.md)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sigver.protocols.splitting import UserTest

Scorer = Callable[[int, np.ndarray], np.ndarray]


def score_users(tests: list[UserTest], features: np.ndarray, scorer: Scorer) -> dict:
    """Score every user's genuine, random and skilled test signatures.

    Parameters
    ----------
    tests
        The fold's per-user test draws (row indices into ``features``).
    features
        The exploitation features.
    scorer
        ``scorer(user, rows)`` returns the score of each feature row as a claim of
        ``user``; it is called once per user with the three kinds stacked.

    Returns
    -------
    dict
        ``{'genuinePreds', 'randomPreds', 'skilledPreds'}``, one array per user.
    """
    predictions: dict[str, list[np.ndarray]] = {
        "genuinePreds": [], "randomPreds": [], "skilledPreds": []}
    for test in tests:
        rows = np.concatenate([test.genuine, test.random, test.skilled])
        scores = np.asarray(scorer(test.user, features[rows]), dtype=np.float64)
        n_gen, n_rand = len(test.genuine), len(test.random)
        predictions["genuinePreds"].append(scores[:n_gen])
        predictions["randomPreds"].append(scores[n_gen:n_gen + n_rand])
        predictions["skilledPreds"].append(scores[n_gen + n_rand:])
    return predictions

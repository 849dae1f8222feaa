"""The published protocols reproduced digit for digit: every golden case of
``tests/golden/protocols`` (computed with the published code) through the published fold
signatures, one ``RandomState(seed)`` driving the folds in turn (docs/reproducing.md)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sigver.wd.training import train_test_all_users as wd_fold
from sigver.wi.training import train_test_all_users as wi_fold

RATES = ("FRR", "FAR_random", "FAR_skilled", "mean_AUC", "EER", "EER_userthresholds")
# libsvm's tolerance on float32 vs float64 inputs (tests/golden/README.md)
SCORE_TOL = 5e-3


PROTOCOLS = Path(__file__).resolve().parents[1] / "golden" / "protocols"
CASES = {case["name"]: case for case in
         json.loads((PROTOCOLS / "protocols.json").read_text())}


def _sets(case):
    with np.load(PROTOCOLS / "protocol_features.npz") as data:
        x, y, yforg = data["features"], data["y"], data["yforg"]

    def users(first, end):
        keep = (y >= first) & (y < end)
        return x[keep], y[keep], yforg[keep]

    return users(*case["exp_users"]), users(*case["dev_users"])


def run_published(case, exp_set, dev_set):
    """The case's folds through the published positional signature."""
    rng = np.random.RandomState(case["seed"])
    fold = wd_fold if case["protocol"] == "wd" else wi_fold
    return [fold(exp_set, dev_set, **case["params"], rng=rng)[1]
            for _ in range(case["folds"])]


def assert_fold_matches(result, expected):
    metrics = result["all_metrics"]
    for key in RATES:
        assert metrics[key] == pytest.approx(expected["metrics"][key], abs=1e-12), key
    assert metrics["global_threshold"] == pytest.approx(
        expected["metrics"]["global_threshold"], abs=SCORE_TOL)
    for key, scores in expected["first_user_scores"].items():
        np.testing.assert_allclose(result["predictions"][key][0], scores, atol=SCORE_TOL,
                                   err_msg=key)


@pytest.mark.parametrize("name", sorted(CASES))
def test_published_signatures_reproduce_every_golden_fold(name):
    case = CASES[name]
    exp_set, dev_set = _sets(case)
    folds = run_published(case, exp_set, dev_set)
    assert len(folds) == len(case["expected"])
    for result, expected in zip(folds, case["expected"], strict=True):
        assert_fold_matches(result, expected)

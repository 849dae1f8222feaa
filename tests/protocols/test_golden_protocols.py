"""The published protocols reproduced digit for digit: every golden case of
``tests/golden/protocols`` (computed with the published code) through the published fold
signatures, one ``RandomState(seed)`` driving the folds in turn (docs/reproducing.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sigver.features import FeatureSet, save_features
from sigver.protocols.results import load_results_json
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


FLAGS = {"svm_type": "--svm-type", "C": "--svm-c", "gamma": "--svm-gamma",
         "num_gen_train": "--gen-for-train", "num_forg_from_exp": "--forg-from-exp",
         "num_forg_from_dev": "--forg-from-dev", "num_gen_test": "--gen-for-test",
         "num_gen_ref": "--gen-for-ref", "fusion": "--fusion"}


@pytest.fixture(scope="module")
def golden_feature_file(tmp_path_factory):
    with np.load(PROTOCOLS / "protocol_features.npz") as data:
        feature_set = FeatureSet(features=data["features"], y=data["y"],
                                 yforg=data["yforg"],
                                 filenames=np.array([f"row{i}" for i in range(len(data["y"]))]),
                                 model_sha256="0" * 64)
    path = tmp_path_factory.mktemp("golden") / "features.npz"
    save_features(path, feature_set)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_published_commands_reproduce_every_golden_fold(name, golden_feature_file,
                                                        tmp_path):
    case = CASES[name]
    argv = [sys.executable, "-m", f"sigver.{case['protocol']}.test", "--features-path",
            str(golden_feature_file), "--exp-users", *map(str, case["exp_users"]),
            "--dev-users", *map(str, case["dev_users"]), "--folds", str(case["folds"]),
            "--seed", str(case["seed"]), "--save-path", str(tmp_path / "results.pickle"),
            "--quiet"]
    for key, value in case["params"].items():
        argv += [FLAGS[key], str(value)]
    done = subprocess.run(argv, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    folds = load_results_json(tmp_path / "results.json")
    assert len(folds) == len(case["expected"])
    for result, expected in zip(folds, case["expected"], strict=True):
        assert_fold_matches(result, expected)

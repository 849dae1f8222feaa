"""compute_metrics against the golden cases computed with the published implementation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from sigver.performance.metrics import compute_metrics


def test_golden_metrics_equal(golden_dir):
    cases = json.loads((golden_dir / "metrics.json").read_text())
    assert cases
    for case in cases:
        got = compute_metrics(case["genuine"], case["random"], case["skilled"],
                              case["threshold"])
        for key, expected in case["expected"].items():
            assert np.allclose(got[key], expected, rtol=0, atol=1e-12), key


def test_user_without_skilled_forgeries_is_left_out():
    genuine = [[1.0, 2.0, 0.5], [0.3, 0.8]]
    random = [[-1.0, 0.2], [-0.5, -2.0]]
    skilled = [[0.1, 1.5], []]
    got = compute_metrics(genuine, random, skilled, 0.0)
    alone = compute_metrics(genuine[:1], random[:1], skilled[:1], 0.0)
    assert got["skipped_users"] == 1 and alone["skipped_users"] == 0
    assert math.isnan(got["auc_list"][1])
    assert got["mean_AUC"] == pytest.approx(alone["mean_AUC"])
    assert got["EER_userthresholds"] == pytest.approx(alone["EER_userthresholds"])
    # FRR and FAR_random still count every user
    assert got["FRR"] == pytest.approx(0.0) and got["FAR_random"] == pytest.approx(0.25)

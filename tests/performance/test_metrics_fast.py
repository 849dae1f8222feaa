"""compute_metrics' single-ROC path against the per-metric scikit-learn calls."""

from __future__ import annotations

import numpy as np

from sigver.performance.metrics import compute_metrics, eer_threshold, user_auc


def test_auc_and_user_thresholds_equal_the_separate_calls():
    rng = np.random.default_rng(4)
    # rounded scores: ties within and across classes, as SVM scores of near-duplicates
    genuine = [np.round(rng.normal(1, 1, 10), 1) for _ in range(40)]
    skilled = [np.round(rng.normal(0, 1, n), 1) for n in rng.integers(1, 12, 40)]
    random = [rng.normal(-1, 1, 10) for _ in range(40)]
    got = compute_metrics(genuine, random, skilled, 0.0)
    expected_auc = [user_auc(g, s) for g, s in zip(genuine, skilled, strict=True)]
    np.testing.assert_allclose(got["auc_list"], expected_auc, rtol=0, atol=1e-12)
    assert len(set(expected_auc)) > 10  # the users differ: a real comparison
    errors = [(np.sum(g < t), np.sum(s >= t)) for g, s in zip(genuine, skilled, strict=True)
              for t in [eer_threshold(g, s)]]
    frr = sum(e[0] for e in errors) / sum(map(len, genuine))
    far = sum(e[1] for e in errors) / sum(map(len, skilled))
    assert got["EER_userthresholds"] == (frr + far) / 2

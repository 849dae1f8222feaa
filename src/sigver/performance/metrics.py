"""The field's verification metrics, computed from per-user score lists
(docs/protocols-and-metrics.md).

Scores are SVM decision values: higher means "more likely genuine". Genuine signatures are
the positive class; skilled forgeries the negative class of the ROC, EER and AUC; random
forgeries only enter ``FAR_random``.

Users without any skilled forgery (e.g. Brazilian PUC-PR users above 60) carry no
skilled information: their AUC is NaN, they are left out of ``mean_AUC`` and of
``EER_userthresholds``, and ``skipped_users`` counts them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import auc, roc_auc_score, roc_curve

ScoreLists = Sequence[np.ndarray] | Sequence[Sequence[float]]


def _roc(genuine: np.ndarray, skilled: np.ndarray) -> tuple[np.ndarray, ...]:
    """``sklearn.metrics.roc_curve`` with genuine scores as the positive class."""
    labels = np.concatenate([np.ones(len(genuine)), -np.ones(len(skilled))])
    return roc_curve(labels, np.concatenate([genuine, skilled]))


def _eer_threshold_of(fpr: np.ndarray, tpr: np.ndarray, thresholds: np.ndarray) -> float:
    return float(thresholds[np.argmin(np.abs(fpr - (1 - tpr)))])


def eer_threshold(genuine: np.ndarray, skilled: np.ndarray) -> float:
    """The ROC threshold where the false-rejection and false-acceptance rates meet.

    Among the thresholds of ``sklearn.metrics.roc_curve`` (genuine positive), pick the
    one minimising ``|FPR - (1 - TPR)|``; on ties the first (highest) threshold wins.
    """
    return _eer_threshold_of(*_roc(genuine, skilled))


def user_auc(genuine: np.ndarray, skilled: np.ndarray) -> float:
    """ROC AUC of one user's genuine (positive) vs skilled (negative) scores."""
    labels = np.concatenate([np.ones(len(genuine)), -np.ones(len(skilled))])
    return float(roc_auc_score(labels, np.concatenate([genuine, skilled])))


def _user_auc_and_threshold(genuine: np.ndarray, skilled: np.ndarray) -> tuple[float, float]:
    """``user_auc`` and ``eer_threshold`` of one user from a single ROC curve.

    ``roc_auc_score`` is the trapezoidal area under this same curve; computing the curve
    once per user halves the scikit-learn calls, whose input validation dominates the
    metrics' time at GPDS scale (300 users).
    """
    fpr, tpr, thresholds = _roc(genuine, skilled)
    return float(auc(fpr, tpr)), _eer_threshold_of(fpr, tpr, thresholds)


def compute_metrics(genuine_preds: ScoreLists, random_preds: ScoreLists,
                    skilled_preds: ScoreLists, global_threshold: float) -> dict:
    """Every metric of docs/protocols-and-metrics.md for one fold.

    Parameters
    ----------
    genuine_preds, random_preds, skilled_preds
        One score array per user (same user order in the three lists).
    global_threshold
        The decision threshold of FRR / FAR (``--thr``).

    Returns
    -------
    dict
        ``FRR``, ``FAR_random``, ``FAR_skilled``, ``mean_AUC``, ``EER``,
        ``EER_userthresholds``, ``auc_list`` (one AUC per user, NaN for a user without
        skilled forgeries), ``global_threshold`` (the EER threshold) and
        ``skipped_users`` (users left out of the skilled metrics).
    """
    genuine = [np.asarray(p, dtype=np.float64) for p in genuine_preds]
    random = [np.asarray(p, dtype=np.float64) for p in random_preds]
    skilled = [np.asarray(p, dtype=np.float64) for p in skilled_preds]
    all_genuine = np.concatenate(genuine)
    all_random = np.concatenate(random)
    all_skilled = np.concatenate(skilled)

    with_skilled = [i for i, s in enumerate(skilled) if len(s) > 0]
    per_user = {i: _user_auc_and_threshold(genuine[i], skilled[i]) for i in with_skilled}
    auc_list = [per_user[i][0] if i in per_user else float("nan")
                for i in range(len(genuine))]

    eer_t = eer_threshold(all_genuine, all_skilled)
    eer = ((1 - np.mean(all_genuine >= eer_t)) + (1 - np.mean(all_skilled < eer_t))) / 2

    genuine_errors = skilled_errors = n_genuine = n_skilled = 0
    for i in with_skilled:
        t = per_user[i][1]
        genuine_errors += int(np.sum(genuine[i] < t))
        skilled_errors += int(np.sum(skilled[i] >= t))
        n_genuine += len(genuine[i])
        n_skilled += len(skilled[i])

    return {
        "FRR": float(1 - np.mean(all_genuine >= global_threshold)),
        "FAR_random": float(1 - np.mean(all_random < global_threshold)),
        "FAR_skilled": float(1 - np.mean(all_skilled < global_threshold)),
        "mean_AUC": float(np.mean([auc_list[i] for i in with_skilled])),
        "EER": float(eer),
        "EER_userthresholds": (genuine_errors / n_genuine + skilled_errors / n_skilled) / 2,
        "auc_list": auc_list,
        "global_threshold": eer_t,
        "skipped_users": len(genuine) - len(with_skilled),
    }

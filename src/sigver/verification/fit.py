"""Training the writer-independent classifier for deployment and choosing its decision
threshold (``sigver wi fit``).

The protocol (``sigver.wi.run``) measures a classifier over folds and discards it; this
keeps one. It trains the dichotomy SVM of docs/protocols-and-metrics.md on the development users and
sets the threshold where it will be used: on fused scores of questioned signatures
against ``num_gen_ref`` references of writers the classifier has not seen. Those scores
come from cross-fitting over the development users (``calibration_folds`` groups; each
group is scored by an SVM trained on the others), then the final SVM is trained on every
development user. The threshold is at the EER of genuine vs skilled forgeries (random
forgeries when the development data has no skilled ones), or the lowest one whose FAR is
at most ``target_far``.
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from sigver import __version__
from sigver.errors import ParameterError
from sigver.protocols.splitting import FeatureTuple, genuine_indices
from sigver.validation import check_svm
from sigver.verification.persistence import TrainedVerifier
from sigver.verification.threshold import choose_threshold
from sigver.wi.classifier import FUSIONS, DichotomyClassifier
from sigver.wi.training import make_dichotomy_training_set

SEED = 1234
# Random forgeries per held-out user in calibration: one genuine of each of this many
# other held-out users.
RANDOM_PER_USER = 10


def _fit_classifier(dev_set: FeatureTuple, params: dict, rng: np.random.RandomState
                    ) -> DichotomyClassifier:
    diffs, labels = make_dichotomy_training_set(dev_set, params["num_gen_train"], rng)
    return DichotomyClassifier(params["svm_type"], params["C"], params["gamma"],
                               params["fusion"]).fit(diffs, labels)


def calibration_scores(dev_set: FeatureTuple, params: dict, folds: int,
                       rng: np.random.RandomState) -> dict[str, np.ndarray]:
    """Fused scores of development users scored by SVMs that never saw them.

    The users are shuffled into ``folds`` groups. For each group, an SVM is trained on
    the other groups; each user of the group keeps ``num_gen_ref`` random genuines as
    references and is scored on its other genuines, its skilled forgeries and one
    genuine of each of up to ``RANDOM_PER_USER`` other users of the group.

    Returns
    -------
    dict
        ``genuine``, ``skilled`` and ``random`` score arrays.
    """
    x, y, yforg = dev_set
    users = np.unique(y)
    n_ref = params["num_gen_ref"]
    if n_ref < 1:
        raise ParameterError("num_gen_ref", n_ref, "at least 1 reference is needed")
    if folds < 2:
        raise ParameterError("calibration_folds", folds, "at least 2 are needed")
    groups = np.array_split(rng.permutation(users), folds)
    need = params["num_gen_train"] // 2 + 1
    if len(users) - max(len(g) for g in groups) < need:
        raise ParameterError("calibration_folds", folds,
                             f"leaves too few development users to train on: {len(users)} "
                             f"users, each SVM needs {need} (use more development users "
                             "or fewer genuines per user for training)")
    scores: dict[str, list[np.ndarray]] = {"genuine": [], "skilled": [], "random": []}
    for group in groups:
        trained_on = ~np.isin(y, group)
        classifier = _fit_classifier((x[trained_on], y[trained_on], yforg[trained_on]),
                                     params, rng)
        genuine = {int(u): rng.permutation(genuine_indices(y, yforg, u)) for u in group}
        for user in group:
            rows = genuine[int(user)]
            if len(rows) < n_ref + 1:
                raise ParameterError("num_gen_ref", n_ref,
                                     f"development user {user} has only {len(rows)} genuine "
                                     f"signatures; calibration needs {n_ref} references "
                                     "and at least 1 more to verify")
            others = group[group != user]
            others = rng.choice(others, min(RANDOM_PER_USER, len(others)), replace=False)
            questioned = {
                "genuine": rows[n_ref:],
                "skilled": np.flatnonzero((y == user) & (yforg == 1)),
                "random": np.array([rng.choice(genuine[int(o)]) for o in others],
                                   dtype=np.int64)}
            references = x[rows[:n_ref]]
            for kind, q in questioned.items():
                if len(q):
                    scores[kind].append(classifier.fused_scores(x[q], references))
    return {kind: np.concatenate(parts) if parts else np.empty(0)
            for kind, parts in scores.items()}


def fit_verifier(dev_set: FeatureTuple, model_sha256: str, *, svm_type: str = "rbf",
                 C: float = 1.0, gamma: float = 2 ** -11, num_gen_train: int = 12,
                 num_gen_ref: int = 12, fusion: str = "max",
                 target_far: float | None = None, calibration_folds: int = 3,
                 seed: int = SEED) -> tuple[TrainedVerifier, dict[str, np.ndarray]]:
    """Train the writer-independent verifier on development users and set its threshold.

    Parameters
    ----------
    dev_set
        ``(features, y, yforg)`` of the development users (never the people to verify).
    model_sha256
        SHA-256 of the model file that produced the features (recorded in the verifier;
        verification refuses features of another model).
    svm_type, C, gamma, num_gen_train, fusion
        As in the WI protocol (docs/protocols-and-metrics.md).
    num_gen_ref
        References per person assumed when choosing the threshold (enroll about as many).
    target_far
        Choose the threshold for this false-acceptance rate instead of the EER.
    calibration_folds
        Groups of development users for the cross-fitted calibration scores.
    seed
        Seed of the single random generator (same seed, same verifier).

    Returns
    -------
    verifier, calibration
        The verifier and the calibration scores (``genuine`` / ``skilled`` / ``random``).
    """
    if fusion not in FUSIONS:
        raise ParameterError("fusion", fusion, f"choose one of {', '.join(FUSIONS)}")
    check_svm(C=C, gamma=gamma, svm_type=svm_type)
    params = {"svm_type": svm_type, "C": C, "gamma": gamma, "num_gen_train": num_gen_train,
              "num_gen_ref": num_gen_ref, "fusion": fusion}
    rng = np.random.RandomState(seed)
    calibration = calibration_scores(dev_set, params, calibration_folds, rng)
    point = choose_threshold(calibration["genuine"], calibration["skilled"],
                             calibration["random"], target_far)
    classifier = _fit_classifier(dev_set, params, rng)
    training = {**params, "development_users": len(np.unique(dev_set[1])),
                "calibration_folds": calibration_folds, "seed": seed,
                "calibration_counts": {k: len(v) for k, v in calibration.items()},
                "sigver_version": __version__,
                "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    verifier = TrainedVerifier(classifier=classifier, threshold=point.threshold,
                               model_sha256=model_sha256,
                               feature_dim=int(dev_set[0].shape[1]),
                               operating_point=point.as_dict(), training=training)
    return verifier, calibration

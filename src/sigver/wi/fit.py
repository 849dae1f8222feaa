"""``sigver wi fit``: train the writer-independent classifier for deployment and choose its
decision threshold.

The protocol (``sigver wi``) measures a classifier over folds and discards it; this action
keeps one. It trains the dichotomy SVM of SPEC section 8 on the development users and
sets the threshold where it will be used: on fused scores of questioned signatures
against ``--gen-for-ref`` references of writers the classifier has not seen. Those
scores come from cross-fitting over the development users (``--calibration-folds``
groups; each group is scored by an SVM trained on the others), then the final SVM is
trained on every development user. The threshold is at the EER of genuine vs skilled
forgeries (random forgeries when the development data has no skilled ones), or the
lowest one whose FAR is at most ``--target-far``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import datetime, timezone

import numpy as np

from sigver import __version__
from sigver.cli import run_main
from sigver.datasets.util import select_users
from sigver.errors import SigverError
from sigver.protocols.cli import add_feature_source_arguments, load_feature_set
from sigver.protocols.splitting import FeatureTuple, genuine_indices
from sigver.verification.persistence import TrainedVerifier, save_verifier
from sigver.verification.threshold import choose_threshold
from sigver.wi.classifier import FUSIONS, DichotomyClassifier
from sigver.wi.training import make_dichotomy_training_set

SEED = 1234
# Random forgeries per held-out user in calibration: one genuine of each of this many
# other held-out users.
RANDOM_PER_USER = 10


def _fit_classifier(dev_set: FeatureTuple, params: dict, rng: np.random.RandomState
                    ) -> DichotomyClassifier:
    diffs, labels = make_dichotomy_training_set(dev_set, params["gen_for_train"], rng)
    return DichotomyClassifier(params["svm_type"], params["C"], params["gamma"],
                               params["fusion"]).fit(diffs, labels)


def calibration_scores(dev_set: FeatureTuple, params: dict, folds: int,
                       rng: np.random.RandomState) -> dict[str, np.ndarray]:
    """Fused scores of development users scored by SVMs that never saw them.

    The users are shuffled into ``folds`` groups. For each group, an SVM is trained on
    the other groups; each user of the group keeps ``gen_for_ref`` random genuines as
    references and is scored on its other genuines, its skilled forgeries and one
    genuine of each of up to ``RANDOM_PER_USER`` other users of the group.

    Returns
    -------
    dict
        ``genuine``, ``skilled`` and ``random`` score arrays.
    """
    x, y, yforg = dev_set
    users = np.unique(y)
    n_ref = params["gen_for_ref"]
    if n_ref < 1:
        raise SigverError(f"--gen-for-ref {n_ref}: at least 1 reference is needed")
    if folds < 2:
        raise SigverError(f"--calibration-folds {folds}: at least 2 are needed")
    groups = np.array_split(rng.permutation(users), folds)
    need = params["gen_for_train"] // 2 + 1
    if len(users) - max(len(g) for g in groups) < need:
        raise SigverError(f"--calibration-folds {folds} leaves too few development users "
                          f"to train on: {len(users)} users, each SVM needs {need} "
                          "(use more --dev-users or fewer --gen-for-train)")
    scores: dict[str, list[np.ndarray]] = {"genuine": [], "skilled": [], "random": []}
    for group in groups:
        trained_on = ~np.isin(y, group)
        classifier = _fit_classifier((x[trained_on], y[trained_on], yforg[trained_on]),
                                     params, rng)
        genuine = {int(u): rng.permutation(genuine_indices(y, yforg, u)) for u in group}
        for user in group:
            rows = genuine[int(user)]
            if len(rows) < n_ref + 1:
                raise SigverError(f"--gen-for-ref {n_ref}: development user {user} has only "
                                  f"{len(rows)} genuine signatures; calibration needs "
                                  f"{n_ref} references and at least 1 more to verify")
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
                 C: float = 1.0, gamma: float = 2 ** -11, gen_for_train: int = 12,
                 gen_for_ref: int = 12, fusion: str = "max",
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
    svm_type, C, gamma, gen_for_train, fusion
        As in the WI protocol (SPEC section 8).
    gen_for_ref
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
        raise SigverError(f"--fusion {fusion!r}: choose one of {', '.join(FUSIONS)}")
    params = {"svm_type": svm_type, "C": C, "gamma": gamma, "gen_for_train": gen_for_train,
              "gen_for_ref": gen_for_ref, "fusion": fusion}
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


def build_parser() -> argparse.ArgumentParser:
    """Flags of ``sigver wi fit`` / ``python -m sigver.wi.fit``."""
    parser = argparse.ArgumentParser(
        prog="sigver wi fit",
        description="Train the writer-independent classifier on development users, choose "
                    "its decision threshold (EER, or --target-far) and save it for "
                    "'sigver verify'.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_feature_source_arguments(parser)
    parser.add_argument("--out", required=True,
                        help="classifier file to write (skops format, e.g. wi.skops)")
    parser.add_argument("--dev-users", nargs=2, type=int, default=None,
                        metavar=("FIRST", "END"),
                        help="development users FIRST <= y < END (when not given, all users of "
                             "the data; never include the people you will verify)")
    parser.add_argument("--gen-for-train", type=int, default=12,
                        help="genuines per development user for the SVM's pairs")
    parser.add_argument("--gen-for-ref", type=int, default=12,
                        help="references per person assumed when choosing the threshold")
    parser.add_argument("--svm-type", choices=("rbf", "linear"), default="rbf")
    parser.add_argument("--svm-c", type=float, default=1.0)
    parser.add_argument("--svm-gamma", type=float, default=2 ** -11)
    parser.add_argument("--fusion", choices=tuple(FUSIONS), default="max",
                        help="fusion of the scores against a person's references")
    parser.add_argument("--target-far", type=float, default=None,
                        help="threshold for this false-acceptance rate (e.g. 0.01) "
                             "instead of the EER")
    parser.add_argument("--calibration-folds", type=int, default=3,
                        help="groups of development users for cross-fitted calibration")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sigver wi fit``."""
    args = build_parser().parse_args(argv)
    features = load_feature_set(args)
    dev_set = features.as_tuple()
    if args.dev_users is not None:
        dev_set = select_users(dev_set, *args.dev_users, flag="--dev-users")
    print(f"wi fit: {len(np.unique(dev_set[1]))} development users, "
          f"{dev_set[0].shape[1]}-d features", flush=True)
    verifier, calibration = fit_verifier(
        dev_set, features.model_sha256, svm_type=args.svm_type, C=args.svm_c,
        gamma=args.svm_gamma, gen_for_train=args.gen_for_train,
        gen_for_ref=args.gen_for_ref, fusion=args.fusion, target_far=args.target_far,
        calibration_folds=args.calibration_folds, seed=args.seed)
    save_verifier(args.out, verifier)
    point = verifier.operating_point
    rule = ("EER" if point["rule"] == "eer" else f"FAR <= {100 * point['target_far']:g}%")
    print(f"calibration ({len(calibration['genuine'])} genuine, "
          f"{len(calibration['skilled'])} skilled, {len(calibration['random'])} random "
          f"scores of unseen users): threshold {verifier.threshold:.4f} at {rule} "
          f"({point['negatives']} forgeries): FRR {100 * point['frr']:.2f}%, FAR skilled "
          f"{_percent(point['far_skilled'])}, FAR random {_percent(point['far_random'])}")
    print(f"wrote {args.out}")
    return 0


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


if __name__ == "__main__":
    raise SystemExit(run_main(main))

"""Writer-independent protocol, one fold (docs/protocols-and-metrics.md).

Both methods train one SVM on development-user dissimilarity vectors and give the same
SVM and scores (up to libsvm's tolerance): ``"fast"`` (default) fits it through a working
set on kernel blocks computed with BLAS (``DichotomyClassifier.fit_pairs``) and
evaluates all questioned x reference pairs of many users as large kernel blocks;
``"reference"`` hands every dissimilarity vector to libsvm and calls libsvm once per
questioned signature.
"""

from __future__ import annotations

import numpy as np

from sigver.errors import ParameterError
from sigver.performance.metrics import compute_metrics
from sigver.protocols.kernels import SVM_TYPES
from sigver.protocols.splitting import (
    ExploitationSplit,
    FeatureTuple,
    UserTest,
    check_disjoint,
    draw_dev_genuines,
    draw_tests,
    split_exploitation,
)
from sigver.protocols.testing import score_users
from sigver.wi.classifier import FUSIONS, DichotomyClassifier, dichotomy

METHODS = ("fast", "reference")


def make_dichotomy_training_set(dev_set: FeatureTuple, num_gen_train: int,
                                rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """Dissimilarity vectors of the development users (WI steps 2 and 3,
    docs/protocols-and-metrics.md).

    Each user keeps ``n = num_gen_train`` shuffled genuines. Positives: every unordered
    pair within a user. Negatives: the user's first ``n - 1`` signatures against one
    random signature of each of ``n // 2`` other random users.
    """
    left, right, labels = make_dichotomy_pairs(dev_set, num_gen_train, rng)
    return dichotomy(dev_set[0][left], dev_set[0][right]), labels


def make_dichotomy_pairs(dev_set: FeatureTuple, num_gen_train: int,
                         rng: np.random.RandomState
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs of ``make_dichotomy_training_set``, drawn in the same order, as row
    indices into ``dev_set``: ``(left, right, labels)``, vector i being
    ``|x[left[i]] - x[right[i]]|``."""
    y = dev_set[1]
    users = np.unique(y)
    n = num_gen_train
    if n < 2:
        raise ParameterError("num_gen_train", n, "at least 2 genuines per development user "
                             "are needed to form pairs")
    if len(users) - 1 < n // 2:
        raise ParameterError("num_gen_train", n,
                             f"pairs each development user with {n // 2} others, but there "
                             f"are only {len(users)} development user(s)")
    kept = draw_dev_genuines(dev_set, n, rng, "num_gen_train")
    first, second = np.triu_indices(n, k=1)
    left, right = [], []
    for user in users:
        rows = kept[int(user)]
        left.append(rows[first])
        right.append(rows[second])
    n_pos = sum(len(r) for r in left)
    for user in users:
        others = rng.choice(users[users != user], n // 2, replace=False)
        # one of the other user's first n - 1 signatures each; rows partner by partner
        partners = np.array([kept[int(o)][rng.randint(n - 1)] for o in others])
        mine = kept[int(user)][:n - 1]
        left.append(np.tile(mine, len(partners)))
        right.append(np.repeat(partners, len(mine)))
    left_rows, right_rows = np.concatenate(left), np.concatenate(right)
    labels = np.where(np.arange(len(left_rows)) < n_pos, 1, -1)
    return left_rows, right_rows, labels


def score_tests(classifier: DichotomyClassifier, tests: list[UserTest], exp_x: np.ndarray,
                split: ExploitationSplit, method: str = "fast") -> dict:
    """Fused scores of every user's test signatures against its references.

    ``"fast"`` stacks all users' questioned x reference pairs into large kernel blocks;
    ``"reference"`` makes one libsvm call per questioned signature.
    """
    if method == "fast":
        claims = [(exp_x[np.concatenate([t.genuine, t.random, t.skilled])],
                   exp_x[split.train[t.user]]) for t in tests]
        fused = dict(zip([t.user for t in tests], classifier.fused_scores_many(claims),
                         strict=True))
        # score_users stacks the rows in the same order, so it only has to look them up
        return score_users(tests, exp_x, lambda user, rows: fused[user])
    return score_users(tests, exp_x, lambda user, rows: classifier.reference_fused_scores(
        rows, exp_x[split.train[user]]))


def check_parameters(*, svm_type: str, fusion: str, method: str) -> None:
    """Reject WI parameters no fold can run with (``ParameterError`` naming the parameter).

    The counts that depend on the data (enough genuines and users) are checked while
    drawing.
    """
    for param, value, choices in (("method", method, METHODS),
                                  ("svm_type", svm_type, SVM_TYPES),
                                  ("fusion", fusion, tuple(FUSIONS))):
        if value not in choices:
            raise ParameterError(param, value, f"choose one of {', '.join(choices)}")


def train_test_all_users(exp_set: FeatureTuple, dev_set: FeatureTuple, svm_type: str,
                         C: float, gamma: float, num_gen_train: int, num_gen_ref: int,
                         num_gen_test: int, fusion: str, global_threshold: float = 0,
                         rng: np.random.RandomState | None = None, *,
                         method: str = "fast") -> tuple[DichotomyClassifier, dict]:
    """Train the writer-independent SVM and test every exploitation user, one fold.

    Parameters
    ----------
    exp_set, dev_set
        ``(features, y, yforg)`` of the exploitation and development users.
    svm_type, C, gamma
        ``"rbf"`` or ``"linear"``, the SVM's C, and the RBF gamma.
    num_gen_train
        Genuine signatures kept per development user.
    num_gen_ref, num_gen_test
        Reference and test genuines per exploitation user.
    fusion
        Fusion of a questioned signature's scores over the references.
    global_threshold
        Decision threshold for FRR / FAR (``--thr``).
    rng
        The run's single generator.
    method
        ``"fast"`` (working-set training on BLAS kernel blocks, batched scoring) or
        ``"reference"`` (libsvm on every dissimilarity vector, one libsvm call per
        query): the same SVM and scores up to libsvm's tolerance.

    Returns
    -------
    classifier, results
        The fitted ``DichotomyClassifier`` and the fold's results (docs/protocols-and-metrics.md).
    """
    check_parameters(svm_type=svm_type, fusion=fusion, method=method)
    rng = np.random.RandomState() if rng is None else rng
    check_disjoint(exp_set[1], dev_set[1])
    split = split_exploitation(exp_set, num_gen_ref, num_gen_test, rng,
                               train_param="num_gen_ref")
    left, right, labels = make_dichotomy_pairs(dev_set, num_gen_train, rng)
    tests = draw_tests(split, num_gen_test, rng)
    classifier = DichotomyClassifier(svm_type, C, gamma, fusion)
    if method == "fast":
        classifier.fit_pairs(dev_set[0], left, right, labels)
    else:
        classifier.fit(dichotomy(dev_set[0][left], dev_set[0][right]), labels)
    predictions = score_tests(classifier, tests, exp_set[0], split, method)
    metrics = compute_metrics(predictions["genuinePreds"], predictions["randomPreds"],
                              predictions["skilledPreds"], global_threshold)
    return classifier, {"all_metrics": metrics, "predictions": predictions}

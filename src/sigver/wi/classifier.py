"""The writer-independent classifier as a small scikit-learn estimator.

A questioned signature q claimed as a person is compared with each reference r of that
person through the dichotomy transform ``|f(q) - f(r)|``; one SVM (scale-only
standardisation, RBF or linear) scores every such dissimilarity vector and the scores of
one questioned signature are fused over its references.

Two ways to fit, giving the same SVM: ``fit`` hands the dissimilarity vectors to libsvm
(the straightforward path), ``fit_pairs`` takes the pairs of signatures and fits through
a working set on a precomputed kernel (``sigver.protocols.active_set``), without making
every dissimilarity vector at once. Scoring is batched: the kernel between many
dissimilarity vectors and the support vectors is one matrix product, instead of libsvm's
pair-by-pair evaluation (``reference_decision_function`` keeps that straightforward path
for classifiers fitted by ``fit``). The scoring itself is
numpy-only code in ``sigver.wi.scoring``, shared with classifier files loaded without
scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from sigver.protocols.active_set import fit_active_set
from sigver.protocols.kernels import make_svc
from sigver.wi.pairs import DichotomyPairs, PairKernel
from sigver.wi.scoring import FUSIONS, DichotomyScorer, dichotomy, fuse

# First working set of ``fit_pairs``: this many pairs, evenly spaced over the training set
INITIAL_WORKING_SET = 3000
# Most violating pairs added to the working set per fit
ADDED_PER_FIT = 4000

__all__ = ["FUSIONS", "DichotomyClassifier", "dichotomy", "fuse"]


class DichotomyClassifier(ClassifierMixin, BaseEstimator):
    """Writer-independent SVM on dissimilarity vectors.

    Parameters
    ----------
    svm_type
        ``"rbf"`` or ``"linear"``.
    C, gamma
        SVM regularisation and RBF width.
    fusion
        How the scores against several references are fused: max, min, mean, median.
    batch_rows
        Dissimilarity vectors per kernel block when scoring (bounds memory).
    """

    def __init__(self, svm_type: str = "rbf", C: float = 1.0, gamma: float = 2 ** -11,
                 fusion: str = "max", batch_rows: int = 4096) -> None:
        self.svm_type = svm_type
        self.C = C
        self.gamma = gamma
        self.fusion = fusion
        self.batch_rows = batch_rows

    def fit(self, X: np.ndarray, y: np.ndarray) -> DichotomyClassifier:
        """Fit on dissimilarity vectors ``X`` labelled +1 (same writer) / -1."""
        X = np.asarray(X, dtype=np.float64)
        self.scaler_ = StandardScaler(with_mean=False).fit(X)
        self.svm_ = make_svc(self.svm_type, self.C, self.gamma).fit(
            self.scaler_.transform(X), y)
        self.classes_ = self.svm_.classes_
        return self

    def fit_pairs(self, features: np.ndarray, left: np.ndarray, right: np.ndarray,
                  y: np.ndarray) -> DichotomyClassifier:
        """Fit on the pairs ``(features[left[i]], features[right[i]])`` labelled ``y``.

        The same SVM as ``fit(dichotomy(features[left], features[right]), y)`` (libsvm's
        solution up to its tolerance: tested on small sets to give the same support
        vectors and decision values within 1e-3), found by libsvm on a working set
        grown until no other pair violates the optimality condition. Memory holds the
        signatures and the working set's kernel, not every dissimilarity vector.
        """
        pairs = DichotomyPairs(features, np.asarray(left), np.asarray(right))
        y = np.asarray(y)
        initial = np.unique(np.linspace(0, len(y) - 1, min(len(y), INITIAL_WORKING_SET)
                                        ).astype(np.int64))
        solution = fit_active_set(PairKernel(pairs, self.svm_type, self.gamma), y,
                                  C=self.C, initial=initial, max_add=ADDED_PER_FIT)
        self.scaler_ = self.svm_ = None
        self.scale_ = pairs.scale
        self.support_ = solution.support
        self.support_vectors_ = pairs.rows(solution.support)
        self.dual_coef_ = solution.dual_coef
        self.intercept_ = solution.intercept
        self.n_fits_ = solution.rounds
        self.classes_ = np.array([-1, 1])
        return self

    def to_scorer(self) -> DichotomyScorer:
        """The fitted arrays as a numpy-only ``DichotomyScorer`` (what classifier files
        hold, and what every scoring method here computes with)."""
        check_is_fitted(self, "svm_")
        if self.svm_ is None:  # fitted by fit_pairs
            return DichotomyScorer(
                scale=self.scale_, support_vectors=self.support_vectors_,
                dual_coef=self.dual_coef_, intercept=self.intercept_,
                kernel=self.svm_type, gamma=self.gamma, fusion=self.fusion,
                batch_rows=self.batch_rows)
        return DichotomyScorer(
            scale=self.scaler_.scale_, support_vectors=self.svm_.support_vectors_,
            dual_coef=self.svm_.dual_coef_[0], intercept=self.svm_.intercept_[0],
            kernel=self.svm_type, gamma=self.gamma, fusion=self.fusion,
            batch_rows=self.batch_rows)

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """SVM decision values of dissimilarity vectors (batched kernel products)."""
        return self.to_scorer().decision_function(X)

    def reference_decision_function(self, X: np.ndarray) -> np.ndarray:
        """The same values through libsvm (``SVC.decision_function``), pair by pair
        (classifiers fitted by ``fit``)."""
        check_is_fitted(self, "svm_")
        if self.svm_ is None:
            raise ValueError("reference_decision_function needs a classifier fitted by "
                             "fit (libsvm's own kernel), not fit_pairs")
        return self.svm_.decision_function(self.scaler_.transform(np.asarray(X, float)))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """+1 (same writer) where the decision value is >= 0, else -1."""
        return np.where(self.decision_function(X) >= 0, 1, -1)

    def pair_scores(self, questioned: np.ndarray, references: np.ndarray) -> np.ndarray:
        """Scores of every questioned x reference pair, shape ``(Q, R)``."""
        return self.to_scorer().pair_scores(questioned, references)

    def fused_scores(self, questioned: np.ndarray, references: np.ndarray) -> np.ndarray:
        """One score per questioned signature: its pair scores fused over the references."""
        return self.to_scorer().fused_scores(questioned, references)

    def fused_scores_many(self, claims: Sequence[tuple[np.ndarray, np.ndarray]]
                          ) -> list[np.ndarray]:
        """``fused_scores`` of many claims ``(questioned, references)`` at once (see
        ``DichotomyScorer.fused_scores_many``)."""
        return self.to_scorer().fused_scores_many(claims)

    def reference_fused_scores(self, questioned: np.ndarray,
                               references: np.ndarray) -> np.ndarray:
        """``fused_scores`` the straightforward way: one libsvm call per questioned row."""
        return np.array([
            fuse(self.reference_decision_function(dichotomy(q[None, :], references))[None],
                 self.fusion)[0]
            for q in np.asarray(questioned, dtype=np.float64)])

"""The writer-independent classifier as a small scikit-learn estimator.

A questioned signature q claimed as a person is compared with each reference r of that
person through the dichotomy transform ``|f(q) - f(r)|``; one SVM (scale-only
standardisation, RBF or linear) scores every such dissimilarity vector and the scores of
one questioned signature are fused over its references.

Scoring is batched: the kernel between many dissimilarity vectors and the support
vectors is one matrix product, instead of libsvm's pair-by-pair evaluation
(``reference_decision_function`` keeps that straightforward path).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from sigver.protocols.kernels import kernel_matrix, make_svc, squared_norms

FUSIONS = {"max": np.max, "min": np.min, "mean": np.mean, "median": np.median}


def dichotomy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The dichotomy transform ``|a - b|`` (row-wise, broadcasting)."""
    return np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))


def fuse(scores: np.ndarray, fusion: str) -> np.ndarray:
    """Fuse a (questioned x references) score matrix into one score per questioned row."""
    if fusion not in FUSIONS:
        raise ValueError(f"fusion must be one of {sorted(FUSIONS)}, got {fusion!r}")
    return FUSIONS[fusion](scores, axis=1)


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

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """SVM decision values of dissimilarity vectors (batched kernel products)."""
        check_is_fitted(self, "svm_")
        support = self.svm_.support_vectors_
        norms = squared_norms(support)
        dual = self.svm_.dual_coef_[0]
        X = np.asarray(X, dtype=np.float64)
        out = np.empty(len(X))
        for start in range(0, len(X), self.batch_rows):
            rows = X[start:start + self.batch_rows] / self.scaler_.scale_
            k = kernel_matrix(rows, support, self.svm_type, self.gamma, b_norms=norms)
            out[start:start + len(rows)] = k @ dual
        return out + self.svm_.intercept_[0]

    def reference_decision_function(self, X: np.ndarray) -> np.ndarray:
        """The same values through libsvm (``SVC.decision_function``), pair by pair."""
        check_is_fitted(self, "svm_")
        return self.svm_.decision_function(self.scaler_.transform(np.asarray(X, float)))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """+1 (same writer) where the decision value is >= 0, else -1."""
        return np.where(self.decision_function(X) >= 0, 1, -1)

    def pair_scores(self, questioned: np.ndarray, references: np.ndarray) -> np.ndarray:
        """Scores of every questioned x reference pair, shape ``(Q, R)``."""
        questioned = np.asarray(questioned, dtype=np.float64)
        references = np.asarray(references, dtype=np.float64)
        diffs = dichotomy(questioned[:, None, :], references[None, :, :])
        scores = self.decision_function(diffs.reshape(-1, questioned.shape[1]))
        return scores.reshape(len(questioned), len(references))

    def fused_scores(self, questioned: np.ndarray, references: np.ndarray) -> np.ndarray:
        """One score per questioned signature: its pair scores fused over the references."""
        return fuse(self.pair_scores(questioned, references), self.fusion)

    def fused_scores_many(self, claims: Sequence[tuple[np.ndarray, np.ndarray]]
                          ) -> list[np.ndarray]:
        """``fused_scores`` of many claims ``(questioned, references)`` at once.

        The dissimilarity vectors of successive claims are stacked into blocks of about
        ``batch_rows`` rows, so the kernel products stay large (efficient) even when each
        claim has few pairs.
        """
        claims = [(np.asarray(q, dtype=np.float64), np.asarray(r, dtype=np.float64))
                  for q, r in claims]
        pair_counts = [len(q) * len(r) for q, r in claims]
        results: list[np.ndarray] = []
        start = 0
        while start < len(claims):
            stop, rows = start, 0
            while stop < len(claims) and (rows == 0 or rows + pair_counts[stop]
                                          <= self.batch_rows):
                rows += pair_counts[stop]
                stop += 1
            diffs = np.concatenate([
                dichotomy(q[:, None, :], r[None, :, :]).reshape(-1, q.shape[1])
                for q, r in claims[start:stop]])
            scores = np.split(self.decision_function(diffs),
                              np.cumsum(pair_counts[start:stop])[:-1])
            for (q, r), block in zip(claims[start:stop], scores, strict=True):
                results.append(fuse(block.reshape(len(q), len(r)), self.fusion))
            start = stop
        return results

    def reference_fused_scores(self, questioned: np.ndarray,
                               references: np.ndarray) -> np.ndarray:
        """``fused_scores`` the straightforward way: one libsvm call per questioned row."""
        return np.array([
            fuse(self.reference_decision_function(dichotomy(q[None, :], references))[None],
                 self.fusion)[0]
            for q in np.asarray(questioned, dtype=np.float64)])

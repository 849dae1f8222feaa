"""Scoring with a fitted writer-independent classifier, in numpy alone.

``DichotomyScorer`` holds what a fitted dichotomy SVM needs to score (the scaler's
scales, the support vectors, their dual coefficients, the intercept, the kernel and its
``gamma``, the fusion rule) and computes the SVM's decision function from them. The
scikit-learn estimator (``sigver.wi.classifier.DichotomyClassifier``) scores through it,
and a classifier file loads into it without scikit-learn (``docs/deployment.md``):
verification pays neither scikit-learn's nor skops's import time.

The decision value of a dissimilarity vector ``d`` is
``sum_i dual_coef[i] * K(d / scale, support_vectors[i]) + intercept``, the same value as
``SVC.decision_function`` on the scaled vector.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sigver.protocols.kernels import kernel_matrix, squared_norms

FUSIONS = {"max": np.max, "min": np.min, "mean": np.mean, "median": np.median}
KERNELS = ("rbf", "linear")


def dichotomy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The dichotomy transform ``|a - b|`` (row-wise, broadcasting)."""
    return np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))


def fuse(scores: np.ndarray, fusion: str) -> np.ndarray:
    """Fuse a (questioned x references) score matrix into one score per questioned row."""
    if fusion not in FUSIONS:
        raise ValueError(f"fusion must be one of {sorted(FUSIONS)}, got {fusion!r}")
    return FUSIONS[fusion](scores, axis=1)


@dataclass(frozen=True, eq=False)
class DichotomyScorer:
    """A fitted dichotomy SVM as plain arrays.

    Attributes
    ----------
    scale
        ``(D,)`` per-feature scales of the scale-only standardisation (positive).
    support_vectors
        ``(S, D)`` support vectors, in the scaled space.
    dual_coef
        ``(S,)`` dual coefficients (``alpha_i * y_i``).
    intercept
        The SVM's intercept.
    kernel
        ``"rbf"`` or ``"linear"``.
    gamma
        RBF width (unused by the linear kernel).
    fusion
        How the scores against several references are fused: max, min, mean, median.
    batch_rows
        Dissimilarity vectors per kernel block (bounds memory).
    """

    scale: np.ndarray
    support_vectors: np.ndarray
    dual_coef: np.ndarray
    intercept: float
    kernel: str
    gamma: float
    fusion: str
    batch_rows: int = 4096

    def __post_init__(self) -> None:
        for name in ("scale", "support_vectors", "dual_coef"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=np.float64))
        object.__setattr__(self, "intercept", float(self.intercept))
        object.__setattr__(self, "gamma", float(self.gamma))
        if self.kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {self.kernel!r}")
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {sorted(FUSIONS)}, got {self.fusion!r}")
        dim = self.scale.shape[0] if self.scale.ndim == 1 else -1
        if (dim < 1 or self.support_vectors.ndim != 2 or self.support_vectors.shape[1] != dim
                or self.dual_coef.shape != (len(self.support_vectors),)):
            raise ValueError(f"inconsistent shapes: scale {self.scale.shape}, support "
                             f"vectors {self.support_vectors.shape}, dual coefficients "
                             f"{self.dual_coef.shape}")
        if not np.all(self.scale > 0):
            raise ValueError("scale must be positive")
        object.__setattr__(self, "_support_norms", squared_norms(self.support_vectors))

    @property
    def feature_dim(self) -> int:
        """Length of the feature vectors it scores."""
        return int(self.scale.shape[0])

    def scaled_decision(self, rows: np.ndarray) -> np.ndarray:
        """Decision values of already scaled dissimilarity vectors, one kernel block."""
        k = kernel_matrix(rows, self.support_vectors, self.kernel, self.gamma,
                          b_norms=self._support_norms)
        return k @ self.dual_coef + self.intercept

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """SVM decision values of dissimilarity vectors ``X`` (N x D)."""
        X = np.asarray(X, dtype=np.float64)
        out = np.empty(len(X))
        for start in range(0, len(X), self.batch_rows):
            rows = X[start:start + self.batch_rows] / self.scale
            out[start:start + len(rows)] = self.scaled_decision(rows)
        return out

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

        The dissimilarity vectors of successive claims are written side by side into
        one block of about ``batch_rows`` rows, so the kernel products stay large
        (efficient) even when each claim has few pairs. The signatures are scaled
        before the transform (``|q - r| / s = |q / s - r / s|`` for the positive scale
        ``s``), so each signature is scaled once instead of each of its pairs.
        """
        scale = self.scale
        claims = [(np.asarray(q, dtype=np.float64) / scale,
                   np.asarray(r, dtype=np.float64) / scale) for q, r in claims]
        pair_counts = [len(q) * len(r) for q, r in claims]
        block = np.empty((max([self.batch_rows, *pair_counts]), len(scale)))
        results: list[np.ndarray] = []
        start = 0
        while start < len(claims):
            stop, rows = start, 0
            while stop < len(claims) and (rows == 0 or rows + pair_counts[stop]
                                          <= self.batch_rows):
                view = block[rows:rows + pair_counts[stop]].reshape(
                    len(claims[stop][0]), len(claims[stop][1]), -1)
                q, r = claims[stop]
                np.subtract(q[:, None, :], r[None, :, :], out=view)
                np.abs(view, out=view)
                rows += pair_counts[stop]
                stop += 1
            scores = np.split(self.scaled_decision(block[:rows]),
                              np.cumsum(pair_counts[start:stop])[:-1])
            for (q, r), part in zip(claims[start:stop], scores, strict=True):
                results.append(fuse(part.reshape(len(q), len(r)), self.fusion))
            start = stop
        return results

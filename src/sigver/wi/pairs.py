"""The dichotomy training set as pairs of signatures, its vectors made block by block.

The writer-independent SVM trains on ``|f(a) - f(b)|`` for every pair ``(a, b)`` of the
training set: 76,692 pairs of 2048-d vectors (1.2 GiB in float64) for GPDS's 581
development users, 264,000 (4.3 GiB) for 2,000. ``DichotomyPairs`` keeps only the
signatures the pairs use (scaled once: ``|a - b| / s = |a / s - b / s|`` for the positive
scale ``s``) and the pairs' row indices, and makes the dissimilarity vectors of the rows
a computation asks for. The scale is the scale-only ``StandardScaler``'s (the standard
deviation of each feature over all pairs), computed in two passes over blocks of pairs.
"""

from __future__ import annotations

import numpy as np

from sigver.protocols.kernels import kernel_block, kernel_matrix

# Pairs per block when computing the scale.
SCALE_BLOCK = 2048


class DichotomyPairs:
    """Dissimilarity vectors of pairs of feature rows, scaled, made on demand.

    Parameters
    ----------
    features
        Feature rows (N x D).
    left, right
        Row indices of each pair's two signatures.
    """

    def __init__(self, features: np.ndarray, left: np.ndarray, right: np.ndarray) -> None:
        used, inverse = np.unique(np.concatenate([left, right]), return_inverse=True)
        self.left, self.right = inverse[:len(left)], inverse[len(left):]
        self.signatures = np.asarray(features[used], dtype=np.float64)
        mean, self.scale = _pair_scale(self.signatures, self.left, self.right)
        self.signatures /= self.scale
        self._signatures32 = self.signatures.astype(np.float32)
        self._centre32 = (mean / self.scale).astype(np.float32)

    def __len__(self) -> int:
        return len(self.left)

    def rows(self, index: np.ndarray) -> np.ndarray:
        """The scaled dissimilarity vectors of pairs ``index``."""
        return np.abs(self.signatures[self.left[index]] - self.signatures[self.right[index]])

    def centred_rows32(self, index: np.ndarray) -> np.ndarray:
        """``rows(index)`` minus the mean vector, in float32, with float64 squared norms.

        Centring keeps the float32 products of the RBF kernel small (their rounding
        grows with their magnitude); distances do not change.
        """
        rows = self._signatures32[self.left[index]]
        rows -= self._signatures32[self.right[index]]
        np.abs(rows, out=rows)
        rows -= self._centre32
        return rows, np.einsum("ij,ij->i", rows, rows, dtype=np.float64)


def _pair_scale(signatures: np.ndarray, left: np.ndarray, right: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """The mean of the pairs' dissimilarity vectors and ``StandardScaler(with_mean=False)``'s
    scale.

    One pass over blocks of pairs: each block's mean and squared deviations (two passes
    over the block, with the rounding correction, as scikit-learn computes a variance),
    merged into the running ones (Chan, Golub and LeVeque's pairwise update), so each
    dissimilarity vector is made once. Near-constant features get scale 1, detected as
    scikit-learn does.
    """
    n = len(left)
    mean, squares = np.zeros(signatures.shape[1]), np.zeros(signatures.shape[1])
    block = np.empty((min(n, SCALE_BLOCK), signatures.shape[1]))
    seen = 0
    for start in range(0, n, SCALE_BLOCK):
        rows = block[:min(SCALE_BLOCK, n - start)]
        np.subtract(signatures[left[start:start + len(rows)]],
                    signatures[right[start:start + len(rows)]], out=rows)
        np.abs(rows, out=rows)
        block_mean = rows.mean(axis=0)
        rows -= block_mean
        correction = rows.sum(axis=0)
        block_squares = np.einsum("ij,ij->j", rows, rows) - correction ** 2 / len(rows)
        delta = block_mean - mean
        total = seen + len(rows)
        mean += delta * (len(rows) / total)
        squares += block_squares + delta ** 2 * (seen * len(rows) / total)
        seen = total
    variance = squares / n
    eps = np.finfo(np.float64).eps
    constant = variance <= n * eps * variance + (n * mean * eps) ** 2
    scale = np.sqrt(variance)
    scale[constant] = 1.0
    return mean, scale


class PairKernel:
    """``kernel(a, b)`` between pairs ``a`` and ``b`` of ``DichotomyPairs``.

    RBF blocks in float32 (libsvm caches its kernel values in float32 anyway), linear in
    float64. The right operand's vectors are kept between calls: the solver evaluates
    many blocks against the same support vectors.
    """

    def __init__(self, pairs: DichotomyPairs, kernel: str, gamma: float) -> None:
        self.pairs, self.kernel, self.gamma = pairs, kernel, gamma
        self._right: tuple | None = None

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if self.kernel != "rbf":
            return kernel_matrix(self.pairs.rows(a), self.pairs.rows(b), self.kernel,
                                 self.gamma)
        if self._right is None or not np.array_equal(self._right[0], b):
            self._right = (np.array(b), *self.pairs.centred_rows32(b))
        _, right, right_norms = self._right
        rows, norms = self.pairs.centred_rows32(a)
        return kernel_block(rows, right, norms.astype(np.float32),
                            right_norms.astype(np.float32), "rbf", self.gamma)

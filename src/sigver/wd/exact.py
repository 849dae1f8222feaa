"""The exact writer-dependent method: each user's own scaling, and libsvm's solution
found through a working set (``sigver.protocols.active_set``) with kernel values from
BLAS in float64.

The published computation fits, per user, a scale-only ``StandardScaler`` on the user's
training rows and an SVC on the scaled rows; libsvm then evaluates kernel rows over
about 8,000 training rows (GPDS shape) one pair of vectors at a time, although only
about 90 of them end up as support vectors. Here the same SVM (same rows, same scale,
kernel, C and class weight) is fitted by libsvm on a small working set (the user's own
rows and the negatives nearest to its genuines, grown with the rows that violate the
optimality condition) and checked against every training row: libsvm's solution on the
whole set, to libsvm's own tolerance (docs/reproducing.md). Small training sets (up to
``FULL_KERNEL_ROWS``) get libsvm on their whole kernel matrix instead, which follows
libsvm's own path.

A user's scaling never copies the fold: with ``w = 1 / scale ** 2``,

    |(x - y) / scale|^2 = (x * x) @ w + (y * y) @ w - 2 x @ (w * y),

so the fold keeps its training rows and their squares once, and a user needs one
matrix-vector product for its squared norms, and products of every row against its
support vectors only (the bulk of its time: a user has few).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sigver.protocols.active_set import fit_active_set
from sigver.protocols.kernels import fit_precomputed, kernel_matrix
from sigver.wd.fast import ADDED_PER_FIT, NEAREST_NEGATIVES, largest  # same sizes

# Training sets up to this many rows get libsvm on their whole kernel matrix instead
# (below it, BLAS computes the matrix faster than libsvm computes its kernel rows).
FULL_KERNEL_ROWS = 1000
# Rows per block when summing the negatives' statistics (bounds the temporary).
SUM_ROWS = 4096


class FoldRows:
    """A fold's training pool, prepared once for every user's kernel.

    Parameters
    ----------
    pool
        The fold's training rows, float64: ``n_dev`` development negatives, then the
        exploitation users' training genuines. Centred in place for the RBF kernel (on
        the negatives' mean: distances do not change, and the smaller products round
        less); the linear kernel depends on the origin and keeps the raw rows.
    n_dev
        Number of development negatives.
    svm_type
        ``"rbf"`` or ``"linear"``.
    """

    def __init__(self, pool: np.ndarray, n_dev: int, svm_type: str) -> None:
        self.n_dev, self.svm_type = n_dev, svm_type
        base = pool[:n_dev] if n_dev else pool
        self.centre = np.zeros(pool.shape[1])
        if svm_type == "rbf":
            self.centre = base.mean(axis=0)
            pool -= self.centre
        self.x = pool
        self.squares = np.square(pool)
        # The variances are summed around the negatives' mean (or the pool's), not 0:
        # E[x^2] - E[x]^2 of raw values cancels catastrophically for features that are
        # (nearly) constant, which StandardScaler must see as constant. A user's
        # variance then adds only its own rows to the negatives' sums.
        self.shift = base.mean(axis=0)
        self.dev_sum = np.zeros(pool.shape[1])
        self.dev_squares = np.zeros(pool.shape[1])
        for start in range(0, n_dev, SUM_ROWS):
            block = pool[start:min(start + SUM_ROWS, n_dev)] - self.shift
            self.dev_sum += block.sum(axis=0)
            self.dev_squares += np.square(block).sum(axis=0)

    def user_scale(self, own: np.ndarray) -> np.ndarray:
        """``StandardScaler(with_mean=False)``'s scale of the negatives and the pool
        rows ``own``: the population standard deviation, 1 for features that
        scikit-learn's test finds constant."""
        n = self.n_dev + len(own)
        shifted = self.x[own] - self.shift
        mean = (self.dev_sum + shifted.sum(axis=0)) / n
        variance = np.maximum(
            (self.dev_squares + np.square(shifted).sum(axis=0)) / n - mean ** 2, 0.0)
        eps = np.finfo(np.float64).eps
        raw_mean = mean + self.shift + self.centre
        constant = variance <= n * eps * variance + (n * raw_mean * eps) ** 2
        scale = np.sqrt(variance)
        scale[constant] = 1.0
        return scale


class UserKernel:
    """One user's kernel over its training rows, in the user's own scaling.

    Training rows are the fold's negatives (``0 .. n_dev - 1``) followed by the user's
    own rows (pool rows ``own``). The kernel of every training row against a row asked
    for as a support vector is kept, so that each later check of the decision function
    over every row is a matrix-vector product.
    """

    def __init__(self, fold: FoldRows, own: np.ndarray, scale: np.ndarray,
                 gamma: float) -> None:
        self.fold, self.gamma = fold, gamma
        self.rows = np.concatenate([np.arange(fold.n_dev), own])
        self.weights = 1.0 / np.square(scale)
        self.own_x = fold.x[own]
        self.norms = np.concatenate([fold.squares[:fold.n_dev] @ self.weights,
                                     fold.squares[own] @ self.weights])
        self.slot = np.full(len(self.rows), -1, dtype=np.int64)
        self.columns = np.empty((0, len(self.rows)))

    def _finish(self, products: np.ndarray, a: np.ndarray | slice,
                b: np.ndarray) -> np.ndarray:
        """The kernel from the scaled products of rows ``a`` x ``b``, in place."""
        if self.fold.svm_type == "linear":
            return products
        # |x - z|^2 = |x|^2 + |z|^2 - 2 x.z, clipped at 0 against rounding
        products *= -2.0
        products += self.norms[a][:, None]
        products += self.norms[b][None, :]
        np.maximum(products, 0.0, out=products)
        products *= -self.gamma
        return np.exp(products, out=products)

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The kernel between training rows ``a`` and ``b`` (working-set blocks)."""
        x = self.fold.x
        products = (x[self.rows[a]] * self.weights) @ x[self.rows[b]].T
        return self._finish(products, a, b)

    def against_all(self, b: np.ndarray) -> np.ndarray:
        """The kernel of rows ``b`` against every training row, ``len(b) x n``."""
        missing = np.unique(b[self.slot[b] < 0])
        if len(missing):
            n_dev = self.fold.n_dev
            right = self.fold.x[self.rows[missing]] * self.weights
            block = np.empty((len(self.rows), len(missing)))
            np.matmul(self.fold.x[:n_dev], right.T, out=block[:n_dev])
            np.matmul(self.own_x, right.T, out=block[n_dev:])
            block = self._finish(block, slice(None), missing)
            self.slot[missing] = len(self.columns) + np.arange(len(missing))
            self.columns = np.concatenate([self.columns, block.T])
        return self.columns[self.slot[b]]

    def nearest_negatives(self, rows: np.ndarray, count: int) -> np.ndarray:
        """The ``count`` negatives nearest to any of ``rows`` (in the scaled space)."""
        values = self.against_all(rows)[:, :self.fold.n_dev]
        if self.fold.svm_type == "linear":  # values are products: |x - z|^2 from them
            distance = (self.norms[rows][:, None] + self.norms[None, :self.fold.n_dev]
                        - 2 * values).min(axis=0)
        else:  # the RBF kernel decreases with the distance
            distance = -values.max(axis=0)
        return largest(-distance, count)

    def decision(self, rows: np.ndarray, support: np.ndarray,
                 coef: np.ndarray) -> np.ndarray:
        """``kernel(rows, support) @ coef``."""
        return (coef @ self.against_all(support))[rows]


@dataclass
class UserSVM:
    """A user's SVM: what a worker sends back (small: no rows).

    Attributes
    ----------
    scale
        The user's ``StandardScaler(with_mean=False)`` scale.
    support, dual_coef, intercept
        Pool rows of the support vectors, their ``alpha * y``, and the intercept.
    """

    scale: np.ndarray
    support: np.ndarray
    dual_coef: np.ndarray
    intercept: float


@dataclass
class ExactWDClassifier:
    """A user's SVM of the exact method, scoring raw feature vectors.

    Attributes
    ----------
    pool, centre
        The fold's rows as ``FoldRows`` keeps them (shared by the fold's classifiers
        rather than copied) and the centre subtracted from them.
    svm
        The user's scale and SVM; the support vectors are rows ``svm.support`` of
        ``pool``.
    kernel, gamma
        ``"rbf"`` or ``"linear"``, and the RBF width.
    """

    pool: np.ndarray
    centre: np.ndarray
    svm: UserSVM
    kernel: str
    gamma: float

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """SVM decision values of raw feature rows (positive = genuine)."""
        svm = self.svm
        x = (np.asarray(x, dtype=np.float64) - self.centre) / svm.scale
        k = kernel_matrix(x, self.pool[svm.support] / svm.scale, self.kernel, self.gamma)
        return k @ svm.dual_coef + svm.intercept


def fit_user(fold: FoldRows, own: np.ndarray, n_pos: int, C: float,
             gamma: float) -> UserSVM:
    """One user's SVM on every negative and its own rows (pool rows ``own``:
    exploitation negatives, then ``n_pos`` genuines), in the user's own scaling.

    Up to ``FULL_KERNEL_ROWS`` training rows, libsvm runs on the whole kernel matrix,
    so it takes the straightforward pipeline's own path (the same solution up to the
    rounding of kernel values, ~1e-7); beyond, it runs on a working set (the same
    solution to libsvm's tolerance, ~1e-3), where the products of every row with
    every row would cost far more than libsvm's own kernel rows.
    """
    scale = fold.user_scale(own)
    kernel = UserKernel(fold, own, scale, gamma)
    n = len(kernel.rows)
    labels = -np.ones(n)
    labels[n - n_pos:] = 1
    weights = {1: (n - n_pos) / n_pos}
    if n <= FULL_KERNEL_ROWS:
        support, coef, intercept = _fit_whole(kernel, labels, n_pos, C, weights)
    else:
        nearest = kernel.nearest_negatives(np.arange(n - n_pos, n), NEAREST_NEGATIVES)
        solution = fit_active_set(kernel, labels, C=C, class_weight=weights,
                                  initial=np.concatenate([nearest,
                                                          np.arange(fold.n_dev, n)]),
                                  max_add=ADDED_PER_FIT, decision=kernel.decision)
        support, coef, intercept = (solution.support, solution.dual_coef,
                                    solution.intercept)
    return UserSVM(scale, kernel.rows[support], coef, intercept)


def _fit_whole(kernel: UserKernel, labels: np.ndarray, n_pos: int, C: float,
               weights: dict) -> tuple[np.ndarray, np.ndarray, float]:
    """libsvm on the whole kernel matrix, rows in the straightforward pipeline's order
    (genuines, exploitation negatives, development negatives: libsvm's path depends on
    it); support vectors as training rows."""
    n, n_dev = len(labels), kernel.fold.n_dev
    order = np.concatenate([np.arange(n - n_pos, n), np.arange(n_dev, n - n_pos),
                            np.arange(n_dev)])
    matrix = kernel(order, order)
    # the kernel of a row with itself exactly, as libsvm's own computes it
    matrix[np.diag_indices(n)] = (1.0 if kernel.fold.svm_type == "rbf"
                                  else kernel.norms[order])
    support, coef, intercept = fit_precomputed(matrix, labels[order], C, weights)
    return order[support], coef, intercept

"""The fast writer-dependent method: one scale per fold, shared kernel values, and each
user's SVM fitted through a working set (``sigver.protocols.active_set``).

Every user of a fold trains against the same development negatives, and a user's SVM
has few support vectors among them (about 80 of 8,134 at GPDS scale). So each user's
SVM is fitted by libsvm on a small working set (its own rows and the negatives nearest
to its genuines, grown with the negatives that violate the optimality condition) and
checked against every negative with kernel values shared by all users:

* the kernel between the users' own rows and the negatives, one block for the fold;
* beyond ``KERNEL_MEMORY``, the kernel rows of the negatives that become some user's
  support vectors (needed to check every negative), computed on first use in blocks
  and cached; a working set's own kernel is then computed directly.

Memory then grows with the negatives times the negatives actually used, not with the
square of the negatives (28,000 for 2,000 development users).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sigver.protocols.active_set import fit_active_set
from sigver.protocols.kernels import kernel_block, kernel_matrix

# Negatives nearest to a user's genuines in its first working set.
NEAREST_NEGATIVES = 128
# Most violating negatives added to a working set per fit.
ADDED_PER_FIT = 256
# Rows per block of the kernel between the users' own rows and the negatives.
BLOCK_ROWS = 2048
# Kernel rows of negatives per chunk of the fold's cache (allocated as needed).
CACHE_CHUNK = 256
# Bytes of kernel values a fold keeps (0.4 GiB at GPDS scale: every row against the
# negatives; beyond, a cache of negatives' rows).
KERNEL_MEMORY = 1 << 30


def kernel_dtype(svm_type: str) -> type:
    """Precision of the shared kernel values.

    float32 for the RBF kernel: its values lie in (0, 1] and libsvm caches them in
    float32 anyway, so the half-price products leave the solutions unchanged up to
    libsvm's own rounding. float64 for the linear kernel: its values are unbounded and
    its solutions are flat enough that float32 rounding moves the decision values by
    the solver's tolerance (1e-3).
    """
    return np.float32 if svm_type == "rbf" else np.float64


@dataclass
class WDClassifier:
    """A user's SVM of the fast method, scoring raw feature vectors.

    The support vectors are rows ``support`` of ``pool`` (the fold's scaled candidate
    training rows, shared by all users' classifiers rather than copied).
    """

    scale: np.ndarray
    pool: np.ndarray
    support: np.ndarray
    dual_coef: np.ndarray
    intercept: float
    kernel: str
    gamma: float

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """SVM decision values of raw feature rows (positive = genuine)."""
        k = kernel_matrix(np.asarray(x, dtype=np.float64) / self.scale,
                          self.pool[self.support], self.kernel, self.gamma)
        return k @ self.dual_coef + self.intercept


class FoldKernel:
    """Kernel values between rows of a fold's pool (negatives first, then own rows).

    Keeps the kernel of every pool row against the negatives when it fits in
    ``memory`` bytes (one symmetric computation: GPDS scale, 8,134 negatives, 0.4 GiB
    in float32); otherwise the users' own rows against the negatives plus, computed on
    first use, the rows of the negatives that become support vectors, the least
    recently used dropped beyond ``memory``.

    Parameters
    ----------
    scaled
        The pool, scaled: ``n_dev`` development negatives, then the users' own rows.
    n_dev
        Number of development negatives.
    svm_type, gamma
        The kernel.
    memory
        Bytes for kernel values.
    """

    def __init__(self, scaled: np.ndarray, n_dev: int, svm_type: str, gamma: float,
                 memory: int = KERNEL_MEMORY) -> None:
        self.n_dev, self.svm_type, self.gamma = n_dev, svm_type, gamma
        dtype = kernel_dtype(svm_type)
        # float32 RBF: centred on the negatives (distances do not change), so the
        # products, whose rounding grows with their magnitude, stay small
        centre = scaled[:n_dev].mean(axis=0) if dtype == np.float32 and n_dev else 0.0
        self.x = np.subtract(scaled, centre, dtype=dtype)
        self.norms = np.einsum("ij,ij->i", self.x, self.x, dtype=np.float64).astype(dtype)
        self.slot = np.full(n_dev, -1, dtype=np.int64)
        itemsize = np.dtype(dtype).itemsize
        if len(scaled) * n_dev * itemsize <= memory:
            self.full = self._full_block()
            self.own = self.full[n_dev:]
            return
        self.full = None
        self.own = np.empty((len(scaled) - n_dev, n_dev), dtype=dtype)
        for start in range(n_dev, len(scaled), BLOCK_ROWS):
            stop = min(start + BLOCK_ROWS, len(scaled))
            self.own[start - n_dev:stop - n_dev] = self._block(np.arange(start, stop))
        self.max_chunks = max(1, (memory - self.own.nbytes) // (CACHE_CHUNK * n_dev
                                                                * itemsize))
        self.chunks: list[np.ndarray] = []
        self.chunk_rows: list[np.ndarray] = []  # the negatives each chunk holds
        self.chunk_used: list[int] = []
        self.clock = 0
        self.computed_rows = 0

    def _block(self, rows: np.ndarray | slice, first: int = 0,
               out: np.ndarray | None = None) -> np.ndarray:
        """Kernel of pool rows against the negatives from ``first`` on (into ``out``)."""
        norms = self.norms if self.svm_type == "rbf" else None
        cols = slice(first, self.n_dev)
        return kernel_block(self.x[rows], self.x[cols], None if norms is None else norms[rows],
                            None if norms is None else norms[cols], self.svm_type,
                            self.gamma, out=out)

    def _full_block(self) -> np.ndarray:
        """Every pool row against the negatives; the symmetric negatives x negatives
        part computed once per pair of row blocks and mirrored. Blocks are written in
        place (no temporary block and copy)."""
        n_dev, n = self.n_dev, len(self.x)
        out = np.empty((n, n_dev), dtype=self.x.dtype)
        for start in range(0, n_dev, BLOCK_ROWS):
            stop = min(start + BLOCK_ROWS, n_dev)
            self._block(slice(start, stop), start, out=out[start:stop, start:])
            # the later negatives' columns of this block, mirrored
            out[stop:n_dev, start:stop] = out[start:stop, stop:n_dev].T
        for start in range(n_dev, n, BLOCK_ROWS):
            self._block(slice(start, start + BLOCK_ROWS), out=out[start:start + BLOCK_ROWS])
        return out

    def rows_of(self, rows: np.ndarray) -> np.ndarray:
        """Kernel of pool rows against every negative."""
        if self.full is not None:
            return self.full[rows]
        out = np.empty((len(rows), self.n_dev), dtype=self.x.dtype)
        own = rows >= self.n_dev
        out[own] = self.own[rows[own] - self.n_dev]
        negatives = rows[~own]
        where = np.flatnonzero(~own)
        slots = self.slot[negatives]
        cached = slots >= 0
        self.clock += 1
        for chunk in np.unique(slots[cached] // CACHE_CHUNK):
            here = cached & (slots // CACHE_CHUNK == chunk)
            out[where[here]] = self.chunks[chunk][slots[here] % CACHE_CHUNK]
            self.chunk_used[chunk] = self.clock
        # the rest computed into the result, then cached (possibly evicting rows
        # copied above)
        missing, inverse = np.unique(negatives[~cached], return_inverse=True)
        computed = np.empty((len(missing), self.n_dev), dtype=self.x.dtype)
        for start in range(0, len(missing), CACHE_CHUNK):
            stop = start + CACHE_CHUNK
            computed[start:stop] = self._cache(missing[start:stop])
        out[where[~cached]] = computed[inverse]
        return out

    def _cache(self, rows: np.ndarray) -> np.ndarray:
        """Compute the rows of negatives and keep them in a chunk (evicting the least
        recently used one when the cache is full)."""
        block = self._block(rows)
        self.computed_rows += len(rows)
        if len(self.chunks) < self.max_chunks:
            self.chunks.append(np.empty((CACHE_CHUNK, self.n_dev), dtype=block.dtype))
            self.chunk_rows.append(np.empty(0, dtype=np.int64))
            self.chunk_used.append(0)
            chunk = len(self.chunks) - 1
        else:
            chunk = int(np.argmin(self.chunk_used))
            self.slot[self.chunk_rows[chunk]] = -1
        self.chunks[chunk][:len(rows)] = block
        self.chunk_rows[chunk] = rows
        self.slot[rows] = chunk * CACHE_CHUNK + np.arange(len(rows))
        self.chunk_used[chunk] = self.clock
        return block

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The kernel between pool rows ``a`` and ``b`` (few rows: a working set).

        Gathered from the full block when there is one; otherwise computed directly
        (a few hundred rows: far cheaper than the negatives' whole rows, of which only
        the support vectors' are needed, by ``decision``).
        """
        if self.full is None:
            if self.svm_type == "rbf":
                return kernel_block(self.x[a], self.x[b], self.norms[a], self.norms[b],
                                    "rbf", self.gamma)
            return self.x[a] @ self.x[b].T
        a_own, b_own = np.flatnonzero(a >= self.n_dev), np.flatnonzero(b >= self.n_dev)
        a_neg, b_neg = np.flatnonzero(a < self.n_dev), np.flatnonzero(b < self.n_dev)
        # only the entries asked for: whole rows of the block cost more to copy
        out = np.empty((len(a), len(b)), dtype=self.x.dtype)
        out[:, b_neg] = self.full[np.ix_(a, b[b_neg])]
        out[np.ix_(a_neg, b_own)] = self.full[np.ix_(b[b_own], a[a_neg])].T
        if len(a_own) and len(b_own):
            out[np.ix_(a_own, b_own)] = kernel_block(
                self.x[a[a_own]], self.x[b[b_own]], self.norms[a[a_own]],
                self.norms[b[b_own]], self.svm_type, self.gamma) \
                if self.svm_type == "rbf" else self.x[a[a_own]] @ self.x[b[b_own]].T
        return out

    def decision(self, rows: np.ndarray, support: np.ndarray,
                 coef: np.ndarray) -> np.ndarray:
        """``kernel(rows, support) @ coef`` for negatives ``rows``.

        The negatives' coefficients (at most C) in the kernel's precision; the
        positives', weighted by negatives / positives (hundreds), in float64.
        """
        own = support >= self.n_dev
        values = self.rows_of(support[own]).T @ coef[own]
        values += self.rows_of(support[~own]).T @ coef[~own].astype(self.x.dtype)
        return values[rows]


def largest(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest values, ties broken towards the lower index: the
    first ``k`` of a stable descending sort, as a set (ascending), found by a partition
    instead of a sort."""
    if k >= len(values) or k <= 0:
        return np.arange(len(values) if k > 0 else 0)
    threshold = np.partition(values, len(values) - k)[len(values) - k]
    above = np.flatnonzero(values > threshold)
    tied = np.flatnonzero(values == threshold)[:k - len(above)]
    return np.sort(np.concatenate([above, tied]))


def fit_user(kernel: FoldKernel, own_rows: np.ndarray, n_pos: int, C: float
             ) -> tuple[np.ndarray, np.ndarray, float]:
    """One user's SVM on every negative and its own rows (exploitation negatives, then
    ``n_pos`` positives): support rows (pool indices), dual coefficients, intercept."""
    n_dev = kernel.n_dev
    rows = np.concatenate([np.arange(n_dev), own_rows])
    labels = -np.ones(len(rows))
    labels[len(rows) - n_pos:] = 1
    positives = own_rows[len(own_rows) - n_pos:] - n_dev
    nearest = largest(kernel.own[positives].max(axis=0), NEAREST_NEGATIVES)
    initial = np.concatenate([nearest, np.arange(n_dev, len(rows))])
    # training rows are pool rows: the negatives, then the user's own rows
    solution = fit_active_set(lambda a, b: kernel(rows[a], rows[b]), labels, C=C,
                              class_weight={1: (len(rows) - n_pos) / n_pos},
                              initial=initial, max_add=ADDED_PER_FIT,
                              decision=lambda a, sv, coef: kernel.decision(rows[a], rows[sv],
                                                                           coef),
                              shrink=False)  # decision computes every negative anyway
    return rows[solution.support], solution.dual_coef, solution.intercept

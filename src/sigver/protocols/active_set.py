"""libsvm's SVM solution on a large training set, from fits on a small working set.

An SVM's solution depends only on its support vectors: the training rows with
``alpha = 0`` could be left out without changing it, as long as they satisfy the
optimality (KKT) condition ``y f(x) >= 1`` of the solution found without them. So the
solver here fits libsvm (on a precomputed kernel, computed in blocks with BLAS) on a
working set of rows, evaluates the decision function of every other row with matrix
products, adds the rows that violate ``y f(x) >= 1`` and fits again, until no row
outside the working set violates it. The result then satisfies libsvm's own stopping
criterion on the whole training set: every row outside lies on the right side of the
margin, and libsvm's ``rho`` lies within its tolerance of the optimum inside. It is the
solution libsvm finds on the whole set, up to that tolerance (the dual optimum of a
strictly positive definite kernel such as the RBF is unique): the same support vectors
except, at most, rows with a coefficient at the tolerance's scale, and decision values
within about 1e-3 (``tests/protocols/test_active_set.py``).

This is chunking, the classical decomposition of SVM training; libsvm then only sees a
kernel matrix of the working set (a few thousand rows) instead of evaluating kernel
rows over the whole set one pair of vectors at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sigver.protocols.kernels import fit_precomputed

# ``kernel(a, b)``: the kernel block between training rows ``a`` and ``b`` (indices)
KernelFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
# ``decision(rows, support, dual_coef)``: ``kernel(rows, support) @ dual_coef``
DecisionFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]

# Rows whose margin exceeds 1 by less than this after a pass over every row are
# re-checked after each fit; the others only in the final pass over every row.
SHRINK_SLACK = 0.5
# After a fit that added at most this fraction of ``max_add`` rows the solution has barely
# moved: a re-check of the candidates would most likely find nothing and be followed by
# the check of every row anyway, so that check comes first.
FEW_ADDED = 0.01


@dataclass
class ActiveSetSolution:
    """An SVM fitted by ``fit_active_set``.

    Attributes
    ----------
    support
        Training-row indices of the support vectors, ascending.
    dual_coef
        Their dual coefficients ``alpha_i * y_i`` (same order).
    intercept
        The intercept: the decision value is ``K(x, sv) @ dual_coef + intercept``.
    rounds
        libsvm fits made.
    working_size
        Rows of the last working set.
    """

    support: np.ndarray
    dual_coef: np.ndarray
    intercept: float
    rounds: int
    working_size: int


class _WorkingSet:
    """The working rows and their float64 kernel matrix (libsvm's input)."""

    def __init__(self, kernel: KernelFn, rows: np.ndarray, block_rows: int) -> None:
        self.kernel, self.block_rows = kernel, block_rows
        self.rows = np.empty(0, dtype=np.int64)
        self.matrix = np.empty((0, 0))
        self.add(rows)

    def add(self, new: np.ndarray) -> None:
        """Append rows, computing only the kernel blocks that involve them."""
        old, n = self.rows, len(self.rows)
        rows = np.concatenate([old, np.asarray(new, dtype=np.int64)])
        matrix = np.empty((len(rows), len(rows)))
        matrix[:n, :n] = self.matrix
        self.matrix = None  # free the old matrix before filling the new one
        for start in range(n, len(rows), self.block_rows):
            stop = min(start + self.block_rows, len(rows))
            matrix[start:stop] = self.kernel(rows[start:stop], rows)
            matrix[:n, start:stop] = matrix[start:stop, :n].T
        self.rows, self.matrix = rows, matrix


def fit_active_set(kernel: KernelFn, labels: np.ndarray, *, C: float,
                   class_weight: dict | None = None, initial: np.ndarray,
                   max_add: int = 4000, block_rows: int = 4096,
                   max_rounds: int = 200,
                   decision: DecisionFn | None = None,
                   shrink: bool = True) -> ActiveSetSolution:
    """Fit libsvm's C-SVC on all ``labels`` rows through a growing working set.

    Parameters
    ----------
    kernel
        ``kernel(a, b)`` returns the kernel between training rows ``a`` and ``b``
        (index arrays) as a ``len(a) x len(b)`` float array.
    labels
        +1 / -1 per training row.
    C, class_weight
        As for ``sklearn.svm.SVC``.
    initial
        The first working set (training-row indices; with both classes).
    max_add
        Most violating rows added per round.
    block_rows
        Rows per kernel block when evaluating the decision function.
    max_rounds
        Safety limit on the fits (``RuntimeError`` beyond it).
    decision
        A faster way to compute ``kernel(rows, support) @ dual_coef`` when the caller
        has the kernel values at hand (default: from ``kernel`` in blocks).
    shrink
        Between checks of every row, re-check only the rows near the margin at the
        last such check (``SHRINK_SLACK``). ``False`` when ``decision`` costs as much
        for a few rows as for all of them: every check is then over every row.
    """
    labels = np.asarray(labels)
    n = len(labels)
    working = _WorkingSet(kernel, np.unique(initial), block_rows)
    inside = np.zeros(n, dtype=bool)
    inside[working.rows] = True
    candidates, full, rounds = None, True, 0
    while True:
        rounds += 1
        if rounds > max_rounds:
            raise RuntimeError(f"active-set SVM did not converge in {max_rounds} fits")
        support, coef, intercept = _fit(working, labels, C, class_weight)
        while True:
            pool = np.flatnonzero(~inside) if full else candidates[~inside[candidates]]
            values = (decision(pool, support, coef) if decision is not None
                      else _decision(kernel, pool, support, coef, block_rows))
            margins = labels[pool] * (values + intercept)
            if full:
                candidates = pool[margins < 1 + SHRINK_SLACK]
            violators = pool[margins < 1]
            if len(violators) or full:
                break
            full = True  # the re-checked rows are fine: verify every row
        if not len(violators):
            order = np.argsort(support)
            return ActiveSetSolution(support[order], coef[order], intercept, rounds,
                                     len(working.rows))
        worst = violators[np.argsort(margins[margins < 1], kind="stable")[:max_add]]
        working.add(worst)
        inside[worst] = True
        full = not shrink or len(worst) <= FEW_ADDED * max_add


def _fit(working: _WorkingSet, labels: np.ndarray, C: float,
         class_weight: dict | None) -> tuple[np.ndarray, np.ndarray, float]:
    """libsvm on the working set's precomputed kernel."""
    support, coef, intercept = fit_precomputed(working.matrix, labels[working.rows], C,
                                               class_weight)
    return working.rows[support], coef, intercept


def _decision(kernel: KernelFn, rows: np.ndarray, support: np.ndarray, coef: np.ndarray,
              block_rows: int) -> np.ndarray:
    """``kernel(rows, support) @ coef`` in blocks of ``block_rows`` rows."""
    out = np.empty(len(rows))
    for start in range(0, len(rows), block_rows):
        block = kernel(rows[start:start + block_rows], support)
        # float64 sums: the class weights can make some coefficients large
        out[start:start + len(block)] = block @ coef
    return out

"""SVM kernels evaluated in blocks with BLAS, and the SVM decision value from a kernel.

libsvm evaluates its kernel one pair at a time; the fast paths of the protocols compute
whole kernel blocks with matrix products instead and hand them to libsvm as a
precomputed kernel (training) or multiply them with the dual coefficients (scoring).
"""

from __future__ import annotations

import numpy as np
from sklearn.svm import SVC

# Rows of the left operand per block: bounds the temporary memory of one block to
# block_rows x len(right) float64 values.
BLOCK_ROWS = 2048


def squared_norms(x: np.ndarray) -> np.ndarray:
    """Row-wise squared Euclidean norms."""
    return np.einsum("ij,ij->i", x, x)


def kernel_matrix(a: np.ndarray, b: np.ndarray, kernel: str, gamma: float,
                  out: np.ndarray | None = None,
                  b_norms: np.ndarray | None = None) -> np.ndarray:
    """The ``len(a) x len(b)`` kernel block, computed in float64.

    Parameters
    ----------
    a, b
        Row vectors (already scaled).
    kernel
        ``"rbf"`` (``exp(-gamma * |a - b|^2)``) or ``"linear"`` (``a . b``).
    gamma
        RBF width; ignored for the linear kernel.
    out
        Optional float64 array (or view) of the result's shape to write into.
    b_norms
        Precomputed ``squared_norms(b)``, when ``b`` is reused across calls.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if out is None:
        out = np.empty((len(a), len(b)), dtype=np.float64)
    if kernel == "rbf" and b_norms is None:
        b_norms = squared_norms(b)
    for start in range(0, len(a), BLOCK_ROWS):
        rows = a[start:start + BLOCK_ROWS]
        block = out[start:start + BLOCK_ROWS]
        np.matmul(rows, b.T, out=block)
        if kernel == "rbf":
            # |x - z|^2 = |x|^2 + |z|^2 - 2 x.z, clipped at 0 against rounding
            block *= -2.0
            block += squared_norms(rows)[:, None]
            block += b_norms[None, :]
            np.maximum(block, 0.0, out=block)
            block *= -gamma
            np.exp(block, out=block)
    return out


def make_svc(svm_type: str, C: float, gamma: float, class_weight: dict | None = None,
             precomputed: bool = False) -> SVC:
    """The SVC of the protocols (RBF with C and gamma, or linear with C)."""
    if svm_type not in ("rbf", "linear"):
        raise ValueError(f"svm_type must be 'rbf' or 'linear', got {svm_type!r}")
    if precomputed:
        return SVC(kernel="precomputed", C=C, class_weight=class_weight)
    if svm_type == "rbf":
        return SVC(kernel="rbf", C=C, gamma=gamma, class_weight=class_weight)
    return SVC(kernel="linear", C=C, class_weight=class_weight)

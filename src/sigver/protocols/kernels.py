"""SVM kernels evaluated in blocks with BLAS, and the SVM decision value from a kernel.

libsvm evaluates its kernel one pair at a time; the fast paths of the protocols compute
whole kernel blocks with matrix products instead and hand them to libsvm as a
precomputed kernel (training) or multiply them with the dual coefficients (scoring).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sklearn.svm import SVC

# Rows of the left operand per block: bounds the temporary memory of one block to
# block_rows x len(right) float64 values.
BLOCK_ROWS = 2048
# The SVM kernels of the protocols (``svm_type``).
SVM_TYPES = ("rbf", "linear")


def squared_norms(x: np.ndarray) -> np.ndarray:
    """Row-wise squared Euclidean norms."""
    return np.einsum("ij,ij->i", x, x)


def kernel_matrix(a: np.ndarray, b: np.ndarray, kernel: str, gamma: float,
                  out: np.ndarray | None = None,
                  b_norms: np.ndarray | None = None,
                  dtype: type = np.float64) -> np.ndarray:
    """The ``len(a) x len(b)`` kernel block.

    Parameters
    ----------
    a, b
        Row vectors (already scaled).
    kernel
        ``"rbf"`` (``exp(-gamma * |a - b|^2)``) or ``"linear"`` (``a . b``).
    gamma
        RBF width; ignored for the linear kernel.
    out
        Optional array (or view) of the result's shape and ``dtype`` to write into.
    b_norms
        Precomputed ``squared_norms(b)``, when ``b`` is reused across calls (float64
        only: the float32 path centres ``b`` first, which changes its norms).
    dtype
        ``np.float64`` (default) or ``np.float32``: the matrix products and the result
        in single precision, about twice as fast and half the memory. Meant for kernels
        handed to libsvm, which caches its kernel values in single precision anyway. For
        the RBF kernel both operands are first centred on ``b``'s mean (distances do not
        change), so the products, whose rounding error grows with their magnitude, stay
        small; the squared norms are computed in float64.
    """
    a, b = _prepared(a, b, kernel, dtype, b_norms)
    if out is None:
        out = np.empty((len(a), len(b)), dtype=dtype)
    if kernel == "rbf":
        b_norms = (squared_norms(b) if b_norms is None else b_norms).astype(dtype,
                                                                            copy=False)
    right = b.astype(dtype, copy=False)
    for start in range(0, len(a), BLOCK_ROWS):
        rows = a[start:start + BLOCK_ROWS]
        row_norms = squared_norms(rows).astype(dtype) if kernel == "rbf" else None
        _fill_block(rows.astype(dtype, copy=False), right, row_norms, b_norms, kernel,
                    gamma, out[start:start + BLOCK_ROWS])
    return out


def _prepared(a: np.ndarray, b: np.ndarray, kernel: str, dtype: type,
              b_norms: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Operands as float64, centred on ``b``'s mean for the float32 RBF kernel."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    single = np.dtype(dtype) == np.float32
    if not single and np.dtype(dtype) != np.float64:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    if single and b_norms is not None:
        raise ValueError("b_norms is only accepted with dtype float64")
    if single and kernel == "rbf" and len(b):
        centre = b.mean(axis=0)
        a, b = a - centre, b - centre
    return a, b


def kernel_block(rows: np.ndarray, right: np.ndarray, row_norms: np.ndarray | None,
                 right_norms: np.ndarray | None, kernel: str, gamma: float,
                 out: np.ndarray | None = None) -> np.ndarray:
    """The kernel of ``rows`` x ``right``, both already in the result's dtype (e.g.
    float32 rows centred by the caller), with their squared norms (RBF only); written
    into ``out`` (e.g. a view of a larger matrix) when given."""
    block = np.empty((len(rows), len(right)), dtype=rows.dtype) if out is None else out
    _fill_block(rows, right, row_norms, right_norms, kernel, gamma, block)
    return block


def _fill_block(rows: np.ndarray, right: np.ndarray, row_norms: np.ndarray | None,
                right_norms: np.ndarray | None, kernel: str, gamma: float,
                block: np.ndarray) -> None:
    """Write the kernel of ``rows`` x ``right`` (both of the block's dtype) into ``block``."""
    np.matmul(rows, right.T, out=block)
    if kernel == "rbf":
        # |x - z|^2 = |x|^2 + |z|^2 - 2 x.z, clipped at 0 against rounding
        block *= -2.0
        block += row_norms[:, None]
        block += right_norms[None, :]
        np.maximum(block, 0.0, out=block)
        block *= -gamma
        np.exp(block, out=block)


def fit_precomputed(matrix: np.ndarray, labels: np.ndarray, C: float,
                    class_weight: dict | None = None
                    ) -> tuple[np.ndarray, np.ndarray, float]:
    """libsvm's C-SVC on a precomputed kernel: ``(support, dual_coef, intercept)``.

    The same libsvm call, with the same arguments, as ``SVC(kernel="precomputed", C=C,
    class_weight=class_weight).fit(matrix, labels)`` makes (``support_``,
    ``dual_coef_[0]``, ``intercept_[0]`` are equal bit for bit,
    ``tests/protocols/test_kernels.py``), without the estimator's input checks, which
    cost more than libsvm itself on the working sets of a protocol's solver (hundreds of
    fits of a few hundred rows per fold). Only the checks these inputs can fail are
    kept.

    Parameters
    ----------
    matrix
        The square float64 kernel of the training rows (C order; copied otherwise).
    labels
        +1 / -1 per row, both present.
    C, class_weight
        As for ``sklearn.svm.SVC`` (``class_weight`` maps a label to its C factor).
    """
    from sklearn.svm import _libsvm  # the module SVC.fit calls

    matrix = np.ascontiguousarray(matrix, dtype=np.float64)
    labels = np.asarray(labels)
    if matrix.ndim != 2 or matrix.shape != (len(labels), len(labels)):
        raise ValueError(f"a {len(labels)} x {len(labels)} kernel is needed, got "
                         f"{matrix.shape}")
    positive = labels == 1
    if not np.all(positive | (labels == -1)) or positive.all() or not positive.any():
        raise ValueError("labels must be +1 / -1 with both classes present")
    weights = class_weight or {}
    unknown = set(weights) - {-1, 1}
    if unknown:
        raise ValueError(f"class_weight has labels {sorted(unknown)} not in +1 / -1")
    _libsvm.set_verbosity_wrap(0)  # a process-wide libsvm setting, which SVC sets per fit
    # SVC's encoding: classes sorted (-1, +1) as 0, 1, weights in that order
    support, _, _, dual_coef, intercept, *_ = _libsvm.fit(
        matrix, positive.astype(np.float64), svm_type=0, sample_weight=np.empty(0),
        class_weight=np.array([weights.get(-1, 1.0), weights.get(1, 1.0)], dtype=np.float64),
        kernel="precomputed", C=float(C), nu=0.5, probability=False, degree=3,
        shrinking=True, tol=1e-3, cache_size=200, coef0=0.0, gamma=0.0, epsilon=0.1,
        max_iter=-1, random_seed=0)
    # libsvm's first class is -1: SVC flips the signs to make +1 the positive side
    return support, -dual_coef[0], -float(intercept[0])


def make_svc(svm_type: str, C: float, gamma: float, class_weight: dict | None = None,
             precomputed: bool = False) -> SVC:
    """The SVC of the protocols (RBF with C and gamma, or linear with C)."""
    # imported here: scoring with kernel_matrix must not load scikit-learn
    from sklearn.svm import SVC

    if svm_type not in SVM_TYPES:
        raise ValueError(f"svm_type must be 'rbf' or 'linear', got {svm_type!r}")
    if precomputed:
        return SVC(kernel="precomputed", C=C, class_weight=class_weight)
    if svm_type == "rbf":
        return SVC(kernel="rbf", C=C, gamma=gamma, class_weight=class_weight)
    return SVC(kernel="linear", C=C, class_weight=class_weight)

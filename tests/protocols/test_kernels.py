"""Kernel blocks: float32 and symmetric (leading) paths against the float64 block."""

from __future__ import annotations

import numpy as np
import pytest

from sigver.protocols import kernels
from sigver.protocols.kernels import kernel_matrix, leading_kernel


@pytest.mark.parametrize("kernel", ["rbf", "linear"])
def test_float32_block_matches_float64(kernel):
    rng = np.random.default_rng(0)
    # non-negative, far from the origin: the centring of the float32 RBF path matters
    a, b = 5 + np.abs(rng.normal(size=(30, 64))), 5 + np.abs(rng.normal(size=(20, 64)))
    exact = kernel_matrix(a, b, kernel, 1 / 64)
    single = kernel_matrix(a, b, kernel, 1 / 64, dtype=np.float32)
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, exact, rtol=1e-5, atol=1e-6)
    if kernel == "rbf":
        assert exact.min() > 0.05 and exact.max() < 0.99  # not a saturated kernel


@pytest.mark.parametrize("kernel", ["rbf", "linear"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_rows, n", [(23, 17), (23, 16), (16, 16), (20, 7), (9, 0)])
def test_leading_kernel_equals_the_full_block(monkeypatch, kernel, dtype, n_rows, n):
    # 8-row blocks: the leading rows span several blocks, one of them straddling n
    monkeypatch.setattr(kernels, "BLOCK_ROWS", 8)
    x = np.abs(np.random.default_rng(n_rows + n).normal(size=(n_rows, 12)))
    got = leading_kernel(x, n, kernel, 0.1, dtype=dtype)
    assert got.shape == (n_rows, n) and got.dtype == dtype
    np.testing.assert_allclose(got, kernel_matrix(x, x[:n], kernel, 0.1, dtype=dtype),
                               rtol=1e-6, atol=1e-6)

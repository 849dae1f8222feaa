"""Kernel blocks: the float32 path against the float64 block."""

from __future__ import annotations

import numpy as np
import pytest

from sigver.protocols.kernels import kernel_matrix


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

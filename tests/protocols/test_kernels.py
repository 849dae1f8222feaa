"""Kernel blocks: the float32 path against the float64 block."""

from __future__ import annotations

import numpy as np
import pytest

from sigver.protocols.kernels import fit_precomputed, kernel_matrix


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


@pytest.mark.parametrize("class_weight", [None, {1: 7.5}, {-1: 0.5, 1: 3.0}])
def test_fit_precomputed_is_svc_bit_for_bit(class_weight, capfd):
    from sklearn.svm import SVC

    rng = np.random.default_rng(1)
    x = np.r_[rng.normal(0, 1, (15, 6)), rng.normal(0.7, 1.3, (60, 6))]
    labels = np.r_[np.ones(15), -np.ones(60)]
    order = rng.permutation(len(labels))  # classes interleaved, not in blocks
    x, labels = x[order], labels[order]
    matrix = kernel_matrix(x, x, "rbf", 0.15)
    svc = SVC(kernel="precomputed", C=2.0, class_weight=class_weight).fit(matrix, labels)
    support, coef, intercept = fit_precomputed(matrix, labels, 2.0, class_weight)
    assert np.array_equal(support, svc.support_)
    assert np.array_equal(coef, svc.dual_coef_[0])
    assert intercept == svc.intercept_[0]
    assert 0 < len(support) < len(labels)
    SVC(kernel="precomputed", verbose=True).fit(matrix, labels)  # libsvm verbose now
    capfd.readouterr()
    fit_precomputed(matrix, labels, 2.0, class_weight)
    assert capfd.readouterr().out == ""  # libsvm's progress report stays off


@pytest.mark.parametrize("labels, class_weight, problem", [
    (np.ones(4), None, "both classes"),
    (np.array([1, -1, 0, 1]), None, "both classes"),
    (np.array([1, -1, 1, -1]), {2: 3.0}, "not in"),
])
def test_fit_precomputed_rejects_what_libsvm_cannot_fit(labels, class_weight, problem):
    with pytest.raises(ValueError, match=problem):
        fit_precomputed(np.eye(4), labels, 1.0, class_weight)
    with pytest.raises(ValueError, match="4 x 4"):
        fit_precomputed(np.eye(3), np.array([1, -1, 1, -1]), 1.0)

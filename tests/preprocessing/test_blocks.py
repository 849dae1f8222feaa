"""The banded, near-pixels-only Gaussian filtering of the fast path is exact.

Filtering a window that holds a point's whole support gives scipy's value for the whole
image bit for bit; these tests check that claim, that the blocks cover every pixel whose
value can matter, and that the fast ink test and resize still equal the published rule
when the blocks are cut very small (many windows, many image edges).
"""

import warnings
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage as ndi
from skimage import filters

from preprocessing_helpers import drawn_signature
from reference_preprocessing import preprocess_signature as ref_preprocess
from sigver.preprocessing import _filtering, normalize
from sigver.preprocessing.normalize import find_ink, preprocess_signature


def sparse_image(seed, shape, fill):
    """Clusters of random values on 0, some touching the image edges."""
    rng = np.random.default_rng(seed)
    img = np.zeros(shape, np.uint8)
    for _ in range(int(rng.integers(1, 6))):
        r, c = rng.integers(0, shape[0]), rng.integers(0, shape[1])
        h, w = rng.integers(1, 30, size=2)
        patch = img[r:r + h, c:c + w]
        patch[rng.random(patch.shape) < fill] = rng.integers(1, 256)
    return img


# Band height and merge gap of the blocks: the defaults, and very small blocks.
BLOCK_SIZES = [(_filtering.FILTER_BAND, _filtering.FILTER_MERGE_GAP), (1, 0), (7, 3)]


@contextmanager
def block_size(band, gap):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_filtering, "FILTER_BAND", band)
        patch.setattr(_filtering, "FILTER_MERGE_GAP", gap)
        yield


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), height=st.integers(1, 120), width=st.integers(1, 160),
       sigma0=st.sampled_from([0.0, 1e-16, 0.05, 0.7, 2.0, 2.3, 4.1]),
       sigma1=st.sampled_from([0.0, 0.05, 1.3, 2.0, 2.3, 3.6]),
       mode=st.sampled_from(["nearest", "grid-constant"]), fill=st.floats(0.05, 1.0),
       sizes=st.sampled_from(BLOCK_SIZES))
def test_blocks_give_scipys_values_bit_for_bit_and_cover_the_support(
        seed, height, width, sigma0, sigma1, mode, fill, sizes):
    img = sparse_image(seed, (height, width), fill)
    sigma = (sigma0, sigma1)
    weights = tuple(_filtering.gaussian_weights(s) if s > 1e-15 else None for s in sigma)
    radius = tuple(0 if w is None else w.size // 2 for w in weights)
    near = img != 0
    out = np.full(img.shape, np.nan)
    with block_size(*sizes):
        for block, window, inner in _filtering.near_blocks(near, radius):
            out[block] = _filtering.filter2d(img[window], weights, mode)[inner]
    full = ndi.gaussian_filter(img.astype(np.float64), sigma, mode=mode, truncate=4.0)
    covered = ~np.isnan(out)
    np.testing.assert_array_equal(out[covered], full[covered])
    support = ndi.binary_dilation(near, np.ones([2 * r + 1 for r in radius], bool))
    assert not (support & ~covered).any()
    if mode == "grid-constant":
        assert not full[~covered].any()  # far from non-zero pixels the filter gives 0
    first, last = sorted(np.random.default_rng(seed).integers(0, height + 1, size=2))
    some_rows = _filtering.filter2d(img, weights, mode, rows=slice(first, last))
    np.testing.assert_array_equal(some_rows[first:last], full[first:last])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), height=st.integers(20, 140),
       width=st.integers(20, 200), strokes=st.integers(1, 4),
       sizes=st.sampled_from(BLOCK_SIZES))
def test_ink_pixels_are_the_published_rule(seed, height, width, strokes, sizes):
    img = drawn_signature(seed, (height, width), strokes=strokes)
    blurred = filters.gaussian(img, sigma=2, preserve_range=True)
    threshold = filters.threshold_otsu(img)
    ref_rows, ref_cols = np.where(~(blurred > threshold))
    if ref_rows.size == 0:
        return  # the midpoint rule applies; tested in test_preprocessing_fast
    with block_size(*sizes):
        rows, cols, found = find_ink(img)
    assert found == threshold
    np.testing.assert_array_equal(rows, ref_rows)
    np.testing.assert_array_equal(cols, ref_cols)


@pytest.mark.parametrize("sizes", BLOCK_SIZES)
@pytest.mark.parametrize("canvas", [(952, 1360), (600, 850), (730, 1042), (700, 1000)])
def test_blocks_preprocess_like_the_reference_at_dataset_canvases(sizes, canvas):
    for seed in range(2):
        img = drawn_signature(100 + seed, (250 + 50 * seed, 420 + 70 * seed), strokes=4)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            with block_size(*sizes):
                fast = preprocess_signature(img, canvas)
            np.testing.assert_array_equal(fast, ref_preprocess(img, canvas))


def test_cached_weights_are_read_only_and_are_scipys():
    weights = _filtering.gaussian_weights(2.0)
    with pytest.raises(ValueError):
        weights[0] = 1.0
    signal = np.random.default_rng(0).random(50)
    np.testing.assert_array_equal(
        ndi.correlate1d(signal, weights, mode="nearest"),
        ndi.gaussian_filter1d(signal, 2.0, mode="nearest", truncate=4.0))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), height=st.integers(1, 90), width=st.integers(1, 90),
       fill=st.floats(0.001, 1.0))
def test_ink_extent_is_the_published_box_and_centre_of_mass(seed, height, width, fill):
    ink = np.random.default_rng(seed).random((height, width)) < fill
    if not ink.any():
        ink[height // 2, width // 3] = True
    for axis, index in enumerate(np.nonzero(ink)):
        counts = ink.sum(axis=1 - axis)
        assert normalize._ink_extent(counts) == (
            index.min(), index.max(), int(index.mean() - index.min()))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), height=st.integers(1, 40), width=st.integers(1, 40),
       threshold=st.one_of(st.integers(-3, 260).map(float), st.floats(-5.0, 300.0)))
def test_background_removal_and_inversion_match_the_published_steps(seed, height, width,
                                                                   threshold):
    box = np.random.default_rng(seed).integers(0, 256, (height, width)).astype(np.uint8)
    expected = np.where(box > threshold, 0, 255 - box).astype(np.uint8)
    out = normalize._remove_background_and_invert(box, threshold)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), height=st.integers(1, 50), width=st.integers(1, 50),
       step=st.integers(1, 3))
def test_histogram_counts_every_gray_level(seed, height, width, step):
    img = np.random.default_rng(seed).integers(0, 256, (height, width)).astype(np.uint8)
    view = img[:, ::step]  # odd sizes and non-contiguous views too
    np.testing.assert_array_equal(normalize._histogram(view),
                                  np.bincount(view.ravel(), minlength=256))

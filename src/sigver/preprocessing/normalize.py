"""Signature image normalisation, pixel for pixel as published with SigNet ([1],
docs/preprocessing.md).

Pretrained SigNet weights only work on images prepared exactly like this: centre the
signature by its centre of mass on a fixed canvas, remove the background, invert (ink
bright), resize without distortion and crop the centre.

This is the fast path. The published procedure filters and resamples the whole canvas,
although both Gaussian filters only matter near a few pixels: the ink blur decides
``blurred > threshold``, which is certain (above) for a pixel farther than the filter
radius from every dark pixel, and the anti-aliasing filter of the inverted canvas is
exactly 0 farther than its radius from every non-zero pixel. Both filters therefore run
only on bands of rows cut into column runs near those pixels, each on a window holding
the whole filter support, with the same scipy routines and boundary modes, so every value
they produce is bit-identical to filtering the whole image (scipy computes each output
point from its support alone, in a fixed order). The resampling (scipy's order-1 zoom)
reads two rows and two columns per output pixel: the anti-aliasing filter's second pass
runs only on those rows, and the output is summed from those pixels with scipy's own
float operations, in its order. No canvas-sized image is built, and the large
temporaries live in per-thread buffers. The step-by-step version lives in
``tests/helpers/reference_preprocessing.py`` and the tests check both agree
(docs/preprocessing.md).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator

import numpy as np
from PIL import Image
from scipy import ndimage as ndi
from skimage import filters

from sigver.errors import SigverError
from sigver.preprocessing._filtering import (
    TRUNCATE,
    Slices,
    buffer,
    filter2d,
    gaussian_weights,
    near_blocks,
)
from sigver.preprocessing._resampling import resize_sparse

Size = tuple[int, int]

# Sigma of the blur that decides which pixels are ink (skimage.filters.gaussian's
# truncation, TRUNCATE).
INK_SIGMA = 2.0
# Otsu always splits an image in two. A page whose two classes differ by less than this
# many gray levels holds no real ink (blank paper, scanner noise, a uniform fill).
MIN_INK_CONTRAST = 20.0


class BlankImageError(SigverError):
    """The image holds no ink (a blank page or a uniform image)."""


class CanvasTooSmallWarning(UserWarning):
    """The signature is larger than the canvas; its middle part was kept."""


def preprocess_signature(img: np.ndarray, canvas_size: Size, img_size: Size = (170, 242),
                         input_size: Size | None = (150, 220)) -> np.ndarray:
    """Normalise a grayscale signature scan (dark ink on light paper) for SigNet.

    Parameters
    ----------
    img
        2-D uint8 image.
    canvas_size
        (H, W) of the dataset's canvas (e.g. (952, 1360) for GPDS).
    img_size
        Size after resizing (the stored size).
    input_size
        Size of the final centre crop; ``None`` (or equal to ``img_size``) skips it.

    Returns
    -------
    numpy.ndarray
        uint8 image, ink bright on a 0 background.

    Raises
    ------
    BlankImageError
        When the image holds no ink.

    Warns
    -----
    CanvasTooSmallWarning
        When the signature is larger than the canvas (its middle part is kept).
    """
    img = _as_gray_uint8(img)
    box, threshold, offset = _centered_window(img, canvas_size)
    inverted = _remove_background_and_invert(box, threshold,
                                             out=buffer("inverted", box.shape, np.uint8))
    resized = resize_sparse(inverted, offset, tuple(canvas_size), img_size)
    if input_size is not None and tuple(input_size) != tuple(img_size):
        return crop_center(resized, input_size)
    return resized


def _remove_background_and_invert(box: np.ndarray, threshold: float,
                                  out: np.ndarray | None = None) -> np.ndarray:
    """``np.where(box > threshold, 0, 255 - box)`` as uint8 (docs/preprocessing.md).

    For integer pixel values ``v > threshold`` is ``v > floor(threshold)``: the test and
    the masking stay in uint8, with no float or boolean-indexing pass over the box.
    ``out``: a uint8 array of the box's shape to write to (default: a new one).
    """
    inverted = np.subtract(np.uint8(255), box, out=out)
    level = math.floor(threshold)
    if level < 0:
        inverted[...] = 0
    elif level < 255:
        inverted *= box <= np.uint8(level)
    return inverted


def _as_gray_uint8(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.ndim != 2:
        raise SigverError(f"expected a 2-D grayscale image, got shape {img.shape}")
    return img.astype(np.uint8, copy=False)  # never written to


def find_ink(img: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Rows and columns of the ink pixels, and the Otsu threshold of ``img``.

    Ink is where a Gaussian-blurred copy (sigma 2) is not above the threshold computed
    on the original image. When that finds no ink although the image has real contrast
    (typically a bilevel, binarised scan: Otsu's threshold is then the ink level itself,
    and a thin stroke blurs above it everywhere), the published code crashes. Only in
    that case the ink test uses the midpoint between the mean ink and paper levels
    instead (the threshold returned, used for background removal, stays Otsu's).

    Raises
    ------
    BlankImageError
        When the image holds no ink (see ``MIN_INK_CONTRAST``).
    """
    ink, threshold = _ink_mask(_as_gray_uint8(img))
    rows, cols = np.nonzero(ink)
    return rows, cols, threshold


def _ink_mask(img: np.ndarray) -> tuple[np.ndarray, float]:
    """The boolean mask of the ink pixels ``find_ink`` lists, and the Otsu threshold."""
    threshold, levels = _ink_tests(img)
    for level in levels:
        ink = _blurred_not_above(img, level)
        if ink.any():
            return ink, threshold
    raise BlankImageError("the image has no ink (blank page)")


def _ink_profile(img: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The number of ink pixels (those ``find_ink`` lists) in each row and in each
    column, and the Otsu threshold; no image-sized mask is built."""
    threshold, levels = _ink_tests(img)
    for level in levels:
        rows = np.zeros(img.shape[0], dtype=np.int64)
        cols = np.zeros(img.shape[1], dtype=np.int64)
        for block, ink in _ink_blocks(img, level):  # disjoint blocks
            counts = ink.view(np.uint8)
            rows[block[0]] += counts.sum(axis=1, dtype=np.int64)
            cols[block[1]] += counts.sum(axis=0, dtype=np.int64)
        if rows.any():
            return rows, cols, threshold
    raise BlankImageError("the image has no ink (blank page)")


def _ink_tests(img: np.ndarray) -> tuple[float, tuple[float, ...]]:
    """Otsu's threshold, and the levels the ink test tries in turn (``find_ink``): the
    threshold unless it surely finds nothing, then the midpoint."""
    counts = _histogram(img)
    threshold, midpoint = _ink_levels(counts)
    if _may_hold_ink(img, threshold, counts):
        return threshold, (threshold, midpoint)
    return threshold, (midpoint,)


def _ink_extent(counts: np.ndarray) -> tuple[int, int, int]:
    """First and last index holding ink, and the published centre of mass relative to the
    first, ``int(mean(index) - min(index))``, from the ink pixels per line ``counts``.

    From per-line counts instead of listing every ink pixel: the sum of the indices is an
    exact integer either way, so the mean is the same float.
    """
    lines = np.flatnonzero(counts)
    first, last = int(lines[0]), int(lines[-1])
    mean = float(np.dot(lines, counts[lines])) / float(counts.sum())
    return first, last, int(mean - first)


def _may_hold_ink(img: np.ndarray, threshold: float, counts: np.ndarray) -> bool:
    """False when the published ink test surely finds nothing (cheap test, bilevel only).

    On a two-level image the dark level is Otsu's threshold, and a pixel's blurred value
    stays at or below it only if every pixel under the filter's square support is dark
    (the two levels differ by at least ``MIN_INK_CONTRAST``). ``counts`` is the image's
    histogram: whether a third gray level exists is read off it, with no pass over the
    image.
    """
    levels = np.flatnonzero(counts)
    if counts[levels[0]] + counts[levels[-1]] < img.size:
        return True
    size = 2 * int(TRUNCATE * INK_SIGMA + 0.5) + 1
    return bool((ndi.maximum_filter(img, size=size, mode="nearest") <= threshold).any())


def _blurred_not_above(img: np.ndarray, level: float) -> np.ndarray:
    """Boolean mask of the pixels where the blurred image (sigma 2, 'nearest' borders)
    is <= level (``_ink_blocks``)."""
    ink = np.zeros(img.shape, dtype=bool)
    for block, part in _ink_blocks(img, level):
        ink[block] = part
    return ink


def _ink_blocks(img: np.ndarray, level: float) -> Iterator[tuple[Slices, np.ndarray]]:
    """The pixels where the blurred image (sigma 2, 'nearest' borders) is <= level, as
    (block, boolean mask of the block) for disjoint blocks; no pixel outside them is.

    A pixel farther than the filter radius from every pixel <= int(level) + 1 averages
    values >= int(level) + 2, so its blurred value stays above ``level`` whatever the
    rounding: only pixels near those "dark" pixels can hold ink. The image is cut into
    bands of ``FILTER_BAND`` rows; in each band the filter runs only on the column runs near
    dark pixels, on a window holding their whole filter support (clipped at the image
    edge, where the 'nearest' border then extends the same pixels). scipy computes every
    output point from its support alone, in the same order, so those values are
    bit-identical to filtering the whole image.
    """
    dark = np.less_equal(img, int(level) + 1, out=buffer("dark", img.shape, bool))
    radius = int(TRUNCATE * INK_SIGMA + 0.5)
    weights = gaussian_weights(INK_SIGMA)
    for block, window, inner in near_blocks(dark, (radius, radius)):
        part = img[window]
        blurred = filter2d(part, (weights, weights), "nearest", rows=inner[0],
                           output=buffer("blurred", part.shape))
        yield block, blurred[inner] <= level


def otsu_threshold(img: np.ndarray) -> float:
    """Otsu threshold of a uint8 image (scikit-image's), refusing images without ink.

    Raises
    ------
    BlankImageError
        When the image is uniform, or the mean gray levels of Otsu's two classes differ
        by less than ``MIN_INK_CONTRAST``.
    """
    return _ink_levels(_histogram(_as_gray_uint8(img)))[0]


def _ink_levels(counts: np.ndarray) -> tuple[float, float]:
    """Otsu's threshold and the midpoint between the mean levels of its two classes, from
    the histogram ``counts`` of a uint8 image."""
    levels = np.nonzero(counts)[0]
    if levels.size < 2:
        raise BlankImageError("the image has no ink (blank page: a single gray level "
                              f"{int(levels[0]) if levels.size else 0})")
    lo, hi = int(levels[0]), int(levels[-1])
    # The same histogram scikit-image builds for an integer image, without its copies.
    threshold = filters.threshold_otsu(hist=(counts[lo:hi + 1], np.arange(lo, hi + 1)))
    values = np.arange(256)
    dark = values <= threshold
    dark_mean = (counts[dark] * values[dark]).sum() / counts[dark].sum()
    light_mean = (counts[~dark] * values[~dark]).sum() / counts[~dark].sum()
    if light_mean - dark_mean < MIN_INK_CONTRAST:
        raise BlankImageError(f"the image has no ink (blank page: ink and paper differ by "
                              f"{light_mean - dark_mean:.1f} gray levels)")
    return threshold, (dark_mean + light_mean) / 2


def _histogram(img: np.ndarray) -> np.ndarray:
    """Pixel count of each gray level 0..255 of a uint8 image (Pillow counts them, a
    few times faster than ``np.bincount``, which widens every value to an index)."""
    if img.size == 0:
        return np.zeros(256, dtype=np.int64)
    return np.asarray(Image.fromarray(np.ascontiguousarray(img)).histogram(), dtype=np.int64)


def _nonzero_span(mask: np.ndarray) -> tuple[tuple[int, int], tuple[int, int]]:
    """(first, last + 1) of the rows and of the columns holding a True value."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return (0, 0), (0, 0)
    return (int(rows[0]), int(rows[-1]) + 1), (int(cols[0]), int(cols[-1]) + 1)


def _centered_window(img: np.ndarray, canvas_size: Size
                     ) -> tuple[np.ndarray, float, tuple[int, int]]:
    """The boxed original pixels, the threshold, and the box's top-left corner on the
    canvas (docs/preprocessing.md)."""
    rows, cols, threshold = _ink_profile(img)
    r_min, r_max, r_center = _ink_extent(rows)
    c_min, c_max, c_center = _ink_extent(cols)
    # Upper bounds exclusive, as published: the last ink row / column is dropped.
    cropped = img[r_min:r_max, c_min:c_max]
    max_rows, max_cols = canvas_size
    r_start, cropped = _place(cropped, 0, max_rows // 2 - r_center, max_rows)
    c_start, cropped = _place(cropped, 1, max_cols // 2 - c_center, max_cols)
    return cropped, threshold, (r_start, c_start)


def normalize_image(img: np.ndarray, canvas_size: Size = (840, 1360)) -> np.ndarray:
    """Centre the signature on a white canvas by its centre of mass; remove background.

    Returns the full uint8 canvas (dark ink on 255), as the published step does.
    """
    img = _as_gray_uint8(img)
    box, threshold, (r_start, c_start) = _centered_window(img, canvas_size)
    canvas = np.full(tuple(canvas_size), 255, dtype=np.uint8)
    canvas[r_start:r_start + box.shape[0], c_start:c_start + box.shape[1]] = np.where(
        box > threshold, 255, box)
    return canvas


def _place(cropped: np.ndarray, axis: int, start: int, limit: int) -> tuple[int, np.ndarray]:
    """Start offset along ``axis`` keeping the box inside the canvas (middle kept if larger)."""
    length = cropped.shape[axis]
    if length > limit:
        warnings.warn(f"cropping image: the signature ({length} px) is larger than the "
                      f"canvas ({limit} px) along axis {axis}", CanvasTooSmallWarning,
                      stacklevel=4)
        begin = (length - limit) // 2
        index = [slice(None), slice(None)]
        index[axis] = slice(begin, begin + limit)
        return 0, cropped[tuple(index)]
    extra = start + length - limit
    if extra > 0:
        start -= extra
    return max(start, 0), cropped


def resize_image(img: np.ndarray, size: Size) -> np.ndarray:
    """Resize without distortion, then cut the overflowing dimension around its centre.

    Fast when most of ``img`` is 0 (as on an inverted canvas): only the non-zero region
    and its filter margin are anti-alias filtered.
    """
    img = _as_gray_uint8(img)
    rows, cols = _nonzero_span(img)
    return resize_sparse(img[rows[0]:rows[1], cols[0]:cols[1]], (rows[0], cols[0]),
                          img.shape, size)


def crop_center(img: np.ndarray, size: Size) -> np.ndarray:
    """Centre crop of ``img`` to ``size`` (start = (size - target) // 2)."""
    start_y = (img.shape[0] - size[0]) // 2
    start_x = (img.shape[1] - size[1]) // 2
    return img[start_y:start_y + size[0], start_x:start_x + size[1]]

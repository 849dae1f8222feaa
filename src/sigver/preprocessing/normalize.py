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
point from its support alone, in a fixed order). The resampling then reads that result as
the published code does. No full-canvas uint8 or float image is built per call (one zero
buffer per thread is reused). The step-by-step version lives in
``tests/reference_preprocessing.py`` and the tests check both agree.
"""

from __future__ import annotations

import functools
import math
import threading
import warnings
from collections.abc import Iterator

import numpy as np
from PIL import Image
from scipy import ndimage as ndi
from skimage import filters

from sigver.errors import SigverError

Size = tuple[int, int]
Slices = tuple[slice, slice]

# Sigma of the blur that decides which pixels are ink, and scipy's default filter extent
# (truncate = 4 standard deviations), as used by skimage.filters.gaussian.
INK_SIGMA = 2.0
TRUNCATE = 4.0
# Otsu always splits an image in two. A page whose two classes differ by less than this
# many gray levels holds no real ink (blank paper, scanner noise, a uniform fill).
MIN_INK_CONTRAST = 20.0
# Both Gaussian filters run band by band (rows) on the column runs near pixels that can
# change their result; runs closer than FILTER_MERGE_GAP columns share one filter call.
# Both only trade call overhead against filtered area (the values are exact whatever
# they are); chosen by timing the golden scans at the GPDS canvas.
FILTER_BAND = 64
FILTER_MERGE_GAP = 64

_scratch = threading.local()


def _buffer(name: str, shape: tuple[int, ...], dtype: type = np.float64) -> np.ndarray:
    """An uninitialised array of ``shape`` that this thread reuses for ``name``.

    The large temporaries of one call (filter outputs, the padded canvas part, the
    resampling's products) would each get fresh pages from the allocator, and faulting
    them in costs as much as the arithmetic; reused, they stay mapped. A buffer holds
    nothing from one use to the next and never leaves this module.
    """
    size = math.prod(shape)
    pool = getattr(_scratch, "pool", None)
    if pool is None:
        pool = _scratch.pool = {}
    flat = pool.get(name)
    if flat is None or flat.size < size or flat.dtype != dtype:
        flat = pool[name] = np.empty(max(size, 1), dtype=dtype)
    return flat[:size].reshape(shape)


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
                                             out=_buffer("inverted", box.shape, np.uint8))
    resized = _resize_sparse(inverted, offset, tuple(canvas_size), img_size)
    if input_size is not None and tuple(input_size) != tuple(img_size):
        return crop_center(resized, input_size)
    return resized


def _remove_background_and_invert(box: np.ndarray, threshold: float,
                                  out: np.ndarray | None = None) -> np.ndarray:
    """``np.where(box > threshold, 0, 255 - box)`` as uint8 (docs/preprocessing.md).

    For integer pixel values ``v > threshold`` is ``v > floor(threshold)``: the test and
    the masking stay in uint8, with no float or boolean-indexing pass over the box.
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
    dark = np.less_equal(img, int(level) + 1, out=_buffer("dark", img.shape, bool))
    radius = int(TRUNCATE * INK_SIGMA + 0.5)
    weights = _gaussian_weights(INK_SIGMA)
    for block, window, inner in _near_blocks(dark, (radius, radius)):
        part = img[window]
        blurred = _filter2d(part, (weights, weights), "nearest", rows=inner[0],
                            output=_buffer("blurred", part.shape))
        yield block, blurred[inner] <= level


def _near_blocks(near: np.ndarray, radius: tuple[int, int]
                 ) -> Iterator[tuple[Slices, Slices, Slices]]:
    """Blocks covering every pixel within ``radius`` (rows, cols) of a True pixel of ``near``.

    Yields (block, window, inner): the block, the window around it holding the filter
    support of all its pixels (clipped at the image edge), and the block's place in the
    window. The image is cut into bands of ``FILTER_BAND`` rows, and each band into the
    column runs near True pixels.
    """
    height, width = near.shape
    for top in range(0, height, FILTER_BAND):
        bottom = min(top + FILTER_BAND, height)
        lo, hi = max(top - radius[0], 0), min(bottom + radius[0], height)
        for start, stop in _column_runs(near[lo:hi].any(axis=0), radius[1]):
            left, right = max(start - radius[1], 0), min(stop + radius[1], width)
            yield ((slice(top, bottom), slice(start, stop)),
                   (slice(lo, hi), slice(left, right)),
                   (slice(top - lo, bottom - lo), slice(start - left, stop - left)))


def _column_runs(near: np.ndarray, radius: int) -> list[tuple[int, int]]:
    """(start, stop) runs of columns within ``radius`` of a True entry of ``near``.

    Runs closer than ``FILTER_MERGE_GAP`` columns are joined: filtering the gap costs less
    than a second filter call and its margins.
    """
    cols = np.flatnonzero(near)
    if cols.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(cols) > 2 * radius + FILTER_MERGE_GAP)
    starts = np.concatenate([cols[:1], cols[breaks + 1]]) - radius
    stops = np.concatenate([cols[breaks], cols[-1:]]) + radius + 1
    return [(max(int(a), 0), min(int(b), near.size)) for a, b in zip(starts, stops, strict=True)]


@functools.lru_cache(maxsize=64)
def _gaussian_weights(sigma: float) -> np.ndarray:
    """The correlation weights ``ndi.gaussian_filter1d`` uses for ``sigma`` (order 0).

    Read off the filter's response to a unit impulse: each output is one weight times 1
    plus exact zeros, so the values are the filter's own, bit for bit.
    """
    radius = int(TRUNCATE * float(sigma) + 0.5)
    impulse = np.zeros(2 * radius + 1)
    impulse[radius] = 1.0
    weights = ndi.gaussian_filter1d(impulse, sigma, mode="constant", truncate=TRUNCATE)
    weights.flags.writeable = False  # shared by every caller through the cache
    return weights


def _filter2d(image: np.ndarray, weights: tuple[np.ndarray | None, np.ndarray | None],
              mode: str, rows: slice | None = None,
              output: np.ndarray | None = None) -> np.ndarray:
    """``ndi.gaussian_filter`` of ``image`` as float64 given each axis's 1-D weights
    (``None``: the axis is not filtered), axis 0 first as scipy does.

    scipy reads uint8 lines into double buffers, so the values are those of filtering a
    float64 copy. The axis-1 pass filters each row on its own: with a slice of ``rows``
    it runs on those rows only (the others keep the axis-0 pass's values). ``output``: a
    float64 array of the image's shape to write to.
    """
    out = np.empty(image.shape) if output is None else output
    if weights[0] is None:
        out[...] = image
    else:
        ndi.correlate1d(image, weights[0], axis=0, output=out, mode=mode)
    if weights[1] is not None:
        view = out if rows is None else out[rows]
        ndi.correlate1d(view, weights[1], axis=1, output=view, mode=mode)
    return out


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


def _grow(rows: tuple[int, int], cols: tuple[int, int], radius: int | tuple[int, int],
          shape: tuple[int, ...]) -> tuple[tuple[int, int], tuple[int, int]]:
    """A (rows, cols) span grown by ``radius`` on each side, clipped to ``shape``."""
    r_rad, c_rad = (radius, radius) if isinstance(radius, int) else radius
    return ((max(rows[0] - r_rad, 0), min(rows[1] + r_rad, shape[0])),
            (max(cols[0] - c_rad, 0), min(cols[1] + c_rad, shape[1])))


def _slices(span: tuple[tuple[int, int], tuple[int, int]]) -> tuple[slice, slice]:
    return slice(*span[0]), slice(*span[1])


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
    return _resize_sparse(img[rows[0]:rows[1], cols[0]:cols[1]], (rows[0], cols[0]),
                          img.shape, size)


def _target_shape(shape: tuple[int, int], size: Size) -> tuple[tuple[int, int], bool]:
    """Size to resample to (the smaller ratio scaled exactly), and whether width overflows."""
    height, width = size
    width_ratio = shape[1] / width
    height_ratio = shape[0] / height
    if width_ratio > height_ratio:
        return (height, round(shape[1] / height_ratio)), True
    return (round(shape[0] / width_ratio), width), False


def _resize_sparse(window: np.ndarray, offset: tuple[int, int], shape: tuple[int, int],
                   size: Size) -> np.ndarray:
    """``resize_image`` of a ``shape`` image that is 0 except ``window`` at ``offset``.

    Reproduces ``skimage.transform.resize(image, target, mode="constant",
    anti_aliasing=True, preserve_range=True).astype(np.uint8)`` followed by the centre cut.
    """
    target, wide = _target_shape(shape, size)
    factors = np.divide(shape, target)
    zoom = [1 / f for f in factors]
    sigma = np.maximum(0, (factors - 1) / 2)
    # Like ndi.gaussian_filter, a sigma of at most 1e-15 leaves its axis unfiltered.
    weights = tuple(_gaussian_weights(float(s)) if s > 1e-15 else None for s in sigma)
    radius = tuple(0 if w is None else w.size // 2 for w in weights)
    r0, c0 = offset
    span = _grow((r0, r0 + window.shape[0]), (c0, c0 + window.shape[1]), radius, shape)
    padded = _buffer("padded", (span[0][1] - span[0][0], span[1][1] - span[1][0]), np.uint8)
    padded.fill(0)
    top, left = r0 - span[0][0], c0 - span[1][0]
    padded[top:top + window.shape[0], left:left + window.shape[1]] = window
    # The output size ndi.zoom derives from the zoom factors.
    out_shape = tuple(round(n * z) for n, z in zip(shape, zoom, strict=True))
    taps = (_linear_taps(shape[0], out_shape[0]), _linear_taps(shape[1], out_shape[1]))
    if taps[0] is None or taps[1] is None:
        out = _zoom_whole_canvas(padded, (span[0][0], span[1][0]), shape, weights, radius,
                                 zoom)
    else:
        out = _zoom_read_pixels(padded, (span[0][0], span[1][0]), taps, weights, radius)
    _clip_like_skimage(out, window, shape)
    resized = out.astype(np.uint8)
    height, width = size
    if wide:
        start = round((target[1] - width) / 2.0)
        return resized[:, start:start + width]
    start = round((target[0] - height) / 2.0)
    return resized[start:start + height, :]


Taps = tuple[np.ndarray, np.ndarray, np.ndarray]


def _linear_taps(n_in: int, n_out: int) -> Taps | None:
    """Where and how an order-1, grid-mode ``ndi.zoom`` from ``n_in`` to ``n_out`` samples
    reads one axis: for each output index the first of the two input indices and their
    weights, computed with scipy's own float operations (docs/preprocessing.md).

    ``None`` when some output reads past either end (an enlarging axis), where scipy's
    border rules apply instead.
    """
    coords = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    first = np.floor(coords)
    if first[0] < 0 or first[-1] + 1 > n_in - 1:
        return None
    near = 1.0 - (coords - first)
    return first.astype(np.intp), near, 1.0 - near


def _zoom_read_pixels(padded: np.ndarray, origin: tuple[int, int], taps: tuple[Taps, Taps],
                      weights: tuple[np.ndarray | None, np.ndarray | None],
                      radius: tuple[int, int]) -> np.ndarray:
    """The anti-aliased canvas resampled by ``ndi.zoom`` (order 1, grid mode), computing
    the filtered canvas only at the pixels the resampling reads.

    ``padded`` is the canvas's non-zero part with the filter margin around it, at
    ``origin``; the rest of the canvas filters to exactly 0. Each output value is summed
    as scipy's zoom sums it (the four neighbours in row-major order, each value times its
    row weight, then its column weight), so it is the same float.
    """
    (rows, r_near, r_far), (cols, c_near, c_far) = taps
    # Canvas rows and columns read; each output reads its first neighbour's place among
    # them and the next one.
    read_rows, top = _read_positions(rows)
    read_cols, left = _read_positions(cols)
    local_rows = read_rows - origin[0]
    local_cols = read_cols - origin[1]
    values = _buffer("values", (read_rows.size, read_cols.size))
    values.fill(0.0)
    near = np.not_equal(padded, 0, out=_buffer("near", padded.shape, bool))
    for block, part, _ in _near_blocks(near, radius):
        r_lo, r_hi = np.searchsorted(local_rows, (block[0].start, block[0].stop))
        c_lo, c_hi = np.searchsorted(local_cols, (block[1].start, block[1].stop))
        if r_lo == r_hi or c_lo == c_hi:
            continue
        # Axis 0 on the window, then axis 1 on the read rows only.
        window = padded[part]
        across = _filter2d(window, (weights[0], None), "grid-constant",
                           output=_buffer("across", window.shape))
        picked = across.take(local_rows[r_lo:r_hi] - part[0].start, axis=0,
                             out=_buffer("picked", (r_hi - r_lo, window.shape[1])))
        if weights[1] is not None:
            ndi.correlate1d(picked, weights[1], axis=1, output=picked, mode="grid-constant")
        values[r_lo:r_hi, c_lo:c_hi] = picked.take(local_cols[c_lo:c_hi] - part[1].start,
                                                   axis=1)
    # Each value times its row weight once per (output row, read column); then the
    # column weight per output, the four products added in scipy's order.
    shape = (top.size, values.shape[1])
    bottom = values.take(top + 1, axis=0, out=_buffer("bottom", shape))
    bottom *= r_far[:, None]
    top = values.take(top, axis=0, out=_buffer("top", shape))
    top *= r_near[:, None]
    shape = (top.shape[0], left.size)
    out, term = _buffer("out", shape), _buffer("term", shape)
    top.take(left, axis=1, out=out)
    out *= c_near
    for rows, cols, weights in ((top, left + 1, c_far), (bottom, left, c_near),
                                (bottom, left + 1, c_far)):
        rows.take(cols, axis=1, out=term)
        term *= weights
        out += term
    return out


def _read_positions(first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted positions an order-1 resampling reads (each ``first`` and the next one),
    and each ``first``'s index among them (the next one's is one more)."""
    read = np.zeros(int(first[-1]) + 2, dtype=bool)
    read[first] = True
    read[first + 1] = True
    return np.flatnonzero(read), (np.cumsum(read) - 1)[first]


def _zoom_whole_canvas(padded: np.ndarray, origin: tuple[int, int], shape: tuple[int, int],
                       weights: tuple[np.ndarray | None, np.ndarray | None],
                       radius: tuple[int, int], zoom: list[float]) -> np.ndarray:
    """The anti-aliased canvas resampled by ``ndi.zoom`` itself (an enlarging axis)."""
    canvas = np.zeros(shape)
    view = canvas[origin[0]:origin[0] + padded.shape[0],
                  origin[1]:origin[1] + padded.shape[1]]
    for block, part, inner in _near_blocks(padded != 0, radius):
        view[block] = _filter2d(padded[part], weights, "grid-constant")[inner]
    return ndi.zoom(canvas, zoom, order=1, mode="grid-constant", cval=0.0, grid_mode=True)


def _clip_like_skimage(out: np.ndarray, window: np.ndarray, shape: tuple[int, int]) -> None:
    """Clip to the input's value range, as ``skimage.transform.resize`` (clip=True) does."""
    if window.shape == tuple(shape):
        min_val, max_val = float(window.min()), float(window.max())
    else:  # the canvas around the window (empty when the image is all 0) is 0
        min_val = min(float(window.min()), 0.0) if window.size else 0.0
        max_val = max(float(window.max()), 0.0) if window.size else 0.0
    # skimage widens the range to include cval (0) when the output reaches it.
    if not min_val <= 0.0 <= max_val and out.min() <= 0.0 <= out.max():
        min_val, max_val = min(min_val, 0.0), max(max_val, 0.0)
    np.clip(out, min_val, max_val, out=out)


def crop_center(img: np.ndarray, size: Size) -> np.ndarray:
    """Centre crop of ``img`` to ``size`` (start = (size - target) // 2)."""
    start_y = (img.shape[0] - size[0]) // 2
    start_x = (img.shape[1] - size[1]) // 2
    return img[start_y:start_y + size[0], start_x:start_x + size[1]]

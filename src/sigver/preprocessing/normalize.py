"""Signature image normalisation, pixel for pixel as published with SigNet ([1], SPEC section 2).

Pretrained SigNet weights only work on images prepared exactly like this: centre the
signature by its centre of mass on a fixed canvas, remove the background, invert (ink
bright), resize without distortion and crop the centre.

This is the fast path. The published procedure filters and resamples the whole canvas,
although everything outside the pasted signature box is 0 after inversion. Here the two
Gaussian filters run only on the region whose result can differ from the background (the
ink bounding box plus the filter radius), with the same scipy routines and the same
boundary modes, so every value they produce is bit-identical to filtering the whole image;
the anti-aliasing filter's second pass runs only on the rows the resampling reads; the
resampling then reads that result as the published code does. No full-canvas uint8 or
float image is built per call (one zero buffer per thread is reused). The step-by-step
version lives in ``tests/reference_preprocessing.py`` and the tests check both agree.
"""

from __future__ import annotations

import threading
import warnings

import numpy as np
from scipy import ndimage as ndi
from skimage import filters

from sigver.errors import SigverError

Size = tuple[int, int]

# Sigma of the blur that decides which pixels are ink, and scipy's default filter extent
# (truncate = 4 standard deviations), as used by skimage.filters.gaussian.
INK_SIGMA = 2.0
TRUNCATE = 4.0
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
    inverted = np.where(box > threshold, 0, 255 - box).astype(np.uint8)
    resized = _resize_sparse(inverted, offset, tuple(canvas_size), img_size)
    if input_size is not None and tuple(input_size) != tuple(img_size):
        return crop_center(resized, input_size)
    return resized


def _as_gray_uint8(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.ndim != 2:
        raise SigverError(f"expected a 2-D grayscale image, got shape {img.shape}")
    return img.astype(np.uint8)


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
    img = _as_gray_uint8(img)
    threshold, midpoint = _ink_levels(img)
    rows, cols = (_blurred_not_above(img, threshold) if _may_hold_ink(img, threshold)
                  else (np.zeros(0, np.intp), np.zeros(0, np.intp)))
    if rows.size == 0:
        rows, cols = _blurred_not_above(img, midpoint)
    if rows.size == 0:
        raise BlankImageError("the image has no ink (blank page)")
    return rows, cols, threshold


def _may_hold_ink(img: np.ndarray, threshold: float) -> bool:
    """False when the published ink test surely finds nothing (cheap test, bilevel only).

    On a two-level image the dark level is Otsu's threshold, and a pixel's blurred value
    stays at or below it only if every pixel under the filter's square support is dark
    (the two levels differ by at least ``MIN_INK_CONTRAST``).
    """
    low, high = int(img.min()), int(img.max())
    if np.count_nonzero((img != low) & (img != high)):
        return True
    size = 2 * int(TRUNCATE * INK_SIGMA + 0.5) + 1
    return bool((ndi.maximum_filter(img, size=size, mode="nearest") <= threshold).any())


def _blurred_not_above(img: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns where the blurred image (sigma 2, 'nearest' borders) <= level."""
    # A pixel farther than the filter radius from every pixel <= int(level) + 1 averages
    # values >= int(level) + 2, so its blurred value stays above ``level`` whatever the
    # rounding: only pixels near those can hold ink, and elsewhere the sparse filter's
    # upper bound (255) keeps them above ``level`` too.
    dark_rows, dark_cols = _nonzero_span(img <= int(level) + 1)
    radius = int(TRUNCATE * INK_SIGMA + 0.5)
    inner = _grow(dark_rows, dark_cols, radius, img.shape)
    outer = _grow(inner[0], inner[1], radius, img.shape)
    blurred = ndi.gaussian_filter(img[_slices(outer)].astype(np.float64), INK_SIGMA,
                                  mode="nearest", truncate=TRUNCATE)
    inner_in_outer = tuple(slice(i.start - o.start, i.stop - o.start)
                           for i, o in zip(_slices(inner), _slices(outer), strict=True))
    rows, cols = np.nonzero(~(blurred[inner_in_outer] > level))
    return rows + inner[0][0], cols + inner[1][0]


def otsu_threshold(img: np.ndarray) -> float:
    """Otsu threshold of a uint8 image (scikit-image's), refusing images without ink.

    Raises
    ------
    BlankImageError
        When the image is uniform, or the mean gray levels of Otsu's two classes differ
        by less than ``MIN_INK_CONTRAST``.
    """
    return _ink_levels(_as_gray_uint8(img))[0]


def _ink_levels(img: np.ndarray) -> tuple[float, float]:
    """Otsu's threshold and the midpoint between the mean levels of its two classes."""
    counts = np.bincount(img.ravel(), minlength=256)
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
    canvas (SPEC 2, steps 1-3)."""
    rows, cols, threshold = find_ink(img)
    r_center = int(rows.mean() - rows.min())
    c_center = int(cols.mean() - cols.min())
    # Upper bounds exclusive, as published: the last ink row / column is dropped.
    cropped = img[rows.min():rows.max(), cols.min():cols.max()]
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
    radius = tuple(int(TRUNCATE * s + 0.5) for s in sigma)
    r0, c0 = offset
    span = _grow((r0, r0 + window.shape[0]), (c0, c0 + window.shape[1]), radius, shape)
    padded = np.zeros((span[0][1] - span[0][0], span[1][1] - span[1][0]), dtype=np.float64)
    padded[r0 - span[0][0]:r0 - span[0][0] + window.shape[0],
           c0 - span[1][0]:c0 - span[1][0] + window.shape[1]] = window
    rows = _rows_read_by_zoom(shape[0], target[0]) - span[0][0]
    rows = rows[(rows >= 0) & (rows < padded.shape[0])]
    filtered = _canvas_buffer(shape)
    try:
        # Beyond the grown span the filtered canvas is exactly 0, and inside it the
        # constant (0) border of the smaller array stands for the zeros around it.
        filtered[_slices(span)] = _gaussian_on_rows(padded, sigma, rows)
        out = ndi.zoom(filtered, zoom, order=1, mode="grid-constant", cval=0.0,
                       grid_mode=True)
    finally:
        filtered[_slices(span)] = 0.0
    _clip_like_skimage(out, window, shape)
    resized = out.astype(np.uint8)
    height, width = size
    if wide:
        start = round((target[1] - width) / 2.0)
        return resized[:, start:start + width]
    start = round((target[0] - height) / 2.0)
    return resized[start:start + height, :]


def _rows_read_by_zoom(n_in: int, n_out: int) -> np.ndarray:
    """Input rows an order-1, grid-mode ``ndi.zoom`` from ``n_in`` to ``n_out`` rows reads.

    Output row o samples input coordinate (o + 0.5) * n_in / n_out - 0.5 and reads the two
    rows around it; a tiny tolerance keeps the set a superset whatever the rounding.
    """
    coords = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    low = np.floor(coords - 1e-6).astype(np.int64)
    high = np.floor(coords + 1e-6).astype(np.int64) + 1
    rows = np.unique(np.concatenate([low, low + 1, high - 1, high]))
    return rows[(rows >= 0) & (rows < n_in)]


def _gaussian_on_rows(image: np.ndarray, sigma: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``ndi.gaussian_filter(image, sigma, mode="grid-constant")``, exact on ``rows`` only.

    scipy filters axis 0 and then axis 1 with the same 1-D routine; the second pass works
    row by row, so running it on the rows the resampling reads gives their exact values.
    Other rows keep the first pass's values (the resampling never reads them).
    """
    out = image
    if sigma[0] > 1e-15:
        out = ndi.gaussian_filter1d(image, sigma[0], axis=0, mode="grid-constant", cval=0.0,
                                    truncate=TRUNCATE)
    if sigma[1] > 1e-15 and rows.size:
        out[rows] = ndi.gaussian_filter1d(out[rows], sigma[1], axis=1, mode="grid-constant",
                                          cval=0.0, truncate=TRUNCATE)
    return out


_buffers = threading.local()


def _canvas_buffer(shape: tuple[int, int]) -> np.ndarray:
    """A zero float64 array of ``shape``, reused by this thread (callers re-zero it)."""
    cached = getattr(_buffers, "canvas", None)
    if cached is None or cached.shape != tuple(shape):
        cached = np.zeros(shape, dtype=np.float64)
        _buffers.canvas = cached
    return cached


def _clip_like_skimage(out: np.ndarray, window: np.ndarray, shape: tuple[int, int]) -> None:
    """Clip to the input's value range, as ``skimage.transform.resize`` (clip=True) does."""
    covers = window.shape == tuple(shape)
    values = window if covers else np.concatenate([window.ravel(), [0]])
    min_val, max_val = float(values.min()), float(values.max())
    # skimage widens the range to include cval (0) when the output reaches it.
    if not min_val <= 0.0 <= max_val and out.min() <= 0.0 <= out.max():
        min_val, max_val = min(min_val, 0.0), max(max_val, 0.0)
    np.clip(out, min_val, max_val, out=out)


def crop_center(img: np.ndarray, size: Size) -> np.ndarray:
    """Centre crop of ``img`` to ``size`` (start = (size - target) // 2)."""
    start_y = (img.shape[0] - size[0]) // 2
    start_x = (img.shape[1] - size[1]) // 2
    return img[start_y:start_y + size[0], start_x:start_x + size[1]]

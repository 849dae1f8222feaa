"""Resizing a canvas that is 0 except one window, as ``skimage.transform.resize`` with
anti-aliasing does it, bit for bit (the fast preprocessing path,
``sigver.preprocessing.normalize``; docs/preprocessing.md).

The anti-aliasing Gaussian filter is exactly 0 farther than its radius from every non-zero
pixel, and scipy's order-1 zoom reads two rows and two columns per output pixel: the
filter runs only near the window (``_filtering``), its second pass only on the rows read,
and each output is summed from the pixels read with scipy's own float operations, in its
order.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from sigver.preprocessing._filtering import buffer, filter2d, gaussian_weights, near_blocks

Size = tuple[int, int]
def target_shape(shape: tuple[int, int], size: Size) -> tuple[tuple[int, int], bool]:
    """Size to resample to (the smaller ratio scaled exactly), and whether width overflows."""
    height, width = size
    width_ratio = shape[1] / width
    height_ratio = shape[0] / height
    if width_ratio > height_ratio:
        return (height, round(shape[1] / height_ratio)), True
    return (round(shape[0] / width_ratio), width), False


def resize_sparse(window: np.ndarray, offset: tuple[int, int], shape: tuple[int, int],
                  size: Size) -> np.ndarray:
    """``resize_image`` of a ``shape`` image that is 0 except ``window`` at ``offset``.

    Reproduces ``skimage.transform.resize(image, target, mode="constant",
    anti_aliasing=True, preserve_range=True).astype(np.uint8)`` followed by the centre cut.
    """
    target, wide = target_shape(shape, size)
    factors = np.divide(shape, target)
    zoom = [1 / f for f in factors]
    sigma = np.maximum(0, (factors - 1) / 2)
    # Like ndi.gaussian_filter, a sigma of at most 1e-15 leaves its axis unfiltered.
    weights = tuple(gaussian_weights(float(s)) if s > 1e-15 else None for s in sigma)
    radius = tuple(0 if w is None else w.size // 2 for w in weights)
    r0, c0 = offset
    span = _grow((r0, r0 + window.shape[0]), (c0, c0 + window.shape[1]), radius, shape)
    padded = buffer("padded", (span[0][1] - span[0][0], span[1][1] - span[1][0]), np.uint8)
    padded.fill(0)
    top, left = r0 - span[0][0], c0 - span[1][0]
    padded[top:top + window.shape[0], left:left + window.shape[1]] = window
    # The output size ndi.zoom derives from the zoom factors.
    out_shape = tuple(round(n * z) for n, z in zip(shape, zoom, strict=True))
    taps = (linear_taps(shape[0], out_shape[0]), linear_taps(shape[1], out_shape[1]))
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


def linear_taps(n_in: int, n_out: int) -> Taps | None:
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
    read_rows, top = read_positions(rows)
    read_cols, left = read_positions(cols)
    local_rows = read_rows - origin[0]
    local_cols = read_cols - origin[1]
    values = buffer("values", (read_rows.size, read_cols.size))
    values.fill(0.0)
    near = np.not_equal(padded, 0, out=buffer("near", padded.shape, bool))
    for block, part, _ in near_blocks(near, radius):
        r_lo, r_hi = np.searchsorted(local_rows, (block[0].start, block[0].stop))
        c_lo, c_hi = np.searchsorted(local_cols, (block[1].start, block[1].stop))
        if r_lo == r_hi or c_lo == c_hi:
            continue
        # Axis 0 on the window, then axis 1 on the read rows only.
        window = padded[part]
        across = filter2d(window, (weights[0], None), "grid-constant",
                           output=buffer("across", window.shape))
        picked = across.take(local_rows[r_lo:r_hi] - part[0].start, axis=0,
                             out=buffer("picked", (r_hi - r_lo, window.shape[1])))
        if weights[1] is not None:
            ndi.correlate1d(picked, weights[1], axis=1, output=picked, mode="grid-constant")
        values[r_lo:r_hi, c_lo:c_hi] = picked.take(local_cols[c_lo:c_hi] - part[1].start,
                                                   axis=1)
    # Each value times its row weight once per (output row, read column); then the
    # column weight per output, the four products added in scipy's order.
    shape = (top.size, values.shape[1])
    bottom = values.take(top + 1, axis=0, out=buffer("bottom", shape))
    bottom *= r_far[:, None]
    top = values.take(top, axis=0, out=buffer("top", shape))
    top *= r_near[:, None]
    shape = (top.shape[0], left.size)
    out, term = buffer("out", shape), buffer("term", shape)
    top.take(left, axis=1, out=out)
    out *= c_near
    for rows, cols, weights in ((top, left + 1, c_far), (bottom, left, c_near),
                                (bottom, left + 1, c_far)):
        rows.take(cols, axis=1, out=term)
        term *= weights
        out += term
    return out


def read_positions(first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
    for block, part, inner in near_blocks(padded != 0, radius):
        view[block] = filter2d(padded[part], weights, "grid-constant")[inner]
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


def _grow(rows: tuple[int, int], cols: tuple[int, int], radius: int | tuple[int, int],
          shape: tuple[int, ...]) -> tuple[tuple[int, int], tuple[int, int]]:
    """A (rows, cols) span grown by ``radius`` on each side, clipped to ``shape``."""
    r_rad, c_rad = (radius, radius) if isinstance(radius, int) else radius
    return ((max(rows[0] - r_rad, 0), min(rows[1] + r_rad, shape[0])),
            (max(cols[0] - c_rad, 0), min(cols[1] + c_rad, shape[1])))

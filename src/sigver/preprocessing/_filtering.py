"""Exact Gaussian filtering of the few regions that matter, and per-thread scratch
buffers (the fast preprocessing path, ``sigver.preprocessing.normalize``).

scipy's ``correlate1d`` computes each output point from its filter support alone, in a
fixed order, so filtering a window that holds a point's whole support gives the value of
filtering the whole image, bit for bit. The image is cut into bands of rows and each
band into the column runs near the pixels whose result matters (docs/preprocessing.md).
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Iterator

import numpy as np
from scipy import ndimage as ndi

Slices = tuple[slice, slice]

# scipy's default filter extent (truncate = 4 standard deviations), as used by
# skimage.filters.gaussian.
TRUNCATE = 4.0
# Both Gaussian filters run band by band (rows) on the column runs near pixels that can
# change their result; runs closer than FILTER_MERGE_GAP columns share one filter call.
# Both only trade call overhead against filtered area (the values are exact whatever
# they are); chosen by timing the golden scans at the GPDS canvas.
FILTER_BAND = 64
FILTER_MERGE_GAP = 64

_scratch = threading.local()


def buffer(name: str, shape: tuple[int, ...], dtype: type = np.float64) -> np.ndarray:
    """An uninitialised array of ``shape`` that this thread reuses for ``name``.

    The large temporaries of one call (filter outputs, the padded canvas part, the
    resampling's products) would each get fresh pages from the allocator, and faulting
    them in costs as much as the arithmetic; reused, they stay mapped. A buffer holds
    nothing from one use to the next and never leaves the preprocessing package.
    """
    size = math.prod(shape)
    pool = getattr(_scratch, "pool", None)
    if pool is None:
        pool = _scratch.pool = {}
    flat = pool.get(name)
    if flat is None or flat.size < size or flat.dtype != dtype:
        flat = pool[name] = np.empty(max(size, 1), dtype=dtype)
    return flat[:size].reshape(shape)


def near_blocks(near: np.ndarray, radius: tuple[int, int]
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
        for start, stop in column_runs(near[lo:hi].any(axis=0), radius[1]):
            left, right = max(start - radius[1], 0), min(stop + radius[1], width)
            yield ((slice(top, bottom), slice(start, stop)),
                   (slice(lo, hi), slice(left, right)),
                   (slice(top - lo, bottom - lo), slice(start - left, stop - left)))


def column_runs(near: np.ndarray, radius: int) -> list[tuple[int, int]]:
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
def gaussian_weights(sigma: float) -> np.ndarray:
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


def filter2d(image: np.ndarray, weights: tuple[np.ndarray | None, np.ndarray | None],
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

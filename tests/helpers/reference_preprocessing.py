"""The straightforward, step-by-step SigNet normalisation (docs/preprocessing.md), kept as the
reference that the fast path in ``sigver.preprocessing.normalize`` is checked against.

It works on the whole canvas at every step, exactly as the published procedure reads.
"""

from __future__ import annotations

import warnings

import numpy as np
from skimage import filters, transform

Size = tuple[int, int]


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
    """
    img = np.asarray(img).astype(np.uint8)
    centered = normalize_image(img, canvas_size)
    inverted = 255 - centered
    resized = resize_image(inverted, img_size)
    if input_size is not None and tuple(input_size) != tuple(img_size):
        return crop_center(resized, input_size)
    return resized


def find_ink(img: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Rows and columns of the ink pixels, and the Otsu threshold of ``img``.

    Ink is where a Gaussian-blurred copy (sigma 2) is not above the threshold computed
    on the original image.
    """
    blurred = filters.gaussian(img, sigma=2, preserve_range=True)
    threshold = filters.threshold_otsu(img)
    rows, cols = np.where(~(blurred > threshold))
    if rows.size == 0:
        raise ValueError("the image has no ink (blank page)")
    return rows, cols, threshold


def normalize_image(img: np.ndarray, canvas_size: Size = (840, 1360)) -> np.ndarray:
    """Centre the signature on a white canvas by its centre of mass; remove background."""
    rows, cols, threshold = find_ink(img)
    r_center = int(rows.mean() - rows.min())
    c_center = int(cols.mean() - cols.min())
    # Upper bounds exclusive, as published: the last ink row / column is dropped.
    cropped = img[rows.min():rows.max(), cols.min():cols.max()]
    max_rows, max_cols = canvas_size
    r_start, cropped = _place(cropped, 0, max_rows // 2 - r_center, max_rows)
    c_start, cropped = _place(cropped, 1, max_cols // 2 - c_center, max_cols)
    canvas = np.full((max_rows, max_cols), 255, dtype=np.uint8)
    canvas[r_start:r_start + cropped.shape[0], c_start:c_start + cropped.shape[1]] = cropped
    canvas[canvas > threshold] = 255
    return canvas


def _place(cropped: np.ndarray, axis: int, start: int, limit: int) -> tuple[int, np.ndarray]:
    """Start offset along ``axis`` keeping the box inside the canvas (middle kept if larger)."""
    length = cropped.shape[axis]
    if length > limit:
        warnings.warn("cropping image: the signature is larger than the canvas",
                      stacklevel=3)
        begin = (length - limit) // 2
        index = [slice(None), slice(None)]
        index[axis] = slice(begin, begin + limit)
        return 0, cropped[tuple(index)]
    extra = start + length - limit
    if extra > 0:
        start -= extra
    return max(start, 0), cropped


def resize_image(img: np.ndarray, size: Size) -> np.ndarray:
    """Resize without distortion, then cut the overflowing dimension around its centre."""
    height, width = size
    width_ratio = img.shape[1] / width
    height_ratio = img.shape[0] / height
    if width_ratio > height_ratio:
        resize_height, resize_width = height, round(img.shape[1] / height_ratio)
    else:
        resize_height, resize_width = round(img.shape[0] / width_ratio), width
    resized = transform.resize(img, (resize_height, resize_width), mode="constant",
                               anti_aliasing=True, preserve_range=True).astype(np.uint8)
    if width_ratio > height_ratio:
        start = round((resize_width - width) / 2.0)
        return resized[:, start:start + width]
    start = round((resize_height - height) / 2.0)
    return resized[start:start + height, :]


def crop_center(img: np.ndarray, size: Size) -> np.ndarray:
    """Centre crop of ``img`` to ``size`` (start = (size - target) // 2)."""
    start_y = (img.shape[0] - size[0]) // 2
    start_x = (img.shape[1] - size[1]) // 2
    return img[start_y:start_y + size[0], start_x:start_x + size[1]]

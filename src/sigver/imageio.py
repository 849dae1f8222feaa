"""Reading signature scans as 2-D uint8 grayscale arrays, with one-line errors.

Gray 8-bit files are returned unchanged. Other kinds are converted the way the published
tooling reads them (``img_as_ubyte(imread(path, as_gray=True))`` in scikit-image): colour
goes through ``rgb2gray`` (ITU-R 709 luma), transparent pixels are laid on white paper,
16-bit gray keeps its top 8 bits, palette images are expanded first.

Hostile files: an image with more than ``max_pixels`` pixels (default ``MAX_PIXELS``,
Pillow's own limit; the environment variable ``SIGVER_MAX_PIXELS`` changes the default)
is refused from its header, before its pixels are decoded (a decompression bomb). An
animated GIF or a multi-page TIFF gives its first frame, with a ``MultiFrameWarning``.
An EXIF orientation tag is applied (``PIL.ImageOps.exif_transpose``): a phone photo
tagged "rotated 90 degrees" is read upright, as every image viewer shows it. The
published reader ignores the tag; scans of the research datasets carry none, so their
pixels are the same either way. Float images must be free of NaN and infinity.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from skimage import color, util

from sigver.errors import SigverError

# Pillow's decompression-bomb limit (about 89 megapixels: a 600 dpi A3 page fits).
MAX_PIXELS = int(os.environ.get("SIGVER_MAX_PIXELS", "89478485"))


class MultiFrameWarning(UserWarning):
    """The file holds several frames or pages; only the first one is read."""


def read_signature_image(path: str | os.PathLike, *, max_pixels: int | None = None
                         ) -> np.ndarray:
    """Read an image file as a 2-D uint8 grayscale array (dark ink on light paper).

    Parameters
    ----------
    path
        Any format Pillow reads (PNG, JPEG, TIFF, BMP, ...). Multi-page files give
        their first page (with a ``MultiFrameWarning``); an EXIF orientation is applied.
    max_pixels
        Refuse images with more pixels than this, from the header (default
        ``MAX_PIXELS``). Above Pillow's own limit (``PIL.Image.MAX_IMAGE_PIXELS``) that
        one applies too.

    Returns
    -------
    numpy.ndarray
        2-D uint8 array.

    Raises
    ------
    SigverError
        One line naming the file when it is missing, empty, truncated, not an image, or
        of a pixel kind that cannot be made gray.
    """
    limit = MAX_PIXELS if max_pixels is None else max_pixels
    try:
        with warnings.catch_warnings():
            # Pillow warns (and later fails) on decompression bombs; report it as an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > limit:
                    raise SigverError(f"{path}: image too large to read safely ({width} x "
                                      f"{height} = {width * height} pixels; the limit is "
                                      f"{limit}, set by max_pixels or SIGVER_MAX_PIXELS)")
                if getattr(image, "n_frames", 1) > 1:
                    warnings.warn(f"{path}: {image.n_frames} frames or pages; reading the "
                                  "first one", MultiFrameWarning, stacklevel=2)
                image.load()
                image = ImageOps.exif_transpose(image)
                return _to_gray_uint8(image, path)
    except FileNotFoundError:
        raise SigverError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise SigverError(f"{path}: is a folder, not an image file") from None
    except UnidentifiedImageError:
        raise SigverError(f"{path}: not an image file (or a format Pillow cannot read)"
                          ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise SigverError(f"{path}: image too large to read safely ({exc})") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError,
            ZeroDivisionError, MemoryError) as exc:
        # Pillow's decoders fail on damaged files with many exception types.
        if isinstance(exc, SigverError):
            raise
        raise SigverError(f"{path}: unreadable or truncated image ({type(exc).__name__}: "
                          f"{exc})") from None


def _to_gray_uint8(image: Image.Image, path: str | os.PathLike) -> np.ndarray:
    mode = image.mode
    if mode == "P" or mode == "PA":
        image = image.convert("RGBA" if "transparency" in image.info or mode == "PA"
                              else "RGB")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        image = image.convert("RGB")
    elif mode == "1":
        image = image.convert("L")
    elif mode == "LA":
        image = image.convert("RGBA")
    elif mode == "La":
        image = image.convert("RGBa").convert("RGBA")
    elif mode == "RGBa":
        image = image.convert("RGBA")
    array = np.asarray(image)
    if array.ndim == 3:
        if array.shape[2] == 4:
            array = color.rgba2rgb(array, background=(1, 1, 1))
        if array.shape[2] != 3:
            raise SigverError(f"{path}: unsupported image with {array.shape[2]} channels")
        return util.img_as_ubyte(color.rgb2gray(array))
    if array.ndim != 2:
        raise SigverError(f"{path}: unsupported image of shape {array.shape}")
    if array.dtype == np.uint8:
        return array
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.integer):
        # Pillow opens 16-bit files as 16- or 32-bit integers; scale 0..65535 to 0..255.
        if array.min() < 0 or array.max() > 65535:
            raise SigverError(f"{path}: unsupported integer pixel range "
                              f"{array.min()}..{array.max()}")
        return (array >> 8).astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise SigverError(f"{path}: image holds NaN or infinite values")
        if array.min() >= 0 and array.max() <= 1:
            return util.img_as_ubyte(array)
        return np.rint(np.clip(array, 0, 255)).astype(np.uint8)
    raise SigverError(f"{path}: unsupported pixel type {array.dtype}")

"""Limits on what a request may bring, and the JSON errors that refuse it.

Every refusal is an ``ApiError``: an HTTP status (4xx), a short machine-readable code and
one line for a person. Uploads are checked before any pixel is decoded: size, declared
content type, the file's own signature bytes, and the pixel count from the image header
(a small PNG can claim a billion pixels: a decompression bomb).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image

# The image kinds accepted, by the first bytes of the file.
MAGIC = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"II*\x00": "image/tiff",
    b"MM\x00*": "image/tiff",
    b"BM": "image/bmp",
}
CONTENT_TYPES = frozenset(MAGIC.values())


class ApiError(Exception):
    """A refused request: ``status`` (4xx), ``code`` and a one-line ``message``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Limits:
    """What one request may bring.

    Attributes
    ----------
    max_upload_bytes
        Size of one uploaded file.
    max_pixels
        Width x height of one image (decompression bombs).
    max_files
        Files in one request.
    request_timeout_s
        Seconds a request may take; slower ones are answered 408 and change nothing.
    """

    max_upload_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_files: int = 16
    request_timeout_s: float = 30.0

    @property
    def max_body_bytes(self) -> int:
        """A whole request: every file at its limit plus room for the form's fields."""
        return self.max_files * self.max_upload_bytes + 64 * 1024


def check_file_count(count: int, limits: Limits) -> None:
    if count == 0:
        raise ApiError(400, "no_files", "no image files in the request (field 'files')")
    if count > limits.max_files:
        raise ApiError(413, "too_many_files", f"{count} files in one request, at most "
                       f"{limits.max_files}")


def check_upload(name: str, content_type: str | None, data: bytes, limits: Limits) -> None:
    """Refuse an upload that is too large, not an accepted image kind, or too many pixels."""
    if len(data) > limits.max_upload_bytes:
        raise ApiError(413, "file_too_large", f"{name}: {len(data)} bytes, at most "
                       f"{limits.max_upload_bytes} per file")
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared and declared not in CONTENT_TYPES and declared != "application/octet-stream":
        raise ApiError(415, "unsupported_type", f"{name}: content type {declared!r}; send "
                       f"{', '.join(sorted(CONTENT_TYPES))}")
    sniffed = next((kind for magic, kind in MAGIC.items() if data.startswith(magic)), None)
    if sniffed is None:
        raise ApiError(415, "unsupported_type", f"{name}: not a PNG, JPEG, TIFF or BMP image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
    except Image.DecompressionBombError:
        width = height = limits.max_pixels + 1
    except (OSError, SyntaxError, ValueError) as exc:
        raise ApiError(422, "unreadable_image", f"{name}: unreadable image ({exc})") from None
    if width * height > limits.max_pixels:
        raise ApiError(413, "too_many_pixels", f"{name}: {width} x {height} pixels, at most "
                       f"{limits.max_pixels} per image")

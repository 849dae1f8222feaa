"""Reading signature scans (kept at its published path; the reader is ``sigver.imageio``,
which the dataset readers use without depending on the preprocessing package)."""

from sigver.imageio import read_signature_image

__all__ = ["read_signature_image"]

"""Drawn signature images and dataset trees for the preprocessing and dataset tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage as ndi
from skimage import draw


def drawn_signature(seed: int, shape: tuple[int, int], strokes: int = 6) -> np.ndarray:
    """Dark pen strokes (thick random polylines) on noisy light paper."""
    rng = np.random.default_rng(seed)
    img = rng.normal(235, 8, size=shape).clip(0, 255)
    for _ in range(strokes):
        ink = np.zeros(shape, dtype=bool)
        r, c = rng.uniform(0.2, 0.8) * shape[0], rng.uniform(0.1, 0.9) * shape[1]
        for _ in range(12):
            r2 = np.clip(r + rng.normal(0, shape[0] / 6), 0, shape[0] - 1)
            c2 = np.clip(c + rng.normal(0, shape[1] / 6), 0, shape[1] - 1)
            ink[draw.line(int(r), int(c), int(r2), int(c2))] = True
            r, c = r2, c2
        ink = ndi.binary_dilation(ink, iterations=int(rng.integers(1, 4)))
        img[ink] = rng.uniform(10, 90)
    return img.astype(np.uint8)


def write_image(path: Path, seed: int, shape: tuple[int, int] = (60, 90)) -> Path:
    """Write a drawn signature to ``path`` (format from the extension); return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(drawn_signature(seed, shape, strokes=3)).save(path)
    return path


def write_tree(root: Path, relative_paths: list[str], shape: tuple[int, int] = (60, 90)
               ) -> list[Path]:
    """Write one drawn signature per relative path under ``root``."""
    return [write_image(root / rel, seed, shape) for seed, rel in enumerate(relative_paths)]

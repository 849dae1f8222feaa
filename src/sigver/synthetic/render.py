"""Turning pen trajectories into scanned-paper images.

A stroke is a smooth curve through control points (centripetal-free uniform Catmull-Rom
spline), sampled densely in pixels; every dense point carries a pen radius. Ink is
deposited along the centre lines into a density map, blurred, and turned into a
saturating opacity (overlapping strokes get darker, as real ink does) laid over a slightly
uneven, noisy paper background.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

# Distance between dense samples along a stroke, in pixels. With pen radii >= 0.8 px the
# union of discs this close has edges flat to a few hundredths of a pixel.
SPACING = 0.8
# Opacity of ink is 1 - exp(-INK_STRENGTH * density): saturating, as ink on paper is.
INK_STRENGTH = 3.0


@dataclass
class InkStroke:
    """One pen-down trajectory in pixels: dense points (N x 2, x then y) and radii (N)."""

    points: np.ndarray
    radius: np.ndarray


def spline(control: np.ndarray, spacing: float = SPACING) -> np.ndarray:
    """Dense points of the Catmull-Rom curve through ``control`` (K x 2), ``spacing`` apart.

    A single control point gives itself (a dot); the curve passes through every control
    point, with segments sampled in proportion to their chord length.
    """
    control = np.asarray(control, dtype=np.float64)
    if len(control) < 2:
        return control.copy()
    padded = np.vstack([2 * control[0] - control[1], control, 2 * control[-1] - control[-2]])
    chords = np.linalg.norm(np.diff(control, axis=0), axis=1)
    counts = np.maximum(1, np.ceil(chords / spacing).astype(np.int64))
    seg = np.repeat(np.arange(len(chords)), counts)
    starts = np.cumsum(counts) - counts
    t = (np.arange(counts.sum()) - starts[seg]) / counts[seg]
    p0, p1, p2, p3 = (padded[seg + k] for k in range(4))
    t = t[:, None]
    t2, t3 = t * t, t * t * t
    pts = 0.5 * ((2 * p1) + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                 + (3 * p1 - p0 - 3 * p2 + p3) * t3)
    return np.vstack([pts, control[-1:]])


def smooth_noise(rng: np.random.Generator, n: int, wavelength: float) -> np.ndarray:
    """``n`` values of zero-mean, unit-scale noise varying smoothly over ``wavelength`` samples."""
    knots = max(2, int(np.ceil(n / max(wavelength, 1.0))) + 2)
    values = rng.standard_normal(knots)
    return np.interp(np.linspace(0, knots - 1, n), np.arange(knots), values)


@functools.lru_cache(maxsize=1)
def _grain() -> np.ndarray:
    """A fixed field of unit Gaussian sensor noise, larger than any image.

    Drawing fresh noise for every pixel of every image would cost more than drawing the
    signature; each image instead reads a window at a random offset (and orientation) of
    this field, which a fixed seed makes identical in every process.
    """
    rng = np.random.default_rng(0x5157)
    return rng.standard_normal(_GRAIN_SHAPE, dtype=np.float32)


_GRAIN_SHAPE = (1024, 2048)


def paper(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A light scanned-paper background (float32, 0..255): uneven tone plus sensor noise."""
    if height > _GRAIN_SHAPE[0] or width > _GRAIN_SHAPE[1]:
        raise ValueError(f"paper of {height} x {width} pixels is larger than the "
                         f"{_GRAIN_SHAPE[0]} x {_GRAIN_SHAPE[1]} supported")
    tone = rng.uniform(228.0, 251.0)
    # Low-frequency unevenness: a coarse random grid interpolated bilinearly, done as two
    # small matrix products so it costs almost nothing for large images. The rows of the
    # interpolation matrices sum to one, so the tone can ride on the grid.
    grid = rng.normal(tone, rng.uniform(1.5, 5.0), size=(3, 5)).astype(np.float32)
    background = _interp_matrix(height, 3) @ grid @ _interp_matrix(width, 5).T
    top = int(rng.integers(0, _GRAIN_SHAPE[0] - height + 1))
    left = int(rng.integers(0, _GRAIN_SHAPE[1] - width + 1))
    grain = _grain()[top:top + height, left:left + width]
    if rng.random() < 0.5:
        grain = grain[::-1]
    background += grain * np.float32(rng.uniform(1.0, 3.5))
    return background


def _interp_matrix(n: int, knots: int) -> np.ndarray:
    """n x knots matrix of linear interpolation weights from ``knots`` evenly spread values."""
    pos = np.linspace(0, knots - 1, n)
    low = np.minimum(np.floor(pos).astype(np.int64), knots - 2)
    frac = pos - low
    out = np.zeros((n, knots), dtype=np.float32)
    out[np.arange(n), low] = 1 - frac
    out[np.arange(n), low + 1] = frac
    return out


def ink_density(strokes: list[InkStroke], height: int, width: int
                ) -> tuple[np.ndarray, tuple[int, int]]:
    """Ink density (float32) over the strokes' bounding box, and the box's (top, left).

    The box is clipped to the ``height`` x ``width`` image; there is no ink outside it.

    The centre lines are splatted bilinearly, each point weighted by its pen radius, and
    blurred with a Gaussian of half the mean radius: the saturating opacity of
    :func:`compose` turns this into a solid stroke whose width follows the radius, with
    anti-aliased edges, darker where strokes cross. Only the ink's bounding box is
    handled, which keeps the cost proportional to the drawing, not the page.
    """
    points = np.vstack([s.points for s in strokes])
    radius = np.concatenate([s.radius for s in strokes])
    # A narrow blur is enough for anti-aliasing; the width comes from the ink amount, so
    # wide pens need no wider (slower) filter.
    sigma = min(max(0.45, 0.5 * float(radius.mean())), 0.9)
    pad = int(np.ceil(4 * sigma + 2 * radius.max())) + 2
    low = np.maximum(np.floor(points.min(axis=0)).astype(np.int64) - pad, 0)
    high = np.minimum(np.ceil(points.max(axis=0)).astype(np.int64) + pad, [width, height])
    box_w, box_h = (high - low).tolist()
    local = points - low - 0.5
    base = np.floor(local).astype(np.int64)
    frac = local - base
    # Choose each point's ink so that the opacity of compose() crosses one half at the
    # point's own radius from the centre line: a blurred line's density falls off as
    # exp(-d^2 / 2 sigma^2) across it.
    ratio = np.minimum(radius / sigma, 3.5)
    weight = SPACING * np.sqrt(2 * np.pi) * sigma * np.log(2) / INK_STRENGTH \
        * np.exp(ratio ** 2 / 2)
    index, value = [], []
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        wx = frac[:, 0] if dx else 1 - frac[:, 0]
        wy = frac[:, 1] if dy else 1 - frac[:, 1]
        cx, cy = base[:, 0] + dx, base[:, 1] + dy
        ok = (cx >= 0) & (cx < box_w) & (cy >= 0) & (cy < box_h)
        index.append(cy[ok] * box_w + cx[ok])
        value.append((weight * wx * wy)[ok])
    box = np.bincount(np.concatenate(index), weights=np.concatenate(value),
                      minlength=box_h * box_w).reshape(box_h, box_w).astype(np.float32)
    box = ndimage.gaussian_filter(box, sigma, mode="constant", truncate=3.0)
    return box, (int(low[1]), int(low[0]))


def compose(background: np.ndarray, density: np.ndarray, offset: tuple[int, int],
            ink_tone: float) -> np.ndarray:
    """Lay ink of gray level ``ink_tone`` (``density`` at ``offset``) over the background.

    Returns the uint8 image, rounded to the nearest gray level.
    """
    top, left = offset
    region = background[top:top + density.shape[0], left:left + density.shape[1]]
    opacity = 1.0 - np.exp(-INK_STRENGTH * density)
    region += (np.float32(ink_tone) - region) * opacity
    background += np.float32(0.5)
    np.clip(background, 0, 255, out=background)
    return background.astype(np.uint8)

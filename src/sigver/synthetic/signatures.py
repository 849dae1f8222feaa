"""Drawing synthetic offline signatures: writers, their genuine samples and skilled forgeries.

Geometry lives in "x-height units" (the height of a small letter is 1, y points up, the
baseline is y = 0) until a sample is rendered in pixels (y down).

- A writer (:func:`writer_style`) owns a "name": initials and words made of cursive letter
  shapes joined by ligatures, with its own deformation of every letter, an invented
  capital, pen lifts, optionally a flourish or an underline, and a hand: slant, letter
  width, spacing, baseline drift, letter-height decay, size, pen width, ink tone.
- A genuine sample (:func:`genuine_strokes`) moves every control point a little, rotates,
  scales and shears the whole slightly, varies pen pressure, and now and then drops a
  small element (an i-dot, a t-bar, the flourish) or adds a stray tick.
- A skilled forgery (:func:`forgery_strokes`) starts from one genuine exemplar of the
  target, applies the forger's own slant and proportion tendencies and larger shape
  deviations, and draws it with a slow hand: tremor, blunt stroke ends, hesitation gaps
  and retouches, with the forger's own pen. ``skill`` (0..1) sets how close the copy is.

Everything is a pure function of a ``numpy.random.Generator``, so a sample is determined
by its seed alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from sigver.synthetic.render import InkStroke, compose, ink_density, paper, smooth_noise, spline

# Largest ink box (height, width) in pixels; larger drawings are scaled down to fit, so
# every signature fits a canvas of this size (see ``sigver.synthetic.generate.CANVAS``).
MAX_INK_BOX = (520, 1180)

# Cursive lower-case letter shapes: control points (x, y) in x-height units, entering and
# leaving at the baseline so that letters join with ligatures. Extra pen-up elements
# (i-dots, t-bars) follow as separate lists.
_LETTERS: dict[str, tuple[list[tuple[float, float]], ...]] = {
    "a": ([(0, 0), (.35, .55), (.7, .85), (.35, .9), (.05, .45), (.25, .02), (.6, .4),
           (.72, .88), (.68, .25), (.78, .02), (.95, .1)],),
    "b": ([(0, 0), (.35, .9), (.5, 1.9), (.35, 2.2), (.2, 1.6), (.15, .1), (.35, .6),
           (.6, .8), (.55, .3), (.25, .05), (.55, .2), (.8, .3)],),
    "c": ([(0, 0), (.3, .5), (.65, .8), (.45, .92), (.12, .55), (.25, .05), (.6, .05),
           (.85, .2)],),
    "d": ([(0, 0), (.45, .7), (.55, .85), (.25, .85), (.05, .4), (.3, .02), (.6, .5),
           (.72, 2.0), (.7, .2), (.78, .02), (1.0, .12)],),
    "e": ([(0, 0), (.35, .3), (.6, .62), (.45, .85), (.22, .6), (.3, .1), (.6, .02),
           (.85, .2)],),
    "g": ([(0, 0), (.45, .7), (.55, .85), (.25, .85), (.05, .4), (.3, .02), (.6, .5),
           (.62, .8), (.55, -.9), (.3, -1.1), (.15, -.7), (.5, -.2), (.9, .15)],),
    "h": ([(0, 0), (.35, .9), (.5, 1.9), (.35, 2.2), (.2, 1.6), (.15, 0), (.3, .6),
           (.5, .88), (.65, .4), (.68, .05), (.9, .15)],),
    "i": ([(0, 0), (.15, .5), (.25, .9), (.2, .3), (.3, .02), (.55, .15)], [(.32, 1.45)]),
    "l": ([(0, 0), (.35, .8), (.6, 1.7), (.5, 2.2), (.3, 1.8), (.25, .8), (.35, .05),
           (.7, .2)],),
    "m": ([(0, 0), (.1, .85), (.12, 0), (.25, .75), (.4, .85), (.5, 0), (.62, .75),
           (.78, .85), (.88, .05), (1.1, .15)],),
    "n": ([(0, 0), (.12, .6), (.18, .9), (.18, 0), (.3, .6), (.5, .88), (.65, .5),
           (.68, .05), (.9, .15)],),
    "o": ([(0, 0), (.3, .5), (.55, .9), (.2, .8), (.12, .3), (.45, .02), (.65, .5),
           (.55, .88), (.8, .6), (1.0, .1)],),
    "p": ([(0, 0), (.15, .6), (.2, .9), (.18, -1.1), (.2, .5), (.5, .88), (.7, .45),
           (.4, .05), (.2, .2), (.6, .05), (.85, .15)],),
    "r": ([(0, 0), (.2, .6), (.25, .95), (.3, .6), (.5, .85), (.55, .4), (.6, .05),
           (.85, .15)],),
    "s": ([(0, 0), (.3, .6), (.4, .95), (.55, .45), (.45, .05), (.2, .1), (.5, .05),
           (.8, .15)],),
    "t": ([(0, 0), (.25, 1.0), (.35, 1.6), (.3, .6), (.35, .02), (.65, .15)],
          [(0, 1.05), (.35, 1.1), (.7, 1.08)]),
    "u": ([(0, 0), (.12, .85), (.15, .15), (.35, 0), (.55, .55), (.62, .9), (.6, .1),
           (.85, .12)],),
    "y": ([(0, 0), (.12, .85), (.15, .15), (.35, 0), (.6, .9), (.55, -.8), (.3, -1.1),
           (.15, -.7), (.5, -.2), (.85, .15)],),
}
# Rough English-like letter frequencies, so names look like names.
_FREQ = {"a": 8, "b": 2, "c": 3, "d": 4, "e": 11, "g": 2, "h": 5, "i": 7, "l": 4, "m": 3,
         "n": 7, "o": 7, "p": 2, "r": 6, "s": 6, "t": 8, "u": 3, "y": 2}
_ALPHABET = sorted(_FREQ)
_WEIGHTS = np.array([_FREQ[c] for c in _ALPHABET], dtype=float) / sum(_FREQ.values())


@dataclass
class Stroke:
    """Control points (K x 2, x-height units) of one pen-down movement.

    ``small`` marks elements a writer may forget or add (dots, bars, flourishes).
    """

    points: np.ndarray
    small: bool = False


@dataclass
class WriterStyle:
    """Everything that stays the same across one writer's genuine signatures."""

    strokes: list[Stroke]
    slant: float            # shear: x += slant * y
    xheight: float          # pixels per x-height unit
    pen_radius: float       # pixels
    ink_tone: float         # gray level of the ink
    pressure_var: float     # relative pen-width variation along a stroke
    drift: tuple[float, float, float] = (0.0, 0.0, 0.0)  # rise, wave amplitude, wave length


@dataclass
class Forger:
    """An imitator's own tendencies, shared by every forgery they make."""

    slant_bias: float
    x_scale: float
    y_scale: float
    pen_radius: float
    ink_tone: float
    tremor: float          # pixels
    hesitation: float      # expected gaps per 10 letters-worth of stroke
    retouch: float         # probability of a retouch per main stroke
    skill: float = 0.6


@dataclass
class Drawing:
    """A signature ready to render: pen strokes in pixels and the ink's gray level."""

    strokes: list[InkStroke]
    ink_tone: float
    meta: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- writers


def writer_style(rng: np.random.Generator) -> WriterStyle:
    """Draw a new writer: their name, letter forms and hand."""
    strokes: list[Stroke] = []
    x = 0.0
    letter_jitter = rng.uniform(0.04, 0.12)
    width = rng.uniform(0.7, 1.45)
    spacing = rng.uniform(-0.05, 0.35)
    lift_prob = rng.choice([0.0, rng.uniform(0.05, 0.35)])
    decay = rng.choice([0.0, rng.uniform(0.2, 0.7)], p=[0.5, 0.5])
    flatten = rng.uniform(0.0, 0.45) if rng.random() < 0.35 else 0.0
    n_initials = int(rng.choice([0, 1, 2], p=[0.45, 0.4, 0.15]))
    for _ in range(n_initials):
        capital = _capital(rng, x)
        strokes.append(Stroke(capital))
        x = capital[:, 0].max() + 0.15
        if rng.random() < 0.6:
            strokes.append(Stroke(np.array([[x, 0.05]]), small=True))
        x += rng.uniform(0.5, 1.2)
    n_words = int(rng.choice([1, 2], p=[0.6, 0.4]))
    for _ in range(n_words):
        capital = _capital(rng, x)
        word = [capital]
        x = capital[-1, 0]
        n_letters = int(rng.integers(2, 8))
        for i in range(n_letters):
            letter = rng.choice(_ALPHABET, p=_WEIGHTS)
            shapes = [np.array(s, dtype=float) for s in _LETTERS[letter]]
            # The writer's own version of this letter: every occurrence deformed once.
            shapes = [s + rng.normal(0, letter_jitter, s.shape) * [1, 0.8] for s in shapes]
            amp = (1.0 - decay * i / n_letters) * (1.0 - flatten)
            for s in shapes:
                s[:, 0] = s[:, 0] * width + x
                s[:, 1] = s[:, 1] * amp + flatten * 0.45
            main, extras = shapes[0], shapes[1:]
            if rng.random() < lift_prob:
                word.append(main)
            else:
                word[-1] = np.vstack([word[-1], main[1:]])
            strokes.extend(Stroke(e, small=True) for e in extras)
            x = main[-1, 0] + spacing
        strokes.extend(Stroke(w) for w in word)
        x += rng.uniform(0.6, 1.6)
    strokes.extend(_flourish(rng, strokes))
    return WriterStyle(
        strokes=strokes,
        slant=rng.uniform(-0.25, 0.6),
        xheight=rng.uniform(24.0, 56.0),
        pen_radius=rng.uniform(1.2, 3.0),
        ink_tone=rng.uniform(20.0, 130.0),
        pressure_var=rng.uniform(0.05, 0.3),
        drift=(rng.normal(0, 0.04), rng.uniform(0, 0.35), rng.uniform(4.0, 12.0)),
    )


# Skeletons of capital letters in a unit box (x right, y up), entering and leaving low:
# a stem with a bowl and a leg (P, R, B), a zigzag (M, N, W), a double curve (S, G) and a
# hooked stem (L, J). Writers deform them heavily; a free-form loop is the fifth kind.
_CAPITALS = (
    [(0, .05), (.2, 1), (.15, 0), (.25, .95), (1, .8), (.9, .45), (.2, .5), (1, 0)],
    [(0, 0), (.15, 1), (.35, .1), (.55, .9), (.75, .1), (.9, .8), (1, .2)],
    [(1, .9), (.5, 1), (.1, .8), (.5, .5), (.9, .25), (.5, 0), (0, .15), (.4, .25)],
    [(.3, .8), (.55, 1), (.4, .6), (.15, .05), (0, .15), (.2, .2), (1, 0)],
)


def _capital(rng: np.random.Generator, x0: float) -> np.ndarray:
    """An invented capital: a deformed letter skeleton, or one to two free loops."""
    width = rng.uniform(0.8, 2.2)
    height = rng.uniform(1.6, 3.0)
    kind = int(rng.integers(len(_CAPITALS) + 1))
    if kind < len(_CAPITALS):
        shape = np.array(_CAPITALS[kind], dtype=float)
        if rng.random() < 0.5:  # mirrored skeletons are other letters (S / Z, P / q ...)
            shape[:, 0] = 1 - shape[:, 0]
        shape += rng.normal(0, 0.08, shape.shape)
        body = x0 + shape * [width, height]
        return np.vstack([body, [[x0 + width + 0.2, rng.uniform(0.0, 0.3)]]])
    turns = rng.uniform(0.8, 1.8)
    n = int(rng.integers(6, 11))
    angles = rng.uniform(-0.5, 0.5) + np.linspace(0, 2 * np.pi * turns, n)
    radius_x = width / 2 * rng.uniform(0.5, 1.1, n)
    radius_y = height / 2 * rng.uniform(0.5, 1.1, n)
    direction = rng.choice([-1.0, 1.0])
    cx, cy = x0 + width / 2, height / 2
    loop = np.column_stack([cx + direction * radius_x * np.cos(angles),
                            cy + radius_y * np.sin(angles)])
    start = np.array([[x0 + rng.uniform(0, width / 2), rng.uniform(0, 0.4)]])
    exit_ = np.array([[x0 + width + 0.2, rng.uniform(0.0, 0.3)]])
    return np.vstack([start, loop, exit_])


def _flourish(rng: np.random.Generator, strokes: list[Stroke]) -> list[Stroke]:
    """Optionally an underline sweeping back under the name, or a final loop."""
    pts = np.vstack([s.points for s in strokes])
    left, right = pts[:, 0].min(), pts[:, 0].max()
    kind = rng.choice(["none", "underline", "loop", "slash"], p=[0.35, 0.35, 0.2, 0.1])
    if kind == "underline":
        y = pts[:, 1].min() - rng.uniform(0.2, 0.8)
        xs = np.linspace(right + rng.uniform(-0.5, 0.8), left + rng.uniform(-0.5, 1.5), 5)
        ys = y + rng.normal(0, 0.15, 5) + np.array([0.5, 0, -0.1, 0, 0.2])
        return [Stroke(np.column_stack([xs, ys]), small=True)]
    if kind == "loop":
        x, r = right + rng.uniform(0.0, 0.4), rng.uniform(0.5, 1.2)
        loop = [(x, 0.2), (x + r, 1.5 * r), (x + 0.3 * r, 2.2 * r), (x - 0.3 * r, 1.2 * r),
                (x + 0.4 * r, -0.2), (x + 2.5 * r, -0.6 * r)]
        return [Stroke(np.array(loop) + rng.normal(0, 0.1, (6, 2)), small=True)]
    if kind == "slash":
        mid = (left + right) / 2
        line = [(mid - 1.5, -0.6), (mid + 0.5, 0.8), (right + 0.5, 2.4)]
        return [Stroke(np.array(line) + rng.normal(0, 0.15, (3, 2)), small=True)]
    return []


def forger(rng: np.random.Generator, skill: float) -> Forger:
    """Draw an imitator; lower ``skill`` means larger tendencies and a shakier hand."""
    clumsy = 1.0 - skill
    return Forger(
        slant_bias=rng.normal(0, 0.1 + 0.2 * clumsy),
        x_scale=float(np.exp(rng.normal(0, 0.07 + 0.15 * clumsy))),
        y_scale=float(np.exp(rng.normal(0, 0.07 + 0.15 * clumsy))),
        pen_radius=rng.uniform(1.2, 3.0),
        ink_tone=rng.uniform(20.0, 130.0),
        tremor=rng.uniform(0.2, 0.6) + 0.8 * clumsy,
        hesitation=rng.uniform(0.5, 2.0) + 3.0 * clumsy,
        retouch=rng.uniform(0.1, 0.4) + 0.4 * clumsy,
        skill=skill,
    )


# ----------------------------------------------------------------------------- samples


def _transform(strokes: list[Stroke], slant: float, rotation: float, sx: float, sy: float,
               drift: tuple[float, float, float], phase: float) -> list[Stroke]:
    """Apply baseline drift, slant, scale and rotation (radians) to every stroke."""
    cos, sin = np.cos(rotation), np.sin(rotation)
    rise, amp, length = drift
    out = []
    for s in strokes:
        x, y = s.points[:, 0], s.points[:, 1]
        y = y + rise * x + amp * np.sin(2 * np.pi * x / length + phase)
        x = (x + slant * y) * sx
        y = y * sy
        out.append(replace(s, points=np.column_stack([cos * x - sin * y, sin * x + cos * y])))
    return out


def genuine_strokes(style: WriterStyle, rng: np.random.Generator) -> list[Stroke]:
    """One genuine signature's geometry (x-height units), varied as one person's are."""
    strokes = [replace(s, points=s.points + rng.normal(0, 0.035, s.points.shape))
               for s in style.strokes]
    small = [i for i, s in enumerate(strokes) if s.small]
    if small and rng.random() < 0.08:
        del strokes[small[int(rng.integers(len(small)))]]
    if rng.random() < 0.05:
        pts = np.vstack([s.points for s in strokes])
        anchor = pts[int(rng.integers(len(pts)))]
        tick = anchor + np.array([[0.0, 0.0], [0.25, 0.35]]) * rng.uniform(0.5, 1.2)
        strokes.append(Stroke(tick + rng.uniform(-0.4, 0.4, 2), small=True))
    scale = np.exp(rng.normal(0, 0.04))
    return _transform(strokes, slant=style.slant + rng.normal(0, 0.03),
                      rotation=rng.normal(0, np.radians(2.0)),
                      sx=scale * np.exp(rng.normal(0, 0.03)), sy=scale,
                      drift=style.drift, phase=rng.normal(0, 0.15))


def forgery_strokes(exemplar: list[Stroke], imitator: Forger,
                    rng: np.random.Generator) -> list[Stroke]:
    """A skilled forger's copy of an exemplar's geometry, with their own tendencies."""
    deviation = 0.07 + 0.12 * (1.0 - imitator.skill)
    strokes = []
    for s in exemplar:
        # Deviations are smooth along the stroke (a copied shape drifts, it does not jitter).
        noise = np.column_stack([smooth_noise(rng, len(s.points), 3.0) for _ in range(2)])
        strokes.append(replace(s, points=s.points + deviation * noise))
    if rng.random() < 0.15 * (1.0 - imitator.skill) + 0.05:
        small = [i for i, s in enumerate(strokes) if s.small]
        if small:
            del strokes[small[int(rng.integers(len(small)))]]
    return _transform(strokes, slant=imitator.slant_bias + rng.normal(0, 0.03),
                      rotation=rng.normal(0, np.radians(2.5)),
                      sx=imitator.x_scale * np.exp(rng.normal(0, 0.04)),
                      sy=imitator.y_scale * np.exp(rng.normal(0, 0.04)),
                      drift=(0.0, 0.0, 1.0), phase=0.0)


def pen(strokes: list[Stroke], xheight: float, radius: float, pressure_var: float,
        rng: np.random.Generator, forger_hand: Forger | None = None) -> list[InkStroke]:
    """Trace the strokes in pixels (y down) with a pen; a forger's slow hand if given."""
    out: list[InkStroke] = []
    for s in strokes:
        control = s.points * [xheight, -xheight]
        points = spline(control)
        n = len(points)
        if n == 1:
            out.append(InkStroke(points, np.array([radius * rng.uniform(1.0, 1.6)])))
            continue
        width = radius * (1.0 + pressure_var * smooth_noise(rng, n, 60.0))
        if forger_hand is None:
            # A fluent hand lands and lifts the pen in motion: tapered stroke ends.
            ramp = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / 12.0)
            width *= 0.45 + 0.55 * ramp
            out.append(InkStroke(points, np.maximum(width, 0.6)))
            continue
        out.extend(_slow_hand(points, width, forger_hand, rng))
    return out


def _slow_hand(points: np.ndarray, width: np.ndarray, imitator: Forger,
               rng: np.random.Generator) -> list[InkStroke]:
    """Tremor, blunt ends, hesitation gaps and retouches of a careful copy."""
    n = len(points)
    tremor = np.column_stack([smooth_noise(rng, n, rng.uniform(5.0, 12.0)) for _ in range(2)])
    points = points + imitator.tremor * tremor
    # Blunt ends: the pen rests before moving, leaving a slightly wider blob.
    ends = np.minimum(np.arange(n), np.arange(n)[::-1])
    width = width * (1.0 + 0.3 * (ends < 3))
    n_gaps = rng.poisson(imitator.hesitation * n * 0.8 / 400.0)
    cuts = np.sort(rng.integers(10, max(11, n - 10), size=n_gaps))
    pieces: list[InkStroke] = []
    start = 0
    for cut in cuts:
        if cut - start > 8:
            pieces.append(InkStroke(points[start:cut], width[start:cut]))
            start = cut + int(rng.integers(2, 6))
    if n - start > 1:
        pieces.append(InkStroke(points[start:], width[start:]))
    if n > 40 and rng.random() < imitator.retouch:
        a = int(rng.integers(0, n - 30))
        b = a + int(rng.integers(10, 30))
        pieces.append(InkStroke(points[a:b] + rng.normal(0, 0.8, 2), width[a:b] * 0.9))
    return pieces or [InkStroke(points, width)]


def render(drawing: Drawing, rng: np.random.Generator) -> np.ndarray:
    """A scanned-paper image (uint8, dark ink on light paper) of ``drawing``.

    The drawing is scaled down if its ink box exceeds :data:`MAX_INK_BOX`, then placed
    with random margins on a noisy, unevenly lit page.
    """
    strokes = drawing.strokes
    pts = np.vstack([s.points for s in strokes])
    reach = max(float(np.concatenate([s.radius for s in strokes]).max()), 1.0) + 1.5
    low, high = pts.min(axis=0), pts.max(axis=0)
    extent = high - low + 2 * reach
    fit = min(1.0, (MAX_INK_BOX[1] - 4) / extent[0], (MAX_INK_BOX[0] - 4) / extent[1])
    margins = rng.integers(5, 90, size=4)  # left, top, right, bottom
    offset = np.array([margins[0], margins[1]]) + reach
    placed = [InkStroke((s.points - low) * fit + offset, s.radius) for s in strokes]
    width = int(np.ceil((high - low)[0] * fit + 2 * reach)) + margins[0] + margins[2]
    height = int(np.ceil((high - low)[1] * fit + 2 * reach)) + margins[1] + margins[3]
    background = paper(rng, height, width)
    density, box_offset = ink_density(placed, height, width)
    return compose(background, density, box_offset, drawing.ink_tone)

"""Synthetic signature datasets: raw scans in the ``gpds`` layout, or a processed store.

Every image is a pure function of ``(seed, writer, kind, index)`` through
``numpy.random.SeedSequence``, so the output is byte-identical for any number of workers,
and writer ``w``'s images do not depend on how many writers or samples are requested
(a 5-writer set is the start of a 50-writer set).

Skilled forgeries come from a pool of imitators: writers are grouped in blocks of
``WRITERS_PER_BLOCK``, each block has ``FORGERS_PER_BLOCK`` forgers, and forgery ``i`` of a
writer is made by forger ``i mod FORGERS_PER_BLOCK`` of its block, so every forger
imitates several writers, each from one genuine exemplar, as in real collections.
"""

from __future__ import annotations

import functools
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from sigver import __version__
from sigver.cluster import use_scheduler
from sigver.datasets.util import save_dataset
from sigver.errors import ParameterError
from sigver.io import atomic_output
from sigver.parallel import parallel_imap, parallel_map
from sigver.preprocessing.normalize import preprocess_signature
from sigver.preprocessing.process_dataset import default_input_size
from sigver.settings import PreprocessingSettings
from sigver.synthetic.signatures import (
    MAX_INK_BOX,
    Drawing,
    Forger,
    WriterStyle,
    forger,
    forgery_strokes,
    genuine_strokes,
    pen,
    render,
    writer_style,
)

# Canvas (H, W) for preprocessing synthetic scans: it holds MAX_INK_BOX, and its aspect
# ratio is that of the stored 170 x 242 images, so resizing crops (almost) nothing.
CANVAS = (840, 1200)
DEFAULT_SKILL = 0.6
WRITERS_PER_BLOCK = 6
FORGERS_PER_BLOCK = 4
# Genuine samples a forger may pick an exemplar from (the first ones of the writer).
EXEMPLARS = 4

# Seed-sequence "kind" codes: one independent random stream per purpose.
_STYLE, _GENUINE, _SKILLED, _FORGER = 0, 1, 2, 3

assert CANVAS[0] >= MAX_INK_BOX[0] and CANVAS[1] >= MAX_INK_BOX[1]


def item_rng(seed: int, owner: int, kind: int, index: int) -> np.random.Generator:
    """The random stream of one item (a writer's style, one sample, one forger)."""
    return np.random.default_rng(np.random.SeedSequence([seed, owner, kind, index]))


@functools.lru_cache(maxsize=64)
def draw_writer(seed: int, writer: int) -> WriterStyle:
    """Writer ``writer``'s style (their name, letter forms and hand) under ``seed``.

    Cached: a worker draws many samples of the same writer in a row. Treat it as
    read-only.
    """
    return writer_style(item_rng(seed, writer, _STYLE, 0))


def forger_of(writer: int, index: int) -> int:
    """Id of the forger who makes skilled forgery ``index`` of ``writer``."""
    return (writer // WRITERS_PER_BLOCK) * FORGERS_PER_BLOCK + index % FORGERS_PER_BLOCK


@functools.lru_cache(maxsize=64)
def draw_forger(seed: int, forger_id: int, skill: float = DEFAULT_SKILL) -> Forger:
    """Forger ``forger_id``'s tendencies under ``seed``; ``skill`` in [0, 1]."""
    return forger(item_rng(seed, forger_id, _FORGER, 0), skill)


def draw_genuine(seed: int, writer: int, index: int) -> np.ndarray:
    """Genuine signature ``index`` of ``writer``: a uint8 scan, dark ink on light paper."""
    style = draw_writer(seed, writer)
    rng = item_rng(seed, writer, _GENUINE, index)
    strokes = genuine_strokes(style, rng)
    ink = pen(strokes, style.xheight, style.pen_radius * np.exp(rng.normal(0, 0.08)),
              style.pressure_var, rng)
    return render(Drawing(ink, style.ink_tone + rng.normal(0, 4.0)), rng)


def draw_skilled(seed: int, writer: int, index: int, skill: float = DEFAULT_SKILL
                 ) -> np.ndarray:
    """Skilled forgery ``index`` of ``writer``, made by :func:`forger_of` its forger."""
    if not 0.0 <= skill <= 1.0:
        raise ParameterError("skill", skill, "the forger skill must be within [0, 1]")
    style = draw_writer(seed, writer)
    forger_id = forger_of(writer, index)
    imitator = draw_forger(seed, forger_id, skill)
    # The exemplar is one of the writer's genuine samples, the same one every time this
    # forger copies this writer.
    exemplar = genuine_strokes(style, item_rng(seed, writer, _GENUINE, forger_id % EXEMPLARS))
    rng = item_rng(seed, writer, _SKILLED, index)
    strokes = forgery_strokes(exemplar, imitator, rng)
    ink = pen(strokes, style.xheight, imitator.pen_radius, 0.05, rng, imitator)
    return render(Drawing(ink, imitator.ink_tone + rng.normal(0, 4.0)), rng)


@dataclass(frozen=True)
class Item:
    """One image to make: its identity, and what to do with it."""

    seed: int
    writer: int
    skilled: bool
    index: int
    skill: float
    png: bool = False                  # encode as a PNG file (images format)
    canvas: tuple[int, int] | None = None  # preprocess to the store format on this canvas
    img_size: tuple[int, int] = (170, 242)

    def draw(self) -> np.ndarray:
        if self.skilled:
            return draw_skilled(self.seed, self.writer, self.index, self.skill)
        return draw_genuine(self.seed, self.writer, self.index)


def _make(item: Item) -> np.ndarray | tuple[bytes, tuple[int, int]]:
    """Worker: draw one image; encode it (the PNG file's bytes and the image's shape: the
    caller writes the file, so workers need no access to the output folder) or
    preprocess it."""
    image = item.draw()
    if item.png:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")
        return buffer.getvalue(), image.shape
    if item.canvas is not None:
        return preprocess_signature(image, item.canvas, item.img_size, input_size=None)
    return image


def gpds_name(writer: int, skilled: bool, index: int, digits: int = 3) -> str:
    """Relative path of an image in the ``gpds`` layout (writer and index 0-based)."""
    folder = f"{writer + 1:0{digits}d}"
    prefix = "cf" if skilled else "c"
    return f"{folder}/{prefix}-{folder}-{index + 1:02d}.png"


def _items(writers: int, genuine: int, skilled: int, seed: int, skill: float,
           **fields: Any) -> list[Item]:
    _check_counts(writers, genuine, skilled, seed, skill)
    return [Item(seed, w, kind, i, skill, **fields)
            for w in range(writers)
            for kind, count in ((False, genuine), (True, skilled))
            for i in range(count)]


def _check_counts(writers: int, genuine: int, skilled: int, seed: int, skill: float) -> None:
    if writers < 1:
        raise ParameterError("writers", writers, "must be at least 1")
    for name, count in (("genuine", genuine), ("skilled", skilled)):
        if count < 0:
            raise ParameterError(name, count, "must be >= 0")
    if genuine + skilled == 0:
        raise ParameterError("skilled", skilled, "genuine and skilled cannot both be 0")
    if seed < 0:
        raise ParameterError("seed", seed, "must be >= 0")
    if not 0.0 <= skill <= 1.0:
        raise ParameterError("skill", skill, "the forger skill must be within [0, 1]")


def synthesize(writers: int, genuine: int, skilled: int, seed: int = 0, workers: int = 1,
               skill: float = DEFAULT_SKILL, canvas: tuple[int, int] = CANVAS,
               img_size: tuple[int, int] = (170, 242), progress: bool = True,
               scheduler: Any = None) -> dict[str, Any]:
    """Draw and preprocess a synthetic dataset in memory.

    ``scheduler``: a Dask scheduler address (or ``dask.distributed.Client``) whose
    workers draw the images instead of local processes (``workers`` is then ignored;
    the arrays are the same); ``None``: local processes.

    Returns
    -------
    dict
        The store's arrays: ``x`` (uint8, N x 1 x H x W, ink bright), ``y`` (writer index),
        ``yforg`` (0 genuine, 1 skilled), ``user_mapping`` (writer ids 1..writers, the
        ``gpds`` folder numbers), ``filenames`` (``gpds`` layout names) and ``forger``
        (the forger's id, -1 for genuine signatures).
    """
    items = _items(writers, genuine, skilled, seed, skill, canvas=tuple(canvas),
                   img_size=tuple(img_size))
    with use_scheduler(scheduler):
        images = parallel_map(_make, items, workers=workers, desc="synth", progress=progress)
    digits = max(3, len(str(writers)))
    return {
        "x": np.stack(images)[:, None],
        "y": np.array([it.writer for it in items], dtype=np.int64),
        "yforg": np.array([int(it.skilled) for it in items], dtype=np.int64),
        "user_mapping": list(range(1, writers + 1)),
        "filenames": [gpds_name(it.writer, it.skilled, it.index, digits) for it in items],
        "forger": np.array([forger_of(it.writer, it.index) if it.skilled else -1
                            for it in items], dtype=np.int64),
    }


def generate_store(path: str | os.PathLike, writers: int, genuine: int, skilled: int,
                   seed: int = 0, workers: int = 1, skill: float = DEFAULT_SKILL,
                   canvas: tuple[int, int] = CANVAS, img_size: tuple[int, int] = (170, 242),
                   progress: bool = True, scheduler: Any = None) -> dict[str, Any]:
    """Write a synthetic processed dataset store (docs/data-formats.md) and return its arrays.

    The scans go through the real preprocessing (:func:`preprocess_signature` on
    ``canvas``, stored at ``img_size``). ``path`` ending in ``.npz`` is one file, any other
    name a folder of ``.npy`` files. See :func:`synthesize` for the arrays; the store
    also keeps ``forger`` and records its preprocessing settings (``canvas``,
    ``img_size``, the default network input for that size; no signature is larger than
    the canvas, so nothing is cropped).
    """
    settings = PreprocessingSettings(canvas_size=canvas, img_size=img_size,
                                     input_size=default_input_size(img_size))
    data = synthesize(writers, genuine, skilled, seed, workers, skill, canvas, img_size,
                      progress, scheduler)
    save_dataset(path, data["x"], data["y"], data["yforg"], data["user_mapping"],
                 data["filenames"], settings=settings, forger=data["forger"])
    return data


def generate_images(out_dir: str | os.PathLike, writers: int, genuine: int, skilled: int,
                    seed: int = 0, workers: int = 1, skill: float = DEFAULT_SKILL,
                    progress: bool = True, scheduler: Any = None) -> dict[str, Any]:
    """Write synthetic scans in the ``gpds`` folder layout (docs/datasets.md), atomically.

    ``out_dir/NNN/c-NNN-II.png`` are genuine signatures, ``out_dir/NNN/cf-NNN-II.png``
    skilled forgeries (NNN the writer, from 001; II the sample, from 01), plus
    ``synth.json`` with the parameters, counts and the canvas to preprocess them with.
    Workers (local processes, or those of the Dask ``scheduler``) draw and encode the
    images; this process writes the files.
    An existing ``out_dir`` is replaced only if it is empty or an earlier output of this
    function.

    Returns
    -------
    dict
        The content of ``synth.json``.
    """
    _check_counts(writers, genuine, skilled, seed, skill)
    digits = max(3, len(str(writers)))
    out_dir = Path(out_dir)
    # The new folder replaces the old one as a whole: only ever replace our own output.
    if out_dir.exists() and (not out_dir.is_dir() or (
            any(out_dir.iterdir()) and not (out_dir / "synth.json").is_file())):
        raise ParameterError("out_dir", str(out_dir), "exists and is not an earlier "
                             "'sigver synth' output folder; choose a new one")
    with atomic_output(out_dir, directory=True) as tmp:
        for w in range(writers):
            (tmp / f"{w + 1:0{digits}d}").mkdir()
        items = [Item(it.seed, it.writer, it.skilled, it.index, it.skill, png=True)
                 for it in _items(writers, genuine, skilled, seed, skill)]
        largest = [0, 0]
        with use_scheduler(scheduler), tqdm(total=len(items), desc="synth", unit="it",
                                            disable=not progress, dynamic_ncols=True) as bar:
            for item, (png, shape) in zip(items, parallel_imap(_make, items, workers=workers),
                                          strict=True):
                name = gpds_name(item.writer, item.skilled, item.index, digits)
                (tmp / name).write_bytes(png)
                largest = [max(largest[0], shape[0]), max(largest[1], shape[1])]
                bar.update()
        info = {
            "generator": f"sigver {__version__} (sigver.synthetic)",
            "seed": seed, "writers": writers, "genuine": genuine, "skilled": skilled,
            "forger_skill": skill, "layout": "gpds", "files": len(items),
            "canvas_size": list(CANVAS),
            "largest_image": [int(largest[0]), int(largest[1])],
            "command": process_command(out_dir),
        }
        (tmp / "synth.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def process_command(out_dir: str | os.PathLike, save_path: str = "data.npz") -> str:
    """The command that turns an images-format output into a processed store."""
    return (f"python -m sigver.preprocessing.process_dataset --dataset gpds --path {out_dir} "
            f"--save-path {save_path} --canvas-size {CANVAS[0]} {CANVAS[1]}")

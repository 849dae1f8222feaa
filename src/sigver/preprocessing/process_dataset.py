"""Turn a dataset folder into a dataset store (docs/datasets.md, docs/preprocessing.md,
docs/data-formats.md).

    from sigver.preprocessing.process_dataset import process_dataset
    process_dataset("gpds", "GPDS960", "gpds_170_242.npz")

(the command line: ``sigver preprocess`` / ``python -m sigver.preprocessing.
process_dataset``, parsed in ``cli/preprocess.py``). Every image of the chosen users is read,
normalised (docs/preprocessing.md) in worker processes and written, with the source file of each
image, to one store. The store records the preprocessing settings (the canvas actually
used, the stored size, the network input size and the rule for signatures larger than
the canvas), so later stages take them from it. Bad input (unreadable, truncated or
non-image files, blank pages, signatures larger than the canvas, missing expected files,
empty folders) stops the run before anything is written, naming the file; with
``skip_bad`` those files are left out and listed in the store (``skipped_files``,
``skipped_reasons``) and in the summary.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from sigver.cluster import use_scheduler
from sigver.datasets import available_datasets
from sigver.datasets.base import DatasetReader
from sigver.datasets.folder import FolderDataset, fit_canvas
from sigver.datasets.util import save_dataset
from sigver.errors import ParameterError, SigverError
from sigver.imageio import read_signature_image
from sigver.parallel import parallel_imap
from sigver.preprocessing.normalize import CanvasTooSmallWarning, preprocess_signature
from sigver.settings import DEFAULT_INPUT_SIZE, PreprocessingSettings
from sigver.validation import check_output_store

Size = tuple[int, int]

# Files per task sent to a local worker process: chunks that shrink as the work runs out
# (``sigver.parallel.guided_chunks``, 4 to 64 files). Each round trip through this
# process leaves a worker waiting (2-3 ms measured on 2 busy cores: 6 % of the work of a
# task of 4 files), and joblib's automatic size grows to 0.2 s of work per task, leaving
# one worker idle while the other finishes its last one; guided chunks avoid both.
LOCAL_BATCH = "guided"


@dataclass
class ProcessSummary:
    """What ``process_dataset`` wrote, skipped and noticed."""

    save_path: str
    n_images: int
    n_users: int
    counts: dict[str, int]
    canvas_size: Size
    image_size: Size
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    settings: PreprocessingSettings | None = None

    def report(self) -> str:
        """Human-readable summary, one item per line."""
        counts = ", ".join(f"{n} {kind}" for kind, n in self.counts.items())
        lines = [f"wrote {self.save_path}: {self.n_images} images of {self.n_users} users "
                 f"({counts}); canvas {self.canvas_size[0]} x {self.canvas_size[1]}, "
                 f"stored at {self.image_size[0]} x {self.image_size[1]}"]
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)} bad file(s):")
            lines += [f"  {name}: {reason}" for name, reason in self.skipped]
        if self.notes:
            lines.append(f"notes ({len(self.notes)}):")
            lines += [f"  {note}" for note in self.notes]
        return "\n".join(lines)


def make_reader(dataset: str | DatasetReader, path: str | os.PathLike | None,
                canvas_size: Sequence[int] | None = None, **options: Any) -> DatasetReader:
    """A reader from a dataset name (options go to its constructor), or ``dataset``
    itself when it already is one."""
    if isinstance(dataset, DatasetReader):
        if canvas_size is not None:
            raise ParameterError("canvas_size", tuple(canvas_size),
                                 "applies to a dataset given by name; pass it to the "
                                 "reader's constructor instead")
        return dataset
    if dataset not in available_datasets:
        raise ParameterError("dataset", dataset, "unknown dataset; choose one of "
                             f"{', '.join(available_datasets)}")
    if path is None:
        raise ParameterError("path", None, "the dataset's root folder is required")
    return available_datasets[dataset](path, canvas_size, **options)


def process_dataset(dataset: str | DatasetReader, path: str | os.PathLike | None,
                    save_path: str | os.PathLike, *, image_size: Sequence[int] = (170, 242),
                    users: Sequence[int] | None = None, canvas_size: Sequence[int] | None = None,
                    input_size: Sequence[int] | None = None, workers: int | None = None,
                    skip_bad: bool = False, crop_oversize: bool = False,
                    progress: bool = True, scheduler: Any = None,
                    **reader_options: Any) -> ProcessSummary:
    """Process a dataset folder into a store at ``save_path``.

    Parameters
    ----------
    dataset
        A name of ``sigver.datasets.available_datasets`` or a reader instance.
    path
        The dataset's root folder (ignored when ``dataset`` is a reader).
    save_path
        ``*.npz`` for one file, any other name for a folder of ``.npy`` files.
    image_size
        (H, W) of the stored images.
    users
        ``(a, b)``: only users[a:b] of the reader's sorted user list.
    canvas_size
        (H, W) overriding the dataset's canvas.
    input_size
        (H, W) of the centre crop a network is fed, recorded with the store (later
        stages take it from there). Default: 150 x 220, or the stored size where that is
        smaller.
    workers
        Worker processes; ``None``/0 uses every core. The output does not depend on it.
    skip_bad
        Leave bad files out (recorded in the store and the summary) instead of stopping.
    crop_oversize
        Keep the published behaviour for signatures larger than the canvas (keep the
        middle, warn) instead of treating them as bad input.
    progress
        Show a progress bar.
    scheduler
        A Dask scheduler address (or ``dask.distributed.Client``): its workers read and
        normalise the files (at the same paths: a shared filesystem) instead of local
        processes; ``workers`` is then ignored. ``None``: local processes. The store is
        the same byte for byte.
    reader_options
        Options of the reader (e.g. ``extension`` for brazilian, ``files`` / ``forgery`` /
        ``simple`` / ``forgery_suffix`` for folder).

    Returns
    -------
    ProcessSummary
    """
    check_output_store(save_path)
    reader = make_reader(dataset, path, canvas_size, **reader_options)
    image_size = _pair(image_size, "image_size")
    if input_size is None:
        input_size = default_input_size(image_size)
    if not Path(save_path).absolute().parent.is_dir():
        raise SigverError(f"{save_path}: the output folder does not exist")
    all_users = reader.get_user_list()
    chosen = _select(all_users, users)
    items: list[tuple[Path, int, int]] = []
    skipped: list[tuple[str, str]] = []
    notes: list[str] = []
    for index, user in enumerate(chosen):
        listing = reader.user_files(user)
        notes += listing.notes
        skipped += listing.missing
        items += [(file, index, kind) for file, kind in listing.items()]
    if skipped and not skip_bad:
        name, reason = skipped[0]
        more = f" (and {len(skipped) - 1} more)" if len(skipped) > 1 else ""
        raise SigverError(f"{reader.path / name}: {reason}{more}; nothing was written "
                          "(skip_bad=True continues without them)")
    if not items:
        raise SigverError(f"{reader.path}: no signature files found for the chosen users")
    canvas = _canvas_for(reader, image_size)
    settings = PreprocessingSettings(canvas_size=canvas, img_size=image_size,
                                     input_size=input_size, crop_oversize=crop_oversize)

    # Paths go out and normalised images come back (their non-zero box, ``_pack``): each
    # worker reads and decodes its own files (with a scheduler, from the same path: a
    # shared filesystem).
    tasks = [(str(file), canvas, image_size, skip_bad, crop_oversize) for file, _, _ in items]
    x = np.empty((len(items), 1, *image_size), dtype=np.uint8)
    ok = np.zeros(len(items), dtype=bool)
    with use_scheduler(scheduler), tqdm(total=len(items), desc="preprocess", unit="img",
                                        disable=not progress, dynamic_ncols=True) as bar:
        # A cluster sizes its own batches (parallel_imap).
        results = parallel_imap(_process_one, tasks, workers=workers, batch_size=LOCAL_BATCH)
        for position, (image, message) in enumerate(results):
            name = reader.relative(items[position][0])
            if image is None:
                skipped.append((name, message))
            else:
                if message:
                    notes.append(f"{name}: {message}")
                _unpack(image, out=x[position, 0])
                ok[position] = True
            bar.update()

    kept = [item for item, good in zip(items, ok, strict=True) if good]
    if not kept:
        raise SigverError(f"{reader.path}: every file was bad; nothing was written")
    y = np.array([index for _, index, _ in kept], dtype=np.int64)
    yforg = np.array([kind for _, _, kind in kept], dtype=np.int64)
    filenames = [reader.relative(file) for file, _, _ in kept]
    mapping = _mapping(chosen)
    save_dataset(save_path, x if ok.all() else x[ok], y, yforg, mapping, filenames,
                 settings=settings, skipped_files=_strings([name for name, _ in skipped]),
                 skipped_reasons=_strings([reason for _, reason in skipped]),
                 notes=_strings(notes))
    counts = {name: int((yforg == kind).sum())
              for kind, name in ((0, "genuine"), (1, "skilled"), (2, "simple"))}
    return ProcessSummary(str(save_path), len(kept), len(chosen), counts, canvas, image_size,
                          skipped, notes, settings)


def default_input_size(img_size: Sequence[int]) -> Size:
    """The network input recorded when none is given: 150 x 220, cut to the stored size
    where that is smaller (a crop cannot be larger than the image)."""
    return (min(DEFAULT_INPUT_SIZE[0], int(img_size[0])),
            min(DEFAULT_INPUT_SIZE[1], int(img_size[1])))


Packed = tuple[tuple[int, int], np.ndarray]


def _process_one(task: tuple[str, Size, Size, bool, bool]) -> tuple[Packed | None, str]:
    """Read and normalise one file.

    Returns (image packed by ``_pack``, note) -- the note says when an oversize signature
    was cropped -- or, with skip_bad, (None, reason).
    """
    file, canvas, image_size, skip_bad, crop_oversize = task
    try:
        img = read_signature_image(file)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always" if crop_oversize else "error",
                                  CanvasTooSmallWarning)
            try:
                image = preprocess_signature(img, canvas, image_size, None)
                cropped = [str(w.message) for w in caught
                           if issubclass(w.category, CanvasTooSmallWarning)]
                return _pack(image), "; ".join(cropped)
            except CanvasTooSmallWarning as warning:
                raise SigverError(f"the signature is larger than the canvas "
                                  f"{canvas[0]} x {canvas[1]} ({warning}); pass a larger "
                                  "canvas_size, or crop_oversize=True to keep its middle "
                                  "as the published code does") from None
    except SigverError as exc:
        message = str(exc)
        reason = message[len(file) + 2:] if message.startswith(f"{file}: ") else message
        if not skip_bad:
            raise SigverError(f"{file}: {reason}; nothing was written (skip_bad=True "
                              "continues without it)") from None
        return None, reason


def _pack(image: np.ndarray) -> Packed:
    """A normalised image as the smallest box holding its non-zero pixels and the box's
    top-left corner (the rest is background, 0).

    What a worker sends back: a signature covers about a seventh of its stored image, and
    every byte sent keeps the worker waiting on the calling process (docs/preprocessing.md).
    """
    rows = np.flatnonzero(image.any(axis=1))
    if rows.size == 0:
        return (0, 0), image[:0, :0]
    cols = np.flatnonzero(image.any(axis=0))
    top, left = int(rows[0]), int(cols[0])
    return (top, left), np.ascontiguousarray(image[top:rows[-1] + 1, left:cols[-1] + 1])


def _unpack(packed: Packed, out: np.ndarray) -> np.ndarray:
    """Write the image ``_pack`` packed into ``out`` (its shape) and return ``out``."""
    (top, left), box = packed
    out[...] = 0
    out[top:top + box.shape[0], left:left + box.shape[1]] = box
    return out


def _canvas_for(reader: DatasetReader, image_size: Size) -> Size:
    if reader.maxsize is not None:
        return reader.maxsize
    if isinstance(reader, FolderDataset):
        return fit_canvas(reader.largest_image_size(), image_size)
    raise ParameterError("canvas_size", None, f"dataset {reader.name} has no canvas size; "
                         "give one (H, W)")


def _select(all_users: list[Any], users: Sequence[int] | None) -> list[Any]:
    if users is None:
        return all_users
    first, last = (int(v) for v in users)
    chosen = all_users[first:last]
    if first < 0 or last <= first or not chosen:
        raise ParameterError("users", (first, last), f"selects no user (the dataset has "
                             f"{len(all_users)} users: use 0 <= a < b <= {len(all_users)})")
    return chosen


def _mapping(users: list[Any]) -> list[Any]:
    if all(isinstance(u, int) for u in users):
        return users
    return [str(u) for u in users]


def _strings(values: list[str]) -> np.ndarray:
    return np.asarray(values, dtype=str) if values else np.zeros(0, dtype="<U1")


def _pair(values: Sequence[int], name: str) -> Size:
    pair = tuple(int(v) for v in values)
    if len(pair) != 2 or min(pair) < 1:
        raise ParameterError(name, pair, "expected two positive integers H W")
    return pair  # type: ignore[return-value]


if __name__ == "__main__":
    from ..cli import preprocess, run_main  # relative: the library never imports the CLI

    raise SystemExit(run_main(lambda argv: preprocess.main(argv, prog=preprocess.MODULE_PROG)))

"""Turn a dataset folder into a dataset store (SPEC sections 1-3).

    python -m sigver.preprocessing.process_dataset --dataset gpds --path GPDS960 \\
        --save-path gpds_170_242.npz
    sigver preprocess --dataset folder --path my_scans --save-path mine.npz

Every image of the chosen users is read, normalised (SPEC section 2) in worker processes
and written, with the source file of each image, to one store. Bad input (unreadable,
truncated or non-image files, blank pages, signatures larger than the canvas, missing
expected files, empty folders) stops the run before anything is written, naming the file;
with ``--skip-bad`` those files are left out and listed in the store (``skipped_files``,
``skipped_reasons``) and in the summary.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from sigver.cli import run_main
from sigver.datasets import available_datasets
from sigver.datasets.base import DatasetReader
from sigver.datasets.folder import FORGERY_PATTERNS, IMAGE_PATTERNS, FolderDataset, fit_canvas
from sigver.datasets.util import save_dataset
from sigver.errors import SigverError
from sigver.parallel import parallel_map, resolve_workers
from sigver.preprocessing.imageio import read_signature_image
from sigver.preprocessing.normalize import CanvasTooSmallWarning, preprocess_signature

Size = tuple[int, int]


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
    """A reader from a ``--dataset`` name (options go to its constructor), or ``dataset``
    itself when it already is one."""
    if isinstance(dataset, DatasetReader):
        if canvas_size is not None:
            raise SigverError("canvas_size applies to a dataset given by name; pass it to "
                              "the reader's constructor instead")
        return dataset
    if dataset not in available_datasets:
        raise SigverError(f"--dataset {dataset}: unknown dataset; choose one of "
                          f"{', '.join(available_datasets)}")
    if path is None:
        raise SigverError("--path is required")
    return available_datasets[dataset](path, canvas_size, **options)


def process_dataset(dataset: str | DatasetReader, path: str | os.PathLike | None,
                    save_path: str | os.PathLike, *, image_size: Sequence[int] = (170, 242),
                    users: Sequence[int] | None = None, canvas_size: Sequence[int] | None = None,
                    workers: int | None = None, skip_bad: bool = False,
                    crop_oversize: bool = False, progress: bool = True,
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
        (H, W) of the stored images (``--image-size``).
    users
        ``(a, b)``: only users[a:b] of the reader's sorted user list.
    canvas_size
        (H, W) overriding the dataset's canvas.
    workers
        Worker processes; ``None``/0 uses every core. The output does not depend on it.
    skip_bad
        Leave bad files out (recorded in the store and the summary) instead of stopping.
    crop_oversize
        Keep the published behaviour for signatures larger than the canvas (keep the
        middle, warn) instead of treating them as bad input.
    progress
        Show a progress bar.
    reader_options
        Options of the reader (e.g. ``extension`` for brazilian, ``files`` / ``forgery`` /
        ``simple`` / ``forgery_suffix`` for folder).

    Returns
    -------
    ProcessSummary
    """
    reader = make_reader(dataset, path, canvas_size, **reader_options)
    image_size = _pair(image_size, "--image-size")
    if not Path(save_path).absolute().parent.is_dir():
        raise SigverError(f"{save_path}: the output folder does not exist (--save-path)")
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
                          "(--skip-bad continues without them)")
    if not items:
        raise SigverError(f"{reader.path}: no signature files found for the chosen users")
    canvas = _canvas_for(reader, image_size)

    tasks = [(str(file), canvas, image_size, skip_bad, crop_oversize) for file, _, _ in items]
    x = np.empty((len(items), 1, *image_size), dtype=np.uint8)
    ok = np.zeros(len(items), dtype=bool)
    n_workers = resolve_workers(workers)
    chunk = max(64, 32 * n_workers)
    with tqdm(total=len(items), desc="preprocess", unit="img", disable=not progress,
              dynamic_ncols=True) as bar:
        for start in range(0, len(tasks), chunk):
            results = parallel_map(_process_one, tasks[start:start + chunk], workers=n_workers,
                                   progress=False)
            for offset, (image, message) in enumerate(results):
                position = start + offset
                name = reader.relative(items[position][0])
                if image is None:
                    skipped.append((name, message))
                else:
                    if message:
                        notes.append(f"{name}: {message}")
                    x[position, 0] = image
                    ok[position] = True
            bar.update(len(results))

    kept = [item for item, good in zip(items, ok, strict=True) if good]
    if not kept:
        raise SigverError(f"{reader.path}: every file was bad; nothing was written")
    y = np.array([index for _, index, _ in kept], dtype=np.int64)
    yforg = np.array([kind for _, _, kind in kept], dtype=np.int64)
    filenames = [reader.relative(file) for file, _, _ in kept]
    mapping = _mapping(chosen)
    save_dataset(save_path, x if ok.all() else x[ok], y, yforg, mapping, filenames,
                 skipped_files=_strings([name for name, _ in skipped]),
                 skipped_reasons=_strings([reason for _, reason in skipped]),
                 notes=_strings(notes), canvas_size=np.asarray(canvas, dtype=np.int64),
                 image_size=np.asarray(image_size, dtype=np.int64))
    counts = {name: int((yforg == kind).sum())
              for kind, name in ((0, "genuine"), (1, "skilled"), (2, "simple"))}
    return ProcessSummary(str(save_path), len(kept), len(chosen), counts, canvas, image_size,
                          skipped, notes)


def _process_one(task: tuple[str, Size, Size, bool, bool]) -> tuple[np.ndarray | None, str]:
    """Read and normalise one file.

    Returns (image, note) -- the note says when an oversize signature was cropped -- or,
    with skip_bad, (None, reason).
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
                return image, "; ".join(cropped)
            except CanvasTooSmallWarning as warning:
                raise SigverError(f"the signature is larger than the canvas "
                                  f"{canvas[0]} x {canvas[1]} ({warning}); pass a larger "
                                  "--canvas-size H W, or --crop-oversize to keep its "
                                  "middle as the published code does") from None
    except SigverError as exc:
        message = str(exc)
        reason = message[len(file) + 2:] if message.startswith(f"{file}: ") else message
        if not skip_bad:
            raise SigverError(f"{file}: {reason}; nothing was written (--skip-bad "
                              "continues without it)") from None
        return None, reason


def _canvas_for(reader: DatasetReader, image_size: Size) -> Size:
    if reader.maxsize is not None:
        return reader.maxsize
    if isinstance(reader, FolderDataset):
        return fit_canvas(reader.largest_image_size(), image_size)
    raise SigverError(f"dataset {reader.name}: no canvas size; pass --canvas-size H W")


def _select(all_users: list[Any], users: Sequence[int] | None) -> list[Any]:
    if users is None:
        return all_users
    first, last = (int(v) for v in users)
    chosen = all_users[first:last]
    if first < 0 or last <= first or not chosen:
        raise SigverError(f"--users {first} {last} selects no user (the dataset has "
                          f"{len(all_users)} users: use 0 <= a < b <= {len(all_users)})")
    return chosen


def _mapping(users: list[Any]) -> list[Any]:
    if all(isinstance(u, int) for u in users):
        return users
    return [str(u) for u in users]


def _strings(values: list[str]) -> np.ndarray:
    return np.asarray(values, dtype=str) if values else np.zeros(0, dtype="<U1")


def _pair(values: Sequence[int], flag: str) -> Size:
    pair = tuple(int(v) for v in values)
    if len(pair) != 2 or min(pair) < 1:
        raise SigverError(f"{flag}: expected two positive integers H W")
    return pair  # type: ignore[return-value]


def build_parser() -> argparse.ArgumentParser:
    """The command-line flags (published ones first)."""
    parser = argparse.ArgumentParser(
        prog="sigver preprocess",
        description="Process a signature dataset folder into a dataset store.")
    parser.add_argument("--dataset", required=True, choices=list(available_datasets),
                        help="folder layout of the dataset")
    parser.add_argument("--path", required=True, help="root folder of the dataset")
    parser.add_argument("--save-path", required=True,
                        help="output store: NAME.npz, or a folder of .npy files")
    parser.add_argument("--image-size", nargs=2, type=int, default=[170, 242],
                        metavar=("H", "W"), help="size of the stored images (170 242)")
    parser.add_argument("--users", nargs=2, type=int, metavar=("A", "B"),
                        help="only users[A:B] of the sorted user list")
    parser.add_argument("--canvas-size", nargs=2, type=int, metavar=("H", "W"),
                        help="canvas overriding the dataset's (folder: largest image)")
    parser.add_argument("--workers", type=int, default=0,
                        help="worker processes (default 0: every core)")
    parser.add_argument("--skip-bad", action="store_true",
                        help="leave bad files out (listed in the store and the summary) "
                        "instead of stopping")
    parser.add_argument("--crop-oversize", action="store_true",
                        help="crop signatures larger than the canvas to their middle, as "
                        "the published code does, instead of treating them as bad input")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    group = parser.add_argument_group("brazilian")
    group.add_argument("--extension", default="jpg", help="image file extension (jpg)")
    group = parser.add_argument_group("folder (your own data)")
    group.add_argument("--files", nargs="+", default=list(IMAGE_PATTERNS), metavar="GLOB",
                       help="signature files inside a writer folder (default: image "
                       "extensions)")
    group.add_argument("--forgery", nargs="+", default=list(FORGERY_PATTERNS),
                       metavar="GLOB", help="skilled forgeries (default: *forg*)")
    group.add_argument("--simple", nargs="+", default=[], metavar="GLOB",
                       help="simple forgeries (default: none)")
    group.add_argument("--forgery-suffix", default="_forg",
                       help="folder WRITER<suffix> holds forgeries of WRITER (_forg)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``sigver preprocess`` / ``python -m sigver.preprocessing.process_dataset``."""
    args = build_parser().parse_args(argv)
    options: dict[str, Any] = {}
    if args.dataset.startswith("brazilian"):
        options["extension"] = args.extension
    elif args.dataset == "folder":
        options.update(files=args.files, forgery=args.forgery, simple=args.simple,
                       forgery_suffix=args.forgery_suffix)
    summary = process_dataset(args.dataset, args.path, args.save_path,
                              image_size=args.image_size, users=args.users,
                              canvas_size=args.canvas_size, workers=args.workers,
                              skip_bad=args.skip_bad, crop_oversize=args.crop_oversize,
                              progress=not args.no_progress, **options)
    print(summary.report())
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))

"""What every dataset reader provides: its users, each user's files, the canvas size.

A reader only lists files; ``sigver.preprocessing.process_dataset`` reads them (through
the neutral ``sigver.imageio``, which ``iter_genuine`` & co. use too) and processes them.
Readers do not depend on the preprocessing package. The published reader interface
(``get_user_list``, ``iter_genuine``, ``iter_forgery``, ``iter_simple_forgery``,
``maxsize``, ``genuine_per_user``, ...) is kept for code written against it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sigver.errors import ParameterError, SigverError

GENUINE, SKILLED, SIMPLE = 0, 1, 2
KIND_NAMES = {GENUINE: "genuine", SKILLED: "skilled forgery", SIMPLE: "simple forgery"}
# Files a scanner, file manager or OS leaves behind; never signatures.
IGNORED_NAMES = {"thumbs.db", "desktop.ini"}


@dataclass
class UserFiles:
    """The files of one user, and what is wrong with the listing.

    ``missing`` holds (file, reason) pairs for expected files that are absent or folders
    that are empty: bad input. ``notes`` holds harmless remarks (fewer files than the
    dataset usually has, files that were ignored).
    """

    genuine: list[Path] = field(default_factory=list)
    skilled: list[Path] = field(default_factory=list)
    simple: list[Path] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def items(self) -> Iterator[tuple[Path, int]]:
        """(file, yforg) in the stored order: genuine, skilled, then simple forgeries."""
        for kind, files in ((GENUINE, self.genuine), (SKILLED, self.skilled),
                            (SIMPLE, self.simple)):
            for file in files:
                yield file, kind


def natural_key(text: str) -> list[Any]:
    """Sort key comparing digit runs as numbers (``u2`` before ``u10``)."""
    return [(0, int(part), part) if part.isdigit() else (1, 0, part.lower())
            for part in re.split(r"(\d+)", text) if part]


def visible_files(folder: Path) -> list[Path]:
    """The regular files of ``folder``, hidden and system files left out, naturally sorted."""
    return sorted((p for p in folder.iterdir()
                   if p.is_file() and not p.name.startswith(".")
                   and p.name.lower() not in IGNORED_NAMES),
                  key=lambda p: natural_key(p.name))


class DatasetReader:
    """Base class of the dataset readers.

    Subclasses set the class attributes and implement ``get_user_list`` and
    ``user_files``.

    Parameters
    ----------
    path
        The dataset's root folder.
    canvas_size
        (H, W) overriding the dataset's canvas.
    """

    name: str = ""
    description: str = ""
    maxsize: tuple[int, int] | None = None
    genuine_per_user: int = 0
    skilled_per_user: int = 0
    simple_per_user: int = 0

    def __init__(self, path: str | os.PathLike, canvas_size: Sequence[int] | None = None
                 ) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise SigverError(f"{self.path}: dataset folder not found")
        if canvas_size is not None:
            self.maxsize = _canvas(canvas_size)

    @property
    def resolution(self) -> tuple[int, int] | None:
        """The canvas size (published name)."""
        return self.maxsize

    def get_user_list(self) -> list[Any]:
        """The dataset's user ids, in processing order."""
        raise NotImplementedError

    def user_files(self, user: Any) -> UserFiles:
        """The files of ``user`` and what is missing or unexpected."""
        raise NotImplementedError

    def check_counts(self, user: Any, files: UserFiles) -> None:
        """Add a note to ``files`` for each kind whose count differs from the usual one."""
        for kind, got, expected in ((GENUINE, files.genuine, self.genuine_per_user),
                                    (SKILLED, files.skilled, self.skilled_per_user),
                                    (SIMPLE, files.simple, self.simple_per_user)):
            if expected and len(got) != expected:
                files.notes.append(f"user {user}: {len(got)} {KIND_NAMES[kind]} files "
                                   f"(the dataset has {expected} per user)")

    def check_not_empty(self, folder: Path, files: UserFiles) -> None:
        """Record ``folder`` as bad input when it gave no signature file."""
        if not (files.genuine or files.skilled or files.simple):
            files.missing.append((self.relative(folder) + "/",
                                  "no signature files in the user folder"))

    def iter_genuine(self, user: Any) -> Iterator[tuple[np.ndarray, str]]:
        """(gray uint8 image, file name) of each genuine signature of ``user``."""
        return self._iter(self.user_files(user).genuine)

    def iter_forgery(self, user: Any) -> Iterator[tuple[np.ndarray, str]]:
        """(gray uint8 image, file name) of each skilled forgery of ``user``."""
        return self._iter(self.user_files(user).skilled)

    def iter_simple_forgery(self, user: Any) -> Iterator[tuple[np.ndarray, str]]:
        """(gray uint8 image, file name) of each simple forgery of ``user``."""
        return self._iter(self.user_files(user).simple)

    def _iter(self, files: list[Path]) -> Iterator[tuple[np.ndarray, str]]:
        from sigver.imageio import read_signature_image

        for file in files:
            yield read_signature_image(file), file.name

    def relative(self, file: Path) -> str:
        """``file`` relative to the dataset root, with forward slashes (stored name)."""
        return file.relative_to(self.path).as_posix()


def _canvas(size: Sequence[int]) -> tuple[int, int]:
    try:
        values = tuple(int(v) for v in size)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 2 or min(values) < 1:
        raise ParameterError("canvas_size", tuple(size), "expected two positive integers "
                             "H W")
    return values  # type: ignore[return-value]


def user_folders(root: Path, pattern: str, what: str) -> list[Path]:
    """The sub-folders of ``root`` whose names fully match ``pattern``, naturally sorted.

    Raises a one-line error when there are none.
    """
    regex = re.compile(pattern)
    folders = sorted((p for p in root.iterdir() if p.is_dir() and regex.fullmatch(p.name)),
                     key=lambda p: natural_key(p.name))
    if not folders:
        raise SigverError(f"{root}: no user folders ({what}) found; is this the "
                          "dataset's root folder?")
    return folders


def folder_id(name: str) -> Any:
    """A user folder's id: an int when the name is all digits, else the name."""
    return int(name) if name.isdigit() else name

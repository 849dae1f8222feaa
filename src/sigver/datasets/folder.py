"""Your own data: a root folder with one folder per writer.

Inside a writer's folder (sub-folders included) every file matching ``--files`` is a
signature; it is a skilled forgery when its path inside the writer's folder matches a
``--forgery`` pattern (default ``*forg*``: a ``forgeries/`` sub-folder or a file name
containing "forg"), a simple forgery when it matches ``--simple``, and genuine otherwise.
A top-level folder named ``<writer><suffix>`` (``--forgery-suffix``, default ``_forg``)
holds skilled forgeries of ``<writer>``. Patterns are shell globs, case-insensitive.
Files not matching ``--files`` are ignored and listed in the summary.

So ``root/001/*.png`` + ``root/001_forg/*.png`` (SigComp2011), ``root/anna/genuine/*`` +
``root/anna/forgeries/*`` and ``root/anna/anna_01.png`` + ``root/anna/forg_01.png`` all
read without flags. The canvas is the largest image found (see ``fit_canvas``) unless
``--canvas-size`` is given.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from sigver.datasets.base import DatasetReader, UserFiles, folder_id, natural_key
from sigver.errors import SigverError

IMAGE_PATTERNS = ("*.png", "*.jpg", "*.jpeg", "*.tif", "*.tiff", "*.bmp", "*.gif", "*.pgm",
                  "*.ppm", "*.pnm", "*.webp")
FORGERY_PATTERNS = ("*forg*",)


class FolderDataset(DatasetReader):
    """One folder per writer; genuine and forgeries told apart by glob patterns.

    Parameters
    ----------
    path
        The root folder.
    canvas_size
        (H, W); default: the largest image found, fitted to the stored aspect ratio.
    files
        Globs selecting the signature files (relative path inside the writer folder).
    forgery
        Globs marking skilled forgeries.
    simple
        Globs marking simple forgeries.
    forgery_suffix
        A top-level folder ``<writer><suffix>`` holds skilled forgeries of ``<writer>``;
        empty to disable.
    """

    name = "folder"
    description = "your own data: one folder per writer, forgeries by glob patterns"

    def __init__(self, path: str | os.PathLike, canvas_size: Sequence[int] | None = None,
                 files: Sequence[str] = IMAGE_PATTERNS,
                 forgery: Sequence[str] = FORGERY_PATTERNS, simple: Sequence[str] = (),
                 forgery_suffix: str = "_forg") -> None:
        super().__init__(path, canvas_size)
        self.patterns = {"files": _lower(files), "forgery": _lower(forgery),
                         "simple": _lower(simple)}
        self.forgery_suffix = forgery_suffix
        self._folders: dict[Any, list[tuple[Path, bool]]] = {}
        for folder in sorted((p for p in self.path.iterdir()
                              if p.is_dir() and not p.name.startswith(".")),
                             key=lambda p: natural_key(p.name)):
            name, forged = folder.name, False
            if forgery_suffix and name.endswith(forgery_suffix) and name != forgery_suffix:
                name, forged = name[:-len(forgery_suffix)], True
            self._folders.setdefault(name, []).append((folder, forged))
        if not self._folders:
            raise SigverError(f"{self.path}: no writer folders found (the folder reader "
                              "expects one sub-folder per writer)")
        names = sorted(self._folders, key=natural_key)
        digits = all(n.isdigit() for n in names) and len({int(n) for n in names}) == len(names)
        self._ids = {(folder_id(n) if digits else n): n for n in names}
        self._cache: dict[Any, UserFiles] = {}

    def get_user_list(self) -> list[Any]:
        """Writer folder names (the forgery suffix removed), naturally sorted; ints when
        every name is a number."""
        return list(self._ids)

    def user_files(self, user: Any) -> UserFiles:
        if user in self._cache:
            return self._cache[user]
        files = UserFiles()
        for folder, forged in self._folders[self._ids[user]]:
            found = sorted((p for p in folder.rglob("*") if p.is_file()
                            and not any(part.startswith(".")
                                        for part in p.relative_to(folder).parts)),
                           key=lambda p: natural_key(p.relative_to(folder).as_posix()))
            for file in found:
                inside = file.relative_to(folder).as_posix().lower()
                if not _matches(inside, self.patterns["files"]):
                    files.notes.append(f"{self.relative(file)}: ignored (not matching "
                                       "--files)")
                elif _matches(inside, self.patterns["simple"]):
                    files.simple.append(file)
                elif forged or _matches(inside, self.patterns["forgery"]):
                    files.skilled.append(file)
                else:
                    files.genuine.append(file)
            if not found:
                files.missing.append((self.relative(folder) + "/", "empty folder"))
        if not files.genuine:
            files.notes.append(f"user {user}: no genuine signatures")
        self._cache[user] = files
        return files

    def largest_image_size(self) -> tuple[int, int]:
        """(H, W): the largest height and the largest width over every writer's images,
        from the file headers. Unreadable files are left to the processing to report."""
        height = width = 0
        for user in self.get_user_list():
            for file, _ in self.user_files(user).items():
                try:
                    with Image.open(file) as image:
                        w, h = image.size
                except (OSError, SyntaxError, ValueError):
                    continue
                height, width = max(height, h), max(width, w)
        if not height:
            raise SigverError(f"{self.path}: no readable image found under the writer "
                              "folders (check --files)")
        return height, width


def fit_canvas(largest: tuple[int, int], img_size: Sequence[int]) -> tuple[int, int]:
    """The smallest canvas holding ``largest`` with the aspect ratio of ``img_size``.

    The resize scales the canvas's tighter side to ``img_size`` and cuts the other around
    its centre; with the same aspect ratio nothing is cut, so no ink is lost.
    """
    height, width = largest
    target_h, target_w = img_size
    return (max(height, -(-width * target_h // target_w)),
            max(width, -(-height * target_w // target_h)))


def _lower(patterns: Sequence[str]) -> tuple[str, ...]:
    return tuple(p.lower() for p in patterns)


def _matches(path: str, patterns: Sequence[str]) -> bool:
    name = path.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(path, p) or fnmatch.fnmatchcase(name, p)
               for p in patterns)

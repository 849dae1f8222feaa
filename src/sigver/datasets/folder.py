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

Writer ids are the folder names as they are on disk (``"001"`` stays ``"001"``, never the
number 1). A root whose folders are groups of writer folders (``Bengali/001/``,
``Hindi/001/``: one level deeper than expected) is refused rather than read as one
"writer" per group: give the group's folder as the path, or ``writer_depth=2`` to read
every group (writer ids ``"Bengali/001"``).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from sigver.datasets.base import DatasetReader, UserFiles, natural_key
from sigver.errors import ParameterError, SigverError

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
    writer_depth
        1: the root's folders are the writers; 2: the root's folders are groups (e.g.
        scripts, sessions) of writer folders, and writer ids are ``group/writer``.
    """

    name = "folder"
    description = "your own data: one folder per writer, forgeries by glob patterns"

    def __init__(self, path: str | os.PathLike, canvas_size: Sequence[int] | None = None,
                 files: Sequence[str] = IMAGE_PATTERNS,
                 forgery: Sequence[str] = FORGERY_PATTERNS, simple: Sequence[str] = (),
                 forgery_suffix: str = "_forg", writer_depth: int = 1) -> None:
        super().__init__(path, canvas_size)
        if writer_depth not in (1, 2):
            raise ParameterError("writer_depth", writer_depth, "must be 1 (writer folders "
                                 "in the root) or 2 (groups of writer folders)")
        self.patterns = {"files": _lower(files), "forgery": _lower(forgery),
                         "simple": _lower(simple)}
        self.forgery_suffix = forgery_suffix
        self._folders: dict[str, list[tuple[Path, bool]]] = {}
        groups = [self.path] if writer_depth == 1 else _sub_folders(self.path)
        for group in groups:
            prefix = "" if group == self.path else f"{group.name}/"
            for folder in _sub_folders(group):
                name, forged = folder.name, False
                if (forgery_suffix and name.endswith(forgery_suffix)
                        and name != forgery_suffix):
                    name, forged = name[:-len(forgery_suffix)], True
                self._folders.setdefault(prefix + name, []).append((folder, forged))
        if not self._folders:
            raise SigverError(f"{self.path}: no writer folders found (the folder reader "
                              "expects one sub-folder per writer)")
        if writer_depth == 1:
            self._refuse_groups_of_writers()
        self._cache: dict[str, UserFiles] = {}

    def _refuse_groups_of_writers(self) -> None:
        """Raise ``NestedWritersError`` when every top folder looks like a group of
        writer folders: no signature file of its own, and at least two sub-folders with
        signatures that are not forgery folders (``anna/genuine`` + ``anna/forgeries``
        is one writer; ``Bengali/001`` + ``Bengali/002`` are two)."""
        groups = []
        for name, folders in self._folders.items():
            folder = folders[0][0]
            if any(_matches(p.name.lower(), self.patterns["files"])
                   for p in folder.iterdir() if p.is_file()):
                return
            writers = [p.name for p in _sub_folders(folder)
                       if not _matches(p.name.lower(), self.patterns["forgery"])
                       and not _matches(p.name.lower(), self.patterns["simple"])
                       and any(_matches(f.name.lower(), self.patterns["files"])
                               for f in p.rglob("*") if f.is_file())]
            if len(writers) < 2:
                return
            groups.append((name, writers))
        raise NestedWritersError(self.path, groups)

    def get_user_list(self) -> list[str]:
        """Writer folder names as on disk (the forgery suffix removed; ``group/name``
        with ``writer_depth=2``), naturally sorted."""
        return sorted(self._folders, key=natural_key)

    def user_files(self, user: str) -> UserFiles:
        if user in self._cache:
            return self._cache[user]
        if user not in self._folders:
            raise SigverError(f"{self.path}: no writer folder {user!r}")
        files = UserFiles()
        for folder, forged in self._folders[user]:
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


class NestedWritersError(SigverError):
    """The root's folders are groups of writer folders (``Bengali/001``): reading them as
    writers would label every signature of a group as one person.

    ``for_command_line()`` gives the message with the command's flags.
    """

    def __init__(self, root: Path, groups: list[tuple[str, list[str]]]) -> None:
        self.root = root
        self.groups = groups
        first, writers = groups[0]
        self.example = root / first
        shown = ", ".join(f"{first}/{w}" for w in writers[:2])
        self.found = (f"{root}: the folders {', '.join(g for g, _ in groups[:3])}"
                      f"{', ...' if len(groups) > 3 else ''} hold writer folders one level "
                      f"deeper ({shown}, ...), so they are groups of writers, not writers")
        super().__init__(f"{self.found}; give path={self.example} to read one group, or "
                         "writer_depth=2 to read every group (writer ids "
                         f"{first}/{writers[0]}, ...)")

    def for_command_line(self) -> str:
        """The message with ``--path`` / ``--writer-depth``."""
        first, writers = self.groups[0]
        hint = ""
        if {group for group, _ in self.groups} <= {"Bengali", "Hindi"}:
            # BHSig260 marks forgeries in file names, which --forgery does not match.
            hint = (f"; for BHSig260 with its forgeries use --dataset bhsig260 --path "
                    f"{self.root}")
        return (f"{self.found}; give --path {self.example} to read one group, or "
                f"--writer-depth 2 to read every group (writer ids {first}/{writers[0]}, "
                f"...){hint}")


def _sub_folders(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
                  key=lambda p: natural_key(p.name))


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

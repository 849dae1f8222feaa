"""GPDS (960 gray) and GPDS-synthetic: one folder per user named with 3 digits; genuine
files start ``c-``, skilled forgeries ``cf`` (e.g. ``c-001-01.png``, ``cf-001-01.png``)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from sigver.datasets.base import DatasetReader, UserFiles, folder_id, user_folders, visible_files


class GPDSDataset(DatasetReader):
    """GPDS: 24 genuine and 30 skilled forgeries per user, canvas 952 x 1360."""

    name = "gpds"
    description = "GPDS: NNN/c-*.* genuine, NNN/cf*.* skilled"
    maxsize = (952, 1360)
    genuine_per_user = 24
    skilled_per_user = 30

    def __init__(self, path: str | os.PathLike, canvas_size: Sequence[int] | None = None
                 ) -> None:
        super().__init__(path, canvas_size)
        self._names: dict[int | str, str] = {}

    def get_user_list(self) -> list[int | str]:
        """Folder names of three (or more: large synthetic sets) digits, as ints, sorted."""
        self._names = {folder_id(p.name): p.name
                       for p in user_folders(self.path, r"\d{3,}", "NNN")}
        return list(self._names)

    def user_files(self, user: int | str) -> UserFiles:
        if not self._names:
            self.get_user_list()
        folder = self.path / self._names.get(user, str(user))
        files = UserFiles()
        for file in visible_files(folder):
            if file.name.startswith("cf"):
                files.skilled.append(file)
            elif file.name.startswith("c-"):
                files.genuine.append(file)
            else:
                files.notes.append(f"{self.relative(file)}: ignored (neither c-* nor cf*)")
        self.check_not_empty(folder, files)
        self.check_counts(user, files)
        return files


class GPDSSynthDataset(GPDSDataset):
    """GPDS-synthetic: the GPDS layout with a 2078 x 3307 canvas."""

    name = "gpds_synth"
    description = "GPDS-synthetic: the gpds layout, larger canvas"
    maxsize = (2078, 3307)


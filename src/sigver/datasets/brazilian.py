"""Brazilian PUC-PR: files ``aUUU_II.<ext>`` in one folder; II 1-40 genuine, 41-50 simple
forgeries, 51-60 skilled forgeries; users above 60 have genuine signatures only."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from sigver.datasets.base import DatasetReader, UserFiles


class BrazilianDataset(DatasetReader):
    """Brazilian PUC-PR, users 1..168: 40 genuine, 10 simple and 10 skilled forgeries for
    users 1..60 (genuine only above), canvas 700 x 1000.

    Parameters
    ----------
    extension
        File extension of the images (``--extension``), without the dot.
    """

    name = "brazilian"
    description = "Brazilian PUC-PR: aUUU_II.<ext>, users 1..168"
    maxsize = (700, 1000)
    genuine_per_user = 40
    skilled_per_user = 10
    simple_per_user = 10
    n_users = 168
    with_simple = True

    def __init__(self, path: str | os.PathLike, canvas_size: Sequence[int] | None = None,
                 extension: str = "jpg") -> None:
        super().__init__(path, canvas_size)
        self.extension = extension.lstrip(".")

    def get_user_list(self) -> list[int]:
        """Users 1..168 (1..60 without simple forgeries)."""
        return list(range(1, self.n_users + 1))

    def user_files(self, user: int) -> UserFiles:
        files = UserFiles()
        self._expect(files.genuine, files, user, range(1, 41))
        if user <= 60:
            if self.with_simple:
                self._expect(files.simple, files, user, range(41, 51))
            self._expect(files.skilled, files, user, range(51, 61))
        return files

    def _expect(self, kind: list[Path], files: UserFiles, user: int, indices: range) -> None:
        for index in indices:
            name = f"a{user:03d}_{index:02d}.{self.extension}"
            path = self.path / name
            if path.is_file():
                kind.append(path)
            else:
                files.missing.append((name, "expected file is missing (wrong --extension?)"))


class BrazilianDatasetWithoutSimpleForgeries(BrazilianDataset):
    """Brazilian PUC-PR users 1..60 without the simple forgeries."""

    name = "brazilian-nosimple"
    description = "Brazilian PUC-PR users 1..60, no simple forgeries"
    simple_per_user = 0
    n_users = 60
    with_simple = False

"""CEDAR: ``full_org/original_U_I.png`` genuine and ``full_forg/forgeries_U_I.png``
skilled forgeries, users U = 1..55, I = 1..24."""

from __future__ import annotations

from pathlib import Path

from sigver.datasets.base import DatasetReader, UserFiles


class CedarDataset(DatasetReader):
    """CEDAR: 24 genuine and 24 skilled forgeries per user, canvas 730 x 1042."""

    name = "cedar"
    description = "CEDAR: full_org/original_U_I.png, full_forg/forgeries_U_I.png"
    maxsize = (730, 1042)
    genuine_per_user = 24
    skilled_per_user = 24

    def get_user_list(self) -> list[int]:
        """Users 1..55."""
        return list(range(1, 56))

    def user_files(self, user: int) -> UserFiles:
        files = UserFiles()
        for index in range(1, self.genuine_per_user + 1):
            self._expect(files.genuine, files, Path("full_org") / f"original_{user}_{index}.png")
        for index in range(1, self.skilled_per_user + 1):
            self._expect(files.skilled, files,
                         Path("full_forg") / f"forgeries_{user}_{index}.png")
        return files

    def _expect(self, kind: list[Path], files: UserFiles, relative: Path) -> None:
        path = self.path / relative
        if path.is_file():
            kind.append(path)
        else:
            files.missing.append((relative.as_posix(), "expected file is missing"))

"""MCYT-75: one folder per user named with 4 digits; genuine files start ``NNNNv``,
skilled forgeries contain ``NNNNf`` (case-insensitive)."""

from __future__ import annotations

from sigver.datasets.base import DatasetReader, UserFiles, user_folders, visible_files


class MCYTDataset(DatasetReader):
    """MCYT: 15 genuine and 15 skilled forgeries per user, canvas 600 x 850."""

    name = "mcyt"
    description = "MCYT: NNNN/NNNNv*.* genuine, NNNN/*NNNNf*.* skilled"
    maxsize = (600, 850)
    genuine_per_user = 15
    skilled_per_user = 15

    def get_user_list(self) -> list[str]:
        """Folder names of four digits (kept as strings, e.g. '0001'), sorted."""
        return [p.name for p in user_folders(self.path, r"\d{4}", "NNNN")]

    def user_files(self, user: str) -> UserFiles:
        folder = self.path / user
        files = UserFiles()
        genuine, forged = f"{user}v".lower(), f"{user}f".lower()
        for file in visible_files(folder):
            name = file.name.lower()
            if name.startswith(genuine):
                files.genuine.append(file)
            elif forged in name:
                files.skilled.append(file)
            else:
                files.notes.append(f"{self.relative(file)}: ignored (neither {user}v* "
                                   f"nor *{user}f*)")
        self.check_not_empty(folder, files)
        self.check_counts(user, files)
        return files

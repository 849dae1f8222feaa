"""GPDS (960 gray) and GPDS-synthetic: one folder per user named with 3 digits; genuine
files start ``c-``, skilled forgeries ``cf`` (e.g. ``c-001-01.png``, ``cf-001-01.png``)."""

from __future__ import annotations

from sigver.datasets.base import DatasetReader, UserFiles, folder_id, user_folders, visible_files


class GPDSDataset(DatasetReader):
    """GPDS: 24 genuine and 30 skilled forgeries per user, canvas 952 x 1360."""

    name = "gpds"
    description = "GPDS: NNN/c-*.* genuine, NNN/cf*.* skilled"
    maxsize = (952, 1360)
    genuine_per_user = 24
    skilled_per_user = 30

    def get_user_list(self) -> list[int | str]:
        """Folder names of three digits, sorted."""
        return [folder_id(p.name) for p in user_folders(self.path, r"\d{3}", "NNN")]

    def user_files(self, user: int | str) -> UserFiles:
        folder = self.path / (f"{user:03d}" if isinstance(user, int) else str(user))
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


"""BHSig260 (Bengali and Hindi): ``Bengali/NNN/`` and ``Hindi/NNN/`` with files
``B-S-<n>-G-<ii>.tif`` (genuine) and ``B-S-<n>-F-<ii>.tif`` (skilled; ``H-`` for Hindi).

Canvas: the images are short and wide (at most 305 x 1075 in the sample of the public
set). The canvas is GPDS's, 952 x 1360: it holds the widest image with 26 % margin, its
aspect ratio is the stored image's (170 x 242), so the resize never cuts a signature off,
and the reduction factor equals GPDS's, so strokes keep the thickness that
GPDS-trained SigNet weights were trained on. ``--canvas-size`` overrides it.
"""

from __future__ import annotations

import re

from sigver.datasets.base import DatasetReader, UserFiles, natural_key, visible_files
from sigver.errors import SigverError

SCRIPTS = ("Bengali", "Hindi")
FILE_NAME = re.compile(r"[BH]-S-\d+-([GF])-\d+\.tiff?", re.IGNORECASE)


class BHSig260Dataset(DatasetReader):
    """BHSig260: 24 genuine and 30 skilled forgeries per writer; 100 Bengali and 160
    Hindi writers. User ids are ``"Bengali/001"``-style strings, Bengali first."""

    name = "bhsig260"
    description = "BHSig260: Bengali|Hindi/NNN/[BH]-S-n-G|F-ii.tif"
    maxsize = (952, 1360)
    genuine_per_user = 24
    skilled_per_user = 30

    def get_user_list(self) -> list[str]:
        """``Script/NNN`` for every writer folder, Bengali then Hindi, sorted."""
        users = []
        for script in SCRIPTS:
            folder = self.path / script
            if folder.is_dir():
                users += sorted((f"{script}/{p.name}" for p in folder.iterdir()
                                 if p.is_dir() and p.name.isdigit()), key=natural_key)
        if not users:
            raise SigverError(f"{self.path}: no Bengali/NNN or Hindi/NNN writer folders "
                              "found; is --path the BHSig260 root?")
        return users

    def user_files(self, user: str) -> UserFiles:
        folder = self.path / user
        files = UserFiles()
        for file in visible_files(folder):
            match = FILE_NAME.fullmatch(file.name)
            if match is None:
                files.notes.append(f"{self.relative(file)}: ignored (not [BH]-S-n-G|F-ii.tif)")
            elif match.group(1).upper() == "G":
                files.genuine.append(file)
            else:
                files.skilled.append(file)
        self.check_not_empty(folder, files)
        self.check_counts(user, files)
        return files

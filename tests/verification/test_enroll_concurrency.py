"""Two ``sigver enroll`` processes writing into the same (new) database at once lose
nothing."""

import itertools
import subprocess
import sys

import numpy as np
import torch
from skimage import draw
from skimage import io as skio

from sigver.featurelearning.models import SigNet_thin, save_model_file
from sigver.io import file_sha256
from sigver.verification.database import EnrollmentDatabase

PER_PROCESS = 50


def scribble(rng: np.random.Generator, height: int = 90, width: int = 200) -> np.ndarray:
    """A small noisy gray scan with a few dark strokes, 5 pixels wide."""
    img = rng.normal(230, 6, (height, width))
    points = np.column_stack([rng.uniform(15, height - 15, 8), np.linspace(15, width - 15, 8)])
    for (r0, c0), (r1, c1) in itertools.pairwise(points):
        rr, cc = draw.line(int(r0), int(c0), int(r1), int(c1))
        for dr in range(-2, 3):
            for dc in range(-2, 3):
                img[rr + dr, cc + dc] = rng.normal(40, 10, len(rr))
    return np.clip(img, 0, 255).astype(np.uint8)


def test_two_processes_enrolling_50_files_each_store_all_100(tmp_path):
    torch.manual_seed(0)
    model = tmp_path / "model.pth"
    save_model_file(model, SigNet_thin())
    rng = np.random.default_rng(0)
    files = []
    for i in range(2 * PER_PROCESS):
        path = tmp_path / f"ref{i:03d}.png"
        skio.imsave(path, scribble(rng), check_contrast=False)
        files.append(str(path))
    db = tmp_path / "shared.db"
    procs = [subprocess.Popen(
        [sys.executable, "-m", "sigver", "enroll", "--db", str(db), "--model-path",
         str(model), "--user", user, "--canvas-size", "120", "240", "--device", "cpu",
         *chunk], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for user, chunk in (("alice", files[:PER_PROCESS]), ("bob", files[PER_PROCESS:]))]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert f"enrolled {PER_PROCESS} new reference(s)" in out
    with EnrollmentDatabase(db) as store:
        assert store.integrity_check() == "ok"
        assert store.users() == [("alice", PER_PROCESS), ("bob", PER_PROCESS)]
        stored = store.references("alice").file_sha256 + store.references("bob").file_sha256
        assert sorted(stored) == sorted(file_sha256(f) for f in files)
        assert store.settings().canvas_size == (120, 240)

"""A small world for the service's tests and benchmark: a random-weight SigNet_thin, a
writer-independent classifier and a WD background fitted on synthetic development
writers, a database with API keys, and scans of other synthetic writers to enroll."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from sigver.cli import main as sigver_main
from sigver.featurelearning.models import SigNet_thin, save_model_file
from sigver.synthetic.generate import CANVAS, generate_images, generate_store


def build_world(root: Path, *, exp_writers: int = 3, genuine: int = 9,
                skilled: int = 3, reuse: bool = False) -> dict:
    """Files of the world under ``root``; returns their paths and the scans by writer.

    ``reuse``: keep a world already built there with the same arguments (a benchmark
    run again on the same folder).
    """
    root.mkdir(parents=True, exist_ok=True)
    model = root / "signet_thin.pth"
    dev = root / "dev.npz"
    classifier = root / "wi.skops"
    background = root / "background.npz"
    scans = root / "scans"
    marker = root / f"built-{exp_writers}-{genuine}-{skilled}"
    if not (reuse and marker.is_file()):
        _build(root, model, dev, classifier, background, scans, exp_writers, genuine, skilled)
        marker.touch()
    writers = {}
    for folder in sorted(p for p in scans.iterdir() if p.is_dir()):
        writers[folder.name] = {
            "genuine": sorted(folder.glob("c-*.png")),
            "skilled": sorted(folder.glob("cf-*.png"))}
    return {"root": root, "model": model, "classifier": classifier,
            "background": background, "dev": dev, "canvas": CANVAS, "writers": writers}


def _build(root: Path, model: Path, dev: Path, classifier: Path, background: Path,
           scans: Path, exp_writers: int, genuine: int, skilled: int) -> None:
    for stale in root.glob("built-*"):
        stale.unlink()
    torch.manual_seed(0)
    save_model_file(model, SigNet_thin())
    generate_store(dev, writers=10, genuine=6, skilled=3, seed=11, progress=False)
    for argv in (["wi", "fit", "--model-path", str(model), "--data-path", str(dev),
                  "--out", str(classifier), "--gen-for-train", "5", "--gen-for-ref", "4",
                  "--calibration-folds", "2", "--quiet"],
                 ["background", "--model-path", str(model), "--data-path", str(dev),
                  "--out", str(background), "--quiet"]):
        assert sigver_main(argv) == 0, argv
    generate_images(scans, writers=exp_writers, genuine=genuine, skilled=skilled, seed=12,
                    progress=False)


def blank_png(path: Path, shape: tuple[int, int] = (300, 600)) -> Path:
    """A page without ink."""
    from PIL import Image

    Image.fromarray(np.full(shape, 250, dtype=np.uint8)).save(path)
    return path

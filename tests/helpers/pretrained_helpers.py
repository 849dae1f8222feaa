"""The golden scans' features under a model (pinned for the built-in model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sigver.settings import read_model_settings
from sigver.verification.extraction import FeatureModel, prepare_images

GOLDEN_SCANS = ("a1.png", "a2.png", "b1.png", "b2.png", "some_signature.png")


def golden_scan_features(model_path: Path, golden_dir: Path) -> np.ndarray:
    """float32 features of the golden real scans, prepared with the model's settings."""
    settings = read_model_settings(model_path)
    images = prepare_images([golden_dir / name for name in GOLDEN_SCANS],
                            settings.canvas_size, settings.img_size)
    return FeatureModel(model_path, device="cpu").features(images, settings.input_size)

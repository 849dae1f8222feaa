"""The shipped built-in model: its file, its settings, its classifier, its features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pretrained_helpers import golden_scan_features
from sigver.featurelearning.models import (
    FEATURE_POWER_KEY,
    load_model_parts,
    read_model_file,
)
from sigver.io import file_sha256
from sigver.pretrained import classifier_path, model_path, recorded_model, resolve_model
from sigver.pretrained.recipe import RECIPE
from sigver.settings import PreprocessingSettings, read_model_settings
from sigver.verification.persistence import load_verifier

# Changing the weights changes this pin, the golden features beside this file and the
# figures of docs/pretrained.md, together.
MODEL_SHA256 = "342e73c44b1e4735fe048746933871ae992abc10adc17b980f1db35fe34d8866"
GOLDEN_FEATURES = Path(__file__).with_name("builtin_golden_features.npy")


def test_the_shipped_weights_are_the_pinned_float16_file() -> None:
    path = model_path()
    assert file_sha256(path) == MODEL_SHA256
    assert path.stat().st_size < 10 * 2 ** 20
    features, clf, forg = read_model_file(path)
    assert clf == {} and forg == {}
    floats = [v for k, v in features.items()
              if v.is_floating_point() and k != FEATURE_POWER_KEY]  # an exponent: float32
    assert floats and all(v.dtype == torch.float16 for v in floats)
    model = load_model_parts(path).model  # computes in float32
    assert model.conv_layers.conv1.conv.weight.dtype == torch.float32
    assert model.feature_power == RECIPE.feature_power
    assert resolve_model("default") == path


def test_the_settings_are_those_of_the_recipe() -> None:
    assert read_model_settings(model_path()) == PreprocessingSettings(
        canvas_size=RECIPE.canvas, img_size=RECIPE.img_size, input_size=RECIPE.input_size)


def test_the_classifier_fits_the_built_in_model() -> None:
    verifier = load_verifier(classifier_path())
    assert verifier.model_sha256 == MODEL_SHA256
    assert verifier.feature_dim == 1024
    assert verifier.fusion == RECIPE.fusion


def test_the_golden_scans_have_the_pinned_features(golden_dir) -> None:
    features = golden_scan_features(model_path(), golden_dir)
    expected = np.load(GOLDEN_FEATURES)
    assert features.shape == expected.shape == (5, 1024)
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-5)


def test_a_moved_built_in_model_is_found_by_its_sha256(tmp_path) -> None:
    gone = tmp_path / "old-site-packages" / "model.pth"
    assert recorded_model(gone, MODEL_SHA256) == model_path()
    assert recorded_model(gone, "0" * 64) == gone  # another model: left to fail by name
    other = tmp_path / "other.pth"
    assert recorded_model(other, MODEL_SHA256) == other  # another file name

"""The recipe of the built-in model, end to end at a tiny scale."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sigver.datasets.util import load_dataset, read_store_settings
from sigver.featurelearning.extract import extract_store
from sigver.featurelearning.models import (
    FEATURE_POWER_KEY,
    load_model_parts,
    read_model_file,
)
from sigver.io import file_sha256
from sigver.pretrained.recipe import TINY, run_recipe, synthetic_store
from sigver.settings import PreprocessingSettings, read_model_settings
from sigver.verification.persistence import load_verifier


@pytest.mark.slow
def test_the_tiny_recipe_writes_a_float16_model_and_its_classifier(tmp_path) -> None:
    result = run_recipe(tmp_path, TINY, echo=None)
    stored, _, _ = read_model_file(result.model_path)
    power = stored.pop(FEATURE_POWER_KEY)
    assert power.dtype == torch.float32 and power.item() == TINY.feature_power
    assert {v.dtype for v in stored.values() if v.is_floating_point()} == {torch.float16}
    assert read_model_settings(result.model_path) == PreprocessingSettings(
        canvas_size=TINY.canvas, img_size=TINY.img_size, input_size=TINY.input_size)
    verifier = load_verifier(result.classifier_path)
    assert verifier.model_sha256 == file_sha256(result.model_path)
    record = json.loads((tmp_path / "recipe.json").read_text())
    assert record["recipe"]["writers"] == TINY.writers
    assert record["seconds"]["total"] == result.stages["total"] > 0
    assert load_model_parts(result.model_path).model.feature_power == TINY.feature_power == 0.5
    # float16 storage moves the features by rounding only (the trained file has no
    # power normalisation: its features are compared after taking it)
    half = extract_store(result.model_path, tmp_path / "dev.npz", device="cpu",
                         progress=False).features
    full = extract_store(tmp_path / "train" / "model_best.pth", tmp_path / "dev.npz",
                         device="cpu", progress=False).features ** TINY.feature_power
    cosine = np.sum(half * full, 1) / np.linalg.norm(half, axis=1) / np.linalg.norm(full, axis=1)
    assert cosine.min() > 0.999


def test_writers_are_split_among_the_forger_skills(tmp_path) -> None:
    path = tmp_path / "s.npz"
    n = synthetic_store(path, writers=5, genuine=2, skilled=1, skills=(0.1, 0.6), seed=3,
                        canvas=TINY.canvas, img_size=TINY.img_size)
    x, y, yforg, _, filenames = load_dataset(path)
    assert n == len(x) == 15
    assert sorted(set(y.tolist())) == [0, 1, 2, 3, 4]
    assert yforg.sum() == 5
    groups = [name.split("/")[0] for name in filenames]
    assert groups.count("group0") == 9 and groups.count("group1") == 6  # 3 + 2 writers
    assert read_store_settings(path).canvas_size == TINY.canvas
    # the groups are different writers (own seeds), not copies of each other
    assert not np.array_equal(x[y == 0][0], x[y == 3][0])


@pytest.mark.parametrize(("field", "value"), [
    ("model", "resnet"), ("skills", (0.1, 1.5)), ("writers", 3), ("first_epochs", 0),
    ("genuine", 1), ("dev_genuine", 3), ("dev_writers", 2), ("lamb", 2.0),
    ("feature_power", 1.5), ("feature_power", 0.0)])
def test_impossible_recipes_name_the_field(field, value, tmp_path) -> None:
    import dataclasses

    from sigver.errors import ParameterError

    with pytest.raises(ParameterError, match=f"^{field}="):
        run_recipe(tmp_path, dataclasses.replace(TINY, **{field: value}), echo=None)
    assert not (tmp_path / "train.npz").exists()
